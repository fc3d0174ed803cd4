// SPDX-License-Identifier: MIT
// fd_ref: the file an op works on, a plain descriptor or a slot of the registered file table.
#pragma once

#include <liburing.h>

namespace uringcmd {

/// A file descriptor, or an index into the registered file table (executor::register_files).
struct fd_ref {
  int fd;
  bool fixed = false;
  fd_ref(int f) noexcept : fd(f) {}  // NOLINT: implicit from a plain fd on purpose
  fd_ref(int f, bool is_fixed) noexcept : fd(f), fixed(is_fixed) {}
  void apply(io_uring_sqe& sqe) const noexcept {
    if (fixed) sqe.flags |= IOSQE_FIXED_FILE;
  }
};
/// Refers to slot `index` of the registered file table.
inline fd_ref fixed_file(int index) noexcept { return {index, true}; }

}  // namespace uringcmd
