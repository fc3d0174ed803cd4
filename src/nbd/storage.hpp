// SPDX-License-Identifier: MIT
// What the NBD server calls to reach the export: one small interface, one backend per header
// (storage_file.hpp: a file or block device through io_uring reads and writes; storage_nvme.hpp:
// an NVMe namespace through passthrough; storage_scsi.hpp: a SCSI LU through scsi::device).
// Every operation is a uringcmd task that answers the NBD error to reply with (0: success); the
// offsets and lengths it gets are inside the export and aligned to block_size() (check_request).
// A backend is opened once and shared by every worker thread: each call runs on the caller's
// executor, whose ring must have been built with ring() (SQE128/CQE32 for passthrough).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <system_error>

#include <uringcmd/ring_options.hpp>
#include <uringcmd/task.hpp>

#include "nbd/log.hpp"
#include "nbd/protocol.hpp"

namespace uringcmd::nbd {

/// An error as the NBD error a client understands: an errno as itself, a device status (the
/// "nvme" and "scsi" categories) as the errno the kernel's block layer would report for it
/// (their error conditions: Capacity Exceeded -> ENOSPC, a medium error -> EIO...).
inline std::uint32_t nbd_error_of(const std::error_code& ec) noexcept {
  if (ec.category() == std::system_category()) return nbd_error_of(ec.value());
  const std::error_condition c = ec.default_error_condition();
  return c.category() == std::generic_category() ? nbd_error_of(c.value()) : err_io;
}

class storage {
 public:
  storage() = default;
  storage(const storage&) = delete;
  storage& operator=(const storage&) = delete;
  virtual ~storage() = default;

  std::uint64_t size() const noexcept { return size_; }
  /// Requests are aligned to it (NBD_INFO_BLOCK_SIZE's minimum): 1 for files, the LBA size else.
  std::uint32_t block_size() const noexcept { return block_size_; }
  /// TRIM deallocates; false: TRIM is not offered (the device cannot, or does not say it can).
  bool can_trim() const noexcept { return can_trim_; }
  /// What every worker's ring needs for these calls.
  const ring_options& ring() const noexcept { return ring_; }
  /// Reads and writes may run on io_uring's io-wq threads, which share the worker's CPU (the
  /// default thread count leaves them room: main.cpp).
  bool offloads() const noexcept { return offloads_; }
  /// For the log and NBD_INFO_DESCRIPTION: what the export is and how it is reached.
  const std::string& description() const noexcept { return description_; }

  virtual task<std::uint32_t> read(std::span<std::byte> buf, std::uint64_t offset) = 0;
  virtual task<std::uint32_t> write(std::span<const std::byte> buf, std::uint64_t offset, bool fua) = 0;
  virtual task<std::uint32_t> flush() = 0;
  virtual task<std::uint32_t> trim(std::uint64_t offset, std::uint32_t length, bool fua) = 0;
  /// WRITE_ZEROES: deallocated zeroes where the backend can (and `no_hole` is false), else
  /// written ones.
  virtual task<std::uint32_t> write_zeroes(std::uint64_t offset, std::uint32_t length, bool no_hole, bool fua) = 0;

 protected:
  /// Zeroes by writing them, for backends whose device has no cheaper way: 64 KiB at a time
  /// from one static zero buffer (no allocation).
  task<std::uint32_t> write_zero_bytes(std::uint64_t offset, std::uint32_t length, bool fua) {
    static const std::array<std::byte, 64 * 1024> zeroes{};
    for (std::uint64_t done = 0; done < length;) {
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(zeroes.size(), length - done));
      if (auto e = co_await write(std::span(zeroes).first(n), offset + done, false); e != err_none) co_return e;
      done += n;
    }
    if (fua) co_return co_await flush();
    co_return err_none;
  }

  /// Logs a device's failure by name ("read at byte 4096: LBA Out of Range (SCT 0h SC 80h, DNR)")
  /// and answers its NBD error.
  template <class Response>
  std::uint32_t failed(const char* what, std::uint64_t offset, const Response& r) const {
    log("%s: %s at byte %llu: %s", description_.c_str(), what, static_cast<unsigned long long>(offset),
        r.describe().c_str());
    return nbd_error_of(r.error());
  }

  std::uint64_t size_ = 0;
  std::uint32_t block_size_ = 1;
  bool can_trim_ = false;
  bool offloads_ = true;
  ring_options ring_;
  std::string description_;
};

}  // namespace uringcmd::nbd
