// SPDX-License-Identifier: MIT
// The Asio bridge (target uringcmd::asio): one thread runs an asio::io_context and a uringcmd
// executor together. ring_driver lets the io_context drive the ring; async_run starts uringcmd
// tasks and ops with any Asio completion token; to_asio maps error codes. See docs/nbd.md.
#pragma once

#include <uringcmd/asio/async_run.hpp>
#include <uringcmd/asio/error.hpp>
#include <uringcmd/asio/ring_driver.hpp>
