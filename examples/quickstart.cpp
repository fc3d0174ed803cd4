// SPDX-License-Identifier: MIT
// quickstart: an executor, a few awaited operations, and what this kernel's io_uring offers.
// Needs: any Linux with io_uring (5.19+ for every op used here).
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <string_view>

#include <uringcmd/uringcmd.hpp>

namespace uc = uringcmd;
using namespace std::chrono_literals;

// Writes a file, reads it back and times a sleep, all through the ring.
uc::task<void> demo() {
  char path[] = "/tmp/uringcmd-quickstart-XXXXXX";
  int fd = ::mkstemp(path);
  if (fd < 0) throw std::system_error(errno, std::system_category(), "mkstemp");
  ::unlink(path);

  constexpr std::string_view text = "hello from io_uring\n";
  auto wrote = co_await uc::write(fd, std::as_bytes(std::span(text)), 0);
  std::cout << "write   " << wrote.value() << " bytes\n";

  char buf[64] = {};
  auto got = co_await uc::read(fd, std::as_writable_bytes(std::span(buf)), 0);
  std::cout << "read    " << got.value() << " bytes: " << std::string_view(buf, *got);

  // Two reads at once: when_all runs both coroutines concurrently on this thread.
  auto read_at = [](int f, std::uint64_t off) -> uc::task<std::size_t> {
    char b[8];
    co_return (co_await uc::read(f, std::as_writable_bytes(std::span(b)), off)).value();
  };
  auto [a, b] = co_await uc::when_all(read_at(fd, 0), read_at(fd, 6));
  std::cout << "when_all read " << a << " + " << b << " bytes\n";

  auto t0 = std::chrono::steady_clock::now();
  (co_await uc::sleep_for(20ms)).value();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  std::cout << "sleep   " << ms.count() << " ms\n";

  // A bad descriptor is a named error, not an exception, until you ask for value().
  auto bad = co_await uc::read(-1, std::as_writable_bytes(std::span(buf)), 0);
  std::cout << "read(-1) -> " << uc::describe(bad.error()) << "\n";

  (co_await uc::close(fd)).value();
}

int main() try {
  uc::executor ex;
  std::cout << "ring: " << uc::setup_flag_names(ex.setup_flags()) << ", " << ex.cq_capacity() << " CQEs\n";
  uc::sync_wait(ex, demo());
  std::cout << "\n";
  // The essentials of capabilities::probe(); uringcmd-probe prints all of it, and the devices.
  const auto caps = uc::capabilities::probe();
  std::cout << "kernel        " << caps.kernel_release << '\n'
            << "URING_CMD     " << (caps.has_uring_cmd() ? "yes" : "no") << '\n'
            << "SQE128|CQE32  " << (caps.passthrough_ring ? "yes" : "no") << "  (NVMe/SCSI passthrough, ublk control)\n"
            << "setup flags   " << uc::setup_flag_names(caps.accepted_flags) << '\n'
            << "features      " << caps.feature_list() << '\n';
  return 0;
} catch (const std::exception& e) {
  std::cerr << "quickstart: " << e.what() << '\n';
  return 1;
}
