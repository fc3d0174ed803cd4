// SPDX-License-Identifier: MIT
// The baseline: raw liburing, written the way a C programmer would (no uringcmd headers).
#pragma once

#include <cstdint>

#include <liburing.h>

namespace uc_bench {

struct baseline_result {
  std::uint64_t completed = 0;
  std::uint64_t bad = 0;  ///< CQEs whose res differed from the expected value
  int enter_error = 0;    ///< negative errno from io_uring_submit_and_wait, 0 if none
};

/// Refill loop over IORING_OP_NOP: prep `depth` NOPs, then io_uring_submit_and_wait(1), reap
/// every ready CQE with io_uring_for_each_cqe + io_uring_cq_advance, re-prep that many, until
/// `n` have completed. Expected res: 0.
baseline_result baseline_nop(io_uring* ring, unsigned depth, std::uint64_t n);

/// The same loop over IORING_OP_URING_CMD / SOCKET_URING_OP_SIOCINQ on socket `fd`, prepped by
/// hand (liburing 2.3 has no helper): io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, NULL, 0, 0);
/// sqe->cmd_op = 0. Each CQE's res must equal `expected` (the bytes queued on the socket).
baseline_result baseline_siocinq(io_uring* ring, int fd, unsigned depth, std::uint64_t n, int expected);

}  // namespace uc_bench
