// SPDX-License-Identifier: MIT
// scsi::device on the guest's two SCSI targets, opened by each kind of node: capacity, INQUIRY,
// read/write split by the transfer limit, errors with their decoded sense. Runs INSIDE the test VM.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "host/helpers.hpp"
#include "vm/scsi/disks.hpp"

#include <uringcmd/scsi/device.hpp>
#include <uringcmd/uringcmd.hpp>

using namespace uringcmd;
namespace fs = std::filesystem;

namespace {
const auto disks = uc_test::require_disks;
std::uint64_t block_device_bytes(const std::string& block) {
  std::ifstream f("/sys/class/block/" + fs::path(block).filename().string() + "/size");
  std::uint64_t sectors = 0;
  f >> sectors;
  return sectors * 512;
}
}  // namespace

TEST_CASE("scsi::device opens by bsg, sg and block node alike, and its capacity matches the block device") {
  executor ex(ring_options::passthrough());
  for (const auto& n : disks()) {
    for (const std::string& path : {n.bsg, n.sg, n.block}) {
      CAPTURE(path);
      auto dev = sync_wait(ex, scsi::device::open(path));
      REQUIRE_MESSAGE(dev.has_value(), dev.describe());
      // BSG io_uring where the kernel has it (7.1+), else the sg fallback: chosen at open.
      CHECK(dev->path() == (dev->which() == scsi::transport::bsg_uring ? n.bsg : n.sg));
      MESSAGE(path << " -> " << dev->path());
      REQUIRE(dev->capacity().has_value());
      CHECK(dev->capacity()->block_size == 512);
      CHECK(dev->capacity()->bytes() == block_device_bytes(n.block));
      CHECK(dev->max_transfer_blocks() >= 8);
      auto inq = sync_wait(ex, dev->inquiry());
      REQUIRE(inq.has_value());
      CHECK(inq->product == n.model);
      CHECK(inq->device_type == 0);
    }
  }
  auto missing = sync_wait(ex, scsi::device::open("/dev/sdzz"));
  CHECK(missing.error() == std::errc::no_such_device);
}

TEST_CASE("scsi::device read and write split by the transfer limit and match the block device") {
  executor ex(ring_options::passthrough());
  for (const auto& n : disks()) {
    CAPTURE(n.bsg);
    auto dev = sync_wait(ex, scsi::device::open(n.bsg)).value();
    const std::uint32_t limit = dev.max_transfer_blocks();
    // A transfer of 2.5 x the limit (capped to keep it small): at least three commands.
    const std::size_t blocks = std::min<std::size_t>(limit * 5 / 2 + 1, 4096);
    std::vector<std::byte> out = uc_test::pattern(blocks * 512, 11), back(blocks * 512);
    auto w = sync_wait(ex, dev.write(4096, out));
    REQUIRE_MESSAGE(w.has_value(), w.describe());
    CHECK(*w == out.size());
    uc_test::unique_fd blk(::open(n.block.c_str(), O_RDONLY | O_CLOEXEC | O_DIRECT));
    REQUIRE(blk.get() >= 0);
    void* aligned = nullptr;
    REQUIRE(::posix_memalign(&aligned, 4096, back.size()) == 0);
    REQUIRE(::pread(blk.get(), aligned, back.size(), 4096 * 512) == ssize_t(back.size()));
    CHECK(std::memcmp(aligned, out.data(), out.size()) == 0);
    std::free(aligned);
    auto r = sync_wait(ex, dev.read(4096, back));
    REQUIRE(r.has_value());
    CHECK(*r == back.size());
    CHECK(back == out);
    CHECK(sync_wait(ex, dev.sync_cache()).has_value());
    // Not whole blocks: refused before anything is sent.
    CHECK(sync_wait(ex, dev.read(0, std::span(back).first(100))).error() == std::errc::invalid_argument);
  }
}

TEST_CASE("scsi::device reports a read past the end as ILLEGAL REQUEST with the decoded sense") {
  executor ex(ring_options::passthrough());
  for (const auto& n : disks()) {
    CAPTURE(n.bsg);
    auto dev = sync_wait(ex, scsi::device::open(n.bsg)).value();
    std::vector<std::byte> buf(512);
    auto r = sync_wait(ex, dev.read(dev.capacity()->blocks(), buf));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == scsi::errc::illegal_request);
    REQUIRE(r.details().has_value());
    CHECK(r.details()->status == 0x02);
    REQUIRE(r.details()->sense_data.has_value());
    CHECK(r.details()->sense_data->asc == 0x21);
    CHECK(r.describe().find("Logical block address out of range") != std::string::npos);
    MESSAGE(r.describe());
    CHECK_THROWS_AS((void)std::move(r).value(), std::system_error);
  }
}

TEST_CASE("scsi::device serves 32 coroutines at once on one ring") {
  executor ex(ring_options::passthrough());
  const auto all = disks();
  auto dev = sync_wait(ex, scsi::device::open(all.back().bsg)).value();
  constexpr int n = 32;
  std::vector<std::vector<std::byte>> data;
  for (int i = 0; i < n; ++i) data.push_back(uc_test::pattern(4096, unsigned(100 + i)));
  std::vector<task<bool>> io;
  for (int i = 0; i < n; ++i)
    io.push_back([](scsi::device& d, std::uint64_t lba, std::vector<std::byte>& want) -> task<bool> {
      if (!co_await d.write(lba, want)) co_return false;
      std::vector<std::byte> got(want.size());
      auto r = co_await d.read(lba, got);
      co_return r && got == want;
    }(dev, 8192 + std::uint64_t(i) * 8, data[std::size_t(i)]));
  const auto ok = sync_wait(ex, when_all(std::move(io)));
  for (bool b : ok) CHECK(b);
}

TEST_CASE("scsi::device over the sg fallback behaves the same: data, capacity and decoded errors") {
  executor ex(ring_options::passthrough());
  for (const auto& n : disks()) {
    CAPTURE(n.sg);
    scsi::device_options o;
    o.force = scsi::transport::sg_async;
    auto dev = sync_wait(ex, scsi::device::open(n.block, o)).value();
    CHECK(dev.which() == scsi::transport::sg_async);
    CHECK(dev.path() == n.sg);
    REQUIRE(dev.capacity().has_value());
    CHECK(dev.capacity()->bytes() == block_device_bytes(n.block));
    std::vector<std::byte> out = uc_test::pattern(64 * 512, 21), back(64 * 512);
    REQUIRE(sync_wait(ex, dev.write(6000, out)).has_value());
    REQUIRE(sync_wait(ex, dev.read(6000, back)).has_value());
    CHECK(back == out);
    std::vector<std::byte> one(512);
    auto past = sync_wait(ex, dev.read(dev.capacity()->blocks(), one));
    CHECK(past.error() == scsi::errc::illegal_request);
    REQUIRE(past.details().has_value());
    REQUIRE(past.details()->sense_data.has_value());
    CHECK(past.details()->sense_data->asc == 0x21);
  }
}

TEST_CASE("scsi::device picks BSG io_uring where the kernel has it (7.1+); before, forcing it is the feature's named error") {
  executor ex(ring_options::passthrough());
  const auto n = disks().front();
  const bool kernel_has_bsg_uring = !kernel_predates(feature::bsg_uring_cmd);
  auto picked = sync_wait(ex, scsi::device::open(n.bsg));
  REQUIRE_MESSAGE(picked.has_value(), picked.describe());
  CHECK(picked->which() == (kernel_has_bsg_uring ? scsi::transport::bsg_uring : scsi::transport::sg_async));

  scsi::device_options o;
  o.force = scsi::transport::bsg_uring;
  auto forced = sync_wait(ex, scsi::device::open(n.bsg, o));
  MESSAGE("forced onto BSG io_uring: " << (forced ? "opened" : forced.describe()));
  if (kernel_has_bsg_uring) {
    CHECK(forced.has_value());
  } else {
    REQUIRE_FALSE(forced.has_value());
    CHECK(forced.error() == feature::bsg_uring_cmd);
    CHECK(forced.error() == std::errc::operation_not_supported);  // what callers of the bare errno test
    CHECK(forced.describe().find("SCSI BSG uring_cmd: needs Linux 7.1") != std::string::npos);
  }
}
