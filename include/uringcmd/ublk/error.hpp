// SPDX-License-Identifier: MIT
// ublk errors: an std::error_code in the "ublk" category whose message names the control command
// and, where the errno means a kernel without a feature, the feature and the kernel that has it:
//
//   "ublk DEL_DEV: ENODEV: No such device"
//   "ublk ADD_DEV: UBLK_F_IO_DESC_SIZE not supported by this kernel (needs 7.3)"
//
// Each code compares equal to its errno (ec == std::errc::no_such_device), so callers branch as
// on any system error; a missing feature compares equal to std::errc::operation_not_supported.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <system_error>

#include <uringcmd/error.hpp>
#include <uringcmd/ublk/uapi.hpp>

namespace uringcmd::ublk {

/// The UBLK_CMD_* name of an (ioctl-encoded or legacy) control opcode: "ADD_DEV".
constexpr std::string_view command_name(std::uint32_t cmd_op) noexcept {
  switch (cmd_op & 0xff) {
    case 0x01: return "GET_QUEUE_AFFINITY";
    case 0x02: return "GET_DEV_INFO";
    case 0x04: return "ADD_DEV";
    case 0x05: return "DEL_DEV";
    case 0x06: return "START_DEV";
    case 0x07: return "STOP_DEV";
    case 0x08: return "SET_PARAMS";
    case 0x09: return "GET_PARAMS";
    case 0x10: return "START_USER_RECOVERY";
    case 0x11: return "END_USER_RECOVERY";
    case 0x12: return "GET_DEV_INFO2";
    case 0x13: return "GET_FEATURES";
    case 0x14: return "DEL_DEV_ASYNC";
    case 0x15: return "UPDATE_SIZE";
    case 0x16: return "QUIESCE_DEV";
    case 0x17: return "TRY_STOP_DEV";
    case 0x20: return "FETCH_REQ";
    case 0x21: return "COMMIT_AND_FETCH_REQ";
    case 0x22: return "NEED_GET_DATA";
    case 0x23: return "REGISTER_IO_BUF";
    case 0x24: return "UNREGISTER_IO_BUF";
    case 0x25: return "PREP_IO_CMDS";
    case 0x26: return "COMMIT_IO_CMDS";
    case 0x27: return "FETCH_IO_CMDS";
    default: return "command";
  }
}

/// "UBLK_F_USER_COPY not supported by this kernel (needs 6.5)"; a flag of a kernel newer than this
/// library: "ublk feature bit 24 (newer than uringcmd's list) not supported by this kernel".
inline std::string feature_missing_text(unsigned bit) {
  std::string s = bit < feature_names.size() ? "UBLK_F_" + std::string(feature_names[bit])
                                             : "ublk feature bit " + std::to_string(bit) + " (newer than uringcmd's list)";
  s += " not supported by this kernel";
  if (bit < feature_since.size()) {
    s += " (needs ";
    s += feature_since[bit];
    s += ')';
  }
  return s;
}

namespace detail {
// value = errno (bits 0-11) | command number (bits 12-19) | feature bit + 1 (bits 20-26).
constexpr int pack(std::uint32_t cmd_op, int err, int feature_bit) noexcept {
  return (err & 0xfff) | static_cast<int>((cmd_op & 0xff) << 12) | ((feature_bit + 1) << 20);
}
constexpr int err_of(int v) noexcept { return v & 0xfff; }
constexpr std::uint32_t cmd_of(int v) noexcept { return static_cast<std::uint32_t>(v >> 12) & 0xff; }
constexpr int feature_of(int v) noexcept { return ((v >> 20) & 0x7f) - 1; }

class ublk_category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "ublk"; }
  std::string message(int v) const override {
    std::string s = "ublk ";
    s += command_name(cmd_of(v));
    s += ": ";
    if (feature_of(v) >= 0) return s + feature_missing_text(static_cast<unsigned>(feature_of(v)));
    return s + errno_name(err_of(v)) + ": " + std::strerror(err_of(v));
  }
  std::error_condition default_error_condition(int v) const noexcept override {
    return {err_of(v), std::generic_category()};
  }
};
}  // namespace detail

inline const std::error_category& ublk_category() noexcept {
  static const detail::ublk_category instance;
  return instance;
}

/// The kernel refused `cmd_op` with `err` (positive errno).
inline std::error_code command_error(std::uint32_t cmd_op, int err) noexcept {
  return {detail::pack(cmd_op, err, -1), ublk_category()};
}
/// `cmd_op` needs UBLK_F_* bit `bit`, which this kernel lacks (compares equal to EOPNOTSUPP).
inline std::error_code feature_error(std::uint32_t cmd_op, unsigned bit) noexcept {
  return {detail::pack(cmd_op, EOPNOTSUPP, static_cast<int>(bit)), ublk_category()};
}
/// A command error as the kernel's errno, for when the category does not matter.
inline int command_errno(const std::error_code& ec) noexcept {
  return ec.category() == ublk_category() ? detail::err_of(ec.value()) : -to_errno(ec);
}

}  // namespace uringcmd::ublk
