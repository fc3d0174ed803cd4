// SPDX-License-Identifier: MIT
// What every SCSI transport (BSG io_uring, the sg fallback) takes and gives back: the data
// direction, per-command options, and the SCSI-level reply.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include <uringcmd/scsi/uapi.hpp>

namespace uringcmd::scsi {

/// Which way the data goes (BSG has no BIDI).
enum class data_dir : std::uint8_t { none, from_device, to_device };

/// The SCSI-level outcome of a command the kernel carried out.
struct reply {
  std::uint8_t status = 0;       ///< SAM status: 0x00 GOOD, 0x02 CHECK CONDITION, 0x08 BUSY...
  std::uint8_t host = 0;         ///< host byte (DID_OK 0, DID_TIME_OUT 3, ...)
  std::uint8_t driver = 0;       ///< driver byte (DRIVER_SENSE 0x08 with CHECK CONDITION)
  std::uint8_t sense_len = 0;    ///< bytes of sense in sense_buf
  std::uint32_t residual = 0;    ///< bytes of the data buffer that were not transferred
  std::uint32_t requested = 0;   ///< the data length that was asked for
  std::array<std::uint8_t, max_sense_size> sense_buf{};

  /// GOOD status from a healthy transport. A residual is a short transfer, not an error.
  bool good() const noexcept { return status == 0 && host == 0; }
  std::uint32_t transferred() const noexcept { return residual < requested ? requested - residual : 0; }
  std::span<const std::uint8_t> sense() const noexcept { return {sense_buf.data(), sense_len}; }
};

struct command_options {
  /// The command's deadline, enforced by the SCSI midlayer (0: its default, 60 s). Commands over
  /// BSG cannot be cancelled, so this is the only bound on how long they take.
  std::uint32_t timeout_ms = 60'000;
  /// The data buffer lies inside registered buffer `fixed_buffer` (IORING_URING_CMD_FIXED).
  std::optional<std::uint16_t> fixed_buffer;
};

}  // namespace uringcmd::scsi
