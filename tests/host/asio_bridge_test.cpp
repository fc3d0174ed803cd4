// SPDX-License-Identifier: MIT
// The Asio bridge: one io_context thread runs Asio sockets and uringcmd ops together.
#include <cstring>
#include <future>
#include <string>
#include <thread>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/use_future.hpp>
#include <asio/write.hpp>

#include <uringcmd/asio/bridge.hpp>
#include <uringcmd/cancellation.hpp>
#include <uringcmd/ops.hpp>

#include "host/helpers.hpp"

namespace ua = uringcmd::asio;
using ::asio::awaitable;
using ::asio::use_awaitable;
using ::asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

struct bridge {
  explicit bridge(const uringcmd::ring_options& ring = {}) : ex(ring) {}
  ::asio::io_context io;
  uringcmd::executor ex;
  ua::ring_driver driver{io, ex};
};

awaitable<void> echo_once(tcp::acceptor& acceptor) {
  tcp::socket peer = co_await acceptor.async_accept(use_awaitable);
  char buf[64];
  const std::size_t n = co_await peer.async_read_some(::asio::buffer(buf), use_awaitable);
  co_await ::asio::async_write(peer, ::asio::buffer(buf, n), use_awaitable);
}

awaitable<std::string> echo_client(tcp::endpoint to, std::string msg) {
  tcp::socket s(co_await ::asio::this_coro::executor);
  co_await s.async_connect(to, use_awaitable);
  co_await ::asio::async_write(s, ::asio::buffer(msg), use_awaitable);
  std::string back(msg.size(), '\0');
  co_await ::asio::async_read(s, ::asio::buffer(back), use_awaitable);
  co_return back;
}

awaitable<std::string> file_round_trip(ua::ring_driver& d, int fd) {
  const std::string text = "written by io_uring from an asio coroutine";
  const std::size_t wrote = co_await ua::async_run(d, uringcmd::write(fd, uc_test::bytes_of(text), 0), use_awaitable);
  CHECK(wrote == text.size());
  co_await ua::async_run(d, uringcmd::fsync(fd), use_awaitable);
  std::string back(text.size(), '\0');
  co_await ua::async_run(d, uringcmd::read(fd, std::as_writable_bytes(std::span(back)), 0), use_awaitable);
  co_return back;
}

uringcmd::task<int> three_nops() {
  for (int i = 0; i < 3; ++i) (co_await uringcmd::nop()).value();
  co_return 3;
}

uringcmd::task<int> throws_after_a_nop() {
  (co_await uringcmd::nop()).value();
  throw std::runtime_error("boom");
}

}  // namespace

TEST_CASE("asio bridge: a TCP echo and file I/O through the ring share one io_context thread") {
  uc_test::watchdog dog(10s, "asio echo + file I/O");
  bridge b;
  uc_test::temp_file file;
  tcp::acceptor acceptor(b.io, tcp::endpoint(::asio::ip::address_v4::loopback(), 0));
  std::string echoed, from_file;
  ::asio::co_spawn(b.io, echo_once(acceptor), ::asio::detached);
  ::asio::co_spawn(b.io, echo_client(acceptor.local_endpoint(), "ping over asio"),
                   [&](std::exception_ptr e, std::string s) {
                     CHECK(!e);
                     echoed = std::move(s);
                   });
  ::asio::co_spawn(b.io, file_round_trip(b.driver, file.fd.get()), [&](std::exception_ptr e, std::string s) {
    CHECK(!e);
    from_file = std::move(s);
  });
  b.io.run();  // returns: no busy loop keeps the io_context alive once everything is done
  CHECK(echoed == "ping over asio");
  CHECK(from_file == "written by io_uring from an asio coroutine");
}

TEST_CASE("asio bridge: an idle wait sleeps in Asio's reactor until the ring has a completion") {
  uc_test::watchdog dog(10s, "asio idle wait");
  uringcmd::ring_options ring;
  SUBCASE("on a plain ring") {}
  SUBCASE("on a ring with IORING_SETUP_TASKRUN_FLAG, where a pass skips its last turn when it may") {
    ring.extra_flags |= IORING_SETUP_TASKRUN_FLAG;
  }
  bridge b(ring);
  uc_test::pipe_pair p;
  char buf[8] = {};
  std::error_code got = make_error_code(std::errc::interrupted);
  std::size_t n = 0;
  ua::async_run(b.driver, uringcmd::read(p.rd.get(), std::as_writable_bytes(std::span(buf)), 0),
                [&](std::error_code ec, std::size_t bytes) {
                  got = ec;
                  n = bytes;
                });
  std::thread writer([&] {
    std::this_thread::sleep_for(100ms);
    p.put("late");
  });
  b.io.run();
  writer.join();
  CHECK(!got);
  CHECK(n == 4);
  // A busy loop would have run thousands of executor turns in 100 ms.
  CHECK(b.driver.passes() < 10);
}

TEST_CASE("asio bridge: after_turn runs after the turn that completed a task, before any posted handler") {
  uc_test::watchdog dog(10s, "asio after_turn");
  bridge b;
  bool done = false, turn_saw_done = false, handler_saw_turn = false;
  b.driver.after_turn([&] { turn_saw_done = turn_saw_done || done; });
  b.driver.spawn([](bridge& br, bool& d, bool& h, bool& seen) -> uringcmd::task<void> {
    co_await uringcmd::nop();
    d = true;
    ::asio::post(br.io, [&h, &seen] { h = seen; });  // a handler queued from inside the turn
  }(b, done, handler_saw_turn, turn_saw_done));
  b.io.run();
  CHECK(done);
  CHECK(handler_saw_turn);
}

TEST_CASE("asio bridge: a cancellation_signal aborts a pending pipe read with operation_aborted") {
  uc_test::watchdog dog(10s, "asio cancellation");
  bridge b;
  uc_test::pipe_pair p;
  char buf[8];
  ::asio::cancellation_signal cancel;
  std::error_code got;
  bool done = false;
  ua::async_run(b.driver, uringcmd::read(p.rd.get(), std::as_writable_bytes(std::span(buf)), 0),
                ::asio::bind_cancellation_slot(cancel.slot(), [&](std::error_code ec, std::size_t) {
                  got = ec;
                  done = true;
                }));
  ::asio::steady_timer timer(b.io, 20ms);
  timer.async_wait([&](std::error_code) { cancel.emit(::asio::cancellation_type::terminal); });
  b.io.run();
  REQUIRE(done);
  CHECK(got == ::asio::error::operation_aborted);
  p.put("x");
  CHECK(p.queued() == 1);  // the cancelled read is really gone: it consumed nothing
}

TEST_CASE("asio bridge: a cancelled asio::awaitable cancels the uringcmd task it awaits") {
  uc_test::watchdog dog(10s, "asio awaitable cancellation");
  bridge b;
  uc_test::pipe_pair p;
  auto slow_read = [&](std::stop_token st) -> uringcmd::task<uringcmd::result<std::size_t>> {
    static char buf[8];
    co_return co_await uringcmd::with_stop(uringcmd::read(p.rd.get(), std::as_writable_bytes(std::span(buf)), 0), st);
  };
  ::asio::cancellation_signal cancel;
  std::exception_ptr error;
  ::asio::co_spawn(
      b.io,
      [&]() -> awaitable<void> { co_await ua::async_run(b.driver, slow_read, use_awaitable); },
      ::asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr e) { error = e; }));
  ::asio::steady_timer timer(b.io, 20ms);
  timer.async_wait([&](std::error_code) { cancel.emit(::asio::cancellation_type::terminal); });
  b.io.run();
  REQUIRE(error);
  try {
    std::rethrow_exception(error);
  } catch (const std::system_error& e) {
    CHECK(e.code() == ::asio::error::operation_aborted);
  }
}

TEST_CASE("asio bridge: every completion token kind gets the task's value") {
  bridge b;
  SUBCASE("a callback") {
    int got = 0;
    ua::async_run(b.driver, three_nops(), [&](std::exception_ptr e, int v) {
      CHECK(!e);
      got = v;
    });
    b.io.run();
    CHECK(got == 3);
  }
  SUBCASE("use_future") {
    std::future<int> f = ua::async_run(b.driver, three_nops(), ::asio::use_future);
    b.io.run();
    CHECK(f.get() == 3);
  }
  SUBCASE("use_awaitable") {
    int got = 0;
    ::asio::co_spawn(
        b.io, [&]() -> awaitable<void> { got = co_await ua::async_run(b.driver, three_nops(), use_awaitable); },
        ::asio::detached);
    b.io.run();
    CHECK(got == 3);
  }
  SUBCASE("use_future carries a task's exception") {
    std::future<int> f = ua::async_run(b.driver, throws_after_a_nop(), ::asio::use_future);
    b.io.run();
    CHECK_THROWS_WITH_AS(f.get(), "boom", std::runtime_error);
  }
  SUBCASE("an op's errno arrives as an asio error_code") {
    std::error_code got;
    char buf[4];
    ua::async_run(b.driver, uringcmd::read(-1, std::as_writable_bytes(std::span(buf)), 0),
                  [&](std::error_code ec, std::size_t) { got = ec; });
    b.io.run();
    CHECK(got == ::asio::error::bad_descriptor);
  }
}
