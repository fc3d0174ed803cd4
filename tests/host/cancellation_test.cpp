// SPDX-License-Identifier: MIT
// with_timeout and with_stop on the host kernel, including the races: stop from another
// coroutine, from another thread, and stop arriving in the same turn as the data.
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <stop_token>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "host/helpers.hpp"

#include <uringcmd/uringcmd.hpp>

using namespace uringcmd;
using namespace std::chrono_literals;
using uc_test::pipe_pair;

namespace {
// Reads one byte from the pipe, bounded by `d`.
task<result<std::size_t>> read_within(int fd, std::byte& b, std::chrono::nanoseconds d) {
  co_return co_await with_timeout(uringcmd::read(fd, std::span(&b, 1), 0), d);
}
task<result<std::size_t>> read_until_stopped(int fd, std::byte& b, std::stop_token t) {
  co_return co_await with_stop(uringcmd::read(fd, std::span(&b, 1), 0), std::move(t));
}
// 4 SQEs, 8 CQEs: seven ops plus the executor's wakeup read fill the CQ.
ring_options eight_cqes() {
  ring_options o;
  o.entries = 4;
  o.cq_entries = 8;
  return o;
}
ring_options no_defer() {
  ring_options o;
  o.defer_taskrun = false;
  return o;
}
}  // namespace

TEST_CASE("with_timeout: a read on an empty pipe times out and is really gone") {
  executor ex;
  pipe_pair p;
  std::byte b{0};
  const auto t0 = std::chrono::steady_clock::now();
  auto r = sync_wait(ex, read_within(p.rd.get(), b, 20ms));
  const double ms = uc_test::ms_since(t0);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error() == std::errc::timed_out);
  CHECK(describe(r.error()).rfind("ETIMEDOUT: ", 0) == 0);
  CHECK(ms >= 19.9);
  CHECK(ms < 2000);
  CHECK(ex.in_flight() == 1);  // only the executor's own wakeup read: both CQEs were reaped
  p.put("z");
  CHECK(p.queued() == 1);  // not consumed by the timed-out read
  CHECK(b == std::byte{0});
}

TEST_CASE("with_timeout: an op that completes first is not delayed by its timer") {
  executor ex;
  pipe_pair p;
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(sync_wait(ex, []() -> task<result<void>> { co_return co_await with_timeout(nop(), 1s); }()).has_value());
  CHECK(uc_test::ms_since(t0) < 500);

  std::byte b{0};
  result<std::size_t> r = 0;
  sync_wait(ex, when_all([&]() -> task<void> { r = co_await read_within(p.rd.get(), b, 5s); }(),
                         [&]() -> task<void> {
                           (void)co_await sleep_for(5ms);
                           p.put("d");
                         }()));
  CHECK(r.value() == 1);
  CHECK(b == std::byte{'d'});
  CHECK(uc_test::ms_since(t0) < 2500);  // far below the 5 s timer
}

TEST_CASE("with_stop: stopped before the co_await, nothing is submitted") {
  executor ex;
  pipe_pair p;
  std::stop_source src;
  src.request_stop();
  std::byte b{0};
  auto r = sync_wait(ex, read_until_stopped(p.rd.get(), b, src.get_token()));
  CHECK(r.error() == std::errc::operation_canceled);
  CHECK(ex.stats().started == 0);
  p.put("k");
  CHECK(p.queued() == 1);
}

TEST_CASE("with_stop: a token that is never stopped lets the op complete") {
  executor ex;
  pipe_pair p;
  std::stop_source src;
  p.put("v");
  std::byte b{0};
  CHECK(sync_wait(ex, read_until_stopped(p.rd.get(), b, src.get_token())).value() == 1);
  CHECK(b == std::byte{'v'});
}

TEST_CASE("with_stop: stopped by another coroutine while the read is pending") {
  for (const ring_options& o : {ring_options{}, no_defer()}) {
    CAPTURE(setup_flag_names(o.setup_flags()));
    executor ex(o);
    pipe_pair p;
    std::stop_source src;
    std::byte b{0};
    result<std::size_t> r = 0;
    sync_wait(ex, when_all([&]() -> task<void> { r = co_await read_until_stopped(p.rd.get(), b, src.get_token()); }(),
                           [&]() -> task<void> {
                             (void)co_await sleep_for(5ms);
                             src.request_stop();
                           }()));
    CHECK(r.error() == std::errc::operation_canceled);
    p.put("x");
    CHECK(p.queued() == 1);
  }
}

TEST_CASE("with_stop: stopped from another thread while the read is pending") {
  // The stop callback runs on the foreign thread and reaches the ring through executor::post.
  for (const ring_options& o : {ring_options{}, no_defer()}) {
    CAPTURE(setup_flag_names(o.setup_flags()));
    uc_test::watchdog dog(10s, "cross-thread stop never woke the executor");
    executor ex(o);
    pipe_pair p;
    std::stop_source src;
    std::byte b{0};
    std::thread stopper([&] {
      std::this_thread::sleep_for(20ms);
      src.request_stop();
    });
    auto r = sync_wait(ex, read_until_stopped(p.rd.get(), b, src.get_token()));
    stopper.join();
    CHECK(r.error() == std::errc::operation_canceled);
    p.put("y");
    CHECK(p.queued() == 1);
  }
}

TEST_CASE("cancel_fd reaches reads that outnumber the CQ") {
  // Ten reads on an 8-entry CQ: all have SQEs (no admission queue to hide behind), so one
  // cancel_fd finds every one of them.
  executor ex(eight_cqes());
  pipe_pair p;
  std::array<std::byte, 10> sink{};
  int cancelled = 0;
  int got_data = 0;
  result<unsigned> found = 0u;
  auto reader = [](int fd, std::byte& out, int& c, int& d) -> task<void> {
    auto r = co_await uringcmd::read(fd, std::span(&out, 1), 0);
    if (r) ++d;
    else if (r.error() == std::errc::operation_canceled) ++c;
  };
  auto canceller = [&]() -> task<void> {
    co_await yield();
    found = co_await uringcmd::cancel_fd(p.rd.get());
  };
  std::vector<task<void>> all;
  for (auto& b : sink) all.push_back(reader(p.rd.get(), b, cancelled, got_data));
  all.push_back(canceller());
  uc_test::watchdog dog(std::chrono::seconds(10), "cancel_fd with reads beyond the CQ size");
  sync_wait(ex, when_all(std::move(all)));
  CHECK(found.value() == 10);
  CHECK(cancelled == 10);
  CHECK(got_data == 0);
  p.put("abc");
  CHECK(p.queued() == 3);
}

TEST_CASE("a burst of cancels needing more CQEs than the CQ holds completes every op") {
  // Seven reads fill an 8-entry CQ (with the wakeup read); stopping them all queues seven
  // internal cancel SQEs on top, whose CQEs overflow the CQ and must come back from the kernel's
  // overflow list.
  for (bool defer : {true, false}) {
    CAPTURE(defer);
    ring_options o;
    o.entries = 4;
    o.cq_entries = 8;
    o.defer_taskrun = defer;
    executor ex(o);
    pipe_pair p;
    std::stop_source src;
    std::array<std::byte, 7> sink{};
    int cancelled = 0;
    auto reader = [](int fd, std::byte& out, std::stop_token t, int& n) -> task<void> {
      auto r = co_await read_until_stopped(fd, out, std::move(t));
      n += (r.error() == std::errc::operation_canceled);
    };
    auto stopper = [](std::stop_source& s) -> task<void> {
      co_await yield();  // all reads are in the kernel by now
      s.request_stop();
    };
    std::vector<task<void>> all;
    for (std::size_t i = 0; i < 7; ++i) all.push_back(reader(p.rd.get(), sink[i], src.get_token(), cancelled));
    all.push_back(stopper(src));
    sync_wait(ex, when_all(std::move(all)));
    CHECK(cancelled == 7);
    CHECK(ex.in_flight() == 1);
    p.put("after");
    CHECK(p.queued() == 5);
  }
}

TEST_CASE("with_stop and with_timeout compose: the first to fire names the error") {
  executor ex;
  pipe_pair p;
  std::byte b{0};
  auto bounded = [](int fd, std::byte& out, std::stop_token t, std::chrono::nanoseconds d) -> task<result<std::size_t>> {
    co_return co_await with_stop(with_timeout(uringcmd::read(fd, std::span(&out, 1), 0), d), std::move(t));
  };
  std::stop_source never;
  CHECK(sync_wait(ex, bounded(p.rd.get(), b, never.get_token(), 10ms)).error() == std::errc::timed_out);
  std::stop_source src;
  result<std::size_t> r = 0;
  sync_wait(ex, when_all([&]() -> task<void> { r = co_await bounded(p.rd.get(), b, src.get_token(), 10s); }(),
                         [&]() -> task<void> {
                           (void)co_await sleep_for(5ms);
                           src.request_stop();
                         }()));
  CHECK(r.error() == std::errc::operation_canceled);
  CHECK(p.queued() == 0);
}

TEST_CASE("stop racing completion in the same turn: data or ECANCELED, never lost") {
  uc_test::watchdog dog(60s, "stop/completion race");
  for (const ring_options& o : {ring_options{}, no_defer()}) {
    CAPTURE(setup_flag_names(o.setup_flags()));
    executor ex(o);
    pipe_pair p;
    int got_data = 0, got_cancel = 0;
    for (int i = 0; i < 2000; ++i) {
      std::stop_source src;
      std::byte b{0};
      result<std::size_t> r = 0;
      const char c = static_cast<char>('a' + i % 26);
      sync_wait(ex, when_all([&]() -> task<void> { r = co_await read_until_stopped(p.rd.get(), b, src.get_token()); }(),
                             [&]() -> task<void> {
                               for (int k = 0; k < i % 3; ++k) co_await yield();  // vary the phase
                               // Data and stop in the same turn, in either order.
                               if (i % 2) src.request_stop();
                               p.put(std::string_view(&c, 1));
                               if (!(i % 2)) src.request_stop();
                             }()));
      if (r.has_value()) {
        REQUIRE(*r == 1);
        REQUIRE(b == std::byte(c));
        REQUIRE(p.queued() == 0);
        ++got_data;
      } else {
        REQUIRE(r.error() == std::errc::operation_canceled);
        REQUIRE(p.queued() == 1);  // the byte is still in the pipe: drain it
        char back = 0;
        REQUIRE(::read(p.rd.get(), &back, 1) == 1);
        REQUIRE(back == c);
        ++got_cancel;
      }
    }
    MESSAGE("data " << got_data << ", cancelled " << got_cancel);
    CHECK(got_data + got_cancel == 2000);
    CHECK(ex.in_flight() == 1);  // nothing left behind but the wakeup read
  }
}

TEST_CASE("stop from another thread racing completion: data or ECANCELED, never lost") {
  uc_test::watchdog dog(60s, "cross-thread stop/completion race");
  executor ex;
  pipe_pair p;
  constexpr int rounds = 500;
  std::atomic<std::stop_source*> target{nullptr};
  std::atomic<int> acked{-1};
  std::thread stopper([&] {
    for (int i = 0; i < rounds; ++i) {
      std::stop_source* s;
      while (!(s = target.load(std::memory_order_acquire))) std::this_thread::yield();
      s->request_stop();
      target.store(nullptr, std::memory_order_relaxed);
      acked.store(i, std::memory_order_release);
    }
  });
  int got_data = 0, got_cancel = 0;
  for (int i = 0; i < rounds; ++i) {
    std::stop_source src;
    std::byte b{0};
    result<std::size_t> r = 0;
    sync_wait(ex, when_all([&]() -> task<void> { r = co_await read_until_stopped(p.rd.get(), b, src.get_token()); }(),
                           [&]() -> task<void> {
                             co_await yield();
                             target.store(&src, std::memory_order_release);  // the thread stops now...
                             // ...while the data arrives: at once, once the stop has been posted, or
                             // one turn later, when the posted cancel is about to be submitted.
                             if (i % 3 != 0)
                               while (acked.load(std::memory_order_acquire) != i) std::this_thread::yield();
                             if (i % 3 == 2) co_await yield();
                             p.put("t");
                           }()));
    while (acked.load(std::memory_order_acquire) != i) std::this_thread::yield();  // src outlives its use
    if (r.has_value()) {
      REQUIRE(b == std::byte{'t'});
      REQUIRE(p.queued() == 0);
      ++got_data;
    } else {
      REQUIRE(r.error() == std::errc::operation_canceled);
      REQUIRE(p.queued() == 1);
      char back = 0;
      REQUIRE(::read(p.rd.get(), &back, 1) == 1);
      ++got_cancel;
    }
  }
  stopper.join();
  MESSAGE("data " << got_data << ", cancelled " << got_cancel);
  CHECK(got_data + got_cancel == rounds);
}

TEST_CASE("with_timeout around an already stopped with_stop reports ECANCELED, never a stale timer result") {
  // Fill recycled frame memory with -ETIME: a timer result read without being written would
  // turn the stop into a bogus ETIMEDOUT.
  for (std::size_t c = 1; c <= detail::frame_pool::classes; ++c) {
    const std::size_t size = c * detail::frame_pool::granule;
    void* block = detail::frame_pool::allocate(size);
    auto* words = static_cast<std::int32_t*>(block);
    for (std::size_t i = 0; i < size / sizeof(std::int32_t); ++i) words[i] = -ETIME;
    detail::frame_pool::deallocate(block, size);
  }
  executor ex;
  pipe_pair p;
  std::stop_source src;
  src.request_stop();
  auto r = sync_wait(ex, [](int fd, std::stop_token t) -> task<result<std::size_t>> {
    std::array<std::byte, 1> b{};
    co_return co_await with_timeout(with_stop(uringcmd::read(fd, b, 0), std::move(t)), 1s);
  }(p.rd.get(), src.get_token()));
  CHECK(r.error() == std::errc::operation_canceled);
  CHECK(ex.stats().started == 0);
}
