// SPDX-License-Identifier: MIT
// Kernel features and the first Linux release that has each: one table, read by the library's
// named errors, the capability probe (probe.hpp, uringcmd-probe --json), the tests' skips and
// docs/compatibility.md (scripts/gen-compatibility reads the probe's JSON).
//
// An error for a missing feature names it and the kernel that has it ("socket uring_cmd: needs
// Linux 6.7; this kernel is 6.1.0-37-amd64") and still compares equal to
// std::errc::operation_not_supported, so callers written against the bare errno keep working.
#pragma once

#include <sys/utsname.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <system_error>

#include <liburing.h>

#include <uringcmd/detail/uapi_compat.hpp>

namespace uringcmd {

/// A kernel feature uringcmd uses. Values start at 1: 0 is "no error" in a std::error_code.
enum class feature : std::uint8_t {
  setup_r_disabled = 1,
  setup_submit_all,
  setup_coop_taskrun,
  setup_sqe128,
  setup_cqe32,
  setup_single_issuer,
  setup_defer_taskrun,
  setup_no_sqarray,
  setup_cqe_mixed,
  setup_sqe_mixed,
  uring_cmd,
  msg_ring,
  registered_ring_fd,
  poll_multishot,
  accept_multishot,
  read_multishot,
  socket_uring_cmd,
  nvme_passthrough,
  block_discard,
  bsg_uring_cmd,
  ublk,
};

struct feature_info {
  feature id;
  std::string_view key;    ///< stable name in JSON and docs ("socket_uring_cmd")
  std::string_view name;   ///< what messages call it ("socket uring_cmd")
  std::string_view since;  ///< the first Linux release that has it ("6.7")
  std::uint32_t setup_flag = 0;  ///< the IORING_SETUP_* bit, for ring setup flags
};

/// Every feature, in enum order (feature_table[f - 1] describes f).
inline constexpr std::array<feature_info, 21> feature_table = {{
    {feature::setup_r_disabled, "setup_r_disabled", "IORING_SETUP_R_DISABLED", "5.10", IORING_SETUP_R_DISABLED},
    {feature::setup_submit_all, "setup_submit_all", "IORING_SETUP_SUBMIT_ALL", "5.18", IORING_SETUP_SUBMIT_ALL},
    {feature::setup_coop_taskrun, "setup_coop_taskrun", "IORING_SETUP_COOP_TASKRUN", "5.19", IORING_SETUP_COOP_TASKRUN},
    {feature::setup_sqe128, "setup_sqe128", "IORING_SETUP_SQE128", "5.19", IORING_SETUP_SQE128},
    {feature::setup_cqe32, "setup_cqe32", "IORING_SETUP_CQE32", "5.19", IORING_SETUP_CQE32},
    {feature::setup_single_issuer, "setup_single_issuer", "IORING_SETUP_SINGLE_ISSUER", "6.0", IORING_SETUP_SINGLE_ISSUER},
    {feature::setup_defer_taskrun, "setup_defer_taskrun", "IORING_SETUP_DEFER_TASKRUN", "6.1", IORING_SETUP_DEFER_TASKRUN},
    {feature::setup_no_sqarray, "setup_no_sqarray", "IORING_SETUP_NO_SQARRAY", "6.6", IORING_SETUP_NO_SQARRAY},
    {feature::setup_cqe_mixed, "setup_cqe_mixed", "IORING_SETUP_CQE_MIXED", "6.18", IORING_SETUP_CQE_MIXED},
    {feature::setup_sqe_mixed, "setup_sqe_mixed", "IORING_SETUP_SQE_MIXED", "6.19", IORING_SETUP_SQE_MIXED},
    {feature::uring_cmd, "uring_cmd", "IORING_OP_URING_CMD", "5.19"},
    {feature::msg_ring, "msg_ring", "IORING_OP_MSG_RING", "5.18"},
    {feature::registered_ring_fd, "registered_ring_fd", "registered ring fd (IORING_REGISTER_RING_FDS)", "5.18"},
    {feature::poll_multishot, "poll_multishot", "multishot poll (IORING_POLL_ADD_MULTI)", "5.13"},
    {feature::accept_multishot, "accept_multishot", "multishot accept (IORING_ACCEPT_MULTISHOT)", "5.19"},
    {feature::read_multishot, "read_multishot", "IORING_OP_READ_MULTISHOT", "6.7"},
    {feature::socket_uring_cmd, "socket_uring_cmd", "socket uring_cmd", "6.7"},
    {feature::nvme_passthrough, "nvme_passthrough", "NVMe passthrough uring_cmd (/dev/ngXnY, /dev/nvmeX)", "5.19"},
    {feature::block_discard, "block_discard", "BLOCK_URING_CMD_DISCARD", "6.12"},
    {feature::bsg_uring_cmd, "bsg_uring_cmd", "SCSI BSG uring_cmd", "7.1"},
    {feature::ublk, "ublk", "ublk (ublk_drv, /dev/ublk-control)", "6.0"},
}};

constexpr const feature_info& info_of(feature f) noexcept { return feature_table[static_cast<std::size_t>(f) - 1]; }

namespace detail {
/// "6.7" or "6.1.0-37-amd64" as major * 1000 + minor (6007); 0 when unreadable.
constexpr unsigned kernel_version_number(std::string_view release) noexcept {
  unsigned part[2] = {0, 0};
  std::size_t i = 0;
  for (unsigned& p : part) {
    if (i >= release.size() || release[i] < '0' || release[i] > '9') return 0;
    while (i < release.size() && release[i] >= '0' && release[i] <= '9') p = p * 10 + unsigned(release[i++] - '0');
    if (&p == &part[0] && (i >= release.size() || release[i++] != '.')) return 0;
  }
  return part[0] * 1000 + part[1];
}

/// The running kernel's release (uname -r), read once.
inline const char* kernel_release() noexcept {
  static const utsname u = [] {
    utsname v{};
    if (::uname(&v) != 0) std::strcpy(v.release, "unknown");
    return v;
  }();
  return u.release;
}
}  // namespace detail

/// Whether the running kernel's release is older than the one that brought `f`. The library asks
/// this only to name an error the kernel already returned; tests ask the probe (capabilities).
inline bool kernel_predates(feature f) noexcept {
  const unsigned running = detail::kernel_version_number(detail::kernel_release());
  return running != 0 && running < detail::kernel_version_number(info_of(f).since);
}

/// "socket uring_cmd: needs Linux 6.7; this kernel is 6.1.0-37-amd64".
inline std::string feature_message(feature f) {
  const feature_info& i = info_of(f);
  return std::string(i.name) + ": needs Linux " + std::string(i.since) + "; this kernel is " + detail::kernel_release();
}

/// Why the probe found `f` absent: feature_message() on a kernel older than the feature; on a newer
/// one, a build that left it out (Debian's 6.1 has no ublk_drv): "ublk (...): not in this kernel's
/// build (Linux 6.0+ has it); this kernel is 6.1.0-37-amd64".
inline std::string absent_feature_message(feature f) {
  if (kernel_predates(f)) return feature_message(f);
  const feature_info& i = info_of(f);
  return std::string(i.name) + ": not in this kernel's build (Linux " + std::string(i.since) + "+ has it); this kernel is " +
         detail::kernel_release();
}

namespace detail {
class feature_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "uringcmd.feature"; }
  std::string message(int ev) const override {
    if (ev < 1 || ev > static_cast<int>(feature_table.size())) return "unknown kernel feature " + std::to_string(ev);
    return feature_message(static_cast<feature>(ev));
  }
  // What existing callers test for: the kernel's answer was EOPNOTSUPP/EINVAL, i.e. not supported.
  std::error_condition default_error_condition(int) const noexcept override {
    return std::make_error_condition(std::errc::operation_not_supported);
  }
};
}  // namespace detail

inline const std::error_category& feature_category() noexcept {
  static const detail::feature_category_impl instance;
  return instance;
}

/// The error for "this kernel lacks `f`" (uringcmd.feature category).
inline std::error_code make_error_code(feature f) noexcept { return {static_cast<int>(f), feature_category()}; }

/// `ec` as the kernel returned it, or `f`'s named error when it is EOPNOTSUPP or EINVAL (what a
/// kernel without a feature answers) on a kernel older than the one that brought `f`.
inline std::error_code name_missing_feature(std::error_code ec, feature f) noexcept {
  const bool refusal = ec.category() == std::system_category() && (ec.value() == EOPNOTSUPP || ec.value() == EINVAL);
  return refusal && kernel_predates(f) ? make_error_code(f) : ec;
}

/// Whether the kernel sets up a (4-entry) ring with exactly `flags`.
inline bool kernel_accepts_setup_flags(std::uint32_t flags) noexcept {
  io_uring ring;
  io_uring_params p{};
  p.flags = flags;
  if (io_uring_queue_init_params(4, &ring, &p) < 0) return false;
  io_uring_queue_exit(&ring);
  return true;
}

/// Which of `flags` the kernel refuses on its own (the first in the table's order), tried one
/// ring each; 0 when it takes each of them. What an io_uring_setup EINVAL is then about.
inline feature refused_setup_flag(std::uint32_t flags) noexcept {
  for (const feature_info& i : feature_table) {
    if (!i.setup_flag || !(flags & i.setup_flag)) continue;
    // DEFER_TASKRUN is refused without SINGLE_ISSUER on every kernel.
    const std::uint32_t with = i.id == feature::setup_defer_taskrun ? IORING_SETUP_SINGLE_ISSUER : 0;
    if (!kernel_accepts_setup_flags(i.setup_flag | with)) return i.id;
  }
  return feature{};
}

}  // namespace uringcmd

template <>
struct std::is_error_code_enum<uringcmd::feature> : std::true_type {};
