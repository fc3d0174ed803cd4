// SPDX-License-Identifier: MIT
// Umbrella header: the core (executor, tasks, generic ops, uring_cmd). Adapters are separate.
#pragma once

#include <uringcmd/cancellation.hpp>
#include <uringcmd/completion.hpp>
#include <uringcmd/error.hpp>
#include <uringcmd/executor.hpp>
#include <uringcmd/fd.hpp>
#include <uringcmd/feature.hpp>
#include <uringcmd/io_op.hpp>
#include <uringcmd/multishot.hpp>
#include <uringcmd/ops.hpp>
#include <uringcmd/probe.hpp>
#include <uringcmd/result.hpp>
#include <uringcmd/ring.hpp>
#include <uringcmd/ring_options.hpp>
#include <uringcmd/runtime.hpp>
#include <uringcmd/sync_wait.hpp>
#include <uringcmd/task.hpp>
#include <uringcmd/uring_cmd.hpp>
#include <uringcmd/version.hpp>
#include <uringcmd/when_all.hpp>
#include <uringcmd/yield.hpp>
