// SPDX-License-Identifier: MIT
// yield(): reschedules the current coroutine behind everything already ready on its executor.
#pragma once

#include <coroutine>

#include <uringcmd/executor.hpp>

namespace uringcmd {

struct yield_op : op_base {
  bool await_ready() const noexcept { return executor::current() == nullptr; }
  void await_suspend(std::coroutine_handle<> h) noexcept {
    waiter = h;
    executor::current()->schedule(*this);
  }
  void await_resume() const noexcept {}
};
[[nodiscard("co_await it")]] inline yield_op yield() noexcept { return {}; }

}  // namespace uringcmd
