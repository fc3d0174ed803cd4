// SPDX-License-Identifier: MIT
// uringcmd-nvme's decoded data: Identify Controller / Namespace, the SMART and Error Information
// logs and feature values as fields, under nvme-cli's JSON names (`nvme id-ctrl -o json`, ...)
// so that scripts can switch tools. People see bit fields in hex, as nvme-cli prints them; JSON
// carries numbers, and 128-bit counters as decimal strings, as nvme-cli does.
#pragma once

#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <string_view>

#include <uringcmd/nvme/command.hpp>
#include <uringcmd/nvme/features.hpp>
#include <uringcmd/nvme/identify.hpp>
#include <uringcmd/nvme/log.hpp>

#include "errors.hpp"

namespace nvme_tool {

inline hex_number hx(std::uint64_t v, int digits = 2) { return {v, digits}; }

/// "00000000-0000-0000-0000-000000000000": a 16-byte GUID as nvme-cli prints FGUID.
inline std::string guid_text(std::span<const std::uint8_t, 16> g) {
  std::string s = hex_string(g);
  for (std::size_t at : {8U, 13U, 18U, 23U}) s.insert(at, "-");
  return s;
}

inline fields id_ctrl_fields(const nv::id_ctrl& c) {
  char version[32];
  std::snprintf(version, sizeof version, "%u.%u.%u", unsigned{c.version_major()}, unsigned{c.version_minor()},
                unsigned{c.version_tertiary()});
  return {{"vid", hx(c.vid, 4)},
          {"ssvid", hx(c.ssvid, 4)},
          {"sn", c.serial},
          {"mn", c.model},
          {"fr", c.firmware},
          {"rab", unsigned{c.rab}},
          {"ieee", hx(c.ieee, 6)},
          {"cmic", hx(c.cmic)},
          {"mdts", unsigned{c.mdts}},
          {"cntlid", hx(c.cntlid, 4)},
          {"ver", hx(c.ver, 8)},
          {"version", std::string(version)},
          {"rtd3r", c.rtd3r},
          {"rtd3e", c.rtd3e},
          {"oaes", hx(c.oaes, 8)},
          {"ctratt", hx(c.ctratt, 8)},
          {"cntrltype", unsigned{c.cntrltype}},
          {"fguid", guid_text(c.fguid)},
          {"crdt1", unsigned{c.crdt[0]}},
          {"crdt2", unsigned{c.crdt[1]}},
          {"crdt3", unsigned{c.crdt[2]}},
          {"oacs", hx(c.oacs, 4)},
          {"acl", unsigned{c.acl}},
          {"aerl", unsigned{c.aerl}},
          {"frmw", hx(c.frmw)},
          {"lpa", hx(c.lpa)},
          {"elpe", unsigned{c.elpe}},
          {"npss", unsigned{c.npss}},
          {"avscc", hx(c.avscc)},
          {"apsta", hx(c.apsta)},
          {"wctemp", unsigned{c.wctemp}},
          {"cctemp", unsigned{c.cctemp}},
          {"tnvmcap", c.tnvmcap.to_string()},
          {"unvmcap", c.unvmcap.to_string()},
          {"sqes", hx(c.sqes)},
          {"cqes", hx(c.cqes)},
          {"maxcmd", unsigned{c.maxcmd}},
          {"nn", c.nn},
          {"oncs", hx(c.oncs, 4)},
          {"fuses", hx(c.fuses, 4)},
          {"fna", hx(c.fna)},
          {"vwc", hx(c.vwc)},
          {"awun", unsigned{c.awun}},
          {"awupf", unsigned{c.awupf}},
          {"icsvscc", hx(c.icsvscc)},
          {"nwpc", hx(c.nwpc)},
          {"acwu", unsigned{c.acwu}},
          {"ocfs", hx(c.ocfs, 4)},
          {"sgls", hx(c.sgls, 8)},
          {"mnan", c.mnan},
          {"subnqn", c.subnqn}};
}

inline fields id_ns_fields(const nv::id_ns& n) {
  fields f{{"nsze", n.nsze},
           {"ncap", n.ncap},
           {"nuse", n.nuse},
           {"nsfeat", hx(n.nsfeat)},
           {"nlbaf", unsigned{n.nlbaf}},
           {"flbas", hx(n.flbas)},
           {"mc", hx(n.mc)},
           {"dpc", hx(n.dpc)},
           {"dps", hx(n.dps)},
           {"nmic", hx(n.nmic)},
           {"rescap", hx(n.rescap)},
           {"dlfeat", unsigned{n.dlfeat}},
           {"nawun", unsigned{n.nawun}},
           {"nawupf", unsigned{n.nawupf}},
           {"noiob", unsigned{n.noiob}},
           {"nvmcap", n.nvmcap.to_string()},
           {"npwg", unsigned{n.npwg}},
           {"npwa", unsigned{n.npwa}},
           {"npdg", unsigned{n.npdg}},
           {"npda", unsigned{n.npda}},
           {"nows", unsigned{n.nows}},
           {"anagrpid", n.anagrpid},
           {"nsattr", hx(n.nsattr)},
           {"nvmsetid", unsigned{n.nvmsetid}},
           {"endgid", unsigned{n.endgid}},
           {"eui64", hex_string(n.eui64)},
           {"nguid", hex_string(n.nguid)}};
  list formats;
  const std::size_t in_use = n.current_lba_format_index();
  std::size_t i = 0;
  for (const nv::lba_format lf : n.lba_formats()) {
    fields e{{"ms", unsigned{lf.ms}}, {"ds", unsigned{lf.lbads}}, {"rp", unsigned{lf.rp}}};
    if (i++ == in_use) e.emplace_back("in_use", true);
    formats.push_back(std::move(e));
  }
  f.emplace_back("lbafs", std::move(formats));
  return f;
}

inline fields smart_log_fields(const nv::smart_log& s) {
  fields f{{"critical_warning", hx(s.critical_warning_bits.raw)},
           {"temperature", unsigned{s.temperature}},
           {"temperature_celsius", std::to_string(s.temperature_celsius())},
           {"avail_spare", unsigned{s.avail_spare}},
           {"spare_thresh", unsigned{s.spare_thresh}},
           {"percent_used", unsigned{s.percent_used}},
           {"endurance_grp_critical_warning_summary", unsigned{s.endurance_grp_critical_warning_summary}},
           {"data_units_read", s.data_units_read.to_string()},
           {"data_units_written", s.data_units_written.to_string()},
           {"host_read_commands", s.host_read_commands.to_string()},
           {"host_write_commands", s.host_write_commands.to_string()},
           {"controller_busy_time", s.controller_busy_time.to_string()},
           {"power_cycles", s.power_cycles.to_string()},
           {"power_on_hours", s.power_on_hours.to_string()},
           {"unsafe_shutdowns", s.unsafe_shutdowns.to_string()},
           {"media_errors", s.media_errors.to_string()},
           {"num_err_log_entries", s.num_err_log_entries.to_string()},
           {"warning_temp_time", s.warning_temp_time},
           {"critical_comp_time", s.critical_comp_time}};
  for (std::size_t n = 1; n <= 8; ++n)  // nvme-cli lists the implemented sensors only
    if (auto k = s.sensor(n)) f.emplace_back("temperature_sensor_" + std::to_string(n), unsigned{*k});
  f.insert(f.end(), {{"thm_temp1_trans_count", s.thm_temp1_trans_count},
                     {"thm_temp2_trans_count", s.thm_temp2_trans_count},
                     {"thm_temp1_total_time", s.thm_temp1_total_time},
                     {"thm_temp2_total_time", s.thm_temp2_total_time}});
  return f;
}

inline fields error_entry_fields(const nv::error_log_entry& e) {
  return {{"error_count", e.error_count},
          {"sqid", unsigned{e.sqid}},
          {"cmdid", hx(e.cmdid, 4)},
          {"status_field", hx(e.status.raw(), 4)},
          {"status_name", e.status.success() ? std::string("Successful Completion") : nv::describe(e.status)},
          {"phase_tag", unsigned{e.phase}},
          {"parm_error_location", hx(e.parameter_error_location, 4)},
          {"lba", e.lba},
          {"nsid", e.nsid},
          {"vs", unsigned{e.vs}},
          {"trtype", unsigned{e.trtype}},
          {"cs", e.cs},
          {"trtype_spec_info", unsigned{e.trtype_spec_info}}};
}

inline std::string_view feature_name(std::uint8_t fid) {
  switch (fid) {
    case 0x01: return "Arbitration";
    case 0x02: return "Power Management";
    case 0x03: return "LBA Range Type";
    case 0x04: return "Temperature Threshold";
    case 0x05: return "Error Recovery";
    case 0x06: return "Volatile Write Cache";
    case 0x07: return "Number of Queues";
    case 0x08: return "Interrupt Coalescing";
    case 0x09: return "Interrupt Vector Configuration";
    case 0x0a: return "Write Atomicity Normal";
    case 0x0b: return "Asynchronous Event Configuration";
    case 0x0c: return "Autonomous Power State Transition";
    case 0x0d: return "Host Memory Buffer";
    case 0x0e: return "Timestamp";
    case 0x0f: return "Keep Alive Timer";
    case 0x10: return "Host Controlled Thermal Management";
    case 0x11: return "Non-Operational Power State Config";
    case 0x16: return "Host Behavior Support";
    case 0x80: return "Software Progress Marker";
    case 0x81: return "Host Identifier";
    case 0x82: return "Reservation Notification Mask";
    case 0x83: return "Reservation Persistence";
    default: return "";
  }
}

/// The bytes of data a Get Features of `fid` returns (nvme-cli's nvme_get_feature_length): the
/// command must carry a buffer that long, or the controller writes to address 0.
inline std::size_t feature_data_length(std::uint8_t fid) {
  switch (fid) {
    case 0x03: return 4096;  // LBA Range Type: 64 entries of 64 bytes
    case 0x0c: return 256;   // Autonomous Power State Transition: 32 entries of 8 bytes
    case 0x0d: return 4096;  // Host Memory Buffer attributes
    case 0x0e: return 8;     // Timestamp
    case 0x16: return 512;   // Host Behavior Support
    case 0x81: return 16;    // Host Identifier (the extended 128-bit one fits too)
    default: return 0;
  }
}

inline constexpr std::string_view select_names[] = {"current", "default", "saved", "supported capabilities"};

/// The decoded DW0 of Get Features, for the features nvme/features.hpp decodes.
inline void decode_feature(std::uint8_t fid, std::uint8_t sel, std::uint32_t dw0, fields& f) {
  if (sel == 3) {  // Supported Capabilities (Base 2.0, figure "Get Features – Completion Queue Entry Dword 0")
    f.insert(f.end(), {{"saveable", (dw0 & 1U) != 0}, {"namespace_specific", (dw0 & 2U) != 0},
                       {"changeable", (dw0 & 4U) != 0}});
    return;
  }
  switch (fid) {
    case nv::feature_id::arbitration: {
      const auto a = nv::decode_arbitration(dw0);
      f.insert(f.end(), {{"arbitration_burst_log2", unsigned{a.burst_log2}}, {"low_priority_weight", unsigned{a.low_weight}},
                         {"medium_priority_weight", unsigned{a.medium_weight}},
                         {"high_priority_weight", unsigned{a.high_weight}}});
      break;
    }
    case nv::feature_id::power_management: {
      const auto p = nv::decode_power_management(dw0);
      f.insert(f.end(), {{"power_state", unsigned{p.power_state}}, {"workload_hint", unsigned{p.workload_hint}}});
      break;
    }
    case nv::feature_id::temperature_threshold:
      f.emplace_back("temperature_threshold_kelvin", unsigned{nv::decode_temperature_threshold(dw0)});
      break;
    case nv::feature_id::volatile_write_cache:
      f.emplace_back("volatile_write_cache_enabled", nv::decode_volatile_write_cache(dw0));
      break;
    case nv::feature_id::number_of_queues: {
      const auto q = nv::decode_number_of_queues(dw0);
      f.insert(f.end(), {{"submission_queues", q.submission_queues}, {"completion_queues", q.completion_queues}});
      break;
    }
    default: break;
  }
}

}  // namespace nvme_tool
