// SPDX-License-Identifier: MIT
// A SCSI logical unit as the export, through scsi::device (BSG io_uring on Linux 7.1+, the sg
// driver's asynchronous interface before): READ/WRITE(10) or (16) as the LBA needs, SYNCHRONIZE
// CACHE for FLUSH and after a FUA write, and what the LU says it can deallocate with in its
// Logical Block Provisioning VPD page (B2h): UNMAP (LBPU) or WRITE SAME with UNMAP (LBPWS) for
// TRIM, which is not offered when it says neither. WRITE_ZEROES is a WRITE SAME of a zero block
// where the Block Limits VPD page (B0h) reports a maximum WRITE SAME length, written zeroes
// otherwise. A failed command is logged with its status and sense by name and answered with
// the errno the kernel's sd driver would have reported.
#pragma once

#include <algorithm>
#include <array>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include <uringcmd/executor.hpp>
#include <uringcmd/scsi/device.hpp>
#include <uringcmd/sync_wait.hpp>

#include "nbd/storage.hpp"

namespace uringcmd::nbd {

class scsi_storage final : public storage {
 public:
  /// Opens `path` (/dev/sgN, /dev/bsg/H:C:T:L or /dev/sdX) and reads its capacity and VPD pages on
  /// a passing executor of this thread. Throws std::system_error naming the path and the reason.
  scsi_storage(const std::string& path, bool read_only, std::uint64_t size_limit) {
    executor ex(ring_options::passthrough(8));  // setup only; the workers bring their own
    sync_wait(ex, setup(path, read_only));
    if (size_limit && size_limit < size_) size_ = size_limit / block_size_ * block_size_;
    ring_ = ring_options::passthrough();
    const char* via = dev_->which() == scsi::transport::bsg_uring ? "BSG io_uring" : "sg";
    const char* dealloc = unmap_ ? "UNMAP" : unmap_by_write_same_ ? "WRITE SAME with UNMAP" : "no deallocation";
    description_ = dev_->path() + " (SCSI " + dev_->hctl() + " via " + via + ", " + std::to_string(block_size_) +
                   "-byte blocks, " + dealloc + (write_same_blocks_ ? ", WRITE SAME" : "") + ")";
  }

  task<std::uint32_t> read(std::span<std::byte> buf, std::uint64_t offset) override {
    auto r = co_await dev_->read(offset / block_size_, buf);
    if (!r) co_return failed("read", offset, r);
    co_return *r == buf.size() ? err_none : err_io;  // a short transfer: the rest was not read
  }

  task<std::uint32_t> write(std::span<const std::byte> buf, std::uint64_t offset, bool fua) override {
    auto r = co_await dev_->write(offset / block_size_, buf);
    if (!r) co_return failed("write", offset, r);
    if (*r != buf.size()) co_return err_io;
    if (fua) co_return co_await flush();
    co_return err_none;
  }

  task<std::uint32_t> flush() override {
    auto r = co_await dev_->sync_cache();
    co_return r ? err_none : failed("synchronize cache", 0, r);
  }

  task<std::uint32_t> trim(std::uint64_t offset, std::uint32_t length, bool fua) override {
    if (unmap_) {
      for (std::uint64_t lba = offset / block_size_, left = length / block_size_; left;) {
        const std::uint64_t n = std::min<std::uint64_t>(left, unmap_blocks_);
        auto r = co_await dev_->unmap(lba, n);
        if (!r) co_return failed("unmap", lba * block_size_, r);
        lba += n;
        left -= n;
      }
    } else if (auto e = co_await write_same(offset, length, true); e != err_none) {
      co_return e;
    }
    if (fua) co_return co_await flush();
    co_return err_none;
  }

  task<std::uint32_t> write_zeroes(std::uint64_t offset, std::uint32_t length, bool no_hole, bool fua) override {
    // Deallocating is zeroing only where unmapped blocks read as zeroes (LBPRZ).
    const bool unmap = !no_hole && unmap_by_write_same_ && unmapped_reads_zero_;
    if (!unmap && !write_same_blocks_) co_return co_await write_zero_bytes(offset, length, fua);
    if (auto e = co_await write_same(offset, length, unmap); e != err_none) co_return e;
    if (fua) co_return co_await flush();
    co_return err_none;
  }

 private:
  task<void> setup(const std::string& path, bool read_only) {
    scsi::device_options o;
    o.read_only = read_only;
    auto d = co_await scsi::device::open(path, o);
    if (!d) throw std::system_error(d.error(), "open " + path + " as a SCSI LU");
    dev_ = std::make_unique<scsi::device>(std::move(d).value());
    const auto& cap = dev_->capacity();
    if (!cap || cap->block_size == 0)
      throw std::system_error(EIO, std::system_category(), path + ": READ CAPACITY failed (unit not ready?)");
    if (cap->protection)
      throw std::system_error(EINVAL, std::system_category(), path + ": formatted with protection information");
    block_size_ = cap->block_size;
    size_ = cap->blocks() * block_size_;
    zero_block_.resize(block_size_);

    std::array<std::byte, 64> buf{};
    if (auto v = co_await dev_->vpd(scsi::vpd::block_limits, buf)) {
      if (auto bl = scsi::parse_block_limits(*v)) {
        const std::uint64_t ws = bl->maximum_write_same_length.value_or(0);
        write_same_blocks_ = static_cast<std::uint32_t>(std::min<std::uint64_t>(ws, 0xffffffffU));
        if (const auto u = bl->maximum_unmap_lba_count.value_or(0)) unmap_blocks_ = u;
      }
    }
    buf = {};
    if (cap->lbpme) {  // the VPD page's bits count only with thin provisioning enabled
      if (auto v = co_await dev_->vpd(scsi::vpd::logical_block_provisioning, buf)) {
        if (auto lbp = scsi::parse_logical_block_provisioning(*v)) {
          unmap_ = lbp->lbpu.value_or(false);
          unmap_by_write_same_ = lbp->lbpws.value_or(false);
          unmapped_reads_zero_ = lbp->lbprz.value_or(0) == 1 || cap->lbprz;
        }
      }
    }
    can_trim_ = unmap_ || unmap_by_write_same_;
  }

  /// WRITE SAME of the zero block over [offset, offset + length), with UNMAP when `unmap`, in
  /// pieces the LU takes (its maximum WRITE SAME length; 65535 blocks where it reports none).
  task<std::uint32_t> write_same(std::uint64_t offset, std::uint32_t length, bool unmap) {
    const std::uint64_t most = write_same_blocks_ ? write_same_blocks_ : 0xffffU;
    for (std::uint64_t lba = offset / block_size_, left = length / block_size_; left;) {
      const auto n = static_cast<std::uint32_t>(std::min(left, most));
      auto r = co_await dev_->write_same(lba, n, zero_block_, {.unmap = unmap, .anchor = false});
      if (!r) co_return failed(unmap ? "write same (unmap)" : "write same", lba * block_size_, r);
      lba += n;
      left -= n;
    }
    co_return err_none;
  }

  std::unique_ptr<scsi::device> dev_;
  std::vector<std::byte> zero_block_;
  std::uint32_t write_same_blocks_ = 0;  ///< 0: the LU reported no WRITE SAME limit (not assumed)
  std::uint32_t unmap_blocks_ = 0xffffffffU;
  bool unmap_ = false;
  bool unmap_by_write_same_ = false;
  bool unmapped_reads_zero_ = false;
};

}  // namespace uringcmd::nbd
