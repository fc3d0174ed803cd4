// SPDX-License-Identifier: MIT
// nvme::controller and nvme::namespace_device on the guest's QEMU controller and its three
// namespaces (512-byte LBAs, 4096-byte LBAs, 512 + 8 bytes of separate metadata): identify
// against nvme-cli, data against the block device, MDTS splits, errors, depth, fixed buffers,
// deallocation. Runs INSIDE the test VM.
#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "host/helpers.hpp"
#include "support/command.hpp"
#include "support/unique_fd.hpp"

#include <uringcmd/nvme/features.hpp>
#include <uringcmd/nvme/namespace.hpp>
#include <uringcmd/uringcmd.hpp>

using namespace uringcmd;
namespace fs = std::filesystem;

namespace {

/// Every NVMe namespace's generic node, by name (/dev/ng0n1, ...): the guest has no udev.
std::vector<std::string> require_namespaces() {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/sys/class/nvme-generic", ec)) out.push_back("/dev/" + e.path().filename().string());
  std::sort(out.begin(), out.end());
  if (out.size() < 3) FAIL("expected the guest's three NVMe namespaces (run in the VM: scripts/vm run)");
  return out;
}

/// The first `"key":value` of nvme-cli's JSON, as text (strings without quotes, trailing
/// spaces kept as nvme-cli prints them).
std::string json_value(const std::string& json, const std::string& key) {
  const std::regex re("\"" + key + "\"\\s*:\\s*(\"([^\"]*)\"|[-0-9]+)");
  std::smatch m;
  if (!std::regex_search(json, m, re)) return "<missing " + key + ">";
  return m[2].matched ? m[2].str() : m[1].str();
}
std::string trimmed(std::string s) {
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

/// A buffer aligned for O_DIRECT on the block device.
struct aligned_buffer {
  explicit aligned_buffer(std::size_t n) : size(n) {
    REQUIRE(::posix_memalign(&p, 4096, n) == 0);
    std::memset(p, 0, n);
  }
  ~aligned_buffer() { std::free(p); }
  aligned_buffer(const aligned_buffer&) = delete;
  aligned_buffer& operator=(const aligned_buffer&) = delete;
  std::span<std::byte> span() const { return {static_cast<std::byte*>(p), size}; }
  void* p = nullptr;
  std::size_t size;
};

task<result<nvme::reply>> await_op(nvme::command_op op) { co_return co_await op; }

nvme::namespace_device open_ns(executor& ex, const std::string& path) {
  auto ns = sync_wait(ex, nvme::namespace_device::open(path));
  REQUIRE_MESSAGE(ns.has_value(), path << ": " << ns.describe());
  return std::move(ns).value();
}

/// A namespace without metadata (the nsid-1 one has 512-byte LBAs): commands need no metadata buffer.
std::string plain_namespace(executor& ex) {
  for (const auto& path : require_namespaces())
    if (open_ns(ex, path).info().metadata_size == 0) return path;
  FAIL("no namespace without metadata");
  return {};
}

}  // namespace

TEST_CASE("Identify Controller and Identify Namespace agree with nvme id-ctrl and id-ns on every namespace") {
  executor ex(ring_options::passthrough());
  auto ctrl = sync_wait(ex, nvme::controller::open("/dev/nvme0")).value();
  std::array<std::byte, 4096> buf{};
  auto id = sync_wait(ex, ctrl.identify(buf));
  REQUIRE_MESSAGE(id.has_value(), id.describe());
  const std::string theirs = uc_test::command_output("nvme id-ctrl /dev/nvme0 -o json");
  CHECK(std::string(id->serial) == trimmed(json_value(theirs, "sn")));
  CHECK(std::string(id->model) == trimmed(json_value(theirs, "mn")));
  CHECK(std::string(id->firmware) == trimmed(json_value(theirs, "fr")));
  CHECK(std::to_string(id->vid) == json_value(theirs, "vid"));
  CHECK(std::to_string(id->mdts) == json_value(theirs, "mdts"));
  CHECK(std::to_string(id->oncs) == json_value(theirs, "oncs"));
  CHECK(std::to_string(id->oacs) == json_value(theirs, "oacs"));
  CHECK(std::to_string(id->vwc) == json_value(theirs, "vwc"));
  CHECK(std::to_string(id->nn) == json_value(theirs, "nn"));
  CHECK(std::to_string(id->ver) == json_value(theirs, "ver"));
  CHECK(std::to_string(id->ieee) == json_value(theirs, "ieee"));

  for (const auto& path : require_namespaces()) {
    CAPTURE(path);
    auto ns = open_ns(ex, path);
    const std::string block = ns.block_path();
    const std::string mine_ns = uc_test::command_output("nvme id-ns " + block + " -o json");
    CHECK(std::to_string(ns.info().size) == json_value(mine_ns, "nsze"));
    CHECK(std::to_string(ns.info().capacity) == json_value(mine_ns, "ncap"));
    CHECK(std::to_string(ns.info().utilization) == json_value(mine_ns, "nuse"));
    CHECK(std::to_string(ns.info().dlfeat) == json_value(mine_ns, "dlfeat"));
    auto raw = sync_wait(ex, ns.ctrl().identify_ns(ns.nsid(), buf));
    REQUIRE(raw.has_value());
    CHECK(std::to_string(raw->flbas) == json_value(mine_ns, "flbas"));
    CHECK(std::to_string(raw->nlbaf) == json_value(mine_ns, "nlbaf"));
    // The nsid is the node's, whatever its instance number says.
    CHECK(trimmed(uc_test::command_output("cat /sys/class/block/" + fs::path(block).filename().string() + "/nsid")) ==
          std::to_string(ns.nsid()) + "\n");
    // The block size the kernel gave the block device.
    CHECK(uc_test::command_output("cat /sys/class/block/" + fs::path(block).filename().string() + "/queue/logical_block_size") ==
          std::to_string(ns.block_size()) + "\n");
    MESSAGE(path << ": nsid " << ns.nsid() << ", " << ns.block_size() << "+" << ns.info().metadata_size
                  << " bytes per block, " << ns.blocks() << " blocks, max transfer " << ns.max_transfer_blocks());
  }
}

TEST_CASE("data written through the block device reads back through passthrough, and the reverse, on every LBA size") {
  executor ex(ring_options::passthrough());
  for (const auto& path : require_namespaces()) {
    CAPTURE(path);
    auto ns = open_ns(ex, path);
    const std::size_t bytes = 64 * 1024;
    const auto want = uc_test::pattern(bytes, 21);
    aligned_buffer io(bytes);
    uc_test::unique_fd blk(::open(ns.block_path().c_str(), O_RDWR | O_CLOEXEC | O_DIRECT));
    REQUIRE(blk.get() >= 0);
    // Block device -> passthrough, at byte offset 1 MiB.
    std::memcpy(io.p, want.data(), bytes);
    REQUIRE(::pwrite(blk.get(), io.p, bytes, 1 << 20) == ssize_t(bytes));
    std::vector<std::byte> got(bytes);
    std::vector<std::byte> meta(ns.info().extended_lba ? 0 : bytes / ns.block_size() * ns.info().metadata_size);
    nvme::io_options o;
    o.metadata = meta;
    auto r = sync_wait(ex, ns.read((1 << 20) / ns.block_size(), got, o));
    REQUIRE_MESSAGE(r.has_value(), r.describe());
    CHECK(*r == bytes);
    CHECK(got == want);
    // Passthrough -> block device, at 2 MiB.
    const auto other = uc_test::pattern(bytes, 22);
    auto w = sync_wait(ex, ns.write((2 << 20) / ns.block_size(), other, o));
    REQUIRE_MESSAGE(w.has_value(), w.describe());
    REQUIRE(::pread(blk.get(), io.p, bytes, 2 << 20) == ssize_t(bytes));
    CHECK(std::memcmp(io.p, other.data(), bytes) == 0);
    // Compare agrees with what is there, and names the difference.
    CHECK(sync_wait(ex, ns.compare((2 << 20) / ns.block_size(), other, o)).has_value());
    auto differs = sync_wait(ex, ns.compare((2 << 20) / ns.block_size(), want, o));
    CHECK(differs.error() == nvme::errc::compare_failure);
    MESSAGE(differs.describe());
    // Not whole blocks: refused before anything is sent.
    CHECK(sync_wait(ex, ns.read(0, std::span(got).first(100))).error() == std::errc::invalid_argument);
  }
}

TEST_CASE("the separate metadata of a 512+8 namespace travels with the data, per block, in both directions") {
  executor ex(ring_options::passthrough());
  for (const auto& path : require_namespaces()) {
    auto ns = open_ns(ex, path);
    if (ns.info().metadata_size == 0 || ns.info().extended_lba) continue;
    CAPTURE(path);
    // A few blocks only: QEMU 7.2 keeps separate metadata for the first few dozen blocks of a
    // command and drops the rest (zeros), whatever the buffer's alignment; nvme-cli's own
    // `nvme write/read -M` round trip of 99 blocks shows the same, on 6.12 and 7.2.
    const std::size_t blocks = 8;
    const auto data = uc_test::pattern(blocks * ns.block_size(), 5);
    const auto meta = uc_test::pattern(blocks * ns.info().metadata_size, 6);
    std::vector<std::byte> meta_w(meta.begin(), meta.end());
    nvme::io_options o;
    o.metadata = meta_w;
    auto w = sync_wait(ex, ns.write(4096, data, o));
    REQUIRE_MESSAGE(w.has_value(), w.describe());
    std::vector<std::byte> back(data.size()), meta_r(meta.size());
    o.metadata = meta_r;
    auto r = sync_wait(ex, ns.read(4096, back, o));
    REQUIRE_MESSAGE(r.has_value(), r.describe());
    CHECK(back == data);
    CHECK(meta_r == meta);
    // nvme-cli reads the same metadata.
    const std::string theirs = uc_test::command_output("nvme read " + ns.block_path() + " -s 4096 -c 7 -z 4096 -y 64 -d /tmp/uc-data -M /tmp/uc-meta >/dev/null 2>&1 && od -An -v -tx1 /tmp/uc-meta | tr -d ' \\n'");
    std::string want_hex;
    for (std::byte b : meta) {
      char h[3];
      std::snprintf(h, sizeof h, "%02x", unsigned(b));
      want_hex += h;
    }
    CHECK(theirs == want_hex);
    // A metadata buffer of the wrong size, or none, is refused before anything is sent.
    o.metadata = std::span(meta_r).first(8);
    CHECK(sync_wait(ex, ns.read(4096, back, o)).error() == std::errc::invalid_argument);
    CHECK(sync_wait(ex, ns.read(4096, back)).error() == std::errc::invalid_argument);
    return;
  }
  FAIL("no namespace with separate metadata");
}

TEST_CASE("a transfer larger than MDTS is split into commands the controller takes, and verified") {
  executor ex(ring_options::passthrough());
  for (const auto& path : require_namespaces()) {
    CAPTURE(path);
    auto ns = open_ns(ex, path);
    const std::size_t blocks = std::size_t{ns.max_transfer_blocks()} * 5 / 2 + 1;  // three commands
    const auto data = uc_test::pattern(blocks * ns.block_size(), 31);
    std::vector<std::byte> meta(ns.info().extended_lba ? 0 : blocks * ns.info().metadata_size);
    nvme::io_options o;
    o.metadata = meta;
    REQUIRE(sync_wait(ex, ns.write(0, data, o)).has_value());
    std::vector<std::byte> back(data.size());
    auto r = sync_wait(ex, ns.read(0, back, o));
    REQUIRE_MESSAGE(r.has_value(), r.describe());
    CHECK(back == data);
    // One command of the whole size is refused by the kernel (over max_hw_sectors), not cut.
    if (ns.info().metadata_size == 0) {
      auto whole = nvme::read(ns.nsid(), 0, static_cast<std::uint32_t>(blocks));
      REQUIRE(whole.has_value());
      auto one = sync_wait(ex, ns.io(*whole, back));
      CHECK_FALSE(one.has_value());
      MESSAGE("one command of " << blocks << " blocks: " << one.describe());
    }
  }
}

TEST_CASE("errors are named: LBA out of range, an admin command on a namespace node, a wrong nsid") {
  executor ex(ring_options::passthrough());
  const auto path = plain_namespace(ex);
  auto ns = open_ns(ex, path);
  std::vector<std::byte> buf(ns.block_size());
  auto past = sync_wait(ex, ns.read(ns.blocks(), buf));
  REQUIRE_FALSE(past.has_value());
  CHECK(past.error() == nvme::errc::lba_out_of_range);
  REQUIRE(past.details().has_value());
  CHECK(past.details()->status.dnr());
  CHECK(past.describe().find("LBA Out of Range") != std::string::npos);
  MESSAGE(past.describe());
  // Admin commands go to the controller node: the namespace node answers ENOTTY.
  std::array<std::byte, 4096> id{};
  auto wrong_node = sync_wait(ex, await_op(nvme::admin(ns.fd(), nvme::identify_controller(), id)));
  CHECK(wrong_node.error() == std::errc::inappropriate_io_control_operation);
  // The nsid must be the node's own.
  auto other = nvme::read(ns.nsid() + 1, 0, 1);
  auto wrong_ns = sync_wait(ex, await_op(nvme::io(ns.fd(), *other, buf)));
  CHECK_FALSE(wrong_ns.has_value());
  MESSAGE("nsid " << ns.nsid() + 1 << " on " << path << ": " << describe(wrong_ns.error()));
  // A ring without SQE128/CQE32 is refused before submission.
  executor small;
  auto refused = sync_wait(small, await_op(nvme::io(ns.fd(), nvme::flush(ns.nsid()))));
  CHECK(refused.error() == uringcmd::errc::sqe128_required);
}

TEST_CASE("32 reads and writes in flight on one ring, each with its own verified data") {
  executor ex(ring_options::passthrough());
  auto ns = open_ns(ex, plain_namespace(ex));
  constexpr int n = 40;
  std::vector<std::vector<std::byte>> data;
  for (int i = 0; i < n; ++i) data.push_back(uc_test::pattern(8 * ns.block_size(), unsigned(200 + i)));
  std::vector<task<bool>> io;
  for (int i = 0; i < n; ++i)
    io.push_back([](nvme::namespace_device& d, std::uint64_t lba, std::vector<std::byte>& want) -> task<bool> {
      if (!co_await d.write(lba, want)) co_return false;
      std::vector<std::byte> got(want.size());
      auto r = co_await d.read(lba, got);
      co_return r && got == want;
    }(ns, ns.blocks() / 2 + std::uint64_t(i) * 8, data[std::size_t(i)]));  // in range for either LBA size
  for (bool ok : sync_wait(ex, when_all(std::move(io)))) CHECK(ok);
}

TEST_CASE("a registered (fixed) buffer carries the data of reads and writes") {
  executor ex(ring_options::passthrough());
  auto ns = open_ns(ex, plain_namespace(ex));
  aligned_buffer region(64 * 1024);
  const iovec iov{region.p, region.size};
  REQUIRE(ex.register_buffers(std::span(&iov, 1)).has_value());
  const auto want = uc_test::pattern(16 * 1024, 41);
  std::memcpy(static_cast<std::byte*>(region.p) + 4096, want.data(), want.size());
  nvme::io_options o;
  o.fixed_buffer = 0;
  auto w = sync_wait(ex, ns.write(8192, region.span().subspan(4096, want.size()), o));
  REQUIRE_MESSAGE(w.has_value(), w.describe());
  std::memset(region.p, 0, region.size);
  auto r = sync_wait(ex, ns.read(8192, region.span().subspan(8192, want.size()), o));
  REQUIRE_MESSAGE(r.has_value(), r.describe());
  CHECK(std::memcmp(static_cast<std::byte*>(region.p) + 8192, want.data(), want.size()) == 0);
}

TEST_CASE("Write Zeroes and Dataset Management deallocate read back as zeros where the namespace says so") {
  executor ex(ring_options::passthrough());
  for (const auto& path : require_namespaces()) {
    CAPTURE(path);
    auto ns = open_ns(ex, path);
    const std::size_t blocks = 64;
    const auto data = uc_test::pattern(blocks * ns.block_size(), 51);
    std::vector<std::byte> meta(ns.info().extended_lba ? 0 : blocks * ns.info().metadata_size);
    nvme::io_options o;
    o.metadata = meta;
    const std::vector<std::byte> zeros(data.size());
    std::vector<std::byte> back(data.size());

    REQUIRE(sync_wait(ex, ns.write(512, data, o)).has_value());
    CHECK(ns.supports_write_zeroes());
    auto z = sync_wait(ex, ns.write_zeroes(512, blocks));
    REQUIRE_MESSAGE(z.has_value(), z.describe());
    REQUIRE(sync_wait(ex, ns.read(512, back, o)).has_value());
    CHECK(back == zeros);

    REQUIRE(sync_wait(ex, ns.write(512, data, o)).has_value());
    REQUIRE(ns.supports_deallocate());
    auto d = sync_wait(ex, ns.deallocate(512, blocks));
    REQUIRE_MESSAGE(d.has_value(), d.describe());
    REQUIRE(sync_wait(ex, ns.read(512, back, o)).has_value());
    if ((ns.info().dlfeat & 7) == 1) CHECK(back == zeros);  // DLFEAT: deallocated blocks read as zeros
    else MESSAGE("DLFEAT " << int(ns.info().dlfeat) << ": deallocated blocks need not read as zeros");
    CHECK(sync_wait(ex, ns.flush()).has_value());
  }
}

TEST_CASE("admin reads: SMART log, error log, active namespaces and features") {
  executor ex(ring_options::passthrough());
  auto ctrl = sync_wait(ex, nvme::controller::open("/dev/ng0n1")).value();  // resolved to /dev/nvme0
  CHECK(ctrl.path() == "/dev/nvme0");
  std::array<std::byte, 4096> buf{};
  auto smart = sync_wait(ex, ctrl.smart(buf));
  REQUIRE_MESSAGE(smart.has_value(), smart.describe());
  const std::string theirs = uc_test::command_output("nvme smart-log /dev/nvme0 -o json");
  CHECK(std::to_string(smart->temperature) == json_value(theirs, "temperature"));
  CHECK(std::to_string(smart->avail_spare) == json_value(theirs, "avail_spare"));
  CHECK(smart->power_cycles.to_string() == json_value(theirs, "power_cycles"));

  auto list = sync_wait(ex, ctrl.active_namespaces(buf));
  REQUIRE(list.has_value());
  std::vector<std::uint32_t> ids;
  for (std::uint32_t id : list->ids()) ids.push_back(id);
  CHECK(ids == std::vector<std::uint32_t>{1, 2, 3});

  CHECK(sync_wait(ex, ctrl.error_log(std::span(buf).first(4 * 64))).has_value());
  auto queues = sync_wait(ex, ctrl.get_feature(nvme::feature_id::number_of_queues));
  REQUIRE(queues.has_value());
  CHECK(nvme::decode_number_of_queues(*queues).submission_queues >= 1);
  // Features the controller does not have: the status, named.
  auto bogus = sync_wait(ex, ctrl.get_feature(0x7f));
  CHECK_FALSE(bogus.has_value());
  MESSAGE("feature 7Fh: " << bogus.describe());
}
