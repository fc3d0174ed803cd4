// SPDX-License-Identifier: MIT
// nvme/command.hpp: every builder dword for dword against the command figures of NVM Express Base
// 2.0 (admin) and the NVM Command Set 1.0 (I/O). Each expected value is composed from the named
// spec fields, so a failure says which field moved.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

#include <doctest/doctest.h>

#include <uringcmd/nvme/command.hpp>

using namespace uringcmd::nvme;

namespace {
// Every dword of a command, so that a builder that sets a stray bit anywhere fails.
void check_dwords(const command& c, std::uint8_t opcode, std::uint32_t nsid, std::array<std::uint32_t, 6> cdw10_15) {
  CHECK(c.opcode == opcode);
  CHECK(c.flags == 0);
  CHECK(c.nsid == nsid);
  CHECK(c.cdw2 == 0);
  CHECK(c.cdw3 == 0);
  CHECK(c.cdw10 == cdw10_15[0]);
  CHECK(c.cdw11 == cdw10_15[1]);
  CHECK(c.cdw12 == cdw10_15[2]);
  CHECK(c.cdw13 == cdw10_15[3]);
  CHECK(c.cdw14 == cdw10_15[4]);
  CHECK(c.cdw15 == cdw10_15[5]);
}
}  // namespace

TEST_CASE("opcodes are the spec's: admin 02h/06h/09h/0Ah, I/O 00h/01h/02h/05h/08h/09h") {
  CHECK(admin_opcode::get_log_page == 0x02);
  CHECK(admin_opcode::identify == 0x06);
  CHECK(admin_opcode::set_features == 0x09);
  CHECK(admin_opcode::get_features == 0x0A);
  CHECK(admin_opcode::format_nvm == 0x80);
  CHECK(io_opcode::flush == 0x00);
  CHECK(io_opcode::write == 0x01);
  CHECK(io_opcode::read == 0x02);
  CHECK(io_opcode::compare == 0x05);
  CHECK(io_opcode::write_zeroes == 0x08);
  CHECK(io_opcode::dataset_management == 0x09);
}

TEST_CASE("the data transfer direction is bits 1:0 of the opcode") {
  CHECK(flush(1).direction() == data_transfer::none);
  CHECK(write(1, 0, 1)->direction() == data_transfer::host_to_controller);
  CHECK(read(1, 0, 1)->direction() == data_transfer::controller_to_host);
  CHECK(compare(1, 0, 1)->direction() == data_transfer::host_to_controller);
  CHECK(identify_controller().direction() == data_transfer::controller_to_host);
  CHECK(get_smart_log().direction() == data_transfer::controller_to_host);
  CHECK(set_volatile_write_cache(true).direction() == data_transfer::host_to_controller);
  CHECK(raw(0x83, 0).direction() == data_transfer::bidirectional);
}

TEST_CASE("Identify Controller is CNS 01h in CDW10 bits 7:0 with NSID 0") {
  check_dwords(identify_controller(), 0x06, 0, {0x01, 0, 0, 0, 0, 0});
}

TEST_CASE("Identify Namespace is CNS 00h for the namespace's NSID") {
  check_dwords(identify_namespace(7), 0x06, 7, {0x00, 0, 0, 0, 0, 0});
}

TEST_CASE("the Active Namespace ID list is CNS 02h, NSID the one to start after") {
  check_dwords(identify_active_namespaces(), 0x06, 0, {0x02, 0, 0, 0, 0, 0});
  check_dwords(identify_active_namespaces(1024), 0x06, 1024, {0x02, 0, 0, 0, 0, 0});
}

TEST_CASE("the Namespace Identification Descriptor list is CNS 03h") {
  check_dwords(identify_ns_descriptors(1), 0x06, 1, {0x03, 0, 0, 0, 0, 0});
}

TEST_CASE("Identify puts CNTID in CDW10 31:16, CNSSID in CDW11 15:0, CSI in 31:24, UUID index in CDW14") {
  auto c = identify(cns::io_namespace, 3, {.cntid = 0xABCD, .cnssid = 0x1234, .csi = 2, .uuid_index = 0x7F});
  REQUIRE(c);
  const std::uint32_t cdw10 = 0x05U /*CNS*/ | (0xABCDU << 16) /*CNTID*/;
  const std::uint32_t cdw11 = 0x1234U /*CNSSID*/ | (2U << 24) /*CSI*/;
  check_dwords(*c, 0x06, 3, {cdw10, cdw11, 0, 0, 0x7F /*UUID Index*/, 0});
  CHECK_FALSE(identify(cns::controller, 0, {.uuid_index = 0x80}));  // UUID Index is 7 bits
}

TEST_CASE("Get Log Page splits NUMD (0's based dwords) into NUMDL (CDW10 31:16) and NUMDU (CDW11 15:0)") {
  // 512 bytes = 128 dwords: NUMD 127, all in NUMDL.
  check_dwords(get_smart_log(), 0x02, nsid_all, {0x02U /*LID*/ | (127U << 16) /*NUMDL*/, 0, 0, 0, 0, 0});
  check_dwords(get_smart_log(1), 0x02, 1, {0x02U | (127U << 16), 0, 0, 0, 0, 0});
  // 1 MiB = 262144 dwords: NUMD 262143 = 0x3FFFF: NUMDL FFFFh, NUMDU 3h.
  auto big = get_log_page(0xC0, 0, 1U << 20);
  REQUIRE(big);
  check_dwords(*big, 0x02, 0, {0xC0U | (0xFFFFU << 16), 0x3U, 0, 0, 0, 0});
  // The smallest transfer, one dword: NUMD 0.
  check_dwords(*get_log_page(0x01, 0, 4), 0x02, 0, {0x01U, 0, 0, 0, 0, 0});
}

TEST_CASE("Get Log Page puts LSP in CDW10 14:8, RAE in bit 15, LSI in CDW11 31:16, LPOL/LPOU, UUID index and CSI in CDW14") {
  auto c = get_log_page(0x0D, 5, 4096,
                        {.offset = 0x123456789ABCDEF0ULL, .lsp = 0x7F, .lsi = 0xBEEF, .rae = true, .csi = 2, .uuid_index = 3});
  REQUIRE(c);
  const std::uint32_t numd = 4096 / 4 - 1;
  const std::uint32_t cdw10 = 0x0DU /*LID*/ | (0x7FU << 8) /*LSP*/ | (1U << 15) /*RAE*/ | (numd << 16) /*NUMDL*/;
  const std::uint32_t cdw11 = 0 /*NUMDU*/ | (0xBEEFU << 16) /*LSI*/;
  check_dwords(*c, 0x02, 5, {cdw10, cdw11, 0x9ABCDEF0U /*LPOL*/, 0x12345678U /*LPOU*/, 3U /*UUID*/ | (2U << 24) /*CSI*/, 0});
}

TEST_CASE("Get Log Page refuses a length or offset that is not whole dwords, and fields that do not fit") {
  CHECK_FALSE(get_log_page(0x02, 0, 0));
  CHECK_FALSE(get_log_page(0x02, 0, 511));
  CHECK_FALSE(get_log_page(0x02, 0, 512, {.offset = 2}));
  CHECK_FALSE(get_log_page(0x02, 0, 512, {.lsp = 0x80}));
  CHECK_FALSE(get_log_page(0x02, 0, 512, {.uuid_index = 0x80}));
  CHECK(get_log_page(0x02, 0, 0xFFFFFFFCU));  // the largest 32-bit length: NUMD 3FFFFFFEh
  CHECK(get_log_page(0x02, 0, 0xFFFFFFFCU)->cdw11 == 0x3FFFU);  // NUMDU
  CHECK((get_log_page(0x02, 0, 0xFFFFFFFCU)->cdw10 >> 16) == 0xFFFEU);  // NUMDL
}

TEST_CASE("the Error Information log asks for 64 bytes per entry, the firmware slot log for 512") {
  auto e = get_error_log(64);
  REQUIRE(e);
  check_dwords(*e, 0x02, nsid_all, {0x01U | ((64U * 64 / 4 - 1) << 16), 0, 0, 0, 0, 0});
  check_dwords(*get_error_log(1, true), 0x02, nsid_all, {0x01U | (1U << 15) | (15U << 16), 0, 0, 0, 0, 0});
  CHECK_FALSE(get_error_log(0));
  CHECK_FALSE(get_error_log(0x4000000));  // 4 GiB of entries
  check_dwords(get_firmware_slot_log(), 0x02, nsid_all, {0x03U | (127U << 16), 0, 0, 0, 0, 0});
}

TEST_CASE("Get Features puts FID in CDW10 7:0 and SEL in 10:8") {
  check_dwords(get_features(feature_id::number_of_queues), 0x0A, 0, {0x07, 0, 0, 0, 0, 0});
  check_dwords(get_features(feature_id::volatile_write_cache, feature_select::saved), 0x0A, 0,
               {0x06U | (2U << 8), 0, 0, 0, 0, 0});
  check_dwords(get_features(feature_id::arbitration, feature_select::supported_capabilities), 0x0A, 0,
               {0x01U | (3U << 8), 0, 0, 0, 0, 0});
  check_dwords(get_features(feature_id::lba_range_type, feature_select::default_value, 4, 0x55), 0x0A, 4,
               {0x03U | (1U << 8), 0x55, 0, 0, 0, 0});
}

TEST_CASE("Set Features puts FID in CDW10 7:0 and SV in bit 31") {
  check_dwords(set_features(0x0E, 0x1234), 0x09, 0, {0x0E, 0x1234, 0, 0, 0, 0});
  check_dwords(set_features(0x0E, 0x1234, true, 2), 0x09, 2, {0x0EU | (1U << 31), 0x1234, 0, 0, 0, 0});
}

TEST_CASE("Number of Queues takes NSQR in CDW11 15:0 and NCQR in 31:16, both 0's based") {
  check_dwords(*set_number_of_queues(1, 1), 0x09, 0, {0x07, 0, 0, 0, 0, 0});
  check_dwords(*set_number_of_queues(8, 16), 0x09, 0, {0x07, 7U | (15U << 16), 0, 0, 0, 0});
  check_dwords(*set_number_of_queues(0xFFFF, 0xFFFF), 0x09, 0, {0x07, 0xFFFEU | (0xFFFEU << 16), 0, 0, 0, 0});
  CHECK_FALSE(set_number_of_queues(0, 1));
  CHECK_FALSE(set_number_of_queues(1, 0));
  CHECK_FALSE(set_number_of_queues(0x10000, 1));
}

TEST_CASE("Volatile Write Cache sets WCE, CDW11 bit 0") {
  check_dwords(set_volatile_write_cache(true), 0x09, 0, {0x06, 1, 0, 0, 0, 0});
  check_dwords(set_volatile_write_cache(false, true), 0x09, 0, {0x06U | (1U << 31), 0, 0, 0, 0, 0});
}

TEST_CASE("Arbitration packs AB 2:0, LPW 15:8, MPW 23:16, HPW 31:24") {
  auto c = set_arbitration({.burst_log2 = 7, .low_weight = 0x11, .medium_weight = 0x22, .high_weight = 0x33});
  REQUIRE(c);
  check_dwords(*c, 0x09, 0, {0x01, 7U | (0x11U << 8) | (0x22U << 16) | (0x33U << 24), 0, 0, 0, 0});
  CHECK_FALSE(set_arbitration({.burst_log2 = 8}));
}

TEST_CASE("Power Management packs PS 4:0 and WH 7:5") {
  check_dwords(*set_power_management(31, 7), 0x09, 0, {0x02, 31U | (7U << 5), 0, 0, 0, 0});
  check_dwords(*set_power_management(2), 0x09, 0, {0x02, 2, 0, 0, 0, 0});
  CHECK_FALSE(set_power_management(32));
  CHECK_FALSE(set_power_management(0, 8));
}

TEST_CASE("Temperature Threshold packs TMPTH 15:0 (kelvin), TMPSEL 19:16, THSEL 21:20") {
  check_dwords(*set_temperature_threshold(343), 0x09, 0, {0x04, 343, 0, 0, 0, 0});
  check_dwords(*set_temperature_threshold(273, 8, threshold_type::under, true), 0x09, 0,
               {0x04U | (1U << 31), 273U | (8U << 16) | (1U << 20), 0, 0, 0, 0});
  check_dwords(*get_temperature_threshold(15, threshold_type::under), 0x0A, 0, {0x04, (15U << 16) | (1U << 20), 0, 0, 0, 0});
  CHECK_FALSE(set_temperature_threshold(300, 16));
  CHECK_FALSE(get_temperature_threshold(16));
}

TEST_CASE("Read puts SLBA in CDW10 (low) and CDW11 (high) and the 0's based NLB in CDW12 15:0") {
  check_dwords(*read(1, 0x0000000100000002ULL, 8), 0x02, 1, {0x00000002U /*SLBA low*/, 0x1U /*SLBA high*/, 7U /*NLB*/, 0, 0, 0});
  check_dwords(*read(1, 0, max_blocks), 0x02, 1, {0, 0, 0xFFFFU, 0, 0, 0});
  CHECK_FALSE(read(1, 0, 0));
  CHECK_FALSE(read(1, 0, max_blocks + 1));
}

TEST_CASE("Write sets FUA (CDW12 bit 30), LR (bit 31), DSM (CDW13 7:0) and the PI fields") {
  rw_flags f;
  f.fua = true;
  check_dwords(*write(2, 100, 1, f), 0x01, 2, {100, 0, (1U << 30) /*FUA*/ | 0U /*NLB*/, 0, 0, 0});
  f.limited_retry = true;
  f.dsm = 0x83;
  f.pi = {.pract = true, .check_guard = true, .check_app_tag = false, .check_ref_tag = true,
          .ref_tag = 0xDEADBEEF, .app_tag = 0x1234, .app_mask = 0xFFFF};
  const std::uint32_t cdw12 = 15U /*NLB*/ | (1U << 29) /*PRACT*/ | (1U << 28) /*PRCHK guard*/ | (1U << 26) /*PRCHK ref*/ |
                              (1U << 30) /*FUA*/ | (1U << 31) /*LR*/;
  check_dwords(*write(2, 100, 16, f), 0x01, 2, {100, 0, cdw12, 0x83 /*DSM*/, 0xDEADBEEF /*ILBRT*/, 0x1234U | (0xFFFFU << 16) /*LBAT, LBATM*/});
}

TEST_CASE("Compare has Read's layout with opcode 05h") {
  rw_flags f;
  f.pi.check_app_tag = true;
  check_dwords(*compare(3, 0xFFFFFFFFFFFFFFFFULL, 2, f), 0x05, 3, {0xFFFFFFFFU, 0xFFFFFFFFU, 1U | (1U << 27) /*PRCHK app*/, 0, 0, 0});
  CHECK_FALSE(compare(3, 0, 0));
}

TEST_CASE("Flush carries only the NSID") {
  check_dwords(flush(1), 0x00, 1, {0, 0, 0, 0, 0, 0});
  check_dwords(flush(nsid_all), 0x00, 0xFFFFFFFFU, {0, 0, 0, 0, 0, 0});
}

TEST_CASE("Write Zeroes sets DEAC in CDW12 bit 25 next to NLB, FUA and LR") {
  check_dwords(*write_zeroes(1, 8, 64), 0x08, 1, {8, 0, 63, 0, 0, 0});
  check_dwords(*write_zeroes(1, 8, 64, {.deallocate = true, .fua = true, .limited_retry = false, .pi = {}}), 0x08, 1,
               {8, 0, 63U | (1U << 25) /*DEAC*/ | (1U << 30) /*FUA*/, 0, 0, 0});
  CHECK_FALSE(write_zeroes(1, 0, 0));
  CHECK_FALSE(write_zeroes(1, 0, max_blocks + 1));
}

TEST_CASE("Dataset Management puts NR (0's based ranges) in CDW10 7:0 and AD/IDW/IDR in CDW11 bits 2/1/0") {
  check_dwords(*dataset_management(1, 1, {.deallocate = true}), 0x09, 1, {0, 1U << 2, 0, 0, 0, 0});
  check_dwords(*dataset_management(1, 256, {.deallocate = false, .integral_write = true, .integral_read = true}), 0x09, 1,
               {255, 0x3, 0, 0, 0, 0});
  CHECK_FALSE(dataset_management(1, 0, {}));
  CHECK_FALSE(dataset_management(1, 257, {}));
}

TEST_CASE("DSM ranges encode as 16 little-endian bytes: context attributes, length in blocks, starting LBA") {
  const std::array<dsm_range, 2> ranges{{{0x0102030405060708ULL, 0x100, 0xA0B0C0D0}, {42, 1, 0}}};
  std::array<std::uint8_t, 32> out{};
  auto n = encode_dsm_ranges(ranges, out);
  REQUIRE(n);
  CHECK(*n == 32);
  const std::array<std::uint8_t, 32> want{
      0xD0, 0xC0, 0xB0, 0xA0,                          // bytes 03:00 context attributes
      0x00, 0x01, 0x00, 0x00,                          // bytes 07:04 length (256 blocks)
      0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,  // bytes 15:08 starting LBA
      0, 0, 0, 0, 1, 0, 0, 0, 42, 0, 0, 0, 0, 0, 0, 0};
  CHECK(out == want);
}

TEST_CASE("DSM range encoding refuses no ranges, more than 256, or a short buffer, and then writes nothing") {
  std::array<std::uint8_t, 31> small{};
  const std::array<dsm_range, 2> two{};
  CHECK_FALSE(encode_dsm_ranges(two, small));
  for (auto b : small) CHECK(b == 0);
  std::array<std::uint8_t, 16> one{};
  CHECK_FALSE(encode_dsm_ranges({}, one));
  std::array<dsm_range, 257> many{};
  std::array<std::uint8_t, 257 * 16> big{};
  CHECK_FALSE(encode_dsm_ranges(many, big));
  CHECK(encode_dsm_ranges(std::span(many).first(256), big) == std::optional<std::size_t>(4096));
}

TEST_CASE("raw() places the six dwords in CDW10..CDW15") {
  check_dwords(raw(0xC1, 9, {1, 2, 3, 4, 5, 6}), 0xC1, 9, {1, 2, 3, 4, 5, 6});
}

// The builders are usable in constant expressions.
static_assert(identify_controller().cdw10 == 1);
static_assert(read(1, 0, 8)->cdw12 == 7);
static_assert(!read(1, 0, 0).has_value());
