// SPDX-License-Identifier: MIT
// The three status bytes of a SCSI completion (bsg_res2): the SAM status the device returned, the
// Linux host byte (what the HBA/transport did, include/scsi/scsi_status.h) and the driver byte.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace uringcmd::scsi {

/// SAM-5 status codes (bsg_res2::device_status()). Reserved bits are masked off by `sam_status_of`.
enum class sam_status : std::uint8_t {
  good = 0x00,
  check_condition = 0x02,
  condition_met = 0x04,
  busy = 0x08,
  intermediate = 0x10,                 ///< obsolete (linked commands)
  intermediate_condition_met = 0x14,   ///< obsolete
  reservation_conflict = 0x18,
  command_terminated = 0x22,           ///< obsolete
  task_set_full = 0x28,
  aca_active = 0x30,
  task_aborted = 0x40,
};

/// The status byte with its reserved bits 0 and 7 cleared (as sg3_utils reads it).
constexpr sam_status sam_status_of(std::uint8_t byte) noexcept { return static_cast<sam_status>(byte & 0x7e); }

/// "GOOD", "CHECK CONDITION", ...; "" for a reserved value.
constexpr std::string_view status_name(sam_status s) noexcept {
  switch (s) {
    case sam_status::good: return "GOOD";
    case sam_status::check_condition: return "CHECK CONDITION";
    case sam_status::condition_met: return "CONDITION MET";
    case sam_status::busy: return "BUSY";
    case sam_status::intermediate: return "INTERMEDIATE";
    case sam_status::intermediate_condition_met: return "INTERMEDIATE-CONDITION MET";
    case sam_status::reservation_conflict: return "RESERVATION CONFLICT";
    case sam_status::command_terminated: return "COMMAND TERMINATED";
    case sam_status::task_set_full: return "TASK SET FULL";
    case sam_status::aca_active: return "ACA ACTIVE";
    case sam_status::task_aborted: return "TASK ABORTED";
  }
  return {};
}

/// The name of a status byte, or "status 0x<hh>" for a reserved one.
inline std::string status_text(std::uint8_t byte) {
  if (auto n = status_name(sam_status_of(byte)); !n.empty()) return std::string(n);
  static constexpr char hex[] = "0123456789abcdef";
  return std::string("status 0x") + hex[byte >> 4] + hex[byte & 15];
}

/// Linux host byte (bsg_res2::host_status(), `transport_status` of sg_io_v4).
enum class host_byte : std::uint8_t {
  ok = 0x00,                   ///< DID_OK
  no_connect = 0x01,           ///< DID_NO_CONNECT: could not connect before the timeout
  bus_busy = 0x02,             ///< DID_BUS_BUSY
  time_out = 0x03,             ///< DID_TIME_OUT
  bad_target = 0x04,           ///< DID_BAD_TARGET
  abort = 0x05,                ///< DID_ABORT
  parity = 0x06,               ///< DID_PARITY
  error = 0x07,                ///< DID_ERROR: internal error of the low-level driver
  reset = 0x08,                ///< DID_RESET
  bad_intr = 0x09,             ///< DID_BAD_INTR
  passthrough = 0x0a,          ///< DID_PASSTHROUGH
  soft_error = 0x0b,           ///< DID_SOFT_ERROR: the driver asks for a retry
  imm_retry = 0x0c,            ///< DID_IMM_RETRY
  requeue = 0x0d,              ///< DID_REQUEUE
  transport_disrupted = 0x0e,  ///< DID_TRANSPORT_DISRUPTED
  transport_failfast = 0x0f,   ///< DID_TRANSPORT_FAILFAST
  target_failure = 0x10,       ///< DID_TARGET_FAILURE (kernel-internal since 5.16; never reaches user space now)
  nexus_failure = 0x11,        ///< DID_NEXUS_FAILURE (likewise)
  alloc_failure = 0x12,        ///< DID_ALLOC_FAILURE (likewise)
  medium_error = 0x13,         ///< DID_MEDIUM_ERROR (likewise)
  transport_marginal = 0x14,   ///< DID_TRANSPORT_MARGINAL
};

/// "DID_OK", "DID_TIME_OUT", ...; "" for an unknown value.
constexpr std::string_view host_byte_name(host_byte h) noexcept {
  switch (h) {
    case host_byte::ok: return "DID_OK";
    case host_byte::no_connect: return "DID_NO_CONNECT";
    case host_byte::bus_busy: return "DID_BUS_BUSY";
    case host_byte::time_out: return "DID_TIME_OUT";
    case host_byte::bad_target: return "DID_BAD_TARGET";
    case host_byte::abort: return "DID_ABORT";
    case host_byte::parity: return "DID_PARITY";
    case host_byte::error: return "DID_ERROR";
    case host_byte::reset: return "DID_RESET";
    case host_byte::bad_intr: return "DID_BAD_INTR";
    case host_byte::passthrough: return "DID_PASSTHROUGH";
    case host_byte::soft_error: return "DID_SOFT_ERROR";
    case host_byte::imm_retry: return "DID_IMM_RETRY";
    case host_byte::requeue: return "DID_REQUEUE";
    case host_byte::transport_disrupted: return "DID_TRANSPORT_DISRUPTED";
    case host_byte::transport_failfast: return "DID_TRANSPORT_FAILFAST";
    case host_byte::target_failure: return "DID_TARGET_FAILURE";
    case host_byte::nexus_failure: return "DID_NEXUS_FAILURE";
    case host_byte::alloc_failure: return "DID_ALLOC_FAILURE";
    case host_byte::medium_error: return "DID_MEDIUM_ERROR";
    case host_byte::transport_marginal: return "DID_TRANSPORT_MARGINAL";
  }
  return {};
}

/// The name of a host byte, or "DID_0x<hh>" for an unknown one.
inline std::string host_byte_text(std::uint8_t byte) {
  if (auto n = host_byte_name(static_cast<host_byte>(byte)); !n.empty()) return std::string(n);
  static constexpr char hex[] = "0123456789abcdef";
  return std::string("DID_0x") + hex[byte >> 4] + hex[byte & 15];
}

/// Linux driver byte (bsg_res2::driver_status()): a status in the low nibble, a "suggestion" in the
/// high one. Since Linux 5.14 the kernel sets only DRIVER_SENSE (sense data came back) or 0; the
/// other values come from older kernels and some HBA drivers.
enum class driver_byte : std::uint8_t {
  ok = 0x00,       ///< DRIVER_OK
  busy = 0x01,     ///< DRIVER_BUSY
  soft = 0x02,     ///< DRIVER_SOFT
  media = 0x03,    ///< DRIVER_MEDIA
  error = 0x04,    ///< DRIVER_ERROR
  invalid = 0x05,  ///< DRIVER_INVALID
  timeout = 0x06,  ///< DRIVER_TIMEOUT
  hard = 0x07,     ///< DRIVER_HARD
  sense = 0x08,    ///< DRIVER_SENSE: the sense buffer holds data
};

/// The status (low nibble) of a driver byte.
constexpr driver_byte driver_byte_of(std::uint8_t byte) noexcept { return static_cast<driver_byte>(byte & 0x0f); }

/// "DRIVER_OK", ..., "DRIVER_SENSE"; "" for an unknown value.
constexpr std::string_view driver_byte_name(driver_byte d) noexcept {
  switch (d) {
    case driver_byte::ok: return "DRIVER_OK";
    case driver_byte::busy: return "DRIVER_BUSY";
    case driver_byte::soft: return "DRIVER_SOFT";
    case driver_byte::media: return "DRIVER_MEDIA";
    case driver_byte::error: return "DRIVER_ERROR";
    case driver_byte::invalid: return "DRIVER_INVALID";
    case driver_byte::timeout: return "DRIVER_TIMEOUT";
    case driver_byte::hard: return "DRIVER_HARD";
    case driver_byte::sense: return "DRIVER_SENSE";
  }
  return {};
}

/// The whole driver byte by name: "DRIVER_SENSE", "DRIVER_ERROR|SUGGEST_RETRY", "DRIVER_0xb".
inline std::string driver_byte_text(std::uint8_t byte) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string s(driver_byte_name(driver_byte_of(byte)));
  if (s.empty()) s = std::string("DRIVER_0x") + hex[byte & 15];
  static constexpr std::string_view suggestions[] = {"",     "|SUGGEST_RETRY", "|SUGGEST_ABORT", "|SUGGEST_REMAP",
                                                     "|SUGGEST_DIE", "|SUGGEST_0x5", "|SUGGEST_0x6", "|SUGGEST_0x7",
                                                     "|SUGGEST_SENSE"};
  const unsigned suggest = byte >> 4;
  if (suggest < std::size(suggestions)) {
    s += suggestions[suggest];
  } else {
    s += std::string("|SUGGEST_0x") + hex[suggest];
  }
  return s;
}

}  // namespace uringcmd::scsi
