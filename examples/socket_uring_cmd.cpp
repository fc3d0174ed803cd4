// SPDX-License-Identifier: MIT
// socket_uring_cmd: the generic uring_cmd awaitable on a target every machine has, a TCP socket:
// SOCKET_URING_OP_SIOCINQ returns how many bytes wait to be read.
// Needs: Linux 6.7+ (socket uring_cmd).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <iostream>
#include <system_error>

#include <uringcmd/uringcmd.hpp>

namespace uc = uringcmd;

namespace {
// A connected loopback TCP pair (client, server side).
std::pair<int, int> tcp_pair() {
  int ls = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (ls < 0 || ::bind(ls, reinterpret_cast<sockaddr*>(&a), sizeof a) || ::listen(ls, 1) ||
      ::getsockname(ls, reinterpret_cast<sockaddr*>(&a), &len))
    throw std::system_error(errno, std::system_category(), "listen");
  int c = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (c < 0 || ::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a))
    throw std::system_error(errno, std::system_category(), "connect");
  int s = ::accept4(ls, nullptr, nullptr, SOCK_CLOEXEC);
  ::close(ls);
  if (s < 0) throw std::system_error(errno, std::system_category(), "accept");
  return {c, s};
}
}  // namespace

uc::task<void> demo() {
  auto [client, server] = tcp_pair();
  const char msg[] = "0123456789";
  if (::write(client, msg, 10) != 10) throw std::system_error(errno, std::system_category(), "write");
  auto r = co_await uc::uring_cmd(server, uc::cmd_ops::socket_siocinq);
  if (r) std::cout << "SIOCINQ: " << r->res << " bytes queued\n";
  else std::cout << "SIOCINQ failed: " << uc::describe(r.error()) << " (socket uring_cmd needs Linux 6.7)\n";
  ::close(client);
  ::close(server);
}

int main() {
  uc::executor ex;
  uc::sync_wait(ex, demo());
}
