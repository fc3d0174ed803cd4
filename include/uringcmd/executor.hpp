// SPDX-License-Identifier: MIT
// executor: one io_uring owned by one thread. It turns submissions into resumptions:
// awaiters start ops, the run loop submits in batches, copies each CQE into its op and resumes
// the waiting coroutines after the CQ head has moved.
#pragma once

#include <sys/eventfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <liburing.h>

#include <uringcmd/completion.hpp>
#include <uringcmd/config.hpp>
#include <uringcmd/error.hpp>
#include <uringcmd/operation.hpp>
#include <uringcmd/result.hpp>
#include <uringcmd/ring_options.hpp>
#include <uringcmd/task.hpp>

namespace uringcmd {

namespace detail {

/// FIFO of ops threaded through op_base::next; never allocates.
class op_queue {
 public:
  bool empty() const noexcept { return head_ == nullptr; }
  void push(op_base& op) noexcept {
    op.next = nullptr;
    if (tail_) tail_->next = &op;
    else head_ = &op;
    tail_ = &op;
  }
  op_base* pop() noexcept {
    op_base* op = head_;
    if (op) {
      head_ = op->next;
      if (!head_) tail_ = nullptr;
    }
    return op;
  }
  op_base* front() const noexcept { return head_; }
  /// Moves everything out, leaving this queue empty.
  op_queue take() noexcept { return std::exchange(*this, op_queue{}); }

 private:
  op_base* head_ = nullptr;
  op_base* tail_ = nullptr;
};

struct spawned_promise;

inline constinit thread_local executor* current_executor = nullptr;

}  // namespace detail

/// Counters for benchmarks and diagnostics.
struct executor_stats {
  std::uint64_t started = 0;         ///< ops given SQEs
  std::uint64_t completed = 0;       ///< CQEs reaped (all kinds)
  std::uint64_t enters = 0;          ///< submit/wait calls that entered the kernel
  std::uint64_t deferred = 0;        ///< ops that waited for CQ room before getting an SQE
  std::uint64_t sq_full_flushes = 0; ///< early submits because the SQ ring was full
};

class executor {
 public:
  /// Sets up the ring. Throws std::system_error naming the flags the kernel refused.
  explicit executor(const ring_options& opts = {}) : opts_(opts) {
    io_uring_params p{};
    p.flags = opts.setup_flags();
    p.cq_entries = opts.cq_entries;
    if (int r = io_uring_queue_init_params(opts.entries, &ring_, &p); r < 0)
      throw std::system_error(errno_code(-r), "io_uring_setup(entries=" + std::to_string(opts.entries) +
                                                  ", flags=" + setup_flag_names(p.flags) + "): " +
                                                  describe(errno_code(-r)));
    flags_ = p.flags;
    features_ = p.features;
    cq_capacity_ = p.cq_entries;
    admit_limit_ = cq_capacity_;
    big_cqe_ = flags_ & IORING_SETUP_CQE32;
    previous_ = std::exchange(detail::current_executor, this);
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd_ < 0) {
      int e = errno;
      io_uring_queue_exit(&ring_);
      detail::current_executor = previous_;
      throw std::system_error(errno_code(e), "eventfd");
    }
    arm_wakeup();
  }

  executor(const executor&) = delete;
  executor& operator=(const executor&) = delete;

  /// Cancels what the kernel can cancel, waits for every in-flight op's CQE (commands the kernel
  /// cannot cancel, such as SCSI/NVMe passthrough, are waited for until their own timeout), lets
  /// coroutines unwind, then destroys frames still suspended on something other than I/O.
  ~executor() {
    shutdown();
    io_uring_queue_exit(&ring_);
    ::close(wake_fd_);
    if (detail::current_executor == this) detail::current_executor = previous_;
  }

  /// The executor running on this thread, or nullptr.
  static executor* current() noexcept { return detail::current_executor; }

  io_uring& native_handle() noexcept { return ring_; }
  const ring_options& options() const noexcept { return opts_; }
  std::uint32_t setup_flags() const noexcept { return flags_; }
  std::uint32_t features() const noexcept { return features_; }
  bool big_sqe() const noexcept { return flags_ & IORING_SETUP_SQE128; }
  bool big_cqe() const noexcept { return big_cqe_; }
  unsigned cq_capacity() const noexcept { return cq_capacity_; }
  /// SQEs handed to the kernel whose CQE has not arrived yet (internal ones included).
  unsigned in_flight() const noexcept { return in_flight_; }
  const executor_stats& stats() const noexcept { return stats_; }
  bool stopping() const noexcept { return stopping_; }

  // ---- submission (executor thread only) ----

  /// Gives `op` its SQE now even when the CQ is full or older ops wait for room: for cancellation
  /// requests, which must not queue behind the very ops they are meant to cancel. One extra CQE
  /// beyond the CQ size is kept by the kernel (IORING_FEAT_NODROP), never lost.
  void start_urgent(op_base& op) noexcept {
    op.generation = ++generation_;
    op.outstanding = 1;
    op.link_timeout = nullptr;
    if (stopping_) [[unlikely]] {
      fail_now(op, -ECANCELED);
      return;
    }
    issue(op);
  }

  /// Gives `op` its SQE(s) now, or queues it until the CQ has room for its completions
  /// (keeping in-flight work within the CQ size means no completion is ever dropped or parked).
  void start(op_base& op) noexcept {
    op.generation = ++generation_;
    op.outstanding = op.link_timeout ? 2 : 1;
    op.timeout_res = 0;
    if (stopping_) [[unlikely]] {
      fail_now(op, -ECANCELED);
      return;
    }
    if (!pending_.empty() || in_flight_ + op.outstanding > cq_capacity_) [[unlikely]] {
      ++stats_.deferred;
      pending_.push(op);
      update_admission();
      return;
    }
    issue(op);
  }

  /// start() for the common case, with the SQE filled by `fill(sqe)` inline (no indirect call
  /// through op.prepare); a stopping executor, a linked timeout, a backlog or a full CQ take the
  /// general path.
  template <class Fill>
  void start_inline(op_base& op, op_base::prepare_fn prepare, Fill&& fill) noexcept {
    // One compare covers "stopping", "a backlog to keep in order" and "CQ full" (admission()).
    if (op.link_timeout || in_flight_ >= admit_limit_) [[unlikely]] {
      op.prepare = prepare;
      start(op);
      return;
    }
    op.generation = ++generation_;
    op.outstanding = 1;
    io_uring_sqe* sqe = sqe_for(1);
    fill(*sqe);
    sqe->user_data = detail::encode(op);
    ++in_flight_;
    ++stats_.started;
  }

  /// Queues `op` to be resumed by the run loop without any SQE (used by yield and spawn).
  void schedule(op_base& op) noexcept { ready_.push(op); }

  /// Best-effort IORING_OP_ASYNC_CANCEL of the op identified by `user_data` (see detail::encode).
  /// Safe from any thread: from other threads the request is posted to this executor.
  void cancel(std::uint64_t user_data) {
    if (current() != this) {
      post([this, user_data] { cancel(user_data); });
      return;
    }
    if (cancel_pending(user_data)) return;
    io_uring_sqe* sqe = sqe_for(1);
    io_uring_prep_cancel64(sqe, user_data, 0);
    sqe->user_data = detail::ud_internal;
    ++in_flight_;
  }

  /// Runs `fn` on the executor thread. Thread-safe; allocates, so keep it off the I/O hot path.
  void post(std::function<void()> fn) {
    {
      std::lock_guard lock(post_mutex_);
      posted_.push_back(std::move(fn));
    }
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
  }

  // ---- detached work ----

  /// Starts `t` on this executor. The executor owns it: run() returns once every spawned task has
  /// finished, the first exception one of them let escape is rethrown from run(), and frames still
  /// alive at destruction are drained and destroyed (never leaked).
  inline void spawn(task<void> t);
  std::size_t spawned() const noexcept { return spawned_count_; }
  /// The first exception a spawned task let escape, cleared (run() rethrows it instead).
  std::exception_ptr take_spawned_error() noexcept { return std::exchange(spawned_error_, nullptr); }

  // ---- running ----

  /// Runs until no spawned task, in-flight op or ready coroutine is left.
  void run() {
    run_until([this] { return spawned_count_ == 0 && user_work() == 0 && ready_.empty() && pending_.empty(); });
  }

  /// Runs until `done()` is true (checked after every batch of resumptions).
  template <class Pred>
  void run_until(Pred done) {
    while (!done()) {
      run_once(true);
      rethrow_spawned();
    }
  }

  /// One turn of the loop: submit, (optionally) wait for one completion, reap, resume.
  void run_once(bool block) {
    promote_pending();
    const bool wait = block && ready_.empty();
    int r = wait ? io_uring_submit_and_wait(&ring_, 1) : io_uring_submit_and_get_events(&ring_);
    ++stats_.enters;
    if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY && r != -ETIME) [[unlikely]]
      throw std::system_error(errno_code(-r), "io_uring_enter: " + describe(errno_code(-r)));
    reap_and_resume();
    resume_ready();
  }

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
  friend struct detail::spawned_promise;

  static result<void> check(int r) {
    if (r < 0) return fail_errno(r);
    return {};
  }

  unsigned user_work() const noexcept { return in_flight_ - (wake_armed_ ? 1 : 0); }

  // An op still waiting for CQ room has no SQE for the kernel to cancel: take it out here.
  bool cancel_pending(std::uint64_t user_data) noexcept {
    detail::op_queue keep;
    bool found = false;
    while (op_base* op = pending_.pop()) {
      if (!found && detail::encode(*op) == user_data) {
        found = true;
        fail_now(*op, -ECANCELED);
      } else {
        keep.push(*op);
      }
    }
    pending_ = keep;
    update_admission();
    return found;
  }

  void update_admission() noexcept { admit_limit_ = (stopping_ || !pending_.empty()) ? 0 : cq_capacity_; }

  void fail_now(op_base& op, int res) noexcept {
    op.cqe = completion{};
    op.cqe.res = res;
    op.outstanding = 0;
    ready_.push(op);
  }

  // Returns n consecutive free SQEs, flushing the SQ to the kernel first when it is too full:
  // a linked pair must not be split across two submits.
  io_uring_sqe* sqe_for(unsigned n) noexcept {
    // Hot path: io_uring_get_sqe already checks for room; sq_space_left would read khead twice.
    if (n == 1) [[likely]] {
      if (io_uring_sqe* sqe = io_uring_get_sqe(&ring_)) [[likely]] return sqe;
    }
    return sqe_for_slow(n);
  }
  [[gnu::noinline]] io_uring_sqe* sqe_for_slow(unsigned n) noexcept {
    if (io_uring_sq_space_left(&ring_) < n) {
      ++stats_.sq_full_flushes;
      while (io_uring_sq_space_left(&ring_) < n) {
        int r = io_uring_submit(&ring_);
        ++stats_.enters;
        if (r == -EAGAIN || r == -EBUSY) reap();
      }
    }
    return io_uring_get_sqe(&ring_);
  }

  void issue(op_base& op) noexcept {
    io_uring_sqe* sqe = sqe_for(op.outstanding);
    op.prepare(op, *sqe);
    sqe->user_data = detail::encode(op);
    if (op.link_timeout) {
      sqe->flags |= IOSQE_IO_LINK;
      io_uring_sqe* t = io_uring_get_sqe(&ring_);
      io_uring_prep_link_timeout(t, const_cast<__kernel_timespec*>(op.link_timeout), 0);
      t->user_data = detail::encode(op) | detail::timer_tag;
    }
    in_flight_ += op.outstanding;
    ++stats_.started;
  }

  void promote_pending() noexcept {
    while (op_base* op = pending_.front()) {
      if (in_flight_ + op->outstanding > cq_capacity_) return;
      pending_.pop();
      issue(*op);
    }
    update_admission();
  }

  // Copies every available CQE into its op and advances the CQ once; the ops become ready but
  // nothing is resumed (used where a coroutine is mid-suspension: a full SQ in sqe_for).
  void reap() noexcept {
    unsigned head;
    unsigned seen = 0;
    io_uring_cqe* c;
    io_uring_for_each_cqe(&ring_, head, c) {
      ++seen;
      if (op_base* op = dispatch(*c)) ready_.push(*op);
    }
    if (seen) {
      io_uring_cq_advance(&ring_, seen);
      in_flight_ -= seen;
      stats_.completed += seen;
    }
    // Outside the CQE loop: posted work may submit, and submitting may have to reap.
    if (wakeup_fired_) on_wakeup();
  }

  // run_once's reap: each CQE is copied into its op and the CQ head moves past it before the op's
  // coroutine is resumed right here, without a trip through ready_. khead is re-read every time
  // because a resumed coroutine may itself have reaped (sqe_for -> reap).
  void reap_and_resume() {
    io_uring_cq& cq = ring_.cq;
    const unsigned shift = big_cqe_ ? 1 : 0;
    for (;;) {
      const unsigned head = *cq.khead;
      if (head == io_uring_smp_load_acquire(cq.ktail)) break;
      op_base* done = dispatch(cq.cqes[(head & cq.ring_mask) << shift]);
      io_uring_smp_store_release(cq.khead, head + 1);
      --in_flight_;
      ++stats_.completed;
      if (done) done->waiter.resume();
    }
    if (wakeup_fired_) on_wakeup();
  }

  // Copies a CQE into its op; returns the op if this was its last CQE (it may resume now).
  op_base* dispatch(const io_uring_cqe& c) noexcept {
    const std::uint64_t ud = c.user_data & detail::pointer_mask;
    if (ud < detail::reserved_limit) [[unlikely]] {
      if (ud == detail::ud_wakeup) wakeup_fired_ = true;
      return nullptr;
    }
    if (ud & detail::timer_tag) [[unlikely]] {
      auto* op = reinterpret_cast<op_base*>(ud & ~detail::timer_tag);
      op->timeout_res = c.res;
      return --op->outstanding == 0 ? op : nullptr;
    }
    auto* op = reinterpret_cast<op_base*>(ud);
    op->cqe = completion::from(c, big_cqe_);
    return --op->outstanding == 0 ? op : nullptr;
  }

  void resume_ready() {
    // Only what is ready now: a coroutine that keeps yielding must not starve the ring.
    detail::op_queue batch = ready_.take();
    while (op_base* op = batch.pop()) op->waiter.resume();
  }

  void arm_wakeup() noexcept {
    io_uring_sqe* sqe = sqe_for(1);
    io_uring_prep_read(sqe, wake_fd_, &wake_buf_, sizeof wake_buf_, 0);
    sqe->user_data = detail::ud_wakeup;
    ++in_flight_;
    wake_armed_ = true;
  }

  void on_wakeup() {
    wakeup_fired_ = false;
    wake_armed_ = false;
    std::vector<std::function<void()>> fns;
    {
      std::lock_guard lock(post_mutex_);
      fns.swap(posted_);
    }
    if (!stopping_) arm_wakeup();
    for (auto& fn : fns) fn();
  }

  void rethrow_spawned() {
    if (spawned_error_) std::rethrow_exception(std::exchange(spawned_error_, nullptr));
  }

  inline void shutdown() noexcept;

  io_uring ring_{};
  ring_options opts_;
  std::uint32_t flags_ = 0;
  std::uint32_t features_ = 0;
  unsigned cq_capacity_ = 0;
  unsigned in_flight_ = 0;
  bool big_cqe_ = false;
  bool stopping_ = false;
  /// start_inline's fast path is open while in_flight_ < admit_limit_: the CQ size, or 0 while
  /// stopping or while older ops wait in pending_.
  unsigned admit_limit_ = 0;
  bool wake_armed_ = false;
  bool wakeup_fired_ = false;
  std::uint16_t generation_ = 0;
  detail::op_queue pending_;
  detail::op_queue ready_;
  executor_stats stats_;
  executor* previous_ = nullptr;

  int wake_fd_ = -1;
  std::uint64_t wake_buf_ = 0;
  std::mutex post_mutex_;
  std::vector<std::function<void()>> posted_;

  detail::spawned_promise* spawned_head_ = nullptr;
  std::size_t spawned_count_ = 0;
  std::exception_ptr spawned_error_;
};

namespace detail {

/// The frame that owns a spawned task: linked into its executor until it finishes or is destroyed.
struct spawned_promise : pooled_frame {
  executor* ex;
  spawned_promise* prev = nullptr;
  spawned_promise* next = nullptr;
  op_base start_node;

  explicit spawned_promise(executor& e, task<void>&) noexcept : ex(&e) {
    next = e.spawned_head_;
    if (next) next->prev = this;
    e.spawned_head_ = this;
    ++e.spawned_count_;
  }
  ~spawned_promise() {
    if (prev) prev->next = next;
    else ex->spawned_head_ = next;
    if (next) next->prev = prev;
    --ex->spawned_count_;
  }
  struct spawned_task {
    std::coroutine_handle<spawned_promise> h;
  };
  spawned_task get_return_object() noexcept {
    return {std::coroutine_handle<spawned_promise>::from_promise(*this)};
  }
  std::suspend_always initial_suspend() const noexcept { return {}; }
  std::suspend_never final_suspend() const noexcept { return {}; }
  void return_void() noexcept {}
  void unhandled_exception() noexcept {
    if (!ex->spawned_error_) ex->spawned_error_ = std::current_exception();
  }
};

}  // namespace detail
}  // namespace uringcmd

template <class... Args>
struct std::coroutine_traits<uringcmd::detail::spawned_promise::spawned_task, Args...> {
  using promise_type = uringcmd::detail::spawned_promise;
};

namespace uringcmd {
namespace detail {
inline spawned_promise::spawned_task run_spawned(executor&, task<void> t) { co_await std::move(t); }
}  // namespace detail

void executor::spawn(task<void> t) {
  auto s = detail::run_spawned(*this, std::move(t));
  auto& p = s.h.promise();
  p.start_node.waiter = s.h;
  schedule(p.start_node);
}

void executor::shutdown() noexcept {
  stopping_ = true;
  admit_limit_ = 0;
  // Ops still waiting for CQ room have no SQE yet: fail them here. Left queued, promote_pending
  // would issue them after the cancel-all below, and they would never complete.
  while (op_base* op = pending_.pop()) fail_now(*op, -ECANCELED);
  if (user_work() > 0) {
    // ANY matches every request (5.19+). Older kernels answer -EINVAL and we simply wait.
    io_uring_sqe* sqe = sqe_for(1);
    io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
    sqe->user_data = detail::ud_internal;
    ++in_flight_;
  }
  if (wake_armed_) {
    io_uring_sqe* sqe = sqe_for(1);
    io_uring_prep_cancel64(sqe, detail::ud_wakeup, 0);
    sqe->user_data = detail::ud_internal;
    ++in_flight_;
  }
  // Let coroutines see their cancelled results and unwind; new ops fail at once with ECANCELED.
  // The bound stops a coroutine that ignores errors and retries forever.
  constexpr int max_turns = 100000;
  for (int turn = 0; (in_flight_ > 0 || !ready_.empty()) && turn < max_turns; ++turn) {
    try {
      run_once(in_flight_ > 0);
    } catch (...) {
    }
  }
  while (in_flight_ > 0) {  // the bound was hit: still never free memory the kernel may write
    io_uring_submit_and_wait(&ring_, 1);
    unsigned head, seen = 0;
    io_uring_cqe* c;
    io_uring_for_each_cqe(&ring_, head, c) ++seen;
    io_uring_cq_advance(&ring_, seen);
    in_flight_ -= seen;
  }
  while (spawned_head_)
    std::coroutine_handle<detail::spawned_promise>::from_promise(*spawned_head_).destroy();
}

/// Awaitable that reschedules the current coroutine behind everything already ready.
struct yield_op : op_base {
  yield_op() noexcept {}
  bool await_ready() const noexcept { return executor::current() == nullptr; }
  void await_suspend(std::coroutine_handle<> h) noexcept {
    waiter = h;
    executor::current()->schedule(*this);
  }
  void await_resume() const noexcept {}
};
[[nodiscard("co_await it")]] inline yield_op yield() noexcept { return {}; }

}  // namespace uringcmd
