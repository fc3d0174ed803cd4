// SPDX-License-Identifier: MIT
// Raw liburing refill loops in plain C style: the yardstick uringcmd is measured against.
#include "baseline.hpp"

#include <cerrno>

namespace uc_bench {
namespace {

enum { kind_nop, kind_siocinq };

// Force-inlined with a constant `kind`, so each public function is one straight C loop.
__attribute__((always_inline)) inline void prep_one(io_uring* ring, int kind, int fd) {
  io_uring_sqe* sqe = io_uring_get_sqe(ring);
  if (kind == kind_nop) {
    io_uring_prep_nop(sqe);
  } else {
    io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, nullptr, 0, 0);
    sqe->cmd_op = 0; /* SOCKET_URING_OP_SIOCINQ; after prep_rw, which zeroes off/__pad1 */
  }
  sqe->user_data = 1;
}

__attribute__((always_inline)) inline baseline_result refill_loop(io_uring* ring, int kind, int fd,
                                                                  unsigned depth, std::uint64_t n,
                                                                  int expected) {
  baseline_result out;
  std::uint64_t submitted = 0;
  const std::uint64_t first = depth < n ? depth : n;
  for (std::uint64_t i = 0; i < first; ++i) prep_one(ring, kind, fd);
  submitted = first;

  while (out.completed < n) {
    int r = io_uring_submit_and_wait(ring, 1);
    if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY && r != -ETIME) {
      out.enter_error = r;
      break;
    }
    unsigned head;
    unsigned seen = 0;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(ring, head, cqe) {
      if (cqe->res != expected) ++out.bad;
      ++seen;
    }
    io_uring_cq_advance(ring, seen);
    out.completed += seen;

    std::uint64_t refill = n - submitted;
    if (refill > seen) refill = seen;
    for (std::uint64_t i = 0; i < refill; ++i) prep_one(ring, kind, fd);
    submitted += refill;
  }
  return out;
}

}  // namespace

baseline_result baseline_nop(io_uring* ring, unsigned depth, std::uint64_t n) {
  return refill_loop(ring, kind_nop, -1, depth, n, 0);
}

baseline_result baseline_siocinq(io_uring* ring, int fd, unsigned depth, std::uint64_t n, int expected) {
  return refill_loop(ring, kind_siocinq, fd, depth, n, expected);
}

}  // namespace uc_bench
