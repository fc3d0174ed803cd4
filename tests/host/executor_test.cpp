// SPDX-License-Identifier: MIT
// The executor itself: setup errors, many tasks in flight (SQ-full flushes, CQ-capacity
// deferral), spawn/run/exception plumbing, shutdown with work pending, ring flag variants.
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "host/helpers.hpp"

#include <uringcmd/uringcmd.hpp>

using namespace uringcmd;
using namespace std::chrono_literals;
using uc_test::pipe_pair;

TEST_CASE("a ring the kernel refuses throws a system_error naming the flags") {
  ring_options o;
  o.extra_flags = 1U << 30;  // no such IORING_SETUP_* bit
  try {
    executor ex(o);
    FAIL("the kernel accepted a bogus setup flag");
  } catch (const std::system_error& e) {
    const std::string what = e.what();
    CHECK(e.code() == std::errc::invalid_argument);
    CHECK(what.find("bit30") != std::string::npos);
    CHECK(what.find("DEFER_TASKRUN") != std::string::npos);
    CHECK(what.find("EINVAL") != std::string::npos);
  }
  CHECK(executor::current() == nullptr);  // a failed constructor leaves no dangling current()
  ring_options cq;
  cq.entries = 64;
  cq.cq_entries = 16;  // smaller than the SQ
  CHECK_THROWS_AS(executor{cq}, std::system_error);
}

TEST_CASE("executor reports its ring shape") {
  executor ex(ring_options::passthrough(32));
  CHECK(ex.big_sqe());
  CHECK(ex.big_cqe());
  CHECK((ex.setup_flags() & IORING_SETUP_SQE128) != 0);
  CHECK(ex.cq_capacity() == 64);  // twice the SQ
  CHECK(ex.native_handle().ring_fd >= 0);
}

TEST_CASE("current() is the executor running the coroutine, and only while it runs") {
  executor outer;
  CHECK(executor::current() == nullptr);  // constructing an executor does not make it current
  executor* seen = nullptr;
  executor* seen_inner = nullptr;
  sync_wait(outer, [&]() -> task<void> {
    seen = executor::current();
    executor inner;  // built and run inside a coroutine of `outer`
    sync_wait(inner, [&]() -> task<void> {
      seen_inner = executor::current();
      co_return;
    }());
    CHECK(executor::current() == &outer);  // restored when inner's loop returned
    (co_await nop()).value();
  }());
  CHECK(seen == &outer);
  CHECK(seen_inner != nullptr);
  CHECK(seen_inner != &outer);
  CHECK(executor::current() == nullptr);
}

namespace {
task<void> nops(int n, long& done) {
  for (int i = 0; i < n; ++i) {
    (co_await nop()).value();
    ++done;
  }
}
}  // namespace

TEST_CASE("1000 tasks x 100 nops on a 64-entry ring: SQ-full flushes and a CQ that overflows safely") {
  ring_options o;
  o.entries = 64;
  o.cq_entries = 128;
  executor ex(o);
  long done = 0;
  for (int i = 0; i < 1000; ++i) ex.spawn(nops(100, done));
  CHECK(ex.spawned() == 1000);
  ex.run();
  CHECK(done == 100'000);
  CHECK(ex.spawned() == 0);
  const auto& s = ex.stats();
  MESSAGE("started " << s.started << " completed " << s.completed << " enters " << s.enters
                     << " sq_full_flushes " << s.sq_full_flushes);
  CHECK(s.started == 100'000);
  CHECK(s.completed >= 100'000);
  CHECK(s.sq_full_flushes > 0);  // 1000 ops at once on a 64-entry SQ
  CHECK(ex.in_flight() == 1);  // the wakeup read
  CHECK(s.enters < s.started);  // batched: many ops per io_uring_enter
}

TEST_CASE("when_all over a vector of real reads and writes returns results in order") {
  executor ex;
  uc_test::temp_file f;
  constexpr int n = 40;
  std::vector<std::vector<std::byte>> blocks;
  for (int i = 0; i < n; ++i) blocks.push_back(uc_test::pattern(4096, static_cast<unsigned>(i)));
  auto write_block = [](int fd, std::span<const std::byte> b, std::uint64_t off) -> task<std::size_t> {
    co_return (co_await uringcmd::write(fd, b, off)).value();
  };
  std::vector<task<std::size_t>> writes;
  for (int i = 0; i < n; ++i) writes.push_back(write_block(f.fd.get(), blocks[i], std::uint64_t(i) * 4096));
  auto written = sync_wait(ex, when_all(std::move(writes)));
  REQUIRE(written.size() == n);
  for (auto w : written) CHECK(w == 4096);

  auto read_block = [](int fd, std::uint64_t off) -> task<std::vector<std::byte>> {
    std::vector<std::byte> b(4096);
    (co_await uringcmd::read(fd, b, off)).value();
    co_return b;
  };
  std::vector<task<std::vector<std::byte>>> reads;
  for (int i = n - 1; i >= 0; --i) reads.push_back(read_block(f.fd.get(), std::uint64_t(i) * 4096));
  auto back = sync_wait(ex, when_all(std::move(reads)));
  REQUIRE(back.size() == n);
  for (int i = 0; i < n; ++i) CHECK(back[i] == blocks[n - 1 - i]);
}

TEST_CASE("exceptions from I/O tasks propagate through when_all and sync_wait") {
  executor ex;
  pipe_pair p;
  bool other_finished = false;
  auto failing = []() -> task<int> {
    std::array<std::byte, 1> b{};
    co_return static_cast<int>((co_await uringcmd::read(-1, b, 0)).value());  // throws EBADF
  };
  auto slow = [](bool& flag) -> task<int> {
    (co_await sleep_for(5ms)).value();
    flag = true;
    co_return 1;
  };
  auto outer = [&]() -> task<int> {
    auto [a, b] = co_await when_all(failing(), slow(other_finished));
    co_return a + b;
  };
  try {
    (void)sync_wait(ex, outer());
    FAIL("no exception");
  } catch (const std::system_error& e) {
    CHECK(e.code() == std::errc::bad_file_descriptor);
  }
  CHECK(other_finished);  // when_all waited for the sibling before rethrowing
}

TEST_CASE("run() rethrows the exception a spawned task let escape, and can be resumed") {
  executor ex;
  int finished = 0;
  auto ok = [](int& n) -> task<void> {
    (co_await sleep_for(20ms)).value();
    ++n;
  };
  auto bad = []() -> task<void> {
    (co_await sleep_for(1ms)).value();
    throw std::runtime_error("spawned task failed");
  };
  ex.spawn(ok(finished));
  ex.spawn(bad());
  CHECK_THROWS_WITH_AS(ex.run(), "spawned task failed", std::runtime_error);
  CHECK(finished == 0);
  ex.run();  // the remaining task still runs to completion
  CHECK(finished == 1);
  CHECK(ex.spawned() == 0);
}

namespace {
task<void> fail_in_background() {
  co_await yield();
  throw std::logic_error("background");
}
}  // namespace

TEST_CASE("sync_wait rethrows a spawned task's failure after its own task finished") {
  executor ex;
  ex.spawn(fail_in_background());
  bool mine_done = false;
  auto mine = [](bool& d) -> task<void> {
    (co_await sleep_for(5ms)).value();
    d = true;
  };
  CHECK_THROWS_WITH_AS(sync_wait(ex, mine(mine_done)), "background", std::logic_error);
  CHECK(mine_done);
}

TEST_CASE("post runs a function on the executor thread and wakes a blocked run loop") {
  for (bool defer : {true, false}) {
    CAPTURE(defer);
    uc_test::watchdog dog(10s, "post did not wake the executor");
    ring_options o;
    o.defer_taskrun = defer;
    executor ex(o);
    std::stop_source src;
    std::thread::id ran_on;
    std::thread poster([&] {
      std::this_thread::sleep_for(20ms);
      ex.post([&] {
        ran_on = std::this_thread::get_id();
        src.request_stop();  // on the executor thread: cancels directly
      });
    });
    auto r = sync_wait(ex, [](std::stop_token t) -> task<result<void>> {
      co_return co_await with_stop(sleep_for(1h), std::move(t));
    }(src.get_token()));
    poster.join();
    CHECK(r.error() == std::errc::operation_canceled);
    CHECK(ran_on == std::this_thread::get_id());
  }
}

TEST_CASE("SINGLE_ISSUER|DEFER_TASKRUN on and off both do real I/O") {
  for (bool defer : {true, false}) {
    CAPTURE(defer);
    ring_options o;
    o.defer_taskrun = defer;
    executor ex(o);
    CHECK(((ex.setup_flags() & IORING_SETUP_DEFER_TASKRUN) != 0) == defer);
    CHECK(((ex.setup_flags() & IORING_SETUP_SINGLE_ISSUER) != 0) == defer);
    CHECK(((ex.setup_flags() & IORING_SETUP_COOP_TASKRUN) != 0) == !defer);
    pipe_pair p;
    std::array<std::byte, 3> buf{};
    result<std::size_t> got = 0;
    auto reader = [&]() -> task<void> { got = co_await uringcmd::read(p.rd.get(), buf, 0); };
    auto writer = [&]() -> task<void> {
      (co_await sleep_for(2ms)).value();
      (co_await uringcmd::write(p.wr.get(), uc_test::bytes_of("abc"), 0)).value();
    };
    sync_wait(ex, when_all(reader(), writer()));
    CHECK(got.value() == 3);
    CHECK(std::memcmp(buf.data(), "abc", 3) == 0);
    CHECK(sync_wait(ex, []() -> task<result<void>> { co_return co_await with_timeout(sleep_for(1s), 5ms); }())
              .error() == std::errc::timed_out);
  }
}

TEST_CASE("a blocked run loop sleeps in the kernel instead of spinning") {
  // The wakeup eventfd is O_NONBLOCK: if its read completed at once with EAGAIN, every turn
  // would re-arm it and the loop would spin through io_uring_enter.
  for (bool defer : {true, false}) {
    CAPTURE(defer);
    ring_options o;
    o.defer_taskrun = defer;
    executor ex(o);
    CHECK(sync_wait(ex, []() -> task<result<void>> { co_return co_await sleep_for(50ms); }()).has_value());
    CHECK(ex.stats().enters <= 5);
    CHECK((ex.stats().idle_sleeps >= 1 && ex.stats().idle_sleeps <= 3));
    CHECK(ex.stats().completed == 1);  // the sleep; the wakeup read is still pending
  }
}

TEST_CASE("a run loop that polls before sleeping takes work without sleeping, polls only while it pays, and grows the poll to the gaps it missed") {
  // A pipe read completes through task work when another thread writes: the poll must see it
  // (IORING_SQ_TASKRUN) and take it without sleeping. A poll that runs out and is followed by a
  // long sleep stops polling; a sleep shorter than the poll starts it again. A poll that may grow
  // (idle_spin_max_us) takes the next request after a gap it missed, and stops after a gap longer
  // than its bound; with a fixed poll of the same start, the second read below would sleep.
  enum class expect { found, ran_out, no_poll };
  struct step {
    std::chrono::milliseconds write_after;
    expect what;
  };
  struct shape {
    unsigned spin_us;
    unsigned spin_max_us;
    std::vector<step> reads;
  };
  const std::vector<shape> shapes = {
      {2'000'000, 0, {{50ms, expect::found}}},
      {100, 0, {{50ms, expect::ran_out}}},
      {100'000, 0, {{250ms, expect::ran_out}, {50ms, expect::no_poll}, {50ms, expect::found}}},
      {1'000, 1'000, {{80ms, expect::ran_out}, {20ms, expect::no_poll}}},
      // 80 ms missed: the poll grows to 100 ms and takes the next read at 20 ms (then shrinks to
      // 87.5 ms); 400 ms is past the 200 ms bound: no poll, until an 80 ms gap starts it again.
      {1'000,
       200'000,
       {{80ms, expect::ran_out}, {20ms, expect::found}, {400ms, expect::ran_out}, {80ms, expect::no_poll}, {20ms, expect::found}}},
  };
  for (bool defer : {true, false}) {
    for (const shape& sh : shapes) {
      CAPTURE(defer);
      CAPTURE(sh.spin_us);
      CAPTURE(sh.spin_max_us);
      uc_test::watchdog dog(10s, "a polling run loop missed a completion");
      ring_options o;
      o.defer_taskrun = defer;
      o.idle_spin_us = sh.spin_us;
      o.idle_spin_max_us = sh.spin_max_us;
      executor ex(o);
      CHECK((ex.setup_flags() & IORING_SETUP_TASKRUN_FLAG) != 0);
      pipe_pair p;
      for (std::size_t i = 0; i < sh.reads.size(); ++i) {
        CAPTURE(i);
        std::array<std::byte, 3> buf{};
        std::thread writer([&] {
          std::this_thread::sleep_for(sh.reads[i].write_after);
          CHECK(::write(p.wr.get(), "abc", 3) == 3);
        });
        const executor_stats before = ex.stats();
        const auto got = sync_wait(ex, [&]() -> task<result<std::size_t>> { co_return co_await uringcmd::read(p.rd.get(), buf, 0); }());
        const executor_stats after = ex.stats();
        writer.join();
        CHECK(got.value() == 3);
        CHECK(std::memcmp(buf.data(), "abc", 3) == 0);
        const auto polls = after.idle_polls - before.idle_polls, found = after.polls_found_work - before.polls_found_work,
                   slept = after.idle_sleeps - before.idle_sleeps;
        CAPTURE(polls);
        CAPTURE(found);
        CAPTURE(slept);
        // On Linux 6.1 the read may finish in two rounds of task work, so two polls find work.
        switch (sh.reads[i].what) {
          case expect::found: CHECK((found >= 1 && slept == 0)); break;
          case expect::ran_out: CHECK((polls >= 1 && found == 0 && slept >= 1)); break;
          case expect::no_poll: CHECK((polls == 0 && slept >= 1)); break;
        }
      }
    }
  }
}

// ---- shutdown ----

namespace {
// Lives in a coroutine frame; counts its destruction so the test can prove every frame died once.
struct frame_probe {
  std::vector<int>* destroyed;
  int id;
  frame_probe(std::vector<int>& d, int i) : destroyed(&d), id(i) {}
  frame_probe(const frame_probe&) = delete;
  ~frame_probe() { ++(*destroyed)[static_cast<std::size_t>(id)]; }
};

task<void> wait_read(std::vector<int>& d, int id, int fd, std::vector<std::error_code>& seen) {
  frame_probe probe(d, id);
  std::array<std::byte, 1> b{};
  auto r = co_await uringcmd::read(fd, b, 0);
  seen.push_back(r.error());
}
task<void> wait_sleep(std::vector<int>& d, int id) {
  frame_probe probe(d, id);
  (void)co_await sleep_for(1h);
}
task<void> yield_forever(std::vector<int>& d, int id) {
  frame_probe probe(d, id);
  for (;;) co_await yield();
}
task<void> retry_forever(std::vector<int>& d, int id, int fd) {
  frame_probe probe(d, id);
  std::array<std::byte, 1> b{};
  for (;;) (void)co_await uringcmd::read(fd, b, 0);  // ignores every error
}
task<void> nested(std::vector<int>& d, int id, int fd, std::vector<std::error_code>& seen) {
  frame_probe probe(d, id);
  co_await when_all(wait_read(d, id + 1, fd, seen), wait_sleep(d, id + 2));
}
}  // namespace

TEST_CASE("destroying an executor with work pending cancels it and destroys every frame once") {
  uc_test::watchdog dog(30s, "executor shutdown");
  pipe_pair p;
  std::vector<int> destroyed(32, 0);
  std::vector<std::error_code> seen;
  int n = 0;
  {
    executor ex;
    for (int i = 0; i < 4; ++i) ex.spawn(wait_read(destroyed, n++, p.rd.get(), seen));
    for (int i = 0; i < 4; ++i) ex.spawn(wait_sleep(destroyed, n++));
    ex.spawn(yield_forever(destroyed, n++));
    ex.spawn(retry_forever(destroyed, n++, p.rd.get()));
    ex.spawn(nested(destroyed, n, p.rd.get(), seen));
    n += 3;
    for (int i = 0; i < 5; ++i) ex.run_once(false);  // everything is now suspended in the kernel
    CHECK(ex.spawned() == 11);
    CHECK(ex.in_flight() >= 11);
  }
  for (int i = 0; i < n; ++i) {
    CAPTURE(i);
    CHECK(destroyed[static_cast<std::size_t>(i)] == 1);
  }
  CHECK(seen.size() == 5);  // the blocked reads resumed with their cancellation...
  for (auto& e : seen) CHECK(e == std::errc::operation_canceled);
  p.put("still here");
  CHECK(p.queued() == 10);  // ...and none of them consumed anything
}

TEST_CASE("shutdown with more ops in flight than the CQ holds cancels them all") {
  // 20 parked reads on an 8-entry CQ: their cancellation CQEs overflow into the kernel's list
  // (IORING_FEAT_NODROP) and still all arrive.
  uc_test::watchdog dog(30s, "shutdown with an overflowing CQ");
  pipe_pair p;
  std::vector<int> destroyed(20, 0);
  std::vector<std::error_code> seen;
  {
    ring_options o;
    o.entries = 4;
    o.cq_entries = 8;
    executor ex(o);
    for (int i = 0; i < 20; ++i) ex.spawn(wait_read(destroyed, i, p.rd.get(), seen));
    for (int i = 0; i < 3; ++i) ex.run_once(false);
    CHECK(ex.in_flight() == 21);  // every read has its SQE, and the wakeup read
  }
  for (int d : destroyed) CHECK(d == 1);
  REQUIRE(seen.size() == 20);
  for (auto& e : seen) CHECK(e == std::errc::operation_canceled);
  p.put("x");
  CHECK(p.queued() == 1);
}

TEST_CASE("an executor destroyed without ever running, or right after spawning, leaks nothing") {
  { executor idle; }
  auto token = std::make_shared<int>(0);
  {
    executor ex;
    ex.spawn([](std::shared_ptr<int> held) -> task<void> {  // the copy lives in the task's frame
      (void)co_await sleep_for(1h);
      (void)held;
    }(token));
    CHECK(token.use_count() == 2);
  }
  CHECK(token.use_count() == 1);  // never started, never submitted: the frame is simply destroyed
}

// ---- exceptions from posted work, thread exit ----

TEST_CASE("sync_wait unwinding on a posted function's exception leaves its task safe to finish later") {
  executor ex;
  bool finished = false;
  ex.post([] { throw std::runtime_error("posted failure"); });
  auto waits = [](bool& f) -> task<int> {
    (co_await sleep_for(5ms)).value();
    f = true;
    co_return 7;
  };
  CHECK_THROWS_WITH_AS((void)sync_wait(ex, waits(finished)), "posted failure", std::runtime_error);
  CHECK_FALSE(finished);
  ex.run();  // the task is still owned by the executor and finishes; its result slot is alive
  CHECK(finished);
}

TEST_CASE("a posted function that throws does not drop the rest of its batch") {
  executor ex;
  int ran = 0;
  ex.post([&] { ++ran; });
  ex.post([] { throw std::runtime_error("second of three"); });
  ex.post([&] { ++ran; });  // e.g. a cross-thread cancel: losing it would be a hang
  CHECK_THROWS_WITH_AS(ex.run_once(false), "second of three", std::runtime_error);
  CHECK(ran == 2);
}

TEST_CASE("a posted exception while a full SQ forces a reap is rethrown by run, never terminates") {
  ring_options o;
  o.entries = 2;
  executor ex(o);
  long done = 0;
  for (int i = 0; i < 50; ++i) ex.spawn(nops(20, done));
  ex.post([] { throw std::runtime_error("posted during SQ pressure"); });
  CHECK_THROWS_AS(ex.run(), std::runtime_error);
  ex.run();
  CHECK(done == 1000);
  CHECK(ex.stats().sq_full_flushes > 0);
}

TEST_CASE("a thread_local executor destroys its frames at thread exit and returns their memory") {
  const std::size_t before = detail::frame_pool::heap_blocks();
  auto token = std::make_shared<int>(0);
  std::thread worker([token] {
    thread_local executor ex;  // constructed before this thread's frame lists are first used
    ex.spawn([](std::shared_ptr<int> held) -> task<void> {
      (void)co_await sleep_for(1h);
      (void)held;
    }(token));
    ex.run_once(false);
  });
  worker.join();
  CHECK(token.use_count() == 1);  // the frame was destroyed at thread exit...
  CHECK(detail::frame_pool::heap_blocks() == before);  // ...and its memory went back to the heap
}
