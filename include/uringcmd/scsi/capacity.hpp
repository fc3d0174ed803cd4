// SPDX-License-Identifier: MIT
// READ CAPACITY (10) and (16) parameter data (SBC-5), parsed from the bytes a device returned.
//
// Each parser takes the bytes actually transferred and returns std::nullopt when they are too
// short for the mandatory fields (8 bytes for (10); 12 bytes, the LBA and block length, for
// (16)). The fields of (16) from byte 12 on are std::optional: a device that returned fewer
// bytes leaves them absent, never garbage.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include <uringcmd/scsi/bytes.hpp>

namespace uringcmd::scsi {

namespace capacity_detail {
// (lba + 1) * block_length, or nullopt when it does not fit in 64 bits.
constexpr std::optional<std::uint64_t> total_bytes(std::uint64_t lba, std::uint32_t block_length) noexcept {
  if (lba == UINT64_MAX) return std::nullopt;
  const std::uint64_t blocks = lba + 1;
  if (block_length != 0 && blocks > UINT64_MAX / block_length) return std::nullopt;
  return blocks * block_length;
}
}  // namespace capacity_detail

/// SBC-5, table "READ CAPACITY (10) parameter data".
struct read_capacity10_data {
  std::uint32_t returned_lba = 0;  ///< bytes 0-3: the last LBA
  std::uint32_t block_length = 0;  ///< bytes 4-7: logical block length in bytes

  /// The returned LBA is FFFFFFFFh: the capacity does not fit, send READ CAPACITY (16).
  constexpr bool use_16() const noexcept { return returned_lba == 0xFFFFFFFFU; }
  /// Capacity in bytes; std::nullopt when use_16() (the real capacity is unknown).
  constexpr std::optional<std::uint64_t> total_bytes() const noexcept {
    if (use_16()) return std::nullopt;
    return capacity_detail::total_bytes(returned_lba, block_length);
  }
};

/// std::nullopt when fewer than 8 bytes were returned.
inline std::optional<read_capacity10_data> parse_read_capacity10(std::span<const std::uint8_t> bytes) noexcept {
  const byte_reader r(bytes);
  if (!r.has(0, 8)) return std::nullopt;
  return read_capacity10_data{static_cast<std::uint32_t>(*r.be<4>(0)), static_cast<std::uint32_t>(*r.be<4>(4))};
}

/// SBC-5, table "READ CAPACITY (16) parameter data".
struct read_capacity16_data {
  std::uint64_t returned_lba = 0;  ///< bytes 0-7: the last LBA
  std::uint32_t block_length = 0;  ///< bytes 8-11
  // Byte 12.
  std::optional<std::uint8_t> rc_basis;  ///< bits 5-4 (0: returned LBA is the last LBA of the unit)
  std::optional<std::uint8_t> p_type;    ///< bits 3-1: protection type - 1 when prot_en
  std::optional<bool> prot_en;           ///< bit 0
  // Byte 13.
  std::optional<std::uint8_t> p_i_exponent;                        ///< bits 7-4
  std::optional<std::uint8_t> logical_blocks_per_physical_exponent;  ///< bits 3-0
  // Bytes 14-15.
  std::optional<bool> lbpme;  ///< byte 14 bit 7: logical block provisioning management enabled
  std::optional<bool> lbprz;  ///< byte 14 bit 6: unmapped blocks read as zero
  std::optional<std::uint16_t> lowest_aligned_lba;  ///< bytes 14-15 bits 13-0

  /// Capacity in bytes; std::nullopt when it overflows 64 bits.
  constexpr std::optional<std::uint64_t> total_bytes() const noexcept {
    return capacity_detail::total_bytes(returned_lba, block_length);
  }
  /// The protection type (1-3) when protection is enabled; std::nullopt when it is off or absent.
  constexpr std::optional<unsigned> protection_type() const noexcept {
    if (!prot_en.value_or(false) || !p_type) return std::nullopt;
    return *p_type + 1U;
  }
  /// Physical block length (block_length << exponent); std::nullopt when absent or overflowing.
  constexpr std::optional<std::uint64_t> physical_block_length() const noexcept {
    if (!logical_blocks_per_physical_exponent) return std::nullopt;
    const unsigned e = *logical_blocks_per_physical_exponent;  // at most 15: no overflow below 2^47
    return std::uint64_t{block_length} << e;
  }
};

/// std::nullopt when fewer than 12 bytes were returned.
inline std::optional<read_capacity16_data> parse_read_capacity16(std::span<const std::uint8_t> bytes) noexcept {
  const byte_reader r(bytes);
  if (!r.has(0, 12)) return std::nullopt;
  read_capacity16_data c;
  c.returned_lba = *r.be<8>(0);
  c.block_length = static_cast<std::uint32_t>(*r.be<4>(8));
  if (auto b12 = r.u8(12)) {
    c.rc_basis = static_cast<std::uint8_t>((*b12 >> 4) & 3);
    c.p_type = static_cast<std::uint8_t>((*b12 >> 1) & 7);
    c.prot_en = (*b12 & 1) != 0;
  }
  if (auto b13 = r.u8(13)) {
    c.p_i_exponent = static_cast<std::uint8_t>(*b13 >> 4);
    c.logical_blocks_per_physical_exponent = static_cast<std::uint8_t>(*b13 & 0x0F);
  }
  if (auto b14 = r.u8(14)) {
    c.lbpme = (*b14 & 0x80) != 0;
    c.lbprz = (*b14 & 0x40) != 0;
  }
  if (auto v = r.be<2>(14)) c.lowest_aligned_lba = static_cast<std::uint16_t>(*v & 0x3FFF);
  return c;
}

}  // namespace uringcmd::scsi
