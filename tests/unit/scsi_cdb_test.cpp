// SPDX-License-Identifier: MIT
// scsi/cdb.hpp and scsi/opcodes.hpp: every builder byte for byte against arrays written from the
// SPC-4/SBC-4 command tables. Where an sg3_utils tool prints the CDB it sends (`-vvv` on
// /dev/null, which fails only at the ioctl), the comment names the command line that printed it.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <doctest/doctest.h>

#include <uringcmd/scsi/cdb.hpp>
#include <uringcmd/scsi/opcodes.hpp>

using namespace uringcmd::scsi;

namespace {

using bytes = std::vector<std::uint8_t>;

// Hex like sg3_utils prints it ("28 00 ..."), so a failure shows both CDBs side by side.
std::string hex(std::span<const std::uint8_t> b) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s;
  for (std::uint8_t v : b) {
    if (!s.empty()) s += ' ';
    s += digits[v >> 4];
    s += digits[v & 0xf];
  }
  return s;
}
std::string hex(const cdb& c) { return hex(c.bytes()); }
std::string hex(const bytes& b) { return hex(std::span<const std::uint8_t>(b)); }

}  // namespace

// ---- compile time ----------------------------------------------------------------------------

// Every builder runs in a constant expression: a CDB can be a constexpr table entry.
static_assert(test_unit_ready() == raw({0x00, 0, 0, 0, 0, 0}));
static_assert(read16(0x0123456789abcdefULL, 0xfedcba98U, {.fua = true}) ==
              raw({0x88, 0x08, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98, 0, 0}));
static_assert(mode_sense10(0x3f, 0xff, 0xfffe, {.llbaa = true})->size() == 10);
static_assert(!mode_sense6(0x40, 0, 0xff).has_value());
static_assert(!raw(std::span<const std::uint8_t>{}).has_value());
static_assert(opcode_name(op::read_capacity10) == "READ CAPACITY(10)");
static_assert([] {
  std::array<std::uint8_t, 24> list{};
  const std::array<unmap_descriptor, 1> d{{{0x1000, 8}}};
  return unmap_parameter_list(list, d) == std::optional<std::uint16_t>(24) && list[1] == 0x16;
}());
// Field widths are the parameter types, so nothing is truncated inside a builder.
static_assert(std::is_same_v<decltype(&read10), cdb (*)(std::uint32_t, std::uint16_t, rw_flags) noexcept>);
static_assert(std::is_same_v<decltype(&read16), cdb (*)(std::uint64_t, std::uint32_t, rw_flags) noexcept>);
static_assert(std::is_same_v<decltype(&inquiry), cdb (*)(std::uint16_t) noexcept>);
static_assert(std::is_same_v<decltype(&request_sense), cdb (*)(std::uint8_t, request_sense_flags) noexcept>);
static_assert(std::is_trivially_copyable_v<cdb>);

TEST_CASE("CDB builders are constexpr and take parameters exactly as wide as their fields") {
  // The static_asserts above are the test; this case makes the file's intent show in the list.
  constexpr cdb c = read10(1, 1);
  CHECK(c.size() == 10);
}

// ---- SPC-4 -----------------------------------------------------------------------------------

TEST_CASE("TEST UNIT READY is a 6-byte CDB of zeros") {
  // sg_turs -vvv /dev/null: "test unit ready cdb: [00 00 00 00 00 00]"
  CHECK(hex(test_unit_ready()) == hex(bytes{0x00, 0, 0, 0, 0, 0}));
}

TEST_CASE("REQUEST SENSE CDB carries the one-byte allocation length and the DESC bit") {
  // sg_requests -vvv /dev/null: "[03 00 00 00 fc 00]"; with -d: "[03 01 00 00 fc 00]"
  CHECK(hex(request_sense(0xfc)) == hex(bytes{0x03, 0x00, 0, 0, 0xfc, 0}));
  CHECK(hex(request_sense(0xfc, {.desc = true})) == hex(bytes{0x03, 0x01, 0, 0, 0xfc, 0}));
  CHECK(hex(request_sense(0xff)) == hex(bytes{0x03, 0x00, 0, 0, 0xff, 0}));
}

TEST_CASE("standard INQUIRY CDB has EVPD 0, page 0 and a 2-byte allocation length") {
  // sg_inq -vvv /dev/null: "inquiry cdb: [12 00 00 00 24 00]"
  CHECK(hex(inquiry(36)) == hex(bytes{0x12, 0x00, 0x00, 0x00, 0x24, 0x00}));
  CHECK(hex(inquiry(0x1234)) == hex(bytes{0x12, 0x00, 0x00, 0x12, 0x34, 0x00}));
  CHECK(hex(inquiry(0xffff)) == hex(bytes{0x12, 0x00, 0x00, 0xff, 0xff, 0x00}));
}

TEST_CASE("INQUIRY VPD CDBs set EVPD and the page code for pages 00h, 80h, 83h, B0h, B1h and B2h") {
  // sg_vpd -f -vvv /dev/null: "inquiry cdb: [12 01 00 00 fc 00]"
  CHECK(hex(inquiry_vpd(0x00, 0xfc)) == hex(bytes{0x12, 0x01, 0x00, 0x00, 0xfc, 0x00}));
  // sg_inq -p 0x80 -f -vvv /dev/null: "[12 01 80 00 fc 00]"
  CHECK(hex(inquiry_vpd(0x80, 0xfc)) == hex(bytes{0x12, 0x01, 0x80, 0x00, 0xfc, 0x00}));
  // sg_vpd -p 0x83 -f -vvv /dev/null: "[12 01 83 00 fc 00]"
  CHECK(hex(inquiry_vpd(0x83, 0xfc)) ==
        hex(bytes{0x12, 0x01, 0x83, 0x00, 0xfc, 0x00}));
  // sg_vpd -f -p 0xb0 / 0xb1 / 0xb2 -vvv /dev/null
  CHECK(hex(inquiry_vpd(0xb0, 0xfc)) == hex(bytes{0x12, 0x01, 0xb0, 0x00, 0xfc, 0x00}));
  CHECK(hex(inquiry_vpd(0xb1, 0xfc)) ==
        hex(bytes{0x12, 0x01, 0xb1, 0x00, 0xfc, 0x00}));
  CHECK(hex(inquiry_vpd(0xb2, 0xfc)) ==
        hex(bytes{0x12, 0x01, 0xb2, 0x00, 0xfc, 0x00}));
  // A VPD page can be larger than 255 bytes (device identification often is).
  CHECK(hex(inquiry_vpd(0x83, 0x1000)) == hex(bytes{0x12, 0x01, 0x83, 0x10, 0x00, 0x00}));
}

TEST_CASE("REPORT LUNS CDB puts SELECT REPORT in byte 2 and a 4-byte allocation length in bytes 6-9") {
  // sg_luns -vvv /dev/null: "[a0 00 00 00 00 00 00 00 20 00 00 00]"
  CHECK(hex(report_luns(8192)) == hex(bytes{0xa0, 0, 0x00, 0, 0, 0, 0x00, 0x00, 0x20, 0x00, 0, 0}));
  // sg_luns -s 2 -m 512 -vvv /dev/null: "[a0 00 02 00 00 00 00 00 02 00 00 00]"
  CHECK(hex(report_luns(512, 2)) == hex(bytes{0xa0, 0, 0x02, 0, 0, 0, 0x00, 0x00, 0x02, 0x00, 0, 0}));
  CHECK(hex(report_luns(0xfedcba98)) == hex(bytes{0xa0, 0, 0x00, 0, 0, 0, 0xfe, 0xdc, 0xba, 0x98, 0, 0}));
}

TEST_CASE("MODE SENSE(6) CDB packs PC with the page code and refuses a page code over 3Fh") {
  // sg_wr_mode -p 0x1c,2 -6 -vvv /dev/null: "mode sense(6) cdb: [1a 00 1c 02 fc 00]"
  CHECK(hex(*mode_sense6(0x1c, 0x02, 0xfc)) == hex(bytes{0x1a, 0x00, 0x1c, 0x02, 0xfc, 0x00}));
  // DBD is byte 1 bit 3; PC=01b (changeable) is byte 2 bits 7:6.
  CHECK(hex(*mode_sense6(0x08, 0x00, 0xff, {.pc = page_control::changeable, .dbd = true})) ==
        hex(bytes{0x1a, 0x08, 0x48, 0x00, 0xff, 0x00}));
  CHECK(hex(*mode_sense6(0x3f, 0xff, 0xff, {.pc = page_control::saved})) ==
        hex(bytes{0x1a, 0x00, 0xff, 0xff, 0xff, 0x00}));
  CHECK_FALSE(mode_sense6(0x40, 0, 0xff).has_value());
  CHECK_FALSE(mode_sense6(0xff, 0, 0xff).has_value());
}

TEST_CASE("MODE SENSE(10) CDB adds LLBAA and a 2-byte allocation length in bytes 7-8") {
  // sg_wr_mode -p 8 -vvv /dev/null: "mode sense(10) cdb: [5a 00 08 00 00 00 00 08 00 00]"
  CHECK(hex(*mode_sense10(0x08, 0x00, 0x0800)) == hex(bytes{0x5a, 0x00, 0x08, 0x00, 0, 0, 0, 0x08, 0x00, 0x00}));
  // LLBAA byte 1 bit 4, DBD bit 3; PC=10b (default values).
  CHECK(hex(*mode_sense10(0x3f, 0xff, 0xfffe, {.pc = page_control::default_values, .dbd = true, .llbaa = true})) ==
        hex(bytes{0x5a, 0x18, 0xbf, 0xff, 0, 0, 0, 0xff, 0xfe, 0x00}));
  CHECK_FALSE(mode_sense10(0x40, 0, 0xffff).has_value());
}

TEST_CASE("REPORT SUPPORTED OPERATION CODES CDB encodes the reporting options and RCTD") {
  // All commands: MAINTENANCE IN A3h, service action 0Ch, byte 2 = 0. (sg_opcodes needs a working
  // INQUIRY before it builds this one, so this array is from the table alone.)
  CHECK(hex(report_supported_opcodes(8192)) == hex(bytes{0xa3, 0x0c, 0x00, 0x00, 0, 0, 0, 0, 0x20, 0x00, 0, 0}));
  // sg_opcodes -n -o 0x12 -vvv /dev/null: "[a3 0c 01 12 00 00 00 00 20 00 00 00]"
  CHECK(hex(report_supported_opcodes(8192, {.report = rsoc_report::one_command, .opcode = op::inquiry})) ==
        hex(bytes{0xa3, 0x0c, 0x01, 0x12, 0, 0, 0, 0, 0x20, 0x00, 0, 0}));
  // sg_opcodes -n -o 0x28 -R -vvv /dev/null: "[a3 0c 81 28 00 00 00 00 20 00 00 00]"
  CHECK(hex(report_supported_opcodes(8192, {.report = rsoc_report::one_command, .opcode = op::read10, .rctd = true})) ==
        hex(bytes{0xa3, 0x0c, 0x81, 0x28, 0, 0, 0, 0, 0x20, 0x00, 0, 0}));
  // sg_opcodes -n -o 0x9e -s 0x10 -vvv /dev/null: "[a3 0c 02 9e 00 10 00 00 20 00 00 00]"
  CHECK(hex(report_supported_opcodes(8192, {.report = rsoc_report::one_service_action,
                                            .opcode = op::service_action_in16,
                                            .service_action = service_action::read_capacity16})) ==
        hex(bytes{0xa3, 0x0c, 0x02, 0x9e, 0x00, 0x10, 0, 0, 0x20, 0x00, 0, 0}));
  // A 16-bit service action (variable-length CDBs) and the widest allocation length.
  CHECK(hex(report_supported_opcodes(0xffffffff, {.report = rsoc_report::one_command_either,
                                                  .opcode = op::variable_length,
                                                  .service_action = 0x000d,
                                                  .rctd = true})) ==
        hex(bytes{0xa3, 0x0c, 0x83, 0x7f, 0x00, 0x0d, 0xff, 0xff, 0xff, 0xff, 0, 0}));
}

// ---- SBC-4 -----------------------------------------------------------------------------------

TEST_CASE("READ CAPACITY(10) and (16) CDBs") {
  // sg_readcap -vvv /dev/null: "read capacity(10) cdb: [25 00 00 00 00 00 00 00 00 00]"
  CHECK(hex(read_capacity10()) == hex(bytes{0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
  // sg_readcap -l -vvv /dev/null: "[9e 10 00 00 00 00 00 00 00 00 00 00 00 20 00 00]"
  CHECK(hex(read_capacity16()) == hex(bytes{0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x00, 0x00, 0x20, 0, 0}));
  CHECK(hex(read_capacity16(0x01020304)) ==
        hex(bytes{0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x02, 0x03, 0x04, 0, 0}));
}

TEST_CASE("READ(10) and WRITE(10) CDBs put the LBA in bytes 2-5 and the count in bytes 7-8") {
  CHECK(hex(read10(0x12345678, 0x9abc)) == hex(bytes{0x28, 0x00, 0x12, 0x34, 0x56, 0x78, 0x00, 0x9a, 0xbc, 0x00}));
  CHECK(hex(write10(0x12345678, 0x9abc)) == hex(bytes{0x2a, 0x00, 0x12, 0x34, 0x56, 0x78, 0x00, 0x9a, 0xbc, 0x00}));
  // Edge values: the largest LBA and count the fields hold, and a count of 0 ("no transfer", not
  // 256 as in READ(6)).
  CHECK(hex(read10(0xffffffff, 0xffff)) == hex(bytes{0x28, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0xff, 0xff, 0x00}));
  CHECK(hex(write10(0xffffffff, 0xffff)) == hex(bytes{0x2a, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0xff, 0xff, 0x00}));
  CHECK(hex(read10(0, 0)) == hex(bytes{0x28, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
}

TEST_CASE("READ and WRITE CDBs set FUA in byte 1 bit 3 and DPO in bit 4") {
  CHECK(read10(1, 1, {.fua = true})[1] == 0x08);
  CHECK(read10(1, 1, {.dpo = true})[1] == 0x10);
  CHECK(write10(1, 1, {.fua = true, .dpo = true})[1] == 0x18);
  CHECK(read16(1, 1, {.fua = true})[1] == 0x08);
  CHECK(write16(1, 1, {.dpo = true})[1] == 0x10);
  // sg_write_x --in=F --lba=0x10 --num=8 --bs=512 --fua --dpo -vvv /dev/null:
  //   "Write(16) cdb: [8a 18 00 00 00 00 00 00 00 10 00 00 00 08 00 00]"
  CHECK(hex(write16(0x10, 8, {.fua = true, .dpo = true})) ==
        hex(bytes{0x8a, 0x18, 0, 0, 0, 0, 0, 0, 0, 0x10, 0x00, 0x00, 0x00, 0x08, 0, 0}));
  // The same without flags: "[8a 00 ...]"
  CHECK(hex(write16(0x10, 8)) == hex(bytes{0x8a, 0x00, 0, 0, 0, 0, 0, 0, 0, 0x10, 0x00, 0x00, 0x00, 0x08, 0, 0}));
}

TEST_CASE("READ(16) and WRITE(16) CDBs put a 64-bit LBA in bytes 2-9 and a 32-bit count in 10-13") {
  CHECK(hex(read16(0x0123456789abcdefULL, 0xfedcba98)) ==
        hex(bytes{0x88, 0x00, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98, 0, 0}));
  CHECK(hex(read16(0xffffffffffffffffULL, 0xffffffff)) ==
        hex(bytes{0x88, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0}));
  CHECK(hex(write16(0xffffffffffffffffULL, 0)) ==
        hex(bytes{0x8a, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0, 0}));
}

TEST_CASE("VERIFY(10) and (16) CDBs carry DPO and BYTCHK in byte 1") {
  // sg_verify -vvv /dev/null: "verify(10) cdb: [2f 00 00 00 00 00 00 00 01 00]"
  CHECK(hex(verify10(0, 1)) == hex(bytes{0x2f, 0x00, 0, 0, 0, 0, 0x00, 0x00, 0x01, 0x00}));
  // sg_verify -S -l 0x123456789 -c 16 -vvv /dev/null: "[8f 00 00 00 00 01 23 45 67 89 00 00 00 10 00 00]"
  CHECK(hex(verify16(0x123456789ULL, 16)) ==
        hex(bytes{0x8f, 0x00, 0x00, 0x00, 0x00, 0x01, 0x23, 0x45, 0x67, 0x89, 0x00, 0x00, 0x00, 0x10, 0, 0}));
  // DPO bit 4; BYTCHK bits 2:1 (01b compare, 11b compare against one block).
  CHECK(verify10(0, 1, {.bytchk = byte_check::compare, .dpo = true})[1] == 0x12);
  CHECK(verify16(0, 1, {.bytchk = byte_check::compare_one})[1] == 0x06);
  CHECK(hex(verify10(0xffffffff, 0xffff, {.bytchk = byte_check::compare})) ==
        hex(bytes{0x2f, 0x02, 0xff, 0xff, 0xff, 0xff, 0x00, 0xff, 0xff, 0x00}));
}

TEST_CASE("WRITE SAME(10) and (16) CDBs set UNMAP, ANCHOR and, for (16), NDOB") {
  // sg_write_same --10 -U -a -l 0x10 -n 8 -x 512 -vvv /dev/null: "[41 18 00 00 00 10 00 00 08 00]"
  CHECK(hex(write_same10(0x10, 8, {.unmap = true, .anchor = true})) ==
        hex(bytes{0x41, 0x18, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x08, 0x00}));
  CHECK(hex(write_same10(0xffffffff, 0xffff)) ==
        hex(bytes{0x41, 0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0xff, 0xff, 0x00}));
  // sg_write_same -U -l 0x10 -n 8 -x 512 -vvv /dev/null: "[93 08 00 00 00 00 00 00 00 10 00 00 00 08 00 00]"
  CHECK(hex(write_same16(0x10, 8, {.unmap = true})) ==
        hex(bytes{0x93, 0x08, 0, 0, 0, 0, 0, 0, 0, 0x10, 0x00, 0x00, 0x00, 0x08, 0, 0}));
  // sg_write_same -a -U ...: "[93 18 ...]"
  CHECK(write_same16(0x10, 8, {.unmap = true, .anchor = true})[1] == 0x18);
  // sg_write_same -S -N -U -l 0x10 -n 8 -vvv /dev/null: "[93 09 00 00 00 00 00 00 00 10 00 00 00 08 00 00]"
  CHECK(hex(write_same16(0x10, 8, {.unmap = true, .ndob = true})) ==
        hex(bytes{0x93, 0x09, 0, 0, 0, 0, 0, 0, 0, 0x10, 0x00, 0x00, 0x00, 0x08, 0, 0}));
  CHECK(hex(write_same16(0xffffffffffffffffULL, 0xffffffff)) ==
        hex(bytes{0x93, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0}));
}

TEST_CASE("SYNCHRONIZE CACHE(10) and (16) CDBs carry IMMED, the LBA and the block count") {
  // sg_sync -vvv /dev/null: "synchronize cache(10) cdb: [35 00 00 00 00 00 00 00 00 00]"
  CHECK(hex(synchronize_cache10()) == hex(bytes{0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
  // sg_sync -l 0x1234 -c 8 -i -vvv /dev/null: "[35 02 00 00 12 34 00 00 08 00]"
  CHECK(hex(synchronize_cache10(0x1234, 8, {.immed = true})) ==
        hex(bytes{0x35, 0x02, 0x00, 0x00, 0x12, 0x34, 0x00, 0x00, 0x08, 0x00}));
  // sg_sync -S -l 0x1234 -c 8 -vvv /dev/null: "[91 00 00 00 00 00 00 00 12 34 00 00 00 08 00 00]"
  CHECK(hex(synchronize_cache16(0x1234, 8)) ==
        hex(bytes{0x91, 0x00, 0, 0, 0, 0, 0, 0, 0x12, 0x34, 0x00, 0x00, 0x00, 0x08, 0, 0}));
  CHECK(hex(synchronize_cache16(0, 0, {.immed = true})) ==
        hex(bytes{0x91, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
}

TEST_CASE("START STOP UNIT CDB carries IMMED, the power condition, NO_FLUSH, LOEJ and START") {
  // sg_start -s -vvv /dev/null: "start stop unit cdb: [1b 00 00 00 01 00]"
  CHECK(hex(start_stop_unit({.start = true})) == hex(bytes{0x1b, 0x00, 0, 0, 0x01, 0x00}));
  // sg_start --stop -i --loej -vvv /dev/null: "[1b 01 00 00 02 00]"
  CHECK(hex(start_stop_unit({.loej = true, .immed = true})) == hex(bytes{0x1b, 0x01, 0, 0, 0x02, 0x00}));
  // sg_start --pc=3 -vvv /dev/null: "[1b 00 00 00 30 00]"
  CHECK(hex(start_stop_unit({.pc = power_condition::standby})) == hex(bytes{0x1b, 0x00, 0, 0, 0x30, 0x00}));
  CHECK(hex(start_stop_unit({.no_flush = true, .pc = power_condition::force_standby_0})) ==
        hex(bytes{0x1b, 0x00, 0, 0, 0xb4, 0x00}));
}

// ---- UNMAP -----------------------------------------------------------------------------------

TEST_CASE("UNMAP CDB carries ANCHOR and the parameter list length") {
  // sg_unmap -f -l 0x1000 -n 8 -vvv /dev/null: "unmap cdb: [42 00 00 00 00 00 00 00 18 00]"
  CHECK(hex(unmap(24)) == hex(bytes{0x42, 0x00, 0, 0, 0, 0, 0x00, 0x00, 0x18, 0x00}));
  CHECK(hex(unmap(0xfff8, {.anchor = true})) == hex(bytes{0x42, 0x01, 0, 0, 0, 0, 0x00, 0xff, 0xf8, 0x00}));
}

TEST_CASE("UNMAP parameter list is a header and 16-byte block descriptors") {
  // sg_unmap -f -l 0x1000 -n 8 -vvvv /dev/null prints this list:
  //   00 16 00 10 00 00 00 00  00 00 00 00 00 00 10 00
  //   00 00 00 08 00 00 00 00
  std::array<std::uint8_t, 24> one{};
  const std::array<unmap_descriptor, 1> d1{{{0x1000, 8}}};
  REQUIRE(unmap_parameter_list(one, d1) == std::optional<std::uint16_t>(24));
  CHECK(hex(one) == hex(bytes{0x00, 0x16, 0x00, 0x10, 0, 0, 0, 0,                           //
                              0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x08,  //
                              0, 0, 0, 0}));

  // Two descriptors with the widest values into a dirty buffer: reserved bytes come out 0 and the
  // bytes after the list are left alone.
  std::array<std::uint8_t, 41> two;
  two.fill(0xee);
  const std::array<unmap_descriptor, 2> d2{{{0xffffffffffffffffULL, 0xffffffff}, {0x0102030405060708ULL, 0x090a0b0c}}};
  REQUIRE(unmap_parameter_list(two, d2) == std::optional<std::uint16_t>(40));
  CHECK(hex(two) == hex(bytes{0x00, 0x26, 0x00, 0x20, 0, 0, 0, 0,                                      //
                              0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0,  //
                              0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0, 0, 0, 0,  //
                              0xee}));

  // No descriptors: the 8-byte header alone (UNMAP DATA LENGTH 6, descriptor length 0).
  std::array<std::uint8_t, 8> none;
  none.fill(0xee);
  REQUIRE(unmap_parameter_list(none, std::span<const unmap_descriptor>{}) == std::optional<std::uint16_t>(8));
  CHECK(hex(none) == hex(bytes{0x00, 0x06, 0x00, 0x00, 0, 0, 0, 0}));
}

TEST_CASE("UNMAP parameter list fails without writing when the buffer is too small") {
  const std::array<unmap_descriptor, 2> d{{{1, 1}, {2, 2}}};
  std::array<std::uint8_t, 39> short_by_one;
  short_by_one.fill(0xee);
  CHECK_FALSE(unmap_parameter_list(short_by_one, d).has_value());
  for (std::uint8_t v : short_by_one) CHECK(v == 0xee);
  std::array<std::uint8_t, 7> no_header{};
  CHECK_FALSE(unmap_parameter_list(no_header, std::span<const unmap_descriptor>{}).has_value());
  // Exactly unmap_parameter_list_size(n) is enough; std::byte buffers work too.
  CHECK(unmap_parameter_list_size(2) == 40);
  std::array<std::byte, 40> exact{};
  CHECK(unmap_parameter_list(exact, d) == std::optional<std::uint16_t>(40));
  CHECK(exact[1] == std::byte{0x26});
}

TEST_CASE("UNMAP parameter list refuses more descriptors than its 16-bit data length counts") {
  // UNMAP DATA LENGTH = 6 + 16 n must fit in 16 bits: n <= 4095.
  static_assert(max_unmap_descriptors == 4095);
  std::vector<unmap_descriptor> d(max_unmap_descriptors, unmap_descriptor{7, 1});
  std::vector<std::uint8_t> buf(unmap_parameter_list_size(max_unmap_descriptors + 1));
  const auto len = unmap_parameter_list(buf, d);
  REQUIRE(len == std::optional<std::uint16_t>(8 + 16 * 4095));
  CHECK(buf[0] == 0xff);  // 6 + 16 * 4095 = 65526 = FFF6h
  CHECK(buf[1] == 0xf6);
  CHECK(buf[2] == 0xff);  // 16 * 4095 = 65520 = FFF0h
  CHECK(buf[3] == 0xf0);
  CHECK(hex(unmap(*len)) == hex(bytes{0x42, 0x00, 0, 0, 0, 0, 0x00, 0xff, 0xf8, 0x00}));
  d.push_back({8, 1});
  CHECK_FALSE(unmap_parameter_list(buf, d).has_value());
}

// ---- raw and the cdb type --------------------------------------------------------------------

TEST_CASE("raw CDB escape hatch accepts 1 to 32 bytes and refuses 0 or 33") {
  std::array<std::uint8_t, 33> src{};
  for (std::size_t i = 0; i < src.size(); ++i) src[i] = static_cast<std::uint8_t>(0xa0 + i);
  CHECK_FALSE(raw(std::span<const std::uint8_t>(src).first(0)).has_value());
  CHECK_FALSE(raw(std::span<const std::uint8_t>(src)).has_value());
  const auto one = raw(std::span<const std::uint8_t>(src).first(1));
  REQUIRE(one.has_value());
  CHECK(hex(*one) == "a0");
  const auto full = raw(std::span<const std::uint8_t>(src).first(32));
  REQUIRE(full.has_value());
  CHECK(full->size() == 32);
  CHECK(hex(*full) == hex(std::span<const std::uint8_t>(src).first(32)));
  // sg_write_same -T -U -l 0x10 -n 8 -x 512 -vvv /dev/null prints this WRITE SAME(32) CDB:
  constexpr cdb ws32 = raw({0x7f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x18, 0x00, 0x0d, 0x08,
                            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00,
                            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08});
  static_assert(ws32.size() == cdb::max_size);
  CHECK(ws32.opcode() == op::variable_length);
  CHECK(ws32[9] == 0x0d);
}

TEST_CASE("a cdb exposes its bytes as spans and compares by content and length") {
  cdb c = read16(0x10, 8);
  CHECK(c.opcode() == op::read16);
  CHECK(c.size() == 16);
  CHECK(c.bytes().size() == 16);
  CHECK(c.data() == c.bytes().data());
  // The writable span sets a field no builder offers: GROUP NUMBER, byte 14 of READ(16).
  c.bytes()[14] = 0x05;
  CHECK(hex(c) == hex(bytes{0x88, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 0x08, 0x05, 0}));
  CHECK(c != read16(0x10, 8));
  // Same bytes, different length: a 6-byte TEST UNIT READY is not a 10-byte all-zero CDB.
  CHECK(test_unit_ready() != *raw(std::array<std::uint8_t, 10>{}));
  CHECK(test_unit_ready() == *raw(std::array<std::uint8_t, 6>{}));
}

TEST_CASE("opcode_name names every op constant and nothing else") {
  CHECK(opcode_name(op::inquiry) == "INQUIRY");
  CHECK(opcode_name(op::read16) == "READ(16)");
  CHECK(opcode_name(op::write_same16) == "WRITE SAME(16)");
  CHECK(opcode_name(op::service_action_in16) == "SERVICE ACTION IN(16)");
  CHECK(opcode_name(op::maintenance_in) == "MAINTENANCE IN");
  CHECK(opcode_name(0x01).empty());  // REZERO UNIT: obsolete, not in the table
  CHECK(opcode_name(0xff).empty());
  // Every builder's opcode has a name.
  for (const cdb& c : {test_unit_ready(), request_sense(18), inquiry(36), inquiry_vpd(0, 4), report_luns(16),
                       *mode_sense6(0, 0, 4), *mode_sense10(0, 0, 8), report_supported_opcodes(4), read_capacity10(),
                       read_capacity16(), read10(0, 0), read16(0, 0), write10(0, 0), write16(0, 0), verify10(0, 0),
                       verify16(0, 0), write_same10(0, 1), write_same16(0, 1), synchronize_cache10(),
                       synchronize_cache16(), start_stop_unit({}), unmap(0)}) {
    CAPTURE(c.opcode());
    CHECK_FALSE(opcode_name(c.opcode()).empty());
  }
}
