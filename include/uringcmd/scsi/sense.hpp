// SPDX-License-Identifier: MIT
// SCSI sense data (SPC-6 4.4): fixed (70h/71h) and descriptor (72h/73h) formats decoded into one
// `sense` value; sense key and ASC/ASCQ names; a one-line describe() in the manner of sg3_utils.
// Every read of device bytes is bounds-checked (byte_reader): truncated or garbage input decodes
// to what is there, never past the end of the span.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>


#include <uringcmd/scsi/asc_names.hpp>
#include <uringcmd/scsi/bytes.hpp>
#include <uringcmd/record_view.hpp>

namespace uringcmd::scsi {

/// The sense key (SPC-6 table 54).
enum class sense_key : std::uint8_t {
  no_sense = 0x0,
  recovered_error = 0x1,
  not_ready = 0x2,
  medium_error = 0x3,
  hardware_error = 0x4,
  illegal_request = 0x5,
  unit_attention = 0x6,
  data_protect = 0x7,
  blank_check = 0x8,
  vendor_specific = 0x9,
  copy_aborted = 0xa,
  aborted_command = 0xb,
  equal = 0xc,  ///< obsolete (SEARCH DATA); reserved since SPC-4
  volume_overflow = 0xd,
  miscompare = 0xe,
  completed = 0xf,
};

/// "Illegal Request", "Unit Attention", ... (sg3_utils' spelling).
constexpr std::string_view sense_key_name(sense_key k) noexcept {
  constexpr std::array<std::string_view, 16> names{
      "No Sense",       "Recovered Error", "Not Ready", "Medium Error",    "Hardware Error", "Illegal Request",
      "Unit Attention", "Data Protect",    "Blank Check", "Vendor Specific", "Copy Aborted",  "Aborted Command",
      "Equal",          "Volume Overflow", "Miscompare", "Completed"};
  return names[static_cast<std::uint8_t>(k) & 0x0f];
}

/// The name of an (asc, ascq) pair from SPC's table ("Logical block address out of range"), or ""
/// when the pair has no fixed name: unassigned, vendor specific, or one of the ranges whose name
/// carries the ASCQ (40h/80h..FFh "Diagnostic failure on component NN"): asc_description() formats
/// those.
constexpr std::string_view asc_name(std::uint8_t asc, std::uint8_t ascq) noexcept {
  const auto& t = sense_detail::asc_table;
  const unsigned key = (unsigned{asc} << 8) | ascq;
  const auto* it = std::lower_bound(t.begin(), t.end(), key, [](const sense_detail::asc_entry& e, unsigned k) {
    return ((unsigned{e.asc} << 8) | e.ascq) < k;
  });
  if (it != t.end() && it->asc == asc && it->ascq == ascq) return it->name;
  return {};
}

namespace sense_detail {
inline void append_hex2(std::string& s, std::uint8_t v) {
  static constexpr char hex[] = "0123456789abcdef";
  s += hex[v >> 4];
  s += hex[v & 15];
}
inline void append_hex(std::string& s, std::uint64_t v) {
  static constexpr char hex[] = "0123456789abcdef";
  char buf[16];
  int n = 0;
  do {
    buf[n++] = hex[v & 15];
    v >>= 4;
  } while (v != 0);
  s += "0x";
  while (n > 0) s += buf[--n];
}
}  // namespace sense_detail

/// Always a description: the table's name, a range name with its ASCQ ("Diagnostic failure on
/// component [0x90]"), or sg3_utils' fallbacks ("ASC=7f, ASCQ=23 (hex)", "vendor specific ASC=80,
/// ASCQ=01 (hex)", "ASC=11, vendor specific qualification ASCQ=80 (hex)").
inline std::string asc_description(std::uint8_t asc, std::uint8_t ascq) {
  for (const auto& r : sense_detail::asc_range_table) {
    if (r.asc == asc && ascq >= r.ascq_min && ascq <= r.ascq_max) {
      std::string s(r.head);
      sense_detail::append_hex(s, ascq);
      s += r.tail;
      return s;
    }
  }
  if (auto n = asc_name(asc, ascq); !n.empty()) return std::string(n);
  std::string s;
  if (asc >= 0x80) s += "vendor specific ";
  s += "ASC=";
  sense_detail::append_hex2(s, asc);
  s += asc < 0x80 && ascq >= 0x80 ? ", vendor specific qualification ASCQ=" : ", ASCQ=";
  sense_detail::append_hex2(s, ascq);
  s += " (hex)";
  return s;
}

// --- sense-key-specific data (SPC-6 4.4.2.4) ---------------------------------------------------

/// ILLEGAL REQUEST: the CDB or parameter-list byte (and bit) that the device rejected.
struct field_pointer {
  bool command = false;     ///< C/D: true: in the CDB; false: in the parameter list
  bool bit_valid = false;   ///< BPV: `bit` is meaningful
  std::uint8_t bit = 0;     ///< bit pointer, 0..7
  std::uint16_t field = 0;  ///< byte offset of the field in error
  friend bool operator==(const field_pointer&, const field_pointer&) = default;
};
/// NOT READY and NO SENSE: how far an operation (FORMAT UNIT, sanitize, ...) has got.
struct progress_indication {
  std::uint16_t progress = 0;  ///< numerator of a fraction of 65536
  constexpr double fraction() const noexcept { return progress / 65536.0; }
  friend bool operator==(const progress_indication&, const progress_indication&) = default;
};
/// RECOVERED ERROR, MEDIUM ERROR, HARDWARE ERROR: the retries the device made (vendor-defined unit).
struct retry_count {
  std::uint16_t count = 0;
  friend bool operator==(const retry_count&, const retry_count&) = default;
};
/// COPY ABORTED: the byte of a segment descriptor or parameter list that failed.
struct segment_pointer {
  bool segment_descriptor = false;  ///< SD: relative to the segment descriptor; false: the parameter list
  bool bit_valid = false;
  std::uint8_t bit = 0;
  std::uint16_t field = 0;
  friend bool operator==(const segment_pointer&, const segment_pointer&) = default;
};
/// UNIT ATTENTION: whether the unit attention condition queue overflowed.
struct unit_attention_queue {
  bool overflow = false;
  friend bool operator==(const unit_attention_queue&, const unit_attention_queue&) = default;
};
/// The three bytes, for a sense key whose sense-key-specific data SPC leaves reserved.
struct sks_bytes {
  std::array<std::uint8_t, 3> raw{};
  friend bool operator==(const sks_bytes&, const sks_bytes&) = default;
};

/// Sense-key-specific data, present when SKSV is set; its form depends on the sense key.
using sense_key_specific =
    std::variant<field_pointer, progress_indication, retry_count, segment_pointer, unit_attention_queue, sks_bytes>;

/// The three SKS bytes (SKSV in bit 7 of the first) read for sense key `key`; nullopt when SKSV is
/// clear or the bytes are cut off.
constexpr std::optional<sense_key_specific> decode_sense_key_specific(sense_key key, byte_reader b) noexcept {
  if (!b.has(0, 3) || !b.bit(0, 7)) return std::nullopt;
  const auto b0 = *b.u8(0);
  const auto value = static_cast<std::uint16_t>(*b.be<2>(1));
  switch (key) {
    case sense_key::illegal_request:
      return field_pointer{b.bit(0, 6), b.bit(0, 3), static_cast<std::uint8_t>(b0 & 7), value};
    case sense_key::no_sense:
    case sense_key::not_ready: return progress_indication{value};
    case sense_key::recovered_error:
    case sense_key::medium_error:
    case sense_key::hardware_error: return retry_count{value};
    case sense_key::copy_aborted:
      return segment_pointer{b.bit(0, 5), b.bit(0, 3), static_cast<std::uint8_t>(b0 & 7), value};
    case sense_key::unit_attention: return unit_attention_queue{b.bit(0, 0)};
    default: return sks_bytes{{b0, *b.u8(1), *b.u8(2)}};
  }
}

// --- descriptors (descriptor format) ------------------------------------------------------------

/// Descriptor types of descriptor-format sense data that this decoder reads (SPC-6 table 30).
namespace descriptor_type {
inline constexpr std::uint8_t information = 0x00;
inline constexpr std::uint8_t command_specific = 0x01;
inline constexpr std::uint8_t sense_key_specific = 0x02;
inline constexpr std::uint8_t field_replaceable_unit = 0x03;
inline constexpr std::uint8_t stream_commands = 0x04;
inline constexpr std::uint8_t block_commands = 0x05;
inline constexpr std::uint8_t ata_status_return = 0x09;
inline constexpr std::uint8_t another_progress_indication = 0x0a;
}  // namespace descriptor_type

/// One sense data descriptor: its bytes from the type byte on, at most 2 + additional length, cut
/// at the end of the sense data. Read fields at SPC's byte offsets through reader().
struct sense_descriptor {
  std::uint8_t type = 0;
  std::span<const std::uint8_t> bytes;
  constexpr std::uint8_t additional_length() const noexcept { return reader().u8(1).value_or(0); }
  /// Whether all 2 + additional length bytes are present.
  constexpr bool complete() const noexcept { return bytes.size() == std::size_t{2} + additional_length(); }
  constexpr byte_reader reader() const noexcept { return byte_reader(bytes); }
};

/// SPC-6 "Sense data descriptor format": {type, additional length, ...}. The walk ends at the end
/// of the area or at a lone trailing byte; a last descriptor whose length runs past the end is
/// yielded cut (complete() is false).
struct sense_descriptor_format {
  static constexpr std::optional<std::size_t> length(std::span<const std::uint8_t> s) noexcept {
    if (s.size() < 2) return std::nullopt;
    return std::min(std::size_t{2} + s[1], s.size());
  }
  static constexpr sense_descriptor decode(std::span<const std::uint8_t> s) noexcept { return {s[0], s}; }
};
/// The descriptors of a descriptor area, lazily.
using sense_descriptor_view = record_view<sense_descriptor_format>;

/// The length of sense data that its own header vouches for: min(size, 8 + additional length), or
/// the size when byte 7 is missing.
constexpr std::size_t sense_length(std::span<const std::uint8_t> bytes) noexcept {
  const byte_reader r(bytes);
  if (auto add = r.u8(7)) return std::min(bytes.size(), std::size_t{8} + *add);
  return bytes.size();
}

/// The descriptors of descriptor-format sense data (response code 72h/73h); empty for any other.
constexpr sense_descriptor_view sense_descriptors(std::span<const std::uint8_t> bytes) noexcept {
  const byte_reader r(bytes.first(sense_length(bytes)));
  const auto rc = static_cast<std::uint8_t>(r.u8(0).value_or(0) & 0x7f);
  if (rc != 0x72 && rc != 0x73) return {};
  return sense_descriptor_view(r.bytes(8, r.size()));
}

// --- the decoded sense --------------------------------------------------------------------------

enum class sense_format : std::uint8_t { fixed, descriptor };

/// Decoded sense data. Fields whose bytes were not returned read as 0/false/nullopt.
struct sense {
  /// The largest sense data a header can describe (8 + 255; SPC limits it to 252).
  static constexpr std::size_t max_length = 8 + 255;

  std::uint8_t response_code = 0;  ///< 70h/71h fixed, 72h/73h descriptor (VALID bit removed)
  sense_format format = sense_format::fixed;
  bool deferred = false;  ///< 71h/73h: the error belongs to an earlier command
  sense_key key = sense_key::no_sense;
  std::uint8_t asc = 0;
  std::uint8_t ascq = 0;
  bool filemark = false;   ///< fixed byte 2, or the stream commands descriptor
  bool eom = false;        ///< end of medium: fixed byte 2, or the stream commands descriptor
  bool ili = false;        ///< incorrect length: fixed byte 2, the stream or block commands descriptor
  bool sdat_ovfl = false;  ///< the sense data did not fit the device's buffer and was cut by it
  /// VALID: fixed: bit 7 of byte 0; descriptor: the information descriptor's VALID bit.
  bool valid = false;
  /// The INFORMATION field (often the first LBA in error), present only when VALID says so.
  std::optional<std::uint64_t> information;
  /// COMMAND-SPECIFIC INFORMATION: fixed bytes 8..11 when returned, or the command-specific descriptor.
  std::optional<std::uint64_t> command_specific;
  std::optional<sense_key_specific> sks;
  std::uint8_t fru = 0;  ///< field replaceable unit code; 0: none
  /// The data ended before the length its header announces (or before the 8-byte header).
  bool truncated = false;

  /// The sense bytes decoded (sense_length() of the input), for descriptors() and vendor fields.
  std::array<std::uint8_t, max_length> raw{};
  std::uint16_t length = 0;

  constexpr bool current() const noexcept { return !deferred; }
  constexpr std::span<const std::uint8_t> bytes() const noexcept { return std::span(raw).first(length); }
  /// The descriptors (descriptor format; empty for fixed). Views this object: keep it alive.
  constexpr sense_descriptor_view descriptors() const& noexcept { return sense_descriptors(bytes()); }
  sense_descriptor_view descriptors() const&& = delete;
  /// asc_description(asc, ascq).
  std::string asc_text() const { return asc_description(asc, ascq); }
};

/// Decodes sense data returned by a device (pass exactly the bytes it returned, e.g. bsg_res2's
/// sense_len of the buffer). nullopt when it is not sense data: a response code other than
/// 70h..73h (7Fh, vendor specific, included) or too short to hold the sense key (fixed: 3 bytes,
/// descriptor: 2). Bytes past 8 + the additional sense length are ignored, as the kernel does.
constexpr std::optional<sense> decode_sense(std::span<const std::uint8_t> bytes) noexcept {
  const byte_reader in(bytes);
  const auto b0 = in.u8(0);
  if (!b0) return std::nullopt;
  const auto rc = static_cast<std::uint8_t>(*b0 & 0x7f);
  if (rc < 0x70 || rc > 0x73) return std::nullopt;
  const bool fixed = rc <= 0x71;
  if (bytes.size() < (fixed ? 3U : 2U)) return std::nullopt;

  sense s;
  const std::size_t len = std::min(sense_length(bytes), sense::max_length);
  std::copy_n(bytes.begin(), len, s.raw.begin());
  s.length = static_cast<std::uint16_t>(len);
  s.truncated = bytes.size() < 8 || len < std::size_t{8} + *in.u8(7);
  const byte_reader r(s.bytes());

  s.response_code = rc;
  s.deferred = rc == 0x71 || rc == 0x73;
  if (fixed) {
    s.format = sense_format::fixed;
    s.valid = r.bit(0, 7);
    s.key = static_cast<sense_key>(*r.u8(2) & 0x0f);
    s.filemark = r.bit(2, 7);
    s.eom = r.bit(2, 6);
    s.ili = r.bit(2, 5);
    s.sdat_ovfl = r.bit(2, 4);
    if (s.valid) s.information = r.be<4>(3);
    s.command_specific = r.be<4>(8);
    s.asc = r.u8(12).value_or(0);
    s.ascq = r.u8(13).value_or(0);
    s.fru = r.u8(14).value_or(0);
    s.sks = decode_sense_key_specific(s.key, byte_reader(r.bytes(15, 3)));
    return s;
  }

  s.format = sense_format::descriptor;
  s.key = static_cast<sense_key>(*r.u8(1) & 0x0f);
  s.asc = r.u8(2).value_or(0);
  s.ascq = r.u8(3).value_or(0);
  s.sdat_ovfl = r.bit(4, 7);
  // The first descriptor of each type counts (SPC allows one of each).
  bool seen_info = false, seen_stream = false, seen_fru = false;
  for (const sense_descriptor d : sense_descriptors(s.bytes())) {
    const byte_reader f = d.reader();
    switch (d.type) {
      case descriptor_type::information:
        if (seen_info) break;
        seen_info = true;
        s.valid = f.bit(2, 7);
        if (s.valid) s.information = f.be<8>(4);
        break;
      case descriptor_type::command_specific:
        if (!s.command_specific) s.command_specific = f.be<8>(4);
        break;
      case descriptor_type::sense_key_specific:
        if (!s.sks) s.sks = decode_sense_key_specific(s.key, byte_reader(f.bytes(4, 3)));
        break;
      case descriptor_type::field_replaceable_unit:
        if (!seen_fru) s.fru = f.u8(3).value_or(0);
        seen_fru = true;
        break;
      case descriptor_type::stream_commands:
        if (seen_stream) break;
        seen_stream = true;
        s.filemark = s.filemark || f.bit(3, 7);
        s.eom = s.eom || f.bit(3, 6);
        s.ili = s.ili || f.bit(3, 5);
        break;
      case descriptor_type::block_commands: s.ili = s.ili || f.bit(3, 5); break;
      default: break;
    }
  }
  return s;
}

inline std::optional<sense> decode_sense(std::span<const std::byte> bytes) noexcept {
  return decode_sense(std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
}

/// The sense-key-specific data in words: "field pointer: CDB byte 5 bit 7", "progress 25.00%",
/// "retry count 5", "segment pointer: parameter list byte 3", "unit attention queue overflow".
inline std::string describe(const sense_key_specific& sks) {
  struct visitor {
    static std::string pointer(bool bit_valid, std::uint8_t bit, std::uint16_t field) {
      std::string s = "byte " + std::to_string(field);
      if (bit_valid) s += " bit " + std::to_string(bit);
      return s;
    }
    std::string operator()(const field_pointer& p) const {
      return std::string("field pointer: ") + (p.command ? "CDB " : "parameter list ") +
             pointer(p.bit_valid, p.bit, p.field);
    }
    std::string operator()(const progress_indication& p) const {
      // sg3_utils' arithmetic, so the two print the same digits.
      const unsigned scaled = p.progress * 100U;
      const unsigned whole = scaled / 65536U, hundredths = (scaled % 65536U) / 656U;
      return "progress " + std::to_string(whole) + '.' + (hundredths < 10 ? "0" : "") + std::to_string(hundredths) +
             '%';
    }
    std::string operator()(const retry_count& r) const { return "retry count " + std::to_string(r.count); }
    std::string operator()(const segment_pointer& p) const {
      return std::string("segment pointer: ") + (p.segment_descriptor ? "segment descriptor " : "parameter list ") +
             pointer(p.bit_valid, p.bit, p.field);
    }
    std::string operator()(const unit_attention_queue& q) const {
      return q.overflow ? "unit attention queue overflow" : "unit attention queue";
    }
    std::string operator()(const sks_bytes& b) const {
      std::string s = "sense key specific 0x";
      for (auto v : b.raw) sense_detail::append_hex2(s, v);
      return s;
    }
  };
  return std::visit(visitor{}, sks);
}

/// One line, sg3_utils' words: "Illegal Request: Logical block address out of range, info=0x1000",
/// "Not Ready (deferred): Logical unit not ready, format in progress, progress 25.00%".
inline std::string describe(const sense& s) {
  std::string out(sense_key_name(s.key));
  if (s.deferred) out += " (deferred)";
  out += ": ";
  out += s.asc_text();
  if (s.information) {
    out += ", info=";
    sense_detail::append_hex(out, *s.information);
  }
  if (s.command_specific && *s.command_specific != 0) {
    out += ", cmd-specific=";
    sense_detail::append_hex(out, *s.command_specific);
  }
  if (s.sks) out += ", " + describe(*s.sks);
  if (s.fru != 0) {
    out += ", FRU=";
    sense_detail::append_hex(out, s.fru);
  }
  if (s.filemark) out += ", filemark";
  if (s.eom) out += ", EOM";
  if (s.ili) out += ", ILI";
  if (s.sdat_ovfl) out += ", sense data overflow";
  if (s.truncated) out += ", truncated";
  return out;
}

}  // namespace uringcmd::scsi
