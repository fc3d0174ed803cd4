// SPDX-License-Identifier: MIT
// ublk::control, ublk::queue and ublk::device on the guest's ublk_drv: the control commands and
// their named errors; RAM and null devices in every data mode the kernel offers (the others must
// fail by name), checked by fio's crc32c verification, blkdiscard and plain O_DIRECT reads; user
// recovery after the serving process is SIGKILLed; stops from outside. Runs INSIDE the test VM.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <fstream>
#include <new>
#include <sstream>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <future>
#include <thread>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "support/command.hpp"
#include "support/skip.hpp"
#include "support/unique_fd.hpp"

#include <uringcmd/runtime.hpp>
#include <uringcmd/sync_wait.hpp>
#include <uringcmd/ublk/control.hpp>
#include <uringcmd/ublk/device.hpp>
#include <uringcmd/ublk/mode.hpp>
#include <uringcmd/ublk/targets/null.hpp>
#include <uringcmd/ublk/targets/ram.hpp>

using namespace uringcmd;
namespace fs = std::filesystem;

// Every C++ allocation in this binary is counted, to show that serving I/O allocates nothing once
// warm (the null-target case).
namespace {
std::atomic<std::uint64_t> g_allocations{0};
}
void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
// g++ 12 takes the replacement pair for a mismatch: the free() matches the malloc() above.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace {

// The driver's node: Debian's 6.1 builds no ublk_drv (the probe cannot tell a driver's presence).
bool have_ublk() { return fs::exists("/dev/ublk-control"); }

struct ctl_fixture {
  executor ex{ring_options::passthrough(16)};
  ublk::control ctl = ublk::control::open("/dev/ublk-control", {std::chrono::milliseconds(10'000)}).value();
};

/// Nothing of device `id` is left: no char node, no sysfs entry, no block node.
void check_gone(std::uint32_t id) {
  const std::string n = std::to_string(id);
  CHECK(ublk::device_detail::wait_node("/dev/ublkc" + n, false, std::chrono::milliseconds(3000)));
  CHECK(ublk::device_detail::wait_node("/dev/ublkb" + n, false, std::chrono::milliseconds(3000)));
  CHECK_FALSE(fs::exists("/sys/class/ublk-char-device/ublkc" + n));
}

void fio_ok(const std::string& args) {
  const auto fio = uc_test::run_command("fio --output-format=normal " + args);
  INFO(fio.output);
  CHECK(fio.status == 0);
  CHECK(fio.output.find("err= 0") != std::string::npos);
}

struct aligned {
  explicit aligned(std::size_t n) : size(n) { REQUIRE(::posix_memalign(&p, 4096, n) == 0); }
  ~aligned() { std::free(p); }
  aligned(const aligned&) = delete;
  aligned& operator=(const aligned&) = delete;
  unsigned char* bytes() const { return static_cast<unsigned char*>(p); }
  void* p = nullptr;
  std::size_t size;
};

bool all_zero(const unsigned char* b, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    if (b[i]) return false;
  return true;
}

/// The device options the cases start from: `size` bytes, `depth` tags per queue, requests of up
/// to `max_io` bytes, `queues` queues.
ublk::device_options options(std::uint64_t size, std::uint16_t depth, std::uint32_t max_io, std::uint16_t queues = 1) {
  ublk::device_options o;
  o.queues = queues;
  o.depth = depth;
  o.max_io_bytes = max_io;
  o.size = size;
  return o;
}

}  // namespace

TEST_CASE("ublk: the kernel's features are reported and named") {
  UC_REQUIRE_FEATURE_IF(have_ublk(), uringcmd::feature::ublk);
  ctl_fixture f;
  auto r = sync_wait(f.ex, f.ctl.features());
  REQUIRE_MESSAGE(r, describe(r.error()));
  MESSAGE("ublk features: " << r->describe());
  REQUIRE(r->known());  // 6.12 and 7.x have GET_FEATURES
  CHECK(r->has(ublk::feature::cmd_ioctl_encode));
  CHECK(r->describe().find("CMD_IOCTL_ENCODE") != std::string::npos);
}

TEST_CASE("ublk: ADD_DEV is confirmed by GET_DEV_INFO and DEL_DEV removes the device without a trace") {
  UC_REQUIRE_FEATURE_IF(have_ublk(), uringcmd::feature::ublk);
  ctl_fixture f;
  ublk::ctrl_dev_info want;
  want.nr_hw_queues = 2;
  want.queue_depth = 8;
  want.max_io_buf_bytes = 64 << 10;
  auto added = sync_wait(f.ex, f.ctl.add(want));
  REQUIRE_MESSAGE(added, describe(added.error()));
  const std::uint32_t id = added->dev_id;
  CHECK(id != ~0u);
  CHECK(added->nr_hw_queues == 2);
  CHECK(added->queue_depth == 8);
  CHECK((added->flags & ublk::feature::cmd_ioctl_encode) != 0);
  CHECK(ublk::device_detail::wait_node("/dev/ublkc" + std::to_string(id), true, std::chrono::milliseconds(3000)));

  auto info = sync_wait(f.ex, f.ctl.dev_info(id));
  REQUIRE_MESSAGE(info, describe(info.error()));
  CHECK(info->dev_id == id);
  CHECK(info->nr_hw_queues == added->nr_hw_queues);
  CHECK(info->queue_depth == added->queue_depth);
  CHECK(info->max_io_buf_bytes == added->max_io_buf_bytes);
  CHECK(info->flags == added->flags);
  CHECK(info->state == ublk::dev_state::dead);

  auto set = sync_wait(f.ex, f.ctl.set_params(id, ublk::basic_params(8 << 20, info->max_io_buf_bytes)));
  CHECK_MESSAGE(set, describe(set.error()));
  auto got = sync_wait(f.ex, f.ctl.get_params(id));
  REQUIRE_MESSAGE(got, describe(got.error()));
  CHECK(got->basic.dev_sectors == (8u << 20) / 512);
  CHECK((got->types & ublk::param_type::devt) != 0);
  auto aff = sync_wait(f.ex, f.ctl.queue_affinity(id, 1));
  REQUIRE_MESSAGE(aff, describe(aff.error()));
  CHECK_FALSE(aff->empty());

  auto del = sync_wait(f.ex, f.ctl.del(id));
  REQUIRE_MESSAGE(del, describe(del.error()));
  check_gone(id);
}

TEST_CASE("ublk: DEL_DEV of an unknown ID, a second ADD_DEV of one ID and a missing feature are named errors") {
  UC_REQUIRE_FEATURE_IF(have_ublk(), uringcmd::feature::ublk);
  ctl_fixture f;
  auto bad = sync_wait(f.ex, f.ctl.del(987654));
  REQUIRE_FALSE(bad);
  CHECK(bad.error() == std::errc::no_such_device);
  CHECK(bad.error().message() == "ublk DEL_DEV: ENODEV: No such device");

  ublk::ctrl_dev_info want;
  want.nr_hw_queues = 1;
  want.queue_depth = 4;
  want.max_io_buf_bytes = 64 << 10;
  want.dev_id = 77;
  auto first = sync_wait(f.ex, f.ctl.add(want));
  REQUIRE_MESSAGE(first, describe(first.error()));
  CHECK(first->dev_id == 77);
  auto second = sync_wait(f.ex, f.ctl.add(want));
  REQUIRE_FALSE(second);
  CHECK(second.error() == std::errc::file_exists);
  CHECK(second.error().message() == "ublk ADD_DEV: EEXIST: File exists");
  REQUIRE(sync_wait(f.ex, f.ctl.del(77)));
  check_gone(77);

  // The lowest UBLK_F_* bit this kernel lacks, requested: refused by name, nothing created. A
  // kernel with every flag uringcmd knows (7.3) lacks the next bit, a flag of some later kernel.
  auto feats = sync_wait(f.ex, f.ctl.features());
  REQUIRE(feats);
  REQUIRE(feats->known());
  unsigned bit = 0;
  while (bit < ublk::feature_names.size() && (*feats->mask & (1ull << bit))) ++bit;
  REQUIRE((*feats->mask & (1ull << bit)) == 0);
  const std::string name = bit < ublk::feature_names.size()
                               ? "UBLK_F_" + std::string(ublk::feature_names[bit]) + " not supported by this kernel (needs "
                               : "ublk feature bit " + std::to_string(bit) + " (newer than uringcmd's list) not supported by this kernel";
  want.dev_id = 78;
  want.flags = 1ull << bit;
  auto missing = sync_wait(f.ex, f.ctl.add(want));
  REQUIRE_FALSE(missing);
  MESSAGE(missing.error().message());
  CHECK(missing.error() == std::errc::operation_not_supported);
  CHECK(missing.error().message().find(name) != std::string::npos);
  CHECK_FALSE(fs::exists("/dev/ublkc78"));
}

namespace {
using ublk::forced_modes;

/// GET_FEATURES of this kernel (nothing before 6.5).
std::optional<std::uint64_t> kernel_features() {
  ctl_fixture f;
  auto r = sync_wait(f.ex, f.ctl.features());
  REQUIRE_MESSAGE(r, describe(r.error()));
  return r->mask;
}

/// Starts a device serving `tgt` in `mode` when this kernel and target can have it. Otherwise
/// checks that start() fails with the error select_mode() names (the missing UBLK_F_* flag and
/// the kernel that has it, or EOPNOTSUPP for what the library cannot do) and leaves no device
/// behind, and returns nothing.
template <class Target>
std::unique_ptr<ublk::device<Target>> start_in_mode(Target& tgt, ublk::device_options o, ublk::data_mode mode) {
  const auto expected = ublk::select_mode(mode, kernel_features(), ublk::zero_copy_target<Target>);
  o.mode = mode;
  if (expected) {
    auto dev = ublk::device<Target>::start(tgt, o);
    CHECK(dev->mode() == *expected);
    return dev;
  }
  o.id = 90;
  std::error_code err;
  try {
    (void)ublk::device<Target>::start(tgt, o);
  } catch (const std::system_error& e) {
    err = e.code();
    MESSAGE("mode " << ublk::to_string(mode) << " refused: " << std::string(e.what()));
  }
  CHECK(err == expected.error());
  CHECK(err.message() == expected.error().message());
  check_gone(90);
  return nullptr;
}

void ram_fio_verify(std::uint16_t queues, ublk::data_mode mode) {
  CAPTURE(ublk::to_string(mode));
  ublk::ram_target ram(32 << 20);
  ublk::device_options o = options(ram.size(), 32, 128 << 10, queues);
  auto dev = start_in_mode(ram, o, mode);
  if (!dev) return;
  CHECK(dev->info().nr_hw_queues == queues);
  fio_ok("--name=v --filename=" + dev->block_path() +
         " --rw=randwrite --bsrange=4k-128k --iodepth=32 --direct=1 --ioengine=io_uring --verify=crc32c"
         " --do_verify=1 --verify_state_save=0 --size=8M");
  CHECK(dev->served() > 0);
  const std::uint32_t id = dev->id();
  dev->stop();
  CHECK_FALSE(dev->queue_error());
  CHECK(dev->stats().fallbacks == 0);
  check_gone(id);
}
}  // namespace

TEST_CASE("ublk: a RAM device with 1 queue passes fio's crc32c verification in every data mode the kernel offers") {
  UC_REQUIRE_FEATURE_IF(have_ublk(), uringcmd::feature::ublk);
  for (ublk::data_mode m : forced_modes) ram_fio_verify(1, m);
}

TEST_CASE("ublk: a RAM device with 2 queues passes fio's crc32c verification in every data mode the kernel offers") {
  UC_REQUIRE_FEATURE_IF(have_ublk(), uringcmd::feature::ublk);
  for (ublk::data_mode m : forced_modes) ram_fio_verify(2, m);
}

TEST_CASE("ublk: zero copy falls back to registering the pages itself when the kernel could not, and data stays intact") {
  UC_REQUIRE_FEATURE_IF(have_ublk(), uringcmd::feature::ublk);
  const auto zc = ublk::select_mode(ublk::data_mode::zero_copy, kernel_features(), true);
  UC_REQUIRE_KERNEL_FEATURE(zc.has_value(), "ublk zero copy (UBLK_F_AUTO_BUF_REG)", "6.16");
  ublk::ram_target ram(16 << 20);
  ublk::device_options o = options(ram.size(), 16, 128 << 10);
  o.mode = ublk::data_mode::zero_copy;
  o.force_zero_copy_fallback = true;
  auto dev = ublk::device<ublk::ram_target>::start(ram, o);
  fio_ok("--name=v --filename=" + dev->block_path() +
         " --rw=randwrite --bsrange=4k-128k --iodepth=16 --direct=1 --ioengine=io_uring --verify=crc32c"
         " --do_verify=1 --verify_state_save=0 --size=4M");
  const ublk::queue_stats st = dev->stats();
  MESSAGE(st.fallbacks << " of " << st.served << " requests registered by the queue");
  CHECK(st.fallbacks > 0);
  dev->stop();
  CHECK_FALSE(dev->queue_error());
}

TEST_CASE("ublk: best mode is zero copy for targets with handle_fixed where the kernel has AUTO_BUF_REG, else copy") {
  UC_REQUIRE_FEATURE_IF(have_ublk(), uringcmd::feature::ublk);
  const auto mask = kernel_features();
  const std::uint64_t zc_flags = ublk::mode_flags(ublk::data_mode::zero_copy);
  const bool zc = mask && (*mask & zc_flags) == zc_flags;
  ublk::ram_target ram(4 << 20);
  ublk::device_options o = options(ram.size(), 4, 64 << 10);
  auto dev = ublk::device<ublk::ram_target>::start(ram, o);
  CHECK(dev->mode() == (zc ? ublk::data_mode::zero_copy : ublk::data_mode::copy));
  MESSAGE("best mode for the RAM target here: " << ublk::to_string(dev->mode()));
  dev->stop();
}

TEST_CASE("ublk: discard and write-zeroes on a RAM device read back as zeros") {
  UC_REQUIRE_FEATURE_IF(have_ublk(), uringcmd::feature::ublk);
  ublk::ram_target ram(8 << 20);
  ublk::device_options o = options(ram.size(), 8, 64 << 10);
  auto dev = ublk::device<ublk::ram_target>::start(ram, o);
  // Closed before the device stops even when a REQUIRE fails: DEL_DEV waits for the last opener.
  uc_test::unique_fd fd_guard(::open(dev->block_path().c_str(), O_RDWR | O_DIRECT | O_CLOEXEC));
  const int fd = fd_guard.get();
  REQUIRE(fd >= 0);
  aligned buf(64 << 10);
  for (const char* how : {"blkdiscard -f", "blkdiscard -f -z"}) {
    CAPTURE(how);
    std::memset(buf.p, 0x5a, buf.size);
    REQUIRE(::pwrite(fd, buf.p, buf.size, 1 << 20) == static_cast<ssize_t>(buf.size));
    REQUIRE(::fsync(fd) == 0);
    CHECK(static_cast<unsigned char>(ram.data()[(1 << 20) + 100]) == 0x5a);
    const auto zeroing = uc_test::run_command(std::string(how) + " -o 1048576 -l 65536 " + dev->block_path());
    INFO(zeroing.output);
    CHECK(zeroing.status == 0);
    std::memset(buf.p, 0xff, buf.size);
    REQUIRE(::pread(fd, buf.p, buf.size, 1 << 20) == static_cast<ssize_t>(buf.size));
    CHECK(all_zero(buf.bytes(), buf.size));
  }
  fd_guard.reset();
  dev->stop();
  CHECK_FALSE(dev->queue_error());
}

namespace {
void null_serves_without_allocating(ublk::data_mode mode) {
  CAPTURE(ublk::to_string(mode));
  ublk::null_target null;
  ublk::device_options o = options(1ull << 30, 16, 128 << 10);
  auto dev = start_in_mode(null, o, mode);
  if (!dev) return;
  // fio's report goes to a file, so that nothing in this process allocates while it runs except
  // the queue threads (std::system forks; it does not call operator new).
  const std::string report = "/tmp/uc-ublk-null-fio.txt";
  const std::string cmd = "fio --output=" + report + " --name=r --filename=" + dev->block_path() +
                          " --rw=randrw --bs=4k --iodepth=16 --direct=1 --ioengine=io_uring --size=1G --io_size=4M";
  const std::uint64_t served_before = dev->served();
  const std::uint64_t allocations_before = g_allocations.load();
  const int st = std::system(cmd.c_str());
  const std::uint64_t allocations = g_allocations.load() - allocations_before;
  const std::uint64_t served = dev->served() - served_before;
  std::ifstream in(report);
  std::stringstream text;
  text << in.rdbuf();
  INFO(text.str());
  CHECK(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 0);
  CHECK(text.str().find("err= 0") != std::string::npos);
  CHECK(served >= 1024);
  MESSAGE("null target, " << ublk::to_string(mode) << ": " << served << " requests served with " << allocations
                          << " allocations");
  CHECK(allocations <= 64);  // frame-pool warm-up at most: nothing per request
  dev->stop();
  CHECK_FALSE(dev->queue_error());
}
}  // namespace

TEST_CASE("ublk: a null device serves fio's random reads and writes in every data mode without allocating per request") {
  UC_REQUIRE_FEATURE_IF(have_ublk(), uringcmd::feature::ublk);
  for (ublk::data_mode m : forced_modes) null_serves_without_allocating(m);
}

TEST_CASE("ublk: in batch mode one COMMIT_IO_CMDS returns several requests, and data stays intact on 2 queues") {
  UC_REQUIRE_FEATURE_IF(have_ublk(), uringcmd::feature::ublk);
  const auto batch = ublk::select_mode(ublk::data_mode::batch, kernel_features(), false);
  UC_REQUIRE_KERNEL_FEATURE(batch.has_value(), "ublk batch I/O (UBLK_F_BATCH_IO)", "7.0");
  ublk::ram_target ram(16 << 20);
  ublk::device_options o = options(ram.size(), 64, 128 << 10, 2);
  o.mode = ublk::data_mode::batch;
  auto dev = ublk::device<ublk::ram_target>::start(ram, o);
  CHECK(dev->mode() == ublk::data_mode::batch);
  CHECK((dev->info().flags & ublk::feature::batch_io) != 0);
  CHECK((dev->info().flags & (ublk::feature::auto_buf_reg | ublk::feature::user_copy)) == 0);  // copy mode
  fio_ok("--name=v --filename=" + dev->block_path() +
         " --rw=randwrite --bsrange=4k-64k --iodepth=64 --iodepth_batch_submit=16 --direct=1 --ioengine=io_uring"
         " --numjobs=2 --verify=crc32c --do_verify=1 --verify_state_save=0 --size=4M --offset_increment=8M");
  const ublk::queue_stats st = dev->stats();
  MESSAGE(st.served << " requests returned with " << st.commits << " COMMIT_IO_CMDS");
  CHECK(st.commits > 0);
  CHECK(st.served > st.commits);  // at least one commit carried more than one request
  dev->stop();
  CHECK_FALSE(dev->queue_error());
  CHECK(dev->stats().aborted == 2u * o.depth);  // every tag of both queues ended with the stop
}

TEST_CASE("ublk: stopping an idle device shuts down in order and leaves nothing behind") {
  UC_REQUIRE_FEATURE_IF(have_ublk(), uringcmd::feature::ublk);
  ublk::ram_target ram(4 << 20);
  ublk::device_options o = options(ram.size(), 4, 64 << 10, 2);
  auto dev = ublk::device<ublk::ram_target>::start(ram, o);
  const std::uint32_t id = dev->id();
  CHECK(fs::exists(dev->block_path()));
  dev->stop();
  CHECK_FALSE(dev->queue_error());
  CHECK(dev->stats().aborted == 2u * 4u);  // every tag of both queues ended on UBLK_IO_RES_ABORT
  check_gone(id);
  dev->stop();  // idempotent
  ctl_fixture f;
  auto gone = sync_wait(f.ex, f.ctl.dev_info(id));
  REQUIRE_FALSE(gone);
  CHECK(gone.error() == std::errc::no_such_device);
}

TEST_CASE("ublk: a control command past its deadline fails with ETIMEDOUT and the device still goes away") {
  UC_REQUIRE_FEATURE_IF(have_ublk(), uringcmd::feature::ublk);
  ublk::ram_target ram(4 << 20);
  ublk::device_options o = options(ram.size(), 4, 64 << 10);
  o.control_timeout = std::chrono::milliseconds(500);
  auto dev = ublk::device<ublk::ram_target>::start(ram, o);
  const std::uint32_t id = dev->id();
  // An opener of /dev/ublkbN keeps a reference: DEL_DEV waits for it (interruptibly) past the deadline.
  uc_test::unique_fd opener(::open(dev->block_path().c_str(), O_RDONLY | O_CLOEXEC));
  REQUIRE(opener.get() >= 0);
  std::error_code err;
  try {
    dev->stop();
  } catch (const std::system_error& e) {
    err = e.code();
    MESSAGE(std::string(e.what()));
  }
  CHECK(err == std::errc::timed_out);
  CHECK(err.message() == "ublk DEL_DEV: ETIMEDOUT: Connection timed out");
  // The interrupted DEL_DEV already unlisted the device: the kernel frees it with the last
  // reference; a second DEL_DEV finds nothing (or, if the removal had not begun, does it).
  opener.reset();
  ctl_fixture f;
  auto del = sync_wait(f.ex, f.ctl.del(id));
  CHECK_MESSAGE((del || del.error() == std::errc::no_such_device), describe(del.error()));
  check_gone(id);
}

TEST_CASE("ublk: a queue that fetched for a device that never started ends on STOP_DEV") {
  UC_REQUIRE_FEATURE_IF(have_ublk(), uringcmd::feature::ublk);
  ctl_fixture f;
  ublk::ctrl_dev_info want;
  want.nr_hw_queues = 1;
  want.queue_depth = 4;
  want.max_io_buf_bytes = 64 << 10;
  auto info = sync_wait(f.ex, f.ctl.add(want));
  REQUIRE_MESSAGE(info, describe(info.error()));
  const std::uint32_t id = info->dev_id;
  REQUIRE(sync_wait(f.ex, f.ctl.set_params(id, ublk::basic_params(4 << 20, info->max_io_buf_bytes))));
  const std::string cpath = "/dev/ublkc" + std::to_string(id);
  REQUIRE(ublk::device_detail::wait_node(cpath, true, std::chrono::milliseconds(3000)));
  uc_test::unique_fd cfd(::open(cpath.c_str(), O_RDWR | O_CLOEXEC));
  REQUIRE(cfd.get() >= 0);
  ublk::ram_target ram(4 << 20);
  ublk::queue<ublk::ram_target> q(cfd.get(), *info, 0, ram);
  std::promise<void> fetched;
  std::thread server([&] { (void)q.serve([&](result<void>) { fetched.set_value(); }); });
  fetched.get_future().wait();
  auto stop = sync_wait(f.ex, f.ctl.stop(id));
  CHECK_MESSAGE(stop, describe(stop.error()));
  auto joined = std::async(std::launch::async, [&] { server.join(); });
  const bool ended = joined.wait_for(std::chrono::seconds(5)) == std::future_status::ready;
  REQUIRE_MESSAGE(ended, "the queue did not end after STOP_DEV on a never-started device");
  CHECK(q.stats().aborted == 4);
  CHECK_FALSE(q.error());
  cfd.reset();
  REQUIRE(sync_wait(f.ex, f.ctl.del(id)));
  check_gone(id);
}

namespace {
/// Polls GET_DEV_INFO until device `id` is in `state` (up to 10 s).
bool wait_state(std::uint32_t id, std::uint16_t state) {
  ctl_fixture f;
  for (int i = 0; i < 1000; ++i) {
    auto info = sync_wait(f.ex, f.ctl.dev_info(id));
    if (info && info->state == state) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

/// How a server in a child process ends: SIGKILLed by the test (the device must outlive it), or
/// on STOP_DEV from outside, exiting without deleting the device, as kublk and ublksrv do.
enum class child_end { killed, exits_on_stop };

/// A child process serves `tgt` (a RAM target's memfd mapping is shared with this process);
/// returns its pid and the device id it reported through a pipe (~0u: it failed). With
/// exits_on_stop the child exits 0, or 2 for a queue error.
template <class Target>
std::pair<pid_t, std::uint32_t> serve_in_child(Target& tgt, ublk::device_options o, child_end end = child_end::killed) {
  int p[2];
  REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(p[0]);
    std::uint32_t id = ~0u;
    try {
      auto dev = ublk::device<Target>::start(tgt, o);
      id = dev->id();
      (void)!::write(p[1], &id, sizeof id);
      if (end == child_end::killed)
        for (;;) ::pause();
      dev->wait();  // STOP_DEV from outside: the queues end and /dev/ublkcN is closed
      ::_exit(dev->queue_error() ? 2 : 0);  // here: no stop(), no destructor, the device stays
    } catch (const std::exception& e) {
      std::fprintf(stderr, "child: %s\n", e.what());
    }
    (void)!::write(p[1], &id, sizeof id);
    ::_exit(1);
  }
  ::close(p[1]);
  std::uint32_t id = ~0u;
  const ssize_t n = ::read(p[0], &id, sizeof id);
  ::close(p[0]);
  return {pid, n == sizeof id ? id : ~0u};
}

void recovers_after_sigkill(ublk::recovery_mode recovery, ublk::data_mode mode = ublk::data_mode::best) {
  CAPTURE(ublk::to_string(recovery));
  CAPTURE(ublk::to_string(mode));
  ublk::ram_target ram(16 << 20);
  ublk::device_options o = options(ram.size(), 16, 128 << 10, 2);
  o.recovery = recovery;
  o.mode = mode;
  if (auto ok = ublk::check_recovery(recovery, kernel_features()); !ok) {
    o.id = 91;
    std::error_code err;
    try {
      (void)ublk::device<ublk::ram_target>::start(ram, o);
    } catch (const std::system_error& e) {
      err = e.code();
      MESSAGE(std::string(e.what()));
    }
    CHECK(err.message() == ok.error().message());
    check_gone(91);
    return;
  }
  const auto [pid, id] = serve_in_child(ram, o);
  REQUIRE(id != ~0u);
  const std::string dev_path = "/dev/ublkb" + std::to_string(id);
  const std::string job = "--name=r --filename=" + dev_path +
                          " --rw=write --bs=64k --size=4M --iodepth=16 --direct=1 --ioengine=io_uring"
                          " --verify=crc32c --verify_state_save=0";
  fio_ok(job + " --do_verify=0");

  REQUIRE(::kill(pid, SIGKILL) == 0);
  int st = 0;
  REQUIRE(::waitpid(pid, &st, 0) == pid);
  CHECK(WIFSIGNALED(st));
  const std::uint16_t held = recovery == ublk::recovery_mode::fail_io ? ublk::dev_state::fail_io : ublk::dev_state::quiesced;
  REQUIRE_MESSAGE(wait_state(id, held), "the kernel did not quiesce the device after its server died");
  CHECK(fs::exists(dev_path));  // the disk outlives its server

  // I/O issued while no server runs: held and reissued after recovery, or failed (fail_io).
  auto reader = std::async(std::launch::async, [&] {
    return uc_test::run_command("dd if=" + dev_path + " of=/dev/null bs=4k count=1 iflag=direct").status;
  });
  if (recovery == ublk::recovery_mode::fail_io) CHECK(reader.get() != 0);

  std::unique_ptr<ublk::device<ublk::ram_target>> dev;
  try {
    dev = ublk::device<ublk::ram_target>::recover(ram, id, o);
  } catch (...) {
    ctl_fixture f;  // the held dd ends only when the device goes: delete it, then fail
    (void)sync_wait(f.ex, f.ctl.del(id));
    throw;
  }
  CHECK(dev->id() == id);
  CHECK(dev->recovery() == recovery);
  if (mode != ublk::data_mode::best) CHECK(dev->mode() == mode);
  if (recovery != ublk::recovery_mode::fail_io) CHECK(reader.get() == 0);
  fio_ok(job + " --verify_only");  // what the dead server stored reads back through the new one
  CHECK(dev->served() > 0);
  dev->stop();
  CHECK_FALSE(dev->queue_error());
  check_gone(id);
}
}  // namespace

TEST_CASE("ublk: a device with reissue recovery keeps its data across a SIGKILL of its server and device::recover") {
  UC_REQUIRE_FEATURE_IF(have_ublk(), uringcmd::feature::ublk);
  recovers_after_sigkill(ublk::recovery_mode::reissue);
}

TEST_CASE("ublk: a device with fail-io recovery fails I/O while its server is dead and serves again after recover") {
  UC_REQUIRE_FEATURE_IF(have_ublk(), uringcmd::feature::ublk);
  recovers_after_sigkill(ublk::recovery_mode::fail_io);
}

TEST_CASE("ublk: a batch-mode device with reissue recovery keeps its data across a SIGKILL of its server and device::recover") {
  UC_REQUIRE_FEATURE_IF(have_ublk(), uringcmd::feature::ublk);
  const auto batch = ublk::select_mode(ublk::data_mode::batch, kernel_features(), false);
  UC_REQUIRE_KERNEL_FEATURE(batch.has_value(), "ublk batch I/O (UBLK_F_BATCH_IO)", "7.0");
  recovers_after_sigkill(ublk::recovery_mode::reissue, ublk::data_mode::batch);
  // The new server's ring has a fresh buffer table: PREP_IO_CMDS names its slots again.
  recovers_after_sigkill(ublk::recovery_mode::reissue, ublk::data_mode::batch_zero_copy);
}

TEST_CASE("ublk: recover refuses a device that was added without recovery, and leaves it alone") {
  UC_REQUIRE_FEATURE_IF(have_ublk(), uringcmd::feature::ublk);
  ublk::ram_target ram(4 << 20);
  ublk::device_options o = options(ram.size(), 4, 64 << 10);
  auto dev = ublk::device<ublk::ram_target>::start(ram, o);
  ublk::ram_target other(4 << 20);
  std::error_code err;
  try {
    (void)ublk::device<ublk::ram_target>::recover(other, dev->id(), o);
  } catch (const std::system_error& e) {
    err = e.code();
    MESSAGE(std::string(e.what()));
  }
  CHECK(err == std::errc::invalid_argument);
  CHECK(err.message() == "ublk START_USER_RECOVERY: EINVAL: Invalid argument");
  CHECK(fs::exists(dev->block_path()));
  const std::uint32_t id = dev->id();
  dev->stop();
  check_gone(id);
}

TEST_CASE("ublk: wait returns when another process deletes the device, and stop then finds nothing to do") {
  UC_REQUIRE_FEATURE_IF(have_ublk(), uringcmd::feature::ublk);
  ublk::ram_target ram(4 << 20);
  ublk::device_options o = options(ram.size(), 4, 64 << 10, 2);
  auto dev = ublk::device<ublk::ram_target>::start(ram, o);
  const std::uint32_t id = dev->id();
  auto outside = std::async(std::launch::async, [id] {
    ctl_fixture f;
    return sync_wait(f.ex, f.ctl.del(id));  // returns once wait() has closed /dev/ublkcN
  });
  dev->wait();
  auto del = outside.get();
  CHECK_MESSAGE(del, describe(del.error()));
  CHECK(dev->stats().aborted == 2u * 4u);
  CHECK_NOTHROW(dev->stop());
  CHECK_FALSE(dev->queue_error());
  check_gone(id);
}

#ifdef UC_UBLK_DAEMON
// kublk and ublksrv serve until STOP_DEV, then exit and leave DEL_DEV to their `del`: a child
// that does the same (child_end::exits_on_stop) stands in for them here.
TEST_CASE("ublk: uringcmd-ublk del deletes a device whose server exits on STOP_DEV without deleting it") {
  UC_REQUIRE_FEATURE_IF(have_ublk(), uringcmd::feature::ublk);
  ublk::null_target null;
  const auto [pid, id] = serve_in_child(null, options(64 << 20, 4, 64 << 10), child_end::exits_on_stop);
  REQUIRE(id != ~0u);
  const auto start = std::chrono::steady_clock::now();
  const auto del = uc_test::run_command(std::string(UC_UBLK_DAEMON) + " del -n " + std::to_string(id));
  const auto took = std::chrono::steady_clock::now() - start;
  INFO(del.output);
  CHECK(del.status == 0);
  CHECK(del.output.find("dev " + std::to_string(id) + ": deleted") != std::string::npos);
  CHECK(took < std::chrono::seconds(10));  // it used to wait 30 s for a DEL_DEV nobody would send
  int st = 0;
  REQUIRE(::waitpid(pid, &st, 0) == pid);
  CHECK(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 0);
  check_gone(id);
}
#endif

TEST_CASE("ublk: request_stop from another thread ends wait, and stop deletes the device") {
  UC_REQUIRE_FEATURE_IF(have_ublk(), uringcmd::feature::ublk);
  ublk::ram_target ram(4 << 20);
  ublk::device_options o = options(ram.size(), 4, 64 << 10);
  auto dev = ublk::device<ublk::ram_target>::start(ram, o);
  const std::uint32_t id = dev->id();
  std::thread signal_thread([&] { dev->request_stop(); });
  dev->wait();
  signal_thread.join();
  {
    ctl_fixture f;
    auto info = sync_wait(f.ex, f.ctl.dev_info(id));  // stopped, not deleted
    REQUIRE_MESSAGE(info, describe(info.error()));
    CHECK(info->state == ublk::dev_state::dead);
  }
  dev->stop();
  CHECK_FALSE(dev->queue_error());
  check_gone(id);
}

namespace {
/// The Cpus_allowed_list of this process's thread named `name` ("" when there is none).
std::string thread_cpus(const std::string& name) {
  for (const auto& t : fs::directory_iterator("/proc/self/task")) {
    std::ifstream comm(t.path() / "comm");
    std::string c;
    std::getline(comm, c);
    if (c != name) continue;
    std::ifstream status(t.path() / "status");
    for (std::string line; std::getline(status, line);)
      if (line.rfind("Cpus_allowed_list:", 0) == 0) return line.substr(line.find_first_not_of(" \t", 18));
  }
  return {};
}

std::unique_ptr<ublk::device<ublk::null_target>> start_two_queues(ublk::null_target& t, std::vector<int> cpus,
                                                                 std::uint32_t id = ~0u) {
  ublk::device_options o = options(16 << 20, 4, 64 << 10, 2);
  o.id = id;
  o.queue_cpus = std::move(cpus);
  return ublk::device<ublk::null_target>::start(t, o);
}

/// Each queue thread of `dev` is pinned to exactly the CPU its plan says.
void check_threads_follow_plan(const ublk::device<ublk::null_target>& dev) {
  REQUIRE(dev.queue_cpus().size() == 2);
  for (std::uint16_t q = 0; q < 2; ++q) {
    const std::string name = "ublk" + std::to_string(dev.id()) + "q" + std::to_string(q);
    CAPTURE(name);
    CHECK(thread_cpus(name) == std::to_string(dev.queue_cpus()[q]));
  }
}
}  // namespace

TEST_CASE("ublk: each queue thread is pinned to a CPU of its kernel affinity set, a different one per queue, or to the user's map") {
  UC_REQUIRE_FEATURE_IF(have_ublk(), uringcmd::feature::ublk);
  cpu_set_t allowed;
  REQUIRE(::sched_getaffinity(0, sizeof allowed, &allowed) == 0);
  if (CPU_COUNT(&allowed) < 2 || !CPU_ISSET(0, &allowed) || !CPU_ISSET(1, &allowed))
    UC_SKIP("needs CPUs 0 and 1 (the VM has 2)");
  ublk::null_target t;
  {
    auto dev = start_two_queues(t, {});
    for (std::uint16_t q = 0; q < 2; ++q) {
      auto set = sync_wait(dev->control_executor(), dev->ctrl().queue_affinity(dev->id(), q));
      REQUIRE_MESSAGE(set, describe(set.error()));
      CAPTURE(q);
      CHECK(std::find(set->begin(), set->end(), dev->queue_cpus()[q]) != set->end());
    }
    CHECK(dev->queue_cpus()[0] != dev->queue_cpus()[1]);  // 2 CPUs, 2 queues: one each
    check_threads_follow_plan(*dev);
    fio_ok("--name=r --filename=" + dev->block_path() + " --rw=randread --bs=4k --iodepth=8 --direct=1"
           " --ioengine=io_uring --size=4M --numjobs=2");
    dev->stop();
    CHECK_FALSE(dev->queue_error());
  }
  {
    auto dev = start_two_queues(t, {1, 1});  // the user's map may put queues together
    CHECK(dev->queue_cpus() == std::vector<int>{1, 1});
    check_threads_follow_plan(*dev);
    dev->stop();
  }
  const int absent = CPU_SETSIZE - 1;  // no VM has it
  std::string what;
  try {
    (void)start_two_queues(t, {0, absent}, 91);
  } catch (const std::system_error& e) {
    what = e.what();
    CHECK(e.code() == std::errc::invalid_argument);
  }
  CHECK(what.find("queue 1: CPU " + std::to_string(absent) + " is not one this process may run on") != std::string::npos);
  check_gone(91);
}

namespace {
/// A RAM target whose every request, once `rt` is set, leaves its queue's core for the next
/// queue's core and comes back before it is served, counting where it found itself. Only a
/// queue served on a core of `rt` can do that: on() from any other thread throws.
struct hopping_target {
  ublk::ram_target& ram;
  std::atomic<runtime*> rt{nullptr};
  std::atomic<std::uint64_t> round_trips{0};
  std::atomic<std::uint64_t> misplaced{0};  ///< steps that ran elsewhere than on the core expected

  task<int> handle(ublk::io_request req, std::span<std::byte> buf) {
    if (runtime* r = rt.load()) {
      const std::size_t home = req.q_id;
      const std::size_t other = (home + 1) % r->size();
      if (r->current_core() != home) misplaced.fetch_add(1);
      co_await r->on(other);
      if (r->current_core() != other) misplaced.fetch_add(1);
      co_await r->on(home);
      if (r->current_core() != home) misplaced.fetch_add(1);
      round_trips.fetch_add(1);
    }
    co_return ram.handle(req, buf);
  }
};
}  // namespace

TEST_CASE("ublk: each queue is served on its own core of the device's runtime, and a request can hop to the other queue's core and back") {
  UC_REQUIRE_FEATURE_IF(have_ublk(), uringcmd::feature::ublk);
  ublk::ram_target ram(16 << 20);
  hopping_target t{ram};
  ublk::device_options o = options(ram.size(), 16, 128 << 10, 2);
  auto dev = ublk::device<hopping_target>::start(t, o);
  runtime& rt = dev->queue_runtime();
  REQUIRE(rt.size() == 2);
  for (std::size_t q = 0; q < 2; ++q) CHECK(rt.cpu(q) == dev->queue_cpus()[q]);
  t.rt = &rt;
  fio_ok("--name=v --filename=" + dev->block_path() +
         " --rw=randwrite --bsrange=4k-128k --iodepth=16 --direct=1 --ioengine=io_uring --verify=crc32c"
         " --do_verify=1 --verify_state_save=0 --size=4M --numjobs=2 --offset_increment=8M");  // disjoint jobs
  MESSAGE(t.round_trips.load() << " requests went to the other queue's core and back");
  CHECK(t.round_trips.load() > 0);
  CHECK(t.misplaced.load() == 0);
  const auto cores = rt.stats();  // asked of the queues' own loops, while they serve
  for (std::size_t q = 0; q < 2; ++q) {
    CAPTURE(q);
    CHECK(cores[q].executor.completed > 0);
    CHECK(cores[q].hops_in + cores[q].hops_out > 0);
  }
  const std::uint32_t id = dev->id();
  dev->stop();
  CHECK_FALSE(dev->queue_error());
  check_gone(id);
}

namespace {
/// A RAM disk whose handler throws for any request touching its second MiB.
struct throwing_target {
  ublk::ram_target& ram;
  int handle(const ublk::io_request& req, std::span<std::byte> buf) {
    if (req.has_data() && req.offset < (2u << 20) && req.offset + req.bytes > (1u << 20))
      throw std::runtime_error("throwing_target: bad sector");
    return ram.handle(req, buf);
  }
};

void throwing_target_fails_only_its_requests(ublk::data_mode m) {
  ublk::ram_target ram(4 << 20);
  throwing_target t{ram};
  ublk::device_options o = options(ram.size(), 4, 64 << 10);
  o.mode = m;
  auto dev = ublk::device<throwing_target>::start(t, o);
  INFO("mode " << ublk::to_string(dev->mode()));
  const std::string dd = "timeout 20 dd of=/dev/null bs=4096 count=1 iflag=direct if=" + dev->block_path();
  const auto bad = uc_test::run_command(dd + " skip=300");
  INFO(bad.output);
  CHECK(bad.status != 0);
  CHECK(bad.status != 124);  // failed, not hung
  CHECK(bad.output.find("Input/output error") != std::string::npos);
  const auto good = uc_test::run_command(dd + " skip=600");  // the device serves on
  INFO(good.output);
  CHECK(good.status == 0);
  const std::uint32_t id = dev->id();
  dev->stop();
  CHECK_FALSE(dev->queue_error());
  check_gone(id);
  REQUIRE(dev->target_exception());
  CHECK_THROWS_WITH_AS(std::rethrow_exception(dev->target_exception()), "throwing_target: bad sector", std::runtime_error);
}
}  // namespace

TEST_CASE("ublk: a handler that throws fails its request with EIO, the device serves on, and stop still deletes it") {
  UC_REQUIRE_FEATURE_IF(have_ublk(), uringcmd::feature::ublk);
  throwing_target_fails_only_its_requests(ublk::data_mode::copy);
  if (ublk::select_mode(ublk::data_mode::batch, kernel_features(), false))
    throwing_target_fails_only_its_requests(ublk::data_mode::batch);
}
