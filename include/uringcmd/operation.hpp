// SPDX-License-Identifier: MIT
// op_base: the executor's view of one submission. It lives inside an awaiter, i.e. in the awaiting
// coroutine's frame, from the moment it is started until its last CQE has been copied into it.
#pragma once

#include <coroutine>
#include <cstdint>

#include <liburing.h>

#include <uringcmd/completion.hpp>
#include <uringcmd/error.hpp>

namespace uringcmd {

class executor;

struct op_base {
  /// Fills the op's SQE on the general start path (linked timeout); the fast path fills it inline.
  /// Everything the SQE points to must already live in the awaiter.
  using prepare_fn = void (*)(op_base&, io_uring_sqe&) noexcept;

  // Every member is initialized: leaving some out (with an empty constructor, so `return {};`
  // would not zero them) saved 1 Ir per op at NOP depth 32 (callgrind), not worth the trap.

  /// Intrusive link of the executor's ready queue.
  op_base* next = nullptr;
  prepare_fn prepare = nullptr;
  std::coroutine_handle<> waiter;
  completion cqe{};
  /// When set, a LINK_TIMEOUT SQE is linked behind the op (see with_timeout).
  const __kernel_timespec* link_timeout = nullptr;
  /// Result of the linked timeout's CQE: -ETIME when it fired; 0 when none arrived.
  std::int32_t timeout_res = 0;
  /// Generation stamped into user_data, so a late cancel is unlikely to hit a later op at this
  /// address (16 bits: it wraps after 65,536 starts).
  std::uint16_t generation = 0;
  /// CQEs still expected: the op resumes when this reaches zero (op + linked timeout = 2).
  std::uint8_t outstanding = 0;
  /// Set when the op was refused before it reached the kernel; the result is this error.
  errc refused = errc::ok;
};
static_assert(sizeof(op_base) == 64, "op_base should stay one cache line");

namespace detail {

// user_data layout. LIFETIME: op pointers come from awaiters in coroutine frames, valid until their
// last CQE; user-space x86-64/arm64 pointers fit in 48 bits and are 8-aligned.
//   bits 48..63  generation
//   bits 0..2    tag: 0 an op, 1 the op's linked timeout, 2 a multishot slot (index << 3),
//                3 a MSG_RING doorbell this executor sent (pointer to the target's remote queue)
// Untagged values below reserved_limit name internal requests, never ops.
inline constexpr std::uint64_t pointer_mask = (std::uint64_t{1} << 48) - 1;
inline constexpr std::uint64_t tag_mask = 7;
inline constexpr std::uint64_t timer_tag = 1;
inline constexpr std::uint64_t multishot_tag = 2;
inline constexpr std::uint64_t doorbell_sent_tag = 3;
inline constexpr std::uint64_t reserved_limit = 4096;
inline constexpr std::uint64_t ud_internal = 0;   // cancels and other fire-and-forget SQEs
inline constexpr std::uint64_t ud_wakeup = 8;     // the executor's eventfd read
inline constexpr std::uint64_t ud_doorbell = 16;  // a CQE another ring posted here (MSG_RING)

inline std::uint64_t encode(const op_base& op) noexcept {
  return (std::uint64_t{op.generation} << 48) | reinterpret_cast<std::uintptr_t>(&op);
}

}  // namespace detail
}  // namespace uringcmd
