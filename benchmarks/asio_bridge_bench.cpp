// SPDX-License-Identifier: MIT
// uringcmd-asio-bench: what the Asio bridge costs. The same NOP workload, in the same process, in
// interleaved rounds:
//   executor   uringcmd tasks on an executor running its own loop (executor::run)
//   bridge     the same tasks with the executor's ring driven by an asio::io_context (ring_driver)
//   per-op     an asio::awaitable coroutine awaiting every NOP through async_run(use_awaitable):
//              what each op costs when Asio code calls into uringcmd op by op
// at depth 1 (one task) and depth 32 (32 tasks). Prints ns/op (median round) and bridge/executor.
// Usage: uringcmd-asio-bench [--ops N] [--rounds R] [--quick]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>

#include <uringcmd/asio/bridge.hpp>
#include <uringcmd/ops.hpp>

namespace {

using clock_type = std::chrono::steady_clock;

uringcmd::task<void> nops(std::uint64_t n, std::uint64_t& failures) {
  for (std::uint64_t i = 0; i < n; ++i)
    if (!co_await uringcmd::nop()) ++failures;
}

::asio::awaitable<void> nops_per_op(uringcmd::asio::ring_driver& d, std::uint64_t n, std::uint64_t& failures) {
  for (std::uint64_t i = 0; i < n; ++i) {
    std::error_code ec;
    co_await uringcmd::asio::async_run(d, uringcmd::nop(), ::asio::redirect_error(::asio::use_awaitable, ec));
    if (ec) ++failures;
  }
}

enum class mode { executor, bridge, per_op };

/// ns per NOP for one round of `ops` NOPs spread over `depth` coroutines.
double round(mode m, std::uint64_t ops, unsigned depth, std::uint64_t& failures) {
  uringcmd::executor ex;
  ::asio::io_context io(1);
  uringcmd::asio::ring_driver driver(io, ex);
  const std::uint64_t each = ops / depth;
  const auto t0 = clock_type::now();
  switch (m) {
    case mode::executor:
      for (unsigned i = 0; i < depth; ++i) ex.spawn(nops(each, failures));
      ex.run();
      break;
    case mode::bridge:
      for (unsigned i = 0; i < depth; ++i) driver.spawn(nops(each, failures));
      io.run();
      break;
    case mode::per_op:
      for (unsigned i = 0; i < depth; ++i) ::asio::co_spawn(io, nops_per_op(driver, each, failures), ::asio::detached);
      io.run();
      break;
  }
  const double ns = std::chrono::duration<double, std::nano>(clock_type::now() - t0).count();
  return ns / static_cast<double>(each * depth);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t ops = 400000;
  int rounds = 7;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--quick")) {
      ops = 20000;
      rounds = 1;
    } else if (!std::strcmp(argv[i], "--ops") && i + 1 < argc) {
      ops = std::strtoull(argv[++i], nullptr, 10);
    } else if (!std::strcmp(argv[i], "--rounds") && i + 1 < argc) {
      rounds = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: uringcmd-asio-bench [--ops N] [--rounds R] [--quick]\n");
      return 2;
    }
  }
  std::uint64_t failures = 0;
  std::printf("%-6s %12s %12s %12s %16s %14s\n", "depth", "executor", "bridge", "per-op", "bridge/executor",
              "per-op/executor");
  for (unsigned depth : {1U, 32U}) {
    std::vector<double> e, b, p;
    for (int r = 0; r < rounds; ++r) {  // interleaved: drift in the machine hits all three alike
      e.push_back(round(mode::executor, ops, depth, failures));
      b.push_back(round(mode::bridge, ops, depth, failures));
      p.push_back(round(mode::per_op, ops / 4, depth, failures));
    }
    const double me = median(e), mb = median(b), mp = median(p);
    std::printf("%-6u %9.1f ns %9.1f ns %9.1f ns %15.3fx %13.3fx\n", depth, me, mb, mp, mb / me, mp / me);
  }
  if (failures) {
    std::fprintf(stderr, "uringcmd-asio-bench: %llu NOPs failed\n", static_cast<unsigned long long>(failures));
    return 1;
  }
  return 0;
}
