// SPDX-License-Identifier: MIT
// sync_wait: run an executor from ordinary code until one task has finished.
#pragma once

#include <exception>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include <uringcmd/executor.hpp>
#include <uringcmd/task.hpp>

namespace uringcmd {

namespace detail {
template <class T>
struct sync_slot {
  std::optional<std::conditional_t<std::is_void_v<T>, bool, T>> value;
  std::exception_ptr error;
  bool done = false;
};

// The slot is shared: if sync_wait unwinds early (run_once threw), the runner, still owned by the
// executor, may finish later and must find its slot alive.
template <class T>
task<void> sync_runner(task<T> t, std::shared_ptr<sync_slot<T>> slot) {
  try {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(t);
      slot->value.emplace(true);
    } else {
      slot->value.emplace(co_await std::move(t));
    }
  } catch (...) {
    slot->error = std::current_exception();
  }
  slot->done = true;
}
}  // namespace detail

/// Runs `ex` on this thread until `t` finishes; returns its value or rethrows its exception.
/// Other spawned work keeps running meanwhile; if one of those tasks failed, its exception is
/// rethrown after `t` has finished. If the executor itself throws (a posted function, a failed
/// io_uring_enter), that exception propagates and `t` stays owned by the executor.
template <class T>
T sync_wait(executor& ex, task<T> t) {
  auto slot = std::make_shared<detail::sync_slot<T>>();
  ex.spawn(detail::sync_runner(std::move(t), slot));
  while (!slot->done) ex.run_once(true);
  if (slot->error) std::rethrow_exception(slot->error);
  if (auto other = ex.take_spawned_error()) std::rethrow_exception(other);
  if constexpr (!std::is_void_v<T>) return std::move(*slot->value);
}

}  // namespace uringcmd
