// SPDX-License-Identifier: MIT
// SCSI operation codes and service actions of the commands uringcmd builds (scsi/cdb.hpp), with
// their names as SPC-4/SBC-4 spell them for a direct-access (disk) device. VPD page codes are
// `vpd::` in scsi/inquiry.hpp, next to their parsers.
#pragma once

#include <cstdint>
#include <string_view>

namespace uringcmd::scsi {

/// Operation codes (byte 0 of a CDB). SPC-4 Annex D / SBC-4 "Commands for direct access
/// block devices"; several codes mean other commands on tape or optical devices.
namespace op {
inline constexpr std::uint8_t test_unit_ready = 0x00;
inline constexpr std::uint8_t request_sense = 0x03;
inline constexpr std::uint8_t format_unit = 0x04;
inline constexpr std::uint8_t read6 = 0x08;
inline constexpr std::uint8_t write6 = 0x0a;
inline constexpr std::uint8_t inquiry = 0x12;
inline constexpr std::uint8_t mode_select6 = 0x15;
inline constexpr std::uint8_t mode_sense6 = 0x1a;
inline constexpr std::uint8_t start_stop_unit = 0x1b;
inline constexpr std::uint8_t send_diagnostic = 0x1d;
inline constexpr std::uint8_t prevent_allow_medium_removal = 0x1e;
inline constexpr std::uint8_t read_capacity10 = 0x25;
inline constexpr std::uint8_t read10 = 0x28;
inline constexpr std::uint8_t write10 = 0x2a;
inline constexpr std::uint8_t write_and_verify10 = 0x2e;
inline constexpr std::uint8_t verify10 = 0x2f;
inline constexpr std::uint8_t synchronize_cache10 = 0x35;
inline constexpr std::uint8_t write_buffer = 0x3b;
inline constexpr std::uint8_t read_buffer = 0x3c;
inline constexpr std::uint8_t write_same10 = 0x41;
inline constexpr std::uint8_t unmap = 0x42;
inline constexpr std::uint8_t log_select = 0x4c;
inline constexpr std::uint8_t log_sense = 0x4d;
inline constexpr std::uint8_t mode_select10 = 0x55;
inline constexpr std::uint8_t mode_sense10 = 0x5a;
inline constexpr std::uint8_t persistent_reserve_in = 0x5e;
inline constexpr std::uint8_t persistent_reserve_out = 0x5f;
inline constexpr std::uint8_t variable_length = 0x7f;  // 32-byte CDBs; the service action is in bytes 8-9
inline constexpr std::uint8_t read16 = 0x88;
inline constexpr std::uint8_t compare_and_write = 0x89;
inline constexpr std::uint8_t write16 = 0x8a;
inline constexpr std::uint8_t write_and_verify16 = 0x8e;
inline constexpr std::uint8_t verify16 = 0x8f;
inline constexpr std::uint8_t synchronize_cache16 = 0x91;
inline constexpr std::uint8_t write_same16 = 0x93;
inline constexpr std::uint8_t service_action_in16 = 0x9e;  // READ CAPACITY(16) is service action 0x10
inline constexpr std::uint8_t report_luns = 0xa0;
inline constexpr std::uint8_t maintenance_in = 0xa3;  // REPORT SUPPORTED OPERATION CODES is 0x0c
inline constexpr std::uint8_t maintenance_out = 0xa4;
inline constexpr std::uint8_t read12 = 0xa8;
inline constexpr std::uint8_t write12 = 0xaa;
}  // namespace op

/// Service actions (bits 4:0 of byte 1) of the shared opcodes above.
namespace service_action {
inline constexpr std::uint8_t read_capacity16 = 0x10;           // under op::service_action_in16
inline constexpr std::uint8_t report_supported_opcodes = 0x0c;  // under op::maintenance_in
}  // namespace service_action

/// The command an opcode names on a direct-access device, as SBC-4/SPC-4 write it ("READ(16)");
/// empty for a code this table does not know, so a caller can print the hex instead. Opcodes that
/// carry a service action (0x7f, 0x9e, 0xa3, 0xa4) name the family, not the command.
constexpr std::string_view opcode_name(std::uint8_t code) noexcept {
  switch (code) {
    case op::test_unit_ready: return "TEST UNIT READY";
    case op::request_sense: return "REQUEST SENSE";
    case op::format_unit: return "FORMAT UNIT";
    case op::read6: return "READ(6)";
    case op::write6: return "WRITE(6)";
    case op::inquiry: return "INQUIRY";
    case op::mode_select6: return "MODE SELECT(6)";
    case op::mode_sense6: return "MODE SENSE(6)";
    case op::start_stop_unit: return "START STOP UNIT";
    case op::send_diagnostic: return "SEND DIAGNOSTIC";
    case op::prevent_allow_medium_removal: return "PREVENT ALLOW MEDIUM REMOVAL";
    case op::read_capacity10: return "READ CAPACITY(10)";
    case op::read10: return "READ(10)";
    case op::write10: return "WRITE(10)";
    case op::write_and_verify10: return "WRITE AND VERIFY(10)";
    case op::verify10: return "VERIFY(10)";
    case op::synchronize_cache10: return "SYNCHRONIZE CACHE(10)";
    case op::write_buffer: return "WRITE BUFFER";
    case op::read_buffer: return "READ BUFFER";
    case op::write_same10: return "WRITE SAME(10)";
    case op::unmap: return "UNMAP";
    case op::log_select: return "LOG SELECT";
    case op::log_sense: return "LOG SENSE";
    case op::mode_select10: return "MODE SELECT(10)";
    case op::mode_sense10: return "MODE SENSE(10)";
    case op::persistent_reserve_in: return "PERSISTENT RESERVE IN";
    case op::persistent_reserve_out: return "PERSISTENT RESERVE OUT";
    case op::variable_length: return "VARIABLE LENGTH";
    case op::read16: return "READ(16)";
    case op::compare_and_write: return "COMPARE AND WRITE";
    case op::write16: return "WRITE(16)";
    case op::write_and_verify16: return "WRITE AND VERIFY(16)";
    case op::verify16: return "VERIFY(16)";
    case op::synchronize_cache16: return "SYNCHRONIZE CACHE(16)";
    case op::write_same16: return "WRITE SAME(16)";
    case op::service_action_in16: return "SERVICE ACTION IN(16)";
    case op::report_luns: return "REPORT LUNS";
    case op::maintenance_in: return "MAINTENANCE IN";
    case op::maintenance_out: return "MAINTENANCE OUT";
    case op::read12: return "READ(12)";
    case op::write12: return "WRITE(12)";
    default: return {};
  }
}

}  // namespace uringcmd::scsi
