// SPDX-License-Identifier: MIT
// NVMe statuses as std::error_code: the "nvme" category, whose values are the status code
// (SCT << 8) | SC, with nvme::errc naming the ones a caller branches on; the mapping of a
// completion's cqe->res to one error_code (negative: an errno of the system category, never an
// NVMe code; positive: an NVMe status); and the errno the block layer would report for it.
#pragma once

#include <cerrno>
#include <cstdint>
#include <string>
#include <system_error>

#include <uringcmd/error.hpp>
#include <uringcmd/nvme/status.hpp>

namespace uringcmd::nvme {

/// NVMe status codes by name: the value is (SCT << 8) | SC, the same numbers as the kernel's
/// NVME_SC_*. Any status, named here or not, is an error_code of the "nvme" category with that
/// value, so `ec == nvme::errc::lba_out_of_range` works for every completion.
enum class errc : std::uint16_t {
  // SCT 0: Generic Command Status.
  invalid_opcode = 0x001,
  invalid_field = 0x002,
  command_id_conflict = 0x003,
  data_transfer_error = 0x004,
  aborted_power_loss = 0x005,
  internal_error = 0x006,
  abort_requested = 0x007,
  aborted_sq_deletion = 0x008,
  aborted_failed_fused = 0x009,
  aborted_missing_fused = 0x00A,
  invalid_namespace_or_format = 0x00B,
  command_sequence_error = 0x00C,
  operation_denied = 0x015,
  sanitize_in_progress = 0x01D,
  namespace_write_protected = 0x020,
  command_interrupted = 0x021,
  transient_transport_error = 0x022,
  lba_out_of_range = 0x080,
  capacity_exceeded = 0x081,
  namespace_not_ready = 0x082,
  reservation_conflict = 0x083,
  format_in_progress = 0x084,
  // SCT 1: Command Specific Status.
  invalid_queue_identifier = 0x101,
  invalid_firmware_slot = 0x106,
  invalid_firmware_image = 0x107,
  invalid_log_page = 0x109,
  invalid_format = 0x10A,
  feature_not_saveable = 0x10D,
  feature_not_changeable = 0x10E,
  feature_not_namespace_specific = 0x10F,
  device_self_test_in_progress = 0x11D,
  conflicting_attributes = 0x180,
  invalid_protection_information = 0x181,
  write_to_read_only_range = 0x182,
  command_size_limit_exceeded = 0x183,
  zone_boundary_error = 0x1B8,
  zone_is_full = 0x1B9,
  zone_is_read_only = 0x1BA,
  zone_is_offline = 0x1BB,
  zone_invalid_write = 0x1BC,
  too_many_active_zones = 0x1BD,
  too_many_open_zones = 0x1BE,
  invalid_zone_state_transition = 0x1BF,
  // SCT 2: Media and Data Integrity Errors.
  write_fault = 0x280,
  unrecovered_read_error = 0x281,
  guard_check_error = 0x282,
  application_tag_check_error = 0x283,
  reference_tag_check_error = 0x284,
  compare_failure = 0x285,
  access_denied = 0x286,
  deallocated_or_unwritten = 0x287,
  storage_tag_check_error = 0x288,
  // SCT 3: Path Related Status.
  internal_path_error = 0x300,
  ana_persistent_loss = 0x301,
  ana_inaccessible = 0x302,
  ana_transition = 0x303,
  controller_pathing_error = 0x360,
  host_pathing_error = 0x370,  ///< made up by Linux: the controller is not live (nvme_host_path_error)
  aborted_by_host = 0x371,     ///< made up by Linux
};

/// The negative errno the Linux block layer reports for an NVMe status: nvme_error_status()
/// (drivers/nvme/host/core.c) and blk_status_to_errno's table, so a ublk target forwarding an
/// NVMe failure answers what the kernel's own nvme driver would. 0 for success.
constexpr int to_errno(status_field s) noexcept {
  if (s.success()) return 0;
  switch (static_cast<errc>(s.code())) {
    case errc::capacity_exceeded: return -ENOSPC;  // BLK_STS_NOSPC
    case errc::lba_out_of_range:
    case errc::command_interrupted:
    case errc::namespace_not_ready: return -EREMOTEIO;  // BLK_STS_TARGET
    case errc::conflicting_attributes:
    case errc::invalid_opcode:
    case errc::invalid_field:
    case errc::invalid_namespace_or_format: return -EOPNOTSUPP;  // BLK_STS_NOTSUPP
    case errc::write_fault:
    case errc::unrecovered_read_error:
    case errc::deallocated_or_unwritten:
    case errc::access_denied:
    case errc::write_to_read_only_range:
    case errc::compare_failure: return -ENODATA;  // BLK_STS_MEDIUM
    case errc::guard_check_error:
    case errc::application_tag_check_error:
    case errc::reference_tag_check_error:
    case errc::invalid_protection_information: return -EILSEQ;  // BLK_STS_PROTECTION
    case errc::reservation_conflict: return -EBADE;             // BLK_STS_RESV_CONFLICT
    case errc::host_pathing_error: return -ENOLINK;             // BLK_STS_TRANSPORT
    case errc::too_many_active_zones: return -EOVERFLOW;        // BLK_STS_ZONE_ACTIVE_RESOURCE
    case errc::too_many_open_zones: return -ETOOMANYREFS;       // BLK_STS_ZONE_OPEN_RESOURCE
    default: return -EIO;                                       // BLK_STS_IOERR
  }
}
constexpr int to_errno(errc e) noexcept { return to_errno(status_field(static_cast<std::uint16_t>(e))); }

}  // namespace uringcmd::nvme

template <>
struct std::is_error_code_enum<uringcmd::nvme::errc> : std::true_type {};

namespace uringcmd::nvme {

namespace error_detail {
class error_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "nvme"; }
  /// The spec's name: "LBA Out of Range"; "status SCT 1h SC 04h" for a reserved code.
  std::string message(int ev) const override {
    const auto code = static_cast<std::uint16_t>(ev & 0x7FF);
    if (auto n = status_name(code); !n.empty() && code == ev) return std::string(n);
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string s = "status SCT ";
    s += hex[(code >> 8) & 7];
    s += "h SC ";
    s += hex[(code >> 4) & 15];
    s += hex[code & 15];
    s += 'h';
    return s;
  }
  /// So that `ec == std::errc::no_data` works: the condition of to_errno().
  std::error_condition default_error_condition(int ev) const noexcept override {
    return {-to_errno(status_field(static_cast<std::uint16_t>(ev & 0x7FF))), std::generic_category()};
  }
};
}  // namespace error_detail

/// The "nvme" error category.
inline const std::error_category& error_category() noexcept {
  static const error_detail::error_category_impl instance;
  return instance;
}

inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), nvme::error_category()}; }

/// The error of a status: empty for success, else the "nvme" code (SCT << 8) | SC. CRD, More and
/// DNR are not part of the code; keep the status_field for them.
inline std::error_code make_error_code(status_field s) noexcept {
  if (s.success()) return {};
  return {s.code(), nvme::error_category()};
}

/// The error of a passthrough completion's cqe->res: empty for 0, an errno of the system category
/// for a negative value (the kernel's, never an NVMe status), an "nvme" code for a positive one.
inline std::error_code error_of(std::int32_t res) noexcept {
  if (res < 0) return errno_code(-res);
  return make_error_code(status_field(static_cast<std::uint16_t>(res)));
}

/// The negative errno for any error_code: nvme codes by to_errno(status), others by
/// uringcmd::to_errno.
inline int to_errno(const std::error_code& ec) noexcept {
  if (ec && ec.category() == nvme::error_category())
    return to_errno(status_field(static_cast<std::uint16_t>(ec.value() & 0x7FF)));
  return uringcmd::to_errno(ec);
}

}  // namespace uringcmd::nvme
