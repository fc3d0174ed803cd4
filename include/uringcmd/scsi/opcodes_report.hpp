// SPDX-License-Identifier: MIT
// REPORT SUPPORTED OPERATION CODES parameter data (SPC-6): the all-commands format (REPORTING
// OPTIONS 000b) as a lazy range of command descriptors, and the one-command format (001b-011b).
//
// Both parsers take the bytes actually transferred and return std::nullopt when they are shorter
// than the 4-byte header. Descriptors are yielded only when whole (8 bytes, or 20 with a command
// timeouts descriptor); iteration stops cleanly at a cut one.
//
// LIFETIME: spans and views in the results borrow the caller's buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>


#include <uringcmd/scsi/bytes.hpp>
#include <uringcmd/record_view.hpp>

namespace uringcmd::scsi {

/// SPC-6 table "Command timeouts descriptor format" (12 bytes).
struct command_timeouts {
  std::uint16_t descriptor_length = 0;  ///< bytes 0-1 (0Ah)
  std::uint8_t command_specific = 0;    ///< byte 3
  std::uint32_t nominal_command_processing_timeout = 0;  ///< bytes 4-7, seconds (0: not given)
  std::uint32_t recommended_command_timeout = 0;         ///< bytes 8-11, seconds (0: not given)
  friend constexpr bool operator==(const command_timeouts&, const command_timeouts&) noexcept = default;
};

namespace opcodes_detail {
inline constexpr std::size_t timeouts_size = 12;
// The command timeouts descriptor at `offset`, when all 12 bytes are there.
inline std::optional<command_timeouts> timeouts_at(const byte_reader& r, std::size_t offset) noexcept {
  if (!r.has(offset, timeouts_size)) return std::nullopt;
  command_timeouts t;
  t.descriptor_length = static_cast<std::uint16_t>(*r.be<2>(offset));
  t.command_specific = *r.u8(offset + 3);
  t.nominal_command_processing_timeout = static_cast<std::uint32_t>(*r.be<4>(offset + 4));
  t.recommended_command_timeout = static_cast<std::uint32_t>(*r.be<4>(offset + 8));
  return t;
}
}  // namespace opcodes_detail

/// SPC-6 table "Command descriptor format".
struct command_descriptor {
  std::uint8_t opcode = 0;           ///< byte 0
  std::uint16_t service_action = 0;  ///< bytes 2-3 (meaningful when servactv)
  bool servactv = false;             ///< byte 5 bit 0
  bool ctdp = false;                 ///< byte 5 bit 1: a command timeouts descriptor follows
  std::uint8_t flags = 0;            ///< byte 5 raw (CDLP, MLU, ... for newer revisions)
  std::uint16_t cdb_length = 0;      ///< bytes 6-7
  std::optional<command_timeouts> timeouts;  ///< bytes 8-19, when ctdp
};

/// SPC-6 "Command descriptor": 8 bytes, 20 with its timeouts descriptor (CTDP). A descriptor that
/// does not fit ends the walk.
struct command_descriptor_format {
  static constexpr std::optional<std::size_t> length(std::span<const std::uint8_t> s) noexcept {
    const byte_reader r(s);
    if (!r.has(0, 8)) return std::nullopt;
    const std::size_t n = r.bit(5, 1) ? 8 + opcodes_detail::timeouts_size : 8;
    if (!r.has(0, n)) return std::nullopt;
    return n;
  }
  static command_descriptor decode(std::span<const std::uint8_t> s) noexcept {
    const byte_reader r(s);
    command_descriptor d;
    d.opcode = r.u8(0).value_or(0);
    d.service_action = static_cast<std::uint16_t>(r.be<2>(2).value_or(0));
    d.flags = r.u8(5).value_or(0);
    d.servactv = (d.flags & 0x01) != 0;
    d.ctdp = (d.flags & 0x02) != 0;
    d.cdb_length = static_cast<std::uint16_t>(r.be<2>(6).value_or(0));
    if (d.ctdp) d.timeouts = opcodes_detail::timeouts_at(r, 8);
    return d;
  }
};
/// A lazy forward range of command descriptors (the data after the 4-byte header).
using command_descriptor_view = record_view<command_descriptor_format>;

/// SPC-6 table "All_commands parameter data".
struct all_commands_report {
  std::uint32_t command_data_length = 0;  ///< bytes 0-3: descriptor bytes the device has
  std::span<const std::uint8_t> data;     ///< the descriptor bytes returned and declared
  bool truncated = false;                 ///< the device has more than was returned

  /// The allocation length that returns the whole list.
  constexpr std::uint64_t required_allocation_length() const noexcept { return 4 + std::uint64_t{command_data_length}; }
  /// The command descriptors, lazily.
  command_descriptor_view descriptors() const noexcept { return command_descriptor_view(data); }
};

/// The all-commands format (REPORTING OPTIONS 000b). std::nullopt when fewer than 4 bytes.
inline std::optional<all_commands_report> parse_all_commands_report(std::span<const std::uint8_t> bytes) noexcept {
  const byte_reader r(bytes);
  if (!r.has(0, 4)) return std::nullopt;
  all_commands_report a;
  a.command_data_length = static_cast<std::uint32_t>(*r.be<4>(0));
  a.data = r.bytes(4, a.command_data_length);
  a.truncated = a.data.size() < a.command_data_length;
  return a;
}

/// SPC-6 "SUPPORT field": values not listed are reserved.
enum class command_support : std::uint8_t {
  not_available = 0,              ///< the device cannot say yet
  not_supported = 1,
  supported = 3,                  ///< in conformance with a SCSI standard
  supported_vendor_specific = 5,  ///< in a vendor specific manner
};

/// SPC-6 table "One_command parameter data".
struct one_command_report {
  bool ctdp = false;                 ///< byte 1 bit 7
  std::uint8_t flags = 0;            ///< byte 1 raw (CDLP and friends in newer revisions)
  command_support support{};         ///< byte 1 bits 2-0 (raw)
  std::uint16_t cdb_size = 0;        ///< bytes 2-3, as declared
  /// CDB USAGE DATA from byte 4: byte 0 is the opcode, then a mask of the CDB bits the device
  /// uses. Cut at what was returned.
  std::span<const std::uint8_t> cdb_usage_data;
  bool truncated = false;  ///< fewer than 4 + cdb_size (+ 12 with ctdp) bytes were returned
  std::optional<command_timeouts> timeouts;  ///< after the CDB usage data, when ctdp

  constexpr bool supported() const noexcept {
    return support == command_support::supported || support == command_support::supported_vendor_specific;
  }
};

/// The one-command format (REPORTING OPTIONS 001b, 010b, 011b). std::nullopt when fewer than 4
/// bytes were returned.
inline std::optional<one_command_report> parse_one_command_report(std::span<const std::uint8_t> bytes) noexcept {
  const byte_reader r(bytes);
  if (!r.has(0, 4)) return std::nullopt;
  one_command_report o;
  o.flags = *r.u8(1);
  o.ctdp = (o.flags & 0x80) != 0;
  o.support = static_cast<command_support>(o.flags & 0x07);
  o.cdb_size = static_cast<std::uint16_t>(*r.be<2>(2));
  o.cdb_usage_data = r.bytes(4, o.cdb_size);
  const std::size_t whole = 4 + std::size_t{o.cdb_size} + (o.ctdp ? opcodes_detail::timeouts_size : 0);
  o.truncated = bytes.size() < whole;
  if (o.ctdp) o.timeouts = opcodes_detail::timeouts_at(r, 4 + std::size_t{o.cdb_size});
  return o;
}

}  // namespace uringcmd::scsi
