// SPDX-License-Identifier: MIT
#include "workloads.hpp"

#include <uringcmd/ops.hpp>
#include <uringcmd/sync_wait.hpp>
#include <uringcmd/task.hpp>
#include <uringcmd/uring_cmd.hpp>

namespace uc_bench {
namespace {

using uringcmd::task;

struct counters {
  std::uint64_t completed = 0;
  std::uint64_t bad = 0;
};

task<void> nop_worker(std::uint64_t n, counters& c) {
  for (std::uint64_t i = 0; i < n; ++i) {
    uringcmd::result<void> r = co_await uringcmd::nop();
    if (!r) ++c.bad;
  }
  c.completed += n;
}

task<void> nop_child(counters& c) {
  uringcmd::result<void> r = co_await uringcmd::nop();
  if (!r) ++c.bad;
}

task<void> nested_worker(std::uint64_t n, counters& c) {
  for (std::uint64_t i = 0; i < n; ++i) co_await nop_child(c);
  c.completed += n;
}

task<void> siocinq_worker(int fd, std::uint64_t n, int expected, counters& c) {
  for (std::uint64_t i = 0; i < n; ++i) {
    auto r = co_await uringcmd::uring_cmd(fd, uringcmd::cmd_ops::socket_siocinq);
    if (!r || r->res != expected) ++c.bad;
  }
  c.completed += n;
}

// Splits n ops over `depth` workers made by make(share, counters&), spawns them, runs to the end.
template <class Make>
uringcmd_result spawn_and_run(uringcmd::executor& ex, unsigned depth, std::uint64_t n, Make make) {
  counters c;
  for (unsigned i = 0; i < depth; ++i) {
    const std::uint64_t share = n / depth + (i < n % depth ? 1 : 0);
    if (share) ex.spawn(make(share, c));
  }
  ex.run();
  return {c.completed, c.bad};
}

task<int> siocinq_once(int fd) {
  auto r = co_await uringcmd::uring_cmd(fd, uringcmd::cmd_ops::socket_siocinq);
  if (!r) co_return uringcmd::to_errno(r.error());
  co_return r->res;
}

}  // namespace

uringcmd_result uringcmd_nop(uringcmd::executor& ex, unsigned depth, std::uint64_t n) {
  return spawn_and_run(ex, depth, n, [](std::uint64_t share, counters& c) { return nop_worker(share, c); });
}

uringcmd_result uringcmd_nop_nested(uringcmd::executor& ex, unsigned depth, std::uint64_t n) {
  return spawn_and_run(ex, depth, n, [](std::uint64_t share, counters& c) { return nested_worker(share, c); });
}

uringcmd_result uringcmd_siocinq(uringcmd::executor& ex, int fd, unsigned depth, std::uint64_t n, int expected) {
  return spawn_and_run(ex, depth, n, [fd, expected](std::uint64_t share, counters& c) {
    return siocinq_worker(fd, share, expected, c);
  });
}

int uringcmd_siocinq_once(uringcmd::executor& ex, int fd) { return uringcmd::sync_wait(ex, siocinq_once(fd)); }

}  // namespace uc_bench
