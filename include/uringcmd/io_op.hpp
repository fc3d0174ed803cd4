// SPDX-License-Identifier: MIT
// io_op<Derived>: the awaiter base every io_uring operation derives from. A derived op is a small
// struct with two members:
//   void prepare_sqe(io_uring_sqe&) noexcept          fill the SQE (user_data is set for you)
//   result<T> finish(const completion&) noexcept      turn the CQE into a result
// and optionally `errc validate(const executor&) noexcept` to refuse an op the
// ring cannot carry before anything is submitted.
#pragma once

#include <coroutine>
#include <cstdint>
#include <type_traits>
#include <system_error>
#include <utility>

#include <uringcmd/executor.hpp>
#include <uringcmd/result.hpp>

namespace uringcmd {

template <class Derived>
class io_op : public op_base {
 public:
  bool await_ready() const noexcept { return false; }

  // always_inline: g++ 12 otherwise emits it out of line (+10 instructions per op in call overhead).
  [[gnu::always_inline]] bool await_suspend(std::coroutine_handle<> h) noexcept {
    executor* ex = executor::current();
    if (!ex) [[unlikely]] return refuse(errc::no_executor);
    if (errc e = self().validate(*ex); e != errc::ok) [[unlikely]] return refuse(e);
    waiter = h;
    if constexpr (requires { Derived::urgent; }) {
      prepare = &prepare_thunk;
      ex->start_urgent(*this);
    } else {
      ex->start_inline(*this, &prepare_thunk, [this](io_uring_sqe& sqe) noexcept { self().prepare_sqe(sqe); });
    }
    return true;
  }

  auto await_resume() noexcept {
    using R = decltype(self().finish(cqe));
    if (cqe.res == refused) [[unlikely]] return R(fail(static_cast<errc>(cqe.flags)));
    return self().finish(cqe);
  }

  /// Default: any ring can carry the op. (An errc, not a std::error_code: constructing an empty
  /// error_code calls the out-of-line std::system_category() on every op.)
  errc validate(const executor&) const noexcept { return errc::ok; }

 private:
  Derived& self() noexcept { return static_cast<Derived&>(*this); }
  static void prepare_thunk(op_base& b, io_uring_sqe& sqe) noexcept { static_cast<Derived&>(b).prepare_sqe(sqe); }
  // An op refused before submission carries its errc in its completion (res = refused, a value
  // no kernel returns), so the success path pays for no extra member or check.
  static constexpr std::int32_t refused = INT32_MIN;
  bool refuse(errc e) noexcept {
    cqe.res = refused;
    cqe.flags = static_cast<std::uint32_t>(e);
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
