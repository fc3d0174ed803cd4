// SPDX-License-Identifier: MIT
// Multishot requests (IORING_CQE_F_MORE) consumed as streams: every CQE in order, an explicit end,
// buffering while the consumer is busy, and consumers that go away while the request is armed.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <optional>
#include <system_error>
#include <vector>

#include <doctest/doctest.h>

#include "host/helpers.hpp"

#include <uringcmd/uringcmd.hpp>

using namespace uringcmd;
using namespace std::chrono_literals;
using uc_test::pipe_pair;
using uc_test::unique_fd;

namespace {
// A listening loopback socket and its port.
struct listener {
  unique_fd fd;
  sockaddr_in addr{};
  listener() {
    fd.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(fd.get() >= 0);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    REQUIRE(::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    REQUIRE(::listen(fd.get(), 16) == 0);
  }
  unique_fd connect() const {
    unique_fd c(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(::connect(c.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0);
    return c;
  }
};
}  // namespace

TEST_CASE("multishot poll delivers one item per readiness event and ends explicitly when cancelled") {
  uc_test::watchdog dog(10s, "multishot poll");
  executor ex;
  pipe_pair p;
  std::vector<unsigned> events;
  std::vector<std::error_code> errors;
  bool ended = false;
  auto consumer = [&]() -> task<void> {
    auto stream = poll_multishot(p.rd.get(), POLLIN);
    for (int i = 0; i < 4; ++i) {
      auto item = co_await stream.next();
      REQUIRE(item.has_value());
      events.push_back(item->value());
      CHECK(stream.armed());
      std::array<std::byte, 1> b{};
      (co_await uringcmd::read(p.rd.get(), b, 0)).value();  // drain, so the next write is a new event
    }
    stream.cancel();
    while (auto item = co_await stream.next()) {
      if (!*item) errors.push_back(item->error());
    }
    ended = !stream.armed();
  };
  auto producer = [&]() -> task<void> {
    for (int i = 0; i < 4; ++i) {
      (co_await sleep_for(2ms)).value();
      p.put("x");
    }
  };
  sync_wait(ex, when_all(consumer(), producer()));
  REQUIRE(events.size() == 4);
  for (unsigned e : events) CHECK((e & POLLIN) != 0);
  REQUIRE(errors.size() == 1);  // the final CQE: cancelled, and nothing after it
  CHECK(errors[0] == std::errc::operation_canceled);
  CHECK(ended);
  CHECK(ex.in_flight() == 1);  // only the wakeup read is left
}

TEST_CASE("multishot accept buffers connections that arrive while the consumer is busy, losing none") {
  uc_test::watchdog dog(10s, "multishot accept");
  executor ex;
  listener l;
  std::vector<unique_fd> clients;
  std::vector<unique_fd> accepted;
  auto server = [&]() -> task<void> {
    auto conns = accept_multishot(l.fd.get());
    auto first = co_await conns.next();  // arms it; the first client arrives meanwhile
    REQUIRE(first);
    accepted.emplace_back(first->value());
    for (int i = 0; i < 5; ++i) clients.push_back(l.connect());  // busy: not awaiting next()
    (co_await sleep_for(20ms)).value();
    CHECK(conns.buffered() == 5);
    for (int i = 0; i < 5; ++i) {
      auto item = co_await conns.next();
      REQUIRE(item);
      accepted.emplace_back(item->value());
    }
    conns.cancel();
    auto last = co_await conns.next();
    REQUIRE(last);
    CHECK(last->error() == std::errc::operation_canceled);
    CHECK_FALSE(co_await conns.next());
  };
  auto first_client = [&]() -> task<void> {
    (co_await sleep_for(2ms)).value();
    clients.push_back(l.connect());
  };
  sync_wait(ex, when_all(server(), first_client()));
  REQUIRE(accepted.size() == 6);
  for (auto& a : accepted) CHECK(a.get() >= 0);
}

TEST_CASE("a stream destroyed while armed is detached: its later CQEs never touch the dead frame") {
  uc_test::watchdog dog(10s, "detached multishot");
  executor ex;
  pipe_pair p;
  int got = 0;
  auto short_lived = [&]() -> task<void> {
    auto stream = poll_multishot(p.rd.get(), POLLIN);
    p.put("a");
    auto item = co_await stream.next();
    got += item && *item;
    // Leaves with the request still armed and data still readable: more CQEs may follow.
  };
  auto after = [&]() -> task<void> {
    for (int i = 0; i < 5; ++i) {
      p.put("b");
      // Reuse the frame memory the stream lived in with fresh frames (the pool recycles them).
      co_await [](int n) -> task<void> {
        std::array<std::byte, 512> scratch{};
        scratch[0] = std::byte{static_cast<unsigned char>(n)};
        (co_await sleep_for(1ms)).value();
      }(i);
    }
  };
  sync_wait(ex, short_lived());
  sync_wait(ex, after());
  CHECK(got == 1);
  ex.run();  // the detached request's final CQE arrives and frees its slot
  CHECK(ex.in_flight() == 1);
}

TEST_CASE("shutdown ends an armed stream with its final CQE and destroys the frame once") {
  pipe_pair p;
  int destroyed = 0;
  std::optional<std::error_code> last;
  struct lifetime {
    int& d;
    ~lifetime() { ++d; }
  };
  {
    executor ex;
    ex.spawn([](int fd, int& d, std::optional<std::error_code>& out) -> task<void> {
      lifetime l{d};
      auto stream = poll_multishot(fd, POLLIN);
      while (auto item = co_await stream.next()) out = item->error();
    }(p.rd.get(), destroyed, last));
    for (int i = 0; i < 3; ++i) ex.run_once(false);
  }
  CHECK(destroyed == 1);
  REQUIRE(last.has_value());
  CHECK(*last == std::errc::operation_canceled);
}
