// SPDX-License-Identifier: MIT
// UC_SKIP(reason): leave a test case that cannot run here. CTest shows it as skipped through the
// "UC-SKIP:" marker; in CI (CI=true) a skip is a failure, because CI must have every prerequisite.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <doctest/doctest.h>

namespace uc_test {
inline bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci && (std::strcmp(ci, "true") == 0 || std::strcmp(ci, "1") == 0);
}
}  // namespace uc_test

#define UC_SKIP(reason)                                           \
  do {                                                            \
    if (uc_test::in_ci()) FAIL("prerequisite missing in CI: " << (reason)); \
    std::printf("UC-SKIP: %s\n", (reason));                       \
    return;                                                       \
  } while (0)
