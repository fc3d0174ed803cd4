// SPDX-License-Identifier: MIT
// Heap allocation counter for the benchmark binary. alloc_counter.cpp replaces every global
// operator new/delete overload, so anything allocated through them (coroutine frames that miss
// the frame pool, std::function, vectors...) is counted. malloc() called directly is not.
#pragma once

#include <cstdint>

namespace uc_bench {

/// Number of successful global operator new calls (all overloads) since program start.
std::uint64_t allocation_count() noexcept;
/// Number of global operator delete calls with a non-null pointer since program start.
std::uint64_t deallocation_count() noexcept;

}  // namespace uc_bench
