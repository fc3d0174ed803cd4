// SPDX-License-Identifier: MIT
// uring_cmd: the generic IORING_OP_URING_CMD awaitable. It carries a driver command of up to 16
// bytes (any ring) or 80 bytes (a ring with SQE128) and returns res plus res2 from the CQE.
#pragma once

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>

#include <uringcmd/detail/uapi_compat.hpp>
#include <uringcmd/error.hpp>
#include <uringcmd/fd.hpp>
#include <uringcmd/feature.hpp>
#include <uringcmd/io_op.hpp>

namespace uringcmd {

/// Size of the command area of an SQE: 16 bytes in a 64-byte SQE, 80 in a 128-byte one.
inline constexpr unsigned small_cmd_size = 16;
inline constexpr unsigned big_cmd_size = 80;

/// `cmd_op` values of generic uring_cmd targets that liburing 2.3 does not name.
namespace cmd_ops {
inline constexpr unsigned socket_siocinq = 0;      // SOCKET_URING_OP_SIOCINQ (6.7)
inline constexpr unsigned socket_siocoutq = 1;     // SOCKET_URING_OP_SIOCOUTQ (6.7)
inline constexpr unsigned block_discard = 0x1200;  // BLOCK_URING_CMD_DISCARD = _IO(0x12, 0) (6.12)
}  // namespace cmd_ops

namespace detail {
/// The SQE's command area (16 bytes, or 80 in a 128-byte SQE). Through an integer, because g++
/// sizes `sqe.cmd` as the 8-byte `addr3` it overlays and would flag an 80-byte write.
inline unsigned char* cmd_area(io_uring_sqe& sqe) noexcept {
  return reinterpret_cast<unsigned char*>(reinterpret_cast<std::uintptr_t>(&sqe) + offsetof(io_uring_sqe, cmd));
}
}  // namespace detail

namespace detail {
/// Starts a URING_CMD SQE on `fd` with `cmd_op`, every field outside the command area reset. Not
/// liburing's io_uring_prep_uring_cmd: that one (like io_uring_prep_rw in newer liburing, 2.15)
/// leaves flags, ioprio, buf_index, personality... to io_uring_get_sqe, and a slot written
/// any other way would carry an earlier op's values to the driver. The stores cost nothing
/// where io_uring_prep_rw makes them too (liburing 2.3): the compiler merges them.
inline void prep_uring_cmd(io_uring_sqe& sqe, fd_ref fd, std::uint32_t cmd_op, std::uint32_t len = 0) noexcept {
  sqe.flags = 0;
  sqe.ioprio = 0;
  sqe.rw_flags = 0;
  sqe.buf_index = 0;
  sqe.personality = 0;
  sqe.file_index = 0;
  // prep_rw zeroes off/__pad1, so cmd_op (which aliases them) is written after it.
  io_uring_prep_rw(IORING_OP_URING_CMD, &sqe, fd.fd, nullptr, len, 0);
  sqe.cmd_op = cmd_op;
  fd.apply(sqe);
}

/// A uring_cmd's negative res as an error: a refusal by a kernel older than the feature the
/// command needs (sockets answer uring_cmd from 6.7, block devices discard from 6.12) is named
/// (feature.hpp); anything else is the errno. Off the hot path: it may fstat the fd.
[[gnu::cold]] inline std::error_code uring_cmd_error(int res, fd_ref fd, std::uint32_t cmd_op) noexcept {
  const std::error_code ec = errno_code(-res);
  if (res != -EOPNOTSUPP && res != -EINVAL) return ec;
  if (kernel_predates(feature::uring_cmd)) return make_error_code(feature::uring_cmd);
  struct stat st{};
  if (fd.fixed || ::fstat(fd.fd, &st) != 0) return ec;
  if (S_ISSOCK(st.st_mode) && (cmd_op == cmd_ops::socket_siocinq || cmd_op == cmd_ops::socket_siocoutq))
    return name_missing_feature(ec, feature::socket_uring_cmd);
  if (S_ISBLK(st.st_mode) && cmd_op == cmd_ops::block_discard) return name_missing_feature(ec, feature::block_discard);
  return ec;
}
}  // namespace detail

/// What a uring_cmd completed with. `res` is the driver's value (>= 0; what it means is the
/// driver's business: a byte count for SIOCINQ, an NVMe status for passthrough). `res2` is
/// big_cqe[0] (NVMe DW0, the BSG status pack), always 0 on a ring without CQE32.
struct cmd_result {
  std::int32_t res = 0;
  std::uint64_t res2 = 0;
};

/// Optional SQE fields some drivers read outside the command area.
struct cmd_options {
  /// sqe->addr and sqe->len (e.g. BLOCK_URING_CMD_DISCARD takes the start offset in addr).
  std::uint64_t addr = 0;
  std::uint32_t len = 0;
  /// A registered buffer (IORING_URING_CMD_FIXED): the driver maps its data address inside it.
  std::optional<std::uint16_t> fixed_buffer;
  /// The command needs res2: refuse to submit on a ring without CQE32 instead of returning 0.
  bool needs_res2 = false;
  /// Byte offset of the command's own 32-bit timeout_ms field (nvme_uring_cmd, bsg_uring_cmd):
  /// with_timeout then writes the deadline there instead of linking a timeout the driver ignores.
  std::optional<std::uint8_t> timeout_ms_offset;
};

/// Result: cmd_result, or the negative res as an errno. The payload is copied into the awaiter,
/// so it may be a temporary; buffers *addressed by* the payload must outlive the co_await.
/// Ring requirements: payload > 16 bytes needs SQE128 (errc::sqe128_required otherwise).
/// Cancellation: only for commands the driver marks cancelable (see ops.hpp).
/// `Capacity` is how many payload bytes the awaiter holds (16 or 80): a 16-byte command does not
/// pay for copying 80.
template <std::size_t Capacity>
class basic_uring_cmd_op : public io_op<basic_uring_cmd_op<Capacity>> {
  static_assert(Capacity == small_cmd_size || Capacity == big_cmd_size);

 public:
  /// From raw bytes; more than Capacity bytes are refused (errc::payload_too_large), never cut.
  basic_uring_cmd_op(fd_ref fd, std::uint32_t cmd_op, std::span<const std::byte> payload, const cmd_options& opts) noexcept
      : fd_(fd), cmd_op_(cmd_op), size_(payload.size() > Capacity ? 0xff : static_cast<std::uint8_t>(payload.size())),
        opts_(opts) {
    payload_.fill(std::byte{0});
    if (!payload.empty()) std::memcpy(payload_.data(), payload.data(), std::min<std::size_t>(payload.size(), Capacity));
  }
  /// From a command struct: constant-size copies only.
  template <class Cmd>
  basic_uring_cmd_op(fd_ref fd, std::uint32_t cmd_op, const Cmd& cmd, const cmd_options& opts) noexcept
      : fd_(fd), cmd_op_(cmd_op), size_(sizeof(Cmd)), opts_(opts) {
    static_assert(sizeof(Cmd) <= Capacity);
    std::memcpy(payload_.data(), &cmd, sizeof(Cmd));
    if constexpr (sizeof(Cmd) < Capacity) std::memset(payload_.data() + sizeof(Cmd), 0, Capacity - sizeof(Cmd));
  }

  /// Checks the ring can carry the command and notes the size of its SQE command area.
  errc bind(const executor& ex) noexcept {
    if (size_ > big_cmd_size) return errc::payload_too_large;
    if (size_ > small_cmd_size && !ex.big_sqe()) return errc::sqe128_required;
    if (opts_.needs_res2 && !ex.big_cqe()) return errc::cqe32_required;
    big_area_ = ex.big_sqe();
    return errc::ok;
  }

  void prepare_sqe(io_uring_sqe& sqe) noexcept {
    detail::prep_uring_cmd(sqe, fd_, cmd_op_, opts_.len);
    sqe.addr = opts_.addr;
    if (opts_.fixed_buffer) {
      sqe.uring_cmd_flags = IORING_URING_CMD_FIXED;
      sqe.buf_index = *opts_.fixed_buffer;
    }
    // The whole command area is written, so a reused slot never leaks an old command's tail to
    // the driver. Constant sizes only: a variable-length memcpy is a libc call.
    unsigned char* area = detail::cmd_area(sqe);
    if constexpr (Capacity == small_cmd_size) {
      std::memcpy(area, payload_.data(), small_cmd_size);
      if (big_area_) std::memset(area + small_cmd_size, 0, big_cmd_size - small_cmd_size);
    } else {
      if (big_area_) std::memcpy(area, payload_.data(), big_cmd_size);
      else std::memcpy(area, payload_.data(), small_cmd_size);
    }
  }

  result<cmd_result> finish(const completion& c) noexcept {
    if (c.res < 0) [[unlikely]] return fail(detail::uring_cmd_error(c.res, fd_, cmd_op_));
    return cmd_result{c.res, c.extra[0]};
  }

  /// with_timeout's hook (cancellation.hpp): true when the command carries its own timeout_ms.
  bool set_kernel_deadline(std::chrono::milliseconds ms) noexcept {
    if (!opts_.timeout_ms_offset || *opts_.timeout_ms_offset + sizeof(std::uint32_t) > Capacity) return false;
    const auto v = static_cast<std::uint32_t>(ms.count());
    std::memcpy(payload_.data() + *opts_.timeout_ms_offset, &v, sizeof v);
    return true;
  }

  /// The command bytes as they will be submitted (for tests and logging).
  std::span<const std::byte, Capacity> payload() const noexcept { return payload_; }

 private:
  fd_ref fd_;
  std::uint32_t cmd_op_;
  std::uint8_t size_;
  bool big_area_ = false;
  cmd_options opts_;
  std::array<std::byte, Capacity> payload_;
};

using uring_cmd_op = basic_uring_cmd_op<big_cmd_size>;

/// A command without payload bytes (cmd_op and the SQE fields say it all): the command area is
/// zeroed.
[[nodiscard("co_await it")]] inline basic_uring_cmd_op<small_cmd_size> uring_cmd(fd_ref fd, std::uint32_t cmd_op,
                                                                                 const cmd_options& opts = {}) noexcept {
  return {fd, cmd_op, std::array<std::byte, small_cmd_size>{}, opts};
}

/// A command from raw bytes (up to 80).
[[nodiscard("co_await it")]] inline uring_cmd_op uring_cmd(fd_ref fd, std::uint32_t cmd_op,
                                                           std::span<const std::byte> payload,
                                                           const cmd_options& opts = {}) noexcept {
  return {fd, cmd_op, payload, opts};
}

namespace detail {
// Views are trivially copyable too, but their bytes are a pointer and a length, never a command:
// a std::span<std::byte> must take the raw-bytes overload above.
template <class T>
inline constexpr bool is_view_v = false;
template <class T, std::size_t N>
inline constexpr bool is_view_v<std::span<T, N>> = true;
template <class C, class Tr>
inline constexpr bool is_view_v<std::basic_string_view<C, Tr>> = true;
}  // namespace detail

/// A command from a trivially copyable struct (nvme_uring_cmd, bsg_uring_cmd, ublksrv_io_cmd...).
template <class Cmd>
  requires(std::is_trivially_copyable_v<Cmd> && !std::is_pointer_v<Cmd> && !detail::is_view_v<Cmd> &&
           sizeof(Cmd) <= big_cmd_size)
[[nodiscard("co_await it")]] auto uring_cmd(fd_ref fd, std::uint32_t cmd_op, const Cmd& payload,
                                            const cmd_options& opts = {}) noexcept {
  return basic_uring_cmd_op<sizeof(Cmd) <= small_cmd_size ? small_cmd_size : big_cmd_size>{fd, cmd_op, payload, opts};
}

}  // namespace uringcmd
