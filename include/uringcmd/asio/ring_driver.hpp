// SPDX-License-Identifier: MIT
// ring_driver: an executor's ring driven by an asio::io_context, so that one thread runs both
// loops. Asio's own io_uring backend cannot carry uring_cmd (no SQE128/CQE32, no res2); here the
// io_context only watches an eventfd registered with the ring (io_uring_register_eventfd) through
// its reactor, and runs a non-blocking executor turn (run_once(false)) when it fires. Nothing
// busy-polls: an idle thread sleeps in Asio's epoll_wait.
//
// Why an eventfd and not the ring fd: with DEFER_TASKRUN (the executor's default) a completion is
// queued as task work for the ring's thread, and polling the ring fd does not wake for that; the
// registered eventfd is signalled for it. Asio registers descriptors edge-triggered and an eventfd
// wakes epoll on every signal, so the counter is never read. While a pass turns, the eventfd is
// switched off (IORING_CQ_EVENTFD_DISABLED, a store to the CQ ring): a busy ring does not pay a
// signal per CQE; it is switched on again, with one more turn, before the pass goes idle. A pass
// re-arms the wait only once the
// CQ is empty, nothing sits unsubmitted in the SQ and no coroutine is queued to resume; otherwise
// it posts itself again (a signal that Asio's reactor saw while no wait was armed is covered by
// that next pass, whose io_uring_enter runs the work it announced).
//
// On a ring built with IORING_SETUP_TASKRUN_FLAG, that last turn runs only when the kernel's
// IORING_SQ_TASKRUN flag says task work waits. after_turn() hooks work in after every turn.
//
// The wait is armed only while tasks run on the executor (executor::spawned() > 0), so
// io_context::run() returns once the last one has finished, as it does for Asio's own work.
// Single thread: the io_context is run by one thread, which becomes the ring's owner; build the
// driver on that thread or before the executor first runs (SINGLE_ISSUER rings refuse
// registration from other threads).
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>

#include <atomic>
#include <functional>
#include <memory>
#include <system_error>
#include <utility>

#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/post.hpp>

#include <uringcmd/error.hpp>
#include <uringcmd/executor.hpp>
#include <uringcmd/task.hpp>

namespace uringcmd::asio {

class ring_driver {
 public:
  /// Watches `ex`'s ring from `io`. Both must outlive the driver; the driver must outlive every
  /// task started through it. Throws std::system_error if the ring fd cannot be watched.
  ring_driver(::asio::io_context& io, executor& ex) : state_(std::make_shared<state>(io, ex)) {
    const int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0) throw system_error(errno_code(errno), "eventfd");
    state_->signal.assign(fd);  // owns it from here
    if (const int r = io_uring_register_eventfd(&ex.native_handle(), fd); r < 0)
      throw system_error(errno_code(-r), "io_uring_register_eventfd");
  }
  ring_driver(const ring_driver&) = delete;
  ring_driver& operator=(const ring_driver&) = delete;
  ~ring_driver() {
    state_->stopped = true;
    io_uring_unregister_eventfd(&state_->ex.native_handle());
    std::error_code ignored;
    state_->signal.close(ignored);  // a pending wait completes with operation_aborted and sees `stopped`
  }

  ::asio::io_context& context() noexcept { return state_->io; }
  executor& exec() noexcept { return state_->ex; }
  ::asio::io_context::executor_type get_executor() noexcept { return state_->io.get_executor(); }

  /// Runs `t` on the executor, driven by the io_context (exceptions: see executor::spawn).
  void spawn(task<void> t) {
    state_->ex.spawn(std::move(t));
    kick();
  }

  /// Schedules an executor turn: call it after starting work on the executor from outside its
  /// loop (spawn does). Cheap when a turn is already scheduled.
  void kick() { schedule(state_); }

  /// Runs `f` on the io_context's thread after every executor turn, before any other handler:
  /// for work the turn's completions left that is cheapest done once per batch and soonest,
  /// e.g. sending the replies they produced in one sendmsg without a trip through the io_context
  /// (uringcmd-nbd). Replaces the previous one; empty: none.
  void after_turn(std::function<void()> f) { state_->after_turn = std::move(f); }

  /// Executor turns the io_context has run (diagnostics, benchmarks).
  std::uint64_t passes() const noexcept { return state_->passes; }

 private:
  struct state {
    state(::asio::io_context& i, executor& e) : io(i), ex(e), signal(i) {}
    ::asio::io_context& io;
    executor& ex;
    ::asio::posix::stream_descriptor signal;  // the eventfd registered with the ring
    bool stopped = false;
    bool pass_posted = false;
    bool waiting = false;
    std::uint64_t passes = 0;
    std::function<void()> after_turn;
  };

  // Turns run back to back while they find work, up to this many, before other Asio handlers get
  // the thread: amortizes the post over a burst without starving the rest of the io_context.
  static constexpr int turns_per_pass = 16;

  static void schedule(const std::shared_ptr<state>& s) {
    if (s->pass_posted || s->stopped) return;
    s->pass_posted = true;
    ::asio::post(s->io, [s] { pass(s); });
  }

  static bool work_pending(executor& ex) noexcept {
    io_uring& r = ex.native_handle();
    return io_uring_sq_ready(&r) > 0 || io_uring_cq_ready(&r) > 0 || ex.has_ready();
  }

  // The kernel sets IORING_SQ_TASKRUN (with TASKRUN_FLAG) when it queues task work on an empty
  // list and clears it before running the list: read after the eventfd is on again, a clear flag
  // means any later work signals the eventfd. Without the flag nobody says: assume there is.
  static bool task_work_may_wait(io_uring& r) noexcept {
    if (!(r.flags & IORING_SETUP_TASKRUN_FLAG)) return true;
    std::atomic_thread_fence(std::memory_order_seq_cst);  // the eventfd store before the flag load
    return (IO_URING_READ_ONCE(*r.sq.kflags) & IORING_SQ_TASKRUN) != 0;
  }

  static void turn(state& s) {
    s.ex.run_once(false);
    if (auto e = s.ex.take_spawned_error()) std::rethrow_exception(e);  // out of io_context::run()
    if (s.after_turn) s.after_turn();
  }

  static void pass(const std::shared_ptr<state>& s) {
    s->pass_posted = false;
    if (s->stopped) return;
    executor& ex = s->ex;
    io_uring& r = ex.native_handle();
    ++s->passes;
    // While turning, nobody needs the eventfd: keep the kernel from signalling it per CQE.
    io_uring_cq_eventfd_toggle(&r, false);
    int turns = 0;
    do {
      turn(*s);
    } while (++turns < turns_per_pass && work_pending(ex));
    if (work_pending(ex)) return schedule(s);
    // Signals were off: completions queued as task work meanwhile announced nothing (and later
    // ones will not either while that work waits). One more turn runs it after switching them on;
    // a ring built with IORING_SETUP_TASKRUN_FLAG says whether there is any (a system call less
    // per pass).
    io_uring_cq_eventfd_toggle(&r, true);
    if (task_work_may_wait(r)) {
      turn(*s);
      if (work_pending(ex)) return schedule(s);
    }
    if (ex.spawned() == 0 || s->waiting) return;  // idle: let io_context::run() return
    s->waiting = true;
    s->signal.async_wait(::asio::posix::stream_descriptor::wait_read, [s](const std::error_code&) {
      s->waiting = false;
      if (!s->stopped) schedule(s);
    });
  }

  std::shared_ptr<state> state_;
};

}  // namespace uringcmd::asio
