// SPDX-License-Identifier: MIT
// multishot: a request that posts several CQEs (IORING_CQE_F_MORE), consumed as a stream.
//
//   auto events = poll_multishot(fd, POLLIN);
//   while (auto ev = co_await events.next()) { ... *ev is a result<unsigned> ... }
//
// Every CQE is delivered, in order, as one item: its value or its error. The item of the CQE
// without F_MORE is the last; next() then returns std::nullopt. CQEs that arrive while the
// coroutine is busy are buffered (the buffer grows, nothing is dropped). cancel() asks the kernel
// to stop; the stream still ends with its final CQE (usually ECANCELED). The stream object must
// stay where it was created (its executor slot points at it); destroying it while armed detaches
// it: the request is cancelled and its remaining CQEs are dropped, never written into the frame.
#pragma once

#include <cerrno>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include <liburing.h>

#include <uringcmd/completion.hpp>
#include <uringcmd/executor.hpp>
#include <uringcmd/fd.hpp>
#include <uringcmd/feature.hpp>
#include <uringcmd/io_op.hpp>
#include <uringcmd/result.hpp>

namespace uringcmd {

namespace detail {
/// FIFO of completions on a vector that doubles when full; steady state allocates nothing.
class completion_fifo {
 public:
  bool empty() const noexcept { return count_ == 0; }
  std::size_t size() const noexcept { return count_; }
  void push(const completion& c) {
    if (count_ == items_.size()) grow();
    items_[(head_ + count_) % items_.size()] = c;
    ++count_;
  }
  completion pop() noexcept {
    completion c = items_[head_];
    head_ = (head_ + 1) % items_.size();
    --count_;
    return c;
  }

 private:
  void grow() {
    std::vector<completion> bigger(items_.empty() ? 8 : 2 * items_.size());
    for (std::size_t i = 0; i < count_; ++i) bigger[i] = items_[(head_ + i) % items_.size()];
    items_.swap(bigger);
    head_ = 0;
  }
  std::vector<completion> items_;
  std::size_t head_ = 0;
  std::size_t count_ = 0;
};
}  // namespace detail

/// Base of multishot ops. Derived provides `void prepare_sqe(io_uring_sqe&) noexcept` (setting the
/// opcode's multishot flag) and `result<T> finish(const completion&) noexcept` for one CQE.
template <class Derived, class T>
class multishot {
 public:
  multishot() = default;
  multishot(const multishot&) = delete;
  multishot& operator=(const multishot&) = delete;
  ~multishot() {
    if (armed_) ex_->detach_multishot(ud_);
  }

  /// The next CQE's result, or std::nullopt once the stream has ended. Arms the request on first use.
  auto next() noexcept { return next_awaiter{*this}; }
  /// Asks the kernel to stop posting; the final CQE still arrives through next().
  void cancel() {
    if (armed_) ex_->cancel(ud_);
  }
  /// The kernel may still post CQEs for this request.
  bool armed() const noexcept { return armed_; }
  /// CQEs received and not yet taken by next().
  std::size_t buffered() const noexcept { return items_.size(); }

 private:
  struct next_awaiter {
    multishot& s;
    bool await_ready() noexcept {
      if (!s.started_) s.start();
      return !s.items_.empty() || !s.armed_;
    }
    void await_suspend(std::coroutine_handle<> h) noexcept {
      s.node_.waiter = h;
      s.waiting_ = true;
    }
    std::optional<result<T>> await_resume() noexcept {
      if (s.refused_ != errc::ok) return result<T>(fail(std::exchange(s.refused_, errc::ok)));
      if (s.items_.empty()) return std::nullopt;
      return static_cast<Derived&>(s).finish(s.items_.pop());
    }
  };

  void start() noexcept {
    started_ = true;
    ex_ = executor::current();
    if (!ex_) {
      refused_ = errc::no_executor;
      return;
    }
    ud_ = ex_->arm_multishot(this, &deliver, [this](io_uring_sqe& sqe) noexcept {
      static_cast<Derived&>(*this).prepare_sqe(sqe);
    }, refused_);
    armed_ = ud_ != 0;
  }

  // Runs in the executor's CQE loop. Out of memory while buffering would lose a CQE: terminate.
  static op_base* deliver(void* owner, const completion& c) noexcept {
    auto& s = *static_cast<multishot*>(owner);
    s.items_.push(c);
    if (!c.more()) s.armed_ = false;
    if (!s.waiting_) return nullptr;
    s.waiting_ = false;
    return &s.node_;
  }

  executor* ex_ = nullptr;
  std::uint64_t ud_ = 0;
  detail::completion_fifo items_;
  op_base node_;  // resumes the consumer
  bool started_ = false;
  bool armed_ = false;
  bool waiting_ = false;
  errc refused_ = errc::ok;
};

/// Multishot poll (5.13+): one item per readiness event (the returned events mask).
struct poll_multishot_op : multishot<poll_multishot_op, unsigned> {
  poll_multishot_op(fd_ref f, unsigned e) noexcept : fd(f), events(e) {}
  void prepare_sqe(io_uring_sqe& sqe) noexcept {
    io_uring_prep_poll_multishot(&sqe, fd.fd, events);
    fd.apply(sqe);
  }
  result<unsigned> finish(const completion& c) noexcept {
    if (c.res == -EINVAL) [[unlikely]] return fail(name_missing_feature(errno_code(EINVAL), feature::poll_multishot));
    return detail::value_result<unsigned>(c);
  }
  fd_ref fd;
  unsigned events;
};
[[nodiscard("co_await its next()")]] inline poll_multishot_op poll_multishot(fd_ref fd, unsigned events) noexcept {
  return {fd, events};
}

/// Multishot accept (5.19+): one item per accepted connection (the new fd, O_CLOEXEC).
struct accept_multishot_op : multishot<accept_multishot_op, int> {
  explicit accept_multishot_op(fd_ref f) noexcept : fd(f) {}
  void prepare_sqe(io_uring_sqe& sqe) noexcept {
    io_uring_prep_multishot_accept(&sqe, fd.fd, nullptr, nullptr, SOCK_CLOEXEC);
    fd.apply(sqe);
  }
  result<int> finish(const completion& c) noexcept {
    if (c.res == -EINVAL) [[unlikely]] return fail(name_missing_feature(errno_code(EINVAL), feature::accept_multishot));
    return detail::value_result<int>(c);
  }
  fd_ref fd;
};
[[nodiscard("co_await its next()")]] inline accept_multishot_op accept_multishot(fd_ref listen_fd) noexcept {
  return accept_multishot_op{listen_fd};
}

}  // namespace uringcmd
