// SPDX-License-Identifier: MIT
// capabilities::probe() on the host kernel: URING_CMD present, the report and the JSON agree.
#include <sys/utsname.h>

#include <sstream>
#include <string>

#include <doctest/doctest.h>

#include "probe/report.hpp"
#include "support/json.hpp"

#include <uringcmd/probe.hpp>

using namespace uringcmd;
using uc_test::json;
using uc_test::json_parser;

TEST_CASE("the JSON checker itself rejects broken documents") {
  CHECK_NOTHROW(json_parser(R"({"a":[1,true,null,"x\n"],"b":{}})").parse_document());
  CHECK_THROWS(json_parser(R"({"a":1,})").parse_document());
  CHECK_THROWS(json_parser(R"({"a":1 "b":2})").parse_document());
  CHECK_THROWS(json_parser(R"({"a":"unterminated})").parse_document());
  CHECK_THROWS(json_parser(R"({"a":1}})").parse_document());
  CHECK_THROWS(json_parser(R"({"a":1,"a":2})").parse_document());
}

TEST_CASE("probe: this kernel has io_uring with URING_CMD and passthrough rings") {
  const capabilities caps = capabilities::probe();
  REQUIRE_MESSAGE(!caps.setup_error, describe(caps.setup_error));
  utsname u{};
  REQUIRE(::uname(&u) == 0);
  CHECK(caps.kernel_release == u.release);
  CHECK(caps.has_uring_cmd());
  CHECK(caps.supports(IORING_OP_NOP));
  CHECK(caps.supports(IORING_OP_READ));
  CHECK(caps.supports(IORING_OP_ASYNC_CANCEL));
  CHECK(caps.last_op >= IORING_OP_URING_CMD);
  CHECK_FALSE(caps.supports(caps.last_op + 1));
  CHECK_FALSE(caps.supports(100000));
  CHECK(caps.passthrough_ring);
  CHECK(caps.single_issuer_defer);
  CHECK((caps.accepted_flags & IORING_SETUP_SQE128) != 0);
  CHECK((caps.accepted_flags & IORING_SETUP_DEFER_TASKRUN) != 0);
  CHECK((caps.features & IORING_FEAT_NODROP) != 0);
  CHECK(capabilities::name_of(IORING_OP_URING_CMD) == "URING_CMD");
  CHECK(capabilities::name_of(999) == "op999");
}

TEST_CASE("probe: to_json is valid JSON that matches the probe") {
  const capabilities caps = capabilities::probe();
  const std::string text = probe::to_json(caps);
  json j;
  try {
    j = json_parser(text).parse_document();
  } catch (const std::exception& e) {
    FAIL("invalid JSON (" << e.what() << "): " << text);
  }
  CHECK(std::get<std::string>(j["kernel"].v) == caps.kernel_release);
  CHECK(std::get<double>(j["last_op"].v) == caps.last_op);
  CHECK(std::get<bool>(j["ops"]["URING_CMD"].v) == true);
  CHECK(std::get<bool>(j["ops"]["NOP"].v) == true);
  CHECK(j["ops"].obj().size() == caps.last_op + 1);
  CHECK(std::get<bool>(j["passthrough_ring"].v) == caps.passthrough_ring);
  CHECK(std::get<std::string>(j["setup_flags"].v) == setup_flag_names(caps.accepted_flags));
  CHECK(std::get<std::string>(j["features"].v).rfind("0x", 0) == 0);
  CHECK(std::stoul(std::get<std::string>(j["features"].v), nullptr, 16) == caps.features);
  bool nodrop = false;
  for (const json& n : j["feature_names"].arr()) nodrop |= std::get<std::string>(n.v) == "NODROP";
  CHECK(nodrop);
}

TEST_CASE("probe: print names URING_CMD and the passthrough ring") {
  const capabilities caps = capabilities::probe();
  std::ostringstream os;
  probe::print_report(os, caps);
  const std::string report = os.str();
  CHECK(report.find("URING_CMD         yes") != std::string::npos);
  CHECK(report.find("SQE128|CQE32      yes") != std::string::npos);
  CHECK(report.find(caps.kernel_release) != std::string::npos);
  CHECK(report.find("unsupported ops") != std::string::npos);
}
