// SPDX-License-Identifier: MIT
// UC_SKIP(reason): leave a test case that cannot run here. CTest shows it as skipped through the
// "UC-SKIP:" marker; in CI (support/ci.hpp) a skip is a failure, because CI must have every
// prerequisite.
#pragma once

#include <cstdio>

#include <doctest/doctest.h>

#include "ci.hpp"

#define UC_SKIP(reason)                                           \
  do {                                                            \
    if (uc_test::in_ci()) FAIL("prerequisite missing in CI: " << (reason)); \
    std::printf("UC-SKIP: %s\n", (reason));                       \
    return;                                                       \
  } while (0)
