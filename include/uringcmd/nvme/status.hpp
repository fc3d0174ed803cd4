// SPDX-License-Identifier: MIT
// The NVMe status a passthrough command completes with, as Linux returns it, and the spec's name
// for each code.
//
// cqe->res of an NVMe uring_cmd is (drivers/nvme/host/ioctl.c, nvme_uring_cmd_end_io):
//   < 0  an errno: the kernel did not get an answer from the controller (EINTR when the request
//        was cancelled, i.e. timed out or aborted by a reset; EINVAL/ENOTTY/EOPNOTSUPP for a
//        command it refused), never an NVMe status;
//   0    success;
//   > 0  nvme_req(req)->status, which is the CQE's 16-bit Status Field shifted right by one (the
//        phase tag dropped; nvme_try_complete_req: `le16_to_cpu(status) >> 1`): SC bits 7:0,
//        SCT 10:8, CRD 12:11, More 13, DNR 14 (the kernel's NVME_SCT_SC_MASK 0x7ff,
//        NVME_STATUS_CRD 0x1800, NVME_STATUS_MORE 0x2000, NVME_STATUS_DNR 0x4000). An
//        out-of-range read answers 0x4080: DNR, SCT 0, SC 80h (research/vm/REPORT.md).
// The kernel also makes up two statuses of its own: 370h (host pathing error: the controller is
// gone or not live) and 371h (aborted by host).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace uringcmd::nvme {

/// Status Code Type (Base 2.0, figure "Status Code Type (SCT) Values").
enum class status_code_type : std::uint8_t {
  generic = 0,            ///< Generic Command Status
  command_specific = 1,   ///< Command Specific Status
  media_error = 2,        ///< Media and Data Integrity Errors
  path = 3,               ///< Path Related Status
  vendor_specific = 7,
};

/// The NVMe Status Field as Linux reports it (see the file comment): 15 bits, no phase tag.
class status_field {
 public:
  constexpr status_field() noexcept = default;
  constexpr explicit status_field(std::uint16_t raw) noexcept : raw_(raw) {}

  /// The whole value, as cqe->res carried it.
  constexpr std::uint16_t raw() const noexcept { return raw_; }
  /// Status Code, bits 7:0.
  constexpr std::uint8_t sc() const noexcept { return static_cast<std::uint8_t>(raw_); }
  /// Status Code Type, bits 10:8 (raw: 4-6 are reserved).
  constexpr status_code_type sct() const noexcept { return static_cast<status_code_type>((raw_ >> 8) & 7U); }
  /// Command Retry Delay, bits 12:11: which CRDT of Identify Controller to wait before a retry (0: none).
  constexpr std::uint8_t crd() const noexcept { return static_cast<std::uint8_t>((raw_ >> 11) & 3U); }
  /// More, bit 13: the Error Information log has more about this command.
  constexpr bool more() const noexcept { return (raw_ >> 13) & 1U; }
  /// Do Not Retry, bit 14: the same command would fail again.
  constexpr bool dnr() const noexcept { return (raw_ >> 14) & 1U; }
  /// SCT and SC together, (SCT << 8) | SC: the value of nvme::errc (and of the kernel's NVME_SC_*).
  constexpr std::uint16_t code() const noexcept { return raw_ & 0x7FFU; }
  /// Successful Completion (SCT 0, SC 0).
  constexpr bool success() const noexcept { return code() == 0; }
  friend constexpr bool operator==(status_field, status_field) noexcept = default;

 private:
  std::uint16_t raw_ = 0;
};

/// The spec's name of a status code (SCT << 8 | SC), "" for a reserved or unknown one. Generic
/// and command-specific codes from Base 2.0 (figures "Generic Command Status Values", "Command
/// Specific Status Values") and the NVM Command Set 1.0 (its generic and command-specific
/// additions, zoned namespaces' from ZNS 1.1), media errors and path statuses from Base 2.0.
constexpr std::string_view status_name(std::uint16_t code) noexcept {
  switch (code) {
    // SCT 0: Generic Command Status.
    case 0x000: return "Successful Completion";
    case 0x001: return "Invalid Command Opcode";
    case 0x002: return "Invalid Field in Command";
    case 0x003: return "Command ID Conflict";
    case 0x004: return "Data Transfer Error";
    case 0x005: return "Commands Aborted due to Power Loss Notification";
    case 0x006: return "Internal Error";
    case 0x007: return "Command Abort Requested";
    case 0x008: return "Command Aborted due to SQ Deletion";
    case 0x009: return "Command Aborted due to Failed Fused Command";
    case 0x00A: return "Command Aborted due to Missing Fused Command";
    case 0x00B: return "Invalid Namespace or Format";
    case 0x00C: return "Command Sequence Error";
    case 0x00D: return "Invalid SGL Segment Descriptor";
    case 0x00E: return "Invalid Number of SGL Descriptors";
    case 0x00F: return "Data SGL Length Invalid";
    case 0x010: return "Metadata SGL Length Invalid";
    case 0x011: return "SGL Descriptor Type Invalid";
    case 0x012: return "Invalid Use of Controller Memory Buffer";
    case 0x013: return "PRP Offset Invalid";
    case 0x014: return "Atomic Write Unit Exceeded";
    case 0x015: return "Operation Denied";
    case 0x016: return "SGL Offset Invalid";
    case 0x018: return "Host Identifier Inconsistent Format";
    case 0x019: return "Keep Alive Timer Expired";
    case 0x01A: return "Keep Alive Timeout Invalid";
    case 0x01B: return "Command Aborted due to Preempt and Abort";
    case 0x01C: return "Sanitize Failed";
    case 0x01D: return "Sanitize In Progress";
    case 0x01E: return "SGL Data Block Granularity Invalid";
    case 0x01F: return "Command Not Supported for Queue in CMB";
    case 0x020: return "Namespace is Write Protected";
    case 0x021: return "Command Interrupted";
    case 0x022: return "Transient Transport Error";
    case 0x023: return "Command Prohibited by Command and Feature Lockdown";
    case 0x024: return "Admin Command Media Not Ready";
    case 0x080: return "LBA Out of Range";
    case 0x081: return "Capacity Exceeded";
    case 0x082: return "Namespace Not Ready";
    case 0x083: return "Reservation Conflict";
    case 0x084: return "Format In Progress";
    // SCT 1: Command Specific Status.
    case 0x100: return "Completion Queue Invalid";
    case 0x101: return "Invalid Queue Identifier";
    case 0x102: return "Invalid Queue Size";
    case 0x103: return "Abort Command Limit Exceeded";
    case 0x105: return "Asynchronous Event Request Limit Exceeded";
    case 0x106: return "Invalid Firmware Slot";
    case 0x107: return "Invalid Firmware Image";
    case 0x108: return "Invalid Interrupt Vector";
    case 0x109: return "Invalid Log Page";
    case 0x10A: return "Invalid Format";
    case 0x10B: return "Firmware Activation Requires Conventional Reset";
    case 0x10C: return "Invalid Queue Deletion";
    case 0x10D: return "Feature Identifier Not Saveable";
    case 0x10E: return "Feature Not Changeable";
    case 0x10F: return "Feature Not Namespace Specific";
    case 0x110: return "Firmware Activation Requires NVM Subsystem Reset";
    case 0x111: return "Firmware Activation Requires Controller Level Reset";
    case 0x112: return "Firmware Activation Requires Maximum Time Violation";
    case 0x113: return "Firmware Activation Prohibited";
    case 0x114: return "Overlapping Range";
    case 0x115: return "Namespace Insufficient Capacity";
    case 0x116: return "Namespace Identifier Unavailable";
    case 0x118: return "Namespace Already Attached";
    case 0x119: return "Namespace Is Private";
    case 0x11A: return "Namespace Not Attached";
    case 0x11B: return "Thin Provisioning Not Supported";
    case 0x11C: return "Controller List Invalid";
    case 0x11D: return "Device Self-test In Progress";
    case 0x11E: return "Boot Partition Write Prohibited";
    case 0x11F: return "Invalid Controller Identifier";
    case 0x120: return "Invalid Secondary Controller State";
    case 0x121: return "Invalid Number of Controller Resources";
    case 0x122: return "Invalid Resource Identifier";
    case 0x123: return "Sanitize Prohibited While Persistent Memory Region is Enabled";
    case 0x124: return "ANA Group Identifier Invalid";
    case 0x125: return "ANA Attach Failed";
    case 0x126: return "Insufficient Capacity";
    case 0x127: return "Namespace Attachment Limit Exceeded";
    case 0x128: return "Prohibition of Command Execution Not Supported";
    case 0x129: return "I/O Command Set Not Supported";
    case 0x12A: return "I/O Command Set Not Enabled";
    case 0x12B: return "I/O Command Set Combination Rejected";
    case 0x12C: return "Invalid I/O Command Set";
    case 0x12D: return "Identifier Unavailable";
    case 0x180: return "Conflicting Attributes";
    case 0x181: return "Invalid Protection Information";
    case 0x182: return "Attempted Write to Read Only Range";
    case 0x183: return "Command Size Limit Exceeded";
    case 0x1B8: return "Zoned Boundary Error";
    case 0x1B9: return "Zone Is Full";
    case 0x1BA: return "Zone Is Read Only";
    case 0x1BB: return "Zone Is Offline";
    case 0x1BC: return "Zone Invalid Write";
    case 0x1BD: return "Too Many Active Zones";
    case 0x1BE: return "Too Many Open Zones";
    case 0x1BF: return "Invalid Zone State Transition";
    // SCT 2: Media and Data Integrity Errors.
    case 0x280: return "Write Fault";
    case 0x281: return "Unrecovered Read Error";
    case 0x282: return "End-to-end Guard Check Error";
    case 0x283: return "End-to-end Application Tag Check Error";
    case 0x284: return "End-to-end Reference Tag Check Error";
    case 0x285: return "Compare Failure";
    case 0x286: return "Access Denied";
    case 0x287: return "Deallocated or Unwritten Logical Block";
    case 0x288: return "End-to-End Storage Tag Check Error";
    // SCT 3: Path Related Status.
    case 0x300: return "Internal Path Error";
    case 0x301: return "Asymmetric Access Persistent Loss";
    case 0x302: return "Asymmetric Access Inaccessible";
    case 0x303: return "Asymmetric Access Transition";
    case 0x360: return "Controller Pathing Error";
    case 0x370: return "Host Pathing Error";
    case 0x371: return "Command Aborted By Host";
    default: break;
  }
  if ((code >> 8) == 7) return "Vendor Specific";
  return {};
}

/// "Generic Command Status", "Command Specific Status", ...; "Reserved" for SCT 4-6.
constexpr std::string_view status_code_type_name(status_code_type t) noexcept {
  switch (t) {
    case status_code_type::generic: return "Generic Command Status";
    case status_code_type::command_specific: return "Command Specific Status";
    case status_code_type::media_error: return "Media and Data Integrity Errors";
    case status_code_type::path: return "Path Related Status";
    case status_code_type::vendor_specific: return "Vendor Specific";
  }
  return "Reserved";
}

/// One line: "LBA Out of Range (SCT 0h SC 80h, DNR)", "Successful Completion (SCT 0h SC 00h)",
/// "Unknown Status (SCT 1h SC 04h)"; More and a non-zero CRD are named too ("..., CRD 1, More").
inline std::string describe(status_field s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out(status_name(s.code()));
  if (out.empty()) out = "Unknown Status";
  out += " (SCT ";
  out += hex[static_cast<unsigned>(s.sct())];
  out += "h SC ";
  out += hex[s.sc() >> 4];
  out += hex[s.sc() & 15];
  out += 'h';
  if (s.dnr()) out += ", DNR";
  if (s.crd() != 0) {
    out += ", CRD ";
    out += hex[s.crd()];
  }
  if (s.more()) out += ", More";
  out += ')';
  return out;
}

}  // namespace uringcmd::nvme
