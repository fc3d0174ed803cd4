// SPDX-License-Identifier: MIT
// run_command: a shell command's exit status and output, for the tests that hold our answers
// against a tool's (sg3_utils, nvme-cli) or read a file through one.
#pragma once

#include <sys/wait.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include <doctest/doctest.h>

namespace uc_test {

struct command_result {
  int status = -1;     ///< the exit status; -1 when a signal ended the shell
  std::string output;  ///< stdout and stderr together, in the order they were written
};

/// Runs `cmd` with /bin/sh, stderr into stdout. The status is the caller's to judge (a tool may
/// fail on purpose); only a command the shell cannot find (127) fails the test here.
inline command_result run_command(const std::string& cmd) {
  command_result r;
  // Braces, so that the redirection covers all of a compound command, not its last part.
  FILE* p = ::popen(("{ " + cmd + "\n} 2>&1").c_str(), "r");
  REQUIRE_MESSAGE(p != nullptr, "popen " << cmd << ": " << std::strerror(errno));
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  const int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  REQUIRE_MESSAGE(r.status != 127, cmd << ": not installed? " << r.output);
  return r;
}

/// The output of `cmd`, which must succeed (exit status 0).
inline std::string command_output(const std::string& cmd) {
  command_result r = run_command(cmd);
  REQUIRE_MESSAGE(r.status == 0, cmd << ": exit status " << r.status << ": " << r.output);
  return std::move(r.output);
}

}  // namespace uc_test
