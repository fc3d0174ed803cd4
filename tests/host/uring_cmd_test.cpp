// SPDX-License-Identifier: MIT
// The generic uring_cmd on a real target that every kernel >= 6.7 has: socket ioctls
// (SOCKET_URING_OP_SIOCINQ / SIOCOUTQ), plus the ring-shape checks done before submission.
#include <arpa/inet.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <array>
#include <cstring>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "host/helpers.hpp"
#include "support/skip.hpp"
#include "support/tcp_pair.hpp"

#include <uringcmd/uringcmd.hpp>

using namespace uringcmd;
using uc_test::tcp_pair;
using uc_test::unique_fd;

namespace {

int ioctl_int(int fd, unsigned long req) {
  int n = -1;
  REQUIRE(::ioctl(fd, req, &n) == 0);
  return n;
}

// Waits until `fd` has exactly `n` bytes queued for reading (loopback delivery is quick, not instant).
void wait_queued(int fd, int n) {
  for (int i = 0; i < 2000 && ioctl_int(fd, SIOCINQ) != n; ++i) ::poll(nullptr, 0, 1);
  REQUIRE(ioctl_int(fd, SIOCINQ) == n);
}

// Every case that sends a uring_cmd to a socket: 6.7 and later answer it.
#define UC_REQUIRE_SOCKET_URING_CMD() \
  UC_REQUIRE_FEATURE(uringcmd::feature::socket_uring_cmd)

task<result<cmd_result>> cmd(fd_ref fd, unsigned op, std::span<const std::byte> payload = {}, cmd_options o = {}) {
  co_return co_await uring_cmd(fd, op, payload, o);
}

}  // namespace

TEST_CASE("SIOCINQ uring_cmd returns the bytes queued on a TCP socket") {
  UC_REQUIRE_SOCKET_URING_CMD();
  executor ex;
  tcp_pair s;
  const std::string msg(123, 'q');
  REQUIRE(::send(s.client.get(), msg.data(), msg.size(), 0) == 123);
  wait_queued(s.server.get(), 123);

  auto r = sync_wait(ex, cmd(s.server.get(), cmd_ops::socket_siocinq));
  REQUIRE_MESSAGE(r.has_value(), describe(r.error()));
  CHECK(r->res == 123);
  CHECK(r->res2 == 0);
  CHECK(ex.stats().started == 1);
  // Nothing queued on the sending side's receive queue.
  CHECK(sync_wait(ex, cmd(s.client.get(), cmd_ops::socket_siocinq)).value().res == 0);

  // Reading some changes the answer: the command is really asked each time.
  char buf[23];
  REQUIRE(::recv(s.server.get(), buf, sizeof buf, 0) == 23);
  CHECK(sync_wait(ex, cmd(s.server.get(), cmd_ops::socket_siocinq)).value().res == 100);
}

TEST_CASE("SIOCINQ on a UDP socket returns the size of the next datagram") {
  UC_REQUIRE_SOCKET_URING_CMD();
  executor ex;
  unique_fd a(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)), b(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(b.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(b.get(), reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  const std::string d1(77, 'u'), d2(5, 'v');
  REQUIRE(::sendto(a.get(), d1.data(), d1.size(), 0, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 77);
  REQUIRE(::sendto(a.get(), d2.data(), d2.size(), 0, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 5);
  pollfd p{b.get(), POLLIN, 0};
  REQUIRE(::poll(&p, 1, 2000) == 1);
  CHECK(sync_wait(ex, cmd(b.get(), cmd_ops::socket_siocinq)).value().res == 77);
}

TEST_CASE("SIOCOUTQ uring_cmd returns the unsent bytes when the peer does not read") {
  UC_REQUIRE_SOCKET_URING_CMD();
  executor ex;
  tcp_pair s(4096, 4096);
  // Fill the pipe: the peer never reads, so the send queue backs up until send would block.
  REQUIRE(::fcntl(s.client.get(), F_SETFL, O_NONBLOCK) == 0);
  std::vector<char> chunk(4096, 'o');
  long total = 0;
  for (;;) {
    ssize_t n = ::send(s.client.get(), chunk.data(), chunk.size(), 0);
    if (n < 0) {
      REQUIRE((errno == EAGAIN || errno == EWOULDBLOCK));
      break;
    }
    total += n;
  }
  REQUIRE(total > 0);
  // Let the stack settle (window probes), then the counters must be stable and agree.
  int outq = -1, inq = -1;
  cmd_result via_ring{}, via_ring_in{};
  for (int attempt = 0; attempt < 50; ++attempt) {
    ::poll(nullptr, 0, 5);
    outq = ioctl_int(s.client.get(), SIOCOUTQ);
    inq = ioctl_int(s.server.get(), SIOCINQ);
    via_ring = sync_wait(ex, cmd(s.client.get(), cmd_ops::socket_siocoutq)).value();
    via_ring_in = sync_wait(ex, cmd(s.server.get(), cmd_ops::socket_siocinq)).value();
    if (outq == ioctl_int(s.client.get(), SIOCOUTQ) && inq == ioctl_int(s.server.get(), SIOCINQ)) break;
  }
  INFO("sent " << total << ", SIOCOUTQ " << outq << ", SIOCINQ " << inq);
  CHECK(outq > 0);  // the receiver's small window left bytes unsent
  CHECK(via_ring.res == outq);
  CHECK(via_ring_in.res == inq);
  CHECK(outq <= total);
  // Every byte sent is queued at the peer or not yet acknowledged (a byte received but not yet
  // acked is both, so this is not an equality).
  CHECK(inq + outq >= total);
}

TEST_CASE("uring_cmd errors from the kernel: AF_UNIX, regular files, unknown cmd_op") {
  UC_REQUIRE_SOCKET_URING_CMD();
  executor ex;
  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  unique_fd a(sv[0]), b(sv[1]);
  REQUIRE(::write(a.get(), "hi", 2) == 2);
  // AF_UNIX has no proto ioctl for io_uring to call.
  auto r = sync_wait(ex, cmd(b.get(), cmd_ops::socket_siocinq));
  CHECK(r.error() == std::errc::operation_not_supported);
  CHECK(describe(r.error()).rfind("EOPNOTSUPP: ", 0) == 0);
  // A regular file has no ->uring_cmd at all.
  uc_test::temp_file f;
  CHECK(sync_wait(ex, cmd(f.fd.get(), cmd_ops::socket_siocinq)).error() == std::errc::operation_not_supported);
  // A TCP socket with a cmd_op it does not know.
  tcp_pair s;
  CHECK(sync_wait(ex, cmd(s.server.get(), 0xdead)).error() == std::errc::operation_not_supported);
  CHECK(sync_wait(ex, cmd(-1, cmd_ops::socket_siocinq)).error() == std::errc::bad_file_descriptor);
}

TEST_CASE("an 80-byte payload on a ring without SQE128 fails before submission") {
  executor ex;  // 64-byte SQEs
  tcp_pair s;
  std::array<std::byte, 80> big{};
  auto r = sync_wait(ex, cmd(s.server.get(), cmd_ops::socket_siocinq, big));
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error() == errc::sqe128_required);
  CHECK(describe(r.error()).find("SQE128") != std::string::npos);
  CHECK(to_errno(r.error()) == -EOPNOTSUPP);
  // 17 bytes is already too much for a 64-byte SQE; 16 fits.
  CHECK(sync_wait(ex, cmd(s.server.get(), cmd_ops::socket_siocinq, std::span(big).first(17))).error() ==
        errc::sqe128_required);
  CHECK(ex.stats().started == 0);  // nothing reached the ring
  // 16 bytes reach the kernel (which answers them only from 6.7 on).
  auto fits = sync_wait(ex, cmd(s.server.get(), cmd_ops::socket_siocinq, std::span(big).first(16)));
  CHECK(ex.stats().started == 1);
  if (uc_test::kernel_caps().socket_uring_cmd) CHECK(fits.has_value());
  else CHECK(fits.error() == std::errc::operation_not_supported);
}

TEST_CASE("needs_res2 without CQE32 fails before submission, and over 80 bytes never fits") {
  tcp_pair s;
  cmd_options want_res2;
  want_res2.needs_res2 = true;
  {
    executor plain;
    CHECK(sync_wait(plain, cmd(s.server.get(), cmd_ops::socket_siocinq, {}, want_res2)).error() == errc::cqe32_required);
    CHECK(plain.stats().started == 0);
  }
  {
    ring_options o;
    o.big_sqe = true;  // SQE128 alone is not enough
    executor sqe128_only(o);
    CHECK(sync_wait(sqe128_only, cmd(s.server.get(), cmd_ops::socket_siocinq, {}, want_res2)).error() ==
          errc::cqe32_required);
    CHECK(sqe128_only.stats().started == 0);
  }
  {
    executor big(ring_options::passthrough());
    std::array<std::byte, 81> too_big{};
    CHECK(sync_wait(big, cmd(s.server.get(), cmd_ops::socket_siocinq, too_big)).error() == errc::payload_too_large);
    CHECK(big.stats().started == 0);
  }
}

TEST_CASE("on an SQE128|CQE32 ring the 80-byte path reaches the kernel") {
  UC_REQUIRE_SOCKET_URING_CMD();
  executor ex(ring_options::passthrough(64));
  REQUIRE(ex.big_sqe());
  REQUIRE(ex.big_cqe());
  tcp_pair s;
  const std::string msg(321, 'p');
  REQUIRE(::send(s.client.get(), msg.data(), msg.size(), 0) == 321);
  wait_queued(s.server.get(), 321);
  // The socket reads only cmd_op; non-zero bytes in the 80-byte area must not disturb it.
  std::array<std::byte, 80> payload;
  payload.fill(std::byte{0x5a});
  cmd_options o;
  o.needs_res2 = true;  // allowed: the ring has CQE32 (the socket leaves res2 at 0)
  auto r = sync_wait(ex, cmd(s.server.get(), cmd_ops::socket_siocinq, payload, o));
  REQUIRE_MESSAGE(r.has_value(), describe(r.error()));
  CHECK(r->res == 321);
  CHECK(r->res2 == 0);
  CHECK(ex.stats().started == 1);
}

TEST_CASE("prepare_sqe on a 128-byte SQE writes the whole 80-byte command area") {
  executor ex(ring_options::passthrough(8));
  std::array<std::byte, 80> payload;
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<std::byte>(i + 1);
  alignas(64) std::array<unsigned char, 128> slot;

  auto big = uring_cmd(3, 0x77, payload);
  REQUIRE(big.bind(ex) == errc::ok);
  slot.fill(0xFF);
  big.prepare_sqe(*reinterpret_cast<io_uring_sqe*>(slot.data()));
  for (std::size_t i = 0; i < 80; ++i) CHECK(slot[48 + i] == i + 1);

  // A short payload on a big ring: the rest of the 80 bytes is zeroed, not left from a reused slot.
  auto small = uring_cmd(3, 0x77, std::span(payload).first(4));
  REQUIRE(small.bind(ex) == errc::ok);
  slot.fill(0xFF);
  small.prepare_sqe(*reinterpret_cast<io_uring_sqe*>(slot.data()));
  for (std::size_t i = 0; i < 4; ++i) CHECK(slot[48 + i] == i + 1);
  for (std::size_t i = 4; i < 80; ++i) CHECK(slot[48 + i] == 0);
}

TEST_CASE("uring_cmd on a registered (fixed) socket file") {
  UC_REQUIRE_SOCKET_URING_CMD();
  executor ex;
  tcp_pair s;
  REQUIRE(::send(s.client.get(), "0123456789", 10, 0) == 10);
  wait_queued(s.server.get(), 10);
  const std::array<int, 2> fds{s.client.get(), s.server.get()};
  REQUIRE(ex.register_files(fds).has_value());
  CHECK(sync_wait(ex, cmd(fixed_file(1), cmd_ops::socket_siocinq)).value().res == 10);
  CHECK(sync_wait(ex, cmd(fixed_file(0), cmd_ops::socket_siocinq)).value().res == 0);
}
