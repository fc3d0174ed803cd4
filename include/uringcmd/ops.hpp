// SPDX-License-Identifier: MIT
// The generic operation catalogue. Every factory returns an awaiter to co_await at once: the
// awaiter, and so everything its SQE points to, lives in the awaiting frame until the CQE.
//
// Cancellation (with_stop / with_timeout / executor shutdown), per op:
//   nop, fsync, openat, close: complete immediately or run to completion; cancel rarely wins.
//   read/write/readv/writev:   cancellable while waiting on a pipe/socket/eventfd; a regular-file or
//                              block-device request already issued to the device is not cancelled.
//   poll, timeout:             always cancellable (result ECANCELED).
//   uring_cmd:                 only if the driver marks the command cancelable (ublk FETCH does;
//                              NVMe and SCSI BSG passthrough do not: they end at their timeout_ms,
//                              which with_timeout sets for ops that expose it, see cancellation.hpp).
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <sys/uio.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>

#include <uringcmd/fd.hpp>
#include <uringcmd/io_op.hpp>

namespace uringcmd {

namespace detail {
inline __kernel_timespec to_timespec(std::chrono::nanoseconds d) noexcept {
  if (d.count() < 0) d = {};
  return {static_cast<long long>(d.count() / 1'000'000'000), static_cast<long long>(d.count() % 1'000'000'000)};
}
}  // namespace detail

/// IORING_OP_NOP. Result: nothing.
struct nop_op : io_op<nop_op> {
  void prepare_sqe(io_uring_sqe& sqe) noexcept { io_uring_prep_nop(&sqe); }
  result<void> finish(const completion& c) noexcept { return detail::void_result(c); }
};
[[nodiscard("co_await it")]] inline nop_op nop() noexcept { return {}; }

/// One data transfer: read/write (plain or through a registered buffer) and readv/writev.
/// Result: bytes transferred; short counts are returned as they are, never retried behind your
/// back. A buffer (or iovec count) that does not fit the SQE's 32-bit length is refused with
/// errc::buffer_too_large instead of being truncated.
struct transfer_op : io_op<transfer_op> {
  transfer_op(std::uint8_t opcode, fd_ref f, const void* addr, std::size_t len, std::uint64_t off,
              int buf_index = -1) noexcept
      : fd_(f), addr_(addr), len_(len), offset_(off), buf_index_(buf_index), opcode_(opcode) {}

  errc bind(const executor&) const noexcept {
    return len_ > UINT32_MAX ? errc::buffer_too_large : errc::ok;
  }
  void prepare_sqe(io_uring_sqe& sqe) noexcept {
    io_uring_prep_rw(opcode_, &sqe, fd_.fd, addr_, static_cast<unsigned>(len_), offset_);
    if (buf_index_ >= 0) sqe.buf_index = static_cast<std::uint16_t>(buf_index_);
    fd_.apply(sqe);
  }
  result<std::size_t> finish(const completion& c) noexcept { return detail::value_result<std::size_t>(c); }

 private:
  fd_ref fd_;
  const void* addr_;
  std::size_t len_;
  std::uint64_t offset_;
  int buf_index_;
  std::uint8_t opcode_;
};

/// Reads into `buf` at `offset` (-1: the file position).
[[nodiscard("co_await it")]] inline transfer_op read(fd_ref fd, std::span<std::byte> buf, std::uint64_t offset) noexcept {
  return {IORING_OP_READ, fd, buf.data(), buf.size(), offset};
}
/// Writes `buf` at `offset` (-1: the file position).
[[nodiscard("co_await it")]] inline transfer_op write(fd_ref fd, std::span<const std::byte> buf,
                                                      std::uint64_t offset) noexcept {
  return {IORING_OP_WRITE, fd, buf.data(), buf.size(), offset};
}
/// read/write through registered buffer `buf_index` (executor::register_buffers); `buf` must lie
/// inside that buffer.
[[nodiscard("co_await it")]] inline transfer_op read_fixed(fd_ref fd, std::span<std::byte> buf, std::uint64_t offset,
                                                           int buf_index) noexcept {
  return {IORING_OP_READ_FIXED, fd, buf.data(), buf.size(), offset, buf_index};
}
[[nodiscard("co_await it")]] inline transfer_op write_fixed(fd_ref fd, std::span<const std::byte> buf,
                                                            std::uint64_t offset, int buf_index) noexcept {
  return {IORING_OP_WRITE_FIXED, fd, buf.data(), buf.size(), offset, buf_index};
}
/// Vectored read/write. LIFETIME: the iovec array must outlive the co_await (a temporary array
/// in the co_await expression does).
[[nodiscard("co_await it")]] inline transfer_op readv(fd_ref fd, std::span<const iovec> iov,
                                                      std::uint64_t offset) noexcept {
  return {IORING_OP_READV, fd, iov.data(), iov.size(), offset};
}
[[nodiscard("co_await it")]] inline transfer_op writev(fd_ref fd, std::span<const iovec> iov,
                                                       std::uint64_t offset) noexcept {
  return {IORING_OP_WRITEV, fd, iov.data(), iov.size(), offset};
}

/// fsync (or fdatasync with `data_only`).
struct fsync_op : io_op<fsync_op> {
  fd_ref fd;
  bool data_only;
  fsync_op(fd_ref f, bool d) noexcept : fd(f), data_only(d) {}
  void prepare_sqe(io_uring_sqe& sqe) noexcept {
    io_uring_prep_fsync(&sqe, fd.fd, data_only ? IORING_FSYNC_DATASYNC : 0);
    fd.apply(sqe);
  }
  result<void> finish(const completion& c) noexcept { return detail::void_result(c); }
};
[[nodiscard("co_await it")]] inline fsync_op fsync(fd_ref fd, bool data_only = false) noexcept { return {fd, data_only}; }

/// fallocate(2) (IORING_OP_FALLOCATE, 5.6): FALLOC_FL_PUNCH_HOLE, FALLOC_FL_ZERO_RANGE, ... Result: nothing.
struct fallocate_op : io_op<fallocate_op> {
  fd_ref fd;
  int mode;
  std::uint64_t offset, len;
  fallocate_op(fd_ref f, int m, std::uint64_t off, std::uint64_t n) noexcept : fd(f), mode(m), offset(off), len(n) {}
  void prepare_sqe(io_uring_sqe& sqe) noexcept {
    io_uring_prep_fallocate(&sqe, fd.fd, mode, offset, len);
    fd.apply(sqe);
  }
  result<void> finish(const completion& c) noexcept { return detail::void_result(c); }
};
[[nodiscard("co_await it")]] inline fallocate_op fallocate(fd_ref fd, int mode, std::uint64_t offset,
                                                           std::uint64_t len) noexcept {
  return {fd, mode, offset, len};
}

/// openat. Result: the new fd. LIFETIME: `path` must outlive the co_await.
struct openat_op : io_op<openat_op> {
  int dirfd;
  const char* path;
  int flags;
  mode_t mode;
  openat_op(int d, const char* p, int f, mode_t m) noexcept : dirfd(d), path(p), flags(f), mode(m) {}
  void prepare_sqe(io_uring_sqe& sqe) noexcept { io_uring_prep_openat(&sqe, dirfd, path, flags | O_CLOEXEC, mode); }
  result<int> finish(const completion& c) noexcept { return detail::value_result<int>(c); }
};
[[nodiscard("co_await it")]] inline openat_op openat(int dirfd, const char* path, int flags, mode_t mode = 0) noexcept {
  return {dirfd, path, flags, mode};
}
[[nodiscard("co_await it")]] inline openat_op open(const char* path, int flags, mode_t mode = 0) noexcept {
  return {AT_FDCWD, path, flags, mode};
}

/// close.
struct close_op : io_op<close_op> {
  int fd;
  explicit close_op(int f) noexcept : fd(f) {}
  void prepare_sqe(io_uring_sqe& sqe) noexcept { io_uring_prep_close(&sqe, fd); }
  result<void> finish(const completion& c) noexcept { return detail::void_result(c); }
};
[[nodiscard("co_await it")]] inline close_op close(int fd) noexcept { return close_op{fd}; }

/// One-shot poll. Result: the returned events (POLLIN, ...).
struct poll_op : io_op<poll_op> {
  fd_ref fd;
  unsigned events;
  poll_op(fd_ref f, unsigned e) noexcept : fd(f), events(e) {}
  void prepare_sqe(io_uring_sqe& sqe) noexcept {
    io_uring_prep_poll_add(&sqe, fd.fd, events);
    fd.apply(sqe);
  }
  result<unsigned> finish(const completion& c) noexcept { return detail::value_result<unsigned>(c); }
};
[[nodiscard("co_await it")]] inline poll_op poll(fd_ref fd, unsigned events) noexcept { return {fd, events}; }

/// Sleeps for `d` on the ring (IORING_OP_TIMEOUT). Expiry is success; ECANCELED if cancelled.
struct timeout_op : io_op<timeout_op> {
  __kernel_timespec ts;
  explicit timeout_op(std::chrono::nanoseconds d) noexcept : ts(detail::to_timespec(d)) {}
  void prepare_sqe(io_uring_sqe& sqe) noexcept { io_uring_prep_timeout(&sqe, &ts, 0, 0); }
  result<void> finish(const completion& c) noexcept {
    if (c.res == -ETIME) return {};
    return detail::void_result(c);
  }
};
[[nodiscard("co_await it")]] inline timeout_op sleep_for(std::chrono::nanoseconds d) noexcept { return timeout_op{d}; }

/// Cancels every request on `fd` (IORING_ASYNC_CANCEL_FD|ALL, 5.19+). Result: how many were found.
struct cancel_fd_op : io_op<cancel_fd_op> {
  fd_ref fd;
  explicit cancel_fd_op(fd_ref f) noexcept : fd(f) {}
  void prepare_sqe(io_uring_sqe& sqe) noexcept {
    io_uring_prep_cancel64(&sqe, 0, IORING_ASYNC_CANCEL_FD | IORING_ASYNC_CANCEL_ALL |
                                        (fd.fixed ? IORING_ASYNC_CANCEL_FD_FIXED : 0));
    sqe.fd = fd.fd;
  }
  result<unsigned> finish(const completion& c) noexcept { return detail::value_result<unsigned>(c); }
};
[[nodiscard("co_await it")]] inline cancel_fd_op cancel_fd(fd_ref fd) noexcept { return cancel_fd_op{fd}; }

}  // namespace uringcmd
