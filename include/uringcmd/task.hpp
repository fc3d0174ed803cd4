// SPDX-License-Identifier: MIT
// task<T>: a lazy coroutine. It starts when awaited. A task that finishes before it first suspends
// hands control back to its awaiter's await_suspend, which continues without resuming anything, so
// long chains of synchronously completing awaits cannot overflow the stack. (Symmetric transfer
// alone does not guarantee that with g++ 12: its tail call is only emitted at -O2 without
// sanitizers, and a million such awaits overflow an 8 MiB stack at -O0/-O1 or under ASan.)
// A task that finishes later resumes its awaiter by symmetric transfer.
#pragma once

#include <coroutine>
#include <exception>
#include <memory>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include <uringcmd/detail/frame_pool.hpp>

namespace uringcmd {

template <class T = void>
class task;

namespace detail {

/// Marks, on the starting thread's stack, a task being started by its awaiter's await_suspend.
/// final_suspend finds it only when the task finishes inside that very resume() call; a task that
/// suspended and finishes later, on this thread or on another core after a hop, does not, and
/// resumes its awaiter itself. Nothing here lives in the frame, which after resume() may already
/// be running, or gone, on another thread.
struct start_marker {
  const void* promise;
  start_marker* outer;
  bool finished_inline = false;
};
inline constinit thread_local start_marker* innermost_start = nullptr;

struct task_promise_base : pooled_frame {
  std::coroutine_handle<> continuation = std::noop_coroutine();
  /// The result has been handed out: a second await would see a moved-from value.
  bool taken = false;

  void mark_taken() {
    if (taken) throw std::logic_error("uringcmd: a task's result was awaited twice");
    taken = true;
  }

  struct final_awaiter {
    bool await_ready() const noexcept { return false; }
    template <class P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
      auto& p = h.promise();
      if (start_marker* m = innermost_start; m && m->promise == &p) {
        m->finished_inline = true;  // return into the awaiter's await_suspend, which continues
        return std::noop_coroutine();
      }
      return p.continuation;
    }
    void await_resume() const noexcept {}
  };
  std::suspend_always initial_suspend() const noexcept { return {}; }
  final_awaiter final_suspend() const noexcept { return {}; }
};

// The result in a union with a state byte rather than a std::variant, whose emplace and get check
// and switch on its index: the ublk null target went from 446 to 429 Ir per I/O
// (benchmarks/ublk/callgrind).
template <class T>
struct task_promise final : task_promise_base {
  task_promise() noexcept {}
  task_promise(const task_promise&) = delete;
  task_promise& operator=(const task_promise&) = delete;
  ~task_promise() {
    if (state == holds::value) value.~T();
    else if (state == holds::error) error.~exception_ptr();
  }

  task<T> get_return_object() noexcept;
  template <class U>
    requires std::is_convertible_v<U&&, T>
  void return_value(U&& v) noexcept(std::is_nothrow_constructible_v<T, U&&>) {
    std::construct_at(&value, std::forward<U>(v));  // co_return runs once, into an empty promise
    state = holds::value;
  }
  void unhandled_exception() noexcept {
    if (state == holds::value) value.~T();  // a local's throwing destructor after co_return
    std::construct_at(&error, std::current_exception());
    state = holds::error;
  }
  T take() {
    mark_taken();
    if (state != holds::value) [[unlikely]] rethrow();
    return std::move(value);
  }

 private:
  [[noreturn, gnu::cold]] void rethrow() {
    if (state == holds::error) std::rethrow_exception(error);
    throw std::logic_error("uringcmd: a task<T> ended without co_return");
  }

  enum class holds : unsigned char { nothing, value, error };
  holds state = holds::nothing;
  union {
    T value;
    std::exception_ptr error;
  };
};

template <>
struct task_promise<void> final : task_promise_base {
  std::exception_ptr error;

  task<void> get_return_object() noexcept;
  void return_void() noexcept {}
  void unhandled_exception() noexcept { error = std::current_exception(); }
  void take() {
    mark_taken();
    if (error) std::rethrow_exception(error);
  }
};

}  // namespace detail

/// A lazily started coroutine returning T. Move-only; destroying an unstarted task frees it.
template <class T>
class [[nodiscard("a task does nothing until it is awaited or spawned")]] task {
 public:
  using promise_type = detail::task_promise<T>;
  using handle_type = std::coroutine_handle<promise_type>;
  using value_type = T;

  task() noexcept = default;
  explicit task(handle_type h) noexcept : h_(h) {}
  task(task&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  task& operator=(task&& o) noexcept {
    if (this != &o) {
      destroy();
      h_ = std::exchange(o.h_, {});
    }
    return *this;
  }
  ~task() { destroy(); }

  bool valid() const noexcept { return static_cast<bool>(h_); }
  bool done() const noexcept { return h_ && h_.done(); }

  auto operator co_await() && noexcept {
    struct awaiter {
      handle_type h;
      bool await_ready() const noexcept { return !h || h.done(); }
      bool await_suspend(std::coroutine_handle<> awaiting) noexcept {
        h.promise().continuation = awaiting;
        detail::start_marker m{&h.promise(), detail::innermost_start};
        detail::innermost_start = &m;
        h.resume();  // runs the task until it first suspends or finishes
        // From here on neither the task's frame nor this awaiter (in the awaiting frame) is
        // touched: a task that suspended may already be resuming the awaiter on another thread.
        detail::innermost_start = m.outer;
        return !m.finished_inline;  // finished: continue the awaiter on this stack frame
      }
      T await_resume() {
        // An empty task (default-constructed or moved from) is ready at once and throws here.
        if (!h) throw std::logic_error("uringcmd: co_await on an empty task (default-constructed or moved from)");
        return h.promise().take();
      }
    };
    return awaiter{h_};
  }

  /// Gives up ownership of the frame (used by spawn/when_all/sync_wait).
  handle_type release() noexcept { return std::exchange(h_, {}); }

 private:
  void destroy() noexcept {
    if (h_) h_.destroy();
  }
  handle_type h_;
};

namespace detail {
template <class T>
task<T> task_promise<T>::get_return_object() noexcept {
  return task<T>{std::coroutine_handle<task_promise<T>>::from_promise(*this)};
}
inline task<void> task_promise<void>::get_return_object() noexcept {
  return task<void>{std::coroutine_handle<task_promise<void>>::from_promise(*this)};
}
}  // namespace detail

}  // namespace uringcmd
