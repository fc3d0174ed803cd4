// SPDX-License-Identifier: MIT
// ublk::null_target: completes every request at once without touching data, as the kernel
// selftests' null target does. A READ therefore returns whatever the tag's buffer held (zeros
// until a WRITE went through that tag; in zero-copy mode the request's pages as they came), not
// zeros by contract: it is a speed and plumbing target.
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <span>

#include <uringcmd/ublk/target.hpp>

namespace uringcmd::ublk {

struct null_target {
  // Inline handlers (target.hpp): nothing here waits, so no coroutine frame either.
  int handle(io_request req, std::span<std::byte>) noexcept { return req.has_data() ? static_cast<int>(req.bytes) : 0; }
  /// Zero copy: the request's pages stay untouched, as in handle().
  int handle_fixed(io_request req, std::uint16_t) noexcept { return static_cast<int>(req.bytes); }
};

}  // namespace uringcmd::ublk
