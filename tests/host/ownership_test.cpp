// SPDX-License-Identifier: MIT
// Which ring an op uses, and which thread owns a ring: several executors per thread, destruction
// in any order, an executor built on one thread and run on another, destruction on a thread that
// cannot drive the ring.
#include <array>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#include "host/helpers.hpp"

#include <uringcmd/uringcmd.hpp>

using namespace uringcmd;
using namespace std::chrono_literals;
using uc_test::pipe_pair;

namespace {
task<int> nops_on_current(int n, std::vector<executor*>& seen) {
  for (int i = 0; i < n; ++i) {
    seen.push_back(executor::current());
    (co_await nop()).value();
  }
  co_return n;
}

// Counts its destruction: proves a frame was destroyed exactly once, or kept.
struct lifetime {
  int* destroyed;
  explicit lifetime(int& d) : destroyed(&d) {}
  lifetime(const lifetime&) = delete;
  ~lifetime() { ++*destroyed; }
};
task<void> parked_read(int fd, int& destroyed, int& finished) {
  lifetime l(destroyed);
  std::array<std::byte, 1> b{};
  (void)co_await uringcmd::read(fd, b, 0);
  ++finished;
}
}  // namespace

TEST_CASE("two executors on one thread: each task's ops go to the executor running it, in either order") {
  uc_test::watchdog dog(10s, "an op went to the wrong ring");
  for (bool passthrough_first : {false, true}) {
    CAPTURE(passthrough_first);
    std::unique_ptr<executor> plain, pt;
    if (passthrough_first) {
      pt = std::make_unique<executor>(ring_options::passthrough(32));
      plain = std::make_unique<executor>();
    } else {
      plain = std::make_unique<executor>();
      pt = std::make_unique<executor>(ring_options::passthrough(32));
    }
    std::vector<executor*> seen;
    CHECK(sync_wait(*plain, nops_on_current(3, seen)) == 3);
    CHECK(sync_wait(*pt, nops_on_current(3, seen)) == 3);
    REQUIRE(seen.size() == 6);
    for (int i = 0; i < 3; ++i) CHECK(seen[static_cast<std::size_t>(i)] == plain.get());
    for (int i = 3; i < 6; ++i) CHECK(seen[static_cast<std::size_t>(i)] == pt.get());
    CHECK(plain->stats().started == 3);
    CHECK(pt->stats().started == 3);
  }
}

TEST_CASE("executors destroyed out of creation order leave no dangling current()") {
  auto a = std::make_unique<executor>();
  auto b = std::make_unique<executor>();
  std::vector<executor*> seen;
  CHECK(sync_wait(*a, nops_on_current(1, seen)) == 1);
  CHECK(sync_wait(*b, nops_on_current(1, seen)) == 1);
  a.reset();  // the older one first
  CHECK(executor::current() == nullptr);
  CHECK(sync_wait(*b, nops_on_current(2, seen)) == 2);
  b.reset();
  CHECK(executor::current() == nullptr);
  executor c;
  CHECK(sync_wait(c, nops_on_current(1, seen)) == 1);
  CHECK(seen.back() == &c);
}

TEST_CASE("an op awaited where no executor runs fails with no_executor") {
  auto t = []() -> task<result<void>> { co_return co_await nop(); }();
  auto h = t.release();
  h.resume();  // driven by hand: no run loop on this thread
  REQUIRE(h.done());
  CHECK(h.promise().take().error() == errc::no_executor);
  h.destroy();
}

TEST_CASE("an executor built on one thread runs on another, registrations included") {
  executor ex;  // built here: the ring stays disabled until a thread runs it
  std::array<std::byte, 4096> buf{};
  const iovec iov{buf.data(), buf.size()};
  REQUIRE(ex.register_buffers(std::span(&iov, 1)).has_value());
  uc_test::temp_file f;
  REQUIRE(::pwrite(f.fd.get(), "ring", 4, 0) == 4);
  std::size_t got = 0;
  std::thread runner([&] {
    got = sync_wait(ex, [&]() -> task<std::size_t> {
      co_return (co_await uringcmd::read_fixed(f.fd.get(), std::span(buf).first(4), 0, 0)).value();
    }());
  });
  runner.join();
  CHECK(got == 4);
  CHECK(std::string(reinterpret_cast<const char*>(buf.data()), 4) == "ring");
  CHECK(ex.ring().adopted());
  CHECK_FALSE(ex.ring().on_owner_thread());
}

TEST_CASE("running an executor from a second thread is a named error, not a corrupted ring") {
  executor ex;
  std::thread first([&] { sync_wait(ex, []() -> task<void> { (co_await nop()).value(); }()); });
  first.join();
  try {
    ex.run_once(false);
    FAIL("the second thread was allowed to enter the ring");
  } catch (const std::system_error& e) {
    CHECK(e.code() == errc::not_owner_thread);
    CHECK(std::string(e.what()).find("io_uring_enter") != std::string::npos);
  }
}

TEST_CASE("destroying an executor on another thread returns at once and never frees frames the kernel may write") {
  uc_test::watchdog dog(10s, "destroying an executor from another thread hung");
  pipe_pair p;
  int destroyed = 0, finished = 0;
  auto ex = std::make_unique<executor>();
  std::thread owner([&] {
    ex->spawn(parked_read(p.rd.get(), destroyed, finished));
    ex->run_once(false);  // the read is now parked in the kernel
  });
  owner.join();
  CHECK(ex->in_flight() >= 2);
  ex.reset();  // from this thread: it cannot enter the ring (SINGLE_ISSUER, registered fd)
  CHECK(destroyed == 0);  // kept: the kernel could still write into its buffer
  CHECK(finished == 0);
  p.put("z");
  CHECK(p.queued() == 1);  // and nothing consumed the data
}

TEST_CASE("an executor with no I/O in flight can be destroyed on any thread; its frames go") {
  int destroyed = 0;
  auto ex = std::make_unique<executor>();
  auto suspended = [](int& d) -> task<void> {
    lifetime l(d);
    co_await std::suspend_always{};  // suspended on something other than I/O
  };
  std::thread owner([&] {
    ex->spawn(suspended(destroyed));
    ex->run_once(false);
  });
  owner.join();
  ex.reset();
  CHECK(destroyed == 1);
}
