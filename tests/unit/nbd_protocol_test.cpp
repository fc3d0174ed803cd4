// SPDX-License-Identifier: MIT
// The NBD protocol logic (src/nbd/protocol.hpp): the handshake's option state machine, request
// checks and reply encoding, and a bounded fuzz run over both parsers.
#include <random>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "nbd/protocol.hpp"

using namespace uringcmd::nbd;

namespace {

export_info sample_export(bool read_only = false) {
  export_info e;
  e.name = "disk";
  e.size = 1 << 20;
  e.read_only = read_only;
  return e;
}

std::vector<std::byte> info_request(std::string_view name, std::vector<std::uint16_t> infos = {}) {
  std::vector<std::byte> d;
  append_be<std::uint32_t>(d, static_cast<std::uint32_t>(name.size()));
  for (char c : name) d.push_back(static_cast<std::byte>(c));
  append_be<std::uint16_t>(d, static_cast<std::uint16_t>(infos.size()));
  for (auto i : infos) append_be<std::uint16_t>(d, i);
  return d;
}

struct reply {
  std::uint32_t option, type;
  std::vector<std::byte> data;
};
/// Splits a handshake's output into option replies (checking each magic).
std::vector<reply> replies_in(const std::vector<std::byte>& out) {
  std::vector<reply> r;
  for (std::size_t at = 0; at < out.size();) {
    REQUIRE(out.size() - at >= 20);
    CHECK(load_be<std::uint64_t>(out, at) == opt_reply_magic);
    const std::uint32_t len = load_be<std::uint32_t>(out, at + 16);
    REQUIRE(out.size() - at - 20 >= len);
    r.push_back({load_be<std::uint32_t>(out, at + 8), load_be<std::uint32_t>(out, at + 12),
                 {out.begin() + static_cast<std::ptrdiff_t>(at + 20), out.begin() + static_cast<std::ptrdiff_t>(at + 20 + len)}});
    at += 20 + len;
  }
  return r;
}

}  // namespace

TEST_CASE("nbd handshake: the greeting is NBDMAGIC, IHAVEOPT and the fixed-newstyle + no-zeroes flags") {
  const auto g = greeting();
  CHECK(std::string(reinterpret_cast<const char*>(g.data()), 16) == "NBDMAGICIHAVEOPT");
  CHECK(load_be<std::uint16_t>(g, 16) == 3);
}

TEST_CASE("nbd handshake: client flags without FIXED_NEWSTYLE or with unknown bits are refused") {
  const auto e = sample_export();
  CHECK(!handshake(e).on_client_flags(0));
  CHECK(!handshake(e).on_client_flags(flag_fixed_newstyle | 4));
  CHECK(handshake(e).on_client_flags(flag_fixed_newstyle));
  CHECK(handshake(e).on_client_flags(flag_fixed_newstyle | flag_no_zeroes));
}

TEST_CASE("nbd handshake: GO answers INFO_EXPORT and INFO_BLOCK_SIZE, then ACK, and moves to transmission") {
  const auto e = sample_export();
  handshake hs(e);
  REQUIRE(hs.on_client_flags(flag_fixed_newstyle | flag_no_zeroes));
  std::vector<std::byte> out;
  CHECK(hs.on_option(opt_go, info_request("disk", {info_block_size}), out) == handshake::next::transmission);
  const auto r = replies_in(out);
  REQUIRE(r.size() == 3);
  CHECK(r[0].type == rep_info);
  CHECK(load_be<std::uint16_t>(r[0].data, 0) == info_export);
  CHECK(load_be<std::uint64_t>(r[0].data, 2) == e.size);
  CHECK(load_be<std::uint16_t>(r[0].data, 10) == e.transmission_flags());
  CHECK(r[1].type == rep_info);
  CHECK(load_be<std::uint16_t>(r[1].data, 0) == info_block_size);
  CHECK(load_be<std::uint32_t>(r[1].data, 10) == e.max_block);
  CHECK(r[2].type == rep_ack);
}

TEST_CASE("nbd handshake: INFO stays in the option phase, the empty name is the default export") {
  const auto e = sample_export();
  handshake hs(e);
  std::vector<std::byte> out;
  CHECK(hs.on_option(opt_info, info_request(""), out) == handshake::next::more_options);
  CHECK(replies_in(out).back().type == rep_ack);
}

TEST_CASE("nbd handshake: an unknown export, a bad length and an unknown option are errors, not closes") {
  const auto e = sample_export();
  handshake hs(e);
  std::vector<std::byte> out;
  CHECK(hs.on_option(opt_go, info_request("other"), out) == handshake::next::more_options);
  CHECK(replies_in(out).back().type == rep_err_unknown);
  out.clear();
  auto bad = info_request("disk", {info_name});
  bad.pop_back();
  CHECK(hs.on_option(opt_go, bad, out) == handshake::next::more_options);
  CHECK(replies_in(out).back().type == rep_err_invalid);
  out.clear();
  CHECK(hs.on_option(opt_starttls, {}, out) == handshake::next::more_options);
  CHECK(replies_in(out).back().type == rep_err_unsup);
  out.clear();
  CHECK(hs.on_option(0xdeadbeef, {}, out) == handshake::next::more_options);
  CHECK(replies_in(out).back().type == rep_err_unsup);
}

TEST_CASE("nbd handshake: LIST names the export, STRUCTURED_REPLY is acknowledged and remembered") {
  const auto e = sample_export();
  handshake hs(e);
  std::vector<std::byte> out;
  CHECK(hs.on_option(opt_list, {}, out) == handshake::next::more_options);
  auto r = replies_in(out);
  REQUIRE(r.size() == 2);
  CHECK(r[0].type == rep_server);
  CHECK(load_be<std::uint32_t>(r[0].data, 0) == 4);
  CHECK(std::string(reinterpret_cast<const char*>(r[0].data.data()) + 4, 4) == "disk");
  out.clear();
  CHECK(!hs.structured_replies());
  CHECK(hs.on_option(opt_structured_reply, {}, out) == handshake::next::more_options);
  CHECK(replies_in(out).back().type == rep_ack);
  CHECK(hs.structured_replies());
}

TEST_CASE("nbd handshake: EXPORT_NAME sends size and flags, with 124 zeroes unless NO_ZEROES") {
  const auto e = sample_export();
  for (bool no_zeroes : {false, true}) {
    handshake hs(e);
    REQUIRE(hs.on_client_flags(flag_fixed_newstyle | (no_zeroes ? flag_no_zeroes : 0)));
    std::vector<std::byte> out;
    const std::string name = "disk";
    CHECK(hs.on_option(opt_export_name, std::as_bytes(std::span(name.data(), name.size())), out) ==
          handshake::next::transmission);
    CHECK(out.size() == (no_zeroes ? 10U : 134U));
    CHECK(load_be<std::uint64_t>(out, 0) == e.size);
  }
  handshake hs(e);
  std::vector<std::byte> out;
  const std::string wrong = "nope";
  CHECK(hs.on_option(opt_export_name, std::as_bytes(std::span(wrong.data(), wrong.size())), out) ==
        handshake::next::close);
}

TEST_CASE("nbd requests: the export is never touched outside 0..size and a read-only one is never written") {
  const auto e = sample_export();
  using a = verdict::action;
  CHECK(check_request({0, cmd_read, 1, 0, 4096}, e).what == a::serve);
  CHECK(check_request({0, cmd_read, 1, e.size - 4096, 4096}, e).what == a::serve);
  CHECK(check_request({0, cmd_read, 1, e.size - 4095, 4096}, e).error == err_inval);
  CHECK(check_request({0, cmd_read, 1, UINT64_MAX, 2}, e).error == err_inval);
  CHECK(check_request({0, cmd_write, 1, e.size, 1}, e).error == err_nospc);
  CHECK(check_request({0, cmd_write, 1, e.size, 1}, e).payload == 1);  // still read off the wire
  CHECK(check_request({0, cmd_trim, 1, e.size - 1, 2}, e).error == err_inval);
  CHECK(check_request({0, cmd_read, 1, 0, e.max_block + 1}, e).error == err_overflow);
  CHECK(check_request({0, cmd_write, 1, 0, e.max_block + 1}, e).what == a::close);
  CHECK(check_request({0x40, cmd_read, 1, 0, 1}, e).error == err_inval);
  CHECK(check_request({0, cmd_block_status, 1, 0, 1}, e).error == err_inval);
  CHECK(check_request({0, cmd_disc, 1, 0, 0}, e).what == a::disconnect);
  const auto ro = sample_export(true);
  CHECK(check_request({0, cmd_write, 1, 0, 512}, ro).error == err_perm);
  CHECK(check_request({0, cmd_write_zeroes, 1, 0, 512}, ro).error == err_perm);
  CHECK(check_request({0, cmd_read, 1, 0, 512}, ro).what == a::serve);
  CHECK((ro.transmission_flags() & tflag_read_only));
  CHECK(!(ro.transmission_flags() & tflag_send_trim));
}

TEST_CASE("nbd requests: on a block-granular export a misaligned request is EINVAL and TRIM is refused unless offered") {
  using a = verdict::action;
  auto e = sample_export();
  e.min_block = 512;
  e.can_trim = false;
  CHECK(check_request({0, cmd_read, 1, 512, 1024}, e).what == a::serve);
  CHECK(check_request({0, cmd_read, 1, 1, 512}, e).error == err_inval);
  CHECK(check_request({0, cmd_read, 1, 0, 511}, e).error == err_inval);
  CHECK(check_request({0, cmd_write, 1, 0, 100}, e).error == err_inval);
  CHECK(check_request({0, cmd_write, 1, 0, 100}, e).payload == 100);  // still read off the wire
  CHECK(check_request({0, cmd_write_zeroes, 1, 512, 513}, e).error == err_inval);
  CHECK(check_request({0, cmd_write_zeroes, 1, 512, 512}, e).what == a::serve);
  CHECK(check_request({0, cmd_trim, 1, 0, 512}, e).error == err_inval);
  CHECK(check_request({0, cmd_flush, 1, 0, 0}, e).what == a::serve);
  CHECK((e.transmission_flags() & tflag_send_trim) == 0);
  CHECK((e.transmission_flags() & tflag_send_write_zeroes) != 0);
  e.can_trim = true;
  CHECK(check_request({0, cmd_trim, 1, 0, 512}, e).what == a::serve);
  CHECK((e.transmission_flags() & tflag_send_trim) != 0);
}

TEST_CASE("nbd requests: a request round-trips through encode and parse, a bad magic is refused") {
  const request r{cmd_flag_fua, cmd_write, 0x1122334455667788, 4096, 512};
  auto b = encode_request(r);
  const auto p = parse_request(b);
  REQUIRE(p);
  CHECK(p->flags == r.flags);
  CHECK(p->type == r.type);
  CHECK(p->handle == r.handle);
  CHECK(p->offset == r.offset);
  CHECK(p->length == r.length);
  b[3] = std::byte{0};
  CHECK(!parse_request(b));
}

TEST_CASE("nbd replies: simple, OFFSET_DATA, NONE and ERROR chunks carry the handle and the right lengths, and structured replies keep chunks for reads and errors only") {
  std::array<std::byte, max_reply_header> b{};
  const request rd{0, cmd_read, 42, 8192, 512};
  CHECK(encode_reply(b, rd, err_none, false) == simple_reply_size);
  CHECK(load_be<std::uint32_t>(b, 0) == simple_reply_magic);
  CHECK(load_be<std::uint64_t>(b, 8) == 42);
  CHECK(encode_reply(b, rd, err_none, true) == chunk_header_size + 8);
  CHECK(load_be<std::uint16_t>(b, 6) == reply_type_offset_data);
  CHECK(load_be<std::uint32_t>(b, 16) == 8 + 512);
  CHECK(load_be<std::uint64_t>(b, 20) == 8192);
  CHECK(encode_reply(b, rd, err_io, true) == chunk_header_size + 6);
  CHECK(load_be<std::uint16_t>(b, 6) == reply_type_error);
  CHECK(load_be<std::uint32_t>(b, 20) == err_io);
  const request empty_read{0, cmd_read, 44, 8192, 0};
  CHECK(encode_reply(b, empty_read, err_none, true) == chunk_header_size);
  CHECK(load_be<std::uint32_t>(b, 0) == structured_reply_magic);
  CHECK(load_be<std::uint16_t>(b, 6) == reply_type_none);
  CHECK(load_be<std::uint16_t>(b, 4) == reply_flag_done);
  CHECK(load_be<std::uint64_t>(b, 8) == 44);
  // A success without data: a simple reply, which the spec allows for every command but READ.
  const request fl{0, cmd_flush, 43, 0, 0};
  CHECK(encode_reply(b, fl, err_none, true) == simple_reply_size);
  CHECK(load_be<std::uint32_t>(b, 0) == simple_reply_magic);
  CHECK(load_be<std::uint32_t>(b, 4) == err_none);
  CHECK(load_be<std::uint64_t>(b, 8) == 43);
  const request wr{0, cmd_write, 45, 0, 4096};
  CHECK(encode_reply(b, wr, err_none, true) == simple_reply_size);
  CHECK(encode_reply(b, wr, err_nospc, true) == chunk_header_size + 6);
  CHECK(load_be<std::uint16_t>(b, 6) == reply_type_error);
  CHECK(load_be<std::uint32_t>(b, 20) == err_nospc);
}

TEST_CASE("nbd fuzz: 200k random options and requests never break the parsers' guarantees") {
  std::mt19937_64 rng(2026);
  const auto e = sample_export();
  std::vector<std::byte> data, out;
  for (int i = 0; i < 100000; ++i) {
    // Options: random code (biased to real ones), random data, sometimes a well-formed prefix.
    handshake hs(e);
    const std::uint32_t option = rng() % 4 ? static_cast<std::uint32_t>(rng() % 12) : static_cast<std::uint32_t>(rng());
    data.resize(rng() % 64);
    for (auto& b : data) b = static_cast<std::byte>(rng());
    if (rng() % 2 && data.size() >= 4) store_be<std::uint32_t>(data, 0, static_cast<std::uint32_t>(rng() % 8));
    out.clear();
    const auto next = hs.on_option(option, data, out);
    if (next == handshake::next::transmission) CHECK((option == opt_go || option == opt_export_name));
    if (option != opt_export_name && !out.empty()) {
      const auto r = replies_in(out);
      REQUIRE(!r.empty());
      for (const auto& rep : r) CHECK(rep.option == option);
    }
    // Requests: the verdict never lets a served request leave the export.
    std::array<std::byte, request_size> b{};
    for (auto& x : b) x = static_cast<std::byte>(rng());
    if (rng() % 4) store_be<std::uint32_t>(b, 0, request_magic);
    if (rng() % 2) store_be<std::uint16_t>(b, 6, static_cast<std::uint16_t>(rng() % 8));
    if (rng() % 2) store_be<std::uint64_t>(b, 16, rng() % (e.size + 8192));
    if (rng() % 2) store_be<std::uint32_t>(b, 24, static_cast<std::uint32_t>(rng() % 65536));
    const auto req = parse_request(b);
    if (!req) continue;
    const auto v = check_request(*req, e);
    if (v.what == verdict::action::serve && req->type != cmd_flush) {
      CHECK(req->offset <= e.size);
      CHECK(req->length <= e.size - req->offset);
    }
    if (v.payload) CHECK(v.payload <= e.max_block);
  }
}
