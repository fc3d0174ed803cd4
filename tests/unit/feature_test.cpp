// SPDX-License-Identifier: MIT
// The kernel feature table (feature.hpp) and its named errors: pure logic, no ring.
#include <cerrno>
#include <ostream>
#include <set>
#include <string>
#include <system_error>

#include <doctest/doctest.h>

#include <uringcmd/error.hpp>
#include <uringcmd/feature.hpp>

using namespace uringcmd;
using detail::kernel_version_number;

TEST_CASE("every feature has one row in the table, at its own index, with a release that parses") {
  std::set<std::string_view> keys;
  for (std::size_t i = 0; i < feature_table.size(); ++i) {
    const feature f = static_cast<feature>(i + 1);
    CAPTURE(i);
    CHECK(info_of(f).id == f);
    CHECK(keys.insert(info_of(f).key).second);
    CHECK_FALSE(info_of(f).name.empty());
    CHECK(kernel_version_number(info_of(f).since) >= 5000);
  }
  CHECK(info_of(feature::socket_uring_cmd).since == "6.7");
  CHECK(info_of(feature::setup_defer_taskrun).setup_flag == IORING_SETUP_DEFER_TASKRUN);
}

TEST_CASE("kernel releases compare by major and minor, whatever the distribution appends") {
  CHECK(kernel_version_number("6.1.0-37-amd64") == 6001);
  CHECK(kernel_version_number("6.12.41+deb13-amd64") == 6012);
  CHECK(kernel_version_number("7.3") == 7003);
  CHECK(kernel_version_number("6.10") > kernel_version_number("6.9.12"));
  CHECK(kernel_version_number("") == 0);
  CHECK(kernel_version_number("6") == 0);
  CHECK(kernel_version_number("unknown") == 0);
}

TEST_CASE("a missing-feature error names the feature and the kernel, and is still EOPNOTSUPP") {
  const std::error_code ec = make_error_code(feature::setup_defer_taskrun);
  CHECK(ec == std::errc::operation_not_supported);
  CHECK(ec != errno_code(EOPNOTSUPP));  // a code of its own category, not the bare errno
  CHECK(to_errno(ec) == -EOPNOTSUPP);   // what a ublk commit hands back to the kernel
  const std::string msg = ec.message();
  CHECK(msg.rfind("IORING_SETUP_DEFER_TASKRUN: needs Linux 6.1; this kernel is ", 0) == 0);
  CHECK(msg.size() > std::string("IORING_SETUP_DEFER_TASKRUN: needs Linux 6.1; this kernel is ").size());
  CHECK(describe(ec) == "uringcmd.feature: " + msg);
  CHECK(msg == feature_message(feature::setup_defer_taskrun));
  CHECK(feature_category().message(0).find("unknown") != std::string::npos);
}

TEST_CASE("only a refusal (EOPNOTSUPP, EINVAL) is renamed, and only on a kernel older than the feature") {
  // Every kernel that runs this predates no 5.x feature: the errno passes through unchanged.
  CHECK_FALSE(kernel_predates(feature::setup_r_disabled));
  CHECK(name_missing_feature(errno_code(EOPNOTSUPP), feature::setup_r_disabled) == errno_code(EOPNOTSUPP));
  // Not a refusal: never renamed, whatever the kernel.
  for (const feature_info& i : feature_table) {
    CAPTURE(i.key);
    CHECK(name_missing_feature(errno_code(EBADF), i.id) == errno_code(EBADF));
    CHECK(name_missing_feature(make_error_code(errc::no_memory), i.id) == make_error_code(errc::no_memory));
    const std::error_code r = name_missing_feature(errno_code(EINVAL), i.id);
    CHECK(r == (kernel_predates(i.id) ? make_error_code(i.id) : errno_code(EINVAL)));
  }
}
