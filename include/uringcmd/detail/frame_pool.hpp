// SPDX-License-Identifier: MIT
// Per-thread recycling allocator for coroutine frames.
//
// Why: g++ 12 does not elide nested coroutine frames, so every `co_await some_task()` would pay a
// malloc + free (measured: -10..12% at the NOP ceiling). Frames come in a handful of sizes, so a
// per-thread free list per 64-byte size class turns them into a pointer pop after warm-up.
//
// Under AddressSanitizer the pool is bypassed: a recycled block would hide a use-after-free of a
// coroutine frame from the sanitizer.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <new>
#include <utility>

#if defined(__SANITIZE_ADDRESS__)
#define UC_FRAME_POOL_ENABLED 0
#else
#define UC_FRAME_POOL_ENABLED 1
#endif

namespace uringcmd::detail {

class frame_pool {
 public:
  static constexpr std::size_t granule = 64;
  static constexpr std::size_t classes = 32;  // frames up to 2 KiB are pooled
  /// Blocks kept per class and thread. Frames that migrate between threads (runtime hand-offs) are
  /// freed where they end; the cap keeps such a thread's lists from growing without bound.
  static constexpr std::size_t max_kept = 256;
  static constexpr bool enabled = UC_FRAME_POOL_ENABLED;

  static void* allocate(std::size_t size) {
    const std::size_t c = class_of(size);
    if (!enabled || c >= classes) return heap_new(size);
    lists* l = local();
    if (l) {
      if (node* n = l->heads[c]) {
        l->heads[c] = n->next;
        --l->counts[c];
        return n;
      }
    }
    return heap_new((c + 1) * granule);
  }

  static void deallocate(void* p, std::size_t size) noexcept {
    const std::size_t c = class_of(size);
    lists* l = enabled && c < classes ? local() : nullptr;
    // No list (too big, pool off, or this thread's lists already destroyed at thread exit) or a
    // full one: back to the heap. A frame freed on another thread joins that thread's list.
    if (!l || l->counts[c] >= max_kept) {
      heap_delete(p);
      return;
    }
    l->heads[c] = new (p) node{l->heads[c]};
    ++l->counts[c];
  }

  /// Blocks currently taken from the heap by the pool, in use or kept in a list (all threads).
  static std::size_t heap_blocks() noexcept { return blocks().load(std::memory_order_relaxed); }
  /// Readies this thread's lists now, so that they outlive thread_local objects constructed after
  /// this call (an executor calls it first: its frames are freed while it is destroyed).
  static void prepare_thread() noexcept { (void)local(); }

 private:
  struct node {
    node* next;
  };
  struct lists {
    std::array<node*, classes> heads{};
    std::array<std::size_t, classes> counts{};
    ~lists() {
      for (node*& h : heads)
        while (h) heap_delete(std::exchange(h, h->next));
      tls().current = nullptr;
      tls().dead = true;
    }
  };
  // Trivially destructible, so valid to the very end of the thread: after the lists are gone,
  // frames freed by later thread_local destructors go straight to the heap.
  struct tls_state {
    lists* current = nullptr;
    bool dead = false;
  };
  static tls_state& tls() noexcept {
    static constinit thread_local tls_state s;
    return s;
  }
  static std::size_t class_of(std::size_t size) noexcept { return (size + granule - 1) / granule - 1; }
  static lists* local() noexcept {
    if (lists* l = tls().current) [[likely]] return l;
    return first_use();
  }
  [[gnu::noinline]] static lists* first_use() noexcept {
    if (tls().dead) return nullptr;
    thread_local lists l;
    tls().current = &l;
    return &l;
  }
  static std::atomic<std::size_t>& blocks() noexcept {
    static constinit std::atomic<std::size_t> n{0};
    return n;
  }
  static void* heap_new(std::size_t size) {
    void* p = ::operator new(size);
    blocks().fetch_add(1, std::memory_order_relaxed);
    return p;
  }
  static void heap_delete(void* p) noexcept {
    blocks().fetch_sub(1, std::memory_order_relaxed);
    ::operator delete(p);
  }
};

/// Mixin for promise types: frames come from frame_pool.
struct pooled_frame {
  static void* operator new(std::size_t size) { return frame_pool::allocate(size); }
  static void operator delete(void* p, std::size_t size) noexcept { frame_pool::deallocate(p, size); }
};

}  // namespace uringcmd::detail
