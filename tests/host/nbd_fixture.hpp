// SPDX-License-Identifier: MIT
// The NBD server tests' fixture: uringcmd-nbd started on a temporary export at a free port, and a
// small blocking NBD client over a raw socket that can also misbehave on purpose.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "host/helpers.hpp"
#include "nbd/protocol.hpp"
#include "support/skip.hpp"
#include "support/unique_fd.hpp"

namespace uc_test {

namespace nbd = uringcmd::nbd;

/// The tool's path on $PATH, or "" (the caller skips, which fails in CI).
inline std::string find_tool(const char* name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  dirs += ":/usr/sbin:/sbin";
  for (std::size_t at = 0; at <= dirs.size();) {
    const std::size_t end = std::min(dirs.find(':', at), dirs.size());
    std::string candidate = dirs.substr(at, end - at) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    at = end + 1;
  }
  return {};
}

#define UC_REQUIRE_TOOL(name, package)                                           \
  do {                                                                           \
    if (uc_test::find_tool(name).empty()) UC_SKIP(name " not installed (" package "; scripts/setup-deps)"); \
  } while (0)

/// Runs a shell command line; true when it exits 0.
inline bool shell(const std::string& cmd) {
  const int rc = std::system(cmd.c_str());
  if (rc != 0) MESSAGE("command failed (" << rc << "): " << cmd);
  return rc == 0;
}

/// sha256sum's digests of `paths`, computed in parallel (one process each).
inline std::vector<std::string> sha256_of(const std::vector<std::string>& paths) {
  std::vector<FILE*> pipes;
  for (const auto& path : paths) {
    pipes.push_back(::popen(("sha256sum '" + path + "'").c_str(), "r"));
    REQUIRE(pipes.back());
  }
  std::vector<std::string> digests;
  for (FILE* p : pipes) {
    char line[512] = {};
    const bool got = std::fgets(line, sizeof line, p) != nullptr;
    ::pclose(p);
    REQUIRE(got);
    digests.push_back(std::string(line).substr(0, 64));
  }
  return digests;
}

/// uringcmd-nbd on `file`, listening on 127.0.0.1 at a port it picked; SIGTERM on destruction.
class nbd_server {
 public:
  explicit nbd_server(const std::string& file, std::vector<std::string> extra = {}) {
    int err[2];
    REQUIRE(::pipe2(err, O_CLOEXEC) == 0);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::dup2(err[1], 2);
      std::vector<std::string> args = {UC_NBD_SERVER, "--port", "0", "--threads", "2", "--verbose"};
      args.insert(args.end(), extra.begin(), extra.end());
      args.push_back(file);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(err[1]);
    log_ = ::fdopen(err[0], "r");
    // The first line names the port: "... on 127.0.0.1 port 40123, 2 thread(s)".
    char line[1024];
    while (std::fgets(line, sizeof line, log_)) {
      if (const char* p = std::strstr(line, " port ")) {
        port_ = static_cast<unsigned short>(std::atoi(p + 6));
        break;
      }
    }
    REQUIRE_MESSAGE(port_ != 0, "uringcmd-nbd did not start");
    // Keep draining its log so that it never blocks on a full pipe; pass on what is not the
    // server's own log (a sanitizer's report).
    drain_ = std::thread([f = log_] {
      char l[1024];
      while (std::fgets(l, sizeof l, f))
        if (!std::strstr(l, " uringcmd-nbd: ")) std::fputs(l, stderr);
    });
  }
  nbd_server(const nbd_server&) = delete;
  nbd_server& operator=(const nbd_server&) = delete;
  ~nbd_server() {
    // Every test ends with a clean shutdown: exit 0 (under the sanitizers: no report either).
    if (pid_ > 0) CHECK_MESSAGE(terminate() == 0, "uringcmd-nbd did not exit cleanly on SIGTERM");
    drain_.join();
    std::fclose(log_);
  }

  unsigned short port() const noexcept { return port_; }
  std::string uri(const std::string& name = "default") const {
    return "nbd://127.0.0.1:" + std::to_string(port_) + "/" + name;
  }
  /// SIGTERM, then the exit status (0: a clean shutdown).
  int terminate() {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(std::exchange(pid_, -1), &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  bool alive() const { return pid_ > 0 && ::kill(pid_, 0) == 0 && ::waitpid(pid_, nullptr, WNOHANG) == 0; }

 private:
  pid_t pid_ = -1;
  unsigned short port_ = 0;
  FILE* log_ = nullptr;
  std::thread drain_;
};

/// A blocking NBD client on a raw socket. Every call returns false (never throws) when the server
/// closes the connection, so tests can assert that it did.
class raw_client {
 public:
  explicit raw_client(unsigned short port) {
    fd_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(fd_.get() >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    REQUIRE(::connect(fd_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    const int one = 1;
    ::setsockopt(fd_.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    timeval tv{10, 0};  // a server that hangs fails the test instead of hanging it
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }

  bool send(std::span<const std::byte> b) {
    return ::send(fd_.get(), b.data(), b.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(b.size());
  }
  bool recv(std::span<std::byte> b) {
    std::size_t got = 0;
    while (got < b.size()) {
      const ssize_t n = ::recv(fd_.get(), b.data() + got, b.size() - got, 0);
      if (n <= 0) return false;
      got += static_cast<std::size_t>(n);
    }
    return true;
  }
  /// True when the server has closed the connection (EOF or reset within the receive timeout).
  bool closed_by_server() {
    std::byte b;
    const ssize_t n = ::recv(fd_.get(), &b, 1, 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
  }
  template <class T>
  bool send_be(T v) {
    std::array<std::byte, sizeof(T)> b{};
    nbd::store_be<T>(b, 0, v);
    return send(b);
  }

  /// Greeting + client flags. False if the greeting is wrong.
  bool hello(std::uint32_t flags = nbd::flag_fixed_newstyle | nbd::flag_no_zeroes) {
    std::array<std::byte, nbd::greeting_size> g{};
    if (!recv(g) || g != nbd::greeting()) return false;
    return send_be<std::uint32_t>(flags);
  }
  bool option(std::uint32_t opt, std::span<const std::byte> data) {
    return send_be<std::uint64_t>(nbd::opts_magic) && send_be<std::uint32_t>(opt) &&
           send_be<std::uint32_t>(static_cast<std::uint32_t>(data.size())) && send(data);
  }
  struct option_reply {
    std::uint32_t option, type;
    std::vector<std::byte> data;
  };
  std::optional<option_reply> read_option_reply() {
    std::array<std::byte, 20> h{};
    if (!recv(h) || nbd::load_be<std::uint64_t>(h, 0) != nbd::opt_reply_magic) return std::nullopt;
    option_reply r{nbd::load_be<std::uint32_t>(h, 8), nbd::load_be<std::uint32_t>(h, 12), {}};
    r.data.resize(nbd::load_be<std::uint32_t>(h, 16));
    if (!recv(r.data)) return std::nullopt;
    return r;
  }
  /// NBD_OPT_GO on `name`; the export size, or nullopt if refused.
  std::optional<std::uint64_t> go(const std::string& name = "default") {
    std::vector<std::byte> d;
    nbd::append_be<std::uint32_t>(d, static_cast<std::uint32_t>(name.size()));
    for (char c : name) d.push_back(static_cast<std::byte>(c));
    nbd::append_be<std::uint16_t>(d, 0);
    if (!option(nbd::opt_go, d)) return std::nullopt;
    std::optional<std::uint64_t> size;
    for (;;) {
      auto r = read_option_reply();
      if (!r) return std::nullopt;
      if (r->type == nbd::rep_info && nbd::load_be<std::uint16_t>(r->data, 0) == nbd::info_export)
        size = nbd::load_be<std::uint64_t>(r->data, 2);
      if (r->type == nbd::rep_ack) return size;
      if (r->type & nbd::rep_err_bit) return std::nullopt;
    }
  }
  /// hello + GO (simple replies).
  std::optional<std::uint64_t> connect_export() { return hello() ? go() : std::nullopt; }

  bool request(std::uint16_t type, std::uint64_t offset, std::uint32_t length, std::uint64_t handle,
               std::uint16_t flags = 0) {
    return send(nbd::encode_request({flags, type, handle, offset, length}));
  }
  /// A simple reply: {error, handle}; nullopt if the connection closed or the magic is wrong.
  std::optional<std::pair<std::uint32_t, std::uint64_t>> simple_reply() {
    std::array<std::byte, nbd::simple_reply_size> b{};
    if (!recv(b) || nbd::load_be<std::uint32_t>(b, 0) != nbd::simple_reply_magic) return std::nullopt;
    return std::pair{nbd::load_be<std::uint32_t>(b, 4), nbd::load_be<std::uint64_t>(b, 8)};
  }
  /// WRITE then its reply's error (nullopt: closed).
  std::optional<std::uint32_t> write(std::uint64_t offset, std::span<const std::byte> data, std::uint64_t handle = 1) {
    if (!request(nbd::cmd_write, offset, static_cast<std::uint32_t>(data.size()), handle) || !send(data))
      return std::nullopt;
    auto r = simple_reply();
    if (!r) return std::nullopt;
    return r->first;
  }
  /// READ then its reply's error; the data lands in `out` on success.
  std::optional<std::uint32_t> read(std::uint64_t offset, std::span<std::byte> out, std::uint64_t handle = 2) {
    if (!request(nbd::cmd_read, offset, static_cast<std::uint32_t>(out.size()), handle)) return std::nullopt;
    auto r = simple_reply();
    if (!r) return std::nullopt;
    if (r->first == 0 && !recv(out)) return std::nullopt;
    return r->first;
  }
  void close() { fd_.reset(); }
  int fd() const noexcept { return fd_.get(); }

 private:
  unique_fd fd_;
};

/// A temporary file in `dir`, removed on destruction.
struct scratch_file {
  std::string path;
  unique_fd fd;
  explicit scratch_file(const std::string& dir) {
    std::string tmpl = dir + "/uringcmd-nbd-test-XXXXXX";
    const int f = ::mkostemp(tmpl.data(), O_CLOEXEC);
    REQUIRE_MESSAGE(f >= 0, "mkostemp in " << dir << " failed");
    path = tmpl;
    fd.reset(f);
  }
  ~scratch_file() { ::unlink(path.c_str()); }
  scratch_file(const scratch_file&) = delete;
  scratch_file& operator=(const scratch_file&) = delete;
};

/// A temporary export file of `size` bytes, zero-filled (sparse).
struct export_file : temp_file {
  explicit export_file(std::uint64_t size) { REQUIRE(::ftruncate(fd.get(), static_cast<off_t>(size)) == 0); }
};

}  // namespace uc_test
