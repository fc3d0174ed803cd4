// SPDX-License-Identifier: MIT
// scsi/sense.hpp, scsi/status.hpp, scsi/error.hpp: sense decoding of both formats on hand-built
// vectors, truncated and garbage input (every buffer is an exactly sized std::vector, so an
// over-read is an ASan error), a randomized run, names, and the error_code mapping. Pure logic.
#include <array>
#include <cerrno>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <system_error>
#include <variant>
#include <vector>

#include <doctest/doctest.h>

#include <uringcmd/scsi/error.hpp>
#include <uringcmd/scsi/sense.hpp>
#include <uringcmd/scsi/status.hpp>

namespace scsi = uringcmd::scsi;
using namespace uringcmd::scsi;
using bytes_t = std::vector<std::uint8_t>;

namespace {

std::optional<sense> decode(const bytes_t& v) { return decode_sense(std::span<const std::uint8_t>(v)); }

// Fixed format, 18 bytes: MEDIUM ERROR 11h/00h, VALID, information = 0x12345678, retry count 5.
const bytes_t fixed_medium{0xf0, 0x00, 0x03, 0x12, 0x34, 0x56, 0x78, 0x0a, 0x00, 0x00, 0x00, 0x00,
                           0x11, 0x00, 0x00, 0x80, 0x00, 0x05};
// Fixed format: ILLEGAL REQUEST 24h/00h, field pointer: CDB byte 2 bit 5.
const bytes_t fixed_illegal{0x70, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x00,
                            0x24, 0x00, 0x00, 0xcd, 0x00, 0x02};
// Descriptor format, current, MEDIUM ERROR 11h/00h: information (VALID) 0x1122334455667788,
// command-specific 7, SKS retry count 3, FRU 0x42, block commands with ILI.
const bytes_t desc_medium{0x72, 0x03, 0x11, 0x00, 0x00, 0x00, 0x00, 0x28,
                          0x00, 0x0a, 0x80, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
                          0x01, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07,
                          0x02, 0x06, 0x00, 0x00, 0x80, 0x00, 0x03, 0x00,
                          0x03, 0x02, 0x00, 0x42,
                          0x05, 0x02, 0x00, 0x20};

}  // namespace

TEST_CASE("fixed sense: a medium error carries the first bad LBA in the information field") {
  auto s = decode(fixed_medium);
  REQUIRE(s);
  CHECK(s->format == sense_format::fixed);
  CHECK(s->response_code == 0x70);
  CHECK(s->current());
  CHECK_FALSE(s->deferred);
  CHECK(s->valid);
  CHECK(s->key == sense_key::medium_error);
  CHECK(s->asc == 0x11);
  CHECK(s->ascq == 0x00);
  CHECK(s->information == 0x12345678U);
  CHECK(s->command_specific == 0U);
  REQUIRE(s->sks);
  CHECK(std::get<retry_count>(*s->sks) == retry_count{5});
  CHECK_FALSE(s->truncated);
  CHECK(s->length == 18);
  CHECK(describe(*s) == "Medium Error: Unrecovered read error, info=0x12345678, retry count 5");

  bytes_t no_valid = fixed_medium;
  no_valid[0] = 0x70;  // VALID clear: the information field means nothing
  auto n = decode(no_valid);
  REQUIRE(n);
  CHECK_FALSE(n->valid);
  CHECK_FALSE(n->information);
}

TEST_CASE("fixed sense: an illegal request points at the CDB byte and bit in error") {
  auto s = decode(fixed_illegal);
  REQUIRE(s);
  CHECK(s->key == sense_key::illegal_request);
  CHECK(asc_name(s->asc, s->ascq) == "Invalid field in cdb");
  REQUIRE(s->sks);
  const auto fp = std::get<field_pointer>(*s->sks);
  CHECK(fp.command);
  CHECK(fp.bit_valid);
  CHECK(fp.bit == 5);
  CHECK(fp.field == 2);
  CHECK(describe(*s) == "Illegal Request: Invalid field in cdb, field pointer: CDB byte 2 bit 5");

  bytes_t param = fixed_illegal;
  param[15] = 0x80;  // SKSV, C/D = 0 (parameter list), no bit pointer
  param[16] = 0x01;
  param[17] = 0x04;
  auto p = decode(param);
  REQUIRE(p);
  CHECK(std::get<field_pointer>(*p->sks) == field_pointer{false, false, 0, 0x104});
  CHECK(describe(*p->sks) == "field pointer: parameter list byte 260");

  bytes_t no_sksv = fixed_illegal;
  no_sksv[15] = 0x4d;
  CHECK_FALSE(decode(no_sksv)->sks);
}

TEST_CASE("a not-ready sense reports the format's progress as a fraction of 65536") {
  const bytes_t v{0x70, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x00,
                  0x04, 0x04, 0x00, 0x80, 0x40, 0x00};
  auto s = decode(v);
  REQUIRE(s);
  CHECK(s->key == sense_key::not_ready);
  CHECK(asc_name(0x04, 0x04) == "Logical unit not ready, format in progress");
  const auto p = std::get<progress_indication>(*s->sks);
  CHECK(p.progress == 0x4000);
  CHECK(p.fraction() == doctest::Approx(0.25));
  CHECK(describe(*s) == "Not Ready: Logical unit not ready, format in progress, progress 25.00%");
  CHECK(describe(sense_key_specific{progress_indication{0xffff}}) == "progress 99.99%");
  CHECK(describe(sense_key_specific{progress_indication{0}}) == "progress 0.00%");
}

TEST_CASE("a deferred error is marked deferred in both sense formats") {
  bytes_t fixed = fixed_medium;
  fixed[0] = 0xf1;
  auto f = decode(fixed);
  REQUIRE(f);
  CHECK(f->deferred);
  CHECK_FALSE(f->current());
  CHECK(f->response_code == 0x71);
  CHECK(f->information == 0x12345678U);
  CHECK(describe(*f).starts_with("Medium Error (deferred): "));

  bytes_t desc = desc_medium;
  desc[0] = 0x73;
  auto d = decode(desc);
  REQUIRE(d);
  CHECK(d->deferred);
  CHECK(d->format == sense_format::descriptor);
}

TEST_CASE("filemark, EOM and ILI come from fixed sense byte 2 and from the stream and block descriptors") {
  const bytes_t fixed{0x70, 0x00, 0xe0, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x00,
                      0x00, 0x01, 0x00, 0x00, 0x00, 0x00};  // NO SENSE, 00h/01h filemark detected
  auto f = decode(fixed);
  REQUIRE(f);
  CHECK(f->filemark);
  CHECK(f->eom);
  CHECK(f->ili);
  CHECK(f->key == sense_key::no_sense);
  CHECK(describe(*f) == "No Sense: Filemark detected, filemark, EOM, ILI");

  const bytes_t stream{0x72, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x04, 0x04, 0x02, 0x00, 0xc0};
  auto st = decode(stream);
  REQUIRE(st);
  CHECK(st->filemark);
  CHECK(st->eom);
  CHECK_FALSE(st->ili);

  const bytes_t block{0x72, 0x05, 0x24, 0x00, 0x00, 0x00, 0x00, 0x04, 0x05, 0x02, 0x00, 0x20};
  auto b = decode(block);
  REQUIRE(b);
  CHECK(b->ili);
  CHECK_FALSE(b->filemark);
  CHECK_FALSE(b->eom);
}

TEST_CASE("descriptor sense with information, command-specific, SKS, FRU and block descriptors decodes each") {
  auto s = decode(desc_medium);
  REQUIRE(s);
  CHECK(s->format == sense_format::descriptor);
  CHECK(s->response_code == 0x72);
  CHECK(s->key == sense_key::medium_error);
  CHECK(s->asc == 0x11);
  CHECK(s->valid);
  CHECK(s->information == 0x1122334455667788ULL);
  CHECK(s->command_specific == 7U);
  CHECK(std::get<retry_count>(*s->sks) == retry_count{3});
  CHECK(s->fru == 0x42);
  CHECK(s->ili);
  CHECK_FALSE(s->truncated);
  CHECK(describe(*s) ==
        "Medium Error: Unrecovered read error, info=0x1122334455667788, cmd-specific=0x7, retry count 3, "
        "FRU=0x42, ILI");

  std::vector<std::uint8_t> types;
  for (const sense_descriptor d : s->descriptors()) {
    CHECK(d.complete());
    types.push_back(d.type);
  }
  CHECK(types == bytes_t{0x00, 0x01, 0x02, 0x03, 0x05});

  bytes_t invalid_info = desc_medium;
  invalid_info[10] = 0x00;  // the information descriptor's VALID bit
  auto n = decode(invalid_info);
  CHECK_FALSE(n->valid);
  CHECK_FALSE(n->information);
}

TEST_CASE("the sense descriptor view stops at the additional length and yields a cut last descriptor") {
  // Additional length 0x0c covers the information descriptor and 2 bytes of the next one; a
  // 0x05 descriptor follows in the buffer but lies beyond the header's length.
  const bytes_t v{0x72, 0x03, 0x11, 0x00, 0x00, 0x00, 0x00, 0x0e,
                  0x00, 0x0a, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00,
                  0x02, 0x06, 0x00, 0x00, 0x80, 0x00, 0x05, 0x00};
  auto s = decode(v);
  REQUIRE(s);
  CHECK(s->length == 22);
  int n = 0;
  for (const sense_descriptor d : s->descriptors()) {
    ++n;
    if (d.type == 0x02) {
      CHECK_FALSE(d.complete());
      CHECK(d.bytes.size() == 2);
    }
  }
  CHECK(n == 2);
  CHECK(s->information == 0x1000U);
  CHECK_FALSE(s->sks);  // its bytes lie past the additional length
  CHECK(sense_descriptors(std::span<const std::uint8_t>(fixed_medium)).empty());
}

TEST_CASE("truncated sense decodes what is there at every length and never reads past the end") {
  for (const bytes_t* full : {&fixed_medium, &fixed_illegal, &desc_medium}) {
    for (std::size_t n = 0; n <= full->size(); ++n) {
      const bytes_t cut(full->begin(), full->begin() + static_cast<std::ptrdiff_t>(n));  // exactly n bytes
      auto s = decode(cut);
      const bool fixed = ((*full)[0] & 0x7f) <= 0x71;
      if (n < (fixed ? 3U : 2U)) {
        CHECK_FALSE(s);
        continue;
      }
      REQUIRE(s);
      CHECK(s->length == n);
      CHECK(s->truncated == (n < full->size()));
      CHECK(s->key == decode(*full)->key);
      (void)describe(*s);
      for (const sense_descriptor d : s->descriptors()) CHECK(d.bytes.data() + d.bytes.size() <= s->bytes().data() + n);
    }
  }
  // Fixed sense cut after the information field: the key and the information, no ASC.
  const bytes_t eight(fixed_medium.begin(), fixed_medium.begin() + 8);
  auto e = decode(eight);
  CHECK(e->information == 0x12345678U);
  CHECK_FALSE(e->command_specific);
  CHECK(e->asc == 0);
  CHECK(e->truncated);
  // Cut after the ASC: the ASC is there, the ASCQ reads 0, no SKS.
  const bytes_t thirteen(fixed_illegal.begin(), fixed_illegal.begin() + 13);
  auto t = decode(thirteen);
  CHECK(t->asc == 0x24);
  CHECK(t->ascq == 0);
  CHECK_FALSE(t->sks);
  // An additional length of 0 ends the sense at byte 8 even when the buffer holds more.
  bytes_t short_header = fixed_illegal;
  short_header[7] = 0;
  auto h = decode(short_header);
  CHECK(h->length == 8);
  CHECK(h->asc == 0);
  CHECK_FALSE(h->truncated);
}

TEST_CASE("response codes other than 70h..73h are not sense data") {
  for (int rc : {0x00, 0x01, 0x6f, 0x74, 0x7e, 0x7f, 0xff, 0x80}) {
    bytes_t v = fixed_medium;
    v[0] = static_cast<std::uint8_t>(rc);
    CHECK_FALSE(decode(v));
  }
  CHECK_FALSE(decode(bytes_t{}));
  CHECK_FALSE(decode(bytes_t{0x70}));
  CHECK_FALSE(decode(bytes_t{0x70, 0x00}));
  CHECK(decode(bytes_t{0x70, 0x00, 0x06}));
  CHECK_FALSE(decode(bytes_t{0x72}));
  CHECK(decode(bytes_t{0x72, 0x06}));
  // A descriptor area of a lone byte, or of descriptors whose lengths run past the end.
  CHECK(decode(bytes_t{0x72, 0x06, 0x29, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00})->descriptors().empty());
  auto s = decode(bytes_t{0x72, 0x06, 0x29, 0x00, 0x00, 0x00, 0x00, 0xff, 0x00, 0xff, 0x80, 0x00, 0x01});
  REQUIRE(s);
  CHECK(s->truncated);
  CHECK_FALSE(s->information);  // the information field is cut
}

TEST_CASE("decode_sense is usable in constant expressions") {
  static constexpr std::array<std::uint8_t, 14> v{0x70, 0, 0x06, 0, 0, 0, 0, 0x06, 0, 0, 0, 0, 0x29, 0x00};
  static_assert(decode_sense(v)->key == sense_key::unit_attention);
  static_assert(decode_sense(v)->asc == 0x29);
  static_assert(asc_name(0x29, 0x00) == "Power on, reset, or bus device reset occurred");
}

TEST_CASE("randomized: random buffers through decode_sense and describe never crash or over-read") {
  std::mt19937_64 rng(0x5eb5e5eedULL);
  constexpr int runs = 200'000;
  int decoded = 0, descriptors = 0;
  for (int i = 0; i < runs; ++i) {
    const auto len = static_cast<std::size_t>(rng() % 253);  // 0..252
    bytes_t v(len);
    for (auto& b : v) b = static_cast<std::uint8_t>(rng());
    // Three in four look like sense (so the decoder goes deep), with a plausible additional length
    // half of the time and descriptor chains of random lengths.
    if (len > 0 && rng() % 4 != 0) v[0] = static_cast<std::uint8_t>(0x70 + rng() % 4 + (rng() % 2 ? 0x80 : 0));
    if (len > 7 && rng() % 2) v[7] = static_cast<std::uint8_t>(rng() % (len - 7 + 8));
    if (len > 8 && (v[0] & 0x7e) == 0x72) {
      for (std::size_t at = 8; at + 1 < len;) {
        v[at] = static_cast<std::uint8_t>(rng() % 8);
        v[at + 1] = static_cast<std::uint8_t>(rng() % 14);
        at += 2 + v[at + 1];
      }
    }
    auto s = decode(v);
    if (!s) continue;
    ++decoded;
    REQUIRE(s->length <= len);
    REQUIRE(!describe(*s).empty());
    (void)completion_error(0x02, 0, 0x08, s);
    for (const sense_descriptor d : s->descriptors()) {
      ++descriptors;
      REQUIRE(d.bytes.size() >= 2);
      REQUIRE(d.bytes.data() + d.bytes.size() <= s->bytes().data() + s->length);
    }
  }
  MESSAGE("randomized sense run: " << runs << " executions, " << decoded << " decoded as sense, " << descriptors
                                   << " descriptors walked");
  CHECK(decoded > runs / 2);
}

TEST_CASE("asc_name covers SPC's additional sense code table; asc_description formats ranges and unnamed codes") {
  CHECK(scsi::sense_detail::asc_table.size() > 700);
  CHECK(asc_name(0x00, 0x00) == "No additional sense information");
  CHECK(asc_name(0x21, 0x00) == "Logical block address out of range");
  CHECK(asc_name(0x3a, 0x00) == "Medium not present");
  CHECK(asc_name(0x29, 0x00) == "Power on, reset, or bus device reset occurred");
  CHECK(asc_name(0x27, 0x00) == "Write protected");
  CHECK(asc_name(0x5d, 0x00) == "Failure prediction threshold exceeded");
  CHECK(asc_name(0x7f, 0x23).empty());
  CHECK(asc_name(0x40, 0x90).empty());  // a range: asc_description
  // Every entry is found by the binary search, in order.
  for (std::size_t i = 0; i < scsi::sense_detail::asc_table.size(); ++i) {
    const auto& e = scsi::sense_detail::asc_table[i];
    CHECK(asc_name(e.asc, e.ascq) == e.name);
    if (i > 0) {
      const auto& prev = scsi::sense_detail::asc_table[i - 1];
      CHECK(((prev.asc << 8) | prev.ascq) < ((e.asc << 8) | e.ascq));
    }
  }
  CHECK(asc_description(0x40, 0x90) == "Diagnostic failure on component [0x90]");
  CHECK(asc_description(0x40, 0x23) == "Ram failure [0x23]");
  CHECK(asc_description(0x70, 0x05) == "Decompression exception short algorithm id of 0x5");
  CHECK(asc_description(0x40, 0x00) == "Ram failure (should use 40 nn)");
  CHECK(asc_description(0x7f, 0x23) == "ASC=7f, ASCQ=23 (hex)");
  CHECK(asc_description(0x80, 0x01) == "vendor specific ASC=80, ASCQ=01 (hex)");
  CHECK(asc_description(0x11, 0x80) == "ASC=11, vendor specific qualification ASCQ=80 (hex)");
}

TEST_CASE("sense keys, SAM status, host bytes and driver bytes have names") {
  CHECK(sense_key_name(sense_key::illegal_request) == "Illegal Request");
  CHECK(sense_key_name(sense_key::unit_attention) == "Unit Attention");
  CHECK(sense_key_name(sense_key::completed) == "Completed");
  CHECK(status_name(sam_status::good) == "GOOD");
  CHECK(status_name(sam_status::check_condition) == "CHECK CONDITION");
  CHECK(status_name(sam_status::condition_met) == "CONDITION MET");
  CHECK(status_name(sam_status::busy) == "BUSY");
  CHECK(status_name(sam_status::reservation_conflict) == "RESERVATION CONFLICT");
  CHECK(status_name(sam_status::task_set_full) == "TASK SET FULL");
  CHECK(status_name(sam_status::aca_active) == "ACA ACTIVE");
  CHECK(status_name(sam_status::task_aborted) == "TASK ABORTED");
  CHECK(status_text(0x02) == "CHECK CONDITION");
  CHECK(status_text(0x0c) == "status 0x0c");
  CHECK(host_byte_text(0x00) == "DID_OK");
  CHECK(host_byte_text(0x03) == "DID_TIME_OUT");
  CHECK(host_byte_text(0x0f) == "DID_TRANSPORT_FAILFAST");
  CHECK(host_byte_text(0x14) == "DID_TRANSPORT_MARGINAL");
  CHECK(host_byte_text(0x15) == "DID_0x15");
  CHECK(driver_byte_text(0x08) == "DRIVER_SENSE");
  CHECK(driver_byte_text(0x00) == "DRIVER_OK");
  CHECK(driver_byte_text(0x14) == "DRIVER_ERROR|SUGGEST_RETRY");
  CHECK(driver_byte_text(0x0b) == "DRIVER_0xb");
}

TEST_CASE("completion_error: GOOD is success, CHECK CONDITION goes by sense key, recovered error is success") {
  const auto illegal = decode(fixed_illegal);
  CHECK_FALSE(completion_error(0x00, 0, 0, std::nullopt));
  CHECK_FALSE(completion_error(0x04, 0, 0, std::nullopt));  // CONDITION MET
  CHECK(completion_error(0x02, 0, 0x08, illegal) == errc::illegal_request);
  CHECK(completion_error(0x02, 0, 0x08, decode(fixed_medium)) == errc::medium_error);
  CHECK(completion_error(0x02, 0, 0x08, std::nullopt) == errc::check_condition_no_sense);
  for (std::uint8_t key = 0; key < 16; ++key) {
    bytes_t v = fixed_illegal;
    v[2] = key;
    const auto ec = completion_error(0x02, 0, 0x08, decode(v));
    if (key == 0x1 || key == 0xf) {
      CHECK_FALSE(ec);  // RECOVERED ERROR, COMPLETED: success with a warning
    } else {
      CHECK(ec == errc_of(static_cast<sense_key>(key)));
    }
  }
  CHECK(completion_error(0x02, 0, 0, decode(bytes_t{0x70, 0, 0x06})) == errc::unit_attention);
  CHECK(completion_error(0x02, 0, 0, decode(bytes_t{0x72, 0x02})) == errc::not_ready);
  CHECK(completion_error(0x02, 0, 0, decode(bytes_t{0x70, 0, 0x07})) == errc::data_protect);
  CHECK(completion_error(0x02, 0, 0, decode(bytes_t{0x70, 0, 0x00})) == errc::no_sense);
  CHECK(completion_error(0x08, 0, 0, std::nullopt) == errc::busy);
  CHECK(completion_error(0x18, 0, 0, std::nullopt) == errc::reservation_conflict);
  CHECK(completion_error(0x28, 0, 0, std::nullopt) == errc::task_set_full);
  CHECK(completion_error(0x30, 0, 0, std::nullopt) == errc::aca_active);
  CHECK(completion_error(0x40, 0, 0, std::nullopt) == errc::task_aborted);
  CHECK(completion_error(0x0c, 0, 0, std::nullopt) == errc::unknown_status);
  // The host byte wins over the status.
  CHECK(completion_error(0x02, 0x03, 0x08, illegal) == errc::transport_timeout);
  CHECK(completion_error(0x00, 0x01, 0, std::nullopt) == errc::target_unreachable);
  CHECK(completion_error(0x00, 0x05, 0, std::nullopt) == errc::transport_aborted);
  CHECK(completion_error(0x00, 0x0e, 0, std::nullopt) == errc::transport_retryable);
  CHECK(completion_error(0x00, 0x0f, 0, std::nullopt) == errc::transport_error);
  CHECK(completion_error(0x00, 0x14, 0, std::nullopt) == errc::transport_error);
  CHECK(completion_error(0x00, 0x00, 0x04, std::nullopt) == errc::driver_error);
}

TEST_CASE("the scsi error category names sense outcomes and maps them to negative errno") {
  const std::error_code ec = errc::medium_error;
  CHECK(ec.category().name() == std::string("scsi"));
  CHECK(ec.message() == "medium error");
  CHECK(uringcmd::describe(ec) == "scsi: medium error");
  CHECK(scsi::to_errno(ec) == -ENODATA);
  CHECK(scsi::to_errno(make_error_code(errc::busy)) == -EBUSY);
  CHECK(scsi::to_errno(make_error_code(errc::reservation_conflict)) == -EBADE);
  CHECK(scsi::to_errno(make_error_code(errc::transport_timeout)) == -ETIMEDOUT);
  CHECK(scsi::to_errno(make_error_code(errc::hardware_error)) == -EIO);
  CHECK(scsi::to_errno(std::error_code{}) == 0);
  CHECK(scsi::to_errno(uringcmd::errno_code(ENOENT)) == -ENOENT);  // not scsi: uringcmd::to_errno
  CHECK(make_error_code(errc::busy) == std::errc::device_or_resource_busy);
  CHECK(make_error_code(errc::transport_timeout) == std::errc::timed_out);
  for (int v = 1; v < 0x40; ++v) CHECK(scsi::to_errno(static_cast<errc>(v)) < 0);
}

TEST_CASE("decode_outcome reads res2 and keeps the decoded sense reachable from the result") {
  bytes_t buffer(96, 0xee);  // the sense buffer: only sense_len bytes of it are sense
  std::copy(fixed_medium.begin(), fixed_medium.end(), buffer.begin());
  const bsg_res2 res2{0x02ULL | (0x08ULL << 8) | (0x00ULL << 16) | (18ULL << 24) | (512ULL << 32)};
  const outcome o = decode_outcome(res2, buffer);
  CHECK_FALSE(o.ok());
  CHECK(o.error == errc::medium_error);
  REQUIRE(o.sense_data);
  CHECK(o.sense_data->information == 0x12345678U);
  CHECK(describe(o) == "CHECK CONDITION: Medium Error: Unrecovered read error, info=0x12345678, retry count 5");

  const outcome good = decode_outcome(bsg_res2{0}, buffer);
  CHECK(good.ok());
  CHECK_FALSE(good.sense_data);
  CHECK(describe(good) == "GOOD");

  // sense_len larger than the buffer: only the buffer is read.
  const bytes_t small(fixed_medium.begin(), fixed_medium.begin() + 14);
  const outcome cut = decode_outcome(bsg_res2{0x02ULL | (252ULL << 24)}, small);
  REQUIRE(cut.sense_data);
  CHECK(cut.sense_data->length == 14);
  CHECK(cut.error == errc::medium_error);

  const outcome timeout = decode_outcome(bsg_res2{0x03ULL << 16}, std::span<const std::uint8_t>{});
  CHECK(timeout.error == errc::transport_timeout);
  CHECK(describe(timeout) == "DID_TIME_OUT");
}
