// SPDX-License-Identifier: MIT
// nvme::command_op: one NVMe command through IORING_OP_URING_CMD (NVMe generic character devices,
// Linux 5.19+), on a SQE128|CQE32 ring: the command's 72-byte nvme_uring_cmd in the SQE, the data
// (and metadata) buffers the caller's.
//
//   auto r = co_await nvme::io(ng_fd, *nvme::read(nsid, lba, 8), buffer);
//   if (!r) ...                 // the kernel refused or lost the command: an errno (EINTR: timed out)
//   else if (!r->ok()) ...      // the controller answered an error: r->status, r->error()
//   else use(r->dw0);
//
// Result: result<reply>. A negative cqe->res is an errno (system category) and the result's error;
// otherwise the reply holds the NVMe status (0 = success; a non-zero status is *not* the result's
// error: deciding what is an error is the caller's business, as for SCSI) and the completion's
// DW0/DW1 (big_cqe[0]).
// Ring requirements: SQE128 and CQE32 (uringcmd::errc::sqe128_required / cqe32_required before
// submission otherwise).
// Lifetime: the command is copied into the op; the data buffer, the metadata buffer and, for the
// _vec forms, the iovec array and the buffers it points to must outlive the co_await.
// Cancellation: NVMe passthrough cannot be cancelled; the bound is timeout_ms, which
// with_timeout(op, d) sets (the command then completes with EINTR when the driver times it out
// and aborts it).
// Thread: awaited on the thread that runs the executor owning the ring, as every io_op.
// Where: io/io_vec to /dev/ngXnY with that namespace's nsid, admin/admin_vec to /dev/nvmeX.
#pragma once

#include <sys/uio.h>

#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <system_error>
#include <utility>

#include <uringcmd/fd.hpp>
#include <uringcmd/io_op.hpp>
#include <uringcmd/nvme/command.hpp>
#include <uringcmd/nvme/error.hpp>
#include <uringcmd/nvme/status.hpp>
#include <uringcmd/nvme/uapi.hpp>
#include <uringcmd/uring_cmd.hpp>

namespace uringcmd::nvme {

/// Per-command options.
struct options {
  /// The command's deadline, enforced by the nvme driver, which aborts the command when it
  /// expires (the completion is then EINTR). 0: the driver's default (nvme_core.admin_timeout,
  /// 60 s, or io_timeout, 30 s).
  std::uint32_t timeout_ms = 0;
  /// The data buffer lies inside registered buffer `fixed_buffer` (IORING_URING_CMD_FIXED).
  std::optional<std::uint16_t> fixed_buffer;
  /// A separate metadata buffer (namespaces formatted with metadata not in extended LBAs). Never
  /// taken from the registered buffer.
  std::span<std::byte> metadata;
};

/// What the controller answered.
struct reply {
  status_field status;     ///< the NVMe status (0: success)
  std::uint32_t dw0 = 0;   ///< completion queue entry DW0, the command-specific result
  std::uint64_t result = 0;  ///< big_cqe[0] whole: DW0 in bits 31:0, DW1 in bits 63:32

  bool ok() const noexcept { return status.success(); }
  explicit operator bool() const noexcept { return ok(); }
  /// Empty on success, else the status as an "nvme" error_code.
  std::error_code error() const noexcept { return make_error_code(status); }
  std::uint32_t dw1() const noexcept { return static_cast<std::uint32_t>(result >> 32); }
};

class command_op : public io_op<command_op> {
 public:
  /// `cmd_op` is one of nvme::cmd_op; with io_vec/admin_vec, `data` is an iovec array and `len`
  /// its number of entries.
  command_op(fd_ref fd, std::uint32_t cmd_op, const command& cmd, void* data, std::size_t len,
             const options& opts) noexcept
      : fd_(fd), cmd_op_(cmd_op), cmd_(cmd), data_(data), len_(len), opts_(opts) {}

  uringcmd::errc bind(const executor& ex) const noexcept {
    if (len_ > UINT32_MAX || opts_.metadata.size() > UINT32_MAX) return uringcmd::errc::buffer_too_large;
    if (!ex.big_sqe()) return uringcmd::errc::sqe128_required;
    if (!ex.big_cqe()) return uringcmd::errc::cqe32_required;
    return uringcmd::errc::ok;
  }

  void prepare_sqe(io_uring_sqe& sqe) noexcept {
    uringcmd::detail::prep_uring_cmd(sqe, fd_, cmd_op_);
    if (opts_.fixed_buffer) {
      sqe.uring_cmd_flags = IORING_URING_CMD_FIXED;
      sqe.buf_index = *opts_.fixed_buffer;
    }
    const nvme_uring_cmd c = payload();
    // LIFETIME: the kernel reads the command area while the driver runs (the SQE slot is the
    // kernel's until the CQE); the addresses in it are the caller's buffers.
    unsigned char* area = uringcmd::detail::cmd_area(sqe);
    std::memcpy(area, &c, sizeof c);
    std::memset(area + sizeof c, 0, big_cmd_size - sizeof c);
  }

  result<reply> finish(const completion& c) noexcept {
    if (c.res < 0) return fail_errno(c.res);
    reply r;
    r.status = status_field(static_cast<std::uint16_t>(c.res));
    r.result = c.extra[0];
    r.dw0 = static_cast<std::uint32_t>(c.extra[0]);
    return r;
  }

  /// with_timeout's hook: the deadline becomes the command's timeout_ms.
  bool set_kernel_deadline(std::chrono::milliseconds ms) noexcept {
    opts_.timeout_ms = static_cast<std::uint32_t>(ms.count());
    return true;
  }

  /// The nvme_uring_cmd as prepare_sqe writes it (for tests and logging).
  nvme_uring_cmd payload() const noexcept {
    nvme_uring_cmd c{};
    c.opcode = cmd_.opcode;
    c.flags = cmd_.flags;
    c.nsid = cmd_.nsid;
    c.cdw2 = cmd_.cdw2;
    c.cdw3 = cmd_.cdw3;
    c.metadata = reinterpret_cast<std::uintptr_t>(opts_.metadata.data());
    c.metadata_len = static_cast<std::uint32_t>(opts_.metadata.size());
    c.addr = reinterpret_cast<std::uintptr_t>(data_);
    c.data_len = static_cast<std::uint32_t>(len_);
    c.cdw10 = cmd_.cdw10;
    c.cdw11 = cmd_.cdw11;
    c.cdw12 = cmd_.cdw12;
    c.cdw13 = cmd_.cdw13;
    c.cdw14 = cmd_.cdw14;
    c.cdw15 = cmd_.cdw15;
    c.timeout_ms = opts_.timeout_ms;
    return c;
  }
  const command& cmd() const noexcept { return cmd_; }

 private:
  fd_ref fd_;
  std::uint32_t cmd_op_;
  command cmd_;
  void* data_;
  std::size_t len_;
  options opts_;
};

namespace passthru_detail {
inline void* writable(const void* p) noexcept { return const_cast<void*>(p); }  // the kernel only reads it
// A buffer the controller may write into (any direction), or one it may only read (a const one).
template <class D>
concept mutable_bytes = std::convertible_to<D, std::span<std::byte>>;
template <class D>
concept const_bytes = std::convertible_to<D, std::span<const std::byte>> && !mutable_bytes<D>;
}  // namespace passthru_detail

/// An I/O command without data (Flush, Write Zeroes, ...), to /dev/ngXnY.
[[nodiscard("co_await it")]] inline command_op io(fd_ref fd, const command& cmd, const options& opts = {}) noexcept {
  return {fd, cmd_op::io, cmd, nullptr, 0, opts};
}
/// An I/O command that reads into, or writes from, `data` (a span of bytes, or what converts to
/// one: the opcode says which way).
template <passthru_detail::mutable_bytes Data>
[[nodiscard("co_await it")]] command_op io(fd_ref fd, const command& cmd, Data&& data, const options& opts = {}) noexcept {
  const std::span<std::byte> d(std::forward<Data>(data));
  return {fd, cmd_op::io, cmd, d.data(), d.size(), opts};
}
/// An I/O command that writes `data` (Write, Compare, Dataset Management): a const buffer.
template <passthru_detail::const_bytes Data>
[[nodiscard("co_await it")]] command_op io(fd_ref fd, const command& cmd, Data&& data, const options& opts = {}) noexcept {
  const std::span<const std::byte> d(std::forward<Data>(data));
  return {fd, cmd_op::io, cmd, passthru_detail::writable(d.data()), d.size(), opts};
}
/// An I/O command over the buffers of `iov` (NVME_URING_CMD_IO_VEC).
[[nodiscard("co_await it")]] inline command_op io_vec(fd_ref fd, const command& cmd, std::span<const iovec> iov,
                                                      const options& opts = {}) noexcept {
  return {fd, cmd_op::io_vec, cmd, passthru_detail::writable(iov.data()), iov.size(), opts};
}
/// An admin command without data (Set Features, ...), to /dev/nvmeX.
[[nodiscard("co_await it")]] inline command_op admin(fd_ref fd, const command& cmd, const options& opts = {}) noexcept {
  return {fd, cmd_op::admin, cmd, nullptr, 0, opts};
}
/// An admin command that reads into (Identify, Get Log Page) or writes from `data`.
template <passthru_detail::mutable_bytes Data>
[[nodiscard("co_await it")]] command_op admin(fd_ref fd, const command& cmd, Data&& data, const options& opts = {}) noexcept {
  const std::span<std::byte> d(std::forward<Data>(data));
  return {fd, cmd_op::admin, cmd, d.data(), d.size(), opts};
}
/// An admin command that writes `data` (Firmware Image Download, ...): a const buffer.
template <passthru_detail::const_bytes Data>
[[nodiscard("co_await it")]] command_op admin(fd_ref fd, const command& cmd, Data&& data, const options& opts = {}) noexcept {
  const std::span<const std::byte> d(std::forward<Data>(data));
  return {fd, cmd_op::admin, cmd, passthru_detail::writable(d.data()), d.size(), opts};
}
/// An admin command over the buffers of `iov` (NVME_URING_CMD_ADMIN_VEC).
[[nodiscard("co_await it")]] inline command_op admin_vec(fd_ref fd, const command& cmd, std::span<const iovec> iov,
                                                         const options& opts = {}) noexcept {
  return {fd, cmd_op::admin_vec, cmd, passthru_detail::writable(iov.data()), iov.size(), opts};
}

}  // namespace uringcmd::nvme
