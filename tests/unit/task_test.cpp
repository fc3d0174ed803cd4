// SPDX-License-Identifier: MIT
// task, when_all and sync_wait composition. The first cases drive tasks by hand (no executor);
// the rest use an executor only as a scheduler for yield(), so nothing here does I/O.
#include <coroutine>
#include <deque>
#include <memory>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include <doctest/doctest.h>

#include <uringcmd/executor.hpp>
#include <uringcmd/sync_wait.hpp>
#include <uringcmd/task.hpp>
#include <uringcmd/when_all.hpp>
#include <uringcmd/yield.hpp>

using namespace uringcmd;

namespace {

// A hand-cranked scheduler: `co_await q.suspend()` parks the coroutine until q.step().
struct manual_queue {
  std::deque<std::coroutine_handle<>> parked;
  struct awaiter {
    manual_queue& q;
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) { q.parked.push_back(h); }
    void await_resume() const noexcept {}
  };
  awaiter suspend() { return {*this}; }
  bool step() {
    if (parked.empty()) return false;
    auto h = parked.front();
    parked.pop_front();
    h.resume();
    return true;
  }
};

// Starts `t` and cranks `q` until it is done; returns the finished handle (caller destroys).
template <class T>
typename task<T>::handle_type drive(task<T> t, manual_queue& q) {
  auto h = t.release();
  h.resume();
  while (!h.done())
    if (!q.step()) FAIL("task is suspended but nothing is parked");
  return h;
}

task<int> immediate(int v) { co_return v; }

task<int> sum_immediates(int n) {
  int s = 0;
  for (int i = 0; i < n; ++i) s += co_await immediate(1);
  co_return s;
}

task<int> parked_value(manual_queue& q, int v, int parks) {
  for (int i = 0; i < parks; ++i) co_await q.suspend();
  co_return v;
}

task<std::string> parked_string(manual_queue& q, std::string s) {
  co_await q.suspend();
  co_return s;
}

task<void> parked_throw(manual_queue& q, int parks, const char* what) {
  for (int i = 0; i < parks; ++i) co_await q.suspend();
  throw std::runtime_error(what);
}

}  // namespace

TEST_CASE("a million synchronously completing awaits do not grow the stack") {
  // Symmetric transfer: without it each iteration nests a resume() and the stack overflows.
  manual_queue q;
  auto h = drive(sum_immediates(1'000'000), q);
  CHECK(h.promise().take() == 1'000'000);
  h.destroy();
}

TEST_CASE("an unstarted task frees its frame and never runs") {
  bool ran = false;
  auto body = [](bool& flag) -> task<void> {
    flag = true;
    co_return;
  };
  { auto t = body(ran); CHECK(t.valid()); CHECK_FALSE(t.done()); }
  CHECK_FALSE(ran);  // lazy; ASan reports a leak if the frame were not freed
}

TEST_CASE("when_all returns values in argument order whatever order children finish in") {
  manual_queue q;
  auto all = when_all(parked_value(q, 1, 3), parked_string(q, "two"), parked_value(q, 3, 1));
  auto h = drive(std::move(all), q);
  auto [a, b, c] = h.promise().take();
  CHECK(a == 1);
  CHECK(b == "two");
  CHECK(c == 3);
  h.destroy();
}

TEST_CASE("when_all with children that all complete synchronously continues at once") {
  manual_queue q;
  auto h = drive(when_all(immediate(5), immediate(6)), q);
  CHECK(q.parked.empty());
  CHECK(h.promise().take() == std::tuple{5, 6});
  h.destroy();
}

TEST_CASE("when_all over an empty vector completes with nothing") {
  manual_queue q;
  auto h = drive(when_all(std::vector<task<int>>{}), q);
  CHECK(h.promise().take().empty());
  h.destroy();
}

TEST_CASE("when_all lets every child finish, then rethrows the first exception in argument order") {
  manual_queue q;
  int finished = 0;
  auto counted = [](manual_queue& mq, int& n) -> task<void> {
    co_await mq.suspend();
    co_await mq.suspend();
    co_await mq.suspend();
    ++n;
  };
  // "second" throws before "first" does, but "first" comes first in the argument list.
  auto h = drive(when_all(counted(q, finished), parked_throw(q, 2, "first"), parked_throw(q, 1, "second")), q);
  CHECK(finished == 1);
  CHECK_THROWS_WITH(h.promise().take(), "first");
  h.destroy();
}

// ---- with an executor as the scheduler ----

namespace {
task<void> yielder(std::string& log, char name, int n) {
  for (int i = 0; i < n; ++i) {
    log += name;
    co_await yield();
  }
}

task<int> yield_then(int v) {
  co_await yield();
  co_return v;
}

task<std::unique_ptr<int>> make_unique_later(int v) {
  co_await yield();
  co_return std::make_unique<int>(v);
}

task<int> throws_after_yield() {
  co_await yield();
  throw std::logic_error("boom");
}
}  // namespace

TEST_CASE("yield interleaves tasks under when_all in FIFO order") {
  executor ex;
  std::string log;
  sync_wait(ex, when_all(yielder(log, 'a', 3), yielder(log, 'b', 3), yielder(log, 'c', 2)));
  CHECK(log == "abcabcab");
}

TEST_CASE("sync_wait returns values, including move-only ones") {
  executor ex;
  CHECK(sync_wait(ex, yield_then(9)) == 9);
  auto p = sync_wait(ex, make_unique_later(11));
  REQUIRE(p);
  CHECK(*p == 11);
  std::vector<task<int>> v;
  for (int i = 0; i < 50; ++i) v.push_back(yield_then(i * i));
  auto squares = sync_wait(ex, when_all(std::move(v)));
  REQUIRE(squares.size() == 50);
  for (int i = 0; i < 50; ++i) CHECK(squares[static_cast<std::size_t>(i)] == i * i);
}

TEST_CASE("exceptions propagate through nested tasks, when_all and sync_wait") {
  executor ex;
  auto outer = []() -> task<int> {
    auto [x, y] = co_await when_all(yield_then(1), throws_after_yield());
    co_return x + y;
  };
  CHECK_THROWS_AS(sync_wait(ex, outer()), std::logic_error);
  // The executor is still usable afterwards.
  CHECK(sync_wait(ex, yield_then(3)) == 3);
}

TEST_CASE("yield without an executor simply continues") {
  manual_queue q;
  REQUIRE(executor::current() == nullptr);
  auto h = drive(yield_then(4), q);
  CHECK(h.promise().take() == 4);
  h.destroy();
}

// ---- misuse is a clear error, never undefined behaviour ----

namespace {
task<int> seven() { co_return 7; }
}  // namespace

TEST_CASE("awaiting a moved-from or default task throws logic_error instead of dereferencing null") {
  manual_queue q;
  auto moved_from = [](task<int>& t) -> task<int> {
    task<int> thief = std::move(t);
    co_return co_await std::move(t);  // t is empty now
  };
  auto t = seven();
  auto h = drive(moved_from(t), q);
  CHECK_THROWS_AS(h.promise().take(), std::logic_error);
  h.destroy();

  auto default_constructed = []() -> task<int> { co_return co_await task<int>{}; };
  auto h2 = drive(default_constructed(), q);
  CHECK_THROWS_AS(h2.promise().take(), std::logic_error);
  h2.destroy();
}

TEST_CASE("awaiting a finished task a second time throws instead of returning a moved-from value") {
  manual_queue q;
  auto twice = []() -> task<std::string> {
    auto t = []() -> task<std::string> { co_return std::string(100, 'x'); }();
    std::string first = co_await std::move(t);
    CHECK(first.size() == 100);
    co_return co_await std::move(t);  // finished and taken: must not hand out "" silently
  };
  auto h = drive(twice(), q);
  CHECK_THROWS_WITH_AS(h.promise().take(), "uringcmd: a task's result was awaited twice", std::logic_error);
  h.destroy();
}
