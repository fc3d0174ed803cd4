// SPDX-License-Identifier: MIT
// Cross-check against sg3_utils: the library's CDB builders, bsg_command (BSG io_uring) and
// response parsers must decode the same devices the way sg_inq, sg_vpd, sg_readcap, sg_luns,
// sg_modes and sg_opcodes do. Runs INSIDE the test VM (vm.scsi.bsg); the tools are the host's,
// which is the guest's root. Every case runs on both targets (QEMU's virtio-scsi disk and
// scsi_debug), found through /sys/class/scsi_device, and gives the tools the same BSG node.
// Where a device lacks a page or command, both sides must call it unsupported.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <vector>

#include <doctest/doctest.h>

#include "host/helpers.hpp"
#include "support/command.hpp"
#include "vm/scsi/disks.hpp"

#include <uringcmd/scsi/bsg.hpp>
#include <uringcmd/scsi/capacity.hpp>
#include <uringcmd/scsi/cdb.hpp>
#include <uringcmd/scsi/inquiry.hpp>
#include <uringcmd/scsi/luns.hpp>
#include <uringcmd/scsi/mode.hpp>
#include <uringcmd/scsi/opcodes_report.hpp>
#include <uringcmd/scsi/sense.hpp>
#include <uringcmd/uringcmd.hpp>

// Failed comparisons of optionals print their values.
namespace doctest {
template <class T>
struct StringMaker<std::optional<T>> {
  static String convert(const std::optional<T>& v) {
    if (!v) return "nullopt";
    if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, std::string_view>)
      return ("\"" + std::string(*v) + "\"").c_str();
    else
      return std::to_string(static_cast<long long>(*v)).c_str();
  }
};
}  // namespace doctest

using namespace uringcmd;
namespace fs = std::filesystem;
using uc_test::unique_fd;

namespace {

// ---- devices ---------------------------------------------------------------------------------

using target = uc_test::scsi_disk;
using uc_test::open_rw;
using uc_test::require_disks;

// ---- our side: builder + bsg_command + the bytes returned --------------------------------------

std::string hex(std::span<const std::uint8_t> b) {
  std::string s;
  char tmp[4];
  for (std::size_t i = 0; i < b.size(); ++i) {
    std::snprintf(tmp, sizeof tmp, "%02x", b[i]);
    if (i) s += (i % 16 == 0) ? '\n' : ' ';
    s += tmp;
  }
  return s;
}

struct response {
  scsi::reply r;
  std::vector<std::uint8_t> data;  // the bytes transferred (allocation length - residual)
  bool good() const { return r.good(); }
  std::string describe() const {
    std::string s = "status=" + std::to_string(r.status) + " host=" + std::to_string(r.host);
    if (auto sn = scsi::decode_sense(r.sense())) s += " sense: " + scsi::describe(*sn);
    s += " data:\n" + hex(data);
    return s;
  }
  // CHECK CONDITION with ILLEGAL REQUEST: "not supported" in SPC terms.
  bool illegal_request() const {
    auto sn = scsi::decode_sense(r.sense());
    return r.status == 0x02 && sn && sn->key == scsi::sense_key::illegal_request;
  }
};

response issue(executor& ex, int fd, const scsi::cdb& c, std::size_t alloc) {
  std::vector<std::byte> buf(alloc);
  auto res = sync_wait(ex, [](int f, scsi::cdb cmd, std::span<std::byte> into) -> task<result<scsi::reply>> {
    co_return co_await scsi::bsg_command_in(f, cmd.bytes(), into);
  }(fd, c, buf));
  REQUIRE_MESSAGE(res.has_value(), "bsg_command: " << describe(res.error()));
  response out{*res, {}};
  const std::size_t n = std::min<std::size_t>(res->transferred(), alloc);
  const auto* p = reinterpret_cast<const std::uint8_t*>(buf.data());
  out.data.assign(p, p + n);
  return out;
}

response vpd_page(executor& ex, int fd, std::uint8_t page) { return issue(ex, fd, scsi::inquiry_vpd(page, 1024), 1024); }

// The page came back: GOOD and a header with the page code asked for.
bool vpd_returned(const response& r, std::uint8_t page) {
  return r.good() && scsi::parse_vpd_page(r.data, page).has_value();
}

// ---- their side: the tool and its text --------------------------------------------------------

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::size_t b = 0;
  while (b <= s.size()) {
    std::size_t e = s.find('\n', b);
    if (e == std::string::npos) e = s.size();
    out.push_back(s.substr(b, e - b));
    b = e + 1;
  }
  return out;
}

std::string trim(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

std::size_t indent_of(const std::string& s) {
  std::size_t i = 0;
  while (i < s.size() && s[i] == ' ') ++i;
  return i;
}

// A number as sg3_utils prints it: 0x... in hex, else decimal (never octal), maybe negative.
std::optional<long long> number_at(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size() && s[i] == ' ') ++i;
  const std::string rest(s.substr(i));
  if (rest.empty()) return std::nullopt;
  const bool is_hex = rest.rfind("0x", 0) == 0 || rest.rfind("0X", 0) == 0;
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(rest.c_str(), &end, is_hex ? 16 : 10);
  if (end == rest.c_str() || errno != 0) {
    // Values above LLONG_MAX (a 64-bit field with its top bit set).
    if (errno == ERANGE && is_hex) return static_cast<long long>(std::strtoull(rest.c_str(), nullptr, 16));
    return std::nullopt;
  }
  return v;
}

// "KEY=value" anywhere in the text, KEY not preceded by a letter, digit or '_'.
std::optional<long long> kv(const std::string& text, std::string_view key) {
  const std::string pat = std::string(key) + "=";
  for (std::size_t pos = text.find(pat); pos != std::string::npos; pos = text.find(pat, pos + 1)) {
    if (pos > 0) {
      const auto c = static_cast<unsigned char>(text[pos - 1]);
      if (std::isalnum(c) || c == '_') continue;
    }
    return number_at(std::string_view(text).substr(pos + pat.size()));
  }
  return std::nullopt;
}

// The rest of the first line that contains `label`, after it (trimmed).
std::optional<std::string> after(const std::string& text, std::string_view label) {
  for (const auto& l : lines_of(text)) {
    const auto pos = l.find(label);
    if (pos != std::string::npos) return trim(std::string_view(l).substr(pos + label.size()));
  }
  return std::nullopt;
}

std::optional<long long> num_after(const std::string& text, std::string_view label) {
  auto s = after(text, label);
  if (!s) return std::nullopt;
  return number_at(*s);
}

// A field as sg_vpd prints it: -1 for all ones ("no limit"), else the value.
std::optional<unsigned long long> field_after(const std::string& text, std::string_view label, unsigned bits) {
  auto v = num_after(text, label);
  if (!v) return std::nullopt;
  if (*v == -1) return bits >= 64 ? ~0ULL : (1ULL << bits) - 1;
  return static_cast<unsigned long long>(*v);
}

bool has_line(const std::string& text, std::string_view needle) {
  return text.find(needle) != std::string::npos;
}

// The bytes of a hex dump section (" 00     08 12 04 ..." lines) that starts after the line
// beginning with `section`, up to the next blank line or section marker.
std::vector<std::uint8_t> hex_section(const std::string& text, std::string_view section) {
  std::vector<std::uint8_t> out;
  bool in = false;
  for (const auto& l : lines_of(text)) {
    if (!in) {
      if (trim(l).rfind(section, 0) == 0) in = true;
      continue;
    }
    const std::string t = trim(l);
    if (t.empty() || t[0] == '>') break;
    std::vector<std::string> tok;
    std::size_t b = 0;
    while (b < t.size()) {
      std::size_t e = t.find(' ', b);
      if (e == std::string::npos) e = t.size();
      if (e > b) tok.push_back(t.substr(b, e - b));
      b = e + 1;
    }
    auto is_hex = [](const std::string& s) {
      return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
    };
    if (tok.empty() || !is_hex(tok[0])) continue;  // "Density code=0x0" and the like
    for (std::size_t i = 1; i < tok.size() && tok[i].size() == 2 && is_hex(tok[i]); ++i)
      out.push_back(static_cast<std::uint8_t>(std::strtoul(tok[i].c_str(), nullptr, 16)));
  }
  return out;
}

std::string sv_ascii(std::string_view s) { return std::string(s); }

}  // namespace

// ---- standard INQUIRY ---------------------------------------------------------------------------

TEST_CASE("sg3_utils: standard INQUIRY fields agree with sg_inq") {
  executor ex(ring_options::passthrough());
  for (const target& t : require_disks()) {
    auto fd = open_rw(t.bsg);
    // As sg_inq does: 36 bytes, then again for the whole ADDITIONAL LENGTH. (QEMU's scsi-disk
    // answers ADDITIONAL LENGTH = allocation length - 5, so one large request would make its
    // "length" differ from sg_inq's for a reason that lies in the device.)
    response ours = issue(ex, fd.get(), scsi::inquiry(36), 36);
    REQUIRE(ours.data.size() >= 5);
    if (const std::size_t whole = 5 + std::size_t{ours.data[4]}; whole > 36)
      ours = issue(ex, fd.get(), scsi::inquiry(static_cast<std::uint16_t>(std::min<std::size_t>(whole, 255))),
                   std::min<std::size_t>(whole, 255));
    const uc_test::command_result tool = uc_test::run_command("sg_inq " + t.bsg);
    CAPTURE(t.bsg);
    CAPTURE(tool.output);
    const std::string bytes = hex(ours.data);
    CAPTURE(bytes);
    REQUIRE(ours.good());
    REQUIRE(tool.status == 0);
    const auto s = scsi::parse_standard_inquiry(ours.data);
    REQUIRE(s.has_value());
    CHECK(kv(tool.output, "PQual") == s->peripheral_qualifier);
    CHECK(kv(tool.output, "PDT") == s->device_type);
    CHECK(kv(tool.output, "RMB") == int(s->rmb));
    CHECK(kv(tool.output, "version") == s->version);
    CHECK(kv(tool.output, "NormACA") == int(s->norm_aca));
    CHECK(kv(tool.output, "HiSUP") == int(s->hi_sup));
    CHECK(kv(tool.output, "Resp_data_format") == s->response_data_format);
    CHECK(kv(tool.output, "length") == 5 + s->additional_length);
    CHECK(kv(tool.output, "SCCS") == int(s->sccs.value_or(false)));
    CHECK(kv(tool.output, "ACC") == int(s->acc.value_or(false)));
    CHECK(kv(tool.output, "TPGS") == int(s->tpgs.value_or(0)));
    CHECK(kv(tool.output, "3PC") == int(s->three_pc.value_or(false)));
    CHECK(kv(tool.output, "Protect") == int(s->protect.value_or(false)));
    CHECK(kv(tool.output, "EncServ") == int(s->enc_serv.value_or(false)));
    CHECK(kv(tool.output, "MultiP") == int(s->multi_p.value_or(false)));
    CHECK(kv(tool.output, "CmdQue") == int(s->cmd_que.value_or(false)));
    REQUIRE(s->vendor.has_value());
    REQUIRE(s->product.has_value());
    REQUIRE(s->revision.has_value());
    CHECK(after(tool.output, "Vendor identification:") == sv_ascii(*s->vendor));
    CHECK(after(tool.output, "Product identification:") == sv_ascii(*s->product));
    CHECK(after(tool.output, "Product revision level:") == sv_ascii(*s->revision));
  }
}

// ---- VPD 00h ------------------------------------------------------------------------------------

namespace {
// sg_vpd's acronyms (sg_vpd --enumerate) of the pages a disk may list.
std::optional<std::uint8_t> vpd_acronym_code(std::string_view a) {
  static constexpr std::pair<std::string_view, std::uint8_t> table[] = {
      {"sv", 0x00},   {"sn", 0x80},  {"iod", 0x81},  {"aod", 0x82},  {"di", 0x83},  {"sii", 0x84},
      {"mna", 0x85},  {"ei", 0x86},  {"mpp", 0x87},  {"sp", 0x88},   {"ai", 0x89},  {"pc", 0x8a},
      {"dc", 0x8b},   {"cfa", 0x8c}, {"psm", 0x8d},  {"tpc", 0x8f},  {"pslu", 0x90}, {"pspo", 0x91},
      {"sfs", 0x92},  {"bl", 0xb0},  {"bdc", 0xb1},  {"lbpv", 0xb2}, {"ref", 0xb3}, {"sbl", 0xb4},
      {"bdce", 0xb5}, {"zbdch", 0xb6}, {"ble", 0xb7}, {"fp", 0xb8},  {"cpr", 0xb9},
  };
  for (const auto& [name, code] : table)
    if (name == a) return code;
  return std::nullopt;
}

// The page codes sg_vpd -p sv lists, in its order; -1 for a line it names in a way not understood.
std::vector<int> tool_supported_pages(const std::string& text) {
  std::vector<int> out;
  for (const auto& l : lines_of(text)) {
    if (indent_of(l) != 2) continue;
    const auto open = l.rfind('['), close = l.rfind(']');
    if (open != std::string::npos && close != std::string::npos && close > open) {
      auto c = vpd_acronym_code(std::string_view(l).substr(open + 1, close - open - 1));
      out.push_back(c ? int(*c) : -1);
    } else if (auto pos = l.find("0x"); pos != std::string::npos) {
      auto v = number_at(std::string_view(l).substr(pos));
      out.push_back(v ? int(*v) : -1);
    } else {
      out.push_back(-1);
    }
  }
  return out;
}

std::vector<int> our_supported_pages(executor& ex, int fd) {
  const response r = vpd_page(ex, fd, scsi::vpd::supported_pages);
  REQUIRE(r.good());
  const auto sv = scsi::parse_supported_vpd_pages(r.data);
  REQUIRE(sv.has_value());
  return {sv->codes.begin(), sv->codes.end()};
}
}  // namespace

TEST_CASE("sg3_utils: the supported VPD pages (00h) agree with sg_vpd -p sv") {
  executor ex(ring_options::passthrough());
  for (const target& t : require_disks()) {
    auto fd = open_rw(t.bsg);
    const response ours = vpd_page(ex, fd.get(), scsi::vpd::supported_pages);
    const uc_test::command_result tool = uc_test::run_command("sg_vpd -p sv " + t.bsg);
    CAPTURE(t.bsg);
    CAPTURE(tool.output);
    const std::string bytes = hex(ours.data);
    CAPTURE(bytes);
    REQUIRE(ours.good());
    REQUIRE(tool.status == 0);
    const auto sv = scsi::parse_supported_vpd_pages(ours.data);
    REQUIRE(sv.has_value());
    CHECK_FALSE(sv->page.truncated);
    const std::vector<int> mine(sv->codes.begin(), sv->codes.end());
    const std::vector<int> theirs = tool_supported_pages(tool.output);
    CHECK(mine.size() == theirs.size());
    for (std::size_t i = 0; i < std::min(mine.size(), theirs.size()); ++i) {
      CAPTURE(i);
      CHECK(mine[i] == theirs[i]);
    }
  }
}

// ---- VPD 80h ------------------------------------------------------------------------------------

TEST_CASE("sg3_utils: the unit serial number (80h) agrees with sg_vpd -p sn, or both call it unsupported") {
  executor ex(ring_options::passthrough());
  for (const target& t : require_disks()) {
    auto fd = open_rw(t.bsg);
    const auto pages = our_supported_pages(ex, fd.get());
    const bool listed = std::find(pages.begin(), pages.end(), 0x80) != pages.end();
    const response ours = vpd_page(ex, fd.get(), scsi::vpd::unit_serial_number);
    const uc_test::command_result tool = uc_test::run_command("sg_vpd -p sn " + t.bsg);
    const uc_test::command_result inq = uc_test::run_command("sg_inq " + t.bsg);
    CAPTURE(t.bsg);
    CAPTURE(tool.output);
    const std::string reply = ours.describe();
    CAPTURE(reply);
    CHECK(vpd_returned(ours, 0x80) == listed);
    CHECK((tool.status == 0) == listed);
    if (!listed) {
      CHECK_FALSE(has_line(inq.output, "Unit serial number:"));
      continue;
    }
    const auto sn = scsi::parse_unit_serial_number(ours.data);
    REQUIRE(sn.has_value());
    CHECK(after(tool.output, "Unit serial number:") == sv_ascii(sn->serial));
    CHECK(after(inq.output, "Unit serial number:") == sv_ascii(sn->serial));  // sg_inq reads 80h too
  }
}

// ---- VPD 83h ------------------------------------------------------------------------------------

namespace {
struct tool_designator {
  int association = -1;
  std::string type;      // "NAA", "vendor specific [0x0]", ...
  std::string code_set;  // "Binary", "ASCII", "UTF-8"
  std::string transport;  // the " transport:" line, when there is one
  std::vector<std::string> body;  // the other lines, trimmed
};

std::vector<tool_designator> tool_designators(const std::string& text) {
  std::vector<tool_designator> out;
  int assoc = -1;
  for (const auto& l : lines_of(text)) {
    const std::string t = trim(l);
    if (t.empty()) continue;
    if (indent_of(l) == 2) {  // association headers
      assoc = t.rfind("Addressed logical unit", 0) == 0 ? 0
              : t.rfind("Target port", 0) == 0        ? 1
              : t.rfind("Target device", 0) == 0      ? 2
                                                      : 3;
      continue;
    }
    if (t.rfind("designator type:", 0) == 0) {
      tool_designator d;
      d.association = assoc;
      const std::string rest = trim(t.substr(std::strlen("designator type:")));
      const auto cs = rest.find(",  code set:");
      d.type = trim(rest.substr(0, cs));
      if (cs != std::string::npos) d.code_set = trim(rest.substr(cs + std::strlen(",  code set:")));
      out.push_back(d);
      continue;
    }
    if (out.empty()) continue;
    if (t.rfind("transport:", 0) == 0)
      out.back().transport = trim(t.substr(std::strlen("transport:")));
    else
      out.back().body.push_back(t);
  }
  return out;
}

std::string_view sg3_type_name(scsi::designator_type t) {
  using dt = scsi::designator_type;
  switch (t) {
    case dt::vendor_specific: return "vendor specific";
    case dt::t10_vendor_id: return "T10 vendor identification";
    case dt::eui64: return "EUI-64 based";
    case dt::naa: return "NAA";
    case dt::relative_target_port: return "Relative target port";
    case dt::target_port_group: return "Target port group";
    case dt::logical_unit_group: return "Logical unit group";
    case dt::md5_logical_unit: return "MD5 logical unit identifier";
    case dt::scsi_name_string: return "SCSI name string";
    case dt::protocol_specific_port: return "Protocol specific port identifier";
    case dt::uuid: return "UUID identifier";
  }
  return "?";
}

std::string_view sg3_code_set_name(scsi::designator_code_set c) {
  switch (c) {
    case scsi::designator_code_set::binary: return "Binary";
    case scsi::designator_code_set::ascii: return "ASCII";
    case scsi::designator_code_set::utf8: return "UTF-8";
  }
  return "?";
}

std::string hex_u(unsigned v) {
  char b[16];
  std::snprintf(b, sizeof b, "0x%x", v);
  return b;
}

// The lines sg_vpd prints for the designator's value (what we can predict of them).
std::vector<std::string> expected_body(const scsi::designator& d) {
  using dt = scsi::designator_type;
  const auto& b = d.bytes;
  std::vector<std::string> out;
  switch (d.type) {
    case dt::naa: {
      std::string s = "0x";
      char tmp[4];
      for (auto x : b) {
        std::snprintf(tmp, sizeof tmp, "%02x", x);
        s += tmp;
      }
      out.push_back(s);
      break;
    }
    case dt::t10_vendor_id: {
      out.push_back(trim("vendor id: " + std::string(scsi::ascii_field(b.first(std::min<std::size_t>(8, b.size()))))));
      if (b.size() > 8) out.push_back(trim("vendor specific: " + std::string(scsi::ascii_field(b.subspan(8)))));
      break;
    }
    case dt::vendor_specific:
      if (auto text = d.text()) out.push_back(trim("vendor specific: " + std::string(*text)));
      break;
    case dt::relative_target_port:
      if (b.size() >= 4) out.push_back("Relative target port: " + hex_u(unsigned(b[2]) << 8 | b[3]));
      break;
    case dt::target_port_group:
      if (b.size() >= 4) out.push_back("Target port group: " + hex_u(unsigned(b[2]) << 8 | b[3]));
      break;
    case dt::logical_unit_group:
      if (b.size() >= 4) out.push_back("Logical unit group: " + hex_u(unsigned(b[2]) << 8 | b[3]));
      break;
    case dt::scsi_name_string:
      if (auto text = d.text()) out.push_back(std::string(*text));
      break;
    default: break;
  }
  return out;
}
}  // namespace

TEST_CASE("sg3_utils: the device identification designators (83h) agree with sg_vpd -p di") {
  executor ex(ring_options::passthrough());
  for (const target& t : require_disks()) {
    auto fd = open_rw(t.bsg);
    const response ours = vpd_page(ex, fd.get(), scsi::vpd::device_identification);
    const uc_test::command_result tool = uc_test::run_command("sg_vpd -p di " + t.bsg);
    CAPTURE(t.bsg);
    CAPTURE(tool.output);
    const std::string bytes = hex(ours.data);
    CAPTURE(bytes);
    REQUIRE(ours.good());
    REQUIRE(tool.status == 0);
    const auto di = scsi::parse_device_identification(ours.data);
    REQUIRE(di.has_value());
    CHECK_FALSE(di->page.truncated);
    // sg_vpd -p di groups them by association (logical unit, target port, target device), each
    // group in the page's order.
    std::vector<scsi::designator> mine;
    for (const scsi::designator& d : di->designators()) mine.push_back(d);
    std::stable_sort(mine.begin(), mine.end(), [](const scsi::designator& a, const scsi::designator& b) {
      return static_cast<int>(a.association) < static_cast<int>(b.association);
    });
    const auto theirs = tool_designators(tool.output);
    CHECK(mine.size() == theirs.size());
    for (std::size_t i = 0; i < std::min(mine.size(), theirs.size()); ++i) {
      const scsi::designator& d = mine[i];
      const tool_designator& s = theirs[i];
      CAPTURE(i);
      const std::string designator_bytes = hex(d.bytes);
      CAPTURE(designator_bytes);
      CHECK(s.association == static_cast<int>(d.association));
      CHECK(s.type.rfind(sg3_type_name(d.type), 0) == 0);
      CHECK(s.code_set == sg3_code_set_name(d.code_set));
      // The protocol is shown for a target port or target device designator with PIV set.
      const bool shows_protocol = d.piv && d.association != scsi::designator_association::logical_unit;
      CHECK(!s.transport.empty() == shows_protocol);
      if (shows_protocol && d.protocol_identifier == 6) CHECK(s.transport.find("Serial Attached SCSI") == 0);
      for (const std::string& want : expected_body(d)) {
        CAPTURE(want);
        CHECK(std::find(s.body.begin(), s.body.end(), want) != s.body.end());
      }
    }
    // The NAA and T10 vendor id values in particular, by type, regardless of the order.
    std::size_t naa = 0, t10 = 0;
    for (const auto& d : mine) {
      naa += d.type == scsi::designator_type::naa;
      t10 += d.type == scsi::designator_type::t10_vendor_id;
    }
    CHECK(naa == std::size_t(std::count_if(theirs.begin(), theirs.end(), [](auto& s) { return s.type == "NAA"; })));
    CHECK(t10 == std::size_t(std::count_if(theirs.begin(), theirs.end(),
                                           [](auto& s) { return s.type == "T10 vendor identification"; })));
  }
}

// ---- VPD B0h, B1h, B2h --------------------------------------------------------------------------

namespace {
// Fetches page `code` both ways and checks that the two sides agree on whether it exists; returns
// the parsed bytes when both have it.
struct vpd_pair {
  bool supported = false;
  response ours;
  uc_test::command_result tool;
};

vpd_pair fetch_both(executor& ex, const target& t, int fd, std::uint8_t code, const std::string& acronym) {
  vpd_pair p;
  const auto pages = our_supported_pages(ex, fd);
  const uc_test::command_result sv = uc_test::run_command("sg_vpd -p sv " + t.bsg);
  const bool ours_listed = std::find(pages.begin(), pages.end(), code) != pages.end();
  const auto tool_pages = tool_supported_pages(sv.output);
  const bool tool_listed = std::find(tool_pages.begin(), tool_pages.end(), code) != tool_pages.end();
  p.ours = vpd_page(ex, fd, code);
  p.tool = uc_test::run_command("sg_vpd -p " + acronym + " " + t.bsg);
  CAPTURE(t.bsg);
  CAPTURE(p.tool.output);
  const std::string reply = p.ours.describe();
  CAPTURE(reply);
  CHECK(ours_listed == tool_listed);
  CHECK(vpd_returned(p.ours, code) == ours_listed);
  CHECK((p.tool.status == 0) == tool_listed);
  p.supported = ours_listed && tool_listed && vpd_returned(p.ours, code) && p.tool.status == 0;
  return p;
}
}  // namespace

TEST_CASE("sg3_utils: the block limits (B0h) agree with sg_vpd -p bl, or both call it unsupported") {
  executor ex(ring_options::passthrough());
  for (const target& t : require_disks()) {
    auto fd = open_rw(t.bsg);
    const vpd_pair p = fetch_both(ex, t, fd.get(), scsi::vpd::block_limits, "bl");
    if (!p.supported) continue;
    CAPTURE(t.bsg);
    CAPTURE(p.tool.output);
    const std::string bytes = hex(p.ours.data);
    CAPTURE(bytes);
    const auto bl = scsi::parse_block_limits(p.ours.data);
    REQUIRE(bl.has_value());
    const std::string& o = p.tool.output;
    CHECK(field_after(o, "(WSNZ):", 1) == bl->wsnz);
    CHECK(field_after(o, "Maximum compare and write length:", 8) == bl->maximum_compare_and_write_length);
    CHECK(field_after(o, "Optimal transfer length granularity:", 16) == bl->optimal_transfer_length_granularity);
    CHECK(field_after(o, "Maximum transfer length:", 32) == bl->maximum_transfer_length);
    CHECK(field_after(o, "Optimal transfer length:", 32) == bl->optimal_transfer_length);
    CHECK(field_after(o, "Maximum prefetch transfer length:", 32) == bl->maximum_prefetch_length);
    CHECK(field_after(o, "Maximum unmap LBA count:", 32) == bl->maximum_unmap_lba_count);
    CHECK(field_after(o, "Maximum unmap block descriptor count:", 32) == bl->maximum_unmap_block_descriptor_count);
    CHECK(field_after(o, "Optimal unmap granularity:", 32) == bl->optimal_unmap_granularity);
    CHECK(after(o, "Unmap granularity alignment valid:") == std::string(bl->ugavalid.value_or(false) ? "true" : "false"));
    if (bl->ugavalid.value_or(false))
      CHECK(field_after(o, "Unmap granularity alignment:", 31) == bl->unmap_granularity_alignment);
    CHECK(field_after(o, "Maximum write same length:", 64) == bl->maximum_write_same_length);
    CHECK(field_after(o, "Maximum atomic transfer length:", 32) == bl->maximum_atomic_transfer_length);
    CHECK(field_after(o, "Atomic alignment:", 32) == bl->atomic_alignment);
    CHECK(field_after(o, "Atomic transfer length granularity:", 32) == bl->atomic_transfer_length_granularity);
    CHECK(field_after(o, "Maximum atomic transfer length with atomic boundary:", 32) ==
          bl->maximum_atomic_transfer_length_with_atomic_boundary);
    CHECK(field_after(o, "Maximum atomic boundary size:", 32) == bl->maximum_atomic_boundary_size);
  }
}

TEST_CASE("sg3_utils: the block device characteristics (B1h) agree with sg_vpd -p bdc, or both call it unsupported") {
  executor ex(ring_options::passthrough());
  for (const target& t : require_disks()) {
    auto fd = open_rw(t.bsg);
    const vpd_pair p = fetch_both(ex, t, fd.get(), scsi::vpd::block_device_characteristics, "bdc");
    if (!p.supported) continue;
    CAPTURE(t.bsg);
    CAPTURE(p.tool.output);
    const std::string bytes = hex(p.ours.data);
    CAPTURE(bytes);
    const auto c = scsi::parse_block_device_characteristics(p.ours.data);
    REQUIRE(c.has_value());
    REQUIRE(c->medium_rotation_rate.has_value());
    const std::string& o = p.tool.output;
    const unsigned rate = *c->medium_rotation_rate;
    if (rate == 0)
      CHECK(has_line(o, "Medium rotation rate is not reported"));
    else if (rate == 1)
      CHECK(has_line(o, "Non-rotating medium"));
    else
      CHECK(num_after(o, "Nominal rotation rate:") == rate);
    CHECK(has_line(o, "Product type: Not specified") == (c->product_type == std::uint8_t{0}));
    CHECK(kv(o, "WABEREQ") == c->wabereq);
    CHECK(kv(o, "WACEREQ") == c->wacereq);
    static constexpr std::string_view form_factor[] = {"Nominal form factor not reported", ": 5.25 inch", ": 3.5 inch",
                                                       ": 2.5 inch", ": 1.8 inch", ": less then 1.8 inch"};
    REQUIRE(c->nominal_form_factor.has_value());
    if (*c->nominal_form_factor < std::size(form_factor))
      CHECK(has_line(o, form_factor[*c->nominal_form_factor]));
    CHECK(kv(o, "ZONED") == c->zoned);
    CHECK(kv(o, "FUAB") == int(c->fuab.value_or(false)));
    CHECK(kv(o, "VBULS") == int(c->vbuls.value_or(false)));
  }
}

TEST_CASE("sg3_utils: the logical block provisioning page (B2h) agrees with sg_vpd -p lbpv, or both call it unsupported") {
  executor ex(ring_options::passthrough());
  for (const target& t : require_disks()) {
    auto fd = open_rw(t.bsg);
    const vpd_pair p = fetch_both(ex, t, fd.get(), scsi::vpd::logical_block_provisioning, "lbpv");
    if (!p.supported) continue;
    CAPTURE(t.bsg);
    CAPTURE(p.tool.output);
    const std::string bytes = hex(p.ours.data);
    CAPTURE(bytes);
    const auto l = scsi::parse_logical_block_provisioning(p.ours.data);
    REQUIRE(l.has_value());
    const std::string& o = p.tool.output;
    CHECK(num_after(o, "(LBPU):") == int(l->lbpu.value_or(false)));
    CHECK(num_after(o, "(LBPWS):") == int(l->lbpws.value_or(false)));
    CHECK(num_after(o, "(LBPWS10):") == int(l->lbpws10.value_or(false)));
    CHECK(num_after(o, "(LBPRZ):") == l->lbprz);
    CHECK(num_after(o, "(ANC_SUP):") == int(l->anc_sup.value_or(false)));
    CHECK(num_after(o, "(DP):") == int(l->dp.value_or(false)));
    CHECK(num_after(o, "Threshold exponent:") == l->threshold_exponent);
    CHECK(num_after(o, "Minimum percentage:") == l->minimum_percentage);
    CHECK(num_after(o, "Provisioning type:") == l->provisioning_type);
    CHECK(num_after(o, "Threshold percentage:") == l->threshold_percentage);
  }
}

// ---- READ CAPACITY ------------------------------------------------------------------------------

TEST_CASE("sg3_utils: READ CAPACITY(10) agrees with sg_readcap") {
  executor ex(ring_options::passthrough());
  for (const target& t : require_disks()) {
    auto fd = open_rw(t.bsg);
    const response ours = issue(ex, fd.get(), scsi::read_capacity10(), 8);
    const uc_test::command_result tool = uc_test::run_command("sg_readcap " + t.bsg);
    CAPTURE(t.bsg);
    CAPTURE(tool.output);
    const std::string bytes = hex(ours.data);
    CAPTURE(bytes);
    REQUIRE(ours.good());
    REQUIRE(tool.status == 0);
    const auto c = scsi::parse_read_capacity10(ours.data);
    REQUIRE(c.has_value());
    REQUIRE_FALSE(c->use_16());
    CHECK(kv(tool.output, "Last LBA") == c->returned_lba);
    CHECK(kv(tool.output, "Number of logical blocks") == std::uint64_t{c->returned_lba} + 1);
    CHECK(kv(tool.output, "Logical block length") == c->block_length);
    CHECK(num_after(tool.output, "Device size:") == c->total_bytes());
  }
}

TEST_CASE("sg3_utils: READ CAPACITY(16) agrees with sg_readcap -l") {
  executor ex(ring_options::passthrough());
  for (const target& t : require_disks()) {
    auto fd = open_rw(t.bsg);
    const response ours = issue(ex, fd.get(), scsi::read_capacity16(32), 32);
    const uc_test::command_result tool = uc_test::run_command("sg_readcap -l " + t.bsg);
    CAPTURE(t.bsg);
    CAPTURE(tool.output);
    const std::string bytes = hex(ours.data);
    CAPTURE(bytes);
    REQUIRE(ours.good());
    REQUIRE(tool.status == 0);
    const auto c = scsi::parse_read_capacity16(ours.data);
    REQUIRE(c.has_value());
    CHECK(kv(tool.output, "Last LBA") == static_cast<long long>(c->returned_lba));
    CHECK(kv(tool.output, "Logical block length") == c->block_length);
    CHECK(kv(tool.output, "prot_en") == int(c->prot_en.value_or(false)));
    CHECK(kv(tool.output, "p_type") == c->p_type);
    CHECK(kv(tool.output, "p_i_exponent") == c->p_i_exponent);
    CHECK(kv(tool.output, "lbpme") == int(c->lbpme.value_or(false)));
    CHECK(kv(tool.output, "lbprz") == int(c->lbprz.value_or(false)));
    CHECK(kv(tool.output, "Logical blocks per physical block exponent") == c->logical_blocks_per_physical_exponent);
    CHECK(kv(tool.output, "Lowest aligned LBA") == c->lowest_aligned_lba);
    CHECK(num_after(tool.output, "Device size:") == c->total_bytes());
    // protection_type() is what sg_readcap's p_type means when prot_en is set.
    CHECK(c->protection_type().has_value() == (kv(tool.output, "prot_en") == 1));
  }
}

// ---- REPORT LUNS --------------------------------------------------------------------------------

TEST_CASE("sg3_utils: REPORT LUNS agrees with sg_luns") {
  executor ex(ring_options::passthrough());
  for (const target& t : require_disks()) {
    auto fd = open_rw(t.bsg);
    const response ours = issue(ex, fd.get(), scsi::report_luns(4096), 4096);
    const uc_test::command_result tool = uc_test::run_command("sg_luns " + t.bsg);
    CAPTURE(t.bsg);
    CAPTURE(tool.output);
    const std::string bytes = hex(ours.data);
    CAPTURE(bytes);
    REQUIRE(ours.good());
    REQUIRE(tool.status == 0);
    const auto d = scsi::parse_report_luns(ours.data);
    REQUIRE(d.has_value());
    CHECK_FALSE(d->truncated());
    CHECK(num_after(tool.output, "Lun list length =") == d->lun_list_length);
    std::vector<std::string> theirs;
    for (const auto& l : lines_of(tool.output)) {
      const std::string s = trim(l);
      if (s.size() == 16 && std::all_of(s.begin(), s.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); }))
        theirs.push_back(s);
    }
    std::vector<std::string> mine;
    for (const scsi::lun l : d->luns()) {
      char b[20];
      std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(l.raw));
      mine.push_back(b);
    }
    CHECK(mine.size() == theirs.size());
    CHECK(mine == theirs);
  }
}

// ---- MODE SENSE(10), caching page ---------------------------------------------------------------

TEST_CASE("sg3_utils: the MODE SENSE(10) caching page (WCE, RCD) agrees with sg_modes -p ca") {
  executor ex(ring_options::passthrough());
  for (const target& t : require_disks()) {
    auto fd = open_rw(t.bsg);
    const auto cdb = scsi::mode_sense10(scsi::mode_pages::caching, 0, 1024);
    REQUIRE(cdb.has_value());
    const response ours = issue(ex, fd.get(), *cdb, 1024);
    const uc_test::command_result tool = uc_test::run_command("sg_modes -p ca " + t.bsg);
    CAPTURE(t.bsg);
    CAPTURE(tool.output);
    const std::string bytes = hex(ours.data);
    CAPTURE(bytes);
    REQUIRE(ours.good());
    REQUIRE(tool.status == 0);
    REQUIRE(has_line(tool.output, "from MODE SENSE(10)"));
    const auto m = scsi::parse_mode_sense10(ours.data);
    REQUIRE(m.has_value());
    CHECK_FALSE(m->truncated);
    // sg_modes prints the whole length, MODE DATA LENGTH plus its own 2 bytes (md_len = be16 + 2).
    CHECK(kv(tool.output, "Mode data length") == m->header.mode_data_length + 2);
    CHECK(kv(tool.output, "medium type") == m->header.medium_type);
    CHECK(kv(tool.output, "WP") == int(m->header.wp()));
    CHECK(kv(tool.output, "DpoFua") == int(m->header.dpofua()));
    CHECK(kv(tool.output, "longlba") == int(m->header.longlba));
    CHECK(kv(tool.output, "Block descriptor length") == m->header.block_descriptor_length);
    // The block descriptor sg_modes dumps, decoded as SBC short LBA format.
    const auto bd = hex_section(tool.output, "> Direct access device block descriptors");
    const std::vector<std::uint8_t> our_bd(m->block_descriptor_bytes.begin(), m->block_descriptor_bytes.end());
    CHECK(bd == our_bd);
    if (!m->header.longlba && bd.size() >= 8) {
      std::vector<scsi::block_descriptor> descs;
      for (const scsi::block_descriptor d : m->block_descriptors()) descs.push_back(d);
      REQUIRE(!descs.empty());
      CHECK(descs[0].number_of_blocks == scsi::get_be<4>(bd.data()));
      CHECK(descs[0].block_length == scsi::get_be<3>(bd.data() + 5));
    }
    const auto page = m->find_page(scsi::mode_pages::caching);
    REQUIRE(page.has_value());
    const auto theirs = hex_section(tool.output, ">> Caching");
    const std::vector<std::uint8_t> mine(page->bytes.begin(), page->bytes.end());
    CHECK(mine == theirs);
    REQUIRE(theirs.size() >= 3);
    const auto ca = scsi::decode_caching_page(*page);
    REQUIRE(ca.has_value());
    CHECK(ca->wce == ((theirs[2] & 0x04) != 0));
    CHECK(ca->rcd == ((theirs[2] & 0x01) != 0));
    CHECK(ca->mf == ((theirs[2] & 0x02) != 0));
    CHECK(page->page_length == theirs[1]);
    CHECK(page->ps == ((theirs[0] & 0x80) != 0));
  }
}

// ---- REPORT SUPPORTED OPERATION CODES -----------------------------------------------------------

TEST_CASE("sg3_utils: REPORT SUPPORTED OPERATION CODES agrees with sg_opcodes, or both call it unsupported") {
  executor ex(ring_options::passthrough());
  for (const target& t : require_disks()) {
    auto fd = open_rw(t.bsg);
    const response ours = issue(ex, fd.get(), scsi::report_supported_opcodes(8192), 8192);
    const uc_test::command_result tool = uc_test::run_command("sg_opcodes " + t.bsg);
    CAPTURE(t.bsg);
    CAPTURE(tool.output);
    const std::string reply = ours.describe();
    CAPTURE(reply);
    CHECK(ours.good() == (tool.status == 0));
    if (!ours.good()) {
      CHECK(ours.illegal_request());
      CHECK(has_line(tool.output, "Illegal request"));
      continue;
    }
    if (tool.status != 0) continue;
    const auto a = scsi::parse_all_commands_report(ours.data);
    REQUIRE(a.has_value());
    CHECK_FALSE(a->truncated);
    // (opcode, service action or -1, CDB size), sorted: sg_opcodes sorts by opcode.
    using row = std::tuple<int, int, int>;
    std::vector<row> mine;
    for (const scsi::command_descriptor& d : a->descriptors())
      mine.emplace_back(d.opcode, d.servactv ? int(d.service_action) : -1, int(d.cdb_length));
    std::vector<row> theirs;
    bool table = false;
    for (const auto& l : lines_of(tool.output)) {
      if (l.rfind("-----", 0) == 0) {
        table = true;
        continue;
      }
      if (!table || trim(l).empty()) continue;
      std::vector<std::string> tok;
      std::size_t b = 0;
      const std::string s = trim(l);
      while (b < s.size()) {
        std::size_t e = s.find(' ', b);
        if (e == std::string::npos) e = s.size();
        if (e > b) tok.push_back(s.substr(b, e - b));
        b = e + 1;
      }
      // "00  6  0,0  Test Unit Ready" or "7f  9  32  0,0  Read(32)": the "x,y" column ends them.
      const auto flags = std::find_if(tok.begin(), tok.end(), [](const std::string& x) { return x.find(',') != std::string::npos; });
      const auto n = flags - tok.begin();
      if (n == 2)
        theirs.emplace_back(int(std::strtol(tok[0].c_str(), nullptr, 16)), -1, int(std::strtol(tok[1].c_str(), nullptr, 10)));
      else if (n == 3)
        theirs.emplace_back(int(std::strtol(tok[0].c_str(), nullptr, 16)), int(std::strtol(tok[1].c_str(), nullptr, 16)),
                            int(std::strtol(tok[2].c_str(), nullptr, 10)));
      else
        theirs.emplace_back(-1, -1, -1);  // a row not understood: fails the comparison below
    }
    std::sort(mine.begin(), mine.end());
    std::sort(theirs.begin(), theirs.end());
    CHECK(a->command_data_length / 8 >= mine.size());
    CHECK(mine.size() == theirs.size());
    CHECK(mine == theirs);
  }
}
