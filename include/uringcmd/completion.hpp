// SPDX-License-Identifier: MIT
// completion: a copy of a CQE, taken before the CQ head moves (the kernel may reuse the slot).
#pragma once

#include <cstdint>

#include <liburing.h>

namespace uringcmd {

struct completion {
  std::int32_t res = 0;
  std::uint32_t flags = 0;
  /// big_cqe[0] ("res2") and big_cqe[1] of a 32-byte CQE; zero on a ring without CQE32.
  std::uint64_t extra[2] = {0, 0};

  static completion from(const io_uring_cqe& cqe, bool big) noexcept {
    completion c{};
    c.res = cqe.res;
    c.flags = cqe.flags;
    if (big) {
      c.extra[0] = cqe.big_cqe[0];
      c.extra[1] = cqe.big_cqe[1];
    }
    return c;
  }
  bool more() const noexcept { return flags & IORING_CQE_F_MORE; }
};

}  // namespace uringcmd
