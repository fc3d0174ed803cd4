// SPDX-License-Identifier: MIT
// ublk::queue: one hardware queue of a ublk device, served in copy mode (a buffer per tag).
//
// serve() runs on the thread that will serve the queue (the kernel records the task that issued
// the FETCH commands and accepts COMMITs only from it). It maps the queue's read-only descriptor
// array from /dev/ublkcN, builds an executor, and starts one coroutine per tag:
//
//   FETCH_REQ(tag, buffer) -> descriptor -> target.handle() -> COMMIT_AND_FETCH_REQ(result) -> ...
//
// Once every FETCH has been submitted it calls on_fetched (START_DEV may be sent from then on).
// A FETCH / COMMIT_AND_FETCH completing with UBLK_IO_RES_ABORT (-ENODEV: the device stops) ends
// that tag's loop; serve() returns when every loop has ended, after the executor is gone.
//
// The FETCH commands are long-lived ops parked in the kernel: the executor has no admission limit
// (executor.hpp), and the ring is sized for depth parked commands plus one target I/O per tag.
// Steady state allocates nothing: the per-tag loops live as long as the queue, the uring_cmd
// awaiters live in their frames, and the target's task frames come from the thread's frame pool.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <system_error>
#include <utility>

#include <uringcmd/executor.hpp>
#include <uringcmd/result.hpp>
#include <uringcmd/task.hpp>
#include <uringcmd/ublk/error.hpp>
#include <uringcmd/ublk/target.hpp>
#include <uringcmd/ublk/uapi.hpp>
#include <uringcmd/uring_cmd.hpp>

namespace uringcmd::ublk {

/// The ring a queue of `depth` tags needs: depth parked FETCHes + depth target I/Os + slack.
inline ring_options queue_ring_options(std::uint16_t depth) {
  ring_options o;
  unsigned n = 16;
  while (n < 2u * depth) n <<= 1;
  o.entries = n;
  o.max_in_flight = 2u * depth + 8;
  return o;
}

struct queue_stats {
  std::uint64_t served = 0;   ///< requests committed
  std::uint64_t aborted = 0;  ///< tags that ended on UBLK_IO_RES_ABORT
};

template <target Target>
class queue {
 public:
  /// `char_fd`: /dev/ublkcN, open; `info`: the dev_info ADD_DEV returned (depth, max_io_buf_bytes).
  queue(int char_fd, const ctrl_dev_info& info, std::uint16_t q_id, Target& tgt) noexcept
      : fd_(char_fd), q_id_(q_id), depth_(info.queue_depth), buf_bytes_(info.max_io_buf_bytes), target_(tgt) {}
  queue(const queue&) = delete;
  queue& operator=(const queue&) = delete;

  /// Serves the queue on this thread until the device stops (see the top of the file).
  /// on_fetched gets the setup's outcome exactly once: success after the FETCHes went out, or the
  /// error that stopped serve() before that (then serve() returns it too).
  result<void> serve(const std::function<void(result<void>)>& on_fetched) {
    const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
    const std::uint64_t map_len = desc_map_size(depth_, page);
    void* descs = ::mmap(nullptr, map_len, PROT_READ, MAP_SHARED | MAP_POPULATE, fd_,
                         static_cast<off_t>(desc_offset(q_id_, page)));
    if (descs == MAP_FAILED) return report(on_fetched, errno_code(errno));
    const std::size_t buf_len = std::size_t{depth_} * buf_bytes_;
    void* bufs = ::mmap(nullptr, buf_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (bufs == MAP_FAILED) {
      const int e = errno;
      ::munmap(descs, map_len);
      return report(on_fetched, errno_code(e));
    }
    descs_ = static_cast<const io_desc*>(descs);
    bufs_ = static_cast<std::byte*>(bufs);
    result<void> outcome;
    bool reported = false;
    try {
      executor ex(queue_ring_options(depth_));
      for (std::uint16_t t = 0; t < depth_; ++t) ex.spawn(serve_tag(t));
      ex.run_once(false);  // the loops start and queue their FETCHes
      ex.run_once(false);  // ... which this thread submits
      if (error_) outcome = fail(error_);
      reported = true;
      on_fetched(outcome);
      ex.run();
      if (outcome && error_) outcome = fail(error_);
    } catch (const std::system_error& e) {
      outcome = fail(e.code());
    }
    if (!reported) on_fetched(outcome);
    ::munmap(bufs, buf_len);
    ::munmap(descs, map_len);
    descs_ = nullptr;
    bufs_ = nullptr;
    return outcome;
  }

  queue_stats stats() const noexcept { return {served_.load(std::memory_order_relaxed), aborted_.load(std::memory_order_relaxed)}; }
  /// The first unexpected error a tag's loop ended on (none when it ended on ABORT).
  std::error_code error() const noexcept { return error_; }

 private:
  static result<void> report(const std::function<void(result<void>)>& cb, std::error_code e) {
    result<void> r = fail(e);
    cb(r);
    return r;
  }

  task<void> serve_tag(std::uint16_t tag) {
    std::byte* const buf = bufs_ + std::size_t{tag} * buf_bytes_;
    io_cmd c;
    c.q_id = q_id_;
    c.tag = tag;
    c.result = -1;
    c.addr = reinterpret_cast<std::uintptr_t>(buf);
    auto r = co_await uring_cmd(fd_, io_cmd_op::fetch_req, c);
    std::uint32_t last_op = io_cmd_op::fetch_req;
    for (;;) {
      if (!r) {
        const std::error_code e = r.error();
        if (e == std::errc::no_such_device || e == std::errc::operation_canceled) {
          aborted_.fetch_add(1, std::memory_order_relaxed);
        } else if (!error_) {
          error_ = e.category() == std::system_category() ? command_error(last_op, e.value()) : e;
        }
        co_return;
      }
      const io_request req = decode(descs_[tag], q_id_, tag);
      int res;
      if (req.has_data() && req.bytes > buf_bytes_) {
        res = -EIO;
      } else {
        res = co_await target_.handle(req, std::span<std::byte>(buf, req.has_data() ? req.bytes : 0));
      }
      served_.fetch_add(1, std::memory_order_relaxed);
      c.result = res;
      last_op = io_cmd_op::commit_and_fetch_req;
      r = co_await uring_cmd(fd_, io_cmd_op::commit_and_fetch_req, c);
    }
  }

  int fd_;
  std::uint16_t q_id_;
  std::uint16_t depth_;
  std::uint32_t buf_bytes_;
  Target& target_;
  const io_desc* descs_ = nullptr;
  std::byte* bufs_ = nullptr;
  std::error_code error_;
  std::atomic<std::uint64_t> served_{0};
  std::atomic<std::uint64_t> aborted_{0};
};

}  // namespace uringcmd::ublk
