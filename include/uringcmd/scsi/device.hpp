// SPDX-License-Identifier: MIT
// scsi::device: a SCSI logical unit with the commands people use, as coroutines.
//
//   auto dev = (co_await scsi::device::open("/dev/sdb")).value();
//   auto cap = (co_await dev.read_capacity()).value();
//   auto r = co_await dev.read10(lba, blocks, buffer);
//   if (!r) std::cerr << r.describe() << '\n';   // "CHECK CONDITION: Medium Error: ..., info=0x1000"
//
// Every command answers a scsi::response<T>: the value, or an error_code a caller can branch on
// (the "scsi" category for SCSI outcomes, errno for the transport), with the decoded status and
// sense reachable through details(). Commands go over BSG io_uring (Linux 7.1+; the ring must be
// SQE128|CQE32, ring_options::passthrough()) or, where the kernel has no BSG io_uring, over the sg
// driver's asynchronous interface (sg.hpp), chosen once at open(): the caller's code is the same.
// Each command carries a deadline (timeout_ms), 60 s by default, settable per device and per call:
// SCSI commands cannot be cancelled.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <uringcmd/response.hpp>
#include <uringcmd/result.hpp>
#include <uringcmd/scsi/bsg.hpp>
#include <uringcmd/scsi/capacity.hpp>
#include <uringcmd/scsi/cdb.hpp>
#include <uringcmd/scsi/error.hpp>
#include <uringcmd/scsi/inquiry.hpp>
#include <uringcmd/scsi/luns.hpp>
#include <uringcmd/scsi/mode.hpp>
#include <uringcmd/scsi/sense.hpp>
#include <uringcmd/scsi/sg.hpp>
#include <uringcmd/task.hpp>

namespace uringcmd::scsi {

/// A command's value or its error, with the SCSI details of the completion when the device
/// answered (status, host and driver bytes, decoded sense: also for a RECOVERED ERROR success).
template <class T>
using response = basic_response<T, outcome>;

/// What READ CAPACITY says, from (10) or, when that saturates, (16).
struct capacity_info {
  std::uint64_t last_lba = 0;
  std::uint32_t block_size = 0;
  std::uint64_t blocks() const noexcept { return last_lba + 1; }
  std::optional<std::uint64_t> bytes() const noexcept { return capacity_detail::total_bytes(last_lba, block_size); }
  bool lbpme = false;  ///< thin provisioning (UNMAP) enabled; from (16) only
  bool lbprz = false;  ///< unmapped blocks read as zero; from (16) only
  bool protection = false;
};

/// Standard INQUIRY, owned.
struct inquiry_info {
  std::uint8_t device_type = 0;
  std::uint8_t version = 0;
  bool removable = false;
  std::string vendor, product, revision;
};

/// How commands reach the device.
enum class transport : std::uint8_t {
  bsg_uring,  ///< IORING_OP_URING_CMD on /dev/bsg/H:C:T:L (Linux 7.1+)
  sg_async,   ///< write()/read() of sg_io_hdr on /dev/sgN through the ring (the fallback)
};

struct device_options {
  std::uint32_t timeout_ms = 60'000;  ///< the default deadline of every command
  bool read_only = false;             ///< open O_RDONLY (commands that write are then refused: EPERM)
  /// Use this transport instead of probing (tests, comparisons); sg_async needs the sg driver.
  std::optional<transport> force;
};

class device {
 public:
  /// Opens `path`: /dev/bsg/H:C:T:L, or /dev/sdX or /dev/sgN, resolved to their BSG node through
  /// sysfs. Probes the transport with TEST UNIT READY (a NOT READY answer still opens) and reads
  /// the capacity and the block limits once.
  static task<response<device>> open(std::string path, device_options opts = {}) {
    auto hctl = resolve_hctl(path);
    if (!hctl) co_return response<device>(errno_code(ENODEV));
    device d;
    d.hctl_ = *hctl;
    d.path_ = "/dev/bsg/" + d.hctl_;
    d.opts_ = opts;
    const int mode = (opts.read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
    if (opts.force != transport::sg_async) {
      d.fd_ = ::open(d.path_.c_str(), mode);
      if (d.fd_ < 0) co_return response<device>(errno_code(errno));
      auto tur = co_await d.test_unit_ready();
      // The kernel (or a ring without SQE128|CQE32) has no BSG io_uring: fall back to sg.
      const bool no_uring = !tur && !tur.details() &&
                            (tur.error() == std::errc::operation_not_supported || tur.error() == errc_sqe128() ||
                             tur.error() == errc_cqe32());
      if (!tur && !tur.details() && (!no_uring || opts.force == transport::bsg_uring))
        co_return response<device>(tur.error());  // the transport refused, not the device
      if (no_uring) d.close();
    }
    if (d.fd_ < 0) {
      auto sg = sg_node(d.hctl_);
      if (!sg) co_return response<device>(errno_code(ENODEV));
      d.path_ = *sg;
      d.transport_ = transport::sg_async;
      d.fd_ = ::open(d.path_.c_str(), O_RDWR | O_CLOEXEC);  // sg queues commands with write(): O_RDWR
      if (d.fd_ < 0) co_return response<device>(errno_code(errno));
      if (auto prepared = sg_prepare_fd(d.fd_); !prepared) co_return response<device>(prepared.error());
    }
    if (auto cap = co_await d.read_capacity()) d.capacity_ = *cap;
    d.max_transfer_blocks_ = co_await d.probe_max_transfer();
    co_return response<device>(std::move(d), outcome{});
  }

  device(device&& o) noexcept
      : fd_(std::exchange(o.fd_, -1)), path_(std::move(o.path_)), hctl_(std::move(o.hctl_)), opts_(o.opts_),
        capacity_(o.capacity_), max_transfer_blocks_(o.max_transfer_blocks_), transport_(o.transport_) {}
  device& operator=(device&& o) noexcept {
    if (this != &o) {
      close();
      fd_ = std::exchange(o.fd_, -1);
      path_ = std::move(o.path_);
      hctl_ = std::move(o.hctl_);
      opts_ = o.opts_;
      capacity_ = o.capacity_;
      max_transfer_blocks_ = o.max_transfer_blocks_;
      transport_ = o.transport_;
    }
    return *this;
  }
  ~device() { close(); }

  int fd() const noexcept { return fd_; }
  /// The node commands go to: /dev/bsg/H:C:T:L, or /dev/sgN with the sg transport.
  const std::string& path() const noexcept { return path_; }
  transport which() const noexcept { return transport_; }
  const std::string& hctl() const noexcept { return hctl_; }
  /// From open()'s READ CAPACITY (absent when the unit was not ready).
  const std::optional<capacity_info>& capacity() const noexcept { return capacity_; }
  /// The most blocks one READ/WRITE may move: the device's block limits and the kernel's queue.
  std::uint32_t max_transfer_blocks() const noexcept { return max_transfer_blocks_; }
  void set_timeout(std::uint32_t ms) noexcept { opts_.timeout_ms = ms; }

  // ---- any command ----

  /// Runs `c` with `data` in the direction `dir`; the value is the bytes transferred (a short
  /// transfer is not an error). Deadline: `timeout_ms`, or the device's.
  /// `c` is taken by value: the task starts only when awaited, after a temporary CDB is gone.
  task<response<std::uint32_t>> execute(cdb c, data_dir dir = data_dir::none, std::span<std::byte> data = {},
                                        std::optional<std::uint32_t> timeout_ms = std::nullopt) {
    command_options o;
    o.timeout_ms = timeout_ms.value_or(opts_.timeout_ms);
    auto r = transport_ == transport::bsg_uring ? co_await bsg_command_op(fd_, c.bytes(), dir, data.data(), data.size(), o)
                                                : co_await sg_command(fd_, c.bytes(), dir, data, o);
    if (!r) co_return response<std::uint32_t>(r.error());
    outcome out = decode_outcome(r->status, r->host, r->driver, r->sense());
    if (out.error) co_return response<std::uint32_t>(out.error, std::move(out));
    co_return response<std::uint32_t>(r->transferred(), std::move(out));
  }

  // ---- SPC ----

  task<response<std::uint32_t>> test_unit_ready() { return execute(scsi::test_unit_ready()); }

  task<response<inquiry_info>> inquiry() {
    std::array<std::byte, 96> buf{};
    auto r = co_await execute(scsi::inquiry(buf.size()), data_dir::from_device, buf);
    if (!r) co_return response<inquiry_info>(r.error(), r.details());
    auto s = parse_standard_inquiry(as_u8(buf).first(*r));
    if (!s) co_return response<inquiry_info>(errno_code(EPROTO), r.details());
    inquiry_info i;
    i.device_type = s->device_type;
    i.version = s->version;
    i.removable = s->rmb;
    i.vendor = std::string(s->vendor.value_or(""));
    i.product = std::string(s->product.value_or(""));
    i.revision = std::string(s->revision.value_or(""));
    co_return response<inquiry_info>(std::move(i), *r.details());
  }

  /// VPD page `page` into `buf`; the value is its bytes (cut to what the device returned).
  task<response<std::span<const std::uint8_t>>> vpd(std::uint8_t page, std::span<std::byte> buf) {
    auto r = co_await execute(inquiry_vpd(page, static_cast<std::uint16_t>(std::min<std::size_t>(buf.size(), 0xffff))),
                              data_dir::from_device, buf);
    if (!r) co_return response<std::span<const std::uint8_t>>(r.error(), r.details());
    co_return response<std::span<const std::uint8_t>>(as_u8(buf).first(*r), *r.details());
  }

  // ---- SBC ----

  /// READ CAPACITY(10), and (16) when (10) saturates or the unit is thin provisioned.
  task<response<capacity_info>> read_capacity() {
    std::array<std::byte, 32> buf{};
    auto r10 = co_await execute(read_capacity10(), data_dir::from_device, std::span(buf).first(8));
    if (!r10) co_return response<capacity_info>(r10.error(), r10.details());
    auto c10 = parse_read_capacity10(as_u8(buf).first(*r10));
    if (!c10) co_return response<capacity_info>(errno_code(EPROTO), r10.details());
    capacity_info info{c10->returned_lba, c10->block_length};
    auto r16 = co_await execute(read_capacity16(32), data_dir::from_device, buf);
    if (r16) {
      if (auto c16 = parse_read_capacity16(as_u8(buf).first(*r16))) {
        info.last_lba = c16->returned_lba;
        info.block_size = c16->block_length;
        info.lbpme = c16->lbpme.value_or(false);
        info.lbprz = c16->lbprz.value_or(false);
        info.protection = c16->prot_en.value_or(false);
      }
    } else if (c10->returned_lba == 0xffffffffU) {
      co_return response<capacity_info>(r16.error(), r16.details());  // too big for (10), and no (16)
    }
    co_return response<capacity_info>(info, *r10.details());
  }

  task<response<std::uint32_t>> read10(std::uint32_t lba, std::uint16_t blocks, std::span<std::byte> buf) {
    return execute(scsi::read10(lba, blocks), data_dir::from_device, buf);
  }
  task<response<std::uint32_t>> read16(std::uint64_t lba, std::uint32_t blocks, std::span<std::byte> buf) {
    return execute(scsi::read16(lba, blocks), data_dir::from_device, buf);
  }
  task<response<std::uint32_t>> write10(std::uint32_t lba, std::uint16_t blocks, std::span<const std::byte> buf) {
    return execute(scsi::write10(lba, blocks), data_dir::to_device, mutable_view(buf));
  }
  task<response<std::uint32_t>> write16(std::uint64_t lba, std::uint32_t blocks, std::span<const std::byte> buf) {
    return execute(scsi::write16(lba, blocks), data_dir::to_device, mutable_view(buf));
  }

  /// Reads buf.size() bytes (whole blocks) at `lba`: READ(10) while LBA and count fit, READ(16)
  /// beyond, in pieces of at most max_transfer_blocks(). The value is the bytes read.
  task<response<std::uint64_t>> read(std::uint64_t lba, std::span<std::byte> buf) {
    return transfer(lba, buf, data_dir::from_device);
  }
  /// Writes `buf` (whole blocks) at `lba`, split like read().
  task<response<std::uint64_t>> write(std::uint64_t lba, std::span<const std::byte> buf) {
    return transfer(lba, mutable_view(buf), data_dir::to_device);
  }

  task<response<std::uint32_t>> sync_cache() { return execute(synchronize_cache10()); }

  /// VERIFY(10), or (16) beyond its reach: the device checks the blocks on the medium; no data
  /// moves (BYTCHK 0). An unreadable block answers MEDIUM ERROR with its LBA in the sense.
  task<response<std::uint32_t>> verify(std::uint64_t lba, std::uint32_t blocks) {
    return execute(fits10(lba, blocks) ? verify10(static_cast<std::uint32_t>(lba), static_cast<std::uint16_t>(blocks))
                                       : verify16(lba, blocks));
  }

  /// UNMAP (deallocate) `blocks` at `lba`, in block descriptors of up to 2^32-1 blocks (EINVAL
  /// when more than one UNMAP's list holds). Whether the device honours it, and what the blocks
  /// then read as, is in read_capacity() (lbpme, lbprz).
  task<response<std::uint32_t>> unmap(std::uint64_t lba, std::uint64_t blocks) {
    std::vector<unmap_descriptor> ds;
    for (std::uint64_t at = lba, left = blocks; left && ds.size() <= max_unmap_descriptors;) {
      const auto n = static_cast<std::uint32_t>(std::min<std::uint64_t>(left, 0xffffffffU));
      ds.push_back({at, n});
      at += n;
      left -= n;
    }
    std::vector<std::byte> list(unmap_parameter_list_size(ds.size()));
    const auto len = unmap_parameter_list(list, ds);
    if (!len) co_return response<std::uint32_t>(errno_code(EINVAL));
    co_return co_await execute(scsi::unmap(*len), data_dir::to_device, list);
  }

  /// WRITE SAME(10), or (16) beyond its reach: `block` (exactly one block) written to each of
  /// `blocks` blocks at `lba`; with f.unmap a zero block may deallocate them instead.
  task<response<std::uint32_t>> write_same(std::uint64_t lba, std::uint32_t blocks, std::span<const std::byte> block,
                                           write_same_flags f = {}) {
    if (!capacity_ || block.size() != capacity_->block_size) co_return response<std::uint32_t>(errno_code(EINVAL));
    const cdb c = fits10(lba, blocks)
                      ? write_same10(static_cast<std::uint32_t>(lba), static_cast<std::uint16_t>(blocks), f)
                      : write_same16(lba, blocks, {.unmap = f.unmap, .anchor = f.anchor});
    co_return co_await execute(c, data_dir::to_device, mutable_view(block));
  }

  /// REPORT LUNS into `buf`; the value views `buf` (luns() lists them; truncated() says whether
  /// `buf` was too small for all of them).
  task<response<report_luns_data>> report_luns(std::span<std::byte> buf) {
    auto r = co_await execute(scsi::report_luns(static_cast<std::uint32_t>(std::min<std::size_t>(buf.size(), UINT32_MAX))),
                              data_dir::from_device, buf);
    if (!r) co_return response<report_luns_data>(r.error(), r.details());
    auto d = parse_report_luns(as_u8(buf).first(*r));
    if (!d) co_return response<report_luns_data>(errno_code(EPROTO), r.details());
    co_return response<report_luns_data>(*d, *r.details());
  }

  /// MODE SENSE(10) of `page` (0x3f: all) into `buf`; the value views `buf`.
  task<response<mode_parameters>> mode_sense(std::uint8_t page, std::span<std::byte> buf, std::uint8_t subpage = 0,
                                             mode_sense10_flags f = {}) {
    const auto c = mode_sense10(page, subpage, static_cast<std::uint16_t>(std::min<std::size_t>(buf.size(), 0xffff)), f);
    if (!c) co_return response<mode_parameters>(errno_code(EINVAL));
    auto r = co_await execute(*c, data_dir::from_device, buf);
    if (!r) co_return response<mode_parameters>(r.error(), r.details());
    auto m = parse_mode_sense10(as_u8(buf).first(*r));
    if (!m) co_return response<mode_parameters>(errno_code(EPROTO), r.details());
    co_return response<mode_parameters>(*m, *r.details());
  }

  /// START STOP UNIT (spin up or down, load or eject, power conditions).
  task<response<std::uint32_t>> start_stop(start_stop_flags f) { return execute(start_stop_unit(f)); }

  /// Any CDB (1..32 bytes) without a method here; EINVAL for an empty or longer one.
  task<response<std::uint32_t>> raw(std::span<const std::uint8_t> cdb_bytes, data_dir dir = data_dir::none,
                                    std::span<std::byte> data = {}, std::optional<std::uint32_t> timeout_ms = std::nullopt) {
    const auto c = scsi::raw(cdb_bytes);
    if (!c) co_return response<std::uint32_t>(errno_code(EINVAL));
    co_return co_await execute(*c, dir, data, timeout_ms);
  }

 private:
  device() = default;

  void close() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  static std::span<const std::uint8_t> as_u8(std::span<const std::byte> b) noexcept {
    return {reinterpret_cast<const std::uint8_t*>(b.data()), b.size()};
  }
  // The kernel only reads a data-out buffer; one command type carries both directions.
  static std::span<std::byte> mutable_view(std::span<const std::byte> b) noexcept {
    return {const_cast<std::byte*>(b.data()), b.size()};
  }

  // READ(10)'s LBA and count fields hold the range; else the (16) form.
  static bool fits10(std::uint64_t lba, std::uint64_t blocks) noexcept {
    return lba + blocks <= 0xffffffffULL && blocks <= 0xffff;
  }

  task<response<std::uint64_t>> transfer(std::uint64_t lba, std::span<std::byte> buf, data_dir dir) {
    const std::uint32_t bs = capacity_ ? capacity_->block_size : 0;
    if (bs == 0 || buf.size() % bs != 0) co_return response<std::uint64_t>(errno_code(EINVAL));
    std::uint64_t done = 0;
    std::optional<outcome> last;
    while (done < buf.size()) {
      const std::uint64_t left = (buf.size() - done) / bs;
      const auto n = static_cast<std::uint32_t>(std::min<std::uint64_t>(left, max_transfer_blocks_));
      const std::uint64_t at = lba + done / bs;
      const bool small = fits10(at, n);
      const cdb c = dir == data_dir::from_device
                        ? (small ? scsi::read10(static_cast<std::uint32_t>(at), static_cast<std::uint16_t>(n))
                                 : scsi::read16(at, n))
                        : (small ? scsi::write10(static_cast<std::uint32_t>(at), static_cast<std::uint16_t>(n))
                                 : scsi::write16(at, n));
      auto r = co_await execute(c, dir, buf.subspan(done, std::size_t{n} * bs));
      if (!r) co_return response<std::uint64_t>(r.error(), r.details());
      done += *r;
      last = r.details();
      if (*r < std::uint64_t{n} * bs) break;  // a short transfer: report what moved, never loop on it
    }
    co_return response<std::uint64_t>(done, last.value_or(outcome{}));
  }

  // Block limits (VPD B0h) capped by what the kernel's queue takes in one request: max_sectors_kb,
  // and max_segments pages (a user buffer is mapped page by page; an unaligned one touches one
  // page more than its length: found on virtio-scsi, 254 segments, where 2 MiB gave EINVAL).
  task<std::uint32_t> probe_max_transfer() {
    std::uint32_t blocks = 0xffff;  // READ(10)'s count field, when nothing says more
    const std::uint32_t bs = capacity_ ? capacity_->block_size : 512;
    if (const auto bytes = queue_max_bytes(); bytes && bs)
      blocks = static_cast<std::uint32_t>(std::clamp<std::uint64_t>(*bytes / bs, 1, 0xffffffffU));
    std::array<std::byte, 64> buf{};
    if (auto v = co_await vpd(vpd::block_limits, buf)) {
      if (auto bl = parse_block_limits(*v); bl && bl->maximum_transfer_length && *bl->maximum_transfer_length)
        blocks = std::min(blocks, *bl->maximum_transfer_length);
    }
    co_return blocks;
  }

  std::optional<std::uint64_t> queue_max_bytes() const {
    namespace fs = std::filesystem;
    constexpr std::uint64_t page = 4096;
    std::error_code ec;
    const fs::path blocks = fs::path("/sys/class/scsi_device") / hctl_ / "device" / "block";
    for (const auto& b : fs::directory_iterator(blocks, ec)) {
      std::uint64_t kb = 0, segments = 0;
      std::ifstream(b.path() / "queue" / "max_sectors_kb") >> kb;
      std::ifstream(b.path() / "queue" / "max_segments") >> segments;
      if (!kb) continue;
      std::uint64_t bytes = kb * 1024;
      if (segments > 1) bytes = std::min(bytes, (segments - 1) * page);
      return bytes;
    }
    return std::nullopt;  // no block device (e.g. a tape): only the device's limits count
  }

  static std::error_code errc_sqe128() noexcept { return make_error_code(uringcmd::errc::sqe128_required); }
  static std::error_code errc_cqe32() noexcept { return make_error_code(uringcmd::errc::cqe32_required); }

  static std::optional<std::string> sg_node(const std::string& hctl) {
    namespace fs = std::filesystem;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(fs::path("/sys/class/scsi_device") / hctl / "device" / "scsi_generic", ec))
      return "/dev/" + e.path().filename().string();
    return std::nullopt;
  }

  // /dev/bsg/H:C:T:L, /dev/sgN or /dev/sdX -> "H:C:T:L".
  static std::optional<std::string> resolve_hctl(std::string_view path) {
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::path p(path);
    if (p.parent_path() == "/dev/bsg") return p.filename().string();
    const std::string name = p.filename().string();
    for (const auto& d : fs::directory_iterator("/sys/class/scsi_device", ec)) {
      for (const char* sub : {"block", "scsi_generic"}) {
        for (const auto& e : fs::directory_iterator(d.path() / "device" / sub, ec))
          if (e.path().filename() == name) return d.path().filename().string();
      }
    }
    return std::nullopt;
  }

  int fd_ = -1;
  std::string path_, hctl_;
  device_options opts_;
  std::optional<capacity_info> capacity_;
  std::uint32_t max_transfer_blocks_ = 0xffff;
  transport transport_ = transport::bsg_uring;
};

}  // namespace uringcmd::scsi
