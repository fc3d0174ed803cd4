// SPDX-License-Identifier: MIT
// ublk::device: a running ublk block device served by a target, in the data mode the options ask
// for (mode.hpp: best by default) and optionally recoverable after the server dies.
//
//   ublk::ram_target ram(64 << 20);
//   auto dev = ublk::device<ublk::ram_target>::start(ram, {.queues = 2, .size = 64 << 20});
//   // ... use dev->block_path() (/dev/ublkbN) ...
//   dev->stop();   // or let the destructor do it
//
// start(): ADD_DEV (the kernel's answer is what counts: id, depth, limits), SET_PARAMS (basic,
// plus whatever target.tune() adds), open /dev/ublkcN (waiting, bounded, for the node), then a
// thread-per-core runtime (runtime.hpp) of one core per queue: core q, pinned to queue q's CPU
// (device_options::queue_cpus) before its ring exists and named ublk<id>q<q>, serves queue q on
// its own executor (runtime_options::loop -> queue.hpp serve(executor&)); START_DEV once every
// queue has fetched. Targets may use that runtime (queue_runtime(): on(), spawn_on()). stop():
// STOP_DEV while the queues still serve -> the queues end on ABORT -> the runtime is stopped and
// joined (the rings, and with them the registered /dev/ublkcN, gone) -> close /dev/ublkcN ->
// DEL_DEV. Also when start() fails half-way, so a failed start leaves no device behind.
//
// Modes: start() asks GET_FEATURES, resolves opts.mode (select_mode: best -> zero copy for a
// zero_copy_target on a kernel with AUTO_BUF_REG, else copy) and requests its flags plus the
// recovery flags; a mode or recovery the kernel lacks fails before ADD_DEV with a feature_error
// ("ublk ADD_DEV: UBLK_F_AUTO_BUF_REG not supported by this kernel (needs 6.16)"). The queues
// serve in the mode the granted flags say (mode()).
//
// Recovery: a device added with opts.recovery != none outlives its server. recover() attaches a
// new server (this process) to such a device after the old one died: it waits for the kernel to
// quiesce it (state QUIESCED or FAIL_IO), START_USER_RECOVERY, opens /dev/ublkcN, starts the
// queues and sends END_USER_RECOVERY with this pid; the same /dev/ublkbN then serves again, I/O
// held meanwhile reissued (reissue) or failed (fail_io).
//
// Threads: start(), recover(), stop(), wait() and the destructor must be called from one thread
// (they drive the control executor, a private SQE128 ring). request_stop() may be called from any
// other thread, at any time (not from a signal handler: it opens its own ring). The counters
// (stats(), served()) may be read from any thread. Errors are thrown as std::system_error
// carrying a ublk::command_error code ("ublk ADD_DEV: ...").
#pragma once

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <uringcmd/executor.hpp>
#include <uringcmd/ring_options.hpp>
#include <uringcmd/runtime.hpp>
#include <uringcmd/sync_wait.hpp>
#include <uringcmd/ublk/batch_queue.hpp>
#include <uringcmd/ublk/control.hpp>
#include <uringcmd/ublk/mode.hpp>
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
  std::uint64_t flags = 0;                 ///< extra UBLK_F_* to request (modes add their own)
  data_mode mode = data_mode::best;        ///< how data moves (mode.hpp)
  recovery_mode recovery = recovery_mode::none;  ///< what a server's death does to the device
  std::chrono::milliseconds control_timeout{30'000};
  std::chrono::milliseconds node_timeout{5'000};  ///< for /dev/ublkcN and /dev/ublkbN to appear
  /// recover(): how long to wait for the kernel to quiesce a device whose server died.
  std::chrono::milliseconds recovery_timeout{10'000};
  /// Zero copy, for tests: make the kernel's automatic registration fail so that every request
  /// takes the fallback path (the queue registers the pages itself), as kublk --auto_zc_fallback.
  bool force_zero_copy_fallback = false;
  /// Pin each queue's core (its thread) to one CPU (see queue_cpus); false: the cores float as the
  /// scheduler likes.
  bool pin_queues = true;
  /// The CPU of queue q's core: queue_cpus[q], one entry per queue. Empty: a CPU of the queue's
  /// affinity set (GET_QUEUE_AFFINITY) that this process may use, the least used one so far, so
  /// that queues share a CPU only when their sets leave no other choice; a queue whose set has
  /// no such CPU is not pinned.
  std::vector<int> queue_cpus;
  /// Microseconds a busy queue's core polls its ring before sleeping (ring_options::idle_spin_us):
  /// a queue that sleeps is woken by every request the kernel hands it, in the submitter's time.
  /// uringcmd-ublk uses 20 (docs/ublk.md, "Polling").
  unsigned idle_spin_us = 0;
  /// ... growing up to this many microseconds to cover the gaps between requests
  /// (ring_options::idle_spin_max_us; uringcmd-ublk uses 250).
  unsigned idle_spin_max_us = 0;
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

/// The CPUs this process may run on (sched_getaffinity).
inline cpu_set_t allowed_cpus() {
  cpu_set_t s;
  CPU_ZERO(&s);
  if (::sched_getaffinity(0, sizeof s, &s) != 0) raise(errno_code(errno), "ublk::device::start: sched_getaffinity");
  return s;
}
inline bool allowed(const cpu_set_t& s, int cpu) noexcept { return cpu >= 0 && cpu < CPU_SETSIZE && CPU_ISSET(cpu, &s); }

/// What the queues' cores tell start_queues(): each queue's setup outcome, and its end.
struct queue_gate {
  std::mutex m;
  std::condition_variable cv;
  unsigned reported = 0;  ///< queues whose setup is done, or failed
  unsigned ended = 0;     ///< queues whose serve() returned
  std::error_code error;  ///< the first setup error

  void report(const result<void>& r) {
    std::lock_guard lock(m);
    ++reported;
    if (!r && !error) error = r.error();
    cv.notify_all();
  }
  void end() {
    std::lock_guard lock(m);
    ++ended;
    cv.notify_all();
  }
  /// Until `n` queues have reported; the first setup error, if any.
  std::error_code wait_reported(unsigned n) {
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return reported == n; });
    return error;
  }
  void wait_ended(unsigned n) {
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return ended == n; });
  }
};
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
  /// Attaches to device `id`, added with recovery by a server that has died (see the top of the
  /// file). opts: only the timeouts are used; the geometry and mode come from the device. Throws
  /// std::system_error: a device added without recovery is EINVAL, one whose old server still
  /// holds it after opts.recovery_timeout ETIMEDOUT (both named START_USER_RECOVERY). A failed
  /// recover() never deletes the device (its data may still be wanted).
  static std::unique_ptr<device> recover(Target& tgt, std::uint32_t id, device_options opts) {
    std::unique_ptr<device> d(new device(tgt, opts));
    try {
      d->reattach(id);
    } catch (...) {
      d->release_without_delete();
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
  /// The mode the queues serve in, from the flags the kernel granted.
  data_mode mode() const noexcept { return mode_of(info_.flags); }
  recovery_mode recovery() const noexcept { return recovery_of(info_.flags); }
  executor& control_executor() noexcept { return ex_; }
  /// Every queue's counters added up (requests committed, tags ended by ABORT).
  queue_stats stats() const noexcept {
    queue_stats s;
    auto add = [&](const queue_stats& one) {
      s.served += one.served;
      s.aborted += one.aborted;
      s.fallbacks += one.fallbacks;
      s.commits += one.commits;
    };
    for (const auto& q : queues_) add(q->stats());
    for (const auto& q : batch_queues_) add(q->stats());
    return s;
  }
  /// The CPU each queue's core was pinned to (-1: not pinned), once the queues have started.
  const std::vector<int>& queue_cpus() const noexcept { return cpus_; }
  /// The runtime whose core q serves queue q (on its thread and executor), from start() or
  /// recover() until stop() or wait() (none afterwards): a target may hop between the queues'
  /// cores (co_await queue_runtime().on(core), and back before handle() returns) or spawn_on()
  /// work there.
  uringcmd::runtime& queue_runtime() noexcept { return *cores_; }
  /// Requests committed by every queue so far.
  std::uint64_t served() const noexcept { return stats().served; }
  /// The first exception the target let escape a handler (each failed its request with EIO and
  /// the queue served on; none: nullptr). Read it once the queues have ended (stop(), wait()).
  std::exception_ptr target_exception() const noexcept {
    for (const auto& q : queues_)
      if (q->thrown().first()) return q->thrown().first();
    for (const auto& q : batch_queues_)
      if (q->thrown().first()) return q->thrown().first();
    return nullptr;
  }
  /// The first error a queue ended on (none after a clean stop).
  std::error_code queue_error() const noexcept {
    for (const auto& q : queues_)
      if (q->error()) return q->error();
    for (const auto& q : batch_queues_)
      if (q->error()) return q->error();
    return {};
  }

  /// Blocks until the queues have ended because the device was stopped from outside (STOP_DEV
  /// or DEL_DEV from another process, or request_stop()), then closes /dev/ublkcN so that an
  /// outside DEL_DEV can finish. stop() (or the destructor) afterwards deletes the device if it
  /// still exists.
  void wait() {
    if (cores_) gate_.wait_ended(info_.nr_hw_queues);
    stop_cores();
    started_ = false;
    if (char_fd_ >= 0) ::close(char_fd_);
    char_fd_ = -1;
  }

  /// Sends STOP_DEV through a ring of its own: callable from any thread while another one is in
  /// wait() (e.g. a thread that took SIGTERM from sigwait). Not async-signal-safe.
  void request_stop() const {
    executor ex(ring_options::passthrough(4));
    auto c = control::open("/dev/ublk-control", control_options{opts_.control_timeout});
    if (!c) device_detail::raise(c.error(), "ublk::device::request_stop");
    auto r = sync_wait(ex, c->stop(info_.dev_id));
    if (!r) device_detail::raise(r.error(), "ublk::device::request_stop");
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
      } else if (cores_) {
        // Never started: STOP_DEV still aborts the queues' FETCHes on the kernels that answer it.
        (void)sync_wait(ex_, ctrl_.stop(info_.dev_id));
      }
    }
    stop_cores();
    if (char_fd_ >= 0) ::close(char_fd_);
    char_fd_ = -1;
    if (added_) {
      // ENODEV: somebody else deleted it already, which is where this was going.
      auto r = sync_wait(ex_, ctrl_.del(info_.dev_id));
      if (!r && !first && r.error() != std::errc::no_such_device) first = r.error();
      added_ = false;
    }
    if (first) device_detail::raise(first, "ublk::device::stop");
  }

 private:
  device(Target& tgt, device_options opts)
      : target_(tgt), opts_(opts), ex_(ring_options::passthrough(16)),
        ctrl_(control::open("/dev/ublk-control", control_options{opts.control_timeout}).value()) {}

  static std::string mode_failure(data_mode m, std::error_code e) {
    std::string s = "ublk::device::start: mode ";
    s += to_string(m);
    if (e.category() == ublk_category()) return s;  // the message names the missing flag
    if (needs_fixed_buffers(m)) s += " needs a target with handle_fixed()";
    return s;
  }

  /// Opens /dev/ublkcN and starts the runtime, one core per queue; returns once every queue has
  /// its FETCHes out (START_DEV / END_USER_RECOVERY may follow) or throws why one has not.
  void start_queues() {
    if (!device_detail::wait_node(char_path(), true, opts_.node_timeout))
      device_detail::raise(errno_code(ETIMEDOUT), "ublk::device::start: " + char_path() + " did not appear");
    char_fd_ = ::open(char_path().c_str(), O_RDWR | O_CLOEXEC);
    if (char_fd_ < 0) device_detail::raise(errno_code(errno), "ublk::device::start: open " + char_path());

    cpus_ = plan_cpus();
    for (std::uint16_t q = 0; q < info_.nr_hw_queues; ++q) {
      if (is_batch(mode()))
        batch_queues_.push_back(std::make_unique<batch_queue<Target>>(char_fd_, info_, q, target_));
      else
        queues_.push_back(std::make_unique<queue<Target>>(char_fd_, info_, q, target_, opts_.force_zero_copy_fallback));
    }
    runtime_options o;
    o.cpus = cpus_;  // -1 entries: cores left unpinned
    o.ring = queue_ring_options(info_.queue_depth);
    o.ring.idle_spin_us = opts_.idle_spin_us;
    o.ring.idle_spin_max_us = opts_.idle_spin_max_us;
    o.thread_name = "ublk" + std::to_string(info_.dev_id) + "q";  // + the core's index: "ublk0q1"
    // Core q serves queue q until its loops end, then idles in the runtime's own loop until stop.
    o.loop = [this, g = &gate_](std::size_t q, executor& ex) {
      bool reported = false;
      auto report = [&](result<void> r) {
        reported = true;
        g->report(r);
      };
      try {
        if (is_batch(mode())) (void)batch_queues_[q]->serve(ex, report);
        else (void)queues_[q]->serve(ex, report);
      } catch (...) {  // the runtime keeps the exception; start() must not wait for this queue
        if (!reported) g->report(fail(errno_code(EIO)));
        g->end();
        throw;
      }
      g->end();
    };
    cores_ = std::make_unique<uringcmd::runtime>(o);  // pins each core before its ring exists
    if (const std::error_code e = gate_.wait_reported(info_.nr_hw_queues))
      device_detail::raise(e, "ublk::device::start: queue setup");
  }

  /// Stops the queues' runtime: each core once its queue has ended (ABORT), its executor destroyed
  /// on its own thread. No-op without one.
  void stop_cores() {
    if (!cores_) return;
    cores_->stop();
    cores_.reset();
    // A queue that ended on an exception kept its mappings (and with them /dev/ublkcN, which
    // DEL_DEV waits for) while its executor lived; that executor is gone now.
    for (const auto& q : queues_) q->release();
    for (const auto& q : batch_queues_) q->release();
  }

  /// Each queue's CPU (-1: not pinned), from opts.queue_cpus or the kernel's queue affinity.
  /// A CPU given that this process may not use is an error naming the queue and the CPU.
  std::vector<int> plan_cpus() {
    const std::uint16_t n = info_.nr_hw_queues;
    std::vector<int> plan(n, -1);
    if (!opts_.pin_queues) return plan;
    const cpu_set_t ok = device_detail::allowed_cpus();
    if (!opts_.queue_cpus.empty()) {
      if (opts_.queue_cpus.size() != n)
        device_detail::raise(errno_code(EINVAL), "ublk::device::start: " + std::to_string(opts_.queue_cpus.size()) +
                                                     " queue CPUs given for " + std::to_string(n) + " queues");
      for (std::uint16_t q = 0; q < n; ++q) {
        const int cpu = opts_.queue_cpus[q];
        if (!device_detail::allowed(ok, cpu))
          device_detail::raise(errno_code(EINVAL), "ublk::device::start: queue " + std::to_string(q) + ": CPU " +
                                                       std::to_string(cpu) + " is not one this process may run on");
        plan[q] = cpu;
      }
      return plan;
    }
    std::vector<unsigned> taken(CPU_SETSIZE, 0);
    for (std::uint16_t q = 0; q < n; ++q) {
      auto set = sync_wait(ex_, ctrl_.queue_affinity(info_.dev_id, q));
      if (!set) device_detail::raise(set.error(), "ublk::device::start");
      for (const int cpu : *set)
        if (device_detail::allowed(ok, cpu) && (plan[q] < 0 || taken[cpu] < taken[plan[q]])) plan[q] = cpu;
      if (plan[q] >= 0) ++taken[plan[q]];
    }
    return plan;
  }

  void reattach(std::uint32_t id) {
    info_.dev_id = id;
    // The old server's queues must be gone: the kernel then quiesces the device (QUIESCED, or
    // FAIL_IO for fail_io devices), and only then accepts START_USER_RECOVERY.
    const auto end = std::chrono::steady_clock::now() + opts_.recovery_timeout;
    for (;;) {
      auto got = sync_wait(ex_, ctrl_.dev_info(id));
      if (!got) device_detail::raise(got.error(), "ublk::device::recover");
      info_ = *got;
      if (!(info_.flags & feature::user_recovery))
        device_detail::raise(command_error(cmd::start_user_recovery, EINVAL),
                             "ublk::device::recover: device " + std::to_string(id) + " was added without recovery");
      if (info_.state == dev_state::quiesced || info_.state == dev_state::fail_io) break;
      if (std::chrono::steady_clock::now() >= end)
        device_detail::raise(command_error(cmd::start_user_recovery, ETIMEDOUT),
                             "ublk::device::recover: device " + std::to_string(id) + " still has a live server");
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    // START_USER_RECOVERY is EBUSY while the dead server's /dev/ublkcN is still open: the kernel
    // releases it when it frees that process's rings, asynchronously, possibly after the device
    // is already QUIESCED (6.12 under CI load: a recovery failed that way).
    for (;;) {
      auto begin = sync_wait(ex_, ctrl_.start_recovery(id));
      if (begin) break;
      if (begin.error() != std::errc::device_or_resource_busy || std::chrono::steady_clock::now() >= end)
        device_detail::raise(begin.error(), "ublk::device::recover");
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    added_ = true;
    start_queues();
    auto done = sync_wait(ex_, ctrl_.end_recovery(id, ::getpid()));
    if (!done) device_detail::raise(done.error(), "ublk::device::recover");
    started_ = true;
  }

  /// recover() failed: close the device without deleting it. Queues already started are ended by
  /// STOP_DEV (the only way to abort their FETCHes), which leaves the device stopped, not gone.
  void release_without_delete() noexcept {
    stopped_ = true;
    if (cores_) {
      try {
        (void)sync_wait(ex_, ctrl_.stop(info_.dev_id));
      } catch (...) {  // the stop below then waits for the queues' own errors
      }
    }
    stop_cores();
    if (char_fd_ >= 0) ::close(char_fd_);
    char_fd_ = -1;
    added_ = false;
  }

  void bring_up() {
    auto features = sync_wait(ex_, ctrl_.features());
    if (!features) device_detail::raise(features.error(), "ublk::device::start");
    auto mode = select_mode(opts_.mode, features->mask, zero_copy_target<Target>);
    if (!mode) device_detail::raise(mode.error(), mode_failure(opts_.mode, mode.error()));
    if (auto rec = check_recovery(opts_.recovery, features->mask); !rec)
      device_detail::raise(rec.error(), "ublk::device::start: recovery " + std::string(to_string(opts_.recovery)));

    ctrl_dev_info want;
    want.nr_hw_queues = opts_.queues;
    want.queue_depth = opts_.depth;
    want.max_io_buf_bytes = opts_.max_io_bytes;
    want.dev_id = opts_.id;
    want.flags = opts_.flags | mode_flags(*mode) | recovery_flags(opts_.recovery);
    auto added = sync_wait(ex_, ctrl_.add(want));
    if (!added) device_detail::raise(added.error(), "ublk::device::start");
    info_ = *added;
    added_ = true;

    params p = basic_params(opts_.size, info_.max_io_buf_bytes, opts_.logical_block_shift);
    if constexpr (tunable_target<Target>) target_.tune(p);
    auto set = sync_wait(ex_, ctrl_.set_params(info_.dev_id, p));
    if (!set) device_detail::raise(set.error(), "ublk::device::start");

    start_queues();
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
  std::vector<std::unique_ptr<batch_queue<Target>>> batch_queues_;  // BATCH_IO devices (batch_queue.hpp)
  device_detail::queue_gate gate_;
  std::unique_ptr<uringcmd::runtime> cores_;  // core q serves queue q; declared after the queues: gone first
  std::vector<int> cpus_;  // queue q's core runs on cpus_[q] (-1: anywhere)
};

}  // namespace uringcmd::ublk
