// SPDX-License-Identifier: MIT
// with_timeout and with_stop: wrap any io_op so that it can be abandoned.
//
// Contract: the wrapped op is cancelled through the kernel (LINK_TIMEOUT / ASYNC_CANCEL), and the
// awaiting coroutine resumes only at the op's last CQE, so every buffer it points to stays owned
// until the kernel is done with it.
//
// Commands the kernel cannot cancel (NVMe and SCSI BSG passthrough) carry their own deadline,
// `timeout_ms`, enforced by the driver. An op that exposes it (the kernel_deadline_op concept:
// `bool set_kernel_deadline(std::chrono::milliseconds) noexcept`, true when the command has such a
// field) gets the deadline written there by with_timeout, and no LINK_TIMEOUT, which would do
// nothing for it. Its result on expiry is the driver's (see the SCSI/NVMe layers).
#pragma once

#include <cerrno>
#include <chrono>
#include <concepts>
#include <coroutine>
#include <cstdint>
#include <optional>
#include <stop_token>
#include <utility>

#include <uringcmd/io_op.hpp>
#include <uringcmd/ops.hpp>

namespace uringcmd {

template <class Op>
concept kernel_deadline_op = requires(Op& op, std::chrono::milliseconds ms) {
  { op.set_kernel_deadline(ms) } noexcept -> std::same_as<bool>;
};

namespace detail {
/// A deadline as the UAPIs' 32-bit timeout_ms: rounded up, at least 1 (0 means "the driver's
/// default"), at most UINT32_MAX (49.7 days).
inline std::chrono::milliseconds deadline_ms(std::chrono::nanoseconds d) noexcept {
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(d);
  if (ms.count() < 1) ms = std::chrono::milliseconds(1);
  if (ms.count() > UINT32_MAX) ms = std::chrono::milliseconds(UINT32_MAX);
  return ms;
}
}  // namespace detail

/// `op` bounded by a deadline: a LINK_TIMEOUT linked behind it, or the command's own timeout_ms for
/// a kernel_deadline_op. When a linked timer fires first, the op's ECANCELED is reported as
/// ETIMEDOUT, so the caller can tell a timeout from other cancellation.
template <class Op>
class timed_op : public Op {
 public:
  timed_op(Op op, std::chrono::nanoseconds d) noexcept : Op(std::move(op)), ts_(detail::to_timespec(d)) {
    bool in_command = false;
    if constexpr (kernel_deadline_op<Op>) in_command = Op::set_kernel_deadline(detail::deadline_ms(d));
    if (!in_command) this->link_timeout = &ts_;
  }
  // The timespec lives here; a copy must point at its own.
  timed_op(const timed_op& o) noexcept : Op(o), ts_(o.ts_) {
    if (o.link_timeout) this->link_timeout = &ts_;
  }
  timed_op& operator=(const timed_op&) = delete;

  auto await_resume() noexcept {
    auto r = Op::await_resume();
    if (!r && r.error() == std::errc::operation_canceled && this->timeout_res == -ETIME)
      return decltype(r)(fail(errno_code(ETIMEDOUT)));
    return r;
  }

 private:
  __kernel_timespec ts_;
};

/// Bounds `op` by `d` (kernel-side; no extra wakeups when the op wins).
template <class Op>
[[nodiscard("co_await it")]] timed_op<Op> with_timeout(Op op, std::chrono::nanoseconds d) noexcept {
  return {std::move(op), d};
}

/// `op` cancelled through IORING_OP_ASYNC_CANCEL when `token` is stopped (from any thread).
/// Stopped before submission: it is not submitted and completes with ECANCELED.
template <class Op>
class stoppable_op : public Op {
 public:
  stoppable_op(Op op, std::stop_token token) noexcept : Op(std::move(op)), token_(std::move(token)) {}
  // Movable only before it is awaited (the callback is registered in await_suspend), which is
  // the only time wrappers move it: with_timeout(with_stop(op, t), d) works too.
  stoppable_op(stoppable_op&& o) noexcept : Op(std::move(o)), token_(std::move(o.token_)) {}

  bool await_suspend(std::coroutine_handle<> h) noexcept {
    if (token_.stop_requested()) {
      stopped_early_ = true;
      return false;
    }
    if (!Op::await_suspend(h)) return false;
    // Registered after submission: the callback may run at once and cancel the SQE just queued,
    // which ASYNC_CANCEL finds because it is submitted behind it in the same batch.
    callback_.emplace(token_, canceller{executor::current(), detail::encode(*this)});
    return true;
  }

  auto await_resume() noexcept {
    callback_.reset();  // waits for a callback running on another thread; it only posts
    if (stopped_early_) return decltype(Op::await_resume())(fail(errno_code(ECANCELED)));
    return Op::await_resume();
  }

 private:
  struct canceller {
    executor* ex;
    std::uint64_t user_data;  // generation-tagged: unlikely to match a later op at the same address
    void operator()() const { ex->cancel(user_data); }
  };
  std::stop_token token_;
  std::optional<std::stop_callback<canceller>> callback_;
  bool stopped_early_ = false;
};

template <class Op>
[[nodiscard("co_await it")]] stoppable_op<Op> with_stop(Op op, std::stop_token token) noexcept {
  return {std::move(op), std::move(token)};
}

}  // namespace uringcmd
