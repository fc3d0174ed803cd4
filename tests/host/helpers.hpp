// SPDX-License-Identifier: MIT
// Small RAII helpers shared by the host tests: fds, pipes, temp files, a hang watchdog.
#pragma once

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <doctest/doctest.h>

#include "support/unique_fd.hpp"

namespace uc_test {

/// A blocking pipe: io_uring reads on it wait in the kernel (an O_NONBLOCK pipe gives EAGAIN).
struct pipe_pair {
  unique_fd rd, wr;
  pipe_pair() {
    int p[2];
    REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
    rd.reset(p[0]);
    wr.reset(p[1]);
  }
  void put(std::string_view s) const {
    REQUIRE(::write(wr.get(), s.data(), s.size()) == static_cast<ssize_t>(s.size()));
  }
  /// Bytes sitting in the pipe, i.e. not consumed by any (cancelled) read.
  int queued() const {
    int n = -1;
    REQUIRE(::ioctl(rd.get(), FIONREAD, &n) == 0);
    return n;
  }
};

/// A temporary regular file on a disk filesystem (/var/tmp), removed on destruction.
struct temp_file {
  std::string path;
  unique_fd fd;
  temp_file() {
    std::string tmpl = "/var/tmp/uringcmd-test-XXXXXX";
    int f = ::mkostemp(tmpl.data(), O_CLOEXEC);
    REQUIRE_MESSAGE(f >= 0, "mkostemp in /var/tmp failed");
    path = tmpl;
    fd.reset(f);
  }
  ~temp_file() {
    if (!path.empty()) ::unlink(path.c_str());
  }
  temp_file(const temp_file&) = delete;
  temp_file& operator=(const temp_file&) = delete;
};

inline std::vector<std::byte> pattern(std::size_t n, unsigned seed) {
  std::vector<std::byte> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::byte>((i * 131 + seed * 7 + (i >> 8)) & 0xff);
  return v;
}

inline std::span<const std::byte> bytes_of(std::string_view s) { return std::as_bytes(std::span(s.data(), s.size())); }

/// Aborts the test binary if still armed after `limit`: a hang then fails fast, with a reason,
/// instead of at CTest's timeout.
class watchdog {
 public:
  watchdog(std::chrono::milliseconds limit, const char* what) : what_(what) {
    thread_ = std::thread([this, limit] {
      std::unique_lock lock(m_);
      if (!cv_.wait_for(lock, limit, [this] { return disarmed_; })) {
        std::fprintf(stderr, "watchdog: hung: %s\n", what_);
        std::abort();
      }
    });
  }
  ~watchdog() {
    {
      std::lock_guard lock(m_);
      disarmed_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  const char* what_;
  std::mutex m_;
  std::condition_variable cv_;
  bool disarmed_ = false;
  std::thread thread_;
};

inline double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace uc_test
