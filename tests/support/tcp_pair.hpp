// SPDX-License-Identifier: MIT
// A connected loopback TCP pair. Failures throw std::system_error naming the call (a failed test
// under doctest); no doctest here, so that the benchmark can use it too.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <system_error>

#include "unique_fd.hpp"

namespace uc_test {

// `rcvbuf`/`sndbuf` (when non-zero) are set before connecting so the window is small and a
// non-reading peer fills up quickly.
struct tcp_pair {
  unique_fd client, server;
  explicit tcp_pair(int rcvbuf = 0, int sndbuf = 0) {
    unique_fd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    check(listener.get(), "socket");
    if (rcvbuf) check(::setsockopt(listener.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf), "SO_RCVBUF");
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;  // ephemeral
    check(::bind(listener.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), "bind");
    socklen_t len = sizeof a;
    check(::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&a), &len), "getsockname");
    check(::listen(listener.get(), 1), "listen");
    client.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    check(client.get(), "socket");
    if (sndbuf) check(::setsockopt(client.get(), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf), "SO_SNDBUF");
    check(::connect(client.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), "connect");
    server.reset(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    check(server.get(), "accept4");
  }

 private:
  static void check(int r, const char* what) {
    if (r < 0) throw std::system_error(errno, std::system_category(), what);
  }
};

}  // namespace uc_test
