// SPDX-License-Identifier: MIT
// io_uring UAPI constants that older liburing headers lack.
#pragma once

#include <liburing.h>

// UC_LIBURING_AT_LEAST(2, 4): the liburing we build against is that version or newer, so its own
// helpers replace our hand-written ones. 2.3 has no version header: 0 there.
#ifdef IO_URING_VERSION_MAJOR
#define UC_LIBURING_AT_LEAST(major, minor) \
  (IO_URING_VERSION_MAJOR > (major) || (IO_URING_VERSION_MAJOR == (major) && IO_URING_VERSION_MINOR >= (minor)))
#else
#define UC_LIBURING_AT_LEAST(major, minor) 0
#endif

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
