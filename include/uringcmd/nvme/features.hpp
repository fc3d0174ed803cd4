// SPDX-License-Identifier: MIT
// The values Get Features returns in completion DW0 (reply::dw0), and Set Features of Number of
// Queues too (it answers what was allocated), decoded per Base 2.0's "Command Dword 11" and
// "Completion Queue Entry Dword 0" figures of each feature.
#pragma once

#include <cstdint>

namespace uringcmd::nvme {

/// Number of Queues (07h), figure "Number of Queues – Completion Queue Entry Dword 0": NSQA bits
/// 15:0, NCQA 31:16, 0's based. The counts are the real numbers.
struct number_of_queues {
  std::uint32_t submission_queues = 0;  ///< NSQA + 1
  std::uint32_t completion_queues = 0;  ///< NCQA + 1
};
constexpr number_of_queues decode_number_of_queues(std::uint32_t dw0) noexcept {
  return {(dw0 & 0xFFFFU) + 1, (dw0 >> 16) + 1};
}

/// Volatile Write Cache (06h): WCE, bit 0.
constexpr bool decode_volatile_write_cache(std::uint32_t dw0) noexcept { return (dw0 & 1U) != 0; }

/// Arbitration (01h) as Get Features returns it: AB 2:0, LPW 15:8, MPW 23:16, HPW 31:24.
struct arbitration_value {
  std::uint8_t burst_log2 = 0;  ///< 7: no limit
  std::uint8_t low_weight = 0;
  std::uint8_t medium_weight = 0;
  std::uint8_t high_weight = 0;
};
constexpr arbitration_value decode_arbitration(std::uint32_t dw0) noexcept {
  return {static_cast<std::uint8_t>(dw0 & 7U), static_cast<std::uint8_t>(dw0 >> 8), static_cast<std::uint8_t>(dw0 >> 16),
          static_cast<std::uint8_t>(dw0 >> 24)};
}

/// Power Management (02h): PS 4:0, WH 7:5.
struct power_management_value {
  std::uint8_t power_state = 0;
  std::uint8_t workload_hint = 0;
};
constexpr power_management_value decode_power_management(std::uint32_t dw0) noexcept {
  return {static_cast<std::uint8_t>(dw0 & 0x1FU), static_cast<std::uint8_t>((dw0 >> 5) & 7U)};
}

/// Temperature Threshold (04h): TMPTH 15:0, in kelvin.
constexpr std::uint16_t decode_temperature_threshold(std::uint32_t dw0) noexcept {
  return static_cast<std::uint16_t>(dw0 & 0xFFFFU);
}

}  // namespace uringcmd::nvme
