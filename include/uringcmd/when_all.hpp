// SPDX-License-Identifier: MIT
// when_all: run several tasks concurrently on the current executor and wait for all of them.
#pragma once

#include <atomic>
#include <coroutine>
#include <cstddef>
#include <exception>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <uringcmd/task.hpp>

namespace uringcmd {

namespace detail {

/// Counts children still running; the last to finish resumes the parent by symmetric transfer.
/// Starts at n + 1 so that children finishing while they are being started cannot resume the
/// parent before it has suspended. Atomic: children that hopped to other cores finish there.
struct when_all_latch {
  std::atomic<std::size_t> remaining;
  std::coroutine_handle<> parent;
  std::coroutine_handle<> arrive() noexcept {
    return remaining.fetch_sub(1, std::memory_order_acq_rel) == 1 ? parent : std::noop_coroutine();
  }
};

template <class T>
using stored_t = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

/// Wraps one child: stores its value or exception, then arrives at the latch.
template <class T>
struct when_all_child {
  struct promise_type : pooled_frame {
    when_all_latch* latch = nullptr;
    std::variant<std::monostate, stored_t<T>, std::exception_ptr> out;
    when_all_child get_return_object() noexcept {
      return {std::coroutine_handle<promise_type>::from_promise(*this)};
    }
    std::suspend_always initial_suspend() const noexcept { return {}; }
    auto final_suspend() const noexcept {
      struct arrive {
        bool await_ready() const noexcept { return false; }
        std::coroutine_handle<> await_suspend(std::coroutine_handle<promise_type> h) noexcept {
          return h.promise().latch->arrive();
        }
        void await_resume() const noexcept {}
      };
      return arrive{};
    }
    void return_value(stored_t<T> v) noexcept(std::is_nothrow_move_constructible_v<stored_t<T>>) {
      out.template emplace<1>(std::move(v));
    }
    void unhandled_exception() noexcept { out.template emplace<2>(std::current_exception()); }
  };
  std::coroutine_handle<promise_type> h;

  when_all_child(std::coroutine_handle<promise_type> handle) noexcept : h(handle) {}
  when_all_child(when_all_child&& o) noexcept : h(std::exchange(o.h, {})) {}
  ~when_all_child() {
    if (h) h.destroy();
  }
  stored_t<T> take() {
    auto& out = h.promise().out;
    if (out.index() == 2) std::rethrow_exception(std::get<2>(out));
    return std::move(std::get<1>(out));
  }
};

template <class T>
when_all_child<T> make_child(task<T> t) {
  if constexpr (std::is_void_v<T>) {
    co_await std::move(t);
    co_return std::monostate{};
  } else {
    co_return co_await std::move(t);
  }
}

template <class Children>
struct when_all_awaiter {
  Children& children;  // a tuple or a vector of when_all_child
  when_all_latch latch;
  bool await_ready() const noexcept { return latch.remaining.load(std::memory_order_relaxed) == 1; }
  bool await_suspend(std::coroutine_handle<> parent) noexcept {
    latch.parent = parent;
    auto start = [this](auto& c) {
      c.h.promise().latch = &latch;
      c.h.resume();
    };
    if constexpr (requires { children.size(); }) {
      for (auto& c : children) start(c);
    } else {
      std::apply([&](auto&... c) { (start(c), ...); }, children);
    }
    // The last access to this frame: if a child on another core arrives after it, that child
    // resumes the parent. false: every child already finished, continue at once.
    return latch.remaining.fetch_sub(1, std::memory_order_acq_rel) != 1;
  }
  void await_resume() const noexcept {}
};

}  // namespace detail

/// Runs every task concurrently; returns a tuple of their values (std::monostate for void).
/// All children run to completion even when one throws; the first exception (in argument order)
/// is then rethrown.
template <class... Ts>
task<std::tuple<detail::stored_t<Ts>...>> when_all(task<Ts>... tasks) {
  std::tuple<detail::when_all_child<Ts>...> children{detail::make_child(std::move(tasks))...};
  co_await detail::when_all_awaiter<decltype(children)>{children, {sizeof...(Ts) + 1, {}}};
  co_return std::apply([](auto&... c) { return std::tuple<detail::stored_t<Ts>...>{c.take()...}; }, children);
}

/// Runs every task of a range concurrently; returns their values in order (nothing for void).
template <class T>
auto when_all(std::vector<task<T>> tasks) -> task<std::conditional_t<std::is_void_v<T>, void, std::vector<T>>> {
  std::vector<detail::when_all_child<T>> children;
  children.reserve(tasks.size());
  for (auto& t : tasks) children.push_back(detail::make_child(std::move(t)));
  co_await detail::when_all_awaiter<decltype(children)>{children, {children.size() + 1, {}}};
  if constexpr (std::is_void_v<T>) {
    for (auto& c : children) c.take();
  } else {
    std::vector<T> out;
    out.reserve(children.size());
    for (auto& c : children) out.push_back(c.take());
    co_return out;
  }
}

}  // namespace uringcmd
