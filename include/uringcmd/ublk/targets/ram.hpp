// SPDX-License-Identifier: MIT
// ublk::ram_target: a RAM disk. READ/WRITE copy to and from its memory; DISCARD and WRITE_ZEROES
// zero the range (so discarded blocks read back as zeros); FLUSH has nothing to do, and FUA
// writes are durable as soon as they are copied. Requests past the end fail with EIO, other ops
// with EOPNOTSUPP. Safe from several queues: requests to disjoint ranges touch disjoint bytes, and
// the block layer does not promise an order between overlapping requests in flight.
//
// The memory is a memfd mapped shared, for two reasons: zero copy (handle_fixed) moves the data
// with READ_FIXED/WRITE_FIXED against the memfd, so the bytes never pass through user space; and
// the mapping survives fork(), so a child process can serve the disk and a parent that recovers
// the device after the child died still has the data (the recovery test does this). The memfd is
// a file_target file (target.hpp): each queue registers it, and handle_fixed names it there.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <system_error>

#include <uringcmd/error.hpp>
#include <uringcmd/fd.hpp>
#include <uringcmd/ops.hpp>
#include <uringcmd/task.hpp>
#include <uringcmd/ublk/control.hpp>
#include <uringcmd/ublk/target.hpp>

namespace uringcmd::ublk {

class ram_target {
 public:
  /// `bytes` of zeros. Throws std::system_error when the memory cannot be had.
  explicit ram_target(std::uint64_t bytes) : size_(bytes) {
    fd_ = ::memfd_create("uringcmd-ublk-ram", MFD_CLOEXEC);
    if (fd_ < 0) throw std::system_error(errno_code(errno), "memfd_create");
    void* p = MAP_FAILED;
    if (::ftruncate(fd_, static_cast<off_t>(bytes)) == 0)
      p = ::mmap(nullptr, bytes ? bytes : 1, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
    if (p == MAP_FAILED) {
      const int e = errno;
      ::close(fd_);
      throw std::system_error(errno_code(e), "ram_target");
    }
    data_ = static_cast<std::byte*>(p);
  }
  ram_target(const ram_target&) = delete;
  ram_target& operator=(const ram_target&) = delete;
  ~ram_target() {
    ::munmap(data_, size_ ? size_ : 1);
    ::close(fd_);
  }

  std::uint64_t size() const noexcept { return size_; }
  std::span<const std::byte> data() const noexcept { return {data_, size_}; }

  /// Discard and write-zeroes limits, and a volatile cache with FUA so FLUSH and FUA reach us.
  void tune(params& p) const noexcept {
    enable_discard(p);
    p.basic.attrs |= attr::volatile_cache | attr::fua;
  }


  /// The memfd, which each queue registers at first_target_file (file_target).
  std::span<const int> files() const noexcept { return {&fd_, 1}; }

  /// Zero copy: READ fills the request's pages (registered at `buf_index`) from the memfd,
  /// WRITE stores them into it.
  task<int> handle_fixed(io_request req, std::uint16_t buf_index) {
    if (!in_range(req)) co_return -EIO;
    const std::uint8_t opcode = req.op == io_op::read ? IORING_OP_READ_FIXED : IORING_OP_WRITE_FIXED;
    auto r = co_await transfer_op(opcode, fixed_file(first_target_file), nullptr, req.bytes, req.offset, buf_index);
    if (!r) co_return -to_errno(r.error());
    co_return *r == req.bytes ? static_cast<int>(*r) : -EIO;
  }

  /// Copy and user-copy modes: a memcpy, so an inline handler (target.hpp).
  int handle(const io_request& req, std::span<std::byte> buf) noexcept {
    if (req.op == io_op::flush) return 0;  // its start_sector is not a position (the kernel leaves it undefined)
    if (!in_range(req)) return -EIO;
    std::byte* at = data_ + req.offset;
    switch (req.op) {
      case io_op::read:
        std::memcpy(buf.data(), at, buf.size());
        return static_cast<int>(buf.size());
      case io_op::write:
        std::memcpy(at, buf.data(), buf.size());
        return static_cast<int>(buf.size());
      case io_op::discard:
      case io_op::write_zeroes:
        std::memset(at, 0, req.bytes);
        return 0;
      default: return -EOPNOTSUPP;
    }
  }

 private:
  bool in_range(const io_request& req) const noexcept {
    return req.offset <= size_ && req.bytes <= size_ - req.offset;
  }

  std::uint64_t size_;
  int fd_ = -1;
  std::byte* data_ = nullptr;
};

}  // namespace uringcmd::ublk
