// SPDX-License-Identifier: MIT
// struct bsg_uring_cmd (linux/bsg.h, Linux 7.1+): SCSI passthrough through IORING_OP_URING_CMD on
// /dev/bsg/H:C:T:L. Debian 12's header predates it, so the layout is defined here; it matches the
// merged v8 ABI (the earlier drafts had a `flags` field and are incompatible).
#pragma once

#include <cstddef>
#include <cstdint>

namespace uringcmd::scsi {

inline constexpr std::uint32_t bsg_protocol_scsi = 0;          // BSG_PROTOCOL_SCSI
inline constexpr std::uint32_t bsg_sub_protocol_scsi_cmd = 0;  // BSG_SUB_PROTOCOL_SCSI_CMD
inline constexpr std::size_t max_cdb_size = 32;                // scmd->cmnd
inline constexpr std::size_t max_sense_size = 96;              // SCSI_SENSE_BUFFERSIZE

struct bsg_uring_cmd {
  std::uint64_t request = 0;          // CDB address
  std::uint32_t request_len = 0;      // CDB length, 1..32
  std::uint32_t protocol = 0;         // BSG_PROTOCOL_SCSI
  std::uint32_t subprotocol = 0;      // BSG_SUB_PROTOCOL_SCSI_CMD
  std::uint32_t max_response_len = 0; // sense buffer size
  std::uint64_t response = 0;         // sense buffer address
  std::uint64_t dout_xferp = 0;
  std::uint32_t dout_xfer_len = 0;
  std::uint32_t dout_iovec_count = 0; // must be 0
  std::uint64_t din_xferp = 0;
  std::uint32_t din_xfer_len = 0;
  std::uint32_t din_iovec_count = 0;  // must be 0
  std::uint32_t timeout_ms = 0;       // 0: the block layer's default
  std::uint8_t reserved[12] = {};
};
static_assert(sizeof(bsg_uring_cmd) == 80, "bsg_uring_cmd fills the 80-byte command area");

/// Fields of res2 (big_cqe[0]) of a BSG uring_cmd completion.
struct bsg_res2 {
  std::uint64_t raw;
  std::uint8_t device_status() const noexcept { return static_cast<std::uint8_t>(raw); }
  std::uint8_t driver_status() const noexcept { return static_cast<std::uint8_t>(raw >> 8); }
  std::uint8_t host_status() const noexcept { return static_cast<std::uint8_t>(raw >> 16); }
  std::uint8_t sense_len() const noexcept { return static_cast<std::uint8_t>(raw >> 24); }
  std::uint32_t resid_len() const noexcept { return static_cast<std::uint32_t>(raw >> 32); }
};

}  // namespace uringcmd::scsi
