// SPDX-License-Identifier: MIT
// ublk::loop_target: a block device backed by a file or another block device, like the kernel's
// loop driver, with every I/O an io_uring op on the queue's own ring.
//
//   READ / WRITE   read/write at the same offset, O_DIRECT when the file takes it (else buffered,
//                  see direct()); short transfers are continued, and end of file before the
//                  request's end (a backing file truncated under the device) is EIO.
//   FUA WRITE      the write, then fdatasync.
//   FLUSH          fdatasync (the device announces a volatile cache, so the kernel sends it).
//   DISCARD        fallocate(PUNCH_HOLE|KEEP_SIZE); where the file cannot, the range is zeroed as
//                  for WRITE_ZEROES, so a discarded range always reads back as zeros.
//   WRITE_ZEROES   fallocate(ZERO_RANGE|KEEP_SIZE), else PUNCH_HOLE (unless the request says
//                  NOUNMAP), else writes of zeros. A fallback that the file refused once
//                  (EOPNOTSUPP) is not tried again: zeroing() names the one in use.
//   past the end   EIO; other ops EOPNOTSUPP.
//
// handle_fixed() serves a zero-copy request: the request's pages are the ring's registered buffer
// `buf_index`, read and written with READ_FIXED/WRITE_FIXED at offsets within that buffer.
// The backing file is a file_target file (target.hpp): every queue registers it in its ring, and
// each op names it there (backing()), saving the kernel a file lookup per I/O; the target's ops
// therefore run only on a queue's ring. Safe from several queues: each queue ring has its own
// registration of the one fd, the fallback memory is atomic.
#pragma once

#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <uringcmd/error.hpp>
#include <uringcmd/fd.hpp>
#include <uringcmd/io_op.hpp>
#include <uringcmd/ops.hpp>
#include <uringcmd/task.hpp>
#include <uringcmd/ublk/control.hpp>
#include <uringcmd/ublk/target.hpp>

namespace uringcmd::ublk {

class loop_target {
 public:
  /// Opens `path` read-write (O_DIRECT when it allows it). `size` 0: the file's or block device's
  /// size; a regular file smaller than `size` is created or grown to it. Throws std::system_error
  /// naming the file.
  explicit loop_target(const std::string& path, std::uint64_t size = 0) : path_(path) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CLOEXEC | O_DIRECT | (size ? O_CREAT : 0), 0644);
    if (fd_ < 0 && errno == EINVAL) {  // the file system has no O_DIRECT
      fd_ = ::open(path.c_str(), O_RDWR | O_CLOEXEC | (size ? O_CREAT : 0), 0644);
      direct_ = false;
    }
    if (fd_ < 0) throw system_error(errno_code(errno), "loop: open " + path);
    try {
      size_ = probe_size(size);
    } catch (...) {
      ::close(fd_);
      throw;
    }
  }
  loop_target(const loop_target&) = delete;
  loop_target& operator=(const loop_target&) = delete;
  ~loop_target() { ::close(fd_); }

  const std::string& path() const noexcept { return path_; }
  std::uint64_t size() const noexcept { return size_; }
  int fd() const noexcept { return fd_; }
  /// The backing file, which each queue registers at first_target_file (file_target).
  std::span<const int> files() const noexcept { return {&fd_, 1}; }
  /// True when I/O bypasses the page cache (O_DIRECT).
  bool direct() const noexcept { return direct_; }
  bool block_device() const noexcept { return block_device_; }
  /// The logical block size the device must announce: O_DIRECT needs the backing file's
  /// alignment (the block device's logical block, 4 KiB for a file, the largest a file system
  /// asks for); buffered I/O takes 512.
  std::uint8_t logical_block_shift() const noexcept { return lbs_shift_; }
  /// "zero-range", "punch-hole" or "write": how WRITE_ZEROES is done now.
  std::string_view zeroing() const noexcept {
    if (!no_zero_range_.load(std::memory_order_relaxed)) return "zero-range";
    if (!no_punch_hole_.load(std::memory_order_relaxed)) return "punch-hole";
    return "write";
  }

  /// Discard and write-zeroes limits, and a volatile cache with FUA, so FLUSH and FUA reach us.
  void tune(params& p) const noexcept {
    enable_discard(p, 1u << lbs_shift_);
    p.basic.attrs |= attr::volatile_cache | attr::fua;
  }

  task<int> handle(io_request req, std::span<std::byte> buf) { return serve(req, buf.data(), -1); }
  /// Zero copy: the request's data is registered buffer `buf_index` of the queue's ring.
  task<int> handle_fixed(io_request req, std::uint16_t buf_index) { return serve(req, nullptr, buf_index); }

 private:
  // `base`: the data in memory, or (buf_index >= 0) nullptr: offsets within the fixed buffer.
  task<int> serve(io_request req, std::byte* base, int buf_index) {
    if (req.op == io_op::flush) co_return co_await sync();  // FLUSH carries no position
    if (req.offset > size_ || req.bytes > size_ - req.offset) co_return -EIO;
    switch (req.op) {
      case io_op::read: co_return co_await transfer(req, base, buf_index);
      case io_op::write: {
        const int n = co_await transfer(req, base, buf_index);
        if (n < 0 || !req.fua()) co_return n;
        const int s = co_await sync();
        co_return s < 0 ? s : n;
      }
      case io_op::discard: co_return co_await discard(req);
      case io_op::write_zeroes: co_return co_await zero(req);
      default: co_return -EOPNOTSUPP;
    }
  }

  task<int> transfer(io_request req, std::byte* base, int buf_index) {
    const bool write = req.op == io_op::write;
    const std::uint8_t opcode = buf_index >= 0 ? (write ? IORING_OP_WRITE_FIXED : IORING_OP_READ_FIXED)
                                               : (write ? IORING_OP_WRITE : IORING_OP_READ);
    const auto addr = reinterpret_cast<std::uintptr_t>(base);
    std::uint64_t done = 0;
    while (done < req.bytes) {
      auto r = co_await transfer_op(opcode, backing(), reinterpret_cast<const void*>(addr + done), req.bytes - done,
                                    req.offset + done, buf_index);
      if (!r) co_return to_errno(r.error());
      if (*r == 0) co_return -EIO;  // end of file inside the device: the backing file shrank
      done += *r;
    }
    co_return static_cast<int>(done);
  }

  task<int> sync() {
    auto r = co_await fsync(backing(), true);
    co_return r ? 0 : to_errno(r.error());
  }

  task<int> discard(io_request req) {
    if (!no_punch_hole_.load(std::memory_order_relaxed)) {
      const int r = co_await try_fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, req, no_punch_hole_);
      if (r != -EOPNOTSUPP) co_return r;
    }
    co_return co_await write_zeros(req);
  }

  task<int> zero(io_request req) {
    if (!no_zero_range_.load(std::memory_order_relaxed)) {
      const int r = co_await try_fallocate(FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, req, no_zero_range_);
      if (r != -EOPNOTSUPP) co_return r;
    }
    if (!(req.flags & io_flag::nounmap) && !no_punch_hole_.load(std::memory_order_relaxed)) {
      const int r = co_await try_fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, req, no_punch_hole_);
      if (r != -EOPNOTSUPP) co_return r;
    }
    co_return co_await write_zeros(req);
  }

  // 0, an error, or -EOPNOTSUPP after noting in `refused` that this file cannot do `mode`.
  task<int> try_fallocate(int mode, io_request req, std::atomic<bool>& refused) {
    auto r = co_await fallocate(backing(), mode, req.offset, req.bytes);
    if (r) co_return 0;
    const int e = to_errno(r.error());
    if (e == -EOPNOTSUPP) refused.store(true, std::memory_order_relaxed);
    co_return e;
  }

  task<int> write_zeros(io_request req) {
    alignas(4096) static const std::byte zeros[64 << 10] = {};
    for (std::uint64_t done = 0; done < req.bytes;) {
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(sizeof zeros, req.bytes - done));
      auto r = co_await write(backing(), std::span<const std::byte>(zeros, n), req.offset + done);
      if (!r) co_return to_errno(r.error());
      if (*r == 0) co_return -EIO;
      done += *r;
    }
    co_return 0;
  }

  /// The backing file in the queue ring's file table.
  static fd_ref backing() noexcept { return fixed_file(first_target_file); }

  std::uint64_t probe_size(std::uint64_t want) {
    struct stat st;
    if (::fstat(fd_, &st) != 0) throw system_error(errno_code(errno), "loop: stat " + path_);
    block_device_ = S_ISBLK(st.st_mode);
    unsigned align = direct_ ? 4096 : 512;
    std::uint64_t have = static_cast<std::uint64_t>(st.st_size);
    if (block_device_) {
      if (::ioctl(fd_, BLKGETSIZE64, &have) != 0) throw system_error(errno_code(errno), "loop: BLKGETSIZE64 " + path_);
      int lbs = 512;
      if (direct_ && ::ioctl(fd_, BLKSSZGET, &lbs) == 0) align = static_cast<unsigned>(lbs);
    } else if (!S_ISREG(st.st_mode)) {
      throw system_error(errno_code(EINVAL), "loop: " + path_ + " is neither a file nor a block device");
    }
    lbs_shift_ = static_cast<std::uint8_t>(std::countr_zero(std::max(align, 512u)));
    if (want > have) {
      if (block_device_) throw system_error(errno_code(ENOSPC), "loop: " + path_ + " is smaller than the size asked for");
      if (::ftruncate(fd_, static_cast<off_t>(want)) != 0) throw system_error(errno_code(errno), "loop: grow " + path_);
      have = want;
    }
    const std::uint64_t size = (want ? want : have) & ~std::uint64_t{align - 1};
    if (size == 0) throw system_error(errno_code(EINVAL), "loop: " + path_ + " is empty (give a size)");
    return size;
  }

  std::string path_;
  int fd_ = -1;
  bool direct_ = true;
  bool block_device_ = false;
  std::uint8_t lbs_shift_ = 9;
  std::uint64_t size_ = 0;
  std::atomic<bool> no_zero_range_{false};
  std::atomic<bool> no_punch_hole_{false};
};

}  // namespace uringcmd::ublk
