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
//                              NVMe and SCSI BSG passthrough do not: they end at their timeout_ms).
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <sys/uio.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>

#include <uringcmd/io_op.hpp>

namespace uringcmd {

/// A file descriptor, or an index into the registered file table (executor::register_files).
struct fd_ref {
  int fd;
  bool fixed = false;
  fd_ref(int f) noexcept : fd(f) {}  // NOLINT: implicit from a plain fd on purpose
  fd_ref(int f, bool is_fixed) noexcept : fd(f), fixed(is_fixed) {}
  void apply(io_uring_sqe& sqe) const noexcept {
    if (fixed) sqe.flags |= IOSQE_FIXED_FILE;
  }
};
/// Refers to slot `index` of the registered file table.
inline fd_ref fixed_file(int index) noexcept { return {index, true}; }

namespace detail {
inline __kernel_timespec to_timespec(std::chrono::nanoseconds d) noexcept {
  if (d.count() < 0) d = {};
  return {static_cast<long long>(d.count() / 1'000'000'000), static_cast<long long>(d.count() % 1'000'000'000)};
}
}  // namespace detail

/// IORING_OP_NOP. Result: nothing.
struct nop_op : io_op<nop_op> {
  nop_op() noexcept {}  // user-provided: `return {};` would otherwise zero the whole awaiter
  void prepare_sqe(io_uring_sqe& sqe) noexcept { io_uring_prep_nop(&sqe); }
  result<void> finish(const completion& c) noexcept { return detail::void_result(c); }
};
[[nodiscard("co_await it")]] inline nop_op nop() noexcept { return {}; }

/// read/write at an offset (-1: the file position). Result: bytes transferred (short counts are
/// returned as they are, never retried behind your back).
struct read_op : io_op<read_op> {
  fd_ref fd;
  std::span<std::byte> buf;
  std::uint64_t offset;
  read_op(fd_ref f, std::span<std::byte> b, std::uint64_t off) noexcept : fd(f), buf(b), offset(off) {}
  void prepare_sqe(io_uring_sqe& sqe) noexcept {
    io_uring_prep_read(&sqe, fd.fd, buf.data(), static_cast<unsigned>(buf.size()), offset);
    fd.apply(sqe);
  }
  result<std::size_t> finish(const completion& c) noexcept { return detail::value_result<std::size_t>(c); }
};
struct write_op : io_op<write_op> {
  fd_ref fd;
  std::span<const std::byte> buf;
  std::uint64_t offset;
  write_op(fd_ref f, std::span<const std::byte> b, std::uint64_t off) noexcept : fd(f), buf(b), offset(off) {}
  void prepare_sqe(io_uring_sqe& sqe) noexcept {
    io_uring_prep_write(&sqe, fd.fd, buf.data(), static_cast<unsigned>(buf.size()), offset);
    fd.apply(sqe);
  }
  result<std::size_t> finish(const completion& c) noexcept { return detail::value_result<std::size_t>(c); }
};
[[nodiscard("co_await it")]] inline read_op read(fd_ref fd, std::span<std::byte> buf, std::uint64_t offset) noexcept {
  return {fd, buf, offset};
}
[[nodiscard("co_await it")]] inline write_op write(fd_ref fd, std::span<const std::byte> buf,
                                                   std::uint64_t offset) noexcept {
  return {fd, buf, offset};
}

/// read/write through registered buffer `buf_index` (executor::register_buffers); `buf` must lie
/// inside that buffer.
struct read_fixed_op : io_op<read_fixed_op> {
  fd_ref fd;
  std::span<std::byte> buf;
  std::uint64_t offset;
  int buf_index;
  read_fixed_op(fd_ref f, std::span<std::byte> b, std::uint64_t off, int idx) noexcept
      : fd(f), buf(b), offset(off), buf_index(idx) {}
  void prepare_sqe(io_uring_sqe& sqe) noexcept {
    io_uring_prep_read_fixed(&sqe, fd.fd, buf.data(), static_cast<unsigned>(buf.size()), offset, buf_index);
    fd.apply(sqe);
  }
  result<std::size_t> finish(const completion& c) noexcept { return detail::value_result<std::size_t>(c); }
};
struct write_fixed_op : io_op<write_fixed_op> {
  fd_ref fd;
  std::span<const std::byte> buf;
  std::uint64_t offset;
  int buf_index;
  write_fixed_op(fd_ref f, std::span<const std::byte> b, std::uint64_t off, int idx) noexcept
      : fd(f), buf(b), offset(off), buf_index(idx) {}
  void prepare_sqe(io_uring_sqe& sqe) noexcept {
    io_uring_prep_write_fixed(&sqe, fd.fd, buf.data(), static_cast<unsigned>(buf.size()), offset, buf_index);
    fd.apply(sqe);
  }
  result<std::size_t> finish(const completion& c) noexcept { return detail::value_result<std::size_t>(c); }
};
[[nodiscard("co_await it")]] inline read_fixed_op read_fixed(fd_ref fd, std::span<std::byte> buf,
                                                             std::uint64_t offset, int buf_index) noexcept {
  return {fd, buf, offset, buf_index};
}
[[nodiscard("co_await it")]] inline write_fixed_op write_fixed(fd_ref fd, std::span<const std::byte> buf,
                                                               std::uint64_t offset, int buf_index) noexcept {
  return {fd, buf, offset, buf_index};
}

/// Vectored read/write. LIFETIME: the iovec array must outlive the co_await (a temporary array
/// in the co_await expression does).
struct readv_op : io_op<readv_op> {
  fd_ref fd;
  std::span<const iovec> iov;
  std::uint64_t offset;
  readv_op(fd_ref f, std::span<const iovec> v, std::uint64_t off) noexcept : fd(f), iov(v), offset(off) {}
  void prepare_sqe(io_uring_sqe& sqe) noexcept {
    io_uring_prep_readv(&sqe, fd.fd, iov.data(), static_cast<unsigned>(iov.size()), offset);
    fd.apply(sqe);
  }
  result<std::size_t> finish(const completion& c) noexcept { return detail::value_result<std::size_t>(c); }
};
struct writev_op : io_op<writev_op> {
  fd_ref fd;
  std::span<const iovec> iov;
  std::uint64_t offset;
  writev_op(fd_ref f, std::span<const iovec> v, std::uint64_t off) noexcept : fd(f), iov(v), offset(off) {}
  void prepare_sqe(io_uring_sqe& sqe) noexcept {
    io_uring_prep_writev(&sqe, fd.fd, iov.data(), static_cast<unsigned>(iov.size()), offset);
    fd.apply(sqe);
  }
  result<std::size_t> finish(const completion& c) noexcept { return detail::value_result<std::size_t>(c); }
};
[[nodiscard("co_await it")]] inline readv_op readv(fd_ref fd, std::span<const iovec> iov, std::uint64_t offset) noexcept {
  return {fd, iov, offset};
}
[[nodiscard("co_await it")]] inline writev_op writev(fd_ref fd, std::span<const iovec> iov,
                                                     std::uint64_t offset) noexcept {
  return {fd, iov, offset};
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
