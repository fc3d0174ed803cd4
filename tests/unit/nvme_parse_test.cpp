// SPDX-License-Identifier: MIT
// The NVMe data structure parsers (identify.hpp, log.hpp, features.hpp) on structures built by
// hand from the NVMe Base 2.0 / NVM Command Set 1.0 figures, some shaped after what QEMU's
// emulated controller returns (research/vm: -device nvme,serial=VMTEST0001); then on every
// truncation of them and on random bytes. Every input lives in an exactly sized std::vector, so
// that under ASan a read past what the "controller" returned is caught; results borrow their
// input, so each cut input is kept in a named vector while its result is used.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <doctest/doctest.h>
#include <range/v3/range/concepts.hpp>
#include <range/v3/range/conversion.hpp>
#include <range/v3/range/operations.hpp>

#include <uringcmd/nvme/features.hpp>
#include <uringcmd/nvme/identify.hpp>
#include <uringcmd/nvme/log.hpp>

using namespace uringcmd::nvme;
using bytes = std::vector<std::uint8_t>;

namespace {

// A zeroed structure of `size` bytes, filled field by field at the figure's byte offsets.
struct page {
  bytes v;
  explicit page(std::size_t size) : v(size, 0) {}
  page& le(std::size_t offset, std::size_t n, std::uint64_t x) {
    for (std::size_t i = 0; i < n; ++i) v.at(offset + i) = static_cast<std::uint8_t>(x >> (8 * i));
    return *this;
  }
  page& u8(std::size_t offset, unsigned x) { return le(offset, 1, x); }
  // `s` padded with `pad` to `width` bytes.
  page& str(std::size_t offset, std::size_t width, std::string_view s, unsigned pad = ' ') {
    for (std::size_t i = 0; i < width; ++i) v.at(offset + i) = static_cast<std::uint8_t>(i < s.size() ? s[i] : pad);
    return *this;
  }
  bytes done() const { return v; }
};

bytes prefix(const bytes& in, std::size_t n) { return bytes(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(n)); }

// ---- Samples ---------------------------------------------------------------------------------

// Identify Controller shaped after QEMU's nvme device (hw/nvme/ctrl.c): Red Hat vendor IDs,
// QEMU's OUI 52:54:00, NVMe 1.4, 256 namespaces, ONCS with Compare, DSM, Write Zeroes, Timestamp.
bytes qemu_identify_controller() {
  page p(4096);
  p.le(0, 2, 0x1B36).le(2, 2, 0x1AF4);
  p.str(4, 20, "VMTEST0001").str(24, 40, "QEMU NVMe Ctrl").str(64, 8, "8.0.4");
  p.u8(72, 6);                              // RAB
  p.u8(73, 0x00).u8(74, 0x54).u8(75, 0x52); // IEEE OUI, least significant byte first
  p.u8(76, 0x00).u8(77, 7).le(78, 2, 0x0001);
  p.le(80, 4, 0x00010400);                  // VER 1.4.0
  p.le(84, 4, 1000).le(88, 4, 2000).le(92, 4, 0x00000100).le(96, 4, 0x00008000);
  p.u8(111, 1);                             // CNTRLTYPE: I/O controller
  for (unsigned i = 0; i < 16; ++i) p.u8(112 + i, 0xF0 + i);
  p.le(128, 2, 1).le(130, 2, 2).le(132, 2, 3);
  p.le(256, 2, 0x000A);                     // OACS: Format NVM, Namespace Management
  p.u8(258, 3).u8(259, 3).u8(260, 0x03).u8(261, 0x07).u8(262, 63).u8(263, 0);
  p.le(266, 2, 343).le(268, 2, 373);        // WCTEMP 70 C, CCTEMP 100 C
  p.le(280, 8, 0x4000000000ULL);            // TNVMCAP 256 GiB
  p.le(296, 8, 0x1000);                     // UNVMCAP
  p.u8(512, 0x66).u8(513, 0x44).le(514, 2, 0);
  p.le(516, 4, 256);                        // NN
  p.le(520, 2, 0x015D);                     // ONCS
  p.le(522, 2, 0).u8(524, 0x00).u8(525, 0x07);
  p.le(526, 2, 0).le(528, 2, 0).u8(530, 1).u8(531, 0).le(532, 2, 0).le(534, 2, 1);
  p.le(536, 4, 0x00000001).le(540, 4, 256);
  p.str(768, 256, "nqn.2019-08.org.qemu:VMTEST0001", 0);
  p.le(2048, 2, 25);                        // PSD0 max power: not decoded, must not matter
  return p.done();
}

// Identify Namespace shaped after QEMU's: 1 GiB of 512-byte blocks, the eight formats QEMU offers
// (ms 0/8/16/64 with 512 and 4096 byte blocks), format 4 (4 KiB) in use.
bytes qemu_identify_namespace() {
  page p(4096);
  p.le(0, 8, 0x40000).le(8, 8, 0x40000).le(16, 8, 0x1234);
  p.u8(24, 0x14).u8(25, 7).u8(26, 0x04).u8(27, 0x03).u8(28, 0x1F).u8(29, 0x00).u8(30, 0x01).u8(31, 0xFF);
  p.u8(33, 0x09).le(34, 2, 1).le(36, 2, 2).le(46, 2, 128);
  p.le(48, 8, 0x40000000ULL);
  p.le(64, 2, 7).le(66, 2, 7).le(68, 2, 7).le(70, 2, 7).le(72, 2, 7);
  p.le(92, 4, 1).u8(99, 0).le(100, 2, 0).le(102, 2, 1);
  for (unsigned i = 0; i < 16; ++i) p.u8(104 + i, 0x10 + i);
  for (unsigned i = 0; i < 8; ++i) p.u8(120 + i, 0xA0 + i);
  const unsigned ms[] = {0, 8, 16, 64, 0, 8, 16, 64};
  for (unsigned i = 0; i < 8; ++i) p.le(128 + 4 * i, 4, ms[i] | ((i < 4 ? 9U : 12U) << 16) | ((i % 4U) << 24));
  p.le(128 + 4 * 8, 4, 0xFFFFFFFF);  // past NLBAF: must not appear
  return p.done();
}

// A namespace with 20 formats (NLBAF 19) whose format 18 is in use: FLBAS bits 3:0 = 2, 6:5 = 1;
// extended LBA (bit 4).
bytes many_formats_namespace() {
  page p(4096);
  p.le(0, 8, 100).le(8, 8, 100).u8(25, 19).u8(26, 0x02 | 0x10 | (1U << 5));
  for (unsigned i = 0; i < 20; ++i) p.le(128 + 4 * i, 4, (i * 8) | ((9U + i % 4) << 16));
  return p.done();
}

bytes active_namespaces() {
  page p(4096);
  p.le(0, 4, 1).le(4, 4, 2).le(8, 4, 5).le(16, 4, 9);  // entry 3 is 0: the list ends there
  return p.done();
}

bytes ns_descriptors() {
  page p(4096);
  p.u8(0, 1).u8(1, 8);
  for (unsigned i = 0; i < 8; ++i) p.u8(4 + i, 0xE0 + i);  // EUI64
  p.u8(12, 2).u8(13, 16);
  for (unsigned i = 0; i < 16; ++i) p.u8(16 + i, 0x20 + i);  // NGUID
  p.u8(32, 3).u8(33, 16);
  for (unsigned i = 0; i < 16; ++i) p.u8(36 + i, 0x40 + i);  // UUID
  p.u8(52, 4).u8(53, 1).u8(56, 0x00);                          // CSI: NVM
  return p.done();                                              // NIDT 0 at byte 57 ends the list
}

bytes smart_page() {
  page p(512);
  p.u8(0, 0x05).le(1, 2, 310).u8(3, 100).u8(4, 10).u8(5, 3).u8(6, 0);
  p.le(32, 8, 123456789).le(40, 8, 0);                            // data units read
  p.le(48, 8, 0xFFFFFFFFFFFFFFFFULL).le(56, 8, 1);                // written: 2^65 - 1
  p.le(64, 8, 1000).le(80, 8, 2000).le(96, 8, 42).le(112, 8, 17).le(128, 8, 9000);
  p.le(144, 8, 5).le(160, 8, 0).le(176, 8, 63);
  p.le(192, 4, 11).le(196, 4, 12);
  p.le(200, 2, 305).le(202, 2, 0).le(214, 2, 320);
  p.le(216, 4, 1).le(220, 4, 2).le(224, 4, 3).le(228, 4, 4);
  return p.done();
}

bytes error_log() {
  page p(3 * 64);
  // Entry 0: a read past the end of namespace 1, status 4080h (with the phase tag: 8101h).
  p.le(0, 8, 7).le(8, 2, 1).le(10, 2, 0x1234).le(12, 2, (0x4080U << 1) | 1).le(14, 2, 0x0328);
  p.le(16, 8, 0xFFFFFFFFFFULL).le(24, 4, 1).u8(28, 0).u8(29, 0).le(32, 8, 0xC0FFEE).le(40, 2, 0x99);
  // Entry 1: an admin command error, location not specific.
  p.le(64, 8, 6).le(72, 2, 0).le(74, 2, 3).le(76, 2, 0x0002U << 1).le(78, 2, 0xFFFF);
  return p.done();  // entry 2 is empty
}

bytes firmware_slots() {
  page p(512);
  p.u8(0, 0x21);  // running from slot 1, slot 2 at next reset
  p.str(8, 8, "1.0.0").str(16, 8, "1.1.0");
  return p.done();
}

std::vector<bytes> all_samples() {
  return {qemu_identify_controller(), qemu_identify_namespace(), many_formats_namespace(), active_namespaces(),
          ns_descriptors(), smart_page(), error_log(), firmware_slots()};
}

}  // namespace

static_assert(ranges::random_access_range<decltype(std::declval<id_ns>().lba_formats())>);
static_assert(ranges::sized_range<decltype(std::declval<id_ns>().lba_formats())>);
static_assert(ranges::random_access_range<decltype(std::declval<namespace_list>().ids())>);
static_assert(ranges::forward_range<ns_descriptor_view> && ranges::common_range<ns_descriptor_view>);
static_assert(ranges::view_<ns_descriptor_view>);
static_assert(ranges::random_access_range<decltype(parse_error_log({}))>);

// ---- Identify Controller ---------------------------------------------------------------------

TEST_CASE("Identify Controller of a QEMU controller decodes field by field") {
  const bytes in = qemu_identify_controller();
  auto c = parse_identify_controller(in);
  REQUIRE(c);
  CHECK(c->vid == 0x1B36);
  CHECK(c->ssvid == 0x1AF4);
  CHECK(c->serial == "VMTEST0001");
  CHECK(c->model == "QEMU NVMe Ctrl");
  CHECK(c->firmware == "8.0.4");
  CHECK(c->rab == 6);
  CHECK(c->ieee == 0x525400);
  CHECK(c->cmic == 0);
  CHECK(c->mdts == 7);
  CHECK(c->max_transfer_bytes() == std::uint64_t{512 * 1024});
  CHECK(c->cntlid == 1);
  CHECK(c->ver == 0x00010400);
  CHECK(c->version_major() == 1);
  CHECK(c->version_minor() == 4);
  CHECK(c->version_tertiary() == 0);
  CHECK(c->rtd3r == 1000);
  CHECK(c->rtd3e == 2000);
  CHECK(c->oaes == 0x100);
  CHECK(c->ctratt == 0x8000);
  CHECK(c->cntrltype == 1);
  CHECK(c->fguid[0] == 0xF0);
  CHECK(c->fguid[15] == 0xFF);
  CHECK(c->crdt[0] == 1);
  CHECK(c->crdt[2] == 3);
  CHECK(c->oacs == 0x000A);
  CHECK(c->acl == 3);
  CHECK(c->aerl == 3);
  CHECK(c->frmw == 3);
  CHECK(c->lpa == 7);
  CHECK(c->elpe == 63);
  CHECK(c->npss == 0);
  CHECK(c->wctemp == 343);
  CHECK(c->cctemp == 373);
  CHECK(c->tnvmcap.to_u64() == std::uint64_t{0x4000000000ULL});
  CHECK(c->unvmcap.to_string() == "4096");
  CHECK(c->sqes == 0x66);
  CHECK(c->cqes == 0x44);
  CHECK(c->nn == 256);
  CHECK(c->oncs == 0x015D);
  CHECK(c->supports_compare());
  CHECK(c->supports_dataset_management());
  CHECK(c->supports_write_zeroes());
  CHECK_FALSE(c->supports_verify());
  CHECK(c->vwc == 7);
  CHECK(c->volatile_write_cache());
  CHECK(c->icsvscc == 1);
  CHECK(c->ocfs == 1);
  CHECK(c->sgls == 1);
  CHECK(c->mnan == 256);
  CHECK(c->subnqn == "nqn.2019-08.org.qemu:VMTEST0001");
}

TEST_CASE("Identify Controller strings stop at a NUL and keep leading spaces, which the spec does not use") {
  page p(1024);
  p.str(4, 20, "AB\0CD", ' ');
  p.v[6] = 0;
  p.str(24, 40, "  MODEL", ' ');
  const bytes in = p.done();
  auto c = parse_identify_controller(in);
  REQUIRE(c);
  CHECK(c->serial == "AB");
  CHECK(c->model == "  MODEL");
  CHECK(c->firmware.empty());
  CHECK(c->subnqn.empty());
  CHECK_FALSE(c->max_transfer_bytes());  // MDTS 0: no limit
}

TEST_CASE("Identify Controller needs its first 1024 bytes, and decodes the same from any longer cut") {
  const bytes full = qemu_identify_controller();
  const auto ref = *parse_identify_controller(full);
  for (std::size_t n = 0; n <= full.size(); ++n) {
    const bytes cut = prefix(full, n);
    auto c = parse_identify_controller(cut);
    if (n < id_ctrl::min_size) {
      CHECK_FALSE(c);
      continue;
    }
    REQUIRE(c);
    CHECK(c->serial == ref.serial);
    CHECK(c->subnqn == ref.subnqn);
    CHECK(c->oncs == ref.oncs);
    CHECK(c->tnvmcap == ref.tnvmcap);
  }
}

// ---- Identify Namespace ----------------------------------------------------------------------

TEST_CASE("Identify Namespace of a QEMU namespace decodes field by field, with its eight LBA formats") {
  const bytes in = qemu_identify_namespace();
  auto ns = parse_identify_namespace(in);
  REQUIRE(ns);
  CHECK(ns->nsze == 0x40000);
  CHECK(ns->ncap == 0x40000);
  CHECK(ns->nuse == 0x1234);
  CHECK(ns->nsfeat == 0x14);
  CHECK_FALSE(ns->thin_provisioned());
  CHECK(ns->nlbaf == 7);
  CHECK(ns->lba_format_count() == 8);
  CHECK(ns->flbas == 0x04);
  CHECK_FALSE(ns->extended_lba());
  CHECK(ns->mc == 3);
  CHECK(ns->dpc == 0x1F);
  CHECK(ns->pi_type() == 0);
  CHECK(ns->nmic == 1);
  CHECK(ns->rescap == 0xFF);
  CHECK(ns->dlfeat == 0x09);
  CHECK(ns->nawun == 1);
  CHECK(ns->nawupf == 2);
  CHECK(ns->noiob == 128);
  CHECK(ns->nvmcap.to_u64() == std::uint64_t{0x40000000});
  CHECK(ns->npwg == 7);
  CHECK(ns->nows == 7);
  CHECK(ns->anagrpid == 1);
  CHECK(ns->endgid == 1);
  CHECK(ns->nguid[0] == 0x10);
  CHECK(ns->nguid[15] == 0x1F);
  CHECK(ns->eui64[0] == 0xA0);
  CHECK(ns->eui64[7] == 0xA7);
  const auto formats = ns->lba_formats() | ranges::to<std::vector>();
  REQUIRE(formats.size() == 8);  // the ninth entry, past NLBAF, is not a format
  CHECK(formats[0] == lba_format{0, 9, 0});
  CHECK(formats[3] == lba_format{64, 9, 3});
  CHECK(formats[4] == lba_format{0, 12, 0});
  CHECK(formats[7] == lba_format{64, 12, 3});
  CHECK(ranges::size(ns->lba_formats()) == 8);
  CHECK(ns->lba_formats()[5].ms == 8);  // random access
  CHECK(ns->current_lba_format_index() == 4);
  CHECK(ns->current_lba_format() == lba_format{0, 12, 0});
  CHECK(ns->block_size() == std::uint32_t{4096});
}

TEST_CASE("a namespace with more than 16 formats takes FLBAS bits 6:5 as the index's high bits") {
  const bytes in = many_formats_namespace();
  auto ns = parse_identify_namespace(in);
  REQUIRE(ns);
  CHECK(ns->lba_format_count() == 20);
  CHECK(ranges::size(ns->lba_formats()) == 20);
  CHECK(ns->current_lba_format_index() == 18);
  CHECK(ns->extended_lba());
  CHECK(ns->current_lba_format() == lba_format{144, 11, 0});
  CHECK(ns->block_size() == std::uint32_t{2048});
}

TEST_CASE("with at most 16 formats FLBAS bits 6:5 are reserved and ignored") {
  bytes in = qemu_identify_namespace();
  in[26] = 0x04 | 0x60;
  auto ns = parse_identify_namespace(in);
  REQUIRE(ns);
  CHECK(ns->current_lba_format_index() == 4);
  CHECK(ns->block_size() == std::uint32_t{4096});
}

TEST_CASE("a format index past NLBAF, or an LBADS under 9, gives no block size") {
  bytes in = qemu_identify_namespace();
  in[26] = 0x09;  // format 9 of 8
  auto ns = parse_identify_namespace(in);
  REQUIRE(ns);
  CHECK_FALSE(ns->current_lba_format());
  CHECK_FALSE(ns->block_size());
  bytes zero(4096, 0);  // an inactive namespace: all zeros, format 0 with LBADS 0
  auto inactive = parse_identify_namespace(zero);
  REQUIRE(inactive);
  CHECK(inactive->nsze == 0);
  REQUIRE(inactive->current_lba_format());
  CHECK_FALSE(inactive->block_size());
  CHECK(lba_format{0, 31, 0}.block_size() == std::uint32_t{1} << 31);
  CHECK_FALSE(lba_format{0, 32, 0}.block_size());
}

TEST_CASE("NLBAF 255 is capped at the 64 formats the structure has room for") {
  bytes in = qemu_identify_namespace();
  in[25] = 255;
  auto ns = parse_identify_namespace(in);
  REQUIRE(ns);
  CHECK(ns->lba_format_count() == 64);
  CHECK(ranges::size(ns->lba_formats()) == 64);
}

TEST_CASE("Identify Namespace needs 128 bytes; the LBA formats are the whole entries that came") {
  const bytes full = qemu_identify_namespace();
  for (std::size_t n = 0; n <= 200; ++n) {
    const bytes cut = prefix(full, n);
    auto ns = parse_identify_namespace(cut);
    if (n < id_ns::min_size) {
      CHECK_FALSE(ns);
      continue;
    }
    REQUIRE(ns);
    CHECK(ns->nsze == 0x40000);
    const std::size_t whole = (n - 128) / 4 < 8 ? (n - 128) / 4 : 8;
    CHECK(ranges::size(ns->lba_formats()) == whole);
    CHECK(ns->block_size().has_value() == (whole > 4));  // format 4 is in use
  }
}

// ---- Active namespaces, descriptors -----------------------------------------------------------

TEST_CASE("the Active Namespace ID list ends at the first zero entry") {
  const bytes in = active_namespaces();
  auto l = parse_namespace_list(in);
  CHECK(l.size() == 3);
  CHECK((l.ids() | ranges::to<std::vector>()) == std::vector<std::uint32_t>{1, 2, 5});
  CHECK_FALSE(l.full());
  bytes full(4096);
  for (std::size_t i = 0; i < 1024; ++i) full[4 * i] = static_cast<std::uint8_t>(i + 1), full[4 * i + 1] = static_cast<std::uint8_t>((i + 1) >> 8);
  auto f = parse_namespace_list(full);
  CHECK(f.size() == 1024);
  CHECK(f.full());
  CHECK(f.ids()[1023] == 1024);
  for (std::size_t n = 0; n <= 16; ++n) {
    const bytes cut = prefix(in, n);
    CHECK(parse_namespace_list(cut).size() == (n / 4 < 3 ? n / 4 : 3));
  }
}

TEST_CASE("Namespace Identification Descriptors yield EUI64, NGUID, UUID and CSI, then stop at NIDT 0") {
  const bytes in = ns_descriptors();
  const auto ds = parse_ns_descriptors(in) | ranges::to<std::vector>();
  REQUIRE(ds.size() == 4);
  CHECK(ds[0].type == ns_id_type::eui64);
  CHECK(ds[0].id.size() == 8);
  CHECK(ds[0].id[0] == 0xE0);
  CHECK(ds[1].type == ns_id_type::nguid);
  CHECK(ds[1].id.size() == 16);
  CHECK(ds[1].id[15] == 0x2F);
  CHECK(ds[2].type == ns_id_type::uuid);
  CHECK(ds[2].id[0] == 0x40);
  CHECK(ds[3].type == ns_id_type::csi);
  CHECK(ds[3].csi() == std::uint8_t{0});
  for (const auto& d : ds) CHECK(d.well_formed());
  CHECK_FALSE(ds[0].csi());
}

TEST_CASE("a descriptor whose NIDL does not fit the data ends the walk; a wrong NIDL is not well formed") {
  bytes bad{3, 15, 0, 0};  // a UUID that says 15 bytes...
  bad.resize(4 + 15 + 4);  // ...followed by a descriptor cut short
  bad[19] = 1;
  bad[20] = 8;
  const auto ds = parse_ns_descriptors(bad) | ranges::to<std::vector>();
  REQUIRE(ds.size() == 1);
  CHECK_FALSE(ds[0].well_formed());
  const bytes reserved{9, 0, 0, 0};
  const auto r = parse_ns_descriptors(reserved) | ranges::to<std::vector>();
  REQUIRE(r.size() == 1);
  CHECK_FALSE(r[0].well_formed());
}

TEST_CASE("every truncation of the descriptor list yields a prefix of the whole list") {
  const bytes full = ns_descriptors();
  const auto all = parse_ns_descriptors(full) | ranges::to<std::vector>();
  const std::size_t ends[] = {12, 32, 52, 57};
  for (std::size_t n = 0; n <= 64; ++n) {
    const bytes cut = prefix(full, n);
    std::size_t expect = 0;
    for (std::size_t e : ends) expect += n >= e;
    std::size_t i = 0;
    for (const ns_descriptor& d : parse_ns_descriptors(cut)) {
      REQUIRE(i < all.size());
      CHECK(d.type == all[i].type);
      CHECK(std::equal(d.id.begin(), d.id.end(), all[i].id.begin(), all[i].id.end()));
      ++i;
    }
    CHECK(i == expect);
  }
}

// ---- Logs ------------------------------------------------------------------------------------

TEST_CASE("the SMART / Health log decodes every field, 128-bit counters in decimal") {
  const bytes in = smart_page();
  auto s = parse_smart_log(in);
  REQUIRE(s);
  CHECK(s->critical_warning_bits.raw == 0x05);
  CHECK(s->critical_warning_bits.spare_below_threshold());
  CHECK_FALSE(s->critical_warning_bits.temperature());
  CHECK(s->critical_warning_bits.reliability_degraded());
  CHECK_FALSE(s->critical_warning_bits.read_only());
  CHECK(s->temperature == 310);
  CHECK(s->temperature_celsius() == 37);
  CHECK(s->avail_spare == 100);
  CHECK(s->spare_thresh == 10);
  CHECK(s->percent_used == 3);
  CHECK(s->data_units_read.to_string() == "123456789");
  CHECK(s->data_units_written.to_string() == "36893488147419103231");  // 2^65 - 1
  CHECK_FALSE(s->data_units_written.to_u64());
  CHECK(s->host_read_commands.to_u64() == std::uint64_t{1000});
  CHECK(s->host_write_commands.to_u64() == std::uint64_t{2000});
  CHECK(s->controller_busy_time.to_u64() == std::uint64_t{42});
  CHECK(s->power_cycles.to_u64() == std::uint64_t{17});
  CHECK(s->power_on_hours.to_u64() == std::uint64_t{9000});
  CHECK(s->unsafe_shutdowns.to_u64() == std::uint64_t{5});
  CHECK(s->media_errors.to_string() == "0");
  CHECK(s->num_err_log_entries.to_u64() == std::uint64_t{63});
  CHECK(s->warning_temp_time == 11);
  CHECK(s->critical_comp_time == 12);
  CHECK(s->sensor(1) == std::uint16_t{305});
  CHECK_FALSE(s->sensor(2));  // 0: not implemented
  CHECK(s->sensor(8) == std::uint16_t{320});
  CHECK_FALSE(s->sensor(0));
  CHECK_FALSE(s->sensor(9));
  CHECK(s->thm_temp1_trans_count == 1);
  CHECK(s->thm_temp2_trans_count == 2);
  CHECK(s->thm_temp1_total_time == 3);
  CHECK(s->thm_temp2_total_time == 4);
  CHECK(uint128{~0ULL, ~0ULL}.to_string() == "340282366920938463463374607431768211455");
}

TEST_CASE("the SMART log needs 232 bytes, the end of its last field") {
  const bytes full = smart_page();
  for (std::size_t n = 0; n <= full.size(); ++n) {
    const bytes cut = prefix(full, n);
    auto s = parse_smart_log(cut);
    CHECK(s.has_value() == (n >= smart_log::min_size));
    if (s) CHECK(s->thm_temp2_total_time == 4);
  }
}

TEST_CASE("Error Information entries decode, the status without its phase tag") {
  const bytes in = error_log();
  const auto es = parse_error_log(in) | ranges::to<std::vector>();
  REQUIRE(es.size() == 3);
  CHECK(es[0].error_count == 7);
  CHECK(es[0].sqid == 1);
  CHECK(es[0].cmdid == 0x1234);
  CHECK(es[0].status.raw() == 0x4080);
  CHECK(es[0].status.dnr());
  CHECK(es[0].phase == 1);
  CHECK(es[0].parameter_error_location == 0x0328);
  CHECK(es[0].error_byte() == std::uint8_t{0x28});
  CHECK(es[0].error_bit() == std::uint8_t{3});
  CHECK(es[0].lba == 0xFFFFFFFFFFULL);
  CHECK(es[0].nsid == 1);
  CHECK(es[0].cs == 0xC0FFEE);
  CHECK(es[0].trtype_spec_info == 0x99);
  CHECK(es[1].status.raw() == 0x0002);
  CHECK(es[1].phase == 0);
  CHECK_FALSE(es[1].error_byte());
  CHECK_FALSE(es[1].error_bit());
  CHECK_FALSE(es[1].empty());
  CHECK(es[2].empty());
  for (std::size_t n = 0; n <= in.size(); ++n) {
    const bytes cut = prefix(in, n);
    CHECK(ranges::size(parse_error_log(cut)) == n / 64);
    CHECK(parse_error_log_entry(cut).has_value() == (n >= 64));
  }
}

TEST_CASE("the Firmware Slot log names the active slot, the next one and each revision") {
  const bytes in = firmware_slots();
  auto f = parse_firmware_slot_log(in);
  REQUIRE(f);
  CHECK(f->active_slot() == 1);
  CHECK(f->next_slot() == std::uint8_t{2});
  CHECK(f->slot(1) == std::string_view("1.0.0"));
  CHECK(f->slot(2) == std::string_view("1.1.0"));
  CHECK_FALSE(f->slot(3));
  CHECK_FALSE(f->slot(0));
  CHECK_FALSE(f->slot(8));
  for (std::size_t n = 0; n <= 80; ++n) {
    const bytes cut = prefix(in, n);
    CHECK(parse_firmware_slot_log(cut).has_value() == (n >= 64));
  }
  bytes none = in;
  none[0] = 0x03;
  CHECK_FALSE(parse_firmware_slot_log(none)->next_slot());
}

// ---- Features (completion DW0) ----------------------------------------------------------------

TEST_CASE("Number of Queues DW0 gives NSQA in 15:0 and NCQA in 31:16, 0's based") {
  const auto q = decode_number_of_queues(0x003F0007);
  CHECK(q.submission_queues == 8);
  CHECK(q.completion_queues == 64);
  CHECK(decode_number_of_queues(0xFFFFFFFF).submission_queues == 0x10000);
  CHECK(decode_volatile_write_cache(1));
  CHECK_FALSE(decode_volatile_write_cache(0xFFFFFFFE));
  const auto a = decode_arbitration(0x33221107);
  CHECK(a.burst_log2 == 7);
  CHECK(a.low_weight == 0x11);
  CHECK(a.medium_weight == 0x22);
  CHECK(a.high_weight == 0x33);
  const auto pm = decode_power_management(0xE3);
  CHECK(pm.power_state == 3);
  CHECK(pm.workload_hint == 7);
  CHECK(decode_temperature_threshold(0xFFFF0157) == 343);
}

// ---- Random input ------------------------------------------------------------------------------

namespace {
struct exercise_count {
  std::size_t parses = 0;
  std::size_t elements = 0;
};

// Runs every parser on `in` and walks every range it yields.
exercise_count exercise(const bytes& in) {
  exercise_count n;
  if (auto c = parse_identify_controller(in)) n.elements += c->serial.size() + c->subnqn.size();
  if (auto ns = parse_identify_namespace(in)) {
    for (const lba_format& f : ns->lba_formats()) n.elements += f.lbads != 0;
    n.elements += ns->block_size().has_value();
  }
  for (std::uint32_t id : parse_namespace_list(in).ids()) n.elements += id != 0;
  for (const ns_descriptor& d : parse_ns_descriptors(in)) n.elements += d.well_formed() + d.id.size();
  if (auto s = parse_smart_log(in)) n.elements += s->data_units_read.to_string().size();
  for (const error_log_entry& e : parse_error_log(in)) n.elements += e.empty();
  if (auto f = parse_firmware_slot_log(in)) n.elements += f->frs[6].size();
  n.parses = 7;
  return n;
}
}  // namespace

TEST_CASE("every parser survives random and mutated input without reading past it") {
  const char* seed_env = std::getenv("UC_NVME_FUZZ_SEED");
  const char* runs_env = std::getenv("UC_NVME_FUZZ_RUNS");
  const std::uint64_t seed = seed_env ? std::strtoull(seed_env, nullptr, 0) : 0x4E564D45ULL;
  const std::size_t inputs = runs_env ? std::strtoull(runs_env, nullptr, 0) : 20000;
  std::mt19937_64 rng(seed);
  auto below = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  auto byte = [&] { return static_cast<std::uint8_t>(rng()); };
  const std::vector<bytes> samples = all_samples();

  exercise_count total;
  for (std::size_t i = 0; i < inputs; ++i) {
    bytes in;
    switch (below(3)) {
      case 0: {  // random bytes, random length (up to a little over a full identify page)
        in.resize(below(4200));
        for (auto& b : in) b = byte();
        break;
      }
      case 1: {  // a sample with a few bytes changed, then cut or extended
        in = samples[below(samples.size())];
        for (std::size_t k = below(8); k > 0 && !in.empty(); --k) in[below(in.size())] = byte();
        const std::size_t n = below(in.size() + 64);
        const std::size_t old = in.size();
        in.resize(n);
        for (std::size_t k = old; k < n; ++k) in[k] = byte();
        break;
      }
      default: {  // small descriptors and LBA formats: short random records
        in.resize(below(300));
        for (auto& b : in) b = byte() & (below(2) ? 0x1F : 0xFF);
        break;
      }
    }
    const bytes exact(in.begin(), in.end());  // exactly sized, so ASan sees a read past the end
    const exercise_count n = exercise(exact);
    total.parses += n.parses;
    total.elements += n.elements;
  }
  MESSAGE("randomized run: seed ", seed, ", ", inputs, " inputs, ", total.parses, " parser executions, ",
          total.elements, " elements walked");
  CHECK(total.elements > inputs);  // the mutated samples decode: the walk reached their records
}
