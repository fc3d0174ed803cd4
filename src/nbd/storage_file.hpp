// SPDX-License-Identifier: MIT
// A file or block device as the export, through uringcmd's io_uring reads, writes, fsync and
// fallocate. Byte-granular (block size 1): the kernel's page cache or block layer aligns.
//
// One exception, for reads and writes of memory-backed files (tmpfs, ramfs): io_uring cannot
// issue them without blocking (the filesystem has no IOCB_NOWAIT), so it hands every one to an
// io-wq kernel thread, which runs on the worker's own CPU (it inherits the pinning), copies,
// and wakes the worker back. Such a file never waits for a device, so the copy is all the work
// there is, and the worker does it itself (pread/pwrite). Measured against the io-wq hop
// (docs/benchmarks.md, "uringcmd-nbd vs nbdkit"): server CPU per random 4 KiB read 6.2 -> 5.3 us,
// per 4 KiB write 6.4 -> 5.5 us, per 1 MiB write 429 -> 347 us. The price: a tmpfs page that
// was swapped out stalls the worker's other connections while it is read back (`--io uring`).
#pragma once

#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <system_error>

#include <uringcmd/io_op.hpp>
#include <uringcmd/ops.hpp>

#include "nbd/storage.hpp"

namespace uringcmd::nbd {

/// How the file backend reads and writes.
enum class file_io {
  automatic,  ///< on the worker's thread for memory-backed files io_uring would punt, else io_uring
  uring,      ///< always io_uring
  worker,     ///< always pread/pwrite on the worker's thread (blocks it for as long as they take)
};

/// True for a file on tmpfs or ramfs that io_uring cannot read without a worker thread: its
/// filesystem refuses RWF_NOWAIT (a one-byte probe read at offset 0).
inline bool memory_backed_without_nowait(int fd) {
  struct statfs fs{};
  if (::fstatfs(fd, &fs) != 0) return false;
  if (fs.f_type != TMPFS_MAGIC && fs.f_type != RAMFS_MAGIC) return false;
  std::byte probe{};
  iovec v{&probe, 1};
  return ::preadv2(fd, &v, 1, 0, RWF_NOWAIT) < 0 && errno == EOPNOTSUPP;
}

class file_storage final : public storage {
 public:
  /// Opens `path` (read-only for a read-only export). A regular file shorter than `size_limit`
  /// (when non-zero) is extended to it; the export is min(device size, size_limit). Throws
  /// std::system_error naming the path.
  file_storage(const std::string& path, bool read_only, std::uint64_t size_limit, file_io io = file_io::automatic) {
    fd_ = ::open(path.c_str(), (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (fd_ < 0) throw std::system_error(errno, std::system_category(), "open " + path);
    struct stat st{};
    if (::fstat(fd_, &st) < 0) throw std::system_error(errno, std::system_category(), "fstat " + path);
    if (S_ISBLK(st.st_mode)) {
      if (::ioctl(fd_, BLKGETSIZE64, &size_) < 0)
        throw std::system_error(errno, std::system_category(), "BLKGETSIZE64 " + path);
    } else if (S_ISREG(st.st_mode)) {
      size_ = static_cast<std::uint64_t>(st.st_size);
      if (size_limit > size_ && !read_only) {
        if (::ftruncate(fd_, static_cast<off_t>(size_limit)) < 0)
          throw std::system_error(errno, std::system_category(), "extend " + path);
        size_ = size_limit;
      }
    } else {
      throw std::system_error(EINVAL, std::system_category(), path + " is neither a regular file nor a block device");
    }
    if (size_limit && size_limit < size_) size_ = size_limit;
    can_trim_ = true;  // advisory: where holes cannot be punched the data stays, which NBD allows
    offloads_ = io == file_io::uring || (io == file_io::automatic && !memory_backed_without_nowait(fd_));
    description_ = path;
  }

  /// Reads and writes are pread/pwrite on the worker's thread, not io_uring (file_io).
  bool copies_on_worker() const noexcept { return !offloads_; }
  ~file_storage() override { ::close(fd_); }

  /// Fills `buf` from `offset`; a file that shrank under us reads as zeroes past its end.
  task<std::uint32_t> read(std::span<std::byte> buf, std::uint64_t offset) override {
    std::size_t done = 0;
    while (done < buf.size()) {
      const auto rest = buf.subspan(done);
      auto r = offloads_ ? co_await uringcmd::read(fd_, rest, offset + done) : here<::pread>(rest, offset + done);
      if (!r) co_return nbd_error_of(r.error());
      if (*r == 0) {
        std::fill(buf.begin() + static_cast<std::ptrdiff_t>(done), buf.end(), std::byte{0});
        break;
      }
      done += *r;
    }
    co_return err_none;
  }

  task<std::uint32_t> write(std::span<const std::byte> buf, std::uint64_t offset, bool fua) override {
    std::size_t done = 0;
    while (done < buf.size()) {
      const auto rest = buf.subspan(done);
      auto r = offloads_ ? co_await uringcmd::write(fd_, rest, offset + done) : here<::pwrite>(rest, offset + done);
      if (!r) co_return nbd_error_of(r.error());
      if (*r == 0) co_return err_io;
      done += *r;
    }
    if (fua) co_return co_await flush();
    co_return err_none;
  }

  task<std::uint32_t> flush() override {
    auto r = co_await uringcmd::fsync(fd_, true);
    co_return r ? err_none : nbd_error_of(r.error());
  }

  /// A hole (the range reads as zeroes afterwards on files; a discard on block devices).
  task<std::uint32_t> trim(std::uint64_t offset, std::uint32_t length, bool fua) override {
    auto r = co_await fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length);
    if (!r && r.error() != std::error_code(EOPNOTSUPP, std::system_category())) co_return nbd_error_of(r.error());
    if (fua) co_return co_await flush();
    co_return err_none;
  }

  /// A punched hole unless NO_HOLE asks for allocated zeroes; written zeroes where the
  /// filesystem or device can do neither.
  task<std::uint32_t> write_zeroes(std::uint64_t offset, std::uint32_t length, bool no_hole, bool fua) override {
    const int mode = (no_hole ? FALLOC_FL_ZERO_RANGE : FALLOC_FL_PUNCH_HOLE) | FALLOC_FL_KEEP_SIZE;
    auto r = co_await fallocate(fd_, mode, offset, length);
    if (!r) {
      if (r.error() != std::error_code(EOPNOTSUPP, std::system_category())) co_return nbd_error_of(r.error());
      co_return co_await write_zero_bytes(offset, length, fua);
    }
    if (fua) co_return co_await flush();
    co_return err_none;
  }

 private:
  // pread or pwrite on this thread, answering what the ring's read or write would (file_io).
  template <auto Call, class Byte>
  result<std::size_t> here(std::span<Byte> buf, std::uint64_t offset) const noexcept {
    for (;;) {
      const ssize_t n = Call(fd_, buf.data(), buf.size(), static_cast<off_t>(offset));
      if (n >= 0) return static_cast<std::size_t>(n);
      if (errno != EINTR) return fail(errno_code(errno));
    }
  }

  int fd_ = -1;
};

}  // namespace uringcmd::nbd
