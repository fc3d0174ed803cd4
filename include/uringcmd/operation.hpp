// SPDX-License-Identifier: MIT
// op_base: the executor's view of one submission. It lives inside an awaiter, i.e. in the awaiting
// coroutine's frame, from the moment it is started until its last CQE has been copied into it.
#pragma once

#include <coroutine>
#include <cstdint>

#include <liburing.h>

#include <uringcmd/completion.hpp>

namespace uringcmd {

class executor;

struct op_base {
  /// Fills the op's SQE. Called once, from executor::start or later when the ring has room;
  /// everything the SQE points to must already live in the awaiter.
  using prepare_fn = void (*)(op_base&, io_uring_sqe&) noexcept;

  // Only link_timeout needs a value before start(); everything else is written before it is
  // read, and a user-provided constructor keeps `return {};` from zeroing ~64 bytes per op.
  op_base() noexcept {}

  op_base* next;  // intrusive link: pending or ready list
  prepare_fn prepare;
  union {  // in a union: not zeroed by construction, it is always set before use
    std::coroutine_handle<> waiter;
  };
  completion cqe;
  /// When set, a LINK_TIMEOUT SQE is linked behind the op (see with_timeout).
  const __kernel_timespec* link_timeout = nullptr;
  /// Result of the linked timeout's CQE: -ETIME when it fired.
  std::int32_t timeout_res;
  /// Generation stamped into user_data, so a late cancel cannot hit a later op at this address.
  std::uint16_t generation;
  /// CQEs still expected: the op resumes when this reaches zero (op + linked timeout = 2).
  std::uint8_t outstanding;
};

namespace detail {

// user_data layout. LIFETIME: op pointers come from awaiters in coroutine frames, valid until their
// last CQE; user-space x86-64/arm64 pointers fit in 48 bits and are 8-aligned.
//   bits 48..63  generation
//   bit  0       1 = the linked-timeout CQE of the op at (ud & pointer_mask & ~1)
// Values whose pointer part is below reserved_limit name internal requests, never ops.
inline constexpr std::uint64_t pointer_mask = (std::uint64_t{1} << 48) - 1;
inline constexpr std::uint64_t timer_tag = 1;
inline constexpr std::uint64_t reserved_limit = 4096;
inline constexpr std::uint64_t ud_internal = 0;  // cancels and other fire-and-forget SQEs
inline constexpr std::uint64_t ud_wakeup = 8;    // the executor's eventfd read

inline std::uint64_t encode(const op_base& op) noexcept {
  return (std::uint64_t{op.generation} << 48) | reinterpret_cast<std::uintptr_t>(&op);
}

}  // namespace detail
}  // namespace uringcmd
