// SPDX-License-Identifier: MIT
// uringcmd-scsi's exit statuses (sg3_utils' SG_LIB_CAT_* values, so scripts written for sg_inq,
// sg_readcap, ... read ours the same way) and the report of a failed command.
#pragma once

#include <cerrno>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include <uringcmd/error.hpp>
#include <uringcmd/scsi/error.hpp>

#include "../common/output.hpp"

namespace scsi_tool {

using namespace cli;  // fields, output_mode, report_problem, ...: shared with uringcmd-nvme
namespace sc = uringcmd::scsi;

inline constexpr std::string_view program_name = "uringcmd-scsi";

enum exit_status : int {
  exit_ok = 0,
  exit_syntax = 1,
  exit_not_ready = 2,
  exit_medium_hard = 3,  // medium error, hardware error, blank check
  exit_illegal_request = 5,
  exit_unit_attention = 6,
  exit_data_protect = 7,
  exit_invalid_opcode = 9,  // illegal request, ASC 20h "Invalid command operation code"
  exit_copy_aborted = 10,
  exit_aborted_command = 11,
  exit_miscompare = 14,
  exit_file = 15,  // the device or a file could not be opened, read or written
  exit_no_sense = 20,
  exit_reservation_conflict = 24,
  exit_busy = 26,
  exit_task_set_full = 27,
  exit_aca_active = 28,
  exit_task_aborted = 29,
  exit_timeout = 33,
  exit_transport = 35,  // host or driver byte: the HBA or transport failed
  exit_malformed = 97,  // decode-sense: the bytes are not sense data
  exit_other = 99,
};

inline constexpr std::string_view exit_table = R"(Exit status (sg3_utils' values):
   0 success                        14 miscompare
   1 syntax error, bad argument     15 cannot open/read/write DEV or FILE
   2 not ready                      20 check condition, sense key no sense
   3 medium/hardware error          24 reservation conflict
   5 illegal request                26 busy            27 task set full
   6 unit attention                 28 ACA active      29 task aborted
   7 data protect                   33 command timed out
   9 invalid command opcode         35 transport error (host/driver byte)
  10 copy aborted                   97 not sense data (decode-sense)
  11 aborted command                99 anything else
)";

/// The exit status of a failed command: by its SCSI outcome, or by errno for the transport.
inline int status_of(std::error_code ec, const std::optional<sc::outcome>& o) {
  if (ec.category() != sc::error_category()) return ec == std::errc::timed_out ? exit_timeout : exit_other;
  switch (static_cast<sc::errc>(ec.value())) {
    case sc::errc::not_ready: return exit_not_ready;
    case sc::errc::medium_error:
    case sc::errc::hardware_error:
    case sc::errc::blank_check: return exit_medium_hard;
    case sc::errc::illegal_request:
      return o && o->sense_data && o->sense_data->asc == 0x20 ? exit_invalid_opcode : exit_illegal_request;
    case sc::errc::unit_attention: return exit_unit_attention;
    case sc::errc::data_protect: return exit_data_protect;
    case sc::errc::copy_aborted: return exit_copy_aborted;
    case sc::errc::aborted_command: return exit_aborted_command;
    case sc::errc::miscompare: return exit_miscompare;
    case sc::errc::no_sense: return exit_no_sense;
    case sc::errc::reservation_conflict: return exit_reservation_conflict;
    case sc::errc::busy: return exit_busy;
    case sc::errc::task_set_full: return exit_task_set_full;
    case sc::errc::aca_active: return exit_aca_active;
    case sc::errc::task_aborted: return exit_task_aborted;
    case sc::errc::transport_timeout: return exit_timeout;
    case sc::errc::transport_error:
    case sc::errc::transport_aborted:
    case sc::errc::transport_retryable:
    case sc::errc::target_unreachable:
    case sc::errc::driver_error: return exit_transport;
    default: return exit_other;
  }
}

inline fields sense_fields(const sc::sense& s) {
  fields f{{"response_code", hex(s.response_code)},
           {"format", s.format == sc::sense_format::fixed ? "fixed" : "descriptor"},
           {"deferred", s.deferred},
           {"key", static_cast<unsigned>(s.key)},
           {"key_name", sc::sense_key_name(s.key)},
           {"asc", hex(s.asc)},
           {"ascq", hex(s.ascq)},
           {"asc_text", s.asc_text()}};
  if (s.information) f.emplace_back("information", *s.information);
  if (s.sks) f.emplace_back("sense_key_specific", sc::describe(*s.sks));
  f.emplace_back("description", sc::describe(s));
  f.emplace_back("bytes", hex_string(s.bytes()));
  return f;
}

/// Reports a failed `command` on stderr (and, with --json, as {"error": ...} on stdout); returns
/// the exit status. `open_failed`: an errno means DEV could not be opened (exit 15).
inline int report_error(output_mode m, std::string_view command, std::error_code ec,
                        const std::optional<sc::outcome>& o, bool open_failed = false) {
  const bool answered = o && (o->error || o->sense_data);
  const std::string text = answered ? sc::describe(*o) : uringcmd::describe(ec);
  const int status = open_failed && !answered ? exit_file : status_of(ec, o);
  std::cerr << "uringcmd-scsi " << command << ": " << text << '\n';
  if (m.json) {
    fields f{{"command", command}, {"error", text}, {"exit_status", static_cast<unsigned>(status)}};
    if (answered) {
      f.emplace_back("status", o->status);
      f.emplace_back("status_text", sc::status_text(o->status));
      f.emplace_back("host", sc::host_byte_text(o->host));
      if (o->sense_data) f.emplace_back("sense", sense_fields(*o->sense_data));
    } else {
      f.emplace_back("errno", static_cast<unsigned>(-uringcmd::to_errno(ec)));
    }
    std::cout << to_json(f) << '\n';
  }
  return status;
}

/// A failure that is not a SCSI command's: a bad argument, a file.
inline int report_problem(output_mode m, std::string_view command, const std::string& text, int status) {
  return cli::report_problem(program_name, m, command, text, status);
}

}  // namespace scsi_tool
