// SPDX-License-Identifier: MIT
// frame_pool: per-thread free lists per 64-byte size class, used by every promise type.
#include <cstddef>
#include <cstring>
#include <thread>
#include <vector>

#include <doctest/doctest.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

#include <uringcmd/detail/frame_pool.hpp>
#include <uringcmd/task.hpp>

using uringcmd::task;
using uringcmd::detail::frame_pool;

// The recycling cases below describe the pool itself; under ASan it is bypassed on purpose.
#define UC_NEEDS_POOL()                                              \
  do {                                                               \
    if (!frame_pool::enabled) {                                      \
      MESSAGE("frame pool bypassed under AddressSanitizer");         \
      return;                                                        \
    }                                                                \
  } while (0)

TEST_CASE("a freed block is handed out again for any size in its class") {
  UC_NEEDS_POOL();
  void* a = frame_pool::allocate(100);  // class 1: 65..128 bytes
  std::memset(a, 0xAB, 128);            // the whole class size is usable (ASan checks this)
  frame_pool::deallocate(a, 100);
  void* b = frame_pool::allocate(65);
  CHECK(b == a);
  void* c = frame_pool::allocate(128);  // the list is empty again: a new block
  CHECK(c != a);
  frame_pool::deallocate(b, 65);
  frame_pool::deallocate(c, 128);
  // LIFO: the last freed comes back first, then the one before.
  CHECK(frame_pool::allocate(70) == c);
  CHECK(frame_pool::allocate(127) == b);
  frame_pool::deallocate(b, 127);
  frame_pool::deallocate(c, 70);
}

TEST_CASE("size classes do not mix") {
  UC_NEEDS_POOL();
  void* small = frame_pool::allocate(64);   // class 0
  frame_pool::deallocate(small, 64);
  void* big = frame_pool::allocate(65);     // class 1 must not receive the 64-byte block
  CHECK(big != small);
  CHECK(frame_pool::allocate(1) == small);
  frame_pool::deallocate(big, 65);
  frame_pool::deallocate(small, 1);
}

TEST_CASE("frames over 2 KiB bypass the pool") {
  UC_NEEDS_POOL();
  void* huge = frame_pool::allocate(4096);
  std::memset(huge, 0, 4096);
  frame_pool::deallocate(huge, 4096);  // straight to operator delete; ASan flags a mismatch
  void* last = frame_pool::allocate(frame_pool::classes * frame_pool::granule);  // largest pooled class
  frame_pool::deallocate(last, frame_pool::classes * frame_pool::granule);
  CHECK(frame_pool::allocate(frame_pool::classes * frame_pool::granule - 1) == last);
  frame_pool::deallocate(last, frame_pool::classes * frame_pool::granule - 1);
}

TEST_CASE("a block freed on another thread joins that thread's list") {
  UC_NEEDS_POOL();
  void* a = frame_pool::allocate(200);
  void* again = nullptr;
  std::thread t([&] {
    frame_pool::deallocate(a, 200);
    again = frame_pool::allocate(200);  // from this thread's list
    frame_pool::deallocate(again, 200);  // freed for good when the thread exits
  });
  t.join();
  CHECK(again == a);
}

namespace {
task<int> answer(int x) { co_return x * 2; }
}  // namespace

TEST_CASE("task frames are recycled: the same frame address comes back") {
  UC_NEEDS_POOL();
  void* first;
  {
    auto t = answer(1);
    auto h = t.release();
    first = h.address();
    h.destroy();
  }
  auto t2 = answer(2);
  auto h2 = t2.release();
  CHECK(h2.address() == first);
  h2.resume();  // runs to final_suspend; the value is in the promise
  CHECK(h2.done());
  CHECK(h2.promise().take() == 4);
  h2.destroy();
}

TEST_CASE("under AddressSanitizer a freed frame is poisoned, so a use after free is reported") {
#if defined(__SANITIZE_ADDRESS__)
  CHECK_FALSE(frame_pool::enabled);
  void* a = frame_pool::allocate(100);
  CHECK_FALSE(__asan_address_is_poisoned(a));
  frame_pool::deallocate(a, 100);
  CHECK(__asan_address_is_poisoned(a));  // a recycled, unpoisoned block would hide the bug
#else
  CHECK(frame_pool::enabled);
#endif
}

TEST_CASE("a thread keeps at most max_kept blocks per class; the rest go back to the heap") {
  UC_NEEDS_POOL();
  std::thread t([] {
    const std::size_t before = frame_pool::heap_blocks();
    std::vector<void*> blocks;
    for (std::size_t i = 0; i < frame_pool::max_kept + 10; ++i) blocks.push_back(frame_pool::allocate(300));
    CHECK(frame_pool::heap_blocks() == before + frame_pool::max_kept + 10);
    for (void* b : blocks) frame_pool::deallocate(b, 300);
    CHECK(frame_pool::heap_blocks() == before + frame_pool::max_kept);  // migrating frames cannot pile up
  });
  t.join();
}
