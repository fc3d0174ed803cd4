// SPDX-License-Identifier: MIT
// sg_command through the sg driver's v3 interface (write/read of sg_io_hdr on /dev/sgN, driven by
// the ring) on the guest's two SCSI targets (QEMU's virtio-scsi disk and scsi_debug): the
// fallback for kernels without BSG io_uring. Runs INSIDE the test VM (vm.scsi.sg on the default
// kernel, vm.scsi.sg.linux-6.12 and -6.1 on the older ones). The CDBs are written out by hand from
// SPC/SBC (cdb_helpers.hpp), independently of the library's CDB builders.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <optional>
#include <fstream>
#include <string>
#include <tuple>
#include <vector>

#include <doctest/doctest.h>

#include "host/helpers.hpp"
#include "vm/scsi/cdb_helpers.hpp"
#include "vm/scsi/disks.hpp"
#include "support/skip.hpp"

#include <uringcmd/scsi/bsg.hpp>
#include <uringcmd/scsi/sg.hpp>
#include <uringcmd/uringcmd.hpp>

using namespace uringcmd;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
using uc_test::unique_fd;
using clk = std::chrono::steady_clock;

namespace {

using target = uc_test::scsi_disk;
using uc_test::require_disks;
using namespace uc_test::cdb;
using uc_test::require_scsi_debug;

// Opens and prepares an sg node (O_RDWR: write() queues the commands).
unique_fd open_sg(const target& t) {
  unique_fd fd(::open(t.sg.c_str(), O_RDWR | O_CLOEXEC));
  REQUIRE_MESSAGE(fd.get() >= 0, "open " << t.sg << ": " << std::strerror(errno));
  auto info = scsi::sg_prepare_fd(fd.get());
  REQUIRE_MESSAGE(info.has_value(), "sg_prepare_fd " << t.sg << ": " << describe(info.error()));
  CHECK(info->version >= scsi::sg_min_version);
  return fd;
}

unique_fd open_block(const target& t) {
  unique_fd fd(::open(t.block.c_str(), O_RDWR | O_CLOEXEC | O_DIRECT));
  REQUIRE_MESSAGE(fd.get() >= 0, "open " << t.block << ": " << std::strerror(errno));
  return fd;
}

}  // namespace

TEST_CASE("TEST UNIT READY and INQUIRY over sg name both SCSI targets") {
  executor ex;  // sg needs no SQE128/CQE32: plain writes and reads
  for (const target& t : require_disks()) {
    CAPTURE(t.sg);
    auto fd = open_sg(t);
    auto [tur, inq, data] = sync_wait(ex, [](int f) -> task<std::tuple<scsi::reply, scsi::reply, std::array<std::byte, 96>>> {
      std::array<std::byte, 96> buf{};
      auto a = (co_await scsi::sg_command(f, tur_cdb)).value();
      auto b = (co_await scsi::sg_command_in(f, inq_cdb, buf)).value();
      co_return std::tuple{a, b, buf};
    }(fd.get()));
    CHECK(tur.good());
    CHECK(tur.requested == 0);
    CHECK(inq.good());
    CHECK(inq.requested == 96);
    CHECK(inq.transferred() >= 36);  // a short INQUIRY is a residual, not an error
    const std::string product(reinterpret_cast<const char*>(data.data()) + 16, 16);
    CHECK(product.find(t.model) == 0);  // the same product identification sysfs shows
  }
}

TEST_CASE("data written through the block device reads back through READ(10) over sg, and WRITE(10) over sg reads back through the block device") {
  executor ex;
  for (const target& t : require_disks()) {
    CAPTURE(t.sg);
    auto sg = open_sg(t);
    auto blk = open_block(t);
    const auto cap = sync_wait(ex, read_capacity10(&scsi::sg_command_in, sg.get()));
    REQUIRE(cap.block_size == 512);
    constexpr std::uint32_t lba = 100, blocks = 8;
    alignas(4096) static std::array<std::byte, blocks * 512> pattern, back;
    auto p = uc_test::pattern(pattern.size(), 11);
    std::memcpy(pattern.data(), p.data(), p.size());
    REQUIRE(::pwrite(blk.get(), pattern.data(), pattern.size(), off_t{lba} * 512) == ssize_t(pattern.size()));
    back.fill(std::byte{0});
    auto r = sync_wait(ex, [&]() -> task<scsi::reply> {
      co_return (co_await scsi::sg_command_in(sg.get(), read10(lba, blocks), back)).value();
    }());
    CHECK(r.good());
    CHECK(r.residual == 0);
    CHECK(r.transferred() == pattern.size());
    CHECK(std::memcmp(back.data(), pattern.data(), pattern.size()) == 0);

    auto q = uc_test::pattern(pattern.size(), 13);
    std::memcpy(pattern.data(), q.data(), q.size());
    auto w = sync_wait(ex, [&]() -> task<scsi::reply> {
      co_return (co_await scsi::sg_command_out(sg.get(), write10(lba + 8, blocks), pattern)).value();
    }());
    CHECK(w.good());
    CHECK(w.requested == pattern.size());
    REQUIRE(::pread(blk.get(), back.data(), back.size(), off_t{lba + 8} * 512) == ssize_t(back.size()));
    CHECK(std::memcmp(back.data(), pattern.data(), pattern.size()) == 0);
  }
}

TEST_CASE("reading past the end over sg is CHECK CONDITION with ILLEGAL REQUEST, LBA OUT OF RANGE in the sense") {
  executor ex;
  for (const target& t : require_disks()) {
    CAPTURE(t.sg);
    auto sg = open_sg(t);
    const auto cap = sync_wait(ex, read_capacity10(&scsi::sg_command_in, sg.get()));
    std::array<std::byte, 512> buf{};
    auto r = sync_wait(ex, [&]() -> task<scsi::reply> {
      co_return (co_await scsi::sg_command_in(sg.get(), read10(cap.last_lba + 1, 1), buf)).value();
    }());
    CHECK(r.status == 0x02);  // CHECK CONDITION, the SAM status byte (not sg's shifted masked_status)
    CHECK(r.host == 0);
    REQUIRE(r.sense_len >= 14);
    CHECK(sense_key(r.sense()) == 0x05);  // ILLEGAL REQUEST, fixed or descriptor format
    CHECK(sense_asc(r.sense()) == 0x21);  // LOGICAL BLOCK ADDRESS OUT OF RANGE
  }
}

TEST_CASE("32 commands in flight from 32 coroutines on one executor each collect their own completion") {
  executor ex;
  for (const target& t : require_disks()) {
    CAPTURE(t.sg);
    auto sg = open_sg(t);
    auto blk = open_block(t);
    constexpr int n = 32;
    constexpr std::uint32_t base = 2048;
    alignas(4096) static std::array<std::byte, n * 4096> written, read_back;
    auto p = uc_test::pattern(written.size(), 3);
    std::memcpy(written.data(), p.data(), p.size());
    REQUIRE(::pwrite(blk.get(), written.data(), written.size(), off_t{base} * 512) == ssize_t(written.size()));
    read_back.fill(std::byte{0});
    // Interleaved LBAs and lengths: command i reads slot (i * 13) % 32, 1..8 blocks of it. Each
    // coroutine checks its own data the moment it resumes: had its read() collected another
    // command's completion, its own data would not be there yet (sg copies it out at read()).
    std::vector<task<int>> cmds;
    for (int i = 0; i < n; ++i) {
      const std::uint32_t slot = std::uint32_t(i * 13 % n);
      const auto blocks = std::uint16_t(1 + i % 8);
      cmds.push_back([](int fd, std::uint32_t s, std::uint16_t nb) -> task<int> {
        const auto into = std::span(read_back).subspan(s * 4096, nb * 512u);
        auto r = co_await scsi::sg_command_in(fd, read10(base + s * 8, nb), into);
        if (!r || !r->good() || r->requested != into.size() || r->residual != 0) co_return 1;
        co_return std::memcmp(into.data(), written.data() + s * 4096, into.size()) == 0 ? 0 : 2;
      }(sg.get(), slot, blocks));
    }
    const auto results = sync_wait(ex, when_all(std::move(cmds)));
    for (int i = 0; i < n; ++i) {
      CAPTURE(i);
      CHECK(results[std::size_t(i)] == 0);
    }
  }
}

TEST_CASE("the ring thread is never blocked: a 5 ms timer fires on time while 8 slow sg commands are in flight") {
  const target t = require_scsi_debug();
  CAPTURE(t.sg);
  executor ex;
  auto sg = open_sg(t);
  uc_test::scsi_debug_param slow("ndelay", "900000000", "0");  // every scsi_debug response 0.9 s late
  int finished = 0;
  const auto t0 = clk::now();
  std::vector<task<double>> reads;
  for (int i = 0; i < 8; ++i)
    reads.push_back([](int fd, int k, int& done) -> task<double> {
      std::array<std::byte, 512> buf{};
      auto r = co_await scsi::sg_command_in(fd, read10(std::uint32_t(4096 + k), 1), buf);
      REQUIRE(r.has_value());
      CHECK(r->good());
      ++done;
      co_return 0.0;
    }(sg.get(), i, finished));
  auto timer = [](const int& done) -> task<std::tuple<double, int>> {
    co_await yield();  // let the 8 commands be submitted first
    const auto s = clk::now();
    (co_await sleep_for(5ms)).value();
    co_return std::tuple{std::chrono::duration<double, std::milli>(clk::now() - s).count(), done};
  }(finished);
  auto [timer_res, reads_res] = sync_wait(ex, when_all(std::move(timer), when_all(std::move(reads))));
  const auto [timer_ms, done_when_fired] = timer_res;
  const double total_ms = uc_test::ms_since(t0);
  MESSAGE("timer: " << timer_ms << " ms; 8 slow commands: " << total_ms << " ms");
  CHECK(timer_ms < 500);            // on time, loosely (TCG guest)
  CHECK(done_when_fired == 0);      // while every command was still in flight
  CHECK(finished == 8);
  CHECK(total_ms >= 800);           // they really were slow
  CHECK(reads_res.size() == 8);
}

TEST_CASE("48 slow commands on one fd are in the kernel at once, beyond sg's 16 per open file") {
  const target t = require_scsi_debug();
  CAPTURE(t.sg);
  executor ex;
  auto sg = open_sg(t);
  uc_test::scsi_debug_param slow("ndelay", "400000000", "0");  // every scsi_debug response 0.4 s late
  const auto t0 = clk::now();
  std::vector<task<int>> reads;
  for (int i = 0; i < 48; ++i)
    reads.push_back([](int fd, int k) -> task<int> {
      std::array<std::byte, 512> buf{};
      auto r = co_await scsi::sg_command_in(fd, read10(std::uint32_t(8192 + k), 1), buf);
      co_return r && r->good() ? 0 : 1;
    }(sg.get(), i));
  const auto res = sync_wait(ex, when_all(std::move(reads)));
  const double total_ms = uc_test::ms_since(t0);
  MESSAGE("48 commands of 400 ms on one fd: " << total_ms << " ms");
  CHECK(std::count(res.begin(), res.end(), 0) == 48);
  CHECK(total_ms >= 380);
  CHECK(total_ms < 1000);  // 16 at a time would take 3 x 400 ms
}

TEST_CASE("the transport's own refusals are errnos or named errors, before or at write()") {
  const auto disks = require_disks();
  executor ex;
  // Not an sg node: the version ioctl is refused.
  uc_test::temp_file f;
  auto prep = scsi::sg_prepare_fd(f.fd.get());
  REQUIRE_FALSE(prep.has_value());
  CHECK(prep.error() == errno_code(ENOTTY));
  // Read-only: write() could not queue anything.
  unique_fd ro(::open(disks.front().sg.c_str(), O_RDONLY | O_CLOEXEC));
  REQUIRE(ro.get() >= 0);
  auto ro_prep = scsi::sg_prepare_fd(ro.get());
  REQUIRE_FALSE(ro_prep.has_value());
  CHECK(ro_prep.error() == errno_code(EBADF));

  auto sg = open_sg(disks.front());
  auto run = [&](std::span<const std::uint8_t> cdb, const scsi::command_options& o = {}) {
    return sync_wait(ex, [](int fd, std::span<const std::uint8_t> c, scsi::command_options oo) -> task<result<scsi::reply>> {
      co_return co_await scsi::sg_command(fd, c, oo);
    }(sg.get(), cdb, o));
  };
  const std::array<std::uint8_t, 33> too_long{};
  CHECK(run(too_long).error() == errc::payload_too_large);
  const std::array<std::uint8_t, 3> too_short{};  // sg wants at least 6 bytes
  CHECK(run(too_short).error() == errno_code(EMSGSIZE));
  scsi::command_options fixed;
  fixed.fixed_buffer = 0;
  CHECK(run(tur_cdb, fixed).error() == errno_code(EOPNOTSUPP));
  // The fd still works after the refusals (nothing was left queued on it).
  auto ok = run(tur_cdb);
  REQUIRE(ok.has_value());
  CHECK(ok->good());
}

TEST_CASE("a command the device never answers completes at its timeout_ms with host byte DID_TIME_OUT") {
  const target t = require_scsi_debug();
  CAPTURE(t.sg);
  executor ex;
  auto sg = open_sg(t);
  // scsi_debug drops commands (opts 4 = TIMEOUT, every_nth 1) for the first 300 ms only: ours is
  // dropped, the error handler's own commands after it are answered, so recovery is quick.
  std::optional<uc_test::scsi_debug_param> nth(std::in_place, "every_nth", "1", "0");
  std::optional<uc_test::scsi_debug_param> drop(std::in_place, "opts", "4", "0");
  scsi::command_options o;
  o.timeout_ms = 1500;
  const auto t0 = clk::now();
  auto [res, unused] = sync_wait(ex, when_all(
      [](int fd, scsi::command_options oo) -> task<scsi::reply> {
        co_return (co_await scsi::sg_command(fd, tur_cdb, oo)).value();
      }(sg.get(), o),
      [](std::optional<uc_test::scsi_debug_param>& a, std::optional<uc_test::scsi_debug_param>& b) -> task<void> {
        (co_await sleep_for(300ms)).value();
        b.reset();
        a.reset();
      }(nth, drop)));
  const scsi::reply r = res;
  const double ms = uc_test::ms_since(t0);
  MESSAGE("status " << int(r.status) << " host " << int(r.host) << " driver " << int(r.driver) << " after " << ms << " ms");
  CHECK(r.host == 0x03);  // DID_TIME_OUT
  CHECK_FALSE(r.good());
  CHECK(ms >= 1400);
  // The device answers again (after a UNIT ATTENTION or two, if the error handler reset it).
  const bool ready = sync_wait(ex, [](int fd) -> task<bool> {
    for (int i = 0; i < 3; ++i)
      if ((co_await scsi::sg_command(fd, tur_cdb)).value().good()) co_return true;
    co_return false;
  }(sg.get()));
  CHECK(ready);
}

// Not run by default (cost report, TCG timings): --test-case='*depth 1*' --no-skip
TEST_CASE("cost per command at depth 1: 1000 INQUIRYs through sg and through BSG io_uring" * doctest::skip()) {
  const target t = require_scsi_debug();
  constexpr int n = 1000;
  auto sg = open_sg(t);
  executor plain;
  const auto t0 = clk::now();
  const int sg_bad = sync_wait(plain, [](int fd) -> task<int> {
    int bad = 0;
    std::array<std::byte, 96> buf{};
    for (int i = 0; i < n; ++i) {
      auto r = co_await scsi::sg_command_in(fd, inq_cdb, buf);
      bad += !(r && r->good());
    }
    co_return bad;
  }(sg.get()));
  const double sg_us = uc_test::ms_since(t0) * 1000 / n;
  CHECK(sg_bad == 0);
  MESSAGE("sg: " << sg_us << " us per INQUIRY");

  unique_fd bsg(::open(("/dev/bsg/" + t.hctl).c_str(), O_RDWR | O_CLOEXEC));
  REQUIRE(bsg.get() >= 0);
  executor pt(ring_options::passthrough());
  const auto t1 = clk::now();
  const int bsg_res = sync_wait(pt, [](int fd) -> task<int> {
    int bad = 0;
    std::array<std::byte, 96> buf{};
    for (int i = 0; i < n; ++i) {
      auto r = co_await scsi::bsg_command_in(fd, inq_cdb, buf);
      if (!r) co_return -1;  // no BSG io_uring on this kernel
      bad += !r->good();
    }
    co_return bad;
  }(bsg.get()));
  if (bsg_res < 0) {
    MESSAGE("BSG io_uring: not supported by this kernel");
  } else {
    CHECK(bsg_res == 0);
    MESSAGE("BSG io_uring: " << uc_test::ms_since(t1) * 1000 / n << " us per INQUIRY");
  }
}
