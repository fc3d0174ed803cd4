// SPDX-License-Identifier: MIT
// remote_queue: how other threads hand work to an executor. A lock-free LIFO of intrusive nodes
// (reversed on take, so the executor sees them in arrival order) plus a doorbell: the producer
// that finds the queue empty rings it, with an IORING_OP_MSG_RING from its own ring when it runs an
// executor that has one, or a write to the target's eventfd otherwise. The atomics, not the
// doorbell, carry the happens-before edge, so ThreadSanitizer sees every hand-off.
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <mutex>
#include <unordered_set>
#include <system_error>

#include <uringcmd/error.hpp>

namespace uringcmd {
class executor;
}

namespace uringcmd::detail {

/// One unit of cross-thread work. `run` is called on the target executor's thread; it may throw
/// (a posted function) and may free the node. `discard`, when set, frees a node that will never
/// run (its executor was destroyed before it ever ran).
struct remote_node {
  remote_node* next = nullptr;
  void (*run)(remote_node&, executor&) = nullptr;
  void (*discard)(remote_node&) noexcept = nullptr;
};

class remote_queue {
 public:
  remote_queue() {
    event_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (event_fd_ < 0) throw system_error(errno_code(errno), "eventfd");
    try {
      std::lock_guard lock(registry_mutex());
      registry().insert(this);
    } catch (...) {
      ::close(event_fd_);
      throw;
    }
  }
  ~remote_queue() {
    {
      std::lock_guard lock(registry_mutex());
      registry().erase(this);
    }
    ::close(event_fd_);
  }
  remote_queue(const remote_queue&) = delete;
  remote_queue& operator=(const remote_queue&) = delete;

  /// Pushes `n`; true when the queue was empty, i.e. the caller must ring the doorbell.
  bool push(remote_node& n) noexcept {
    remote_node* old = head_.load(std::memory_order_relaxed);
    do {
      n.next = old;
    } while (!head_.compare_exchange_weak(old, &n, std::memory_order_release, std::memory_order_relaxed));
    return old == nullptr;
  }

  /// Takes everything queued, oldest first.
  remote_node* take_all() noexcept {
    remote_node* n = head_.exchange(nullptr, std::memory_order_acquire);
    remote_node* oldest_first = nullptr;
    while (n) {
      remote_node* next = n->next;
      n->next = oldest_first;
      oldest_first = n;
      n = next;
    }
    return oldest_first;
  }

  int event_fd() const noexcept { return event_fd_; }

  /// A MSG_RING doorbell to `q` failed: ring its eventfd instead, if `q` still exists (its
  /// executor may have been destroyed since; a new queue at the same address only gets a
  /// spurious wake-up). Rare, so a process-wide lock is fine.
  static void ring_eventfd_if_alive(const remote_queue* q) noexcept {
    std::lock_guard lock(registry_mutex());
    if (registry().count(q)) q->ring_eventfd();
  }
  void ring_eventfd() const noexcept {
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(event_fd_, &one, sizeof one);  // EAGAIN only at 2^64-2: rung anyway
  }

  /// The ring fd MSG_RING doorbells target while the executor accepts them (enabled and not
  /// stopping), or -1: the producer then writes the eventfd.
  int msg_ring_target() const noexcept { return msg_ring_fd_.load(std::memory_order_acquire); }
  void accept_msg_ring(int ring_fd) noexcept { msg_ring_fd_.store(ring_fd, std::memory_order_release); }

 private:
  static std::mutex& registry_mutex() noexcept {
    static std::mutex m;
    return m;
  }
  static std::unordered_set<const remote_queue*>& registry() noexcept {
    static auto* live = new std::unordered_set<const remote_queue*>;  // never destroyed: used to the end
    return *live;
  }

  std::atomic<remote_node*> head_{nullptr};
  std::atomic<int> msg_ring_fd_{-1};
  int event_fd_ = -1;
};

}  // namespace uringcmd::detail
