// SPDX-License-Identifier: MIT
// REPORT LUNS parameter data (SPC-6, table "REPORT LUNS parameter data format"), parsed from the
// bytes a device returned.
//
// parse_report_luns returns std::nullopt when fewer than the 8 header bytes were returned. The
// LUN LIST LENGTH is what the device has, which may be more than fits the allocation length: the
// LUNs are those both listed and returned (whole 8-byte entries only), and truncated() says to
// ask again with required_allocation_length().
//
// LIFETIME: luns() borrows the caller's buffer.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include <range/v3/view/chunk.hpp>
#include <range/v3/view/transform.hpp>

#include <uringcmd/scsi/bytes.hpp>

namespace uringcmd::scsi {

/// One 8-byte LUN (SAM-6 "LUN structure"), by value.
struct lun {
  std::uint64_t raw = 0;  ///< the 8 bytes, big-endian

  /// Byte 0 bits 7-6: 0 peripheral device, 1 flat space, 2 logical unit, 3 extended addressing.
  constexpr std::uint8_t address_method() const noexcept { return static_cast<std::uint8_t>(raw >> 62); }
  /// A single-level LUN number: peripheral device addressing with bus 0 (byte 1) or flat space
  /// addressing (bytes 0-1 bits 13-0), with bytes 2-7 zero; std::nullopt for anything else.
  constexpr std::optional<std::uint16_t> single_level() const noexcept {
    if ((raw & 0x0000FFFFFFFFFFFFULL) != 0) return std::nullopt;
    const auto first = static_cast<std::uint16_t>(raw >> 48);
    if (address_method() == 1) return static_cast<std::uint16_t>(first & 0x3FFF);
    if (address_method() == 0 && (first >> 8) == 0) return first;
    return std::nullopt;
  }
  /// The integer Linux uses for this LUN (scsilun_to_int: 2-byte levels, first level lowest).
  constexpr std::uint64_t linux_lun() const noexcept {
    std::uint64_t v = 0;
    for (unsigned level = 0; level < 4; ++level) v |= ((raw >> (48 - 16 * level)) & 0xFFFF) << (16 * level);
    return v;
  }
  friend constexpr bool operator==(lun, lun) noexcept = default;
};

struct report_luns_data {
  std::uint32_t lun_list_length = 0;    ///< bytes 0-3: bytes of LUN list the device has
  std::span<const std::uint8_t> list;  ///< the LUN list returned and listed, whole entries only

  /// LUNs the device listed.
  constexpr std::size_t reported_count() const noexcept { return lun_list_length / 8; }
  /// LUNs returned (at most reported_count()).
  constexpr std::size_t size() const noexcept { return list.size() / 8; }
  /// The device has more LUNs than were returned.
  constexpr bool truncated() const noexcept { return size() < reported_count(); }
  /// The allocation length that returns the whole list.
  constexpr std::uint64_t required_allocation_length() const noexcept { return 8 + std::uint64_t{lun_list_length}; }

  /// The LUNs, lazily: a random-access, sized range of `lun`.
  auto luns() const noexcept {
    return list | ranges::views::chunk(8) | ranges::views::transform([](auto entry) {
             const byte_reader r(std::span<const std::uint8_t>(entry.begin(), entry.end()));
             return lun{r.be<8>(0).value_or(0)};  // chunks are whole: the value is always there
           });
  }
};

/// std::nullopt when fewer than 8 bytes were returned.
inline std::optional<report_luns_data> parse_report_luns(std::span<const std::uint8_t> bytes) noexcept {
  const byte_reader r(bytes);
  if (!r.has(0, 8)) return std::nullopt;
  report_luns_data d;
  d.lun_list_length = static_cast<std::uint32_t>(*r.be<4>(0));
  const auto list = r.bytes(8, d.lun_list_length);
  d.list = list.first(list.size() / 8 * 8);
  return d;
}

}  // namespace uringcmd::scsi
