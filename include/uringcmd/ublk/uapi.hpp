// SPDX-License-Identifier: MIT
// The ublk UAPI (linux/ublk_cmd.h) as far as uringcmd uses it. Debian 12's header is from 6.1 and
// lacks GET_FEATURES and every later flag, so the layout is defined here from the kernel's UAPI.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace uringcmd::ublk {

/// Payload of every control command on /dev/ublk-control (ring must be SQE128).
struct ctrl_cmd {
  std::uint32_t dev_id = ~0u;
  std::uint16_t queue_id = 0xffff;
  std::uint16_t len = 0;
  std::uint64_t addr = 0;
  std::uint64_t data[1] = {0};
  std::uint16_t dev_path_len = 0;
  std::uint16_t pad = 0;
  std::uint32_t reserved = 0;
};
static_assert(sizeof(ctrl_cmd) == 32);

namespace detail {
// _IOC(dir, 'u', nr, size) as the kernel encodes it.
constexpr std::uint32_t ioc(std::uint32_t dir, std::uint32_t nr, std::uint32_t size) {
  return (dir << 30) | (size << 16) | (std::uint32_t{'u'} << 8) | nr;
}
constexpr std::uint32_t ior(std::uint32_t nr) { return ioc(2, nr, sizeof(ctrl_cmd)); }
constexpr std::uint32_t iowr(std::uint32_t nr) { return ioc(3, nr, sizeof(ctrl_cmd)); }
}  // namespace detail

/// Ioctl-encoded control opcodes (UBLK_U_CMD_*; the legacy raw numbers are not used).
namespace cmd {
inline constexpr std::uint32_t get_queue_affinity = detail::ior(0x01);
inline constexpr std::uint32_t get_dev_info = detail::ior(0x02);
inline constexpr std::uint32_t add_dev = detail::iowr(0x04);
inline constexpr std::uint32_t del_dev = detail::iowr(0x05);
inline constexpr std::uint32_t start_dev = detail::iowr(0x06);
inline constexpr std::uint32_t stop_dev = detail::iowr(0x07);
inline constexpr std::uint32_t set_params = detail::iowr(0x08);
inline constexpr std::uint32_t get_params = detail::ior(0x09);
inline constexpr std::uint32_t get_dev_info2 = detail::ior(0x12);
inline constexpr std::uint32_t get_features = detail::ior(0x13);  // 6.5+
inline constexpr std::uint32_t del_dev_async = detail::ioc(1, 0x14, sizeof(ctrl_cmd));
}  // namespace cmd

/// GET_FEATURES writes exactly this many bytes (a u64 mask) to ctrl_cmd::addr.
inline constexpr std::uint16_t features_len = 8;

/// UBLK_F_* names by bit number.
inline constexpr std::array<std::string_view, 21> feature_names = {
    "SUPPORT_ZERO_COPY",  "URING_CMD_COMP_IN_TASK", "NEED_GET_DATA",   "USER_RECOVERY",
    "USER_RECOVERY_REISSUE", "UNPRIVILEGED_DEV",    "CMD_IOCTL_ENCODE", "USER_COPY",
    "ZONED",              "USER_RECOVERY_FAIL_IO",  "UPDATE_SIZE",     "AUTO_BUF_REG",
    "QUIESCE",            "PER_IO_DAEMON",          "BUF_REG_OFF_DAEMON", "BATCH_IO",
    "INTEGRITY",          "SAFE_STOP_DEV",          "NO_AUTO_PART_SCAN", "SHMEM_ZC",
    "IO_DESC_SIZE"};

}  // namespace uringcmd::ublk
