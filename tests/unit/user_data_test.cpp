// SPDX-License-Identifier: MIT
// user_data encoding: generation in the top 16 bits, the op pointer below, bit 0 free for the
// linked-timeout tag, small values reserved for internal requests.
#include <cstdint>

#include <doctest/doctest.h>

#include <uringcmd/operation.hpp>

using namespace uringcmd;

TEST_CASE("encode puts the generation above a 48-bit pointer") {
  op_base op;
  const auto addr = reinterpret_cast<std::uintptr_t>(&op);
  op.generation = 0xBEEF;
  const std::uint64_t ud = detail::encode(op);
  CHECK((ud >> 48) == 0xBEEF);
  CHECK((ud & detail::pointer_mask) == addr);
  op.generation = 0xBEF0;
  CHECK(detail::encode(op) != ud);  // a late cancel for the old generation cannot hit this op
}

TEST_CASE("the layout assumptions hold for ops on the stack and the heap") {
  op_base on_stack;
  auto* on_heap = new op_base;
  for (const op_base* op : {static_cast<const op_base*>(&on_stack), static_cast<const op_base*>(on_heap)}) {
    const auto addr = reinterpret_cast<std::uintptr_t>(op);
    CHECK((addr & detail::timer_tag) == 0);            // bit 0 is free for the timer tag
    CHECK((addr & ~detail::pointer_mask) == 0);         // fits in 48 bits
    CHECK(addr >= detail::reserved_limit);              // never mistaken for an internal request
  }
  delete on_heap;
  static_assert(alignof(op_base) >= 2, "bit 0 of an op's address must be zero");
  CHECK(detail::ud_wakeup < detail::reserved_limit);
  CHECK(detail::ud_internal < detail::reserved_limit);
  CHECK(detail::ud_wakeup != detail::ud_internal);
}

TEST_CASE("the timer tag survives the generation and is stripped by the mask") {
  op_base op;
  op.generation = 7;
  const std::uint64_t timer_ud = detail::encode(op) | detail::timer_tag;
  const std::uint64_t p = timer_ud & detail::pointer_mask;
  CHECK((p & detail::timer_tag) != 0);
  CHECK(reinterpret_cast<op_base*>(p & ~detail::timer_tag) == &op);
}
