// SPDX-License-Identifier: MIT
// How a ublk device moves data (data_mode) and what happens to its I/O when the server dies
// (recovery_mode), and the UBLK_F_* flags each needs.
//
//   copy       the kernel copies between the request's pages and a buffer per tag that the
//              server hands over with FETCH (works on every kernel).
//   user_copy  the server copies itself: pread/pwrite on /dev/ublkcN at the tag's offset
//              (UBLK_F_USER_COPY, 6.5); the queue does it, targets see a buffer as in copy mode.
//   zero_copy  the kernel registers the request's pages in the queue ring's buffer table at
//              index = tag (UBLK_F_SUPPORT_ZERO_COPY + UBLK_F_AUTO_BUF_REG, 6.16) and the target
//              does READ_FIXED/WRITE_FIXED against its backing store: no copy in user space.
//              Needs a zero_copy_target (handle_fixed, target.hpp).
//   batch      UBLK_F_BATCH_IO (7.0), copy mode: requests arrive in runs of tags from one multishot
//              FETCH and results go back in one COMMIT per loop pass (batch_queue.hpp).
//   batch_zero_copy   BATCH_IO + AUTO_BUF_REG (7.0): batch's transport with zero_copy's data path
//              (kublk's `-b --auto_zc`). Needs a zero_copy_target.
//   best       zero_copy when the kernel has it and the target is a zero_copy_target, else copy.
//              Never a batch mode: batching alone measured no faster than copy mode, and batch
//              zero copy measured level with zero copy in IOPS (24 instructions per I/O fewer)
//              while Debian's 7.2 kernel logs a UBSAN report for it (docs/ublk-targets.md).
//              user_copy is never picked on its own: for a target that needs the bytes in a
//              buffer it moves the same bytes as copy mode plus one more ring op per request.
#pragma once

#include <bit>
#include <cerrno>
#include <cstdint>
#include <optional>
#include <string_view>
#include <system_error>

#include <uringcmd/result.hpp>
#include <uringcmd/ublk/error.hpp>
#include <uringcmd/ublk/uapi.hpp>

namespace uringcmd::ublk {

enum class data_mode { best, copy, user_copy, zero_copy, batch, batch_zero_copy };
enum class recovery_mode { none, reissue, fail_io };

/// Every mode but best, in the order the daemon lists them.
inline constexpr data_mode forced_modes[] = {data_mode::copy, data_mode::user_copy, data_mode::zero_copy,
                                             data_mode::batch, data_mode::batch_zero_copy};

/// "best", "copy", "user-copy", "zero-copy", "batch", "batch-zero-copy" (the daemon's --mode spelling).
constexpr std::string_view to_string(data_mode m) noexcept {
  switch (m) {
    case data_mode::best: return "best";
    case data_mode::copy: return "copy";
    case data_mode::user_copy: return "user-copy";
    case data_mode::zero_copy: return "zero-copy";
    case data_mode::batch: return "batch";
    case data_mode::batch_zero_copy: return "batch-zero-copy";
  }
  return "?";
}
/// "none", "reissue", "fail-io".
constexpr std::string_view to_string(recovery_mode m) noexcept {
  switch (m) {
    case recovery_mode::none: return "none";
    case recovery_mode::reissue: return "reissue";
    case recovery_mode::fail_io: return "fail-io";
  }
  return "?";
}

/// The inverse of to_string(data_mode) for the forced modes and "best"; nothing for other text.
constexpr std::optional<data_mode> parse_data_mode(std::string_view s) noexcept {
  if (s == to_string(data_mode::best)) return data_mode::best;
  for (data_mode m : forced_modes)
    if (s == to_string(m)) return m;
  return std::nullopt;
}

/// The UBLK_F_* bits a (resolved, not best) data mode requests.
constexpr std::uint64_t mode_flags(data_mode m) noexcept {
  switch (m) {
    case data_mode::user_copy: return feature::user_copy;
    case data_mode::zero_copy: return feature::support_zero_copy | feature::auto_buf_reg;
    case data_mode::batch: return feature::batch_io;
    case data_mode::batch_zero_copy: return feature::batch_io | feature::auto_buf_reg;
    default: return 0;
  }
}
/// Whether a mode's requests reach the target as registered buffers (handle_fixed).
constexpr bool needs_fixed_buffers(data_mode m) noexcept {
  return m == data_mode::zero_copy || m == data_mode::batch_zero_copy;
}
/// Whether a mode's queues are batch_queues (BATCH_IO).
constexpr bool is_batch(data_mode m) noexcept { return m == data_mode::batch || m == data_mode::batch_zero_copy; }

/// The UBLK_F_* bits a recovery mode requests.
constexpr std::uint64_t recovery_flags(recovery_mode m) noexcept {
  switch (m) {
    case recovery_mode::reissue: return feature::user_recovery | feature::user_recovery_reissue;
    case recovery_mode::fail_io: return feature::user_recovery | feature::user_recovery_fail_io;
    default: return 0;
  }
}
/// The recovery mode a device's granted flags say it was added with.
constexpr recovery_mode recovery_of(std::uint64_t flags) noexcept {
  if (!(flags & feature::user_recovery)) return recovery_mode::none;
  if (flags & feature::user_recovery_fail_io) return recovery_mode::fail_io;
  if (flags & feature::user_recovery_reissue) return recovery_mode::reissue;
  return recovery_mode::reissue;  // plain USER_RECOVERY requeues too (it only differs for writes in flight)
}
/// The data mode a device's granted flags say it serves in.
constexpr data_mode mode_of(std::uint64_t flags) noexcept {
  if (flags & feature::batch_io) return flags & feature::auto_buf_reg ? data_mode::batch_zero_copy : data_mode::batch;
  if (flags & feature::auto_buf_reg) return data_mode::zero_copy;
  if (flags & feature::user_copy) return data_mode::user_copy;
  return data_mode::copy;
}

/// The concrete mode for `requested` on a kernel whose GET_FEATURES mask is `kernel` (nothing:
/// a kernel before 6.5, which has copy mode only) and a target that can (`zero_copy_target`) or
/// cannot serve fixed buffers. A forced mode the kernel lacks is a feature_error naming its first
/// missing UBLK_F_* bit ("UBLK_F_AUTO_BUF_REG not supported by this kernel (needs 6.16)"); zero
/// copy for a target without handle_fixed is EOPNOTSUPP.
inline result<data_mode> select_mode(data_mode requested, std::optional<std::uint64_t> kernel,
                                     bool zero_copy_target) noexcept {
  const std::uint64_t have = kernel.value_or(0);
  if (requested == data_mode::best) {
    const std::uint64_t zc = mode_flags(data_mode::zero_copy);
    return zero_copy_target && (have & zc) == zc ? data_mode::zero_copy : data_mode::copy;
  }
  if (const std::uint64_t missing = mode_flags(requested) & ~have) {
    return fail(feature_error(cmd::add_dev, static_cast<unsigned>(std::countr_zero(missing))));
  }
  if (needs_fixed_buffers(requested) && !zero_copy_target) return fail(std::make_error_code(std::errc::operation_not_supported));
  return requested;
}

/// Checks a recovery mode against the kernel's mask (the first missing bit, named).
inline result<void> check_recovery(recovery_mode m, std::optional<std::uint64_t> kernel) noexcept {
  const std::uint64_t want = recovery_flags(m);
  // USER_RECOVERY(_REISSUE) predates GET_FEATURES: an unknown mask lets ADD_DEV decide.
  if (!kernel) return m == recovery_mode::fail_io ? fail(feature_error(cmd::add_dev, 9)) : result<void>{};
  if (const std::uint64_t missing = want & ~*kernel) {
    return fail(feature_error(cmd::add_dev, static_cast<unsigned>(std::countr_zero(missing))));
  }
  return {};
}

}  // namespace uringcmd::ublk
