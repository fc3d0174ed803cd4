// SPDX-License-Identifier: MIT
// async_run: a uringcmd task (or a single op) started from Asio code with any completion token:
//
//   co_await async_run(driver, read_block(fd, buf), asio::use_awaitable);    // from asio::awaitable
//   async_run(driver, nop(), [](std::error_code ec) { ... });               // a callback
//   auto f = async_run(driver, count(), asio::use_future);                   // a std::future
//
// The completion signature follows Asio's conventions, chosen by what the task returns:
//   task<result<T>>  ->  void(std::error_code, T)     (result<void>: void(std::error_code))
//   task<T>          ->  void(std::exception_ptr, T)  (void: void(std::exception_ptr)), as co_spawn
// Error codes pass through to_asio (error.hpp): a cancelled op reports asio::error::operation_aborted.
// A result-returning task that throws reports the system_error's code, or ENOTRECOVERABLE.
//
// Cancellation: pass a factory `F(std::stop_token) -> task<...>` instead of a task; an Asio
// cancellation signal bound to the token (asio::bind_cancellation_slot, or a cancelled
// asio::awaitable) requests stop on that token, which the task hands to with_stop around its ops.
// A single op is wrapped that way for you. The handler runs through its associated executor
// (posted, never inside the executor's turn), after the task has finished.
#pragma once

#include <cerrno>
#include <concepts>
#include <exception>
#include <memory>
#include <stop_token>
#include <system_error>
#include <type_traits>
#include <utility>

#include <asio/associated_cancellation_slot.hpp>
#include <asio/associated_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/cancellation_type.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/post.hpp>

#include <uringcmd/asio/error.hpp>
#include <uringcmd/asio/ring_driver.hpp>
#include <uringcmd/cancellation.hpp>
#include <uringcmd/result.hpp>
#include <uringcmd/task.hpp>

namespace uringcmd::asio {

namespace detail {

template <class T>
struct is_result : std::false_type {};
template <class T>
struct is_result<result<T>> : std::true_type {};

/// The Asio completion signature of a task returning T.
template <class T>
struct signature {
  using type = void(std::exception_ptr, T);
};
template <>
struct signature<void> {
  using type = void(std::exception_ptr);
};
template <class T>
struct signature<result<T>> {
  using type = void(std::error_code, T);
};
template <>
struct signature<result<void>> {
  using type = void(std::error_code);
};

template <class T>
concept task_factory = requires(T f, std::stop_token st) {
  { std::move(f)(st) };
} && requires { typename std::invoke_result_t<T, std::stop_token>::value_type; };

template <class A>
concept awaitable_op = requires(A& a) {
  { a.await_resume() };
  requires is_result<decltype(a.await_resume())>::value;
};

/// The error a result-returning task reports when it throws instead.
inline std::error_code error_of(std::exception_ptr e) noexcept {
  try {
    std::rethrow_exception(e);
  } catch (const std::system_error& se) {
    return se.code();
  } catch (...) {
    return {ENOTRECOVERABLE, ::asio::error::get_system_category()};
  }
}

/// Requests stop when Asio emits a cancellation (any type: terminal, partial and total all mean
/// "stop this operation" for a task that cannot resume half-done).
struct stop_on_cancel {
  std::stop_source* source;
  void operator()(::asio::cancellation_type type) const {
    if (type != ::asio::cancellation_type::none) source->request_stop();
  }
};

template <class Handler, class... Args>
void complete(ring_driver& d, Handler h, Args... args) {
  auto ex = ::asio::get_associated_executor(h, d.get_executor());
  ::asio::post(ex, [h = std::move(h), ... args = std::move(args)]() mutable { std::move(h)(std::move(args)...); });
}

// The frame that runs the task on the executor and then posts the handler. It owns the stop
// source the Asio cancellation slot points at, and clears the slot before that goes away.
template <class T, class Handler, class Factory>
task<void> run_and_complete(ring_driver& d, Factory make, Handler h) {
  std::stop_source stop;
  auto slot = ::asio::get_associated_cancellation_slot(h);
  if (slot.is_connected()) slot.template emplace<stop_on_cancel>(stop_on_cancel{&stop});
  auto work = ::asio::make_work_guard(::asio::get_associated_executor(h, d.get_executor()));
  std::exception_ptr error;
  if constexpr (is_result<T>::value) {
    using V = typename T::value_type;
    std::error_code ec;
    [[maybe_unused]] std::conditional_t<std::is_void_v<V>, int, V> value{};
    try {
      T r = co_await make(stop.get_token());
      if (!r) ec = to_asio(r.error());
      else if constexpr (!std::is_void_v<V>) value = std::move(*r);
    } catch (...) {
      ec = to_asio(error_of(std::current_exception()));
    }
    if (slot.is_connected()) slot.clear();
    if constexpr (std::is_void_v<V>) complete(d, std::move(h), ec);
    else complete(d, std::move(h), ec, std::move(value));
  } else if constexpr (std::is_void_v<T>) {
    try {
      co_await make(stop.get_token());
    } catch (...) {
      error = std::current_exception();
    }
    if (slot.is_connected()) slot.clear();
    complete(d, std::move(h), error);
  } else {
    T value{};
    try {
      value = co_await make(stop.get_token());
    } catch (...) {
      error = std::current_exception();
    }
    if (slot.is_connected()) slot.clear();
    complete(d, std::move(h), error, std::move(value));
  }
}

template <class T, class Factory, class Token>
auto initiate(ring_driver& d, Factory make, Token&& token) {
  return ::asio::async_initiate<Token, typename signature<T>::type>(
      [&d](auto handler, Factory f) { d.spawn(run_and_complete<T>(d, std::move(f), std::move(handler))); },
      token, std::move(make));
}

template <class Op>
auto as_task(Op op, std::stop_token st) -> task<decltype(op.await_resume())> {
  co_return co_await with_stop(std::move(op), std::move(st));
}

}  // namespace detail

/// Runs `t` on the driver's executor; completes `token` with its outcome. Not cancellable (the
/// task was built without a stop token): use the factory form for that.
template <class T, class Token>
auto async_run(ring_driver& d, task<T> t, Token&& token) {
  auto make = [t = std::move(t)](std::stop_token) mutable { return std::move(t); };
  return detail::initiate<T>(d, std::move(make), std::forward<Token>(token));
}

/// Runs the task `make(stop_token)` returns; Asio cancellation requests stop on that token.
template <detail::task_factory Factory, class Token>
auto async_run(ring_driver& d, Factory make, Token&& token) {
  using T = typename std::invoke_result_t<Factory, std::stop_token>::value_type;
  return detail::initiate<T>(d, std::move(make), std::forward<Token>(token));
}

/// Runs one op (read, write, nop, uring_cmd, ...) through the executor; Asio cancellation reaches
/// it through IORING_OP_ASYNC_CANCEL (with_stop).
template <detail::awaitable_op Op, class Token>
  requires(!detail::task_factory<Op>)
auto async_run(ring_driver& d, Op op, Token&& token) {
  using T = decltype(op.await_resume());
  auto make = [op = std::move(op)](std::stop_token st) mutable { return detail::as_task(std::move(op), std::move(st)); };
  return detail::initiate<T>(d, std::move(make), std::forward<Token>(token));
}

}  // namespace uringcmd::asio
