// SPDX-License-Identifier: MIT
// ring: one io_uring set up from ring_options, and the thread that owns it.
//
// The ring is created disabled (IORING_SETUP_R_DISABLED) and enabled by the first thread that runs
// it, so an executor can be built on one thread and run on another: SINGLE_ISSUER binds the ring to
// the enabling thread. That thread also registers the ring fd (a per-thread table), and only that
// thread may enter the ring afterwards.
#pragma once

#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <system_error>
#include <thread>

#include <liburing.h>

#include <uringcmd/detail/uapi_compat.hpp>
#include <uringcmd/error.hpp>
#include <uringcmd/feature.hpp>
#include <uringcmd/result.hpp>
#include <uringcmd/ring_options.hpp>

namespace uringcmd {

class ring {
 public:
  /// The kernel's largest CQ (IORING_MAX_CQ_ENTRIES).
  static constexpr unsigned max_cq_entries = 65536;

  /// Sets up the ring. Throws std::system_error: errc::invalid_ring_options for options no ring
  /// can serve, a uringcmd::feature naming a setup flag this kernel lacks ("IORING_SETUP_DEFER_TASKRUN:
  /// needs Linux 6.1; ..."), or else the kernel's errno, with the flags asked for.
  explicit ring(const ring_options& opts) : register_fd_(opts.register_ring_fd) {
    const unsigned cq = cq_size(opts);
    io_uring_params p{};
    p.flags = opts.setup_flags() | IORING_SETUP_R_DISABLED | IORING_SETUP_CQSIZE;
    p.cq_entries = cq;
    if (int r = io_uring_queue_init_params(opts.entries, &ring_, &p); r < 0)
      throw system_error(setup_error(-r, p.flags), "io_uring_setup(entries=" + std::to_string(opts.entries) +
                                                       ", flags=" + setup_flag_names(p.flags) + ")");
    if (!(p.features & IORING_FEAT_NODROP)) {
      io_uring_queue_exit(&ring_);
      throw invalid("the kernel lacks IORING_FEAT_NODROP (5.5+): completions could be dropped");
    }
    flags_ = p.flags;
    features_ = p.features;
    cq_entries_ = p.cq_entries;
    sq_entries_ = p.sq_entries;
    if (io_uring_probe* pr = io_uring_get_probe_ring(&ring_)) {
      msg_ring_ = pr->last_op >= IORING_OP_MSG_RING && (pr->ops[IORING_OP_MSG_RING].flags & IO_URING_OP_SUPPORTED);
      io_uring_free_probe(pr);
    }
  }
  ring(const ring&) = delete;
  ring& operator=(const ring&) = delete;

  ~ring() {
    // The registered fd lives in the owner thread's table: from any other thread (or after the
    // owner exited) liburing's unregister would hit that thread's slot of the same number.
    if (fd_registered_ && !on_owner_thread()) ring_.int_flags &= static_cast<std::uint8_t>(~1U);  // INT_FLAG_REG_RING
    io_uring_queue_exit(&ring_);
  }

  /// What the ring options yield for the CQ, or errc::invalid_ring_options naming the problem.
  static unsigned cq_size(const ring_options& o) {
    if (o.entries < 2)
      throw invalid("entries=" + std::to_string(o.entries) +
                    ": an op with a linked timeout needs two SQEs in one submit; use at least 2");
    if (o.max_in_flight > max_cq_entries)
      throw invalid("max_in_flight=" + std::to_string(o.max_in_flight) + " exceeds the largest CQ (" +
                    std::to_string(max_cq_entries) + "): spread the work over several rings");
    if (o.cq_entries && o.max_in_flight > o.cq_entries)
      throw invalid("max_in_flight=" + std::to_string(o.max_in_flight) + " exceeds cq_entries=" +
                    std::to_string(o.cq_entries) + ": leave cq_entries at 0 or raise it");
    if (o.cq_entries) return o.cq_entries;
    return std::max(2 * round_up_pow2(o.entries), round_up_pow2(o.max_in_flight));
  }

  io_uring& native() noexcept { return ring_; }
  int fd() const noexcept { return ring_.ring_fd; }
  std::uint32_t flags() const noexcept { return flags_; }
  std::uint32_t features() const noexcept { return features_; }
  unsigned sq_entries() const noexcept { return sq_entries_; }
  unsigned cq_entries() const noexcept { return cq_entries_; }
  bool big_sqe() const noexcept { return flags_ & IORING_SETUP_SQE128; }
  bool big_cqe() const noexcept { return flags_ & IORING_SETUP_CQE32; }
  /// IORING_OP_MSG_RING is available (5.18+): other rings can post CQEs here without a syscall.
  bool has_msg_ring() const noexcept { return msg_ring_; }
  bool fd_registered() const noexcept { return fd_registered_; }

  // ---- ownership ----

  bool adopted() const noexcept { return owner_ != std::thread::id{}; }
  bool on_owner_thread() const noexcept { return owner_ == std::this_thread::get_id(); }
  /// Called before every entry into the kernel: the first caller enables the ring and becomes its
  /// owner; any other thread gets errc::not_owner_thread.
  void adopt() {
    if (on_owner_thread()) [[likely]] return;
    if (adopted()) throw system_error(make_error_code(errc::not_owner_thread), "io_uring_enter");
#if UC_LIBURING_AT_LEAST(2, 4)
    if (const int r = io_uring_enable_rings(&ring_); r < 0) throw system_error(errno_code(-r), "io_uring_enable_rings");
#else
    // The raw syscall: liburing 2.3 declares io_uring_enable_rings but does not export it.
    if (::syscall(__NR_io_uring_register, ring_.ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0) < 0)
      throw system_error(errno_code(errno), "io_uring_register(ENABLE_RINGS)");
#endif
    owner_ = std::this_thread::get_id();
    if (register_fd_) fd_registered_ = io_uring_register_ring_fd(&ring_) == 1;
  }

  // ---- SQEs and CQEs ----

  /// n consecutive free SQEs, flushing the SQ to the kernel first when it is too full (a linked
  /// pair is never split across two submits). While the kernel is busy (EAGAIN/EBUSY) `on_busy()`
  /// is called to reap. nullptr when the kernel refuses submissions; submit_error() says why.
  template <class OnBusy>
  io_uring_sqe* sqes(unsigned n, OnBusy&& on_busy) noexcept {
    // Hot path: io_uring_get_sqe already checks for room; sq_space_left would read khead twice.
    if (n == 1) [[likely]] {
      if (io_uring_sqe* sqe = io_uring_get_sqe(&ring_)) [[likely]] return sqe;
    }
    return sqes_slow(n, on_busy);
  }
  /// The negative errno that made sqes() return nullptr.
  int submit_error() const noexcept { return submit_error_; }

  /// Submits, then waits for at least one CQE when `wait`; returns io_uring_enter's result.
  int enter(bool wait) noexcept {
    ++enters_;
    return wait ? io_uring_submit_and_wait(&ring_, 1) : io_uring_submit_and_get_events(&ring_);
  }

  /// Whether CQEs wait in the CQ.
  bool cq_ready() const noexcept { return io_uring_cq_ready(&ring_) != 0; }
  /// How many CQEs wait in the CQ.
  unsigned cq_count() const noexcept { return io_uring_cq_ready(&ring_); }
  /// Polls until `until` for CQEs or task work (visible with IORING_SETUP_TASKRUN_FLAG; entering
  /// the kernel runs it) waiting for this ring; whether they do.
  bool spin_for_work(std::chrono::steady_clock::time_point until) const noexcept {
    for (unsigned i = 1;; ++i) {
      if (cq_ready() || (IO_URING_READ_ONCE(*ring_.sq.kflags) & IORING_SQ_TASKRUN)) return true;
      if (i % 64 == 0 && std::chrono::steady_clock::now() >= until) return false;
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    }
  }

  /// Walks the CQ: for each CQE, `r = copy(cqe)`, then the head moves past it, then `then(r)`.
  /// The head is re-read every time because `then` may itself have reaped. Returns the count.
  template <class Copy, class Then>
  unsigned for_each_cqe(Copy&& copy, Then&& then) {
    io_uring_cq& cq = ring_.cq;
    const unsigned shift = big_cqe() ? 1 : 0;
    unsigned n = 0;
    for (;; ++n) {
      const unsigned head = *cq.khead;
      if (head == io_uring_smp_load_acquire(cq.ktail)) return n;
      auto r = copy(cq.cqes[(head & cq.ring_mask) << shift]);
      io_uring_smp_store_release(cq.khead, head + 1);
      then(r);
    }
  }

  std::uint64_t enters() const noexcept { return enters_; }
  std::uint64_t sq_full_flushes() const noexcept { return sq_full_flushes_; }

  // ---- registration ----

  /// Registers fixed buffers (read_fixed, write_fixed, uring_cmd with a buffer index).
  result<void> register_buffers(std::span<const iovec> bufs) {
    return check(io_uring_register_buffers(&ring_, bufs.data(), static_cast<unsigned>(bufs.size())));
  }
  result<void> unregister_buffers() { return check(io_uring_unregister_buffers(&ring_)); }
  /// Registers fixed files (use fixed_file{index} as the fd of an op).
  result<void> register_files(std::span<const int> fds) {
    return check(io_uring_register_files(&ring_, fds.data(), static_cast<unsigned>(fds.size())));
  }
  result<void> unregister_files() { return check(io_uring_unregister_files(&ring_)); }

 private:
  template <class OnBusy>
  [[gnu::noinline]] io_uring_sqe* sqes_slow(unsigned n, OnBusy& on_busy) noexcept {
    if (io_uring_sq_space_left(&ring_) < n) {
      if (!on_owner_thread()) {  // not adopted yet, or the wrong thread: it cannot flush
        submit_error_ = adopted() ? -EEXIST : -EBUSY;
        return nullptr;
      }
      ++sq_full_flushes_;
      while (io_uring_sq_space_left(&ring_) < n) {
        const int rc = enter(false);
        if (rc == -EAGAIN || rc == -EBUSY || rc == -EINTR) {
          on_busy();
        } else if (rc < 0) {
          submit_error_ = rc;
          return nullptr;
        }
      }
    }
    return io_uring_get_sqe(&ring_);
  }

  static unsigned round_up_pow2(unsigned x) noexcept {
    unsigned p = 1;
    while (p < x) p <<= 1;
    return p;
  }
  // EINVAL from io_uring_setup: names the flag this kernel lacks (feature.hpp) when there is one.
  [[gnu::cold]] static std::error_code setup_error(int err, std::uint32_t flags) noexcept {
    if (err == EINVAL)
      if (const feature f = refused_setup_flag(flags); f != feature{}) return make_error_code(f);
    return errno_code(err);
  }
  static std::system_error invalid(const std::string& why) {
    return system_error(make_error_code(errc::invalid_ring_options), "ring_options: " + why);
  }
  static result<void> check(int r) {
    if (r < 0) return fail_errno(r);
    return {};
  }

  io_uring ring_{};
  std::uint32_t flags_ = 0;
  std::uint32_t features_ = 0;
  unsigned sq_entries_ = 0;
  unsigned cq_entries_ = 0;
  bool msg_ring_ = false;
  bool register_fd_;
  bool fd_registered_ = false;
  std::thread::id owner_{};
  int submit_error_ = 0;
  std::uint64_t enters_ = 0;
  std::uint64_t sq_full_flushes_ = 0;
};

}  // namespace uringcmd
