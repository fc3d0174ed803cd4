// SPDX-License-Identifier: MIT
// The SCSI response parsers (inquiry, capacity, luns, mode, opcodes_report) on responses built by
// hand from the SPC-6 / SBC-5 tables, some shaped after what scsi_debug and QEMU return; then on
// every truncation of them and on random bytes. Every input lives in an exactly sized
// std::vector, so that under ASan a read past what the "device" returned is caught; results
// borrow their input, so each cut input is kept in a named vector while its result is used.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <initializer_list>
#include <random>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include <doctest/doctest.h>
#include <range/v3/algorithm/find_if.hpp>
#include <range/v3/range/concepts.hpp>
#include <range/v3/range/conversion.hpp>
#include <range/v3/range/operations.hpp>
#include <range/v3/view/take.hpp>

#include <uringcmd/scsi/capacity.hpp>
#include <uringcmd/scsi/inquiry.hpp>
#include <uringcmd/scsi/luns.hpp>
#include <uringcmd/scsi/mode.hpp>
#include <uringcmd/scsi/opcodes_report.hpp>

using namespace uringcmd::scsi;
using bytes = std::vector<std::uint8_t>;

namespace {

// Builds a response byte by byte, big-endian, as the spec's tables lay it out.
struct builder {
  bytes v;
  builder& u8(unsigned x) {
    v.push_back(static_cast<std::uint8_t>(x));
    return *this;
  }
  builder& raw(std::initializer_list<unsigned> xs) {
    for (unsigned x : xs) u8(x);
    return *this;
  }
  builder& be(std::size_t n, std::uint64_t x) {
    for (std::size_t i = 0; i < n; ++i) u8(static_cast<unsigned>((x >> (8 * (n - 1 - i))) & 0xFF));
    return *this;
  }
  // `s` padded with `pad` to `width` bytes.
  builder& str(std::string_view s, std::size_t width, unsigned pad = ' ') {
    for (std::size_t i = 0; i < width; ++i) u8(i < s.size() ? static_cast<unsigned char>(s[i]) : pad);
    return *this;
  }
  builder& zeros(std::size_t n) { return str("", n, 0); }
  builder& pad_to(std::size_t n) { return zeros(n > v.size() ? n - v.size() : 0); }
  // Writes the `n`-byte length field at `at`: the bytes after `after`.
  builder& length_at(std::size_t at, std::size_t n, std::size_t after) {
    put_be<8>(tmp, v.size() - after);
    for (std::size_t i = 0; i < n; ++i) v[at + i] = tmp[8 - n + i];
    return *this;
  }
  bytes done() const { return v; }
  std::uint8_t tmp[8]{};
};

// ---- Samples ---------------------------------------------------------------------------------

// Standard INQUIRY data (SPC-6 "Standard INQUIRY data format") shaped after scsi_debug's
// (drivers/scsi/scsi_debug.c, resp_inquiry): 96 bytes, SPC-5, implicit ALUA, MultiP, CmdQue.
bytes scsi_debug_inquiry() {
  builder b;
  b.raw({0x00, 0x00, 0x07, 0x02, 0x00, 0x10, 0x10, 0x0A});
  b.str("Linux", 8).str("scsi_debug", 16).str("0191", 4);
  b.pad_to(58).raw({0x00, 0xC0, 0x05, 0xC0, 0x04, 0x60, 0x06, 0x00});  // version descriptors
  b.pad_to(96).length_at(4, 1, 5);
  return b.done();
}

// QEMU's scsi-hd behind virtio-scsi (hw/scsi/scsi-disk.c, scsi_disk_emulate_inquiry): 36 bytes,
// SPC-3, HiSup, response data format 2, CmdQue.
bytes qemu_inquiry() {
  builder b;
  b.raw({0x00, 0x00, 0x05, 0x12, 0x1F, 0x00, 0x00, 0x12});
  b.str("QEMU", 8).str("QEMU HARDDISK", 16).str("2.5+", 4);
  return b.done();
}

// Every bit of bytes 0-7 set that the parser decodes.
bytes all_bits_inquiry() {
  builder b;
  b.raw({0x3F, 0x80, 0x06, 0x32, 0x00, 0xF9, 0x50, 0x02});
  b.str("ATA", 8).str("Samsung SSD 870", 16).str("1B6Q", 4);
  b.length_at(4, 1, 5);
  return b.done();
}

// SPC-6 "Supported VPD Pages VPD page".
bytes vpd00_sample() {
  builder b;
  b.raw({0x00, 0x00, 0x00, 0x00}).raw({0x00, 0x80, 0x83, 0x86, 0x87, 0x88, 0x89, 0xB0, 0xB1, 0xB2});
  return b.length_at(2, 2, 4).done();
}

// SPC-6 "Unit Serial Number VPD page", right-aligned serial.
bytes vpd80_sample() {
  builder b;
  b.raw({0x00, 0x80, 0x00, 0x00}).str("    S4EWNX0R123456", 20);
  return b.length_at(2, 2, 4).done();
}

// SPC-6 "Device Identification VPD page" shaped after scsi_debug's (inquiry_vpd_83): T10 vendor
// ID, NAA-3 of the LU, SAS relative target port, NAA-3 of the port, target port group, NAA-3 of
// the target device and a SCSI name string.
bytes scsi_debug_vpd83() {
  builder b;
  b.raw({0x00, 0x83, 0x00, 0x00});
  b.raw({0x02, 0x01, 0x00, 28}).str("Linux", 8).str("scsi_debug", 16).str("2000", 4);
  b.raw({0x01, 0x03, 0x00, 0x08}).be(8, 0x33333330000007D0ULL);
  b.raw({0x61, 0x94, 0x00, 0x04}).be(4, 1);
  b.raw({0x61, 0x93, 0x00, 0x08}).be(8, 0x5222222000000001ULL);
  b.raw({0x01, 0x95, 0x00, 0x04}).be(4, 0x0100);
  b.raw({0x61, 0xA3, 0x00, 0x08}).be(8, 0x32222220000007D0ULL);
  b.raw({0x63, 0xA8, 0x00, 24}).str("naa.32222220000007D0", 24, 0);
  return b.length_at(2, 2, 4).done();
}

// QEMU scsi-hd's page 83h (scsi_disk_emulate_vpd_page): a vendor specific ASCII device id and,
// with wwn= set, an NAA designator.
bytes qemu_vpd83() {
  builder b;
  b.raw({0x00, 0x83, 0x00, 0x00});
  b.raw({0x02, 0x00, 0x00, 17}).str("drive-scsi0-0-0-0", 17);
  b.raw({0x01, 0x03, 0x00, 0x08}).be(8, 0x5000C500A1B2C3D4ULL);
  return b.length_at(2, 2, 4).done();
}

// SBC-5 "Block Limits VPD page", the full 64 bytes with every field non-zero.
bytes vpdb0_sample() {
  builder b;
  b.raw({0x00, 0xB0, 0x00, 0x3C});
  b.u8(0x01).u8(0x01).be(2, 8).be(4, 0x4000).be(4, 0x400).be(4, 0x800);
  b.be(4, 0xFFFFFFFF).be(4, 0x100).be(4, 8).be(4, 0x80000003).be(8, 0x400000);
  b.be(4, 0x100).be(4, 1).be(4, 2).be(4, 0x80).be(4, 0x10);
  return b.done();
}

// SBC-5 "Block Device Characteristics VPD page": non-rotating, 2.5", WABEREQ=1, WACEREQ=1,
// host aware zoned, FUAB, VBULS.
bytes vpdb1_sample() {
  builder b;
  b.raw({0x00, 0xB1, 0x00, 0x3C}).be(2, 1).u8(0x00).u8(0x53).u8(0x13);
  return b.pad_to(64).done();
}

// SBC-5 "Logical Block Provisioning VPD page": thin, LBPU+LBPWS+LBPWS10, LBPRZ=1, ANC_SUP, DP
// with an NAA provisioning group descriptor.
bytes vpdb2_sample() {
  builder b;
  b.raw({0x00, 0xB2, 0x00, 0x00}).u8(0x09).u8(0xE7).u8(0x52).u8(0x50);
  b.raw({0x01, 0x03, 0x00, 0x08}).be(8, 0x600A0B8000112233ULL);
  return b.length_at(2, 2, 4).done();
}

// SBC-5 "READ CAPACITY (10) parameter data": 1 GiB of 512-byte blocks.
bytes rc10_sample() { return builder{}.be(4, 0x1FFFFF).be(4, 512).done(); }

// SBC-5 "READ CAPACITY (16) parameter data": a 1 TB disk of 512-byte logical and 4096-byte
// physical blocks, type 2 protection (P_TYPE=1, PROT_EN), LBPME, LBPRZ, lowest aligned LBA 7.
bytes rc16_sample() {
  builder b;
  b.be(8, 1953525167).be(4, 512).u8(0x03).u8(0x23).u8(0xC0).u8(0x07);
  return b.pad_to(32).done();
}

// SPC-6 "REPORT LUNS parameter data format": LUN 0, LUN 1 (peripheral), LUN 261 (flat space).
bytes luns_sample() {
  builder b;
  b.be(4, 24).be(4, 0).be(8, 0).be(8, 0x0001000000000000ULL).be(8, 0x4105000000000000ULL);
  return b.done();
}

// MODE SENSE(6) (SPC-6 "Mode parameter header(6)"): WP, DPOFUA, one short LBA block descriptor
// (SBC-5), the Caching page (SBC-5) and the Control page (SPC-6).
bytes mode6_sample() {
  builder b;
  b.raw({0x00, 0x00, 0x90, 0x08});
  b.be(4, 0x200000).u8(0).be(3, 512);
  b.raw({0x88, 0x12, 0x04, 0x00}).be(2, 0xFFFF).be(2, 0).be(2, 0xFFFF).be(2, 0xFFFF);
  b.raw({0xA0, 0x14}).be(2, 0).zeros(4);
  b.raw({0x0A, 0x0A, 0x06, 0x12, 0x08, 0x40, 0x00, 0x00}).be(2, 0xFFFF).be(2, 30);
  return b.length_at(0, 1, 1).done();
}

// MODE SENSE(10) (SPC-6 "Mode parameter header(10)"): LONGLBA, one long LBA block descriptor,
// the Control Extension subpage 0Ah/01h (sub_page format) and the Caching page with RCD.
bytes mode10_sample() {
  builder b;
  b.raw({0x00, 0x00, 0x00, 0x00, 0x01, 0x00}).be(2, 16);
  b.be(8, 0x100000000ULL).zeros(4).be(4, 4096);
  b.raw({0x4A, 0x01}).be(2, 0x1C).zeros(0x1C);
  b.raw({0x08, 0x12, 0x01, 0x00}).zeros(16);
  return b.length_at(0, 2, 2).done();
}

// REPORT SUPPORTED OPERATION CODES, SPC-6 "All_commands parameter data": TEST UNIT READY,
// INQUIRY, READ CAPACITY(16) (9Eh/10h), READ(16) with a command timeouts descriptor, and
// REPORT SUPPORTED OPERATION CODES (A3h/0Ch).
bytes rsoc_all_sample() {
  builder b;
  b.be(4, 0);
  b.raw({0x00, 0, 0, 0, 0, 0x00}).be(2, 6);
  b.raw({0x12, 0, 0, 0, 0, 0x00}).be(2, 6);
  b.raw({0x9E, 0, 0x00, 0x10, 0, 0x01}).be(2, 16);
  b.raw({0x88, 0, 0, 0, 0, 0x02}).be(2, 16).be(2, 0x0A).u8(0).u8(0).be(4, 30).be(4, 60);
  b.raw({0xA3, 0, 0x00, 0x0C, 0, 0x01}).be(2, 12);
  return b.length_at(0, 4, 4).done();
}

// SPC-6 "One_command parameter data" for READ(10), supported per standard, with timeouts.
bytes rsoc_one_sample() {
  builder b;
  b.raw({0x00, 0x83}).be(2, 10).raw({0x28, 0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F, 0xFF, 0xFF, 0x07});
  b.be(2, 0x0A).u8(0).u8(0).be(4, 5).be(4, 10);
  return b.done();
}

// ---- Running everything over one input -------------------------------------------------------

// Parses `in` with every parser, iterates every range and reads every field, so that a read past
// the input's end shows up under ASan. Returns how many parsers ran and range elements were
// visited.
struct exercise_count {
  std::size_t parses = 0;
  std::size_t elements = 0;
};

template <class T>
void touch(const std::optional<T>& o, std::uint64_t& sink) {
  if (o) sink += static_cast<std::uint64_t>(*o);
}
void touch_text(std::optional<std::string_view> s, std::uint64_t& sink) {
  if (s)
    for (char c : *s) sink += static_cast<unsigned char>(c);
}
void touch_span(std::span<const std::uint8_t> s, std::uint64_t& sink) {
  for (std::uint8_t c : s) sink += c;
}

exercise_count exercise(std::span<const std::uint8_t> in) {
  exercise_count n;
  std::uint64_t sink = 0;
  auto designators = [&](designator_view v) {
    for (const designator& d : v) {
      ++n.elements;
      sink += d.protocol_identifier + static_cast<unsigned>(d.type) + designator_type_name(d.type).size();
      touch_span(d.bytes, sink);
      touch_text(d.text(), sink);
    }
  };
  ++n.parses;
  if (auto s = parse_standard_inquiry(in)) {
    sink += s->version + s->additional_length;
    touch(s->tpgs, sink);
    touch(s->cmd_que, sink);
    touch_text(s->vendor, sink);
    touch_text(s->product, sink);
    touch_text(s->revision, sink);
  }
  ++n.parses;
  if (auto p = parse_supported_vpd_pages(in)) sink += p->supports(0x83) ? 1 : 0, touch_span(p->codes, sink);
  ++n.parses;
  if (auto p = parse_unit_serial_number(in)) touch_text(p->serial, sink);
  ++n.parses;
  if (auto p = parse_device_identification(in)) designators(p->designators());
  ++n.parses;
  if (auto b = parse_block_limits(in)) {
    touch(b->wsnz, sink);
    touch(b->maximum_transfer_length, sink);
    touch(b->unmap_granularity_alignment, sink);
    touch(b->maximum_write_same_length, sink);
    touch(b->maximum_atomic_boundary_size, sink);
  }
  ++n.parses;
  if (auto c = parse_block_device_characteristics(in)) {
    touch(c->medium_rotation_rate, sink);
    touch(c->vbuls, sink);
  }
  ++n.parses;
  if (auto l = parse_logical_block_provisioning(in)) {
    touch(l->lbprz, sink);
    touch(l->threshold_percentage, sink);
    designators(l->provisioning_group());
  }
  ++n.parses;
  if (auto c = parse_read_capacity10(in)) touch(c->total_bytes(), sink);
  ++n.parses;
  if (auto c = parse_read_capacity16(in)) {
    touch(c->total_bytes(), sink);
    touch(c->protection_type(), sink);
    touch(c->physical_block_length(), sink);
    touch(c->lowest_aligned_lba, sink);
  }
  ++n.parses;
  if (auto l = parse_report_luns(in)) {
    for (lun x : l->luns()) {
      ++n.elements;
      sink += x.linux_lun();
      touch(x.single_level(), sink);
    }
  }
  for (auto parse : {parse_mode_sense6, parse_mode_sense10}) {
    ++n.parses;
    if (auto m = parse(in)) {
      for (block_descriptor d : m->block_descriptors()) ++n.elements, sink += d.number_of_blocks + d.block_length;
      for (const mode_page& p : m->pages()) {
        ++n.elements;
        touch_span(p.bytes, sink);
        if (auto c = decode_caching_page(p)) sink += c->wce, touch(c->cache_segment_size, sink);
        if (auto c = decode_control_page(p)) touch(c->extended_self_test_completion_time, sink);
      }
    }
  }
  ++n.parses;
  if (auto a = parse_all_commands_report(in)) {
    for (const command_descriptor& d : a->descriptors()) {
      ++n.elements;
      sink += d.opcode + d.service_action + d.cdb_length;
      if (d.timeouts) sink += d.timeouts->recommended_command_timeout;
    }
  }
  ++n.parses;
  if (auto o = parse_one_command_report(in)) {
    touch_span(o->cdb_usage_data, sink);
    if (o->timeouts) sink += o->timeouts->nominal_command_processing_timeout;
  }
  // Keep the reads from being optimized away.
  volatile std::uint64_t keep = sink;
  (void)keep;
  return n;
}

std::vector<bytes> all_samples() {
  return {scsi_debug_inquiry(), qemu_inquiry(),  all_bits_inquiry(), vpd00_sample(), vpd80_sample(),
          scsi_debug_vpd83(),   qemu_vpd83(),    vpdb0_sample(),     vpdb1_sample(), vpdb2_sample(),
          rc10_sample(),        rc16_sample(),   luns_sample(),      mode6_sample(), mode10_sample(),
          rsoc_all_sample(),    rsoc_one_sample()};
}

bytes prefix(const bytes& b, std::size_t n) { return bytes(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n)); }

}  // namespace

// ---- Range concepts ----------------------------------------------------------------------------

static_assert(ranges::forward_range<designator_view> && ranges::common_range<designator_view>);
static_assert(ranges::view_<designator_view>);
static_assert(ranges::forward_range<mode_page_view> && ranges::common_range<mode_page_view>);
static_assert(ranges::view_<mode_page_view>);
static_assert(ranges::forward_range<command_descriptor_view> && ranges::common_range<command_descriptor_view>);
static_assert(ranges::view_<command_descriptor_view>);
static_assert(ranges::random_access_range<decltype(std::declval<report_luns_data>().luns())>);
static_assert(ranges::sized_range<decltype(std::declval<report_luns_data>().luns())>);
static_assert(ranges::random_access_range<decltype(std::declval<mode_parameters>().block_descriptors())>);

// ---- Standard INQUIRY --------------------------------------------------------------------------

TEST_CASE("Standard INQUIRY of a scsi_debug disk decodes field by field") {
  const bytes in = scsi_debug_inquiry();
  auto s = parse_standard_inquiry(in);
  REQUIRE(s);
  CHECK(s->peripheral_qualifier == 0);
  CHECK(s->device_type == 0);
  CHECK_FALSE(s->rmb);
  CHECK(s->version == 7);
  CHECK_FALSE(s->norm_aca);
  CHECK_FALSE(s->hi_sup);
  CHECK(s->response_data_format == 2);
  CHECK(s->additional_length == 91);
  CHECK_FALSE(s->truncated);
  CHECK(s->sccs == false);
  CHECK(s->acc == false);
  CHECK(s->tpgs == 1);
  CHECK(s->three_pc == false);
  CHECK(s->protect == false);
  CHECK(s->enc_serv == false);
  CHECK(s->multi_p == true);
  CHECK(s->cmd_que == true);
  CHECK(s->vendor == "Linux");
  CHECK(s->product == "scsi_debug");
  CHECK(s->revision == "0191");
}

TEST_CASE("Standard INQUIRY of a QEMU virtio-scsi disk decodes field by field") {
  const bytes in = qemu_inquiry();
  auto s = parse_standard_inquiry(in);
  REQUIRE(s);
  CHECK(s->device_type == 0);
  CHECK(s->version == 5);
  CHECK(s->hi_sup);
  CHECK(s->response_data_format == 2);
  CHECK(s->additional_length == 31);
  CHECK_FALSE(s->truncated);
  CHECK(s->tpgs == 0);
  CHECK(s->cmd_que == true);
  CHECK(s->multi_p == false);
  CHECK(s->vendor == "QEMU");
  CHECK(s->product == "QEMU HARDDISK");
  CHECK(s->revision == "2.5+");
}

TEST_CASE("Standard INQUIRY decodes every flag of bytes 0 to 7") {
  const bytes in = all_bits_inquiry();
  auto s = parse_standard_inquiry(in);
  REQUIRE(s);
  CHECK(s->peripheral_qualifier == 1);
  CHECK(s->device_type == 0x1F);
  CHECK(s->rmb);
  CHECK(s->norm_aca);
  CHECK(s->hi_sup);
  CHECK(s->sccs == true);
  CHECK(s->acc == true);
  CHECK(s->tpgs == 3);
  CHECK(s->three_pc == true);
  CHECK(s->protect == true);
  CHECK(s->enc_serv == true);
  CHECK(s->multi_p == true);
  CHECK(s->cmd_que == true);
  CHECK(s->product == "Samsung SSD 870");
}

TEST_CASE("Standard INQUIRY needs the 5-byte header and leaves fields it did not get absent") {
  const bytes full = qemu_inquiry();
  for (std::size_t n = 0; n < 5; ++n) CHECK_FALSE(parse_standard_inquiry(prefix(full, n)));
  const bytes five_in = prefix(full, 5);
  auto five = parse_standard_inquiry(five_in);
  REQUIRE(five);
  CHECK(five->truncated);
  CHECK_FALSE(five->cmd_que);
  CHECK_FALSE(five->vendor);
  const bytes s_in = prefix(full, 30);
  auto s = parse_standard_inquiry(s_in);  // the product ends at byte 31
  REQUIRE(s);
  CHECK(s->vendor == "QEMU");
  CHECK_FALSE(s->product);
  CHECK_FALSE(s->revision);
}

TEST_CASE("Standard INQUIRY ignores bytes past the additional length") {
  bytes in = qemu_inquiry();
  in[4] = 3;  // the device says only bytes 5-7 follow
  auto s = parse_standard_inquiry(in);
  REQUIRE(s);
  CHECK_FALSE(s->truncated);
  CHECK(s->cmd_que == true);
  CHECK_FALSE(s->vendor);
}

// ---- VPD pages ---------------------------------------------------------------------------------

TEST_CASE("VPD 00h lists the supported pages") {
  const bytes in = vpd00_sample();
  auto p = parse_supported_vpd_pages(in);
  REQUIRE(p);
  CHECK(p->page.page_code == 0x00);
  CHECK(p->page.page_length == 10);
  CHECK(p->codes.size() == 10);
  CHECK(p->supports(0xB0));
  CHECK_FALSE(p->supports(0xB6));
  const bytes cut_in = prefix(in, 7);
  auto cut = parse_supported_vpd_pages(cut_in);
  REQUIRE(cut);
  CHECK(cut->page.truncated);
  CHECK(cut->codes.size() == 3);
  CHECK_FALSE(cut->supports(0x86));
}

TEST_CASE("VPD 80h gives the serial number without its padding") {
  const bytes in = vpd80_sample();
  auto p = parse_unit_serial_number(in);
  REQUIRE(p);
  CHECK(p->serial == "S4EWNX0R123456");
  CHECK_FALSE(p->page.truncated);
}

TEST_CASE("VPD parsers reject a page with another page code or without a header") {
  const bytes b0 = vpdb0_sample();
  CHECK_FALSE(parse_block_device_characteristics(b0));
  CHECK_FALSE(parse_device_identification(b0));
  CHECK_FALSE(parse_unit_serial_number(b0));
  CHECK(parse_vpd_page(b0));
  CHECK_FALSE(parse_vpd_page(prefix(b0, 3)));
  CHECK_FALSE(parse_block_limits(prefix(b0, 3)));
}

TEST_CASE("VPD 83h of scsi_debug yields each designator with its fields") {
  const bytes in = scsi_debug_vpd83();
  auto id = parse_device_identification(in);
  REQUIRE(id);
  const auto ds = id->designators() | ranges::to<std::vector>();
  REQUIRE(ds.size() == 7);
  CHECK(ds[0].type == designator_type::t10_vendor_id);
  CHECK(ds[0].code_set == designator_code_set::ascii);
  CHECK(ds[0].association == designator_association::logical_unit);
  CHECK(ds[0].text() == "Linux   scsi_debug      2000");
  CHECK(ds[1].type == designator_type::naa);
  CHECK(ds[1].code_set == designator_code_set::binary);
  CHECK_FALSE(ds[1].text());
  CHECK(ds[1].bytes.size() == 8);
  CHECK(ds[1].bytes[0] == 0x33);
  CHECK(ds[2].type == designator_type::relative_target_port);
  CHECK(ds[2].piv);
  CHECK(ds[2].protocol_identifier == 6);  // SAS
  CHECK(ds[2].association == designator_association::target_port);
  CHECK(ds[2].bytes[3] == 1);
  CHECK(ds[4].type == designator_type::target_port_group);
  CHECK(ds[4].piv);
  CHECK(ds[5].association == designator_association::target_device);
  CHECK(ds[6].type == designator_type::scsi_name_string);
  CHECK(ds[6].code_set == designator_code_set::utf8);
  CHECK(ds[6].text() == "naa.32222220000007D0");
  // Lazy: finding the LU's NAA stops there.
  const designator_view all = id->designators();
  auto naa = ranges::find_if(all, [](const designator& d) {
    return d.type == designator_type::naa && d.association == designator_association::logical_unit;
  });
  REQUIRE(naa != ranges::end(all));
  CHECK((*naa).bytes.back() == 0xD0);
}

TEST_CASE("VPD 83h of a QEMU disk has a vendor specific id and an NAA") {
  const bytes in = qemu_vpd83();
  auto id = parse_device_identification(in);
  REQUIRE(id);
  const auto ds = id->designators() | ranges::to<std::vector>();
  REQUIRE(ds.size() == 2);
  CHECK(ds[0].type == designator_type::vendor_specific);
  CHECK(ds[0].text() == "drive-scsi0-0-0-0");
  CHECK(ds[1].type == designator_type::naa);
  CHECK((ds[1].bytes[0] >> 4) == 5);  // NAA IEEE Registered
}

TEST_CASE("VPD 83h designator iteration stops at a truncated designator") {
  const bytes full = scsi_debug_vpd83();
  // 4 (page header) + 32 (T10) + 12 (NAA) + 3 bytes of the next one.
  const bytes id_in = prefix(full, 4 + 32 + 12 + 3);
  auto id = parse_device_identification(id_in);
  REQUIRE(id);
  CHECK(id->page.truncated);
  CHECK(ranges::distance(id->designators()) == 2);
  // A designator length that runs past the page length ends it too, whatever was returned.
  bytes lying = full;
  lying[3] = 4 + 32 + 5;  // page length cuts the NAA designator
  auto l = parse_device_identification(lying);
  REQUIRE(l);
  CHECK_FALSE(l->page.truncated);
  CHECK(ranges::distance(l->designators()) == 1);
}

TEST_CASE("VPD designator type names follow SPC-6") {
  CHECK(designator_type_name(designator_type::t10_vendor_id) == "T10 vendor ID based");
  CHECK(designator_type_name(designator_type::eui64) == "EUI-64 based");
  CHECK(designator_type_name(designator_type::naa) == "NAA");
  CHECK(designator_type_name(designator_type::relative_target_port) == "relative target port identifier");
  CHECK(designator_type_name(designator_type::target_port_group) == "target port group");
  CHECK(designator_type_name(designator_type::logical_unit_group) == "logical unit group");
  CHECK(designator_type_name(designator_type::md5_logical_unit) == "MD5 logical unit identifier");
  CHECK(designator_type_name(designator_type::scsi_name_string) == "SCSI name string");
  CHECK(designator_type_name(designator_type::protocol_specific_port) == "protocol specific port identifier");
  CHECK(designator_type_name(designator_type::uuid) == "UUID identifier");
  CHECK(designator_type_name(static_cast<designator_type>(0xC)) == "reserved");
  CHECK(designator_association_name(designator_association::target_device) == "target device");
}

TEST_CASE("VPD B0h block limits decode field by field") {
  const bytes in = vpdb0_sample();
  auto b = parse_block_limits(in);
  REQUIRE(b);
  CHECK(b->wsnz == true);
  CHECK(b->maximum_compare_and_write_length == 1);
  CHECK(b->optimal_transfer_length_granularity == 8);
  CHECK(b->maximum_transfer_length == 0x4000U);
  CHECK(b->optimal_transfer_length == 0x400U);
  CHECK(b->maximum_prefetch_length == 0x800U);
  CHECK(b->maximum_unmap_lba_count == 0xFFFFFFFFU);
  CHECK(b->maximum_unmap_block_descriptor_count == 0x100U);
  CHECK(b->optimal_unmap_granularity == 8U);
  CHECK(b->ugavalid == true);
  CHECK(b->unmap_granularity_alignment == 3U);
  CHECK(b->maximum_write_same_length == 0x400000U);
  CHECK(b->maximum_atomic_transfer_length == 0x100U);
  CHECK(b->atomic_alignment == 1U);
  CHECK(b->atomic_transfer_length_granularity == 2U);
  CHECK(b->maximum_atomic_transfer_length_with_atomic_boundary == 0x80U);
  CHECK(b->maximum_atomic_boundary_size == 0x10U);
}

TEST_CASE("VPD B0h of an SBC-2 device (page length 0Ch) leaves the later fields absent") {
  bytes in = prefix(vpdb0_sample(), 16);
  in[3] = 0x0C;
  auto b = parse_block_limits(in);
  REQUIRE(b);
  CHECK_FALSE(b->page.truncated);
  CHECK(b->optimal_transfer_length == 0x400U);
  CHECK_FALSE(b->maximum_prefetch_length);
  CHECK_FALSE(b->ugavalid);
  CHECK_FALSE(b->maximum_write_same_length);
  CHECK_FALSE(b->maximum_atomic_boundary_size);
  // The device sent 64 bytes but declared 0Ch: the rest is not read either.
  bytes declared_short = vpdb0_sample();
  declared_short[3] = 0x0C;
  auto d = parse_block_limits(declared_short);
  REQUIRE(d);
  CHECK_FALSE(d->maximum_prefetch_length);
}

TEST_CASE("VPD B0h without UGAVALID has no unmap granularity alignment") {
  bytes in = vpdb0_sample();
  in[32] = 0x00;
  auto b = parse_block_limits(in);
  REQUIRE(b);
  CHECK(b->ugavalid == false);
  CHECK_FALSE(b->unmap_granularity_alignment);
  const bytes cut_in = prefix(vpdb0_sample(), 35);
  auto cut = parse_block_limits(cut_in);  // UGAVALID's field is cut
  REQUIRE(cut);
  CHECK_FALSE(cut->ugavalid);
  CHECK(cut->optimal_unmap_granularity == 8U);
}

TEST_CASE("VPD B1h block device characteristics decode field by field") {
  const bytes in = vpdb1_sample();
  auto c = parse_block_device_characteristics(in);
  REQUIRE(c);
  CHECK(c->medium_rotation_rate == 1);
  CHECK(c->non_rotating());
  CHECK(c->product_type == 0);
  CHECK(c->wabereq == 1);
  CHECK(c->wacereq == 1);
  CHECK(c->nominal_form_factor == 3);
  CHECK(c->zoned == 1);
  CHECK(c->fuab == true);
  CHECK(c->vbuls == true);
  bytes hdd = in;
  hdd[4] = 0x1C;
  hdd[5] = 0x20;
  auto h = parse_block_device_characteristics(hdd);
  REQUIRE(h);
  CHECK(h->medium_rotation_rate == 7200);
  CHECK_FALSE(h->non_rotating());
  const bytes cut_in = prefix(in, 8);
  auto cut = parse_block_device_characteristics(cut_in);
  REQUIRE(cut);
  CHECK(cut->nominal_form_factor == 3);
  CHECK_FALSE(cut->zoned);
  CHECK_FALSE(cut->fuab);
}

TEST_CASE("VPD B2h logical block provisioning decodes field by field") {
  const bytes in = vpdb2_sample();
  auto l = parse_logical_block_provisioning(in);
  REQUIRE(l);
  CHECK(l->threshold_exponent == 9);
  CHECK(l->lbpu == true);
  CHECK(l->lbpws == true);
  CHECK(l->lbpws10 == true);
  CHECK(l->lbprz == 1);
  CHECK(l->anc_sup == true);
  CHECK(l->dp == true);
  CHECK(l->minimum_percentage == 10);
  CHECK(l->provisioning_type == 2);  // thin
  CHECK(l->threshold_percentage == 0x50);
  const auto group = l->provisioning_group() | ranges::to<std::vector>();
  REQUIRE(group.size() == 1);
  CHECK(group[0].type == designator_type::naa);
  const bytes cut_in = prefix(in, 6);
  auto cut = parse_logical_block_provisioning(cut_in);
  REQUIRE(cut);
  CHECK(cut->lbprz == 1);
  CHECK_FALSE(cut->provisioning_type);
  CHECK(ranges::distance(cut->provisioning_group()) == 0);
}

// ---- READ CAPACITY -----------------------------------------------------------------------------

TEST_CASE("READ CAPACITY (10) decodes LBA and block length and totals the bytes") {
  const bytes in = rc10_sample();
  auto c = parse_read_capacity10(in);
  REQUIRE(c);
  CHECK(c->returned_lba == 0x1FFFFFU);
  CHECK(c->block_length == 512U);
  CHECK_FALSE(c->use_16());
  CHECK(c->total_bytes() == (std::uint64_t{1} << 30));
  for (std::size_t n = 0; n < 8; ++n) CHECK_FALSE(parse_read_capacity10(prefix(in, n)));
}

TEST_CASE("READ CAPACITY (10) of FFFFFFFFh says to use READ CAPACITY (16)") {
  const bytes in = builder{}.be(4, 0xFFFFFFFF).be(4, 512).done();
  auto c = parse_read_capacity10(in);
  REQUIRE(c);
  CHECK(c->use_16());
  CHECK_FALSE(c->total_bytes());
}

TEST_CASE("READ CAPACITY (16) decodes protection, provisioning and alignment") {
  const bytes in = rc16_sample();
  auto c = parse_read_capacity16(in);
  REQUIRE(c);
  CHECK(c->returned_lba == 1953525167U);
  CHECK(c->block_length == 512U);
  CHECK(c->rc_basis == 0);
  CHECK(c->p_type == 1);
  CHECK(c->prot_en == true);
  CHECK(c->protection_type() == 2U);
  CHECK(c->p_i_exponent == 2);
  CHECK(c->logical_blocks_per_physical_exponent == 3);
  CHECK(c->physical_block_length() == 4096U);
  CHECK(c->lbpme == true);
  CHECK(c->lbprz == true);
  CHECK(c->lowest_aligned_lba == 7);
  CHECK(c->total_bytes() == 1953525168ULL * 512);
}

TEST_CASE("READ CAPACITY (16) cut after the block length has no protection fields") {
  const bytes full = rc16_sample();
  for (std::size_t n = 0; n < 12; ++n) CHECK_FALSE(parse_read_capacity16(prefix(full, n)));
  const bytes c_in = prefix(full, 12);
  auto c = parse_read_capacity16(c_in);
  REQUIRE(c);
  CHECK(c->block_length == 512U);
  CHECK_FALSE(c->prot_en);
  CHECK_FALSE(c->protection_type());
  CHECK_FALSE(c->physical_block_length());
  CHECK_FALSE(c->lbpme);
  const bytes c15_in = prefix(full, 15);
  auto c15 = parse_read_capacity16(c15_in);
  REQUIRE(c15);
  CHECK(c15->lbpme == true);
  CHECK_FALSE(c15->lowest_aligned_lba);  // bytes 14-15: one of them is missing
}

TEST_CASE("READ CAPACITY total bytes are overflow checked") {
  read_capacity16_data c;
  c.returned_lba = UINT64_MAX;
  c.block_length = 1;
  CHECK_FALSE(c.total_bytes());
  c.returned_lba = (std::uint64_t{1} << 52) - 1;  // 2^52 blocks of 4096: exactly 2^64
  c.block_length = 4096;
  CHECK_FALSE(c.total_bytes());
  c.returned_lba = (std::uint64_t{1} << 51) - 1;
  CHECK(c.total_bytes() == (std::uint64_t{1} << 63));
  c.block_length = 0;
  CHECK(c.total_bytes() == 0U);
}

// ---- REPORT LUNS -------------------------------------------------------------------------------

TEST_CASE("REPORT LUNS yields every LUN with its address method") {
  const bytes in = luns_sample();
  auto l = parse_report_luns(in);
  REQUIRE(l);
  CHECK(l->lun_list_length == 24U);
  CHECK(l->reported_count() == 3);
  CHECK(l->size() == 3);
  CHECK_FALSE(l->truncated());
  const auto v = l->luns() | ranges::to<std::vector>();
  REQUIRE(v.size() == 3);
  CHECK(v[0].raw == 0U);
  CHECK(v[0].single_level() == 0);
  CHECK(v[1].address_method() == 0);
  CHECK(v[1].single_level() == 1);
  CHECK(v[1].linux_lun() == 1U);
  CHECK(v[2].address_method() == 1);
  CHECK(v[2].single_level() == 0x105);
  CHECK(v[2].linux_lun() == 0x4105U);
  CHECK(ranges::size(l->luns()) == 3);
  CHECK(l->luns()[2] == v[2]);  // random access
  // Two-level: Linux puts the second level in bits 16-31.
  CHECK(lun{0x0001000200000000ULL}.linux_lun() == 0x00020001U);
  CHECK_FALSE(lun{0x0001000200000000ULL}.single_level());
}

TEST_CASE("REPORT LUNS with a list length larger than the data returned yields what came") {
  builder b;
  b.be(4, 256 * 8).be(4, 0);
  for (unsigned i = 0; i < 5; ++i) b.be(8, std::uint64_t{i} << 48);
  b.raw({0x00, 0x06, 0x00});  // a cut sixth entry
  const bytes in = b.done();
  auto l = parse_report_luns(in);
  REQUIRE(l);
  CHECK(l->reported_count() == 256);
  CHECK(l->size() == 5);
  CHECK(l->truncated());
  CHECK(l->required_allocation_length() == 8 + 256 * 8U);
  unsigned expect = 0;
  for (lun x : l->luns()) CHECK(x.single_level() == expect++);
  CHECK(expect == 5);
}

TEST_CASE("REPORT LUNS ignores bytes past the list length and needs the 8-byte header") {
  bytes in = luns_sample();
  in[3] = 12;  // one and a half entries listed, three returned
  auto l = parse_report_luns(in);
  REQUIRE(l);
  CHECK(l->reported_count() == 1);
  CHECK(ranges::distance(l->luns()) == 1);
  for (std::size_t n = 0; n < 8; ++n) CHECK_FALSE(parse_report_luns(prefix(in, n)));
  const bytes empty_in = prefix(in, 8);
  auto empty = parse_report_luns(empty_in);
  REQUIRE(empty);
  CHECK(empty->truncated());
  CHECK(ranges::distance(empty->luns()) == 0);
}

// ---- MODE SENSE --------------------------------------------------------------------------------

TEST_CASE("MODE SENSE(6) decodes header, short block descriptor and mode pages") {
  const bytes in = mode6_sample();
  auto m = parse_mode_sense6(in);
  REQUIRE(m);
  CHECK(m->header.mode_data_length == in.size() - 1);
  CHECK(m->header.medium_type == 0);
  CHECK(m->header.wp());
  CHECK(m->header.dpofua());
  CHECK_FALSE(m->header.longlba);
  CHECK(m->header.block_descriptor_length == 8);
  CHECK_FALSE(m->truncated);
  const auto bds = m->block_descriptors() | ranges::to<std::vector>();
  REQUIRE(bds.size() == 1);
  CHECK(bds[0] == block_descriptor{0x200000, 512});
  const auto pages = m->pages() | ranges::to<std::vector>();
  REQUIRE(pages.size() == 2);
  CHECK(pages[0].ps);
  CHECK_FALSE(pages[0].spf);
  CHECK(pages[0].page_code == 0x08);
  CHECK(pages[0].page_length == 0x12);
  CHECK(pages[0].data().size() == 0x12);
  CHECK(pages[1].page_code == 0x0A);
  CHECK_FALSE(pages[1].truncated);
}

TEST_CASE("MODE SENSE caching page decodes WCE and RCD") {
  const bytes in = mode6_sample();
  auto m = parse_mode_sense6(in);
  REQUIRE(m);
  auto page = m->find_page(mode_pages::caching);
  REQUIRE(page);
  auto c = decode_caching_page(*page);
  REQUIRE(c);
  CHECK(c->wce);
  CHECK_FALSE(c->rcd);
  CHECK_FALSE(c->mf);
  CHECK(c->fsw == true);
  CHECK(c->dra == true);
  CHECK(c->number_of_cache_segments == 0x14);
  CHECK(c->cache_segment_size == 0);
  CHECK_FALSE(decode_control_page(*page));
}

TEST_CASE("MODE SENSE control page decodes its fields") {
  const bytes in = mode6_sample();
  auto m = parse_mode_sense6(in);
  REQUIRE(m);
  auto page = m->find_page(mode_pages::control);
  REQUIRE(page);
  auto c = decode_control_page(*page);
  REQUIRE(c);
  CHECK(c->tst == 0);
  CHECK(c->d_sense);
  CHECK(c->gltsd);
  CHECK_FALSE(c->rlec);
  CHECK(c->queue_algorithm_modifier == 1);
  CHECK(c->qerr == 1);
  CHECK(c->swp == true);
  CHECK(c->tas == true);
  CHECK(c->ato == false);
  CHECK(c->busy_timeout_period == 0xFFFF);
  CHECK(c->extended_self_test_completion_time == 30);
  CHECK_FALSE(decode_caching_page(*page));
}

TEST_CASE("MODE SENSE(10) decodes LONGLBA, a long block descriptor and a subpage") {
  const bytes in = mode10_sample();
  auto m = parse_mode_sense10(in);
  REQUIRE(m);
  CHECK(m->header.mode_data_length == in.size() - 2);
  CHECK(m->header.longlba);
  CHECK_FALSE(m->header.wp());
  CHECK(m->header.block_descriptor_length == 16);
  const auto bds = m->block_descriptors() | ranges::to<std::vector>();
  REQUIRE(bds.size() == 1);
  CHECK(bds[0] == block_descriptor{0x100000000ULL, 4096});
  const auto pages = m->pages() | ranges::to<std::vector>();
  REQUIRE(pages.size() == 2);
  CHECK(pages[0].spf);
  CHECK(pages[0].page_code == 0x0A);
  CHECK(pages[0].subpage_code == 0x01);
  CHECK(pages[0].page_length == 0x1C);
  CHECK(pages[0].data().size() == 0x1C);
  CHECK_FALSE(decode_control_page(pages[0]));  // a subpage is not the control page
  CHECK_FALSE(m->find_page(mode_pages::control));
  CHECK(m->find_page(mode_pages::control, 0x01));
  auto c = decode_caching_page(pages[1]);
  REQUIRE(c);
  CHECK(c->rcd);
  CHECK_FALSE(c->wce);
}

TEST_CASE("MODE SENSE cut by the allocation length yields the last page truncated") {
  const bytes full = mode6_sample();
  // Header 4 + descriptor 8 + caching page cut after its byte 2.
  const bytes m_in = prefix(full, 4 + 8 + 3);
  auto m = parse_mode_sense6(m_in);
  REQUIRE(m);
  CHECK(m->truncated);
  const auto pages = m->pages() | ranges::to<std::vector>();
  REQUIRE(pages.size() == 1);
  CHECK(pages[0].truncated);
  auto c = decode_caching_page(pages[0]);
  REQUIRE(c);
  CHECK(c->wce);
  CHECK_FALSE(c->fsw);
  CHECK_FALSE(c->cache_segment_size);
  // Cut inside the block descriptor: no descriptor, no pages.
  const bytes d_in = prefix(full, 4 + 5);
  auto d = parse_mode_sense6(d_in);
  REQUIRE(d);
  CHECK(ranges::distance(d->block_descriptors()) == 0);
  CHECK(ranges::distance(d->pages()) == 0);
  for (std::size_t n = 0; n < 4; ++n) CHECK_FALSE(parse_mode_sense6(prefix(full, n)));
  for (std::size_t n = 0; n < 8; ++n) CHECK_FALSE(parse_mode_sense10(prefix(mode10_sample(), n)));
}

TEST_CASE("MODE SENSE honours a mode data length shorter than what was returned") {
  bytes in = mode6_sample();
  in[0] = 3 + 8 + 20;  // header, descriptor and caching page only
  auto m = parse_mode_sense6(in);
  REQUIRE(m);
  CHECK_FALSE(m->truncated);
  CHECK(ranges::distance(m->pages()) == 1);
  CHECK_FALSE(m->find_page(mode_pages::control));
}

// ---- REPORT SUPPORTED OPERATION CODES ----------------------------------------------------------

TEST_CASE("REPORT SUPPORTED OPERATION CODES all-commands format yields each opcode's command descriptor") {
  const bytes in = rsoc_all_sample();
  auto a = parse_all_commands_report(in);
  REQUIRE(a);
  CHECK(a->command_data_length == in.size() - 4);
  CHECK_FALSE(a->truncated);
  const auto ds = a->descriptors() | ranges::to<std::vector>();
  REQUIRE(ds.size() == 5);
  CHECK(ds[0].opcode == 0x00);
  CHECK(ds[0].cdb_length == 6);
  CHECK_FALSE(ds[0].servactv);
  CHECK(ds[2].opcode == 0x9E);
  CHECK(ds[2].servactv);
  CHECK(ds[2].service_action == 0x10);
  CHECK(ds[2].cdb_length == 16);
  CHECK_FALSE(ds[2].timeouts);
  CHECK(ds[3].opcode == 0x88);
  CHECK(ds[3].ctdp);
  REQUIRE(ds[3].timeouts);
  CHECK(ds[3].timeouts->descriptor_length == 0x0A);
  CHECK(ds[3].timeouts->nominal_command_processing_timeout == 30U);
  CHECK(ds[3].timeouts->recommended_command_timeout == 60U);
  CHECK(ds[4].opcode == 0xA3);
  CHECK(ds[4].service_action == 0x0C);
}

TEST_CASE("REPORT SUPPORTED OPERATION CODES all-commands list stops at an opcode's cut descriptor") {
  const bytes full = rsoc_all_sample();
  // 4 + three 8-byte descriptors + 15 of the 20 bytes of READ(16)'s.
  const bytes a_in = prefix(full, 4 + 24 + 15);
  auto a = parse_all_commands_report(a_in);
  REQUIRE(a);
  CHECK(a->truncated);
  CHECK(a->required_allocation_length() == full.size());
  CHECK(ranges::distance(a->descriptors()) == 3);
  for (std::size_t n = 0; n < 4; ++n) CHECK_FALSE(parse_all_commands_report(prefix(full, n)));
}

TEST_CASE("REPORT SUPPORTED OPERATION CODES one-command format gives an opcode's SUPPORT and CDB usage") {
  const bytes in = rsoc_one_sample();
  auto o = parse_one_command_report(in);
  REQUIRE(o);
  CHECK(o->support == command_support::supported);
  CHECK(o->supported());
  CHECK(o->ctdp);
  CHECK(o->cdb_size == 10);
  REQUIRE(o->cdb_usage_data.size() == 10);
  CHECK(o->cdb_usage_data[0] == 0x28);
  CHECK(o->cdb_usage_data[9] == 0x07);
  CHECK_FALSE(o->truncated);
  REQUIRE(o->timeouts);
  CHECK(o->timeouts->recommended_command_timeout == 10U);
  const bytes cut_in = prefix(in, 9);
  auto cut = parse_one_command_report(cut_in);
  REQUIRE(cut);
  CHECK(cut->truncated);
  CHECK(cut->cdb_usage_data.size() == 5);
  CHECK_FALSE(cut->timeouts);
  bytes unsupported = builder{}.raw({0x00, 0x01, 0x00, 0x00}).done();
  auto u = parse_one_command_report(unsupported);
  REQUIRE(u);
  CHECK(u->support == command_support::not_supported);
  CHECK_FALSE(u->supported());
  CHECK(u->cdb_usage_data.empty());
}

// ---- Truncation, garbage, random ---------------------------------------------------------------

TEST_CASE("Each INQUIRY, VPD, capacity, LUN, mode and opcode parser survives every cut of every sample") {
  std::size_t runs = 0;
  for (const bytes& sample : all_samples()) {
    for (std::size_t n = 0; n <= sample.size(); ++n) {
      const bytes cut = prefix(sample, n);  // exactly sized: ASan sees a read past the end
      exercise(cut);
      ++runs;
    }
  }
  // What a cut response yields is a prefix of what the whole one does.
  const bytes vpd83 = scsi_debug_vpd83();
  const auto all_ds = parse_device_identification(vpd83)->designators() | ranges::to<std::vector>();
  const bytes luns = luns_sample();
  const auto all_luns = parse_report_luns(luns)->luns() | ranges::to<std::vector>();
  const bytes rsoc = rsoc_all_sample();
  const auto all_cmds = parse_all_commands_report(rsoc)->descriptors() | ranges::to<std::vector>();
  for (std::size_t n = 4; n <= vpd83.size(); ++n) {
    const bytes cut = prefix(vpd83, n);
    std::size_t i = 0;
    for (const designator& d : parse_device_identification(cut)->designators()) {
      REQUIRE(i < all_ds.size());
      CHECK(std::equal(d.bytes.begin(), d.bytes.end(), all_ds[i].bytes.begin(), all_ds[i].bytes.end()));
      CHECK(d.type == all_ds[i].type);
      ++i;
    }
  }
  for (std::size_t n = 8; n <= luns.size(); ++n) {
    const bytes cut = prefix(luns, n);
    const auto got = parse_report_luns(cut)->luns() | ranges::to<std::vector>();
    CHECK(got.size() == (n - 8) / 8);
    CHECK(std::equal(got.begin(), got.end(), all_luns.begin()));
  }
  for (std::size_t n = 4; n <= rsoc.size(); ++n) {
    const bytes cut = prefix(rsoc, n);
    std::size_t i = 0;
    for (const command_descriptor& d : parse_all_commands_report(cut)->descriptors()) {
      REQUIRE(i < all_cmds.size());
      CHECK(d.opcode == all_cmds[i].opcode);
      CHECK(d.timeouts == all_cmds[i].timeouts);
      ++i;
    }
  }
  MESSAGE("truncations run through every parser: ", runs);
}

TEST_CASE("Each INQUIRY, VPD, capacity, LUN, mode and opcode parser survives all-zero and all-FF input") {
  for (std::size_t n = 0; n <= 300; ++n) {
    exercise(bytes(n, 0x00));
    exercise(bytes(n, 0xFF));
  }
  // All FF: every length field claims the maximum; nothing past the end is yielded.
  const bytes ff(40, 0xFF);
  const bytes long_designator{0x00, 0x83, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
  CHECK(ranges::distance(parse_device_identification(long_designator)->designators()) == 0);
  auto m = parse_mode_sense10(ff);
  REQUIRE(m);
  CHECK(m->header.longlba);
  CHECK(ranges::distance(m->block_descriptors()) == 2);  // 32 bytes after the header
  CHECK(ranges::distance(m->pages()) == 0);
  auto l = parse_report_luns(ff);
  REQUIRE(l);
  CHECK(l->size() == 4);
  CHECK(l->truncated());
  auto a = parse_all_commands_report(ff);
  REQUIRE(a);
  CHECK(ranges::distance(a->descriptors()) == 1);  // CTDP set: 20 + 16 bytes hold one
  // All zero: zero-length pages and designators are well formed, and iteration still ends.
  CHECK(ranges::distance(parse_mode_sense10(bytes(20, 0))->pages()) == 0);  // mode data length 0
  bytes zero_pages(20, 0);
  zero_pages[1] = 18;
  CHECK(ranges::distance(parse_mode_sense10(zero_pages)->pages()) == 6);
  const bytes empty_designators{0x00, 0x83, 0x00, 0x08, 0, 0, 0, 0, 0, 0, 0, 0};
  CHECK(ranges::distance(parse_device_identification(empty_designators)->designators()) == 2);
}

TEST_CASE("Each INQUIRY, VPD, capacity, LUN, mode and opcode parser survives a randomized run") {
  // UC_SCSI_FUZZ_SEED and UC_SCSI_FUZZ_RUNS override the defaults, to reproduce or go longer.
  const char* seed_env = std::getenv("UC_SCSI_FUZZ_SEED");
  const char* runs_env = std::getenv("UC_SCSI_FUZZ_RUNS");
  const std::uint64_t seed = seed_env ? std::strtoull(seed_env, nullptr, 0) : 0x5C5110ADULL;
  const std::size_t inputs = runs_env ? std::strtoull(runs_env, nullptr, 0) : 100000;
  std::mt19937_64 rng(seed);
  auto below = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  auto byte = [&] { return static_cast<std::uint8_t>(rng()); };
  const std::vector<bytes> samples = all_samples();
  static constexpr std::uint8_t page_codes[] = {0x00, 0x80, 0x83, 0xB0, 0xB1, 0xB2};

  exercise_count total;
  for (std::size_t i = 0; i < inputs; ++i) {
    bytes in;
    switch (below(3)) {
      case 0: {  // random bytes, random length
        in.resize(below(300));
        for (auto& b : in) b = byte();
        break;
      }
      case 1: {  // a sample with a few bytes changed, then cut or extended
        in = samples[below(samples.size())];
        for (std::size_t k = below(6); k > 0 && !in.empty(); --k) in[below(in.size())] = byte();
        const std::size_t n = below(in.size() + 16);
        const std::size_t old = in.size();
        in.resize(n);
        for (std::size_t k = old; k < n; ++k) in[k] = byte();
        break;
      }
      default: {  // random bytes behind a plausible VPD header with small lengths
        in.resize(4 + below(80));
        for (auto& b : in) b = byte() & (below(2) ? 0x1F : 0xFF);
        in[1] = page_codes[below(std::size(page_codes))];
        in[2] = 0;
        break;
      }
    }
    const bytes exact(in.begin(), in.end());  // exactly sized, so ASan sees a read past the end
    const exercise_count n = exercise(exact);
    total.parses += n.parses;
    total.elements += n.elements;
  }
  MESSAGE("randomized run: seed ", seed, ", ", inputs, " inputs, ", total.parses, " parser executions, ",
          total.elements, " range elements visited");
  CHECK(total.parses == inputs * 14);
}

TEST_CASE("Default-constructed INQUIRY, VPD, LUN, mode and opcode results are empty, not invalid") {
  CHECK(vpd_page{}.data().empty());
  CHECK(ranges::distance(device_identification{}.designators()) == 0);
  CHECK(ranges::distance(logical_block_provisioning{}.provisioning_group()) == 0);
  CHECK(mode_page{}.data().empty());
  CHECK(ranges::distance(mode_parameters{}.pages()) == 0);
  CHECK(ranges::distance(mode_parameters{}.block_descriptors()) == 0);
  CHECK(ranges::distance(report_luns_data{}.luns()) == 0);
  CHECK(ranges::distance(all_commands_report{}.descriptors()) == 0);
  CHECK_FALSE(decode_caching_page(mode_page{}));
}
