// SPDX-License-Identifier: MIT
// An NVMe namespace as the export, through NVMe passthrough on its generic node (/dev/ngXnY):
// READ/WRITE (FUA as the command's bit), FLUSH, Dataset Management deallocate for TRIM and
// Write Zeroes for WRITE_ZEROES, each only where Identify Controller's ONCS says the controller
// has it (TRIM is then not offered; zeroes are written instead). A failed command is logged with
// its status by name and answered with the errno the kernel's nvme driver would have reported.
#pragma once

#include <memory>
#include <string>
#include <system_error>

#include <uringcmd/executor.hpp>
#include <uringcmd/nvme/namespace.hpp>
#include <uringcmd/sync_wait.hpp>

#include "nbd/storage.hpp"

namespace uringcmd::nbd {

class nvme_storage final : public storage {
 public:
  /// Opens `path` (/dev/ngXnY or /dev/nvmeXnY) on a passing executor of this thread. Throws
  /// std::system_error naming the path and the reason (ENODEV: not an NVMe namespace).
  nvme_storage(const std::string& path, bool read_only, std::uint64_t size_limit)
      : ns_(open(path, read_only)) {
    const nvme::namespace_info& info = ns_->info();
    if (info.metadata_size != 0)
      throw std::system_error(EINVAL, std::system_category(),
                              path + ": formatted with " + std::to_string(info.metadata_size) +
                                  " bytes of metadata per block, which NBD has no room for");
    block_size_ = info.block_size;
    size_ = ns_->blocks() * block_size_;
    if (size_limit && size_limit < size_) size_ = size_limit / block_size_ * block_size_;
    can_trim_ = ns_->supports_deallocate();
    ring_ = ring_options::passthrough();
    description_ = ns_->path() + " (NVMe nsid " + std::to_string(ns_->nsid()) + ", " + std::to_string(block_size_) +
                   "-byte blocks, " + (can_trim_ ? "deallocate" : "no deallocate") + ", " +
                   (ns_->supports_write_zeroes() ? "write zeroes" : "no write zeroes") + ")";
  }

  task<std::uint32_t> read(std::span<std::byte> buf, std::uint64_t offset) override {
    auto r = co_await ns_->read(offset / block_size_, buf);
    co_return r ? err_none : failed("read", offset, r);
  }

  task<std::uint32_t> write(std::span<const std::byte> buf, std::uint64_t offset, bool fua) override {
    auto r = co_await ns_->write(offset / block_size_, buf, with_fua(fua));
    co_return r ? err_none : failed("write", offset, r);
  }

  task<std::uint32_t> flush() override {
    auto r = co_await ns_->flush();
    co_return r ? err_none : failed("flush", 0, r);
  }

  task<std::uint32_t> trim(std::uint64_t offset, std::uint32_t length, bool fua) override {
    auto r = co_await ns_->deallocate(offset / block_size_, length / block_size_);
    if (!r) co_return failed("deallocate", offset, r);
    if (fua) co_return co_await flush();
    co_return err_none;
  }

  /// Write Zeroes (with DEAC unless NO_HOLE) where the controller has it, else written zeroes.
  task<std::uint32_t> write_zeroes(std::uint64_t offset, std::uint32_t length, bool no_hole, bool fua) override {
    if (!ns_->supports_write_zeroes()) co_return co_await write_zero_bytes(offset, length, fua);
    auto r = co_await ns_->write_zeroes(offset / block_size_, length / block_size_, !no_hole, with_fua(fua));
    co_return r ? err_none : failed("write zeroes", offset, r);
  }

 private:
  static nvme::io_options with_fua(bool fua) noexcept {
    nvme::io_options o;
    o.fua = fua;
    return o;
  }

  static std::unique_ptr<nvme::namespace_device> open(const std::string& path, bool read_only) {
    executor ex(ring_options::passthrough(8));  // identify only; the workers bring their own
    nvme::device_options o;
    o.read_only = read_only;
    auto r = sync_wait(ex, nvme::namespace_device::open(path, o));
    if (!r) throw std::system_error(r.error(), "open " + path + " as an NVMe namespace");
    return std::make_unique<nvme::namespace_device>(std::move(r).value());
  }

  std::unique_ptr<nvme::namespace_device> ns_;
};

}  // namespace uringcmd::nbd
