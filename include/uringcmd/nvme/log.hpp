// SPDX-License-Identifier: MIT
// Log pages (Base 2.0 5.16.1): SMART / Health Information (02h), Error Information (01h) and
// Firmware Slot Information (03h), parsed from the bytes the controller returned. Each fixed page
// needs the bytes up to its last defined field (its min_size), else std::nullopt; the error log
// yields the whole 64-byte entries returned. Nothing is read past the span. Field names follow
// nvme-cli's JSON output where it has one.
//
// LIFETIME: string_views, spans and views in the results point into the caller's buffer.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include <range/v3/view/iota.hpp>
#include <range/v3/view/transform.hpp>

#include <uringcmd/nvme/bytes.hpp>
#include <uringcmd/nvme/status.hpp>

namespace uringcmd::nvme {

// ---- SMART / Health Information (Base 2.0, figure "SMART / Health Information Log Page") -------

/// Critical Warning bits (byte 0).
struct critical_warning {
  std::uint8_t raw = 0;
  constexpr bool spare_below_threshold() const noexcept { return raw & 0x01U; }  ///< bit 0
  constexpr bool temperature() const noexcept { return raw & 0x02U; }            ///< bit 1: over/under a threshold
  constexpr bool reliability_degraded() const noexcept { return raw & 0x04U; }   ///< bit 2
  constexpr bool read_only() const noexcept { return raw & 0x08U; }              ///< bit 3: media placed in read only mode
  constexpr bool volatile_backup_failed() const noexcept { return raw & 0x10U; } ///< bit 4
  constexpr bool pmr_read_only() const noexcept { return raw & 0x20U; }          ///< bit 5
};

struct smart_log {
  /// Bytes needed: the last defined field ends at byte 231.
  static constexpr std::size_t min_size = 232;

  critical_warning critical_warning_bits;  ///< byte 0 ("critical_warning")
  std::uint16_t temperature = 0;           ///< bytes 2:1 Composite Temperature, kelvin
  std::uint8_t avail_spare = 0;            ///< byte 3 Available Spare, percent
  std::uint8_t spare_thresh = 0;           ///< byte 4 Available Spare Threshold, percent
  std::uint8_t percent_used = 0;           ///< byte 5 Percentage Used (may exceed 100)
  std::uint8_t endurance_grp_critical_warning_summary = 0;  ///< byte 6
  uint128 data_units_read;      ///< bytes 47:32, in units of 1000 512-byte blocks
  uint128 data_units_written;   ///< bytes 63:48, same units
  uint128 host_read_commands;   ///< bytes 79:64
  uint128 host_write_commands;  ///< bytes 95:80
  uint128 controller_busy_time; ///< bytes 111:96, minutes
  uint128 power_cycles;         ///< bytes 127:112
  uint128 power_on_hours;       ///< bytes 143:128
  uint128 unsafe_shutdowns;     ///< bytes 159:144
  uint128 media_errors;         ///< bytes 175:160 Media and Data Integrity Errors
  uint128 num_err_log_entries;  ///< bytes 191:176 Number of Error Information Log Entries
  std::uint32_t warning_temp_time = 0;   ///< bytes 195:192 Warning Composite Temperature Time, minutes
  std::uint32_t critical_comp_time = 0;  ///< bytes 199:196 Critical Composite Temperature Time, minutes
  /// bytes 215:200 Temperature Sensors 1-8, kelvin; 0 means the sensor is not implemented.
  std::array<std::uint16_t, 8> temperature_sensor{};
  std::uint32_t thm_temp1_trans_count = 0;  ///< bytes 219:216
  std::uint32_t thm_temp2_trans_count = 0;  ///< bytes 223:220
  std::uint32_t thm_temp1_total_time = 0;   ///< bytes 227:224, seconds
  std::uint32_t thm_temp2_total_time = 0;   ///< bytes 231:228, seconds

  /// The composite temperature in degrees Celsius (kelvin - 273, as nvme-cli prints it).
  constexpr int temperature_celsius() const noexcept { return int{temperature} - 273; }
  /// Sensor `n` (1-8) in kelvin, nullopt when it is not implemented or n is out of range.
  constexpr std::optional<std::uint16_t> sensor(std::size_t n) const noexcept {
    if (n < 1 || n > temperature_sensor.size() || temperature_sensor[n - 1] == 0) return std::nullopt;
    return temperature_sensor[n - 1];
  }
};

/// Parses a SMART / Health Information log. std::nullopt when fewer than smart_log::min_size bytes
/// were returned.
inline std::optional<smart_log> parse_smart_log(std::span<const std::uint8_t> bytes) noexcept {
  const le_reader r(bytes);
  if (!r.has(0, smart_log::min_size)) return std::nullopt;
  auto u32 = [&](std::size_t o) { return static_cast<std::uint32_t>(r.le_or0<4>(o)); };
  smart_log s;
  s.critical_warning_bits.raw = r.u8_or0(0);
  s.temperature = static_cast<std::uint16_t>(r.le_or0<2>(1));
  s.avail_spare = r.u8_or0(3);
  s.spare_thresh = r.u8_or0(4);
  s.percent_used = r.u8_or0(5);
  s.endurance_grp_critical_warning_summary = r.u8_or0(6);
  s.data_units_read = le128_or0(r, 32);
  s.data_units_written = le128_or0(r, 48);
  s.host_read_commands = le128_or0(r, 64);
  s.host_write_commands = le128_or0(r, 80);
  s.controller_busy_time = le128_or0(r, 96);
  s.power_cycles = le128_or0(r, 112);
  s.power_on_hours = le128_or0(r, 128);
  s.unsafe_shutdowns = le128_or0(r, 144);
  s.media_errors = le128_or0(r, 160);
  s.num_err_log_entries = le128_or0(r, 176);
  s.warning_temp_time = u32(192);
  s.critical_comp_time = u32(196);
  for (std::size_t i = 0; i < s.temperature_sensor.size(); ++i)
    s.temperature_sensor[i] = static_cast<std::uint16_t>(r.le_or0<2>(200 + 2 * i));
  s.thm_temp1_trans_count = u32(216);
  s.thm_temp2_trans_count = u32(220);
  s.thm_temp1_total_time = u32(224);
  s.thm_temp2_total_time = u32(228);
  return s;
}

// ---- Error Information (Base 2.0, figure "Error Information Log Entry Data Structure") --------

struct error_log_entry {
  static constexpr std::size_t size = 64;

  std::uint64_t error_count = 0;  ///< bytes 7:0; 0: the entry is empty
  std::uint16_t sqid = 0;         ///< bytes 9:8 Submission Queue ID (FFFFh: not associated with one)
  std::uint16_t cmdid = 0;        ///< bytes 11:10 Command ID
  /// bytes 13:12 Status Field: bit 0 is the phase tag, bits 15:1 the status, here shifted right
  /// by one to match what a passthrough completion reports (status_field).
  status_field status;
  std::uint8_t phase = 0;                  ///< bit 0 of bytes 13:12
  std::uint16_t parameter_error_location = 0;  ///< bytes 15:14 (FFFFh: not specific to a field)
  std::uint64_t lba = 0;                  ///< bytes 23:16
  std::uint32_t nsid = 0;                 ///< bytes 27:24
  std::uint8_t vs = 0;                    ///< byte 28 Vendor Specific Information Available (log page ID)
  std::uint8_t trtype = 0;                ///< byte 29 Transport Type
  std::uint64_t cs = 0;                   ///< bytes 39:32 Command Specific Information
  std::uint16_t trtype_spec_info = 0;     ///< bytes 41:40

  bool empty() const noexcept { return error_count == 0; }
  /// The byte of the command where the error is (bits 7:0 of the location), when it is specific.
  std::optional<std::uint8_t> error_byte() const noexcept {
    if (parameter_error_location == 0xFFFF) return std::nullopt;
    return static_cast<std::uint8_t>(parameter_error_location & 0xFFU);
  }
  /// The bit in that byte (bits 10:8).
  std::optional<std::uint8_t> error_bit() const noexcept {
    if (parameter_error_location == 0xFFFF) return std::nullopt;
    return static_cast<std::uint8_t>((parameter_error_location >> 8) & 7U);
  }
};

/// Decodes one 64-byte entry; std::nullopt when fewer than 64 bytes are given.
inline std::optional<error_log_entry> parse_error_log_entry(std::span<const std::uint8_t> bytes) noexcept {
  const le_reader r(bytes);
  if (!r.has(0, error_log_entry::size)) return std::nullopt;
  error_log_entry e;
  e.error_count = r.le_or0<8>(0);
  e.sqid = static_cast<std::uint16_t>(r.le_or0<2>(8));
  e.cmdid = static_cast<std::uint16_t>(r.le_or0<2>(10));
  const auto sf = static_cast<std::uint16_t>(r.le_or0<2>(12));
  e.status = status_field(static_cast<std::uint16_t>(sf >> 1));
  e.phase = static_cast<std::uint8_t>(sf & 1U);
  e.parameter_error_location = static_cast<std::uint16_t>(r.le_or0<2>(14));
  e.lba = r.le_or0<8>(16);
  e.nsid = static_cast<std::uint32_t>(r.le_or0<4>(24));
  e.vs = r.u8_or0(28);
  e.trtype = r.u8_or0(29);
  e.cs = r.le_or0<8>(32);
  e.trtype_spec_info = static_cast<std::uint16_t>(r.le_or0<2>(40));
  return e;
}

/// The entries of an Error Information log: a random-access range-v3 view of error_log_entry over
/// the whole 64-byte entries returned (empty entries included: check empty()).
inline auto parse_error_log(std::span<const std::uint8_t> bytes) noexcept {
  const std::span<const std::uint8_t> whole = bytes.first(bytes.size() / error_log_entry::size * error_log_entry::size);
  return ranges::views::iota(std::size_t{0}, whole.size() / error_log_entry::size) |
         ranges::views::transform([whole](std::size_t i) {
           return *parse_error_log_entry(whole.subspan(i * error_log_entry::size, error_log_entry::size));
         });
}

// ---- Firmware Slot Information (Base 2.0, figure "Firmware Slot Information Log Page") --------

struct firmware_slot_log {
  /// Bytes needed: AFI and the seven revisions end at byte 63.
  static constexpr std::size_t min_size = 64;

  std::uint8_t afi = 0;  ///< byte 0 Active Firmware Info
  /// bytes 63:8 Firmware Revision for Slot 1-7 (8 ASCII bytes each), trailing spaces and NULs
  /// trimmed; empty for an empty slot.
  std::array<std::string_view, 7> frs{};

  /// AFI bits 2:0: the slot the running firmware came from (1-7).
  constexpr std::uint8_t active_slot() const noexcept { return static_cast<std::uint8_t>(afi & 7U); }
  /// AFI bits 6:4: the slot activated at the next reset, nullopt when none is pending (0).
  constexpr std::optional<std::uint8_t> next_slot() const noexcept {
    const auto s = static_cast<std::uint8_t>((afi >> 4) & 7U);
    if (s == 0) return std::nullopt;
    return s;
  }
  /// The revision in slot `n` (1-7), nullopt when n is out of range or the slot is empty.
  constexpr std::optional<std::string_view> slot(std::size_t n) const noexcept {
    if (n < 1 || n > frs.size() || frs[n - 1].empty()) return std::nullopt;
    return frs[n - 1];
  }
};

/// Parses a Firmware Slot Information log. std::nullopt when fewer than 64 bytes were returned.
inline std::optional<firmware_slot_log> parse_firmware_slot_log(std::span<const std::uint8_t> bytes) noexcept {
  const le_reader r(bytes);
  if (!r.has(0, firmware_slot_log::min_size)) return std::nullopt;
  firmware_slot_log f;
  f.afi = r.u8_or0(0);
  for (std::size_t i = 0; i < f.frs.size(); ++i) f.frs[i] = ascii_field(r.bytes(8 + 8 * i, 8));
  return f;
}

}  // namespace uringcmd::nvme
