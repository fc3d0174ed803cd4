// SPDX-License-Identifier: MIT
// SCSI outcomes as std::error_code: scsi::errc in the "scsi" category, the mapping from a
// completion's (status, host byte, driver byte, sense) to one code, and the negative errno a ublk
// or NVMe layer hands on. scsi::outcome keeps the decoded sense next to the code.
#pragma once

#include <cerrno>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <system_error>

#include <uringcmd/error.hpp>
#include <uringcmd/scsi/sense.hpp>
#include <uringcmd/scsi/status.hpp>
#include <uringcmd/scsi/uapi.hpp>

namespace uringcmd::scsi {

/// What went wrong with a SCSI command, coarse enough to branch on; the details (ASC/ASCQ,
/// information, the exact host byte) stay in scsi::outcome. Values 1..15 equal the sense key.
enum class errc : std::uint8_t {
  // CHECK CONDITION, by sense key.
  recovered_error = 0x1,  ///< not produced by completion_error() (success with a warning, see there)
  not_ready = 0x2,
  medium_error = 0x3,
  hardware_error = 0x4,
  illegal_request = 0x5,
  unit_attention = 0x6,
  data_protect = 0x7,
  blank_check = 0x8,
  vendor_specific = 0x9,
  copy_aborted = 0xa,
  aborted_command = 0xb,
  equal = 0xc,  ///< the obsolete EQUAL sense key
  volume_overflow = 0xd,
  miscompare = 0xe,
  completed = 0xf,        ///< not produced by completion_error() (the command completed)
  no_sense = 0x10,        ///< CHECK CONDITION with sense key NO SENSE (e.g. filemark, EOM, ILI alone)
  check_condition_no_sense = 0x11,  ///< CHECK CONDITION without (decodable) sense data
  // Other SAM status.
  busy = 0x20,
  reservation_conflict = 0x21,
  task_set_full = 0x22,
  aca_active = 0x23,
  task_aborted = 0x24,
  unknown_status = 0x25,  ///< a reserved or obsolete status byte
  // Host byte (the HBA or transport failed; the device's status means nothing).
  transport_error = 0x30,      ///< DID_ERROR, DID_PARITY, DID_TRANSPORT_FAILFAST/MARGINAL, DID_BAD_INTR, ...
  transport_timeout = 0x31,    ///< DID_TIME_OUT
  transport_aborted = 0x32,    ///< DID_ABORT
  /// DID_BUS_BUSY, DID_SOFT_ERROR, DID_IMM_RETRY, DID_REQUEUE, DID_RESET, DID_TRANSPORT_DISRUPTED
  transport_retryable = 0x33,
  target_unreachable = 0x34,   ///< DID_NO_CONNECT, DID_BAD_TARGET
  // Driver byte.
  driver_error = 0x38,  ///< a driver byte other than DRIVER_OK/DRIVER_SENSE (older kernels)
};

/// The errc of a CHECK CONDITION with sense key `k`.
constexpr errc errc_of(sense_key k) noexcept {
  return k == sense_key::no_sense ? errc::no_sense : static_cast<errc>(static_cast<std::uint8_t>(k));
}

/// The errno a ublk or NVMe layer hands on for `e`, negative (as the kernel wants it). The choices
/// follow the block layer's status codes where one fits: -ENODATA (BLK_STS_MEDIUM) for a medium
/// error, -EBADE (BLK_STS_RESV_CONFLICT), -ENOLINK (BLK_STS_TRANSPORT), -ETIMEDOUT; -EAGAIN for
/// conditions a retry can clear (not ready, unit attention, transport retry); -EIO otherwise.
constexpr int to_errno(errc e) noexcept {
  switch (e) {
    case errc::not_ready: return -EAGAIN;
    case errc::medium_error: return -ENODATA;
    case errc::illegal_request: return -EINVAL;
    case errc::unit_attention: return -EAGAIN;
    case errc::data_protect: return -EACCES;
    case errc::blank_check: return -ENODATA;
    case errc::volume_overflow: return -ENOSPC;
    case errc::miscompare: return -EILSEQ;
    case errc::busy:
    case errc::task_set_full: return -EBUSY;
    case errc::reservation_conflict: return -EBADE;
    case errc::transport_error: return -ENOLINK;
    case errc::transport_timeout: return -ETIMEDOUT;
    case errc::transport_aborted: return -ECANCELED;
    case errc::transport_retryable: return -EAGAIN;
    case errc::target_unreachable: return -ENXIO;
    default: return -EIO;
  }
}

}  // namespace uringcmd::scsi

template <>
struct std::is_error_code_enum<uringcmd::scsi::errc> : std::true_type {};

namespace uringcmd::scsi {

namespace error_detail {
class error_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "scsi"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::recovered_error: return "recovered error";
      case errc::not_ready: return "not ready";
      case errc::medium_error: return "medium error";
      case errc::hardware_error: return "hardware error";
      case errc::illegal_request: return "illegal request";
      case errc::unit_attention: return "unit attention";
      case errc::data_protect: return "data protect";
      case errc::blank_check: return "blank check";
      case errc::vendor_specific: return "vendor specific sense key";
      case errc::copy_aborted: return "copy aborted";
      case errc::aborted_command: return "aborted command";
      case errc::equal: return "equal (obsolete sense key)";
      case errc::volume_overflow: return "volume overflow";
      case errc::miscompare: return "miscompare";
      case errc::completed: return "completed";
      case errc::no_sense: return "check condition, sense key no sense";
      case errc::check_condition_no_sense: return "check condition without sense data";
      case errc::busy: return "device busy";
      case errc::reservation_conflict: return "reservation conflict";
      case errc::task_set_full: return "task set full";
      case errc::aca_active: return "ACA active";
      case errc::task_aborted: return "task aborted";
      case errc::unknown_status: return "unknown SCSI status";
      case errc::transport_error: return "transport error (host byte)";
      case errc::transport_timeout: return "command timed out (DID_TIME_OUT)";
      case errc::transport_aborted: return "command aborted by the host (DID_ABORT)";
      case errc::transport_retryable: return "transport asks for a retry (host byte)";
      case errc::target_unreachable: return "target unreachable (DID_NO_CONNECT/DID_BAD_TARGET)";
      case errc::driver_error: return "driver error (driver byte)";
    }
    return "unknown scsi error " + std::to_string(ev);
  }
  /// So that `ec == std::errc::device_or_resource_busy` works: the condition of to_errno().
  std::error_condition default_error_condition(int ev) const noexcept override {
    return {-to_errno(static_cast<errc>(ev)), std::generic_category()};
  }
};
}  // namespace error_detail

/// The "scsi" error category.
inline const std::error_category& error_category() noexcept {
  static const error_detail::error_category_impl instance;
  return instance;
}

inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), scsi::error_category()}; }

/// The negative errno for any error_code: scsi codes by to_errno(errc), others by uringcmd::to_errno.
inline int to_errno(const std::error_code& ec) noexcept {
  if (ec && ec.category() == scsi::error_category()) return to_errno(static_cast<errc>(ec.value()));
  return uringcmd::to_errno(ec);
}

/// The error of a completion as an errc (nullopt: success), checked in the kernel's order: the
/// host byte first (when it is not DID_OK the device status is meaningless), then the driver byte,
/// then the SAM status; CHECK CONDITION (and the obsolete COMMAND TERMINATED) goes by the sense key.
/// Success: GOOD, CONDITION MET, the obsolete INTERMEDIATE statuses, and CHECK CONDITION with
/// sense key RECOVERED ERROR or COMPLETED: the command did its work and the sense is a warning (the
/// kernel's sd completes those too), so a caller that cares looks at the sense
/// (outcome::sense_data) itself.
constexpr std::optional<errc> completion_errc(std::uint8_t status, std::uint8_t host, std::uint8_t driver,
                                              const std::optional<sense>& s) noexcept {
  auto code = [](errc e) { return std::optional<errc>(e); };
  switch (static_cast<host_byte>(host)) {
    case host_byte::ok: break;
    case host_byte::time_out: return code(errc::transport_timeout);
    case host_byte::abort: return code(errc::transport_aborted);
    case host_byte::bus_busy:
    case host_byte::soft_error:
    case host_byte::imm_retry:
    case host_byte::requeue:
    case host_byte::reset:
    case host_byte::transport_disrupted: return code(errc::transport_retryable);
    case host_byte::no_connect:
    case host_byte::bad_target: return code(errc::target_unreachable);
    default: return code(errc::transport_error);
  }
  switch (driver_byte_of(driver)) {
    case driver_byte::ok:
    case driver_byte::sense: break;
    case driver_byte::timeout: return code(errc::transport_timeout);
    default: return code(errc::driver_error);
  }
  switch (sam_status_of(status)) {
    case sam_status::good:
    case sam_status::condition_met:
    case sam_status::intermediate:
    case sam_status::intermediate_condition_met: return std::nullopt;
    case sam_status::check_condition:
    case sam_status::command_terminated:
      if (!s) return code(errc::check_condition_no_sense);
      if (s->key == sense_key::recovered_error || s->key == sense_key::completed) return std::nullopt;
      return code(errc_of(s->key));
    case sam_status::busy: return code(errc::busy);
    case sam_status::reservation_conflict: return code(errc::reservation_conflict);
    case sam_status::task_set_full: return code(errc::task_set_full);
    case sam_status::aca_active: return code(errc::aca_active);
    case sam_status::task_aborted: return code(errc::task_aborted);
  }
  return code(errc::unknown_status);
}

/// completion_errc() as a std::error_code of the "scsi" category (empty for success).
inline std::error_code completion_error(std::uint8_t status, std::uint8_t host, std::uint8_t driver,
                                        const std::optional<sense>& s) noexcept {
  if (auto e = completion_errc(status, host, driver, s)) return make_error_code(*e);
  return {};
}

/// A SCSI completion decoded: the three status bytes, the sense (when the device returned any) and
/// the one error_code a caller branches on.
struct outcome {
  std::uint8_t status = 0;  ///< SAM status byte
  std::uint8_t host = 0;    ///< Linux host byte
  std::uint8_t driver = 0;  ///< Linux driver byte
  std::optional<scsi::sense> sense_data;
  std::error_code error;

  /// No error (possibly with a RECOVERED ERROR / COMPLETED sense in sense_data).
  bool ok() const noexcept { return !error; }
  explicit operator bool() const noexcept { return ok(); }
};

/// The outcome of a command whose sense buffer is `sense_buffer`: status, host and driver bytes from
/// res2, sense from the first min(res2.sense_len(), sense_buffer.size()) bytes of the buffer.
inline outcome decode_outcome(std::uint8_t status, std::uint8_t host, std::uint8_t driver,
                              std::span<const std::uint8_t> sense_bytes) noexcept {
  outcome o{status, host, driver, decode_sense(sense_bytes), {}};
  o.error = completion_error(status, host, driver, o.sense_data);
  return o;
}

inline outcome decode_outcome(bsg_res2 res2, std::span<const std::uint8_t> sense_buffer) noexcept {
  const std::size_t n = std::min<std::size_t>(res2.sense_len(), sense_buffer.size());
  return decode_outcome(res2.device_status(), res2.host_status(), res2.driver_status(), sense_buffer.first(n));
}

/// One line: "GOOD", "CHECK CONDITION: Medium Error: Unrecovered read error, info=0x1000",
/// "DID_TIME_OUT", "BUSY".
inline std::string describe(const outcome& o) {
  if (o.host != 0) return host_byte_text(o.host);
  std::string s = status_text(o.status);
  if (o.sense_data) {
    s += ": " + describe(*o.sense_data);
  }
  if (driver_byte_of(o.driver) != driver_byte::ok && driver_byte_of(o.driver) != driver_byte::sense) {
    s += " (" + driver_byte_text(o.driver) + ")";
  }
  return s;
}

/// basic_response's hook: the outcome when it says more than the error_code (an error, or sense).
inline std::optional<std::string> details_text(const outcome& o) {
  if (o.error || o.sense_data) return describe(o);
  return std::nullopt;
}

}  // namespace uringcmd::scsi
