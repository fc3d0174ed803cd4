// SPDX-License-Identifier: MIT
// io_op<Derived>: the awaiter base every io_uring operation derives from. A derived op is a small
// struct with two members:
//   void prepare_sqe(io_uring_sqe&) noexcept          fill the SQE (user_data is set for you)
//   result<T> finish(const completion&) noexcept      turn the CQE into a result
// and optionally
//   errc bind(const executor&) noexcept               refuse a ring that cannot carry the op, and
//                                                     note what prepare_sqe needs of the ring
// The io_operation concept states this contract; io_op checks it with a readable error.
#pragma once

#include <concepts>
#include <coroutine>
#include <cstdint>
#include <type_traits>
#include <utility>

#include <uringcmd/executor.hpp>
#include <uringcmd/result.hpp>

namespace uringcmd {

template <class Op>
concept io_operation = requires(Op& op, io_uring_sqe& sqe, const completion& c) {
  { op.prepare_sqe(sqe) } noexcept;
  { op.finish(c) } noexcept;
};

template <class Derived>
class io_op : public op_base {
 public:
  bool await_ready() const noexcept { return false; }

  // always_inline: g++ 12 otherwise emits it out of line (+10 instructions per op in call overhead).
  [[gnu::always_inline]] bool await_suspend(std::coroutine_handle<> h) noexcept {
    static_assert(io_operation<Derived>,
                  "an io_op needs `void prepare_sqe(io_uring_sqe&) noexcept` and "
                  "`result<T> finish(const completion&) noexcept`");
    executor* ex = executor::current();
    if (!ex) [[unlikely]] return refuse(errc::no_executor);
    if (errc e = self().bind(*ex); e != errc::ok) [[unlikely]] return refuse(e);
    waiter = h;
    ex->start_inline(*this, &prepare_thunk, [this](io_uring_sqe& sqe) noexcept { self().prepare_sqe(sqe); });
    return true;
  }

  auto await_resume() noexcept {
    using R = decltype(self().finish(cqe));
    if (refused != errc::ok) [[unlikely]] return R(fail(refused));
    return self().finish(cqe);
  }

  /// Default: any ring can carry the op.
  errc bind(const executor&) noexcept { return errc::ok; }

 private:
  Derived& self() noexcept { return static_cast<Derived&>(*this); }
  static void prepare_thunk(op_base& b, io_uring_sqe& sqe) noexcept { static_cast<Derived&>(b).prepare_sqe(sqe); }
  bool refuse(errc e) noexcept {
    refused = e;
    return false;
  }
};

namespace detail {
inline result<void> void_result(const completion& c) noexcept {
  if (c.res < 0) return fail_errno(c.res);
  return {};
}
template <class T>
result<T> value_result(const completion& c) noexcept {
  if (c.res < 0) return fail_errno(c.res);
  return static_cast<T>(c.res);
}
}  // namespace detail

}  // namespace uringcmd
