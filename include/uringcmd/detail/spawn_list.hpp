// SPDX-License-Identifier: MIT
// spawn_list: the detached tasks an executor owns. A spawned frame links itself in when created and
// out when it finishes. The list is locked because a task that moved to another core (runtime
// hand-offs) finishes, and unlinks, on that core's thread; a spawn costs two uncontended locks.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstddef>
#include <exception>
#include <mutex>
#include <utility>
#include <vector>

#include <uringcmd/detail/frame_pool.hpp>
#include <uringcmd/operation.hpp>
#include <uringcmd/task.hpp>

namespace uringcmd::detail {

class spawn_list;

/// The frame that owns a spawned task.
struct spawned_promise : pooled_frame {
  spawn_list* list;
  spawned_promise* prev = nullptr;
  spawned_promise* next = nullptr;
  op_base start_node;  // queued on the executor's ready list to start the task

  inline spawned_promise(spawn_list& l, task<void>&) noexcept;
  inline ~spawned_promise();

  struct handle {
    std::coroutine_handle<spawned_promise> h;
  };
  handle get_return_object() noexcept { return {std::coroutine_handle<spawned_promise>::from_promise(*this)}; }
  std::suspend_always initial_suspend() const noexcept { return {}; }
  std::suspend_never final_suspend() const noexcept { return {}; }
  void return_void() noexcept {}
  inline void unhandled_exception() noexcept;
};

class spawn_list {
 public:
  /// Spawned tasks still alive (any thread may read it). Atomic, so that the run loop's
  /// per-turn "anything left?" check takes no lock (a lock pair cost +100 Ir per turn at NOP depth 1).
  std::size_t size() const noexcept { return count_.load(std::memory_order_acquire); }
  /// The first exception a spawned task let escape, cleared.
  std::exception_ptr take_error() noexcept {
    if (!has_error_.load(std::memory_order_acquire)) return nullptr;
    std::lock_guard lock(mutex_);
    has_error_.store(false, std::memory_order_relaxed);
    return std::exchange(error_, nullptr);
  }

  /// Destroys every frame still linked (suspended on something other than I/O).
  void destroy_all() noexcept {
    while (spawned_promise* p = front()) std::coroutine_handle<spawned_promise>::from_promise(*p).destroy();
  }

  /// Unlinks every frame without destroying it: for frames the kernel may still write into, which
  /// must never be freed. They stay reachable from a process-wide list (no leak report).
  void orphan_all() noexcept {
    std::lock_guard lock(mutex_);
    static std::mutex orphan_mutex;
    static auto* orphans = new std::vector<void*>;  // never destroyed: reachable to the very end
    std::lock_guard olock(orphan_mutex);
    for (spawned_promise* p = head_; p; p = p->next) {
      p->list = nullptr;
      try {
        orphans->push_back(std::coroutine_handle<spawned_promise>::from_promise(*p).address());
      } catch (...) {  // out of memory: the frame stays unfreed all the same
      }
    }
    head_ = nullptr;
    count_.store(0, std::memory_order_release);
  }

 private:
  friend struct spawned_promise;
  spawned_promise* front() const noexcept {
    std::lock_guard lock(mutex_);
    return head_;
  }
  void link(spawned_promise& p) noexcept {
    std::lock_guard lock(mutex_);
    p.next = head_;
    if (head_) head_->prev = &p;
    head_ = &p;
    count_.fetch_add(1, std::memory_order_relaxed);
  }
  void unlink(spawned_promise& p) noexcept {
    std::lock_guard lock(mutex_);
    if (p.prev) p.prev->next = p.next;
    else head_ = p.next;
    if (p.next) p.next->prev = p.prev;
    count_.fetch_sub(1, std::memory_order_release);
  }
  void set_error(std::exception_ptr e) noexcept {
    std::lock_guard lock(mutex_);
    if (!error_) error_ = std::move(e);
    has_error_.store(true, std::memory_order_release);
  }

  mutable std::mutex mutex_;
  spawned_promise* head_ = nullptr;
  std::atomic<std::size_t> count_{0};
  std::atomic<bool> has_error_{false};
  std::exception_ptr error_;
};

spawned_promise::spawned_promise(spawn_list& l, task<void>&) noexcept : list(&l) { l.link(*this); }
spawned_promise::~spawned_promise() {
  if (list) list->unlink(*this);
}
void spawned_promise::unhandled_exception() noexcept {
  if (list) list->set_error(std::current_exception());
}

}  // namespace uringcmd::detail

template <class... Args>
struct std::coroutine_traits<uringcmd::detail::spawned_promise::handle, Args...> {
  using promise_type = uringcmd::detail::spawned_promise;
};

namespace uringcmd::detail {
/// The spawned frame: awaits the task, so the task's own frame and result live inside it.
inline spawned_promise::handle run_spawned(spawn_list&, task<void> t) { co_await std::move(t); }
}  // namespace uringcmd::detail
