// SPDX-License-Identifier: MIT
// The running kernel's version, for tests of features that appeared in a given release.
#pragma once

#include <sys/utsname.h>

#include <cstdio>

namespace uc_test {

/// Whether the running kernel is `major.minor` or newer (from uname -r, e.g. "7.2.13+deb14-amd64").
inline bool kernel_at_least(int major, int minor) {
  utsname u{};
  int ma = 0, mi = 0;
  return ::uname(&u) == 0 && std::sscanf(u.release, "%d.%d", &ma, &mi) == 2 && (ma > major || (ma == major && mi >= minor));
}

}  // namespace uc_test
