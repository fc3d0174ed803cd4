// SPDX-License-Identifier: MIT
// The C++ rule for "running in CI" (tests/support/ci.hpp) and the shell's (ucvm_in_ci in
// scripts/vm.d/common.sh) give the same answer for every value of CI, so doctest skips and VM test
// skips can never again disagree about whether a skip is a failure.
#include <spawn.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include <doctest/doctest.h>

#include "support/ci.hpp"

extern char** environ;

namespace {

// Sets CI to `value` (unset for nullopt) for this process and the children it starts.
void set_ci(const std::optional<std::string>& value) {
  if (value) REQUIRE(::setenv("CI", value->c_str(), 1) == 0);
  else REQUIRE(::unsetenv("CI") == 0);
}

// Sources common.sh in bash (which sees this process's CI) and runs ucvm_in_ci: its exit status 0
// means on.
bool shell_in_ci() {
  const std::string common = std::string(UC_SOURCE_DIR) + "/scripts/vm.d/common.sh";
  const char* argv[] = {"bash", "-c", R"(. "$1" && ucvm_in_ci)", "ci_rule_test", common.c_str(), nullptr};
  pid_t pid = -1;
  const int err = ::posix_spawnp(&pid, "bash", nullptr, nullptr, const_cast<char**>(argv), environ);
  REQUIRE_MESSAGE(err == 0, "posix_spawnp bash: " << std::strerror(err));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) REQUIRE(errno == EINTR);
  REQUIRE(WIFEXITED(status));
  // 0: on, 1: off; anything else means sourcing failed.
  REQUIRE(WEXITSTATUS(status) <= 1);
  return WEXITSTATUS(status) == 0;
}

// Restores the caller's CI when a test case ends, so the other tests still see the real one.
class ci_guard {
 public:
  ci_guard() {
    if (const char* v = std::getenv("CI")) saved_ = v;
  }
  ~ci_guard() {
    if (saved_) ::setenv("CI", saved_->c_str(), 1);
    else ::unsetenv("CI");
  }

 private:
  std::optional<std::string> saved_;
};

}  // namespace

TEST_CASE("the shell and C++ agree on whether each value of CI means CI") {
  ci_guard guard;
  const std::optional<std::string> values[] = {
      std::nullopt, "", "0", "false", "FALSE", "False", "no", "No", "off", "OFF",   // off
      "1", "true", "TRUE", "True", "yes", "YES", "on", "y", "2", "00", " ", "github", "false ",  // on
  };
  for (const auto& v : values) {
    set_ci(v);
    const bool cpp = uc_test::in_ci();
    CAPTURE(v.value_or("(unset)"));
    CHECK(shell_in_ci() == cpp);
  }
}

TEST_CASE("CI means on for the values providers and people set, and off for the usual no's") {
  ci_guard guard;
  for (const char* on : {"true", "1", "yes", "True", "TRUE", "on"}) {
    set_ci(std::string(on));
    CAPTURE(on);
    CHECK(uc_test::in_ci());
  }
  for (const char* off : {"", "0", "false", "False", "no", "off"}) {
    set_ci(std::string(off));
    CAPTURE(off);
    CHECK_FALSE(uc_test::in_ci());
  }
  set_ci(std::nullopt);
  CHECK_FALSE(uc_test::in_ci());
}
