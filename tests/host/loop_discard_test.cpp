// SPDX-License-Identifier: MIT
// BLOCK_URING_CMD_DISCARD (kernel >= 6.12) on a loop device the test attaches and detaches
// itself. Unlike the socket commands it completes asynchronously (bio end_io -> task_work),
// so this is the uring_cmd path where DEFER_TASKRUN and completion order matter.
//
// Command layout: the kernel reads the start from sqe->addr (cmd_options::addr) and the length
// from sqe->addr3, the first 8 bytes of the command area: the payload is one uint64_t.
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "host/helpers.hpp"
#include "support/kernel.hpp"
#include "support/skip.hpp"

#include <uringcmd/uringcmd.hpp>

using namespace uringcmd;
using uc_test::kernel_at_least;
using uc_test::unique_fd;

namespace {

constexpr std::uint64_t dev_size = 4 << 20;
constexpr unsigned char fill = 0xA5;

/// A loop device over `backing`, detached (LOOP_CLR_FD) on destruction, also when a check throws.
class loop_device {
 public:
  explicit loop_device(int backing) {
    unique_fd ctl(::open("/dev/loop-control", O_RDWR | O_CLOEXEC));
    REQUIRE_MESSAGE(ctl.get() >= 0, "open /dev/loop-control: " << std::strerror(errno));
    for (int attempt = 0; attempt < 20; ++attempt) {
      const int n = ::ioctl(ctl.get(), LOOP_CTL_GET_FREE);
      REQUIRE_MESSAGE(n >= 0, "LOOP_CTL_GET_FREE: " << std::strerror(errno));
      path_ = "/dev/loop" + std::to_string(n);
      unique_fd dev(::open(path_.c_str(), O_RDWR | O_CLOEXEC));
      REQUIRE_MESSAGE(dev.get() >= 0, "open " << path_ << ": " << std::strerror(errno));
      loop_config cfg{};
      cfg.fd = static_cast<__u32>(backing);
      cfg.block_size = 512;
      cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;  // detached at last close even if we crash
      int r = ::ioctl(dev.get(), LOOP_CONFIGURE, &cfg);
      if (r != 0 && (errno == EINVAL || errno == ENOTTY)) r = ::ioctl(dev.get(), LOOP_SET_FD, backing);  // < 5.8
      if (r == 0) {
        fd_ = std::move(dev);
        return;
      }
      REQUIRE_MESSAGE(errno == EBUSY, "configuring " << path_ << ": " << std::strerror(errno));
      // EBUSY: another process took this device between GET_FREE and CONFIGURE; ask again.
    }
    FAIL("no free loop device after 20 attempts");
  }
  ~loop_device() {
    if (fd_.get() < 0) return;
    ::ioctl(fd_.get(), LOOP_CLR_FD, 0);
    fd_.reset();
    // The detach completes at the device's last close, which can be later than ours: a ring's
    // registered-file table is released by the kernel's asynchronous ring teardown. Wait (bounded)
    // so that no test leaves a loop device behind.
    const std::string bound = "/sys/block/" + path_.substr(5) + "/loop";
    for (int i = 0; i < 500 && ::access(bound.c_str(), F_OK) == 0; ++i) ::usleep(10'000);
    if (::access(bound.c_str(), F_OK) == 0) std::fprintf(stderr, "warning: %s still attached\n", path_.c_str());
  }
  loop_device(const loop_device&) = delete;
  loop_device& operator=(const loop_device&) = delete;

  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  unique_fd fd_;
};

// Reads [off, off+len) from `fd` and counts bytes equal to `want`.
std::size_t count_equal(int fd, std::uint64_t off, std::size_t len, unsigned char want) {
  std::vector<unsigned char> buf(len);
  REQUIRE(::pread(fd, buf.data(), len, static_cast<off_t>(off)) == static_cast<ssize_t>(len));
  std::size_t n = 0;
  for (unsigned char c : buf) n += (c == want);
  return n;
}

task<result<cmd_result>> discard(fd_ref dev, std::uint64_t start, std::uint64_t len) {
  cmd_options o;
  o.addr = start;
  co_return co_await uring_cmd(dev, cmd_ops::block_discard, len, o);
}

// Skips (with the reason) where the prerequisites are missing; in CI that is a failure, except for
// a kernel without the command (by its version: only a block device could try it).
#define UC_REQUIRE_LOOP_PREREQS()                                                          \
  do {                                                                                     \
    if (::geteuid() != 0) UC_SKIP("needs root for loop devices");                          \
    if (::access("/dev/loop-control", F_OK) != 0) UC_SKIP("no /dev/loop-control");        \
    UC_REQUIRE_FEATURE_IF(kernel_at_least(6, 12), uringcmd::feature::block_discard);           \
  } while (0)

struct backing_file : uc_test::temp_file {
  backing_file() {
    std::vector<unsigned char> data(dev_size, fill);
    REQUIRE(::pwrite(fd.get(), data.data(), data.size(), 0) == static_cast<ssize_t>(data.size()));
    REQUIRE(::fsync(fd.get()) == 0);
  }
  blkcnt_t blocks() const {
    struct stat st{};
    REQUIRE(::fstat(fd.get(), &st) == 0);
    return st.st_blocks;
  }
};

}  // namespace

TEST_CASE("BLOCK_URING_CMD_DISCARD zeroes the range on a loop device and punches a hole") {
  UC_REQUIRE_LOOP_PREREQS();
  backing_file file;
  loop_device loop(file.fd.get());
  const blkcnt_t blocks_before = file.blocks();
  constexpr std::uint64_t start = 1 << 20, len = 256 << 10;
  REQUIRE(count_equal(loop.fd(), start, len, fill) == len);  // non-zero before, through the device

  // Each ring shape: the default (DEFER_TASKRUN), plain, and the passthrough (SQE128|CQE32)
  // ring where the 8-byte length is padded to an 80-byte command.
  ring_options plain;
  plain.defer_taskrun = false;
  const ring_options shapes[] = {ring_options{}, plain, ring_options::passthrough(32)};
  std::uint64_t off = start;
  for (const ring_options& o : shapes) {
    CAPTURE(setup_flag_names(o.setup_flags()));
    executor ex(o);
    const std::uint64_t part = len / 4;
    auto r = sync_wait(ex, discard(loop.fd(), off, part));
    REQUIRE_MESSAGE(r.has_value(), describe(r.error()));
    CHECK(r->res == 0);
    off += part;
  }
  {
    executor ex;  // the last quarter through a registered file
    const int fds[] = {loop.fd()};
    REQUIRE(ex.register_files(fds).has_value());
    CHECK(sync_wait(ex, discard(fixed_file(0), off, len / 4)).value().res == 0);
  }

  // Read back through the device: the range is zeros, both neighbours are intact.
  CHECK(count_equal(loop.fd(), start, len, 0) == len);
  CHECK(count_equal(loop.fd(), 0, start, fill) == start);
  CHECK(count_equal(loop.fd(), start + len, dev_size - start - len, fill) == dev_size - start - len);
  // And in the backing file: a hole exactly where the discard went.
  CHECK(::lseek(file.fd.get(), 0, SEEK_HOLE) == static_cast<off_t>(start));
  CHECK(::lseek(file.fd.get(), static_cast<off_t>(start), SEEK_DATA) == static_cast<off_t>(start + len));
  CHECK(file.blocks() <= blocks_before - static_cast<blkcnt_t>(len / 512));
  CHECK(count_equal(file.fd.get(), start, len, 0) == len);
}

TEST_CASE("many discards in flight complete asynchronously, each with its own result") {
  UC_REQUIRE_LOOP_PREREQS();
  backing_file file;
  loop_device loop(file.fd.get());
  executor ex(ring_options{.entries = 16});
  // 32 ranges of 16 KiB, every other 32 KiB, more than the SQ holds at once.
  std::vector<task<result<cmd_result>>> ops;
  for (std::uint64_t i = 0; i < 32; ++i) ops.push_back(discard(loop.fd(), i * (32 << 10), 16 << 10));
  // A bad one in the middle: unaligned start. Its error must not leak into its neighbours.
  ops.insert(ops.begin() + 10, discard(loop.fd(), 100, 4096));
  auto results = sync_wait(ex, when_all(std::move(ops)));
  REQUIRE(results.size() == 33);
  for (std::size_t i = 0; i < results.size(); ++i) {
    CAPTURE(i);
    if (i == 10) {
      CHECK(results[i].error() == std::errc::invalid_argument);
    } else {
      REQUIRE_MESSAGE(results[i].has_value(), describe(results[i].error()));
      CHECK(results[i]->res == 0);
    }
  }
  for (std::uint64_t i = 0; i < 32; ++i) {
    CAPTURE(i);
    CHECK(count_equal(loop.fd(), i * (32 << 10), 16 << 10, 0) == (16 << 10));
    CHECK(count_equal(loop.fd(), i * (32 << 10) + (16 << 10), 16 << 10, fill) == (16 << 10));
  }
}

TEST_CASE("discard errors: bad range, zero length, read-only fd") {
  UC_REQUIRE_LOOP_PREREQS();
  backing_file file;
  loop_device loop(file.fd.get());
  executor ex;
  CHECK(sync_wait(ex, discard(loop.fd(), 0, 100)).error() == std::errc::invalid_argument);  // not 512-aligned
  CHECK(sync_wait(ex, discard(loop.fd(), 0, 0)).error() == std::errc::invalid_argument);
  CHECK(sync_wait(ex, discard(loop.fd(), dev_size - 4096, 8192)).error() == std::errc::invalid_argument);  // past the end
  unique_fd ro(::open(loop.path().c_str(), O_RDONLY | O_CLOEXEC));
  REQUIRE(ro.get() >= 0);
  CHECK(sync_wait(ex, discard(ro.get(), 0, 4096)).error() == std::errc::bad_file_descriptor);
  // Nothing was discarded by any of them.
  CHECK(count_equal(loop.fd(), 0, dev_size, fill) == dev_size);
}
