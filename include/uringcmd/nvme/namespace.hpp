// SPDX-License-Identifier: MIT
// nvme::namespace_device: an NVMe namespace's I/O commands as coroutines, over its generic node
// (/dev/ngXnY, NVME_URING_CMD_IO), with its controller (/dev/nvmeX) for the admin side.
//
//   auto ns = (co_await nvme::namespace_device::open("/dev/nvme0n1")).value();
//   auto r = co_await ns.read(lba, buffer);          // whole blocks; split by the transfer limit
//   if (!r) std::cerr << r.describe() << '\n';       // "LBA Out of Range (SCT 0h SC 80h, DNR)"
//
// open() finds the generic node, the nsid (NVME_IOCTL_ID) and the controller through sysfs, and
// reads Identify Namespace (LBA format, metadata) and Identify Controller (MDTS, ONCS) once.
// Commands answer nvme::response<T> (controller.hpp). Deadlines: device_options::io_timeout_ms,
// or per call; the driver enforces them and a command it gives up on completes with EINTR.
#pragma once

#include <fcntl.h>
#include <linux/nvme_ioctl.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <uringcmd/nvme/controller.hpp>

namespace uringcmd::nvme {

/// Per-call options of an I/O command.
struct io_options {
  bool fua = false;  ///< Force Unit Access (read, write, compare, write zeroes)
  /// The data buffer lies inside this registered buffer (IORING_URING_CMD_FIXED).
  std::optional<std::uint16_t> fixed_buffer;
  /// Separate metadata, info().metadata_size bytes per block: required (EINVAL without) on a
  /// namespace formatted with metadata outside the LBAs, empty otherwise; split with the data.
  std::span<std::byte> metadata;
  std::optional<std::uint32_t> timeout_ms;  ///< default: device_options::io_timeout_ms
};

/// What Identify Namespace said, owned.
struct namespace_info {
  std::uint64_t size = 0;         ///< NSZE, blocks
  std::uint64_t capacity = 0;     ///< NCAP, blocks
  std::uint64_t utilization = 0;  ///< NUSE, blocks
  std::uint32_t block_size = 0;   ///< the current LBA format's data size
  std::uint16_t metadata_size = 0;
  bool extended_lba = false;  ///< metadata travels inside each block of the data buffer
  bool thin_provisioned = false;
  std::uint8_t pi_type = 0;
  std::uint8_t dlfeat = 0;  ///< what deallocated blocks read as (bits 2:0; 1 = zeros)
};

class namespace_device {
 public:
  /// Opens `path`: /dev/ngXnY or /dev/nvmeXnY.
  static task<response<namespace_device>> open(std::string path, device_options opts = {}) {
    namespace fs = std::filesystem;
    std::string name = fs::path(path).filename().string();
    if (name.rfind("nvme", 0) == 0) name = "ng" + name.substr(4);  // nvme0n1 -> ng0n1: same instance
    std::error_code ec;
    if (name.rfind("ng", 0) != 0 || !fs::exists("/sys/class/nvme-generic/" + name, ec))
      co_return response<namespace_device>(errno_code(ENODEV));
    namespace_device d;
    d.path_ = "/dev/" + name;
    d.block_ = "nvme" + name.substr(2);
    d.fd_ = device_detail::owned_fd(::open(d.path_.c_str(), (opts.read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC));
    if (d.fd_.get() < 0) co_return response<namespace_device>(errno_code(errno));
    const int nsid = ::ioctl(d.fd_.get(), NVME_IOCTL_ID);
    if (nsid <= 0) co_return response<namespace_device>(errno_code(nsid < 0 ? errno : ENODEV));
    d.nsid_ = static_cast<std::uint32_t>(nsid);

    auto ctrl = co_await controller::open(d.path_, opts);
    if (!ctrl) co_return response<namespace_device>(ctrl.error());
    d.ctrl_ = std::make_unique<controller>(std::move(ctrl).value());
    auto buf = std::make_unique<std::array<std::byte, identify_size>>();
    auto ns = co_await d.ctrl_->identify_ns(d.nsid_, *buf);
    if (!ns) co_return response<namespace_device>(ns.error(), ns.details());
    auto bs = ns->block_size();
    if (!bs) co_return response<namespace_device>(errno_code(EPROTO), ns.details());
    const auto format = ns->current_lba_format();
    d.info_ = {ns->nsze, ns->ncap,  ns->nuse,           *bs,         format ? format->ms : std::uint16_t{0},
               ns->extended_lba(), ns->thin_provisioned(), ns->pi_type(), ns->dlfeat};
    auto id = co_await d.ctrl_->identify(*buf);
    if (!id) co_return response<namespace_device>(id.error(), id.details());
    d.oncs_ = id->oncs;
    d.max_transfer_blocks_ = d.transfer_limit(id->max_transfer_bytes());
    co_return response<namespace_device>(std::move(d), *id.details());
  }

  int fd() const noexcept { return fd_.get(); }
  /// The generic node commands go to: /dev/ngXnY.
  const std::string& path() const noexcept { return path_; }
  /// The block device of the same namespace, /dev/nvmeXnY.
  std::string block_path() const { return "/dev/" + block_; }
  std::uint32_t nsid() const noexcept { return nsid_; }
  const namespace_info& info() const noexcept { return info_; }
  std::uint32_t block_size() const noexcept { return info_.block_size; }
  std::uint64_t blocks() const noexcept { return info_.size; }
  /// The most blocks one command moves: MDTS and the kernel's queue limits (max_hw_sectors_kb,
  /// max_segments), at most 65536 (NLB).
  std::uint32_t max_transfer_blocks() const noexcept { return max_transfer_blocks_; }
  controller& ctrl() noexcept { return *ctrl_; }
  /// ONCS bits: Compare (0), Dataset Management (2), Write Zeroes (3)...
  bool supports_compare() const noexcept { return (oncs_ & 1U) != 0; }
  bool supports_deallocate() const noexcept { return (oncs_ >> 2) & 1U; }
  bool supports_write_zeroes() const noexcept { return (oncs_ >> 3) & 1U; }

  /// Any I/O command with `data`; the value is the completion (DW0 in reply::dw0).
  task<response<reply>> io(command c, std::span<std::byte> data = {}, io_options o = {}) {
    return device_detail::run(nvme::io(fd_.get(), c, data, passthru_options(o, o.metadata)));
  }

  /// Reads buf.size() bytes (whole blocks) at `lba`, in commands of at most
  /// max_transfer_blocks(). The value is the bytes read.
  task<response<std::uint64_t>> read(std::uint64_t lba, std::span<std::byte> buf, io_options o = {}) {
    return transfer(io_opcode::read, lba, buf, o);
  }
  /// Writes `buf` (whole blocks) at `lba`, split like read().
  task<response<std::uint64_t>> write(std::uint64_t lba, std::span<const std::byte> buf, io_options o = {}) {
    return transfer(io_opcode::write, lba, writable(buf), o);
  }
  /// Compares the blocks at `lba` with `buf`: nvme::errc compare failure when they differ.
  task<response<std::uint64_t>> compare(std::uint64_t lba, std::span<const std::byte> buf, io_options o = {}) {
    return transfer(io_opcode::compare, lba, writable(buf), o);
  }

  task<response<reply>> flush() { return io(nvme::flush(nsid_)); }

  /// Write Zeroes over `blocks` at `lba` (commands of up to 65536 blocks); with `deallocate`
  /// the controller may deallocate them instead (DEAC).
  task<response<std::uint64_t>> write_zeroes(std::uint64_t lba, std::uint64_t blocks, bool deallocate = false,
                                             io_options o = {}) {
    std::uint64_t done = 0;
    std::optional<reply> last;
    while (done < blocks) {
      const auto n = static_cast<std::uint32_t>(std::min<std::uint64_t>(blocks - done, max_blocks));
      write_zeroes_flags f;
      f.deallocate = deallocate;
      f.fua = o.fua;
      const auto c = nvme::write_zeroes(nsid_, lba + done, n, f);
      auto r = co_await io(*c, {}, o);
      if (!r) co_return response<std::uint64_t>(r.error(), r.details());
      last = r.details();
      done += n;
    }
    co_return response<std::uint64_t>(done, last.value_or(reply{}));
  }

  /// Deallocates ("trims") `blocks` at `lba` with Dataset Management, in ranges of up to 2^32-1
  /// blocks (EINVAL beyond 256 of them). What the blocks read as after: info().dlfeat.
  task<response<reply>> deallocate(std::uint64_t lba, std::uint64_t blocks) {
    std::vector<dsm_range> ranges;
    for (std::uint64_t at = lba, left = blocks; left && ranges.size() <= max_dsm_ranges;) {
      const auto n = static_cast<std::uint32_t>(std::min<std::uint64_t>(left, 0xffffffffU));
      ranges.push_back({.slba = at, .blocks = n});
      at += n;
      left -= n;
    }
    const auto c = dataset_management(nsid_, ranges.size(), {.deallocate = true});
    std::vector<std::uint8_t> list(ranges.size() * dsm_range_size);
    if (!c || !encode_dsm_ranges(ranges, list)) co_return response<reply>(errno_code(EINVAL));
    co_return co_await device_detail::run(
        nvme::io(fd_.get(), *c, std::as_bytes(std::span(list)), passthru_options({}, {})));
  }

 private:
  namespace_device() = default;

  static std::span<std::byte> writable(std::span<const std::byte> b) noexcept {
    return {const_cast<std::byte*>(b.data()), b.size()};  // the kernel only reads a write's buffer
  }

  nvme::options passthru_options(const io_options& o, std::span<std::byte> metadata) const noexcept {
    nvme::options p;
    p.timeout_ms = o.timeout_ms.value_or(ctrl_->options().io_timeout_ms);
    p.fixed_buffer = o.fixed_buffer;
    p.metadata = metadata;
    return p;
  }

  // Bytes of the data buffer per block: the metadata travels inside it with extended LBAs.
  std::uint32_t data_bytes_per_block() const noexcept {
    return info_.block_size + (info_.extended_lba ? info_.metadata_size : 0U);
  }
  std::uint32_t separate_metadata_per_block() const noexcept {
    return info_.extended_lba ? 0U : info_.metadata_size;
  }

  task<response<std::uint64_t>> transfer(std::uint8_t opcode, std::uint64_t lba, std::span<std::byte> buf,
                                         io_options o) {
    const std::uint32_t bpb = data_bytes_per_block();
    const std::uint64_t blocks = bpb ? buf.size() / bpb : 0;
    const std::uint32_t mpb = separate_metadata_per_block();
    // A namespace with separate metadata needs its buffer: without one the controller would be
    // given metadata address 0.
    if (blocks == 0 || buf.size() % bpb != 0 || o.metadata.size() != blocks * mpb)
      co_return response<std::uint64_t>(errno_code(EINVAL));
    std::uint64_t done = 0;
    std::optional<reply> last;
    while (done < blocks) {
      const auto n = static_cast<std::uint32_t>(std::min<std::uint64_t>(blocks - done, max_transfer_blocks_));
      rw_flags f;
      f.fua = o.fua;
      const auto c = opcode == io_opcode::read    ? nvme::read(nsid_, lba + done, n, f)
                     : opcode == io_opcode::write ? nvme::write(nsid_, lba + done, n, f)
                                                  : nvme::compare(nsid_, lba + done, n, f);
      const auto meta = o.metadata.empty() ? o.metadata : o.metadata.subspan(done * mpb, std::size_t{n} * mpb);
      auto r = co_await device_detail::run(
          nvme::io(fd_.get(), *c, buf.subspan(done * bpb, std::size_t{n} * bpb), passthru_options(o, meta)));
      if (!r) co_return response<std::uint64_t>(r.error(), r.details());
      last = r.details();
      done += n;
    }
    co_return response<std::uint64_t>(done * bpb, last.value_or(reply{}));
  }

  // The kernel maps a passthrough buffer page by page into at most max_segments segments and
  // max_hw_sectors_kb in all (an unaligned buffer touches one page more than its length).
  std::uint32_t transfer_limit(std::optional<std::uint64_t> mdts_bytes) const {
    namespace fs = std::filesystem;
    std::uint64_t bytes = mdts_bytes.value_or(UINT64_MAX);
    std::uint64_t kb = 0, segments = 0;
    const fs::path q = fs::path("/sys/class/block") / block_ / "queue";
    std::ifstream(q / "max_hw_sectors_kb") >> kb;
    std::ifstream(q / "max_segments") >> segments;
    if (kb) bytes = std::min(bytes, kb * 1024);
    if (segments > 1) bytes = std::min<std::uint64_t>(bytes, (segments - 1) * 4096);
    const std::uint64_t per_block = data_bytes_per_block();
    return static_cast<std::uint32_t>(std::clamp<std::uint64_t>(bytes / per_block, 1, max_blocks));
  }

  device_detail::owned_fd fd_;
  std::string path_, block_;
  std::uint32_t nsid_ = 0;
  std::unique_ptr<controller> ctrl_;
  namespace_info info_;
  std::uint16_t oncs_ = 0;
  std::uint32_t max_transfer_blocks_ = 1;
};

}  // namespace uringcmd::nvme
