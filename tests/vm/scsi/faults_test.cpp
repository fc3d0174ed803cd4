// SPDX-License-Identifier: MIT
// scsi::device against the faults scsi_debug injects: a medium-error range, a capacity beyond
// 2^32 blocks, a command the device never answers; and the SBC commands that change or check the
// medium (UNMAP, WRITE SAME, VERIFY), REPORT LUNS and MODE SENSE. Each case runs over every
// transport the kernel has (BSG io_uring on 7.1+, the sg fallback everywhere). The knobs are global
// to the scsi_debug host, so this binary has a VM boot of its own, with thin provisioning on
// (tests/vm/CMakeLists.txt). Runs INSIDE the test VM.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "host/helpers.hpp"
#include "support/command.hpp"
#include "vm/scsi/disks.hpp"

#include <uringcmd/scsi/device.hpp>
#include <uringcmd/uringcmd.hpp>

using namespace uringcmd;
using namespace std::chrono_literals;
using clk = std::chrono::steady_clock;

namespace {

// scsi_debug's fixed medium-error range (opts bit 2, SDEBUG_OPT_MEDIUM_ERR): 10 blocks from LBA
// 0x1234 (OPT_MEDIUM_ERR_ADDR); reads that touch it fail, naming the first bad LBA they reached.
constexpr std::uint64_t medium_error_lba = 0x1234;

// Every transport this kernel offers for the scsi_debug disk: the sg fallback always, BSG
// io_uring where open() picks it by itself.
std::vector<scsi::transport> transports(executor& ex, const uc_test::scsi_disk& d) {
  std::vector<scsi::transport> out{scsi::transport::sg_async};
  auto probe = sync_wait(ex, scsi::device::open(d.bsg));
  REQUIRE_MESSAGE(probe.has_value(), probe.describe());
  const bool bsg = probe->which() == scsi::transport::bsg_uring;
  CHECK(bsg == !kernel_predates(feature::bsg_uring_cmd));  // a kernel that has it must not fall back
  if (bsg) out.insert(out.begin(), scsi::transport::bsg_uring);
  else MESSAGE(feature_message(feature::bsg_uring_cmd) << ": the sg fallback only");
  return out;
}

std::string transport_name(scsi::transport t) { return t == scsi::transport::bsg_uring ? "bsg" : "sg"; }

// Opens the disk over `t` and clears the UNIT ATTENTIONs a knob change leaves (capacity changed,
// reset): the first commands after one report it once.
scsi::device open_ready(executor& ex, const uc_test::scsi_disk& d, scsi::transport t) {
  scsi::device_options o;
  o.force = t;
  auto dev = sync_wait(ex, scsi::device::open(d.bsg, o));
  REQUIRE_MESSAGE(dev.has_value(), dev.describe());
  bool ready = false;
  for (int i = 0; i < 4 && !ready; ++i) ready = sync_wait(ex, dev->test_unit_ready()).has_value();
  REQUIRE(ready);
  return std::move(dev).value();
}

}  // namespace

TEST_CASE("a read into scsi_debug's medium-error range is MEDIUM ERROR 11h/00h naming the first bad LBA") {
  const auto d = uc_test::require_scsi_debug();
  executor ex(ring_options::passthrough());
  uc_test::scsi_debug_param inject("opts", "2", "0");
  for (auto t : transports(ex, d)) {
    CAPTURE(transport_name(t));
    auto dev = open_ready(ex, d, t);
    std::vector<std::byte> buf(16 * 512);
    // From before the range: the error names its first block. From inside: the block read first.
    for (const std::uint64_t start : {medium_error_lba - 4, medium_error_lba + 2}) {
      CAPTURE(start);
      auto r = sync_wait(ex, dev.read(start, buf));
      REQUIRE_FALSE(r.has_value());
      MESSAGE(transport_name(t) << ": " << r.describe());
      CHECK(r.error() == scsi::errc::medium_error);
      CHECK(r.error() == std::errc::no_message_available);  // ENODATA, as the block layer says BLK_STS_MEDIUM
      REQUIRE(r.details().has_value());
      REQUIRE(r.details()->sense_data.has_value());
      const auto& s = *r.details()->sense_data;
      CHECK(s.key == scsi::sense_key::medium_error);
      CHECK(s.asc == 0x11);
      CHECK(s.ascq == 0x00);
      CHECK(s.valid);
      CHECK(s.information == std::max(start, medium_error_lba));
      CHECK(r.describe().find("Unrecovered read error") != std::string::npos);
    }
    // Blocks outside the range still read.
    CHECK(sync_wait(ex, dev.read(medium_error_lba + 10, buf)).has_value());
  }
}

TEST_CASE("a scsi_debug disk over 2 TiB: READ CAPACITY(16) and READ(16)/WRITE(16) beyond 2^32 blocks") {
  const auto d = uc_test::require_scsi_debug();
  executor ex(ring_options::passthrough());
  // 2100 GiB of LBAs over the 64 MiB store, which repeats every 131072 blocks.
  constexpr std::uint64_t gib = 2100;
  uc_test::scsi_debug_param big("virtual_gb", std::to_string(gib), "0");
  const std::uint64_t blocks = gib * (1ULL << 30) / 512;
  for (auto t : transports(ex, d)) {
    CAPTURE(transport_name(t));
    auto dev = open_ready(ex, d, t);
    auto cap = sync_wait(ex, dev.read_capacity());
    REQUIRE_MESSAGE(cap.has_value(), cap.describe());
    CHECK(cap->blocks() == blocks);
    CHECK(cap->blocks() > (1ULL << 32));
    CHECK(cap->bytes() == blocks * 512);
    // sg3_utils reads the same capacity.
    const std::string readcap = uc_test::command_output("sg_readcap --long " + d.sg);
    CHECK_MESSAGE(readcap.find("Last LBA=" + std::to_string(blocks - 1)) != std::string::npos, readcap);

    // Written at 2^32 + 100 with WRITE(16) (read()/write() pick the CDB by LBA)...
    const std::uint64_t far = (1ULL << 32) + 100;
    const auto out = uc_test::pattern(8 * 512, unsigned(t) + 7);
    auto w = sync_wait(ex, dev.write(far, out));
    REQUIRE_MESSAGE(w.has_value(), w.describe());
    std::vector<std::byte> back(out.size());
    auto r = sync_wait(ex, dev.read16(far, 8, back));
    REQUIRE_MESSAGE(r.has_value(), r.describe());
    CHECK(back == out);
    // ...and the store repeats every 131072 blocks, so the same bytes are at LBA 100: the LBA
    // went to the device whole, not cut to 32 bits plus something else.
    std::fill(back.begin(), back.end(), std::byte{0});
    REQUIRE(sync_wait(ex, dev.read10(100, 8, back)).has_value());
    CHECK(back == out);
    // The last block reads; one past it is out of range.
    std::vector<std::byte> one(512);
    CHECK(sync_wait(ex, dev.read(blocks - 1, one)).has_value());
    auto past = sync_wait(ex, dev.read(blocks, one));
    CHECK(past.error() == scsi::errc::illegal_request);
  }
}

TEST_CASE("a command scsi_debug never answers fails at its timeout_ms with ETIMEDOUT and host byte DID_TIME_OUT") {
  const auto d = uc_test::require_scsi_debug();
  executor ex(ring_options::passthrough());
  for (auto t : transports(ex, d)) {
    CAPTURE(transport_name(t));
    auto dev = open_ready(ex, d, t);
    // scsi_debug drops every command (opts 4 = TIMEOUT, every_nth 1) for the first 300 ms only:
    // ours is dropped; the error handler's own commands after it are answered, so recovery is quick.
    using knob = std::unique_ptr<uc_test::scsi_debug_param>;
    knob nth = std::make_unique<uc_test::scsi_debug_param>("every_nth", "1", "0");
    knob drop = std::make_unique<uc_test::scsi_debug_param>("opts", "4", "0");
    const auto t0 = clk::now();
    auto [r, unused] = sync_wait(ex, when_all(dev.execute(scsi::test_unit_ready(), scsi::data_dir::none, {}, 1500),
                                              [](knob& a, knob& b) -> task<void> {
                                                (co_await sleep_for(300ms)).value();
                                                b.reset();
                                                a.reset();
                                              }(nth, drop)));
    const double ms = uc_test::ms_since(t0);
    MESSAGE(transport_name(t) << ": " << r.describe() << " after " << ms << " ms");
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == scsi::errc::transport_timeout);
    CHECK(r.error() == std::errc::timed_out);
    REQUIRE(r.details().has_value());
    CHECK(r.details()->host == 0x03);  // DID_TIME_OUT
    CHECK(ms >= 1400);
    // with_timeout is the same deadline, set on the command itself: a short one expires too.
    CHECK(r.describe().find("DID_TIME_OUT") != std::string::npos);
    open_ready(ex, d, t);  // the device answers again once the error handler is done
  }
}

TEST_CASE("UNMAP and WRITE SAME with UNMAP deallocate blocks that then read as zeros, and VERIFY checks them") {
  const auto d = uc_test::require_scsi_debug();
  executor ex(ring_options::passthrough());
  // Thin provisioning is on (lbpu, lbpws, lbpws10: module parameters of this test's boot): scsi_debug
  // answers UNMAP and WRITE SAME's UNMAP bit, and reads deallocated blocks as zeros (LBPRZ).
  for (auto t : transports(ex, d)) {
    CAPTURE(transport_name(t));
    auto dev = open_ready(ex, d, t);
    const auto cap = sync_wait(ex, dev.read_capacity()).value();
    CHECK(cap.lbpme);
    const auto data = uc_test::pattern(64 * 512, 3);
    std::vector<std::byte> back(data.size());
    const std::vector<std::byte> zeros(data.size());

    REQUIRE(sync_wait(ex, dev.write(2048, data)).has_value());
    auto u = sync_wait(ex, dev.unmap(2048, 64));
    REQUIRE_MESSAGE(u.has_value(), u.describe());
    REQUIRE(sync_wait(ex, dev.read(2048, back)).has_value());
    CHECK(back == zeros);

    REQUIRE(sync_wait(ex, dev.write(2048, data)).has_value());
    const std::vector<std::byte> zero_block(512);
    auto ws = sync_wait(ex, dev.write_same(2048, 64, zero_block, {.unmap = true}));
    REQUIRE_MESSAGE(ws.has_value(), ws.describe());
    REQUIRE(sync_wait(ex, dev.read(2048, back)).has_value());
    CHECK(back == zeros);

    // WRITE SAME without UNMAP writes the block everywhere.
    const auto block = uc_test::pattern(512, 9);
    REQUIRE(sync_wait(ex, dev.write_same(4096, 8, block)).has_value());
    std::vector<std::byte> eight(8 * 512);
    REQUIRE(sync_wait(ex, dev.read(4096, eight)).has_value());
    for (std::size_t i = 0; i < 8; ++i) CHECK(std::equal(block.begin(), block.end(), eight.begin() + std::ptrdiff_t(i * 512)));
    // A block of the wrong size never reaches the device.
    CHECK(sync_wait(ex, dev.write_same(4096, 8, std::span(block).first(100))).error() == std::errc::invalid_argument);

    // Neither scsi_debug nor QEMU range-checks a VERIFY without BYTCHK (both answer GOOD past the
    // end), so only the in-range answer is checked here.
    CHECK(sync_wait(ex, dev.verify(0, 128)).has_value());
    CHECK(sync_wait(ex, dev.verify(cap.blocks() - 8, 8)).has_value());
  }
}

TEST_CASE("REPORT LUNS, MODE SENSE and a raw CDB through scsi::device") {
  const auto d = uc_test::require_scsi_debug();
  executor ex(ring_options::passthrough());
  for (auto t : transports(ex, d)) {
    CAPTURE(transport_name(t));
    auto dev = open_ready(ex, d, t);
    std::vector<std::byte> buf(512);
    auto l = sync_wait(ex, dev.report_luns(buf));
    REQUIRE_MESSAGE(l.has_value(), l.describe());
    REQUIRE(l->size() >= 1);
    CHECK_FALSE(l->truncated());
    CHECK(l->luns()[0].linux_lun() == 0);
    // Too small a buffer: the list says so, and how much it needs.
    auto small = sync_wait(ex, dev.report_luns(std::span(buf).first(8)));
    REQUIRE(small.has_value());
    CHECK(small->required_allocation_length() >= 16);

    // The caching page (08h): WCE as the sd driver read it at probe ("write back" = WCE 1).
    auto m = sync_wait(ex, dev.mode_sense(scsi::mode_pages::caching, buf));
    REQUIRE_MESSAGE(m.has_value(), m.describe());
    const auto page = m->find_page(scsi::mode_pages::caching);
    REQUIRE(page.has_value());
    const auto ca = scsi::decode_caching_page(*page);
    REQUIRE(ca.has_value());
    const std::string cache_type = uc_test::command_output("cat /sys/class/scsi_disk/" + d.hctl + "/cache_type");
    CHECK_MESSAGE(ca->wce == (cache_type.find("write back") != std::string::npos), cache_type);
    // A page the device does not have: ILLEGAL REQUEST, INVALID FIELD IN CDB.
    auto none = sync_wait(ex, dev.mode_sense(0x2a, buf));
    CHECK(none.error() == scsi::errc::illegal_request);
    // The raw escape hatch: TEST UNIT READY as bytes; an empty CDB is refused before sending.
    const std::uint8_t tur[6]{};
    CHECK(sync_wait(ex, dev.raw(tur)).has_value());
    CHECK(sync_wait(ex, dev.raw({})).error() == std::errc::invalid_argument);
  }
}
