// SPDX-License-Identifier: MIT
// op_queue: a FIFO of ops threaded through op_base::next; it never allocates.
#pragma once

#include <utility>

#include <uringcmd/operation.hpp>

namespace uringcmd::detail {

class op_queue {
 public:
  bool empty() const noexcept { return head_ == nullptr; }
  void push(op_base& op) noexcept {
    op.next = nullptr;
    if (tail_) tail_->next = &op;
    else head_ = &op;
    tail_ = &op;
  }
  op_base* pop() noexcept {
    op_base* op = head_;
    if (op) {
      head_ = op->next;
      if (!head_) tail_ = nullptr;
    }
    return op;
  }
  /// Moves everything out, leaving this queue empty.
  op_queue take() noexcept { return std::exchange(*this, op_queue{}); }

 private:
  op_base* head_ = nullptr;
  op_base* tail_ = nullptr;
};

}  // namespace uringcmd::detail
