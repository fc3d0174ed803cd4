// SPDX-License-Identifier: MIT
// Build configuration and the io_uring UAPI constants that older liburing headers lack.
#pragma once

#include <liburing.h>

// Debian 12 ships liburing 2.3, whose io_uring.h predates several kernel additions we use.
// Values are the kernel's UAPI; each is defined only where the header has none.
#ifndef IORING_SETUP_NO_MMAP
#define IORING_SETUP_NO_MMAP (1U << 14)
#endif
#ifndef IORING_SETUP_REGISTERED_FD_ONLY
#define IORING_SETUP_REGISTERED_FD_ONLY (1U << 15)
#endif
#ifndef IORING_SETUP_NO_SQARRAY
#define IORING_SETUP_NO_SQARRAY (1U << 16)
#endif
#ifndef IORING_SETUP_HYBRID_IOPOLL
#define IORING_SETUP_HYBRID_IOPOLL (1U << 17)
#endif
#ifndef IORING_SETUP_CQE_MIXED
#define IORING_SETUP_CQE_MIXED (1U << 18)
#endif
#ifndef IORING_SETUP_SQE_MIXED
#define IORING_SETUP_SQE_MIXED (1U << 19)
#endif
#ifndef IORING_FEAT_REG_REG_RING
#define IORING_FEAT_REG_REG_RING (1U << 13)
#endif

namespace uringcmd {

/// Version of the headers, for diagnostics.
inline constexpr const char* version_string = "0.1.0";

/// Size of the command area of an SQE: 16 bytes in a 64-byte SQE, 80 in a 128-byte one.
inline constexpr unsigned small_cmd_size = 16;
inline constexpr unsigned big_cmd_size = 80;

/// `cmd_op` values of generic uring_cmd targets that liburing 2.3 does not name.
namespace cmd_ops {
inline constexpr unsigned socket_siocinq = 0;   // SOCKET_URING_OP_SIOCINQ (6.7)
inline constexpr unsigned socket_siocoutq = 1;  // SOCKET_URING_OP_SIOCOUTQ (6.7)
inline constexpr unsigned block_discard = 0x1200;  // BLOCK_URING_CMD_DISCARD = _IO(0x12, 0) (6.12)
}  // namespace cmd_ops

}  // namespace uringcmd
