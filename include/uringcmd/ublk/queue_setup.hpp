// SPDX-License-Identifier: MIT
// What every kind of ublk queue (queue.hpp, batch_queue.hpp) sets up the same way before it serves:
//
//   mapping          an mmap that is unmapped when it goes away: the queue's read-only descriptor
//                    array from /dev/ublkcN (descriptors()) or anonymous memory (anonymous()).
//   register_files   the ring's file table: /dev/ublkcN at char_file_index, then the target's own
//                    files (file_target, target.hpp) from first_target_file on, so that every
//                    command and target I/O names its file by index (no file lookup per SQE).
//   char_file        /dev/ublkcN as the queue's commands name it (fixed file char_file_index).
//   count            the per-request counters (served, ...): single writer, no locked RMW.
//   target_exceptions   what a queue keeps of the exceptions its target's handlers let escape.
//   report_once      hands serve()'s setup outcome to on_fetched exactly once.
//   serve_on_own_executor   serve(on_fetched): a queue served on an executor of its thread's own,
//                    for callers without a runtime (device.hpp serves each queue on a runtime core).
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <span>
#include <system_error>
#include <utility>
#include <vector>

#include <uringcmd/error.hpp>
#include <uringcmd/executor.hpp>
#include <uringcmd/fd.hpp>
#include <uringcmd/result.hpp>
#include <uringcmd/ring_options.hpp>
#include <uringcmd/ublk/target.hpp>
#include <uringcmd/ublk/uapi.hpp>

namespace uringcmd::ublk {

/// An mmap owned: unmapped in the destructor.
class mapping {
 public:
  mapping() = default;
  mapping(mapping&& o) noexcept : addr_(std::exchange(o.addr_, nullptr)), len_(std::exchange(o.len_, 0)) {}
  mapping& operator=(mapping&& o) noexcept {
    std::swap(addr_, o.addr_);
    std::swap(len_, o.len_);
    return *this;
  }
  ~mapping() {
    if (addr_) ::munmap(addr_, len_);
  }

  /// Queue `q`'s descriptor array of `depth` entries, read-only, from /dev/ublkcN.
  static result<mapping> descriptors(int char_fd, std::uint16_t q, std::uint16_t depth) {
    const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
    const auto len = static_cast<std::size_t>(desc_map_size(depth, page));
    return map(len, PROT_READ, MAP_SHARED | MAP_POPULATE, char_fd, static_cast<off_t>(desc_offset(q, page)));
  }
  /// `len` bytes of private anonymous memory: pages never touched cost nothing.
  static result<mapping> anonymous(std::size_t len) {
    return map(len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  }

  std::byte* data() const noexcept { return static_cast<std::byte*>(addr_); }
  std::size_t size() const noexcept { return len_; }

 private:
  static result<mapping> map(std::size_t len, int prot, int flags, int fd, off_t off) {
    void* p = ::mmap(nullptr, len, prot, flags, fd, off);
    if (p == MAP_FAILED) return fail(errno_code(errno));
    mapping m;
    m.addr_ = p;
    m.len_ = len;
    return m;
  }
  void* addr_ = nullptr;
  std::size_t len_ = 0;
};

/// Registers /dev/ublkcN and the target's files (if it has any) in the ring of `ex`.
template <class Target>
result<void> register_files(executor& ex, int char_fd, const Target& tgt) {
  std::vector<int> fds{char_fd};
  if constexpr (file_target<Target>) {
    const std::span<const int> own = tgt.files();
    fds.insert(fds.end(), own.begin(), own.end());
  }
  return ex.register_files(fds);
}

/// /dev/ublkcN in the queue ring's file table: what the queue's commands name.
inline fd_ref char_file() noexcept { return fixed_file(char_file_index); }

/// One more in a queue counter: only the queue's thread writes it (others read it), so a load and
/// a store do, without a locked read-modify-write per request.
inline void count(std::atomic<std::uint64_t>& n) noexcept {
  n.store(n.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

/// An exception escaping a target's handler fails that request with EIO and the queue serves on
/// (a tag loop that died with it would leave the request, and STOP_DEV's drain, hanging). The
/// queue's thread notes each one here; the first is kept for the device's owner to rethrow.
class target_exceptions {
 public:
  void note() noexcept {
    if (!first_) first_ = std::current_exception();
    ublk::count(count_);
  }
  /// The first one, once the queue has ended (its thread wrote it).
  std::exception_ptr first() const noexcept { return first_; }
  /// How many so far: any thread.
  std::uint64_t count() const noexcept { return count_.load(std::memory_order_relaxed); }

 private:
  std::exception_ptr first_;
  std::atomic<std::uint64_t> count_{0};
};

/// serve()'s on_fetched, called at most once: the first outcome given is the one reported.
class report_once {
 public:
  explicit report_once(const std::function<void(result<void>)>& cb) noexcept : cb_(cb) {}
  /// Reports `r` unless something was reported already.
  void operator()(const result<void>& r) {
    if (!done_) {
      done_ = true;
      cb_(r);
    }
  }
  /// Setup failed with `e`: reports it (if first) and returns it, for serve() to return.
  result<void> failed(std::error_code e) {
    const result<void> r = fail(e);
    (*this)(r);
    return r;
  }

 private:
  const std::function<void(result<void>)>& cb_;
  bool done_ = false;
};

/// A queue kind's serve(on_fetched): serves `q` (q.serve(executor&, on_fetched)) on an executor
/// of this thread's own, built with `ring` (a failure to build it is reported like any other setup
/// error) and gone, its in-flight I/O cancelled, before this returns.
template <class Queue>
result<void> serve_on_own_executor(Queue& q, const ring_options& ring,
                                   const std::function<void(result<void>)>& on_fetched) {
  std::optional<executor> ex;
  try {
    ex.emplace(ring);
  } catch (const std::system_error& e) {
    return report_once(on_fetched).failed(e.code());
  }
  return q.serve(*ex, on_fetched);
}

}  // namespace uringcmd::ublk
