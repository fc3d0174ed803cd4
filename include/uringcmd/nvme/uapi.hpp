// SPDX-License-Identifier: MIT
// struct nvme_uring_cmd (linux/nvme_ioctl.h, Linux 5.19+): the 72-byte NVMe passthrough command
// that IORING_OP_URING_CMD carries in the 80-byte command area of a 128-byte SQE, and the four
// cmd_op values. Defined here, layout-identical to the kernel's, so that this header pulls no
// kernel header into the global namespace; tests/unit/nvme_passthru_prep_test.cpp checks every
// offset and cmd_op against <linux/nvme_ioctl.h>.
//
// Where each command goes (anchors §3.1.8, research/vm/REPORT.md): IO and IO_VEC to the
// namespace's generic character device /dev/ngXnY (nsid must be that namespace's, else EINVAL);
// ADMIN and ADMIN_VEC to the controller node /dev/nvmeX (/dev/ngXnY answers them ENOTTY). Block
// device nodes (/dev/nvmeXnY) refuse NVMe uring_cmds. The ring must be SQE128|CQE32.
#pragma once

#include <cstddef>
#include <cstdint>

namespace uringcmd::nvme {

/// The kernel's struct nvme_uring_cmd: the user-settable dwords of the 64-byte NVMe submission
/// queue entry, plus the buffers and the timeout. The kernel fills command_id, PRP/SGL and PSDT.
struct nvme_uring_cmd {
  std::uint8_t opcode = 0;
  std::uint8_t flags = 0;  ///< FUSE and PSDT; Linux refuses anything but 0 (EINVAL)
  std::uint16_t rsvd1 = 0;
  std::uint32_t nsid = 0;
  std::uint32_t cdw2 = 0;
  std::uint32_t cdw3 = 0;
  std::uint64_t metadata = 0;  ///< metadata buffer address (separate-buffer metadata only)
  std::uint64_t addr = 0;      ///< data buffer address, or the iovec array's for the _VEC commands
  std::uint32_t metadata_len = 0;
  std::uint32_t data_len = 0;  ///< bytes, or the number of iovecs for the _VEC commands
  std::uint32_t cdw10 = 0;
  std::uint32_t cdw11 = 0;
  std::uint32_t cdw12 = 0;
  std::uint32_t cdw13 = 0;
  std::uint32_t cdw14 = 0;
  std::uint32_t cdw15 = 0;
  std::uint32_t timeout_ms = 0;  ///< 0: the driver's default (nvme_core admin_timeout / io_timeout)
  std::uint32_t rsvd2 = 0;
};
static_assert(sizeof(nvme_uring_cmd) == 72, "nvme_uring_cmd is 72 bytes");
static_assert(offsetof(nvme_uring_cmd, opcode) == 0);
static_assert(offsetof(nvme_uring_cmd, flags) == 1);
static_assert(offsetof(nvme_uring_cmd, rsvd1) == 2);
static_assert(offsetof(nvme_uring_cmd, nsid) == 4);
static_assert(offsetof(nvme_uring_cmd, cdw2) == 8);
static_assert(offsetof(nvme_uring_cmd, cdw3) == 12);
static_assert(offsetof(nvme_uring_cmd, metadata) == 16);
static_assert(offsetof(nvme_uring_cmd, addr) == 24);
static_assert(offsetof(nvme_uring_cmd, metadata_len) == 32);
static_assert(offsetof(nvme_uring_cmd, data_len) == 36);
static_assert(offsetof(nvme_uring_cmd, cdw10) == 40);
static_assert(offsetof(nvme_uring_cmd, cdw15) == 60);
static_assert(offsetof(nvme_uring_cmd, timeout_ms) == 64);
static_assert(offsetof(nvme_uring_cmd, rsvd2) == 68);

namespace uapi_detail {
// _IOWR(type, nr, size) of asm-generic/ioctl.h: dir (read|write = 3) in bits 31:30, size in 29:16,
// type in 15:8, nr in 7:0.
constexpr std::uint32_t iowr(char type, std::uint32_t nr, std::size_t size) noexcept {
  return (3U << 30) | (static_cast<std::uint32_t>(size) << 16) | (static_cast<std::uint32_t>(type) << 8) | nr;
}
}  // namespace uapi_detail

/// cmd_op values (sqe->cmd_op) of NVMe passthrough.
namespace cmd_op {
/// NVME_URING_CMD_IO = _IOWR('N', 0x80, struct nvme_uring_cmd): an I/O command, on /dev/ngXnY.
inline constexpr std::uint32_t io = uapi_detail::iowr('N', 0x80, sizeof(nvme_uring_cmd));
/// NVME_URING_CMD_IO_VEC (0x81): as io, with addr/data_len an iovec array and its count.
inline constexpr std::uint32_t io_vec = uapi_detail::iowr('N', 0x81, sizeof(nvme_uring_cmd));
/// NVME_URING_CMD_ADMIN (0x82): an admin command, on /dev/nvmeX.
inline constexpr std::uint32_t admin = uapi_detail::iowr('N', 0x82, sizeof(nvme_uring_cmd));
/// NVME_URING_CMD_ADMIN_VEC (0x83): as admin, with an iovec array.
inline constexpr std::uint32_t admin_vec = uapi_detail::iowr('N', 0x83, sizeof(nvme_uring_cmd));
}  // namespace cmd_op
static_assert(cmd_op::io == 0xC0484E80U);

/// NSID 0xFFFFFFFF: every namespace (e.g. the controller-wide SMART / Health log).
inline constexpr std::uint32_t nsid_all = 0xFFFFFFFFU;

}  // namespace uringcmd::nvme
