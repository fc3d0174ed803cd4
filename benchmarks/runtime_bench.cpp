// SPDX-License-Identifier: MIT
// uringcmd-runtime-bench: the thread-per-core runtime. Hand-off rates between two cores, with the
// MSG_RING doorbell and with the eventfd doorbell side by side, and NOP throughput on 1 and 2 cores.
//
//   pingpong/d1   one coroutine hops core 0 <-> core 1: every hop wakes a sleeping core (latency)
//   pingpong/d32  32 coroutines do the same at once: hops batch under one doorbell (throughput)
//   fanin/d32     core 1 hands tasks to core 0 one way (spawn_on), at most 32 outstanding
//   nop/d32       every core runs 32 coroutines looping over co_await nop(), its own ring each
//
// Each case runs on a fresh runtime: one warm-up round, then R rounds; the report is the median.
// The smoke test (--quick) checks counts only (every hop landed where it was sent, every task ran
// once, every NOP succeeded, each doorbell was the one configured), never a timing.
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include <uringcmd/ops.hpp>
#include <uringcmd/runtime.hpp>
#include <uringcmd/task.hpp>
#include <uringcmd/yield.hpp>

#include "support/ci.hpp"

namespace {

using uc_test::in_ci;
using uringcmd::runtime;
using uringcmd::task;
using clock_type = std::chrono::steady_clock;

struct options {
  double scale = 1;  // multiplies every case's default count
  unsigned rounds = 5;
  bool quick = false;
};

// What one round did, for the checks. Each coroutine writes its own slot (no sharing).
struct hop_counts {
  std::uint64_t hops = 0, misplaced = 0;
};

task<void> pinger(runtime& rt, std::uint64_t n, hop_counts& out) {
  for (std::uint64_t i = 0; i < n; ++i) {
    const std::size_t to = 1 - *rt.current_core();
    co_await rt.on(to);
    if (rt.current_core() != to) ++out.misplaced;
    ++out.hops;
  }
}

task<void> sink(runtime& rt, std::atomic<std::uint64_t>& done, std::atomic<std::uint64_t>& misplaced) {
  if (rt.current_core() != 0u) misplaced.fetch_add(1, std::memory_order_relaxed);
  done.fetch_add(1, std::memory_order_release);
  co_return;
}

task<void> producer(runtime& rt, std::uint64_t n, unsigned window, std::atomic<std::uint64_t>& done,
                    std::atomic<std::uint64_t>& misplaced) {
  for (std::uint64_t i = 0; i < n; ++i) {
    while (i - done.load(std::memory_order_acquire) >= window) co_await uringcmd::yield();
    rt.spawn_on(0, sink(rt, done, misplaced));
  }
}

struct nop_counts {
  std::uint64_t completed = 0, bad = 0;  // per core: written by that core's workers only
};

task<void> nop_worker(std::uint64_t n, nop_counts& c) {
  for (std::uint64_t i = 0; i < n; ++i)
    if (!co_await uringcmd::nop()) ++c.bad;
  c.completed += n;
}

struct sample {
  double seconds = 0;
  std::uint64_t done = 0;       // hops, tasks or ops that completed correctly
  std::uint64_t doorbells = 0;  // MSG_RING doorbells sent during the round
};

std::vector<int> first_cpus(std::size_t n) {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> mask, out;
  if (::sched_getaffinity(0, sizeof set, &set) == 0)
    for (int i = 0; i < CPU_SETSIZE; ++i)
      if (CPU_ISSET(i, &set)) mask.push_back(i);
  if (mask.empty()) mask.push_back(0);
  for (std::size_t i = 0; i < n; ++i) out.push_back(mask[i % mask.size()]);  // repeats on 1 CPU
  return out;
}

std::uint64_t doorbells(const runtime& rt) {
  std::uint64_t n = 0;
  for (const auto& s : rt.stats()) n += s.executor.doorbells_sent;
  return n;
}

enum class kind { pingpong, fanin, nop };

struct bench_case {
  const char* name;
  kind what;
  unsigned depth;
  std::uint64_t count;  // hops, tasks or NOPs per round (per core for nop), at scale 1
  const char* unit;
};

constexpr bench_case hand_off_cases[] = {
    {"pingpong/d1", kind::pingpong, 1, 20'000, "hops/s"},
    {"pingpong/d32", kind::pingpong, 32, 1'000'000, "hops/s"},
    {"fanin/d32", kind::fanin, 32, 300'000, "tasks/s"},
};
constexpr bench_case nop_case{"nop/d32", kind::nop, 32, 2'000'000, "ops/s"};

// One round on `rt`; `problems` collects what the counts contradict.
sample run_round(runtime& rt, const bench_case& c, std::uint64_t n, std::vector<std::string>& problems) {
  sample s;
  const std::uint64_t db0 = doorbells(rt);
  const auto t0 = clock_type::now();
  if (c.what == kind::pingpong) {
    std::vector<hop_counts> counts(c.depth);
    for (unsigned i = 0; i < c.depth; ++i) rt.spawn_on(i % 2, pinger(rt, n / c.depth, counts[i]));
    rt.wait();
    s.seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
    for (const auto& h : counts) {
      if (h.misplaced) problems.push_back(std::string(c.name) + ": a hop landed on the wrong core");
      s.done += h.hops;
    }
  } else if (c.what == kind::fanin) {
    std::atomic<std::uint64_t> done{0}, misplaced{0};
    rt.spawn_on(1, producer(rt, n, c.depth, done, misplaced));
    rt.wait();
    s.seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
    if (misplaced.load()) problems.push_back(std::string(c.name) + ": a task ran on the wrong core");
    s.done = done.load();
  } else {
    std::vector<nop_counts> counts(rt.size());
    for (std::size_t core = 0; core < rt.size(); ++core)
      for (unsigned i = 0; i < c.depth; ++i) rt.spawn_on(core, nop_worker(n / c.depth, counts[core]));
    rt.wait();
    s.seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
    for (const auto& k : counts) {
      if (k.bad) problems.push_back(std::string(c.name) + ": a NOP failed");
      s.done += k.completed - k.bad;
    }
  }
  s.doorbells = doorbells(rt) - db0;  // as of each core's last turn: may miss the very last ones
  return s;
}

struct result {
  double median = 0;  // per second
  double doorbells_per_item = 0;
};

result measure(const bench_case& c, std::size_t cores, bool msg_ring, const options& o,
               std::vector<std::string>& problems) {
  uringcmd::runtime_options ro;
  ro.cpus = first_cpus(cores);
  ro.ring.msg_ring_doorbell = msg_ring;
  runtime rt(ro);
  const auto per_coroutine = static_cast<std::uint64_t>(static_cast<double>(c.count) * o.scale / c.depth);
  const std::uint64_t per_round = c.depth * std::max<std::uint64_t>(1, per_coroutine);
  const std::uint64_t expected = c.what == kind::nop ? per_round * cores : per_round;
  std::vector<double> rates;
  std::uint64_t bells = 0;
  for (unsigned r = 0; r <= o.rounds; ++r) {  // round 0 warms up
    sample s = run_round(rt, c, per_round, problems);
    if (s.done != expected)
      problems.push_back(std::string(c.name) + ": " + std::to_string(s.done) + " of " + std::to_string(expected) +
                         " completed");
    if (r == 0) continue;
    rates.push_back(static_cast<double>(expected) / s.seconds);
    bells += s.doorbells;
  }
  std::sort(rates.begin(), rates.end());
  const std::size_t m = rates.size() / 2;
  result out;
  out.median = rates.size() % 2 ? rates[m] : (rates[m - 1] + rates[m]) / 2;
  out.doorbells_per_item = static_cast<double>(bells) / static_cast<double>(expected * o.rounds);
  if (c.what != kind::nop && !msg_ring && bells)
    problems.push_back(std::string(c.name) + ": MSG_RING doorbells sent with msg_ring_doorbell = false");
  return out;
}

std::string human(double v) {
  char buf[32];
  if (v >= 1e6) std::snprintf(buf, sizeof buf, "%.2fM", v / 1e6);
  else if (v >= 1e3) std::snprintf(buf, sizeof buf, "%.1fk", v / 1e3);
  else std::snprintf(buf, sizeof buf, "%.0f", v);
  return buf;
}

int real_main(int argc, char** argv) {
  options o;
  bool rounds_given = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--quick") {
      o.quick = true;
    } else if ((a == "--rounds" || a == "--scale") && i + 1 < argc) {
      const double v = std::strtod(argv[++i], nullptr);
      if (!(v > 0) || v > 1000) return std::fprintf(stderr, "%s wants a number in (0, 1000]\n", argv[i - 1]), 2;
      if (a == "--scale") o.scale = v;
      else o.rounds = static_cast<unsigned>(std::max(1.0, v)), rounds_given = true;
    } else {
      std::fprintf(stderr,
                   "usage: %s [--quick] [--rounds R] [--scale X]\n"
                   "  --quick     CI smoke run: 1/100 of every count, 1 round; checks counts, not timings\n"
                   "  --rounds R  measured rounds per case (default 5), after one warm-up round\n"
                   "  --scale X   multiply every case's count (default 1)\n",
                   argv[0]);
      return a == "-h" || a == "--help" ? 0 : 2;
    }
  }
  if (o.quick) {
    o.scale *= 0.01;
    if (!rounds_given) o.rounds = 1;
  }

  bool msg_ring_available = false;
  try {
    uringcmd::executor probe;
    msg_ring_available = probe.ring().has_msg_ring();
  } catch (const std::system_error& e) {
    const int v = e.code().value();
    if (e.code().category() == std::system_category() && (v == ENOSYS || v == EPERM || v == EACCES) && !in_ci()) {
      std::printf("UC-SKIP: io_uring unavailable: %s\n", e.what());
      return 0;
    }
    throw;
  }
  const std::vector<int> cpus = first_cpus(2);
  std::vector<std::string> problems;

  std::printf("uringcmd-runtime-bench: median of %u round(s) after 1 warm-up; 2 cores on CPUs %d,%d%s\n", o.rounds,
              cpus[0], cpus[1], cpus[0] == cpus[1] ? " (one CPU: both cores share it)" : "");
  std::printf("doorbell: MSG_RING (IORING_OP_MSG_RING from the sending core's ring%s) vs eventfd write\n\n",
              msg_ring_available ? "" : "; not supported here, so eventfd in both columns");
  std::printf("%-14s %-8s %12s %12s %9s %15s\n", "hand-off", "unit", "MSG_RING", "eventfd", "ratio", "MSG_RINGs/item");
  for (const bench_case& c : hand_off_cases) {
    std::fprintf(stderr, "[%s] ...\n", c.name);
    const result m = measure(c, 2, true, o, problems);
    const result e = measure(c, 2, false, o, problems);
    if (msg_ring_available && m.doorbells_per_item == 0)
      problems.push_back(std::string(c.name) + ": no MSG_RING doorbell was sent");
    std::printf("%-14s %-8s %12s %12s %9.2f %15.3f\n", c.name, c.unit, human(m.median).c_str(), human(e.median).c_str(),
                e.median > 0 ? m.median / e.median : 0, m.doorbells_per_item);
  }

  std::fprintf(stderr, "[%s] ...\n", nop_case.name);
  const result one = measure(nop_case, 1, true, o, problems);
  const result two = measure(nop_case, 2, true, o, problems);
  std::printf("\n%-14s %-8s %12s %12s %9s\n", "scaling", "unit", "1 core", "2 cores", "2 / 1");
  std::printf("%-14s %-8s %12s %12s %9.2f\n", nop_case.name, nop_case.unit, human(one.median).c_str(),
              human(two.median).c_str(), one.median > 0 ? two.median / one.median : 0);

  for (const auto& p : problems) std::fprintf(stderr, "error: %s\n", p.c_str());
  return problems.empty() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return real_main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
