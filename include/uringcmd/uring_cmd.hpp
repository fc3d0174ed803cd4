// SPDX-License-Identifier: MIT
// uring_cmd: the generic IORING_OP_URING_CMD awaitable. It carries a driver command of up to 16
// bytes (any ring) or 80 bytes (a ring with SQE128) and returns res plus res2 from the CQE.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>

#include <uringcmd/io_op.hpp>
#include <uringcmd/ops.hpp>

namespace uringcmd {

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
};

/// Result: cmd_result, or the negative res as an errno. The payload is copied into the awaiter,
/// so it may be a temporary; buffers *addressed by* the payload must outlive the co_await.
/// Ring requirements: payload > 16 bytes needs SQE128 (errc::sqe128_required otherwise).
/// Cancellation: only for commands the driver marks cancelable (see ops.hpp).
class uring_cmd_op : public io_op<uring_cmd_op> {
 public:
  uring_cmd_op(fd_ref fd, std::uint32_t cmd_op, std::span<const std::byte> payload, const cmd_options& opts = {}) noexcept
      : fd_(fd), cmd_op_(cmd_op), size_(static_cast<std::uint8_t>(payload.size() > big_cmd_size ? 0xff : payload.size())),
        opts_(opts) {
    if (size_ <= big_cmd_size && !payload.empty()) std::memcpy(payload_.data(), payload.data(), payload.size());
  }

  errc validate(const executor& ex) noexcept {
    area_ = ex.big_sqe() ? big_cmd_size : small_cmd_size;
    if (size_ > big_cmd_size) return errc::payload_too_large;
    if (size_ > small_cmd_size && !ex.big_sqe()) return errc::sqe128_required;
    if (opts_.needs_res2 && !ex.big_cqe()) return errc::cqe32_required;
    return errc::ok;
  }

  void prepare_sqe(io_uring_sqe& sqe) noexcept {
    // prep_rw zeroes off/__pad1, so cmd_op (which aliases them) is written after it.
    io_uring_prep_rw(IORING_OP_URING_CMD, &sqe, fd_.fd, nullptr, opts_.len, 0);
    sqe.addr = opts_.addr;
    sqe.cmd_op = cmd_op_;
    fd_.apply(sqe);
    if (opts_.fixed_buffer) {
      sqe.uring_cmd_flags = IORING_URING_CMD_FIXED;
      sqe.buf_index = *opts_.fixed_buffer;
    }
    // The command area is 16 bytes of a 64-byte SQE or 80 of a 128-byte one; write all of it so
    // a reused slot never leaks an old command's tail to the driver.
    // Two constant-size copies: a variable-length memcpy is a libc call.
    if (area_ == big_cmd_size) std::memcpy(sqe.cmd, payload_.data(), big_cmd_size);
    else std::memcpy(sqe.cmd, payload_.data(), small_cmd_size);
  }

  result<cmd_result> finish(const completion& c) noexcept {
    if (c.res < 0) return fail_errno(c.res);
    return cmd_result{c.res, c.extra[0]};
  }

 private:
  fd_ref fd_;
  std::uint32_t cmd_op_;
  std::uint8_t size_;
  std::uint8_t area_ = small_cmd_size;
  cmd_options opts_;
  std::array<std::byte, big_cmd_size> payload_{};
};

/// A command from raw bytes.
[[nodiscard("co_await it")]] inline uring_cmd_op uring_cmd(fd_ref fd, std::uint32_t cmd_op,
                                                           std::span<const std::byte> payload = {},
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
[[nodiscard("co_await it")]] uring_cmd_op uring_cmd(fd_ref fd, std::uint32_t cmd_op, const Cmd& payload,
                                                    const cmd_options& opts = {}) noexcept {
  return {fd, cmd_op, std::as_bytes(std::span<const Cmd, 1>(&payload, 1)), opts};
}

}  // namespace uringcmd
