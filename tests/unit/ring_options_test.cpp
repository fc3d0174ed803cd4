// SPDX-License-Identifier: MIT
// ring_options -> IORING_SETUP_* bits, and the names used in error messages and reports.
#include <string>

#include <doctest/doctest.h>

#include <uringcmd/ring_options.hpp>

using namespace uringcmd;

TEST_CASE("setup_flag_names lists every bit in order") {
  CHECK(setup_flag_names(0) == "none");
  CHECK(setup_flag_names(IORING_SETUP_SQE128) == "SQE128");
  CHECK(setup_flag_names(IORING_SETUP_SQE128 | IORING_SETUP_CQE32) == "SQE128|CQE32");
  CHECK(setup_flag_names(IORING_SETUP_IOPOLL | IORING_SETUP_DEFER_TASKRUN) == "IOPOLL|DEFER_TASKRUN");
  CHECK(setup_flag_names(IORING_SETUP_SQE_MIXED) == "SQE_MIXED");
  // Bits the table does not know are still shown, never dropped.
  CHECK(setup_flag_names(1U << 30) == "bit30");
  CHECK(setup_flag_names((1U << 31) | IORING_SETUP_CQSIZE) == "CQSIZE|bit31");
}

TEST_CASE("default ring_options: SINGLE_ISSUER|DEFER_TASKRUN and SUBMIT_ALL, no big entries") {
  ring_options o;
  const auto f = o.setup_flags();
  CHECK((f & IORING_SETUP_SINGLE_ISSUER) != 0);
  CHECK((f & IORING_SETUP_DEFER_TASKRUN) != 0);
  CHECK((f & IORING_SETUP_COOP_TASKRUN) == 0);  // meaningless with DEFER_TASKRUN
  CHECK((f & IORING_SETUP_SUBMIT_ALL) != 0);
  CHECK((f & (IORING_SETUP_SQE128 | IORING_SETUP_CQE32 | IORING_SETUP_CQSIZE)) == 0);
}

TEST_CASE("ring_options maps each field to its flag") {
  ring_options o;
  o.defer_taskrun = false;
  CHECK(o.setup_flags() == (IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL));
  o.coop_taskrun = false;
  o.submit_all = false;
  CHECK(o.setup_flags() == 0);
  o.cq_entries = 1024;
  CHECK(o.setup_flags() == IORING_SETUP_CQSIZE);
  o.extra_flags = IORING_SETUP_NO_SQARRAY;
  CHECK(o.setup_flags() == (IORING_SETUP_CQSIZE | IORING_SETUP_NO_SQARRAY));

  auto p = ring_options::passthrough(64);
  CHECK(p.entries == 64);
  CHECK((p.setup_flags() & (IORING_SETUP_SQE128 | IORING_SETUP_CQE32)) == (IORING_SETUP_SQE128 | IORING_SETUP_CQE32));
}
