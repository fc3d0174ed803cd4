// SPDX-License-Identifier: MIT
// Counting replacements for every replaceable global allocation function ([new.delete]):
// plain, array, nothrow, aligned and sized forms. They forward to malloc/free, so the counter
// adds two relaxed atomic increments and nothing else.
#include "alloc_counter.hpp"

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

namespace {

std::atomic<std::uint64_t> g_allocs{0};
std::atomic<std::uint64_t> g_frees{0};

void* allocate(std::size_t size) noexcept {
  void* p = std::malloc(size ? size : 1);
  if (p) g_allocs.fetch_add(1, std::memory_order_relaxed);
  return p;
}

void* allocate_aligned(std::size_t size, std::align_val_t al) noexcept {
  auto align = static_cast<std::size_t>(al);
  if (align < sizeof(void*)) align = sizeof(void*);
  void* p = nullptr;
  if (::posix_memalign(&p, align, size ? size : 1) != 0) return nullptr;
  g_allocs.fetch_add(1, std::memory_order_relaxed);
  return p;
}

void* allocate_or_throw(std::size_t size) {
  for (;;) {
    if (void* p = allocate(size)) return p;
    std::new_handler h = std::get_new_handler();
    if (!h) throw std::bad_alloc();
    h();
  }
}

void* allocate_aligned_or_throw(std::size_t size, std::align_val_t al) {
  for (;;) {
    if (void* p = allocate_aligned(size, al)) return p;
    std::new_handler h = std::get_new_handler();
    if (!h) throw std::bad_alloc();
    h();
  }
}

void release(void* p) noexcept {
  if (!p) return;
  g_frees.fetch_add(1, std::memory_order_relaxed);
  std::free(p);
}

}  // namespace

namespace uc_bench {
std::uint64_t allocation_count() noexcept { return g_allocs.load(std::memory_order_relaxed); }
std::uint64_t deallocation_count() noexcept { return g_frees.load(std::memory_order_relaxed); }
}  // namespace uc_bench

// ---- replaceable allocation functions ----
void* operator new(std::size_t size) { return allocate_or_throw(size); }
void* operator new[](std::size_t size) { return allocate_or_throw(size); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept { return allocate(size); }
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept { return allocate(size); }
void* operator new(std::size_t size, std::align_val_t al) { return allocate_aligned_or_throw(size, al); }
void* operator new[](std::size_t size, std::align_val_t al) { return allocate_aligned_or_throw(size, al); }
void* operator new(std::size_t size, std::align_val_t al, const std::nothrow_t&) noexcept {
  return allocate_aligned(size, al);
}
void* operator new[](std::size_t size, std::align_val_t al, const std::nothrow_t&) noexcept {
  return allocate_aligned(size, al);
}

// ---- replaceable deallocation functions ----
void operator delete(void* p) noexcept { release(p); }
void operator delete[](void* p) noexcept { release(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { release(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { release(p); }
void operator delete(void* p, std::size_t) noexcept { release(p); }
void operator delete[](void* p, std::size_t) noexcept { release(p); }
void operator delete(void* p, std::align_val_t) noexcept { release(p); }
void operator delete[](void* p, std::align_val_t) noexcept { release(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { release(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { release(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { release(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { release(p); }
