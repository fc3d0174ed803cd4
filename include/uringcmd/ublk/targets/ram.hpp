// SPDX-License-Identifier: MIT
// ublk::ram_target: a RAM disk. READ/WRITE copy to and from a byte vector; DISCARD and
// WRITE_ZEROES zero the range (so discarded blocks read back as zeros); FLUSH has nothing to do,
// and FUA writes are durable as soon as they are copied. Requests past the end fail with EIO,
// other ops with EOPNOTSUPP. Safe from several queues: requests to disjoint ranges touch disjoint
// bytes, and the block layer does not promise an order between overlapping requests in flight.
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include <uringcmd/task.hpp>
#include <uringcmd/ublk/control.hpp>
#include <uringcmd/ublk/target.hpp>

namespace uringcmd::ublk {

class ram_target {
 public:
  explicit ram_target(std::uint64_t bytes) : data_(bytes) {}

  std::uint64_t size() const noexcept { return data_.size(); }
  std::span<const std::byte> data() const noexcept { return data_; }

  /// Discard and write-zeroes limits, and a volatile cache with FUA so FLUSH and FUA reach us.
  void tune(params& p) const noexcept {
    enable_discard(p);
    p.basic.attrs |= attr::volatile_cache | attr::fua;
  }

  task<int> handle(io_request req, std::span<std::byte> buf) { co_return serve(req, buf); }

  /// The synchronous body of handle().
  int serve(const io_request& req, std::span<std::byte> buf) noexcept {
    if (req.op == io_op::flush) return 0;  // its start_sector is not a position (the kernel leaves it undefined)
    if (req.offset > data_.size() || req.bytes > data_.size() - req.offset) return -EIO;
    std::byte* at = data_.data() + req.offset;
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
  std::vector<std::byte> data_;
};

}  // namespace uringcmd::ublk
