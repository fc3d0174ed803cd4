// SPDX-License-Identifier: MIT
// runtime_core: one core of a runtime (runtime.hpp has the design): its gate, which orders
// hand-offs against stop; its stop and drain signals; the frames of the tasks that started on it.
// Also the runtime-wide count of live tasks (runtime_tasks) and the frame that owns each task.
#pragma once

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <uringcmd/detail/frame_pool.hpp>
#include <uringcmd/detail/remote_queue.hpp>
#include <uringcmd/error.hpp>
#include <uringcmd/executor.hpp>
#include <uringcmd/operation.hpp>
#include <uringcmd/task.hpp>

namespace uringcmd {
class runtime;
}

namespace uringcmd::detail {

/// The CPU of each core (runtime_options: cpus, cores, pin); -1 for an unpinned core.
inline std::vector<int> plan_cpus(const std::vector<int>& cpus, std::size_t cores, bool pin) {
  std::vector<int> plan = cpus;
  if (!plan.empty()) {
    if (cores && cores != plan.size()) throw std::invalid_argument("runtime_options: cores != cpus.size()");
  } else {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (::sched_getaffinity(0, sizeof set, &set) != 0) throw system_error(errno_code(errno), "sched_getaffinity");
    for (int i = 0; i < CPU_SETSIZE; ++i)
      if (CPU_ISSET(i, &set)) plan.push_back(i);
    const std::size_t n = cores ? cores : plan.size();
    if (pin && n > plan.size())
      throw std::invalid_argument("runtime_options: " + std::to_string(n) + " pinned cores, " +
                                  std::to_string(plan.size()) + " CPUs in the affinity mask: list cpus or pin = false");
    plan.resize(n, -1);
  }
  if (!pin) std::fill(plan.begin(), plan.end(), -1);
  return plan;
}

/// Pins the calling thread to `cpu` (none if negative); a failure is a system_error naming the CPU.
inline void pin_this_thread(int cpu) {
  if (cpu < 0) return;
  const std::string what = "runtime: pthread_setaffinity_np(CPU " + std::to_string(cpu) + ")";
  if (cpu >= CPU_SETSIZE) throw system_error(errno_code(EINVAL), what);
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (int rc = ::pthread_setaffinity_np(::pthread_self(), sizeof set, &set)) throw system_error(errno_code(rc), what);
}

/// What a core counts on its own thread (runtime::stats() adds its executor's).
struct core_counters {
  std::uint64_t tasks_started = 0;
  std::uint64_t tasks_finished = 0;
  std::uint64_t hops_in = 0;
  std::uint64_t hops_out = 0;
};

/// The tasks spawned through one runtime, counted across cores because they migrate.
class runtime_tasks {
 public:
  void added() noexcept { live_.fetch_add(1, std::memory_order_relaxed); }
  void finished() {
    if (live_.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    std::lock_guard lock(mutex_);  // a waiter between its check and its sleep must not miss this
    cv_.notify_all();
  }
  /// Keeps the first failure; none once stopping (unwinding is no error).
  void failed(std::exception_ptr e) {
    {
      std::lock_guard lock(mutex_);
      if (!error_ && !stopping_.load(std::memory_order_relaxed)) error_ = std::move(e);
    }
    cv_.notify_all();
  }
  /// Until no task is left or one failed: that failure is rethrown, once.
  void wait() {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return live_.load(std::memory_order_acquire) == 0 || error_; });
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
  }
  void stop() noexcept { stopping_.store(true, std::memory_order_release); }
  bool stopping() const noexcept { return stopping_.load(std::memory_order_acquire); }

 private:
  std::atomic<std::size_t> live_{0};
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::condition_variable cv_;
  std::exception_ptr error_;
};

struct runtime_promise;

/// A pending on(): lives in the awaiter, queued in the target's remote queue.
struct hop_node : remote_node {
  std::size_t target = 0;
  op_base resume_op;  // waiter: the coroutine; scheduled where it is when the target refuses it
  bool refused = false;
};

struct runtime_core {
  struct signal_node : remote_node {
    bool* flag = nullptr;
  };
  runtime* owner = nullptr;
  runtime_tasks* tasks = nullptr;
  std::size_t index = 0;
  int cpu = -1;
  std::thread thread;
  std::exception_ptr setup_error;
  executor* ex = nullptr;              // set before the gate opens; unused once it is closed
  std::atomic<std::uint32_t> gate{1};  // bit 0: closed; plus 2 per push in progress
  std::atomic<bool> stop_sent{false};
  // The core's thread only:
  signal_node stop_node, drain_marker;
  bool stop_requested = false, drained = false;
  core_counters counters;
  // Shared:
  std::mutex started_mutex;
  runtime_promise* started = nullptr;  // frames that started here and are still alive
  std::mutex stats_mutex;              // one uncontended lock per loop turn
  core_counters published;
  executor_stats published_executor;
  std::uint64_t publishes = 0;         // under stats_mutex: how many times the above was updated
  std::condition_variable published_cv;
  // While runtime_options::loop turns the executor, the runtime's loop publishes nothing:
  // runtime::stats() hands this node to the core to publish from inside the executor's turn.
  struct publish_node : remote_node {
    runtime_core* core = nullptr;
  } publish_request;
  std::atomic<bool> in_user_loop{false};
  std::atomic<bool> publish_queued{false};

  /// Hands `n` to the executor unless the gate is closed. A push that finds it open completes
  /// before close_gate() returns.
  bool push(remote_node& n) noexcept {
    if (gate.fetch_add(2, std::memory_order_acquire) & 1) {
      gate.fetch_sub(2, std::memory_order_relaxed);
      return false;
    }
    ex->schedule_remote(n);  // from here on `n` may already have run, and be gone
    gate.fetch_sub(2, std::memory_order_release);
    return true;
  }
  void open_gate() noexcept { gate.fetch_and(~1U, std::memory_order_release); }
  void close_gate() noexcept {
    gate.fetch_or(1, std::memory_order_acq_rel);
    while (gate.load(std::memory_order_acquire) != 1) std::this_thread::yield();  // pushes are short
  }
};

/// The core (of some runtime) this thread runs.
inline constinit thread_local runtime_core* current_core = nullptr;

/// The frame that owns one spawn_on task; it is itself the remote node that starts it.
struct runtime_promise : pooled_frame, remote_node {
  runtime_tasks* tasks;
  runtime_core* home = nullptr;  // where it started: that core's list holds it
  runtime_promise *prev_started = nullptr, *next_started = nullptr;

  runtime_promise(runtime_tasks& t, task<void>&) noexcept : tasks(&t) {
    t.added();
    run = &start;
  }
  ~runtime_promise() {
    if (runtime_core* c = current_core; c && c->tasks == tasks) ++c->counters.tasks_finished;
    if (home) {
      std::lock_guard lock(home->started_mutex);
      (prev_started ? prev_started->next_started : home->started) = next_started;
      if (next_started) next_started->prev_started = prev_started;
    }
    tasks->finished();
  }
  struct handle {
    using promise_type = runtime_promise;
    std::coroutine_handle<runtime_promise> h;
  };
  handle get_return_object() noexcept { return {std::coroutine_handle<runtime_promise>::from_promise(*this)}; }
  std::suspend_always initial_suspend() const noexcept { return {}; }
  std::suspend_never final_suspend() const noexcept { return {}; }
  void return_void() noexcept {}
  void unhandled_exception() noexcept { tasks->failed(std::current_exception()); }

  // Runs on the target core, inside its loop: link the frame there, then start it.
  static void start(remote_node& n, executor&) {
    auto& p = static_cast<runtime_promise&>(n);
    runtime_core& c = *current_core;
    p.home = &c;
    {
      std::lock_guard lock(c.started_mutex);
      p.next_started = std::exchange(c.started, &p);
      if (p.next_started) p.next_started->prev_started = &p;
    }
    ++c.counters.tasks_started;
    std::coroutine_handle<runtime_promise>::from_promise(p).resume();
  }
};

// The failure is published only once this thread holds no reference to it (the task's frame is
// gone): the last release, which frees the exception, then happens after the waiter's reads.
// (libstdc++'s exception_ptr count is invisible to ThreadSanitizer, which would report a race.)
inline runtime_promise::handle run_on_core(runtime_tasks& tasks, task<void> t) {
  std::exception_ptr error;
  try {
    co_await std::move(t);
  } catch (...) {
    error = std::current_exception();
  }
  t = {};
  if (error) tasks.failed(std::move(error));
}

}  // namespace uringcmd::detail
