// SPDX-License-Identifier: MIT
// The thread-per-core runtime: placement (cores, threads, CPUs), hops with on(), I/O after a hop,
// a hand-off stress test over both doorbells, graceful stop with work in flight, error paths.
// Assertions run on the test's own thread; tasks only record what they saw.
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "host/helpers.hpp"

#include <uringcmd/ops.hpp>
#include <uringcmd/runtime.hpp>
#include <uringcmd/when_all.hpp>

using namespace uringcmd;
using namespace std::chrono_literals;
using uc_test::pipe_pair;

namespace {

/// `n` CPUs of this process's affinity mask, repeated when it has fewer: pinning always works.
std::vector<int> cpus_for(std::size_t n) {
  cpu_set_t set;
  CPU_ZERO(&set);
  REQUIRE(::sched_getaffinity(0, sizeof set, &set) == 0);
  std::vector<int> mask, out;
  for (int i = 0; i < CPU_SETSIZE; ++i)
    if (CPU_ISSET(i, &set)) mask.push_back(i);
  REQUIRE(!mask.empty());
  for (std::size_t i = 0; i < n; ++i) out.push_back(mask[i % mask.size()]);
  return out;
}

runtime_options pinned(std::size_t n, bool msg_ring = true) {
  runtime_options o;
  o.cpus = cpus_for(n);
  o.ring.msg_ring_doorbell = msg_ring;
  return o;
}

/// Polls `done` until it holds or 5 s pass. Stats are published after each loop turn, so they
/// can trail the event that wait() already saw by one turn.
template <class Pred>
bool eventually(Pred done) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

struct place {
  std::optional<std::size_t> core;
  std::thread::id thread;
  int cpu = -1;
  executor* ex = nullptr;
};
place here(const runtime& rt) {
  return {rt.current_core(), std::this_thread::get_id(), ::sched_getcpu(), executor::current()};
}

bool has_msg_ring() {
  executor probe;
  return probe.ring().has_msg_ring();
}

}  // namespace

TEST_CASE("the runtime runs each spawn_on task on its core's own thread, pinned to that core's CPU") {
  uc_test::watchdog dog(20s, "spawn_on placement");
  runtime rt(pinned(2));
  REQUIRE(rt.size() == 2);
  CHECK_FALSE(rt.current_core().has_value());
  std::array<std::array<place, 3>, 2> seen{};
  for (std::size_t core = 0; core < 2; ++core)
    for (auto& slot : seen[core]) rt.spawn_on(core, [](runtime& r, place& out) -> task<void> {
        out = here(r);
        co_return;
      }(rt, slot));
  rt.wait();
  for (std::size_t core = 0; core < 2; ++core) {
    CAPTURE(core);
    for (const place& p : seen[core]) {
      CHECK(p.core == core);
      CHECK(p.cpu == rt.cpu(core));
      CHECK(p.thread == seen[core][0].thread);
      CHECK(p.thread != std::this_thread::get_id());
      CHECK(p.ex == seen[core][0].ex);
      CHECK(p.ex != nullptr);
    }
  }
  CHECK(seen[0][0].thread != seen[1][0].thread);
  CHECK(seen[0][0].ex != seen[1][0].ex);
  REQUIRE(eventually([&] {
    auto s = rt.stats();
    return s[0].tasks_started == 3 && s[1].tasks_started == 3 && s[0].tasks_finished + s[1].tasks_finished == 6;
  }));
  runtime per_cpu;  // the default: one core per CPU of the affinity mask
  cpu_set_t set;
  CPU_ZERO(&set);
  REQUIRE(::sched_getaffinity(0, sizeof set, &set) == 0);
  CHECK(per_cpu.size() == static_cast<std::size_t>(CPU_COUNT(&set)));
  runtime_options loose;
  loose.cores = static_cast<std::size_t>(CPU_COUNT(&set)) + 1;  // more cores than CPUs: only unpinned
  loose.pin = false;
  runtime unpinned(loose);
  CHECK(unpinned.size() == loose.cores);
  CHECK(unpinned.cpu(0) == -1);
}

TEST_CASE("co_await runtime::on(core) moves the coroutine to that core's thread and executor, and back") {
  uc_test::watchdog dog(20s, "on(core)");
  runtime rt(pinned(2));
  std::array<place, 4> seen{};
  rt.spawn_on(0, [](runtime& r, std::array<place, 4>& out) -> task<void> {
    out[0] = here(r);
    co_await r.on(1);
    out[1] = here(r);
    co_await r.on(1);  // already there: no hop
    out[2] = here(r);
    co_await r.on(0);
    out[3] = here(r);
  }(rt, seen));
  rt.wait();
  CHECK(seen[0].core == 0u);
  CHECK(seen[1].core == 1u);
  CHECK(seen[2].core == 1u);
  CHECK(seen[3].core == 0u);
  CHECK(seen[1].thread != seen[0].thread);
  CHECK(seen[1].ex != seen[0].ex);
  CHECK(seen[1].cpu == rt.cpu(1));
  CHECK(seen[2].thread == seen[1].thread);
  CHECK(seen[3].thread == seen[0].thread);
  CHECK(seen[3].ex == seen[0].ex);
  REQUIRE(eventually([&] { return rt.stats()[0].tasks_finished == 1; }));
  auto s = rt.stats();
  CHECK(s[0].hops_out == 1);
  CHECK(s[1].hops_in == 1);
  CHECK(s[1].hops_out == 1);
  CHECK(s[0].hops_in == 1);
  CHECK(s[0].tasks_started == 1);
  CHECK(s[1].tasks_started == 0);
  CHECK_THROWS_AS((void)rt.on(2), std::out_of_range);
  CHECK_THROWS_AS((void)rt.on(1), std::logic_error);  // this thread is no core: nothing to move
  CHECK_THROWS_AS(rt.spawn_on(2, []() -> task<void> { co_return; }()), std::out_of_range);
}

namespace {
task<int> hop_first(runtime& rt, std::size_t to, std::size_t back) {
  co_await rt.on(to);  // the first suspension of a task started synchronously by its awaiter
  const int on_target = rt.current_core() == to ? 1 : 0;
  co_await rt.on(back);
  co_return on_target;
}
task<int> nested(runtime& rt) {
  const int a = co_await hop_first(rt, 1, 0);
  auto [b, c] = co_await when_all(hop_first(rt, 1, 0), hop_first(rt, 1, 0));
  co_return a + b + c;
}
}  // namespace

TEST_CASE("runtime hops as the first suspension of nested tasks and when_all children resume each once") {
  uc_test::watchdog dog(20s, "hops inside task starts");
  runtime rt(pinned(2));
  std::vector<int> sums(50, 0);
  for (int& sum : sums) rt.spawn_on(0, [](runtime& r, int& out) -> task<void> { out = co_await nested(r); }(rt, sum));
  rt.wait();
  for (int sum : sums) CHECK(sum == 3);
}

namespace {
task<std::size_t> hop_and_stay(runtime& rt, std::size_t to) {
  co_await rt.on(to);
  co_return rt.current_core().value_or(99);
}
}  // namespace

TEST_CASE("runtime: a child that ends on another core resumes its parent there; when_all children may end on different cores") {
  uc_test::watchdog dog(20s, "children ending on other cores");
  runtime rt(pinned(2));
  constexpr int n = 300;
  std::atomic<int> parent_moved{0}, children_right{0}, parent_on_a_child_core{0};
  for (int i = 0; i < n; ++i) {
    rt.spawn_on(0, [](runtime& r, std::atomic<int>& moved, std::atomic<int>& right,
                      std::atomic<int>& joined) -> task<void> {
      const std::size_t where = co_await hop_and_stay(r, 1);  // ends on core 1
      if (where == 1 && r.current_core() == 1u) ++moved;     // ... and so does the parent
      co_await r.on(0);
      auto [a, b] = co_await when_all(hop_and_stay(r, 0), hop_and_stay(r, 1));
      if (a == 0 && b == 1) ++right;
      const auto here = r.current_core();  // where the last child finished: either core
      if (here == 0u || here == 1u) ++joined;
    }(rt, parent_moved, children_right, parent_on_a_child_core));
  }
  rt.wait();
  CHECK(parent_moved == n);
  CHECK(children_right == n);
  CHECK(parent_on_a_child_core == n);
}

TEST_CASE("I/O after a runtime hop goes to the new core's ring: a blocked pipe read completes there") {
  uc_test::watchdog dog(20s, "pipe read after a hop");
  runtime rt(pinned(2));
  pipe_pair p;
  std::array<std::byte, 5> buf{};
  result<std::size_t> got = 0;
  place at_read{};
  std::atomic<bool> hopped{false};
  rt.spawn_on(0, [](runtime& r, int fd, std::span<std::byte> b, result<std::size_t>& out, place& where,
                    std::atomic<bool>& flag) -> task<void> {
    co_await r.on(1);
    flag.store(true);
    out = co_await uringcmd::read(fd, b, 0);
    where = here(r);
  }(rt, p.rd.get(), buf, got, at_read, hopped));
  REQUIRE(eventually([&] { return hopped.load(); }));
  std::this_thread::sleep_for(10ms);  // let the read reach the kernel and block there
  p.put("hello");
  rt.wait();
  CHECK(got.value() == 5);
  CHECK(std::string(reinterpret_cast<const char*>(buf.data()), buf.size()) == "hello");
  CHECK(at_read.core == 1u);
  REQUIRE(eventually([&] { return rt.stats()[1].tasks_finished == 1; }));
  auto s = rt.stats();
  CHECK(s[0].executor.started == 0);  // core 0 only started the task and handed it over
  CHECK(s[1].executor.started == 1);  // the read
}

namespace {
struct hop_record {
  int hops = 0;
  int misplaced = 0;  // arrived somewhere other than the target
  std::atomic<int> finished{0};
  std::atomic<int> child_runs{0};
};

task<void> child(hop_record& rec) {
  rec.child_runs.fetch_add(1);
  co_return;
}

// Hops `steps` times, each time to a pseudo-random core other than the one it is on.
task<void> wanderer(runtime& rt, hop_record& rec, std::uint32_t seed, int steps) {
  std::uint32_t x = seed * 2654435761U + 1;
  for (int i = 0; i < steps; ++i) {
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    const std::size_t target = (*rt.current_core() + 1 + x % (rt.size() - 1)) % rt.size();
    co_await rt.on(target);
    if (rt.current_core() != target) ++rec.misplaced;
    ++rec.hops;
  }
  rt.spawn_on(x % rt.size(), child(rec));  // a spawn from a core, to any core
  rec.finished.fetch_add(1);
}

void hand_off_stress(std::size_t cores, bool msg_ring, int tasks, int steps) {
  CAPTURE(cores);
  CAPTURE(msg_ring);
  runtime rt(pinned(cores, msg_ring));
  std::vector<hop_record> recs(static_cast<std::size_t>(tasks));
  std::atomic<bool> reading{true};
  std::uint64_t snapshots = 0;
  std::thread reader([&] {  // stats() from a foreign thread while cores run (for ThreadSanitizer)
    while (reading.load()) {
      snapshots += rt.stats().size();
      std::this_thread::sleep_for(1ms);
    }
  });
  for (int t = 0; t < tasks; ++t)
    rt.spawn_on(static_cast<std::size_t>(t) % cores,
                wanderer(rt, recs[static_cast<std::size_t>(t)], static_cast<std::uint32_t>(t), steps));
  rt.wait();
  reading.store(false);
  reader.join();
  CHECK(snapshots > 0);
  std::uint64_t hops = 0;
  int bad = 0;
  for (auto& r : recs) {
    hops += static_cast<std::uint64_t>(r.hops);
    if (r.finished.load() != 1 || r.child_runs.load() != 1 || r.misplaced != 0) ++bad;
  }
  CHECK(bad == 0);
  CHECK(hops == static_cast<std::uint64_t>(tasks) * static_cast<std::uint64_t>(steps));
  const auto total = static_cast<std::uint64_t>(2 * tasks);  // wanderers and children
  REQUIRE(eventually([&] {
    std::uint64_t fin = 0;
    for (auto& s : rt.stats()) fin += s.tasks_finished;
    return fin == total;
  }));
  std::uint64_t in = 0, out = 0, started = 0, doorbells = 0;
  for (auto& s : rt.stats()) {
    in += s.hops_in, out += s.hops_out, started += s.tasks_started;
    doorbells += s.executor.doorbells_sent;
  }
  CHECK(in == hops);
  CHECK(out == hops);
  CHECK(started == total);
  if (msg_ring && has_msg_ring()) CHECK(doorbells > 0);
  else CHECK(doorbells == 0);  // every wake-up went through the target's eventfd
}
}  // namespace

TEST_CASE("hundreds of thousands of runtime hand-offs among 2 and 4 cores lose no task and run none twice") {
  uc_test::watchdog dog(60s, "hand-off stress");
  hand_off_stress(2, true, 64, 2500);  // 160k hops
  hand_off_stress(4, true, 64, 2000);  // 128k hops, more threads than CPUs on small hosts
}

TEST_CASE("both runtime doorbells wake a blocked core: MSG_RING and eventfd") {
  uc_test::watchdog dog(60s, "doorbells");
  for (bool msg_ring : {true, false}) {
    hand_off_stress(2, msg_ring, 1, 2000);  // one coroutine ping-pongs: every hop wakes a sleeper
    hand_off_stress(3, msg_ring, 16, 1000);
  }
}

namespace {
// Lives in a task's frame; counts its destruction, so the test can prove every frame died once.
struct frame_probe {
  std::atomic<int>* destroyed;
  explicit frame_probe(std::atomic<int>& d) : destroyed(&d) {}
  frame_probe(const frame_probe&) = delete;
  ~frame_probe() { destroyed->fetch_add(1); }
};

task<void> blocked_read(std::atomic<int>& destroyed, std::atomic<int>& started, int fd, std::atomic<int>& err) {
  frame_probe probe(destroyed);
  std::array<std::byte, 1> b{};
  started.fetch_add(1);
  auto r = co_await uringcmd::read(fd, b, 0);
  err.store(r ? 0 : r.error().value());
}
task<void> parked(std::atomic<int>& destroyed, std::atomic<int>& started) {
  frame_probe probe(destroyed);
  started.fetch_add(1);
  co_await std::suspend_always{};  // nothing resumes it: stop() destroys the frame
}
task<void> bouncer(runtime& rt, std::atomic<int>& destroyed, std::atomic<int>& started, std::atomic<int>& refused) {
  frame_probe probe(destroyed);
  started.fetch_add(1);
  try {
    for (std::size_t i = 1;; ++i) co_await rt.on(i % rt.size());  // until stop refuses a hop
  } catch (const std::system_error& e) {
    if (e.code() == errc::executor_stopping) refused.fetch_add(1);
  }
}
}  // namespace

TEST_CASE("runtime stop with blocked reads on every core cancels them and destroys every frame exactly once") {
  uc_test::watchdog dog(30s, "runtime stop with work in flight");
  constexpr int cores = 3, readers_per_core = 4, bouncers = 4;
  constexpr int frames = cores * (readers_per_core + 1) + bouncers;
  pipe_pair p;
  std::vector<std::atomic<int>> destroyed(frames);
  std::vector<std::atomic<int>> errs(cores * readers_per_core);
  std::atomic<int> started{0}, refused{0};
  {
    runtime rt(pinned(cores));
    int id = 0, reader = 0;
    for (std::size_t c = 0; c < cores; ++c) {
      for (int i = 0; i < readers_per_core; ++i)
        rt.spawn_on(c, blocked_read(destroyed[id++], started, p.rd.get(), errs[static_cast<std::size_t>(reader++)]));
      rt.spawn_on(c, parked(destroyed[id++], started));
    }
    for (int i = 0; i < bouncers; ++i) rt.spawn_on(0, bouncer(rt, destroyed[id++], started, refused));
    REQUIRE(eventually([&] { return started.load() == frames; }));
    REQUIRE(eventually([&] {  // every read has its SQE
      std::uint64_t n = 0;
      for (auto& s : rt.stats()) n += s.executor.started;
      return n == cores * readers_per_core;
    }));
    std::this_thread::sleep_for(10ms);  // and is blocked in the kernel
  }  // ~runtime: stop
  for (int i = 0; i < frames; ++i) {
    CAPTURE(i);
    CHECK(destroyed[static_cast<std::size_t>(i)].load() == 1);
  }
  for (auto& e : errs) CHECK(e.load() == ECANCELED);
  CHECK(refused.load() == bouncers);  // each bouncer saw its hop refused, then finished
  p.put("still here");
  CHECK(p.queued() == 10);  // the cancelled reads consumed nothing
}

namespace {
/// Counts live instances; a task's parameter copy lives exactly as long as its frame.
struct lifetime {
  std::atomic<int>* live;
  explicit lifetime(std::atomic<int>& l) : live(&l) { live->fetch_add(1); }
  lifetime(const lifetime& o) : live(o.live) { live->fetch_add(1); }
  ~lifetime() { live->fetch_sub(1); }
};
task<void> counted(lifetime, runtime& rt, std::atomic<int>& ran) {
  ran.fetch_add(1);
  co_await rt.on((*rt.current_core() + 1) % rt.size());
}
}  // namespace

TEST_CASE("spawn_on from other threads racing with runtime stop: each task ran or was refused, every frame died once") {
  uc_test::watchdog dog(30s, "spawn_on racing with stop");
  std::atomic<int> live{0}, ran{0};
  std::array<int, 2> accepted{}, refused{};
  {
    runtime rt(pinned(2));
    std::vector<std::thread> spawners;
    for (std::size_t t = 0; t < 2; ++t)
      spawners.emplace_back([&, t] {
        for (int i = 0; i < 200000; ++i) {
          try {
            rt.spawn_on(static_cast<std::size_t>(i) % 2, counted(lifetime(live), rt, ran));
            ++accepted[t];
          } catch (const std::system_error& e) {
            if (e.code() == errc::executor_stopping) ++refused[t];
            return;
          }
        }
      });
    REQUIRE(eventually([&] { return ran.load() > 2000; }));
    rt.stop();
    for (auto& s : spawners) s.join();
    CHECK(live.load() == 0);
  }
  CHECK(refused[0] + refused[1] == 2);
  CHECK(ran.load() == accepted[0] + accepted[1]);
  CHECK(live.load() == 0);
}

TEST_CASE("after runtime stop, spawn_on throws executor_stopping and wait returns at once") {
  uc_test::watchdog dog(20s, "spawn after stop");
  runtime rt(pinned(2));
  rt.stop();
  try {
    rt.spawn_on(0, []() -> task<void> { co_return; }());
    FAIL("spawn_on after stop did not throw");
  } catch (const std::system_error& e) {
    CHECK(e.code() == errc::executor_stopping);
  }
  rt.wait();
  rt.stop();  // idempotent
}

TEST_CASE("an exception escaping a runtime task is rethrown by wait(), and the runtime keeps working") {
  uc_test::watchdog dog(20s, "exception from a task");
  runtime rt(pinned(2));
  std::atomic<int> ok{0};
  rt.spawn_on(0, [](runtime& r) -> task<void> {
    co_await r.on(1);
    throw std::runtime_error("boom on core 1");
  }(rt));
  CHECK_THROWS_WITH_AS(rt.wait(), "boom on core 1", std::runtime_error);
  rt.spawn_on(1, [](std::atomic<int>& n) -> task<void> {
    n.fetch_add(1);
    co_return;
  }(ok));
  rt.wait();  // the error was reported once
  CHECK(ok.load() == 1);
}

TEST_CASE("runtime wait and stop called from one of its cores throw instead of deadlocking") {
  uc_test::watchdog dog(20s, "wait from a core");
  runtime rt(pinned(1));
  std::atomic<int> logic_errors{0};
  rt.spawn_on(0, [](runtime& r, std::atomic<int>& n) -> task<void> {
    try {
      r.wait();
    } catch (const std::logic_error&) {
      n.fetch_add(1);
    }
    try {
      r.stop();
    } catch (const std::logic_error&) {
      n.fetch_add(1);
    }
    co_return;
  }(rt, logic_errors));
  rt.wait();
  CHECK(logic_errors.load() == 2);
}

TEST_CASE("a runtime core that cannot be set up makes the constructor throw, after stopping the others") {
  uc_test::watchdog dog(20s, "setup failure");
  SUBCASE("a CPU outside the affinity mask: a named system_error") {
    cpu_set_t set;
    CPU_ZERO(&set);
    REQUIRE(::sched_getaffinity(0, sizeof set, &set) == 0);
    int absent = CPU_SETSIZE - 1;
    while (absent > 0 && CPU_ISSET(absent, &set)) --absent;
    runtime_options o = pinned(2);
    o.cpus[1] = absent;
    try {
      runtime rt(o);
      FAIL("pinning to CPU " << absent << " succeeded");
    } catch (const std::system_error& e) {
      CHECK(e.code() == std::errc::invalid_argument);
      CHECK(std::string(e.what()).find("pthread_setaffinity_np(CPU " + std::to_string(absent) + ")") !=
            std::string::npos);
    }
  }
  SUBCASE("ring options no ring can serve") {
    runtime_options o = pinned(2);
    o.ring.entries = 1;
    try {
      runtime rt(o);
      FAIL("a ring with 1 entry was set up");
    } catch (const std::system_error& e) {
      CHECK(e.code() == errc::invalid_ring_options);
    }
  }
  SUBCASE("more pinned cores than CPUs, without a CPU list") {
    runtime_options o;
    o.cores = CPU_SETSIZE + 1;
    CHECK_THROWS_AS(runtime{o}, std::invalid_argument);
  }
}

TEST_CASE("runtime_options::loop runs once on each core's thread with that core's executor, may drive it, and the core's loop takes over after it") {
  uc_test::watchdog dog(20s, "runtime loop hook");
  runtime_options o = pinned(2);
  std::array<place, 2> in_loop{};
  std::array<bool, 2> nop_ok{};
  std::atomic<int> loops{0};
  o.loop = [&](std::size_t core, executor& ex) {
    in_loop[core] = {core, std::this_thread::get_id(), ::sched_getcpu(), &ex};
    bool done = false;
    ex.spawn([](bool& ok, bool& d) -> task<void> {
      ok = (co_await nop()).has_value();
      d = true;
    }(nop_ok[core], done));
    while (!done) ex.run_once(true);  // the hook drives the core's ring itself, as an io_context would
    loops.fetch_add(1);
  };
  runtime rt(o);
  std::array<place, 2> in_task{};
  for (std::size_t c = 0; c < 2; ++c)
    rt.spawn_on(c, [](runtime& r, place& p) -> task<void> {
      p = here(r);
      co_return;
    }(rt, in_task[c]));
  rt.wait();
  rt.stop();
  CHECK(loops.load() == 2);
  for (std::size_t c = 0; c < 2; ++c) {
    CAPTURE(c);
    CHECK(nop_ok[c]);
    CHECK(in_loop[c].core == c);
    CHECK(in_loop[c].thread == in_task[c].thread);
    CHECK(in_loop[c].ex == in_task[c].ex);
  }
  CHECK(in_loop[0].thread != in_loop[1].thread);
}

TEST_CASE("runtime::stats() reports a core's executor while runtime_options::loop turns it, and from that core itself") {
  uc_test::watchdog dog(20s, "runtime stats during a loop hook");
  runtime_options o = pinned(2);
  std::atomic<bool> finish{false};
  std::atomic<std::uint64_t> nops{0};
  std::atomic<std::uint64_t> seen_on_core{0};
  runtime* rt_seen = nullptr;
  std::atomic<bool> rt_ready{false};
  o.loop = [&](std::size_t core, executor& ex) {
    if (core == 1) return;  // core 1 is served by the runtime's own loop
    ex.spawn([](std::atomic<bool>& f, std::atomic<std::uint64_t>& n) -> task<void> {
      while (!f.load()) {
        if ((co_await nop()).has_value()) n.fetch_add(1);
      }
    }(finish, nops));
    while (ex.spawned() > 0) ex.run_once(true);
    while (!rt_ready.load()) std::this_thread::yield();
    seen_on_core = rt_seen->stats()[0].executor.completed;  // on the core: no hand-off to wait for
  };
  runtime rt(o);
  rt_seen = &rt;
  rt_ready = true;
  while (nops.load() < 1000) std::this_thread::yield();
  const auto during = rt.stats();
  const std::uint64_t done_then = nops.load();
  finish = true;
  rt.stop();
  CHECK(during[0].executor.completed >= 1000);  // it stayed 0 before stats() asked the core
  CHECK(seen_on_core.load() >= done_then);
}

TEST_CASE("an exception escaping runtime_options::loop is rethrown by wait(), and the core keeps serving") {
  uc_test::watchdog dog(20s, "runtime loop hook throws");
  runtime_options o = pinned(2);
  o.loop = [](std::size_t core, executor&) {
    if (core == 1) throw std::runtime_error("loop on core 1");
  };
  runtime rt(o);
  std::atomic<int> ran{0};
  rt.spawn_on(1, [](std::atomic<int>& n) -> task<void> {
    n.fetch_add(1);
    co_return;
  }(ran));
  CHECK_THROWS_WITH_AS(rt.wait(), "loop on core 1", std::runtime_error);
  rt.wait();
  CHECK(ran.load() == 1);
}

namespace {
/// The calling thread's name and the CPUs it may run on (empty where a call failed: the checks
/// then fail on the test's thread).
struct thread_seen {
  std::string name;
  cpu_set_t cpus;
};
thread_seen this_thread_seen() {
  thread_seen t;
  char name[16] = {};
  if (::pthread_getname_np(::pthread_self(), name, sizeof name) == 0) t.name = name;
  CPU_ZERO(&t.cpus);
  if (::sched_getaffinity(0, sizeof t.cpus, &t.cpus) != 0) CPU_ZERO(&t.cpus);
  return t;
}
}  // namespace

TEST_CASE("runtime cores are named thread_name + their index, and a core whose CPU is -1 is not pinned") {
  uc_test::watchdog dog(20s, "runtime names and unpinned cores");
  runtime_options o;
  o.cpus = {cpus_for(1)[0], -1};
  o.thread_name = "uc-test-core-";  // 13 characters + the index: "uc-test-core-1"
  std::array<thread_seen, 2> seen{};
  o.loop = [&](std::size_t core, executor&) { seen[core] = this_thread_seen(); };
  {
    runtime rt(o);
    CHECK(rt.cpu(0) == o.cpus[0]);
    CHECK(rt.cpu(1) == -1);
  }
  CHECK(seen[0].name == "uc-test-core-0");
  CHECK(seen[1].name == "uc-test-core-1");
  CHECK(CPU_COUNT(&seen[0].cpus) == 1);
  CHECK(CPU_ISSET(o.cpus[0], &seen[0].cpus));
  const thread_seen here = this_thread_seen();  // an unpinned core keeps the process's mask
  CHECK(CPU_EQUAL(&seen[1].cpus, &here.cpus));

  o.thread_name = "a-name-longer-than-15";  // the kernel keeps 15 characters; naming never fails
  o.cpus = {-1};
  {
    runtime rt(o);
  }
  CHECK(seen[0].name == "a-name-longer-t");
}
