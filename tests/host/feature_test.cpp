// SPDX-License-Identifier: MIT
// The library's named errors for missing kernel features, on the real kernel: each case checks
// the working path where the probe finds the feature and the named error where it does not, so it
// tests both across the kernel matrix (tests/vm: 6.1, 6.12, 7.2, 7.3).
#include <sys/socket.h>

#include <ostream>
#include <string>
#include <system_error>

#include <doctest/doctest.h>

#include "support/skip.hpp"
#include "support/tcp_pair.hpp"

#include <uringcmd/uringcmd.hpp>

using namespace uringcmd;

TEST_CASE("a ring with a setup flag this kernel lacks fails naming the flag and the kernel that has it") {
  const capabilities& caps = uc_test::kernel_caps();
  for (const feature_info& f : feature_table) {
    // NO_SQARRAY: liburing 2.3 fills the SQ array that the flag removes, so no ring of ours uses it.
    if (!f.setup_flag || f.id == feature::setup_no_sqarray) continue;
    CAPTURE(f.key);
    ring_options o;
    o.extra_flags = f.setup_flag;
    if (f.id == feature::setup_coop_taskrun) o.defer_taskrun = false;  // the two exclude each other
    if (caps.has(f.id).value_or(false)) {
      CHECK_NOTHROW(ring{o});
      continue;
    }
    try {
      ring r(o);
      FAIL("io_uring_setup took a flag the probe says this kernel lacks");
    } catch (const std::system_error& e) {
      CHECK(e.code() == make_error_code(f.id));
      CHECK(e.code() == std::errc::operation_not_supported);
      CHECK(std::string(e.what()).find(feature_message(f.id)) != std::string::npos);
    }
  }
}

TEST_CASE("a setup flag no kernel knows stays the kernel's EINVAL, with the flags named") {
  ring_options o;
  o.extra_flags = 1U << 31;
  try {
    ring r(o);
    FAIL("io_uring_setup took flag bit 31");
  } catch (const std::system_error& e) {
    CHECK(e.code() == errno_code(EINVAL));
    CHECK(std::string(e.what()).find("io_uring_setup(") != std::string::npos);
  }
}

TEST_CASE("socket uring_cmd answers where the probe finds it and names the feature where it does not") {
  executor ex;
  uc_test::tcp_pair s;
  REQUIRE(::send(s.client.get(), "abc", 3, 0) == 3);
  auto r = sync_wait(ex, [&]() -> task<result<cmd_result>> {
    co_return co_await uring_cmd(s.server.get(), cmd_ops::socket_siocoutq);
  }());
  if (uc_test::kernel_caps().socket_uring_cmd) {
    CHECK(r.has_value());
  } else {
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == make_error_code(feature::socket_uring_cmd));
    CHECK(r.error() == std::errc::operation_not_supported);
    CHECK(describe(r.error()).find("socket uring_cmd: needs Linux 6.7; this kernel is ") != std::string::npos);
  }
}
