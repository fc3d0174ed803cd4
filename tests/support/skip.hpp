// SPDX-License-Identifier: MIT
// UC_SKIP(reason): leave a test case that cannot run here. CTest shows it as skipped through the
// "UC-SKIP:" marker; in CI (support/ci.hpp) a skip is a failure, because CI must have every
// prerequisite.
#pragma once

#include <sys/utsname.h>

#include <cstdio>
#include <string>

#include <uringcmd/probe.hpp>

#include <doctest/doctest.h>

#include "ci.hpp"

#define UC_SKIP(reason)                                           \
  do {                                                            \
    if (uc_test::in_ci()) FAIL("prerequisite missing in CI: " << (reason)); \
    std::printf("UC-SKIP: %s\n", (reason));                       \
    return;                                                       \
  } while (0)

namespace uc_test {
/// The running kernel's capabilities, probed once per test binary.
inline const uringcmd::capabilities& kernel_caps() {
  static const uringcmd::capabilities caps = uringcmd::capabilities::probe();
  return caps;
}
}  // namespace uc_test

// UC_REQUIRE_FEATURE(f): leave a test case whose uringcmd::feature the capability probe says this
// kernel lacks, with the library's own message for it ("socket uring_cmd: needs Linux 6.7; this
// kernel is 6.1.0-37-amd64", from the one table in feature.hpp). Not a failure in CI, like below.
// UC_REQUIRE_FEATURE_IF(present, f): the same for a feature the kernel probe alone cannot tell (a
// device driver's, capabilities::has gives std::nullopt), whose presence the test found out.
#define UC_REQUIRE_FEATURE_IF(present, f)                                   \
  do {                                                                      \
    if (!(present)) {                                                       \
      std::printf("UC-SKIP: %s\n", uringcmd::absent_feature_message(f).c_str()); \
      return;                                                               \
    }                                                                       \
  } while (0)
#define UC_REQUIRE_FEATURE(f) UC_REQUIRE_FEATURE_IF(uc_test::kernel_caps().has(f).value_or(false), f)

// UC_REQUIRE_KERNEL_FEATURE(present, what, since): leave a test case that needs a kernel feature
// the capability probe says is absent, naming the feature and the kernel that has it. Not a
// failure in CI: the kernel lacks the feature; nothing is missing from the machine.
#define UC_REQUIRE_KERNEL_FEATURE(present, what, since)                                            \
  do {                                                                                              \
    if (!(present)) {                                                                               \
      std::printf("UC-SKIP: %s: needs Linux %s; this kernel is %s\n", (what), (since),             \
                  uc_test::kernel_caps().kernel_release.c_str());                                   \
      return;                                                                                       \
    }                                                                                               \
  } while (0)
