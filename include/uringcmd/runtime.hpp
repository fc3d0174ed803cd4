// SPDX-License-Identifier: MIT
// runtime: thread-per-core. Each core is one thread, pinned to one CPU, that builds and runs its
// own executor, so the ring is adopted (SINGLE_ISSUER-bound) there. Work crosses cores only through
// the executors' remote queues: spawn_on(core, task) starts a task on a core, co_await on(core)
// moves the awaiting coroutine there; neither allocates beyond the task's frame.
//
// The runtime, not an executor, owns the tasks it spawns, because a task may finish on another
// core than it started on: it counts them across cores (wait()) and keeps each started frame on
// its start core's list, so that frames still suspended at stop() are destroyed, never leaked.
//
// A hop is pushed straight from the awaiter: the target may resume the coroutine before this
// thread has left await_suspend, which therefore touches nothing in the frame after the push
// (task starts and when_all latches are written for that too: see task.hpp, when_all.hpp).
//
// Stop, per core: (1) close the core's gate, so no hand-off reaches it any more (one that tries is
// refused: spawn_on and on() throw errc::executor_stopping), (2) run everything handed over before
// that, (3) destroy the executor on its own thread, which cancels in-flight I/O and lets coroutines
// unwind. Once every thread is joined, the frames still suspended (on no I/O) are destroyed.
#pragma once

#include <pthread.h>

#include <chrono>
#include <condition_variable>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <uringcmd/detail/runtime_core.hpp>
#include <uringcmd/error.hpp>
#include <uringcmd/executor.hpp>
#include <uringcmd/ring_options.hpp>
#include <uringcmd/task.hpp>

namespace uringcmd {

struct runtime_options {
  /// One core per entry, pinned to that CPU (repeats allowed; -1: that core is not pinned).
  /// Empty: see `cores`.
  std::vector<int> cpus;
  /// With `cpus` empty: that many cores on the first CPUs of this process's affinity mask; 0 = one
  /// per CPU in the mask. More cores than CPUs needs pin = false or an explicit `cpus`.
  std::size_t cores = 0;
  ring_options ring;  ///< every core's ring
  bool pin = true;    ///< pin each core's thread to its CPU; a failure is an error
  /// Names core i's thread thread_name + i (ps, /proc/PID/task/*/comm; the kernel keeps 15
  /// characters). Empty: the threads keep the name they inherit.
  std::string thread_name;
  /// Runs on each core's thread once every core is set up, before the core's own loop: for an
  /// event loop that drives the executor itself (an asio::io_context through
  /// uringcmd::asio::ring_driver, which must then be built here, on the ring's thread). The core
  /// takes hand-offs only while it turns the executor, and its own loop takes over when this
  /// returns: return once the loop's work is done, or stop() waits for it. An exception escaping
  /// it is reported like a spawned task's (wait()). While it runs, stats() asks the core for its
  /// counters through a hand-off, which the core answers at its next turn of the executor.
  std::function<void(std::size_t core, executor& ex)> loop;
};

/// One core's counters, as of its last loop turn.
struct core_stats {
  executor_stats executor;
  std::uint64_t tasks_started = 0;   ///< spawn_on tasks that started here
  std::uint64_t tasks_finished = 0;  ///< runtime tasks that finished here, wherever they started
  std::uint64_t hops_in = 0;         ///< coroutines that arrived here through on()
  std::uint64_t hops_out = 0;        ///< coroutines that left here through on()
};

class runtime {
 public:
  /// Starts every core; returns once all run. Throws the first core's setup error (pinning: a
  /// std::system_error naming the CPU; the ring: see executor) after stopping the others.
  explicit runtime(const runtime_options& opts = {}) {
    const std::vector<int> cpus = detail::plan_cpus(opts.cpus, opts.cores, opts.pin);
    size_ = cpus.size();
    cores_ = std::make_unique<detail::runtime_core[]>(size_);
    std::size_t launched = 0;
    std::exception_ptr error;
    try {
      for (; launched < size_; ++launched) {
        detail::runtime_core& c = cores_[launched];
        c.owner = this;
        c.tasks = &tasks_;
        c.index = launched;
        c.cpu = cpus[launched];
        c.thread = std::thread([this, &c, ring = opts.ring, loop = opts.loop, name = opts.thread_name] {
          if (!name.empty()) name_this_thread(name + std::to_string(c.index));
          core_main(c, ring, loop);
        });
      }
    } catch (...) {
      error = std::current_exception();
    }
    std::unique_lock lock(setup_mutex_);
    setup_cv_.wait(lock, [&] { return setup_done_ == launched; });
    lock.unlock();
    for (std::size_t i = 0; i < launched && !error; ++i) error = cores_[i].setup_error;
    {
      std::lock_guard launch(setup_mutex_);
      launch_ = error ? -1 : 1;
    }
    setup_cv_.notify_all();  // the cores' `loop`s start (or not) only now
    if (error) {
      stop();
      std::rethrow_exception(error);
    }
  }
  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;
  ~runtime() { stop(); }

  std::size_t size() const noexcept { return size_; }
  /// The CPU `core` is pinned to, or -1 when unpinned.
  int cpu(std::size_t core) const { return at(core).cpu; }
  /// The core this thread runs, if it is one of this runtime's.
  std::optional<std::size_t> current_core() const noexcept {
    const detail::runtime_core* c = detail::current_core;
    if (c && c->owner == this) return c->index;
    return std::nullopt;
  }

  /// Starts `t` on `core`. Thread-safe, from anywhere. Throws std::out_of_range, or
  /// errc::executor_stopping once stop has begun (`t` is then destroyed unstarted).
  void spawn_on(std::size_t core, task<void> t) {
    detail::runtime_core& c = at(core);
    if (tasks_.stopping()) throw stopping("runtime::spawn_on");
    auto h = detail::run_on_core(tasks_, std::move(t)).h;
    if (!c.push(h.promise())) {
      h.destroy();  // never started, never linked
      throw stopping("runtime::spawn_on");
    }
  }

  /// co_await on(core): the awaiting coroutine continues on `core` (at once if already there).
  /// Only from one of this runtime's cores (else std::logic_error). Allocation-free: the queue
  /// node lives in the awaiter. When `core` no longer takes hand-offs (stop), it throws
  /// errc::executor_stopping and the coroutine continues where it was.
  [[nodiscard("co_await it")]] auto on(std::size_t core) {
    struct hop : detail::hop_node {
      runtime* rt = nullptr;
      bool await_ready() const noexcept { return rt->current_core() == target; }
      bool await_suspend(std::coroutine_handle<> h) noexcept {
        resume_op.waiter = h;
        run = [](detail::remote_node& n, executor&) {  // on the target core, inside its loop
          ++detail::current_core->counters.hops_in;
          static_cast<hop&>(n).resume_op.waiter.resume();
        };
        detail::runtime_core& here = *detail::current_core;
        if (!rt->cores_[target].push(*this)) {
          refused = true;
          return false;  // continue here; await_resume throws
        }
        ++here.counters.hops_out;  // not `this`: the coroutine may be running on the target already
        return true;
      }
      void await_resume() const {
        if (refused) throw stopping("runtime::on(" + std::to_string(target) + ")");
      }
    };
    at(core);
    if (!current_core()) throw std::logic_error("runtime::on(): co_await it on one of the runtime's cores");
    hop a;
    a.target = core;
    a.rt = this;
    return a;
  }

  /// Blocks until every task spawned through the runtime has finished, or one let an exception
  /// escape: that first exception is rethrown (once; the others keep running). Not from a core.
  void wait() {
    not_on_core("wait");
    tasks_.wait();
  }

  /// Asks every core to stop (see the top of this file), without waiting. Any thread.
  void request_stop() noexcept {
    tasks_.stop();
    for (std::size_t i = 0; i < size_; ++i)
      if (!cores_[i].stop_sent.exchange(true)) cores_[i].push(cores_[i].stop_node);  // refused: stopping
  }
  /// request_stop(), then joins every core and destroys the frames still suspended. Not from a core.
  void stop() {
    not_on_core("stop");
    std::lock_guard once(stop_mutex_);
    request_stop();
    for (std::size_t i = 0; i < size_; ++i)
      if (cores_[i].thread.joinable()) cores_[i].thread.join();
    for (std::size_t i = 0; i < size_; ++i)  // no executor is left to resume them
      while (detail::runtime_promise* p = cores_[i].started)
        std::coroutine_handle<detail::runtime_promise>::from_promise(*p).destroy();
  }

  /// Every core's counters; safe from any thread. Each core publishes a copy every turn of its
  /// own loop; a core inside runtime_options::loop is asked for one and waited for (up to 100 ms:
  /// a loop that does not turn its executor that long leaves the last copy published). Called on
  /// a core, that wait holds the core up: ask from another thread.
  std::vector<core_stats> stats() const {
    for (std::size_t i = 0; i < size_; ++i)
      if (cores_[i].in_user_loop.load(std::memory_order_acquire)) refresh(cores_[i]);
    std::vector<core_stats> out(size_);
    for (std::size_t i = 0; i < size_; ++i) {
      std::lock_guard lock(cores_[i].stats_mutex);
      const detail::core_counters& n = cores_[i].published;
      out[i] = {cores_[i].published_executor, n.tasks_started, n.tasks_finished, n.hops_in, n.hops_out};
    }
    return out;
  }

 private:
  detail::runtime_core& at(std::size_t core) const {
    if (core >= size_) throw std::out_of_range("runtime: no core " + std::to_string(core));
    return cores_[core];
  }
  void not_on_core(const char* fn) const {
    if (current_core()) throw std::logic_error(std::string("runtime::") + fn + "() on its own core would deadlock");
  }
  static void name_this_thread(const std::string& name) noexcept {
    (void)::pthread_setname_np(::pthread_self(), name.substr(0, 15).c_str());  // longer: ERANGE
  }
  static std::system_error stopping(const std::string& what) {
    return system_error(make_error_code(errc::executor_stopping), what);
  }

  static void publish(detail::runtime_core& c, executor& ex) {
    {
      std::lock_guard lock(c.stats_mutex);
      c.published = c.counters;
      c.published_executor = ex.stats();
      ++c.publishes;
    }
    c.published_cv.notify_all();
  }
  /// Has core `c`, which runs its user loop, publish its counters, and waits for that.
  void refresh(detail::runtime_core& c) const {
    if (detail::current_core == &c) return publish(c, *c.ex);  // on that core: this thread's executor
    std::unique_lock lock(c.stats_mutex);
    const std::uint64_t seen = c.publishes;
    lock.unlock();
    if (!c.publish_queued.exchange(true, std::memory_order_acq_rel) && !c.push(c.publish_request)) {
      c.publish_queued.store(false, std::memory_order_release);
      return;  // stopping: the last copy stands
    }
    lock.lock();
    c.published_cv.wait_for(lock, std::chrono::milliseconds(100), [&] { return c.publishes != seen; });
  }

  void core_main(detail::runtime_core& c, const ring_options& ring,
                 const std::function<void(std::size_t, executor&)>& loop) {
    detail::current_core = &c;
    c.stop_node.flag = &c.stop_requested;
    c.drain_marker.flag = &c.drained;
    c.stop_node.run = c.drain_marker.run = [](detail::remote_node& n, executor&) {
      *static_cast<detail::runtime_core::signal_node&>(n).flag = true;
    };
    c.publish_request.core = &c;
    c.publish_request.run = [](detail::remote_node& n, executor& ex) {
      detail::runtime_core& core = *static_cast<detail::runtime_core::publish_node&>(n).core;
      core.publish_queued.store(false, std::memory_order_release);  // a later stats() asks again
      publish(core, ex);
    };
    std::optional<executor> ex;
    try {
      detail::pin_this_thread(c.cpu);
      ex.emplace(ring);     // here: its memory is first touched on this core's CPU
      ex->run_once(false);  // adopts the ring here; its errors surface in the constructor
      c.ex = &*ex;
      c.open_gate();
    } catch (...) {
      c.setup_error = std::current_exception();
    }
    {
      std::lock_guard lock(setup_mutex_);
      ++setup_done_;
    }
    setup_cv_.notify_all();
    if (!c.setup_error) {
      if (loop) {
        std::unique_lock lock(setup_mutex_);
        setup_cv_.wait(lock, [&] { return launch_ != 0; });
        const bool go = launch_ > 0;
        lock.unlock();
        // Reported after the catch block: the thread that wait() rethrows on must hold the
        // exception's last reference, not this one (TSan saw this thread free it mid-read).
        std::exception_ptr failure;
        c.in_user_loop.store(true, std::memory_order_release);
        try {
          if (go) loop(c.index, *ex);
        } catch (...) {
          failure = std::current_exception();
        }
        c.in_user_loop.store(false, std::memory_order_release);
        if (failure) tasks_.failed(std::move(failure));
      }
      while (!c.stop_requested) turn(c, *ex);
      c.close_gate();
      ex->schedule_remote(c.drain_marker);  // FIFO: behind every hand-off that got through the gate
      while (!c.drained) turn(c, *ex);
    }
    ex.reset();  // cancels in-flight I/O and unwinds, on the ring's own thread
    detail::current_core = nullptr;
  }

  void turn(detail::runtime_core& c, executor& ex) {
    std::exception_ptr error;
    try {
      ex.run_once(true);
    } catch (...) {
      error = std::current_exception();
    }
    if (error) tasks_.failed(std::move(error));  // out of the handler: see run_on_core
    publish(c, ex);  // notify_all without waiters returns without a system call
  }

  detail::runtime_tasks tasks_;  // declared first: destroyed after every core has stopped
  std::unique_ptr<detail::runtime_core[]> cores_;
  std::size_t size_ = 0;
  std::mutex setup_mutex_;
  std::condition_variable setup_cv_;
  std::size_t setup_done_ = 0;
  int launch_ = 0;  ///< for `loop`: 0 until every core is set up, then 1 (run it) or -1 (a core failed)
  std::mutex stop_mutex_;
};

}  // namespace uringcmd
