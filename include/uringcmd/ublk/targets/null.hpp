// SPDX-License-Identifier: MIT
// ublk::null_target: completes every request at once without touching data, as the kernel
// selftests' null target does. A READ therefore returns whatever the tag's buffer held (zeros
// until a WRITE went through that tag), not zeros by contract: it is a speed and plumbing target.
#pragma once

#include <cerrno>
#include <cstddef>
#include <span>

#include <uringcmd/task.hpp>
#include <uringcmd/ublk/target.hpp>

namespace uringcmd::ublk {

struct null_target {
  task<int> handle(io_request req, std::span<std::byte>) {
    co_return req.has_data() ? static_cast<int>(req.bytes) : 0;
  }
};

}  // namespace uringcmd::ublk
