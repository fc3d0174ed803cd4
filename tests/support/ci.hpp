// SPDX-License-Identifier: MIT
// Whether this run is CI: one rule for C++ (UC_SKIP, the benchmark) and the shell (ucvm_in_ci in
// scripts/vm.d/common.sh). tests/unit/ci_rule_test.cpp checks that the two agree.
#pragma once

#include <cctype>
#include <cstdlib>
#include <string>

namespace uc_test {

/// CI is on when $CI is set and, lower-cased, not "", "0", "false", "no" or "off". Providers set
/// CI=true, people also write 1, yes or True: any of those must mean on, or CI could skip silently.
inline bool in_ci() {
  const char* ci = std::getenv("CI");
  if (!ci) return false;
  std::string v(ci);
  for (char& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return !(v.empty() || v == "0" || v == "false" || v == "no" || v == "off");
}

}  // namespace uc_test
