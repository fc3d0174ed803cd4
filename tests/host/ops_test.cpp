// SPDX-License-Identifier: MIT
// Every op in ops.hpp against real files and pipes on the host kernel.
//
// The coroutines are lambdas called inside sync_wait's argument: the closure is a temporary that
// lives until sync_wait returns, so its captures stay valid for the whole run.
#include <poll.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <array>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "host/helpers.hpp"

#include <uringcmd/uringcmd.hpp>

using namespace uringcmd;
namespace uc = uringcmd;  // the ops share names with POSIX (open, close, read...)
using namespace std::chrono_literals;
using uc_test::pipe_pair;
using uc_test::temp_file;

TEST_CASE("nop goes through the ring") {
  executor ex;
  const auto r = sync_wait(ex, []() -> task<result<void>> { co_return co_await uc::nop(); }());
  CHECK(r.has_value());
  CHECK(ex.stats().started == 1);
  CHECK(ex.stats().completed >= 1);
}

TEST_CASE("write then read a regular file at offsets, with short reads at EOF") {
  executor ex;
  temp_file f;
  const auto data = uc_test::pattern(8192, 1);
  std::vector<std::byte> back(8192);
  sync_wait(ex, [&]() -> task<void> {
    auto w = co_await uc::write(f.fd.get(), data, 4096);
    REQUIRE(w.has_value());
    CHECK(*w == 8192);
    auto r = co_await uc::read(f.fd.get(), back, 4096);
    REQUIRE(r.has_value());
    CHECK(*r == 8192);
    // 10 bytes left before EOF: the short count comes back as is.
    std::array<std::byte, 100> tail{};
    auto s = co_await uc::read(f.fd.get(), tail, 4096 + 8192 - 10);
    CHECK(s.value() == 10);
    CHECK(std::memcmp(tail.data(), data.data() + 8182, 10) == 0);
    auto eof = co_await uc::read(f.fd.get(), tail, 1 << 20);
    CHECK(eof.value() == 0);
  }());
  CHECK(back == data);
  // The bytes really reached the file, at the right offset (the hole before it reads as zeros).
  std::vector<std::byte> check(4096 + 8192);
  REQUIRE(::pread(f.fd.get(), check.data(), check.size(), 0) == static_cast<ssize_t>(check.size()));
  for (std::size_t i = 0; i < 4096; ++i) REQUIRE(check[i] == std::byte{0});
  CHECK(std::memcmp(check.data() + 4096, data.data(), data.size()) == 0);
}

TEST_CASE("read_fixed/write_fixed through registered buffers") {
  executor ex;
  temp_file f;
  alignas(4096) static std::array<std::byte, 2 * 4096> mem;
  const auto data = uc_test::pattern(4096, 2);
  std::memcpy(mem.data(), data.data(), 4096);
  std::memset(mem.data() + 4096, 0, 4096);
  const std::array<iovec, 2> bufs{iovec{mem.data(), 4096}, iovec{mem.data() + 4096, 4096}};
  REQUIRE(ex.register_buffers(bufs).has_value());
  std::span<std::byte> b0(mem.data(), 4096), b1(mem.data() + 4096, 4096);
  sync_wait(ex, [&]() -> task<void> {
    CHECK((co_await uc::write_fixed(f.fd.get(), b0, 0, 0)).value() == 4096);
    CHECK((co_await uc::read_fixed(f.fd.get(), b1.subspan(100, 1000), 100, 1)).value() == 1000);
    // A span outside the registered buffer is refused by the kernel.
    auto bad = co_await uc::read_fixed(f.fd.get(), b0, 0, 1);
    CHECK(bad.error() == std::errc::bad_address);
  }());
  CHECK(std::memcmp(mem.data() + 4096 + 100, data.data() + 100, 1000) == 0);
  CHECK(mem[4096 + 99] == std::byte{0});  // nothing outside the span was written
  CHECK(mem[4096 + 1100] == std::byte{0});
  CHECK(ex.unregister_buffers().has_value());
  CHECK_FALSE(ex.unregister_buffers().has_value());  // nothing left to unregister: ENXIO
}

TEST_CASE("writev/readv scatter and gather") {
  executor ex;
  temp_file f;
  std::string a = "hello, ", b = "vectored ", c = "world";
  const std::array<iovec, 3> out{iovec{a.data(), a.size()}, iovec{b.data(), b.size()}, iovec{c.data(), c.size()}};
  std::array<char, 4> x{};
  std::array<char, 17> y{};
  const std::array<iovec, 2> in{iovec{x.data(), x.size()}, iovec{y.data(), y.size()}};
  sync_wait(ex, [&]() -> task<void> {
    CHECK((co_await uc::writev(f.fd.get(), out, 100)).value() == 21);
    CHECK((co_await uc::readv(f.fd.get(), in, 100)).value() == 21);
  }());
  CHECK(std::string(x.data(), 4) == "hell");
  CHECK(std::string(y.data(), 17) == "o, vectored world");
  struct stat st{};
  REQUIRE(::fstat(f.fd.get(), &st) == 0);
  CHECK(st.st_size == 121);
}

TEST_CASE("fsync and fdatasync") {
  executor ex;
  temp_file f;
  pipe_pair p;
  sync_wait(ex, [&]() -> task<void> {
    CHECK((co_await uc::write(f.fd.get(), uc_test::bytes_of("durable"), 0)).value() == 7);
    auto full = co_await uc::fsync(f.fd.get());
    CHECK_MESSAGE(full.has_value(), describe(full.error()));
    auto data_only = co_await uc::fsync(f.fd.get(), true);
    CHECK_MESSAGE(data_only.has_value(), describe(data_only.error()));
    // A pipe cannot be synced: the op really reaches vfs_fsync.
    CHECK((co_await uc::fsync(p.wr.get())).error() == std::errc::invalid_argument);
    CHECK((co_await uc::fsync(p.wr.get(), true)).error() == std::errc::invalid_argument);
  }());
}

TEST_CASE("open, openat and close, and ENOENT for a bad path") {
  executor ex;
  temp_file f;
  const std::string name = f.path.substr(f.path.rfind('/') + 1);
  uc_test::unique_fd dir(::open("/var/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  REQUIRE(dir.get() >= 0);
  sync_wait(ex, [&]() -> task<void> {
    auto fd = co_await uc::open(f.path.c_str(), O_RDWR);
    REQUIRE_MESSAGE(fd.has_value(), describe(fd.error()));
    CHECK((::fcntl(*fd, F_GETFD) & FD_CLOEXEC) != 0);  // open adds O_CLOEXEC
    CHECK(::write(*fd, "abc", 3) == 3);
    CHECK((co_await uc::close(*fd)).has_value());
    CHECK(::fcntl(*fd, F_GETFD) == -1);  // really closed
    CHECK(errno == EBADF);
    CHECK((co_await uc::close(*fd)).error() == std::errc::bad_file_descriptor);

    auto fd2 = co_await uc::openat(dir.get(), name.c_str(), O_RDONLY);
    REQUIRE(fd2.has_value());
    char buf[4] = {};
    CHECK(::pread(*fd2, buf, 3, 0) == 3);
    CHECK(std::string(buf) == "abc");
    CHECK((co_await uc::close(*fd2)).has_value());

    auto missing = co_await uc::open("/var/tmp/uringcmd-no-such-dir/x", O_RDONLY);
    REQUIRE_FALSE(missing.has_value());
    CHECK(missing.error() == std::errc::no_such_file_or_directory);
    CHECK(describe(missing.error()) == "ENOENT: No such file or directory");
    auto created = co_await uc::openat(dir.get(), "uringcmd-no-such-dir/x", O_CREAT | O_WRONLY, 0600);
    CHECK(created.error() == std::errc::no_such_file_or_directory);
  }());
}

TEST_CASE("poll on a pipe completes when another coroutine writes") {
  executor ex;
  pipe_pair p;
  bool written = false;
  bool written_when_polled = false;
  unsigned events = 0;
  sync_wait(ex, when_all(
                    [&]() -> task<void> {
                      auto r = co_await uc::poll(p.rd.get(), POLLIN);
                      written_when_polled = written;
                      events = r.value();
                    }(),
                    [&]() -> task<void> {
                      CHECK((co_await uc::sleep_for(10ms)).has_value());
                      p.put("x");
                      written = true;
                    }()));
  CHECK(written_when_polled);
  CHECK((events & POLLIN) != 0);
  CHECK(p.queued() == 1);  // poll consumed nothing
}

TEST_CASE("sleep_for sleeps at least the duration") {
  executor ex;
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = sync_wait(ex, []() -> task<result<void>> { co_return co_await uc::sleep_for(30ms); }());
  const double ms = uc_test::ms_since(t0);
  CHECK(r.has_value());
  CHECK(ms >= 29.9);
  CHECK(ms < 2000);
  CHECK(sync_wait(ex, []() -> task<result<void>> { co_return co_await uc::sleep_for(0ns); }()).has_value());
}

TEST_CASE("cancel_fd cancels a pending read and reports how many it found") {
  executor ex;
  pipe_pair p;
  std::array<std::byte, 16> buf{};
  result<std::size_t> read_res = 0;
  result<unsigned> cancel_res = 0;
  sync_wait(ex, when_all(
                    [&]() -> task<void> { read_res = co_await uc::read(p.rd.get(), buf, 0); }(),
                    [&]() -> task<void> {
                      co_await yield();  // the read has been submitted by now
                      cancel_res = co_await uc::cancel_fd(p.rd.get());
                    }()));
  CHECK(read_res.error() == std::errc::operation_canceled);
  CHECK(cancel_res.value() == 1);
  p.put("after");
  CHECK(p.queued() == 5);  // the cancelled read is gone, it consumed nothing
  // Nothing pending on the fd: with CANCEL_ALL the kernel counts 0 rather than failing ENOENT.
  CHECK(sync_wait(ex, [&]() -> task<result<unsigned>> { co_return co_await uc::cancel_fd(p.rd.get()); }()).value() ==
        0);
}

TEST_CASE("fixed files: read, write and poll through register_files slots") {
  executor ex;
  pipe_pair p;
  temp_file f;
  const std::array<int, 3> fds{p.rd.get(), p.wr.get(), f.fd.get()};
  REQUIRE(ex.register_files(fds).has_value());
  std::array<std::byte, 5> got{};
  sync_wait(ex, [&]() -> task<void> {
    CHECK((co_await uc::write(fixed_file(1), uc_test::bytes_of("fixed"), 0)).value() == 5);
    CHECK(((co_await uc::poll(fixed_file(0), POLLIN)).value() & POLLIN) != 0);
    CHECK((co_await uc::read(fixed_file(0), got, 0)).value() == 5);
    CHECK((co_await uc::write(fixed_file(2), got, 10)).value() == 5);
    CHECK((co_await uc::fsync(fixed_file(2))).has_value());
    // A slot that is not registered.
    CHECK((co_await uc::read(fixed_file(3), got, 0)).error() == std::errc::bad_file_descriptor);
  }());
  char back[6] = {};
  REQUIRE(::pread(f.fd.get(), back, 5, 10) == 5);
  CHECK(std::string(back) == "fixed");
  CHECK(ex.unregister_files().has_value());
}

TEST_CASE("a bad fd is EBADF, named by describe") {
  executor ex;
  temp_file f;
  uc_test::unique_fd ro(::open(f.path.c_str(), O_RDONLY | O_CLOEXEC));
  std::array<std::byte, 8> buf{};
  sync_wait(ex, [&]() -> task<void> {
    auto r = co_await uc::read(-1, buf, 0);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == std::errc::bad_file_descriptor);
    CHECK(describe(r.error()) == "EBADF: Bad file descriptor");
    CHECK_THROWS_WITH_AS(r.value(), doctest::Contains("EBADF"), std::system_error);
    // Open, but not for writing.
    CHECK((co_await uc::write(ro.get(), buf, 0)).error() == std::errc::bad_file_descriptor);
  }());
}

TEST_CASE("a transfer longer than the SQE's 32-bit length is refused, not truncated") {
  executor ex;
  pipe_pair p;
  // Constructed directly: no 4 GiB buffer is needed, because nothing may reach the kernel.
  const std::size_t too_long = std::size_t{1} << 32;
  auto r = sync_wait(ex, [&]() -> task<result<std::size_t>> {
    co_return co_await transfer_op(IORING_OP_READ, p.rd.get(), nullptr, too_long, 0);
  }());
  CHECK(r.error() == errc::buffer_too_large);
  CHECK(to_errno(r.error()) == -E2BIG);
  CHECK(ex.stats().started == 0);
  // One byte less than 4 GiB is the largest length that fits: it is submitted (and fails in the
  // kernel with EFAULT, since the address is null) rather than refused.
  auto fits = sync_wait(ex, [&]() -> task<result<std::size_t>> {
    co_return co_await transfer_op(IORING_OP_WRITE, p.wr.get(), nullptr, too_long - 1, 0);
  }());
  CHECK(ex.stats().started == 1);
  CHECK(fits.error() == std::errc::bad_address);
}
