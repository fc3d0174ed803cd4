// SPDX-License-Identifier: MIT
// bsg_command over BSG io_uring on the guest's two SCSI targets (QEMU's virtio-scsi disk and
// scsi_debug), Linux 7.1+. Runs INSIDE the test VM (vm.scsi.bsg). The CDBs are written out by hand
// from SPC/SBC (cdb_helpers.hpp), independently of the library's CDB builders.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "host/helpers.hpp"
#include "vm/scsi/cdb_helpers.hpp"
#include "vm/scsi/disks.hpp"
#include "support/skip.hpp"

#include <uringcmd/scsi/bsg.hpp>
#include <uringcmd/uringcmd.hpp>

using namespace uringcmd;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
using uc_test::unique_fd;

namespace {

using target = uc_test::scsi_disk;
using uc_test::open_rw;
using uc_test::require_disks;
using namespace uc_test::cdb;

}  // namespace

TEST_CASE("TEST UNIT READY and INQUIRY over BSG io_uring name both SCSI targets") {
  executor ex(ring_options::passthrough());
  for (const target& t : require_disks()) {
    CAPTURE(t.bsg);
    auto fd = open_rw(t.bsg);
    auto [tur, inq, data] = sync_wait(ex, [](int f) -> task<std::tuple<scsi::reply, scsi::reply, std::array<std::byte, 96>>> {
      std::array<std::byte, 96> buf{};
      auto a = (co_await scsi::bsg_command(f, tur_cdb)).value();
      auto b = (co_await scsi::bsg_command_in(f, inq_cdb, buf)).value();
      co_return std::tuple{a, b, buf};
    }(fd.get()));
    CHECK(tur.good());
    CHECK(inq.good());
    CHECK(inq.requested == 96);
    CHECK(inq.transferred() >= 36);  // a short INQUIRY is a residual, not an error
    const std::string product(reinterpret_cast<const char*>(data.data()) + 16, 16);
    CHECK(product.find(t.model) == 0);  // the same product identification sysfs shows
  }
}

TEST_CASE("data written through the block device reads back through READ(10), and WRITE(10) the reverse") {
  executor ex(ring_options::passthrough());
  for (const target& t : require_disks()) {
    CAPTURE(t.bsg);
    auto bsg = open_rw(t.bsg);
    auto blk = unique_fd(::open(t.block.c_str(), O_RDWR | O_CLOEXEC | O_DIRECT));
    REQUIRE(blk.get() >= 0);
    const auto cap = sync_wait(ex, read_capacity10(&scsi::bsg_command_in, bsg.get()));
    REQUIRE(cap.block_size == 512);
    constexpr std::uint32_t lba = 100, blocks = 8;
    alignas(4096) static std::array<std::byte, blocks * 512> pattern, back;
    auto p = uc_test::pattern(pattern.size(), 7);
    std::memcpy(pattern.data(), p.data(), p.size());
    REQUIRE(::pwrite(blk.get(), pattern.data(), pattern.size(), off_t{lba} * 512) == ssize_t(pattern.size()));
    auto r = sync_wait(ex, [&]() -> task<scsi::reply> {
      co_return (co_await scsi::bsg_command_in(bsg.get(), read10(lba, blocks), back)).value();
    }());
    CHECK(r.good());
    CHECK(r.residual == 0);
    CHECK(std::memcmp(back.data(), pattern.data(), pattern.size()) == 0);

    auto q = uc_test::pattern(pattern.size(), 9);
    std::memcpy(pattern.data(), q.data(), q.size());
    auto w = sync_wait(ex, [&]() -> task<scsi::reply> {
      co_return (co_await scsi::bsg_command_out(bsg.get(), write10(lba + 8, blocks), pattern)).value();
    }());
    CHECK(w.good());
    REQUIRE(::pread(blk.get(), back.data(), back.size(), off_t{lba + 8} * 512) == ssize_t(back.size()));
    CHECK(std::memcmp(back.data(), pattern.data(), pattern.size()) == 0);
  }
}

TEST_CASE("reading past the end is CHECK CONDITION with ILLEGAL REQUEST, LBA OUT OF RANGE in the sense") {
  executor ex(ring_options::passthrough());
  for (const target& t : require_disks()) {
    CAPTURE(t.bsg);
    auto bsg = open_rw(t.bsg);
    const auto cap = sync_wait(ex, read_capacity10(&scsi::bsg_command_in, bsg.get()));
    std::array<std::byte, 512> buf{};
    auto r = sync_wait(ex, [&]() -> task<scsi::reply> {
      co_return (co_await scsi::bsg_command_in(bsg.get(), read10(cap.last_lba + 1, 1), buf)).value();
    }());
    CHECK(r.status == 0x02);  // CHECK CONDITION
    CHECK(r.host == 0);
    REQUIRE(r.sense_len >= 14);
    CHECK(sense_key(r.sense()) == 0x05);  // ILLEGAL REQUEST, fixed or descriptor format
    CHECK(sense_asc(r.sense()) == 0x21);  // LOGICAL BLOCK ADDRESS OUT OF RANGE
  }
}

TEST_CASE("32 commands in flight on one ring, each with its own verified data") {
  executor ex(ring_options::passthrough());
  const auto disks = require_disks();
  const target& t = disks.back();
  CAPTURE(t.bsg);
  auto bsg = open_rw(t.bsg);
  auto blk = unique_fd(::open(t.block.c_str(), O_RDWR | O_CLOEXEC | O_DIRECT));
  REQUIRE(blk.get() >= 0);
  constexpr int n = 32;
  alignas(4096) static std::array<std::byte, n * 4096> written, read_back;
  auto p = uc_test::pattern(written.size(), 3);
  std::memcpy(written.data(), p.data(), p.size());
  REQUIRE(::pwrite(blk.get(), written.data(), written.size(), 2048 * 512) == ssize_t(written.size()));
  std::vector<task<scsi::reply>> reads;
  for (int i = 0; i < n; ++i)
    reads.push_back([](int fd, std::uint32_t lba, std::span<std::byte> into) -> task<scsi::reply> {
      co_return (co_await scsi::bsg_command_in(fd, read10(lba, 8), into)).value();
    }(bsg.get(), std::uint32_t(2048 + i * 8), std::span(read_back).subspan(std::size_t(i) * 4096, 4096)));
  const auto replies = sync_wait(ex, when_all(std::move(reads)));
  for (const auto& r : replies) CHECK(r.good());
  CHECK(std::memcmp(read_back.data(), written.data(), written.size()) == 0);
}

TEST_CASE("a registered (fixed) buffer carries the data of READ(10)") {
  executor ex(ring_options::passthrough());
  const auto disks = require_disks();
  auto bsg = open_rw(disks.back().bsg);
  auto blk = unique_fd(::open(disks.back().block.c_str(), O_RDWR | O_CLOEXEC | O_DIRECT));
  alignas(4096) static std::array<std::byte, 8192> region, expect;
  auto p = uc_test::pattern(4096, 5);
  std::memcpy(expect.data(), p.data(), p.size());
  REQUIRE(::pwrite(blk.get(), expect.data(), 4096, 4096 * 512) == 4096);
  const iovec iov{region.data(), region.size()};
  REQUIRE(ex.register_buffers(std::span(&iov, 1)).has_value());
  scsi::bsg_options o;
  o.fixed_buffer = 0;
  auto r = sync_wait(ex, [&]() -> task<scsi::reply> {
    co_return (co_await scsi::bsg_command_in(bsg.get(), read10(4096, 8), std::span(region).subspan(4096, 4096), o)).value();
  }());
  CHECK(r.good());
  CHECK(std::memcmp(region.data() + 4096, expect.data(), 4096) == 0);
}

TEST_CASE("with_timeout on a BSG command sets its timeout_ms and links no timer") {
  executor ex(ring_options::passthrough());
  auto bsg = open_rw(require_disks().front().bsg);
  auto op = with_timeout(scsi::bsg_command(bsg.get(), tur_cdb), 5s);
  CHECK(op.link_timeout == nullptr);
  auto r = sync_wait(ex, [&]() -> task<result<scsi::reply>> { co_return co_await std::move(op); }());
  REQUIRE_MESSAGE(r.has_value(), describe(r.error()));
  CHECK(r->good());
}

TEST_CASE("the transport's own refusals are errnos; a ring without SQE128 is refused before submission") {
  const auto disks = require_disks();
  auto bsg = open_rw(disks.front().bsg);
  {
    executor plain;
    auto r = sync_wait(plain, [&]() -> task<result<scsi::reply>> { co_return co_await scsi::bsg_command(bsg.get(), tur_cdb); }());
    CHECK(r.error() == errc::sqe128_required);
  }
  executor ex(ring_options::passthrough());
  const std::array<std::uint8_t, 33> too_long{};
  auto r = sync_wait(ex, [&]() -> task<result<scsi::reply>> { co_return co_await scsi::bsg_command(bsg.get(), too_long); }());
  CHECK(r.error() == errc::payload_too_large);
  // BIDI does not exist over BSG: a read-only fd is not the point here, but a regular file is not
  // a BSG node: the kernel refuses the uring_cmd itself.
  uc_test::temp_file f;
  auto bad = sync_wait(ex, [&]() -> task<result<scsi::reply>> { co_return co_await scsi::bsg_command(f.fd.get(), tur_cdb); }());
  CHECK_FALSE(bad.has_value());
  MESSAGE("uring_cmd on a regular file: " << describe(bad.error()));
}
