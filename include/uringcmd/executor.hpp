// SPDX-License-Identifier: MIT
// executor: runs coroutines over one ring. Awaiters start ops (fill SQEs); the run loop submits
// them in batches, copies each CQE into its op and resumes the waiting coroutine after the CQ head
// has moved past it.
//
// Which executor an op uses: the one running the awaiting coroutine. executor::current() is set
// only while run()/run_once() runs (restored on the way out), so several executors on one thread,
// destroyed in any order, and an executor built on one thread and run on another all work; an op
// awaited where no executor runs fails with errc::no_executor.
//
// There is no admission limit: every op gets its SQE at once, parked ones (ublk FETCH, polls)
// included. The CQ is sized from ring_options::max_in_flight; past it the kernel keeps extra CQEs
// in its overflow list (IORING_FEAT_NODROP), and a CQE it could not keep is a thrown
// errc::completions_lost, never a silent hang.
#pragma once

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <coroutine>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include <liburing.h>

#include <uringcmd/completion.hpp>
#include <uringcmd/detail/multishot_table.hpp>
#include <uringcmd/detail/op_queue.hpp>
#include <uringcmd/detail/remote_queue.hpp>
#include <uringcmd/detail/spawn_list.hpp>
#include <uringcmd/error.hpp>
#include <uringcmd/operation.hpp>
#include <uringcmd/result.hpp>
#include <uringcmd/ring.hpp>
#include <uringcmd/ring_options.hpp>
#include <uringcmd/task.hpp>

namespace uringcmd {

namespace detail {
inline constinit thread_local executor* current_executor = nullptr;
}  // namespace detail

/// Counters for benchmarks and diagnostics.
struct executor_stats {
  std::uint64_t started = 0;          ///< ops given SQEs
  std::uint64_t completed = 0;        ///< CQEs reaped (all kinds)
  std::uint64_t enters = 0;           ///< submit/wait calls that entered the kernel
  std::uint64_t sq_full_flushes = 0;  ///< early submits because the SQ ring was full
  std::uint64_t remote_received = 0;  ///< nodes other threads handed to this executor
  std::uint64_t doorbells_sent = 0;   ///< MSG_RING doorbells this executor sent to others
  std::uint64_t idle_polls = 0;       ///< idle turns that polled before sleeping (idle_spin_us)
  std::uint64_t polls_found_work = 0; ///< ... and found work without sleeping
  std::uint64_t idle_sleeps = 0;      ///< turns that entered the kernel to wait for a completion
};

class executor {
 public:
  /// Sets up the ring (see ring). Throws std::system_error. The ring is enabled, and bound to a
  /// thread, by the first run_once; until then any thread may spawn, post or register.
  explicit executor(const ring_options& opts = {}) : opts_((detail::frame_pool::prepare_thread(), opts)), ring_(opts) {
    big_cqe_ = ring_.big_cqe();
    arm_wakeup();
  }
  executor(const executor&) = delete;
  executor& operator=(const executor&) = delete;

  /// Cancels what the kernel can cancel, waits for every in-flight op's CQE (commands the kernel
  /// cannot cancel, such as SCSI/NVMe passthrough, until their own timeout), lets coroutines
  /// unwind, then destroys frames still suspended on something other than I/O. On a thread that
  /// does not own the ring nothing can be waited for: frames with I/O in flight are kept, never
  /// freed, and a line on stderr says so.
  ~executor() { shutdown(); }

  /// The executor running on this thread (inside run/run_once), or nullptr.
  static executor* current() noexcept { return detail::current_executor; }

  uringcmd::ring& ring() noexcept { return ring_; }
  io_uring& native_handle() noexcept { return ring_.native(); }
  const ring_options& options() const noexcept { return opts_; }
  std::uint32_t setup_flags() const noexcept { return ring_.flags(); }
  std::uint32_t features() const noexcept { return ring_.features(); }
  bool big_sqe() const noexcept { return ring_.big_sqe(); }
  bool big_cqe() const noexcept { return big_cqe_; }
  unsigned cq_capacity() const noexcept { return ring_.cq_entries(); }
  /// SQEs handed to the kernel whose last CQE has not arrived yet (internal ones included).
  unsigned in_flight() const noexcept { return in_flight_; }
  executor_stats stats() const noexcept {
    executor_stats s = stats_;
    s.enters = ring_.enters();
    s.sq_full_flushes = ring_.sq_full_flushes();
    return s;
  }
  bool stopping() const noexcept { return stopping_; }
  /// Coroutines queued to resume on the next turn (yield, spawn, an op refused at start): a loop
  /// that drives run_once(false) from elsewhere (an Asio io_context) turns again while this holds.
  bool has_ready() const noexcept { return !ready_.empty(); }

  // ---- submission (executor thread, from a coroutine it runs) ----

  /// Gives `op` its SQE(s), filled by op.prepare. A stopping executor refuses it.
  void start(op_base& op) noexcept {
    op.generation = ++generation_;
    op.outstanding = op.link_timeout ? 2 : 1;
    if (stopping_) [[unlikely]] return refuse(op, errc::executor_stopping);
    io_uring_sqe* sqe = sqe_for(op.outstanding);
    if (!sqe) [[unlikely]] return fail_now(op, ring_.submit_error());
    op.prepare(op, *sqe);
    sqe->user_data = detail::encode(op);
    if (op.link_timeout) {
      sqe->flags |= IOSQE_IO_LINK;
      io_uring_sqe* t = io_uring_get_sqe(&ring_.native());  // sqe_for(2) left room for it
      io_uring_prep_link_timeout(t, const_cast<__kernel_timespec*>(op.link_timeout), 0);
      t->user_data = detail::encode(op) | detail::timer_tag;
    }
    in_flight_ += op.outstanding;
    ++stats_.started;
  }

  /// start() for the common case, with the SQE filled by `fill(sqe)` inline (no indirect call
  /// through op.prepare); a linked timeout or a stopping executor take the general path.
  // always_inline: g++ 12 emits it out of line for uring_cmd (+20 Ir per op in call overhead).
  template <class Fill>
  [[gnu::always_inline]] void start_inline(op_base& op, op_base::prepare_fn prepare, Fill&& fill) noexcept {
    if (op.link_timeout || stopping_) [[unlikely]] {
      op.prepare = prepare;
      return start(op);
    }
    op.generation = ++generation_;
    op.outstanding = 1;
    io_uring_sqe* sqe = sqe_for(1);
    if (!sqe) [[unlikely]] return fail_now(op, ring_.submit_error());
    fill(*sqe);
    sqe->user_data = detail::encode(op);
    ++in_flight_;
    ++stats_.started;
  }

  /// Queues `op` to be resumed by the run loop without any SQE (yield, spawn, hand-offs).
  void schedule(op_base& op) noexcept { ready_.push(op); }

  /// Best-effort IORING_OP_ASYNC_CANCEL of the request identified by `user_data`.
  /// Safe from any thread; from other threads it is posted (one allocation).
  void cancel(std::uint64_t user_data) {
    if (current() != this) {
      post([this, user_data] { cancel(user_data); });
      return;
    }
    submit_internal([&](io_uring_sqe& sqe) { io_uring_prep_cancel64(&sqe, user_data, 0); });
  }

  // ---- other threads ----

  /// Runs `fn` on the executor thread. Thread-safe; allocates, so keep it off the I/O hot path.
  /// An exception from `fn` is rethrown from run_once after the rest of the batch has run.
  void post(std::function<void()> fn) {
    struct posted : detail::remote_node {
      std::function<void()> fn;
    };
    auto* node = new posted{{}, std::move(fn)};
    node->run = [](detail::remote_node& n, executor&) {
      std::unique_ptr<posted> owned(static_cast<posted*>(&n));
      owned->fn();
    };
    node->discard = [](detail::remote_node& n) noexcept { delete static_cast<posted*>(&n); };
    schedule_remote(*node);
  }

  /// Hands `node` to this executor from any thread without allocating: node.run(node, *this)
  /// runs on the executor's thread. The node must live until then.
  void schedule_remote(detail::remote_node& node) noexcept {
    if (!remote_.push(node)) return;  // not the first: the doorbell is already on its way
    executor* sender = current();
    const int target = remote_.msg_ring_target();
    if (sender && sender != this && target >= 0 && sender->ring_.has_msg_ring() && !sender->stopping_) {
      if (sender->send_doorbell(target, remote_)) return;
    }
    remote_.ring_eventfd();
  }

  // ---- detached work ----

  /// Starts `t` on this executor (from its thread, or before it runs). The executor owns it: run()
  /// returns once every spawned task has finished, the first exception one of them let escape is
  /// rethrown from run(), and frames alive at destruction are drained and destroyed (never leaked).
  void spawn(task<void> t) {
    auto s = detail::run_spawned(spawned_, std::move(t));
    auto& p = s.h.promise();
    p.start_node.waiter = s.h;
    schedule(p.start_node);
  }
  std::size_t spawned() const noexcept { return spawned_.size(); }
  /// The first exception a spawned task let escape, cleared (run() rethrows it instead).
  std::exception_ptr take_spawned_error() noexcept { return spawned_.take_error(); }

  // ---- running ----

  /// Runs until no spawned task, in-flight op or ready coroutine is left.
  void run() {
    run_until([this] { return spawned_.size() == 0 && user_work() == 0 && ready_.empty(); });
  }

  /// Runs until `done()` is true (checked after every turn).
  template <class Pred>
  void run_until(Pred done) {
    while (!done()) {
      run_once(true);
      if (auto e = spawned_.take_error()) std::rethrow_exception(e);
    }
  }

  /// One turn of the loop: submit, (optionally) wait for one completion, reap, resume. The first
  /// thread to call it owns the ring; another thread gets errc::not_owner_thread.
  void run_once(bool block) {
    ring_.adopt();
    if (!msg_ring_open_ && opts_.msg_ring_doorbell && ring_.has_msg_ring() && !stopping_) {
      remote_.accept_msg_ring(ring_.fd());
      msg_ring_open_ = true;
    }
    const running_scope scope(this);
    const bool wait = block && ready_.empty();
    if (wait && opts_.idle_spin_us) enter_after_spin();
    else {
      stats_.idle_sleeps += wait;
      if (const int rc = ring_.enter(wait); rc < 0) [[unlikely]] check_enter(rc);
    }
    reap_and_resume();
    if (remote_fired_) run_remote();
    resume_ready();
    if (remote_error_) std::rethrow_exception(std::exchange(remote_error_, nullptr));
  }

  // ---- registration (forwarded to the ring) ----

  result<void> register_buffers(std::span<const iovec> bufs) { return ring_.register_buffers(bufs); }
  result<void> unregister_buffers() { return ring_.unregister_buffers(); }
  result<void> register_files(std::span<const int> fds) { return ring_.register_files(fds); }
  result<void> unregister_files() { return ring_.unregister_files(); }

  // ---- multishot (see multishot.hpp) ----

  /// Arms a multishot request for `owner`: returns its user_data, or 0 with `refused` set.
  template <class Fill>
  std::uint64_t arm_multishot(void* owner, detail::multishot_table::deliver_fn deliver, Fill&& fill,
                              errc& refused) noexcept {
    if (stopping_) [[unlikely]] {
      refused = errc::executor_stopping;
      return 0;
    }
    const std::uint64_t ud = multishot_.acquire(owner, deliver);
    if (!ud) [[unlikely]] {
      refused = errc::no_memory;
      return 0;
    }
    io_uring_sqe* sqe = sqe_for(1);
    if (!sqe) [[unlikely]] {
      multishot_.release(ud);
      refused = errc::submission_refused;
      return 0;
    }
    fill(*sqe);
    sqe->user_data = ud;
    ++in_flight_;
    ++stats_.started;
    return ud;
  }
  /// The consumer of an armed multishot request is going away: its CQEs are dropped from now on
  /// and the request is cancelled.
  void detach_multishot(std::uint64_t ud) noexcept {
    multishot_.detach(ud);
    submit_internal([&](io_uring_sqe& sqe) { io_uring_prep_cancel64(&sqe, ud, 0); });
  }

 private:
  struct running_scope {
    executor* previous;
    explicit running_scope(executor* e) noexcept : previous(std::exchange(detail::current_executor, e)) {}
    ~running_scope() { detail::current_executor = previous; }
    running_scope(const running_scope&) = delete;
    running_scope& operator=(const running_scope&) = delete;
  };

  static inline std::uint64_t wake_sink_ = 0;  // eventfd reads land here; the value is never used

  unsigned user_work() const noexcept { return in_flight_ - (wake_armed_ ? 1 : 0); }

  // A blocking turn with ring_options::idle_spin_us: submit and take what is there; when nothing is,
  // poll, then enter once more to run the task work the poll saw, or to sleep. Polling goes on
  // while it finds work, stops after a poll that ran out and a sleep that made the whole gap longer
  // than idle_spin_max_us (work that comes that late is not worth burning CPU for), and resumes
  // after a sleep shorter than that. With idle_spin_max_us above idle_spin_us the poll's length
  // follows the gaps: it grows to cover the last gap that a poll missed (plus a quarter) when that
  // gap brought a single completion, and shrinks towards twice the wait of polls that found work.
  // A turn that does not poll submits and waits in one io_uring_enter, as a turn without
  // idle_spin_us does.
  void enter_after_spin() {
    using clock = std::chrono::steady_clock;
    using us = std::chrono::microseconds;
    const unsigned least = opts_.idle_spin_us, most = std::max(least, opts_.idle_spin_max_us);
    unsigned polled = 0;
    if (poll_next_) {
      if (const int rc = ring_.enter(false); rc < 0) [[unlikely]] check_enter(rc);
      if (ring_.cq_ready()) return;
      ++stats_.idle_polls;
      const auto from = clock::now();
      if (ring_.spin_for_work(from + us(spin_us_))) {
        ++stats_.polls_found_work;
        if (most > least) {
          const auto waited = static_cast<unsigned>(std::chrono::duration_cast<us>(clock::now() - from).count());
          spin_us_ = std::min(most, std::max({least, 2 * waited, spin_us_ - spin_us_ / 8}));
        }
        if (const int rc = ring_.enter(false); rc < 0) [[unlikely]] check_enter(rc);
        return;
      }
      polled = spin_us_;
    }
    ++stats_.idle_sleeps;
    const auto slept_from = clock::now();
    if (const int rc = ring_.enter(true); rc < 0) [[unlikely]] check_enter(rc);
    const auto slept = static_cast<std::uint64_t>(std::chrono::duration_cast<us>(clock::now() - slept_from).count());
    // Only a gap that brought one completion is worth a longer poll: a sleep that gathered
    // several paid one wake-up for all of them (ublk at depth 32: a poll grown to the gaps took
    // each request alone, 92k against 107k IOPS with the fixed poll in the same boot).
    const std::uint64_t gap = polled + slept;
    const bool grow = gap < most && ring_.cq_count() <= 1;
    poll_next_ = slept < least || grow;
    spin_us_ = grow ? static_cast<unsigned>(std::clamp<std::uint64_t>(gap + gap / 4, least, most)) : least;
  }

  void check_enter(int rc) {
    if (rc == -EINTR || rc == -EAGAIN || rc == -EBUSY || rc == -ETIME) return;
    if (rc == -EBADR) throw system_error(make_error_code(errc::completions_lost), "io_uring_enter");
    throw system_error(errno_code(-rc), "io_uring_enter");
  }

  void fail_now(op_base& op, int res) noexcept {
    op.cqe = completion{};
    op.cqe.res = res;
    op.outstanding = 0;
    ready_.push(op);
  }
  void refuse(op_base& op, errc e) noexcept {
    op.refused = e;
    fail_now(op, 0);
  }

  io_uring_sqe* sqe_for(unsigned n) noexcept {
    return ring_.sqes(n, [this]() noexcept { reap(); });
  }

  template <class Fill>
  void submit_internal(Fill&& fill) noexcept {
    if (io_uring_sqe* sqe = sqe_for(1)) {
      fill(*sqe);
      sqe->user_data = detail::ud_internal;
      ++in_flight_;
    }
  }

  bool send_doorbell(int target_fd, detail::remote_queue& target) noexcept {
    io_uring_sqe* sqe = sqe_for(1);
    if (!sqe) return false;
    io_uring_prep_msg_ring(sqe, target_fd, 0, detail::ud_doorbell, 0);
    sqe->user_data = reinterpret_cast<std::uintptr_t>(&target) | detail::doorbell_sent_tag;
    ++in_flight_;
    ++stats_.doorbells_sent;
    return true;
  }

  // Copies every available CQE into its op; the ops become ready but nothing is resumed (used
  // where a coroutine is mid-suspension: a full SQ in sqe_for).
  void reap() noexcept {
    const unsigned n = ring_.for_each_cqe([this](const io_uring_cqe& c) noexcept { return dispatch(c); },
                                          [this](op_base* op) noexcept {
                                            if (op) ready_.push(*op);
                                          });
    in_flight_ -= n;
    stats_.completed += n;
  }

  // run_once's reap: each CQE is copied into its op and the CQ head moves past it before the op's
  // coroutine is resumed right here, without a trip through ready_.
  void reap_and_resume() {
    ring_.for_each_cqe([this](const io_uring_cqe& c) noexcept { return dispatch(c); },
                       [this](op_base* op) {
                         --in_flight_;
                         ++stats_.completed;
                         if (op) op->waiter.resume();
                       });
  }

  // Copies a CQE into its op; returns the op if this was its last CQE (it may resume now).
  op_base* dispatch(const io_uring_cqe& c) noexcept {
    const std::uint64_t ud = c.user_data;
    if ((ud & detail::tag_mask) != 0 || ud < detail::reserved_limit) [[unlikely]]
      return dispatch_special(c);
    auto* op = reinterpret_cast<op_base*>(ud & detail::pointer_mask);
    op->cqe = completion::from(c, big_cqe_);
    return --op->outstanding == 0 ? op : nullptr;
  }

  inline op_base* dispatch_special(const io_uring_cqe& c) noexcept;

  void run_remote() {
    remote_fired_ = false;
    if (!wake_armed_ && !stopping_) arm_wakeup();
    detail::remote_node* n = remote_.take_all();
    while (n) {
      detail::remote_node* next = n->next;  // run() may free n
      ++stats_.remote_received;
      try {
        n->run(*n, *this);
      } catch (...) {
        if (!remote_error_) remote_error_ = std::current_exception();
      }
      n = next;
    }
  }

  void resume_ready() {
    // Only what is ready now: a coroutine that keeps yielding must not starve the ring.
    detail::op_queue batch = ready_.take();
    while (op_base* op = batch.pop()) op->waiter.resume();
  }

  void arm_wakeup() noexcept {
    io_uring_sqe* sqe = sqe_for(1);
    if (!sqe) return;
    io_uring_prep_read(sqe, remote_.event_fd(), &wake_sink_, sizeof wake_sink_, 0);
    sqe->user_data = detail::ud_wakeup;
    ++in_flight_;
    wake_armed_ = true;
  }

  inline void shutdown() noexcept;

  // Work handed over that will never run here: posted functions are freed, not called.
  void discard_remote() noexcept {
    for (detail::remote_node* n = remote_.take_all(); n;) {
      detail::remote_node* next = n->next;
      if (n->discard) n->discard(*n);
      n = next;
    }
  }

  ring_options opts_;
  bool poll_next_ = true;  // idle_spin_us: whether the next idle turn polls (enter_after_spin)
  unsigned spin_us_ = opts_.idle_spin_us;  // ... and for how long
  uringcmd::ring ring_;
  unsigned in_flight_ = 0;
  bool big_cqe_ = false;
  bool stopping_ = false;
  bool wake_armed_ = false;
  bool remote_fired_ = false;
  bool msg_ring_open_ = false;
  std::uint16_t generation_ = 0;
  detail::op_queue ready_;
  executor_stats stats_;
  detail::remote_queue remote_;
  std::exception_ptr remote_error_;
  detail::spawn_list spawned_;
  detail::multishot_table multishot_;
};

// A CQE that is not a plain op's: internal requests, doorbells, linked timeouts, multishot.
op_base* executor::dispatch_special(const io_uring_cqe& c) noexcept {
  const std::uint64_t ud = c.user_data;
  switch (ud & detail::tag_mask) {
    case detail::timer_tag: {
      auto* op = reinterpret_cast<op_base*>(ud & detail::pointer_mask & ~detail::tag_mask);
      op->timeout_res = c.res;
      return --op->outstanding == 0 ? op : nullptr;
    }
    case detail::multishot_tag:
      if (c.flags & IORING_CQE_F_MORE) ++in_flight_;  // not its last CQE: the request stays in flight
      return multishot_.deliver(c, big_cqe_);
    case detail::doorbell_sent_tag:
      // MSG_RING failed (the target stopped taking them): ring its eventfd instead, never lose it.
      if (c.res < 0)
        detail::remote_queue::ring_eventfd_if_alive(
            reinterpret_cast<const detail::remote_queue*>(ud & detail::pointer_mask & ~detail::tag_mask));
      return nullptr;
    default:
      break;
  }
  if (ud == detail::ud_wakeup) {
    wake_armed_ = false;
    remote_fired_ = true;
  } else if (ud == detail::ud_doorbell) {
    ++in_flight_;  // posted by another ring: this ring never counted an SQE for it
    remote_fired_ = true;
  }
  return nullptr;
}

void executor::shutdown() noexcept {
  stopping_ = true;
  remote_.accept_msg_ring(-1);
  if (!ring_.adopted()) {  // never ran: the kernel has seen no SQE, so every frame can go
    discard_remote();
    spawned_.destroy_all();
    return;
  }
  if (!ring_.on_owner_thread()) {
    if (user_work() > 0) {
      std::fprintf(stderr,
                   "uringcmd: executor destroyed on a thread that does not own its ring with %u operation(s) in "
                   "flight; their coroutine frames are kept, never freed, because the kernel may still write "
                   "into them\n",
                   user_work());
      spawned_.orphan_all();
    } else {
      spawned_.destroy_all();
    }
    discard_remote();
    return;
  }
  if (user_work() > 0) {
    // ANY matches every request (5.19+). Older kernels answer -EINVAL and we simply wait.
    submit_internal([](io_uring_sqe& sqe) { io_uring_prep_cancel64(&sqe, 0, IORING_ASYNC_CANCEL_ANY); });
  }
  if (wake_armed_)
    submit_internal([](io_uring_sqe& sqe) { io_uring_prep_cancel64(&sqe, detail::ud_wakeup, 0); });
  // Let coroutines see their cancelled results and unwind; new ops are refused with
  // errc::executor_stopping. The bound stops a coroutine that ignores errors and retries forever.
  constexpr int max_turns = 100000;
  for (int turn = 0; (in_flight_ > 0 || !ready_.empty() || remote_fired_) && turn < max_turns; ++turn) {
    try {
      run_once(in_flight_ > 0);
    } catch (...) {
    }
  }
  // The bound was hit: still never free memory the kernel may write. Those coroutines are not
  // resumed again; their frames are destroyed below, after their last CQE.
  while (in_flight_ > 0) {
    const int rc = ring_.enter(true);
    if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY && rc != -ETIME) break;
    // Only a request's last CQE ends it; a doorbell another ring posted was never counted.
    ring_.for_each_cqe([](const io_uring_cqe& c) noexcept {
      return !(c.flags & IORING_CQE_F_MORE) && c.user_data != detail::ud_doorbell;
    }, [this](bool last) noexcept { in_flight_ -= last; });
  }
  discard_remote();  // posted after the loop had stopped listening
  spawned_.destroy_all();
}

}  // namespace uringcmd
