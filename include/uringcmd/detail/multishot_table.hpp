// SPDX-License-Identifier: MIT
// multishot_table: the executor's armed multishot requests. Their user_data is a slot index, not a
// pointer, so a consumer may go away while its request is still armed: the slot forgets it, its
// remaining CQEs are dropped, and the slot is reused only after the request's last CQE.
#pragma once

#include <cstdint>
#include <vector>

#include <uringcmd/completion.hpp>
#include <uringcmd/operation.hpp>

namespace uringcmd::detail {

class multishot_table {
 public:
  /// Called for each CQE of the request; returns the op to resume, if any.
  using deliver_fn = op_base* (*)(void* owner, const completion&) noexcept;

  /// A slot for `owner`; returns its user_data, or 0 when out of memory.
  std::uint64_t acquire(void* owner, deliver_fn fn) noexcept {
    std::uint32_t index = free_;
    if (index < slots_.size()) {
      free_ = slots_[index].next_free;
    } else {
      try {
        slots_.emplace_back();
      } catch (...) {
        return 0;
      }
      index = static_cast<std::uint32_t>(slots_.size() - 1);
      free_ = static_cast<std::uint32_t>(slots_.size());
    }
    slot& s = slots_[index];
    s.owner = owner;
    s.deliver = fn;
    ++s.generation;
    return (std::uint64_t{s.generation} << 48) | (std::uint64_t{index} << 3) | multishot_tag;
  }

  /// Routes a CQE to its consumer; the slot is freed at the request's last CQE (no F_MORE).
  op_base* deliver(const io_uring_cqe& c, bool big_cqe) noexcept {
    const std::uint32_t index = static_cast<std::uint32_t>((c.user_data & pointer_mask) >> 3);
    slot& s = slots_[index];
    op_base* resume = s.owner ? s.deliver(s.owner, completion::from(c, big_cqe)) : nullptr;
    if (!(c.flags & IORING_CQE_F_MORE)) {
      s.owner = nullptr;
      s.next_free = free_;
      free_ = index;
    }
    return resume;
  }

  /// Frees a slot whose request was never submitted.
  void release(std::uint64_t ud) noexcept {
    const std::uint32_t index = static_cast<std::uint32_t>((ud & pointer_mask) >> 3);
    slots_[index].owner = nullptr;
    slots_[index].next_free = free_;
    free_ = index;
  }

  /// The consumer is gone: drop the request's remaining CQEs.
  void detach(std::uint64_t ud) noexcept { slots_[(ud & pointer_mask) >> 3].owner = nullptr; }

 private:
  struct slot {
    void* owner = nullptr;
    deliver_fn deliver = nullptr;
    std::uint32_t next_free = 0;
    std::uint16_t generation = 0;
  };
  std::vector<slot> slots_;
  std::uint32_t free_ = 0;
};

}  // namespace uringcmd::detail
