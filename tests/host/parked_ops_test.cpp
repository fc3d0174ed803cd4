// SPDX-License-Identifier: MIT
// Long-lived ops: a ublk queue parks one FETCH per tag forever and runs target I/O beside them.
// Every op gets its SQE at once, whatever the CQ size; timers and cancellation reach them all.
#include <array>
#include <chrono>
#include <cstddef>
#include <stop_token>
#include <string>
#include <system_error>
#include <vector>

#include <doctest/doctest.h>

#include "host/helpers.hpp"

#include <uringcmd/uringcmd.hpp>

using namespace uringcmd;
using namespace std::chrono_literals;
using uc_test::pipe_pair;

namespace {
task<void> parked(int fd, int& done) {
  std::array<std::byte, 1> b{};
  (co_await uringcmd::read(fd, b, 0)).value();
  ++done;
}
task<void> transient(int& done) {
  (co_await nop()).value();
  (co_await sleep_for(1ms)).value();
  ++done;
}
}  // namespace

TEST_CASE("4096 parked reads and 4096 transient ops run at once on sized and default rings") {
  constexpr int depth = 4096;
  ring_options sized;
  sized.max_in_flight = 2 * depth + 16;  // the ublk sizing: D parked + D transient (+ internal)
  for (const ring_options& o : {sized, ring_options{}}) {  // the default CQ (512) overflows safely
    CAPTURE(o.max_in_flight);
    uc_test::watchdog dog(60s, "parked + transient ops");
    pipe_pair p;
    int parked_done = 0, transient_done = 0;
    {
      executor ex(o);
      CHECK(ex.cq_capacity() >= (o.max_in_flight ? 8192U : 512U));
      for (int i = 0; i < depth; ++i) ex.spawn(parked(p.rd.get(), parked_done));
      for (int i = 0; i < depth; ++i) ex.spawn(transient(transient_done));
      ex.run_until([&] { return transient_done == depth; });  // never held back by the parked ones
      CHECK(parked_done == 0);
      CHECK(ex.in_flight() == depth + 1);  // every parked read is in the kernel, plus the wakeup read
      p.put(std::string(depth, 'x'));
      ex.run();
      CHECK(parked_done == depth);
      CHECK(p.queued() == 0);
      CHECK(ex.in_flight() == 1);
    }
  }
}

TEST_CASE("ring options no ring can serve are refused at construction with a named error") {
  auto refused = [](ring_options o, const char* needle) {
    try {
      executor ex(o);
      FAIL("accepted");
    } catch (const std::system_error& e) {
      CHECK(e.code() == errc::invalid_ring_options);
      CHECK(std::string(e.what()).find(needle) != std::string::npos);
    }
  };
  ring_options one;
  one.entries = 1;  // a linked timeout needs two SQEs in one submit
  refused(one, "entries=1");
  ring_options huge;
  huge.max_in_flight = 100000;
  refused(huge, "max_in_flight=100000");
  ring_options small_cq;
  small_cq.cq_entries = 64;
  small_cq.max_in_flight = 100;
  refused(small_cq, "cq_entries=64");
}

TEST_CASE("the smallest ring carries an op with a linked timeout") {
  uc_test::watchdog dog(10s, "two-entry ring with a linked timeout");
  ring_options o;
  o.entries = 2;
  executor ex(o);
  pipe_pair p;
  auto r = sync_wait(ex, [&]() -> task<result<std::size_t>> {
    std::array<std::byte, 1> b{};
    co_return co_await with_timeout(uringcmd::read(p.rd.get(), b, 0), 5ms);
  }());
  CHECK(r.error() == std::errc::timed_out);
}

TEST_CASE("a timeout starts at once even when parked ops outnumber the CQ") {
  uc_test::watchdog dog(10s, "a timed op waited behind parked ones");
  ring_options o;
  o.entries = 4;
  o.cq_entries = 8;
  executor ex(o);
  pipe_pair parked_pipe, p;
  int parked_done = 0;
  for (int i = 0; i < 20; ++i) ex.spawn(parked(parked_pipe.rd.get(), parked_done));
  auto r = sync_wait(ex, [&]() -> task<result<std::size_t>> {
    std::array<std::byte, 1> b{};
    co_return co_await with_timeout(uringcmd::read(p.rd.get(), b, 0), 10ms);
  }());
  CHECK(r.error() == std::errc::timed_out);
  CHECK(parked_done == 0);
  parked_pipe.put(std::string(20, 'y'));
  ex.run();
  CHECK(parked_done == 20);
}

TEST_CASE("one stop cancels 40000 parked reads, each exactly once") {
  uc_test::watchdog dog(30s, "stopping 40000 parked reads");
  constexpr int n = 40000;
  executor ex;
  pipe_pair p;
  std::stop_source src;
  int cancelled = 0, other = 0;
  auto reader = [](int fd, std::stop_token t, int& c, int& o) -> task<void> {
    std::array<std::byte, 1> b{};
    auto r = co_await with_stop(uringcmd::read(fd, b, 0), std::move(t));
    (r.error() == std::errc::operation_canceled ? c : o) += 1;
  };
  for (int i = 0; i < n; ++i) ex.spawn(reader(p.rd.get(), src.get_token(), cancelled, other));
  ex.spawn([](std::stop_source& s) -> task<void> {
    co_await yield();
    s.request_stop();
  }(src));
  ex.run();
  CHECK(cancelled == n);
  CHECK(other == 0);
  p.put("q");
  CHECK(p.queued() == 1);
}
