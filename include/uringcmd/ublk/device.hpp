// SPDX-License-Identifier: MIT
// ublk::device: a running ublk block device served by a target, in copy mode.
//
//   ublk::ram_target ram(64 << 20);
//   auto dev = ublk::device<ublk::ram_target>::start(ram, {.queues = 2, .size = 64 << 20});
//   // ... use dev->block_path() (/dev/ublkbN) ...
//   dev->stop();   // or let the destructor do it
//
// start(): ADD_DEV (the kernel's answer is what counts: id, depth, limits), SET_PARAMS (basic,
// plus whatever target.tune() adds), open /dev/ublkcN (waiting, bounded, for the node), one
// std::thread per queue that issues its FETCHes and serves (queue.hpp), START_DEV once every
// queue has fetched. stop(): STOP_DEV while the queues still serve -> the queues end on ABORT
// and are joined (their rings, mappings and buffers gone) -> close /dev/ublkcN -> DEL_DEV. Also
// when start() fails half-way, so a failed start leaves no device behind.
//
// Control commands run on a private SQE128 executor driven by the calling thread: start(),
// stop() and the destructor must be called from one thread. Errors are thrown as
// std::system_error carrying a ublk::command_error code ("ublk ADD_DEV: ...").
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <uringcmd/executor.hpp>
#include <uringcmd/ring_options.hpp>
#include <uringcmd/sync_wait.hpp>
#include <uringcmd/ublk/control.hpp>
#include <uringcmd/ublk/queue.hpp>
#include <uringcmd/ublk/target.hpp>

namespace uringcmd::ublk {

struct device_options {
  std::uint16_t queues = 1;
  std::uint16_t depth = 64;
  std::uint32_t max_io_bytes = 512 << 10;  ///< largest request (and each tag's buffer)
  std::uint64_t size = 0;                  ///< bytes; a multiple of the logical block size
  std::uint8_t logical_block_shift = 9;
  std::uint32_t id = ~0u;                  ///< ~0u: the kernel picks
  std::uint64_t flags = 0;                 ///< extra UBLK_F_* to request (copy mode needs none)
  std::chrono::milliseconds control_timeout{30'000};
  std::chrono::milliseconds node_timeout{5'000};  ///< for /dev/ublkcN and /dev/ublkbN to appear
};

namespace device_detail {
/// Polls until `path` exists (present) or is gone (!present), up to `limit`.
inline bool wait_node(const std::string& path, bool present, std::chrono::milliseconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  for (;;) {
    struct stat st;
    if ((::stat(path.c_str(), &st) == 0) == present) return true;
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}
[[noreturn]] inline void raise(std::error_code e, const std::string& what) { throw std::system_error(e, what); }
}  // namespace device_detail

template <target Target>
class device {
 public:
  /// Adds, configures and starts a device served by `tgt` (which must outlive it). Throws
  /// std::system_error; nothing is left behind then.
  static std::unique_ptr<device> start(Target& tgt, device_options opts) {
    std::unique_ptr<device> d(new device(tgt, opts));
    try {
      d->bring_up();
    } catch (...) {
      d->stop();
      throw;
    }
    return d;
  }
  device(const device&) = delete;
  device& operator=(const device&) = delete;
  ~device() {
    try {
      stop();
    } catch (...) {
    }
  }

  std::uint32_t id() const noexcept { return info_.dev_id; }
  /// What ADD_DEV answered (granted flags, depth, max_io_buf_bytes).
  const ctrl_dev_info& info() const noexcept { return info_; }
  std::string block_path() const { return "/dev/ublkb" + std::to_string(info_.dev_id); }
  std::string char_path() const { return "/dev/ublkc" + std::to_string(info_.dev_id); }
  control& ctrl() noexcept { return ctrl_; }
  executor& control_executor() noexcept { return ex_; }
  /// Every queue's counters added up (requests committed, tags ended by ABORT).
  queue_stats stats() const noexcept {
    queue_stats s;
    for (const auto& q : queues_) {
      const queue_stats one = q->stats();
      s.served += one.served;
      s.aborted += one.aborted;
    }
    return s;
  }
  /// Requests committed by every queue so far.
  std::uint64_t served() const noexcept { return stats().served; }
  /// The first error a queue ended on (none after a clean stop).
  std::error_code queue_error() const noexcept {
    for (const auto& q : queues_)
      if (q->error()) return q->error();
    return {};
  }

  /// STOP_DEV -> queues drain and are joined -> close /dev/ublkcN -> DEL_DEV. Idempotent. Throws
  /// the first control error after finishing the sequence as far as it can. The queues end only
  /// when the kernel aborts their FETCHes, which STOP_DEV does (7.2 and 6.12, also before
  /// START_DEV): a STOP_DEV that fails leaves the join waiting. DEL_DEV waits for every opener of
  /// /dev/ublkbN; past the deadline it fails with ETIMEDOUT and the kernel frees the device later.
  void stop() {
    if (stopped_) return;
    stopped_ = true;
    std::error_code first;
    if (added_) {
      if (started_) {
        auto r = sync_wait(ex_, ctrl_.stop(info_.dev_id));
        if (!r) first = r.error();
      } else if (!threads_.empty()) {
        // Never started: STOP_DEV still aborts the queues' FETCHes on the kernels that answer it.
        (void)sync_wait(ex_, ctrl_.stop(info_.dev_id));
      }
    }
    for (auto& t : threads_)
      if (t.joinable()) t.join();
    threads_.clear();
    if (char_fd_ >= 0) ::close(char_fd_);
    char_fd_ = -1;
    if (added_) {
      auto r = sync_wait(ex_, ctrl_.del(info_.dev_id));
      if (!r && !first) first = r.error();
      added_ = false;
    }
    if (first) device_detail::raise(first, "ublk::device::stop");
  }

 private:
  device(Target& tgt, device_options opts)
      : target_(tgt), opts_(opts), ex_(ring_options::passthrough(16)),
        ctrl_(control::open("/dev/ublk-control", control_options{opts.control_timeout}).value()) {}

  void bring_up() {
    ctrl_dev_info want;
    want.nr_hw_queues = opts_.queues;
    want.queue_depth = opts_.depth;
    want.max_io_buf_bytes = opts_.max_io_bytes;
    want.dev_id = opts_.id;
    want.flags = opts_.flags;
    auto added = sync_wait(ex_, ctrl_.add(want));
    if (!added) device_detail::raise(added.error(), "ublk::device::start");
    info_ = *added;
    added_ = true;

    params p = basic_params(opts_.size, info_.max_io_buf_bytes, opts_.logical_block_shift);
    if constexpr (tunable_target<Target>) target_.tune(p);
    auto set = sync_wait(ex_, ctrl_.set_params(info_.dev_id, p));
    if (!set) device_detail::raise(set.error(), "ublk::device::start");

    if (!device_detail::wait_node(char_path(), true, opts_.node_timeout))
      device_detail::raise(errno_code(ETIMEDOUT), "ublk::device::start: " + char_path() + " did not appear");
    char_fd_ = ::open(char_path().c_str(), O_RDWR | O_CLOEXEC);
    if (char_fd_ < 0) device_detail::raise(errno_code(errno), "ublk::device::start: open " + char_path());

    // One thread per queue; each reports once its FETCHes are out (or why they are not).
    struct gate {
      std::mutex m;
      std::condition_variable cv;
      unsigned reported = 0;
      std::error_code error;
    };
    auto g = std::make_shared<gate>();
    for (std::uint16_t q = 0; q < info_.nr_hw_queues; ++q) {
      queues_.push_back(std::make_unique<queue<Target>>(char_fd_, info_, q, target_));
      queue<Target>* qp = queues_.back().get();
      threads_.emplace_back([qp, g] {
        (void)qp->serve([&](result<void> r) {
          std::lock_guard lock(g->m);
          ++g->reported;
          if (!r && !g->error) g->error = r.error();
          g->cv.notify_all();
        });
      });
    }
    {
      std::unique_lock lock(g->m);
      g->cv.wait(lock, [&] { return g->reported == info_.nr_hw_queues; });
      if (g->error) device_detail::raise(g->error, "ublk::device::start: queue setup");
    }
    auto st = sync_wait(ex_, ctrl_.start(info_.dev_id, ::getpid()));
    if (!st) device_detail::raise(st.error(), "ublk::device::start");
    started_ = true;
    if (!device_detail::wait_node(block_path(), true, opts_.node_timeout))
      device_detail::raise(errno_code(ETIMEDOUT), "ublk::device::start: " + block_path() + " did not appear");
  }

  Target& target_;
  device_options opts_;
  executor ex_;
  control ctrl_;
  ctrl_dev_info info_;
  int char_fd_ = -1;
  bool added_ = false;
  bool started_ = false;
  bool stopped_ = false;
  std::vector<std::unique_ptr<queue<Target>>> queues_;
  std::vector<std::thread> threads_;
};

}  // namespace uringcmd::ublk
