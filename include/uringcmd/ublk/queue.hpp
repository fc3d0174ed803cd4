// SPDX-License-Identifier: MIT
// ublk::queue: one hardware queue of a ublk device, served in copy, user-copy or zero-copy mode
// (mode.hpp).
//
// serve() runs on the thread that will serve the queue (the kernel records the task that issued
// the FETCH commands and accepts COMMITs only from it). It maps the queue's read-only descriptor
// array from /dev/ublkcN, registers /dev/ublkcN (and the target's own files, target.hpp) in the
// file table of the ring it serves on (the runtime core's that device.hpp gives it, or one it
// builds), so every command names it by index (queue_setup.hpp), and starts one coroutine per tag:
//
//   FETCH_REQ(tag, buffer) -> descriptor -> target.handle() -> COMMIT_AND_FETCH_REQ(result) -> ...
//
// How the data moves, by mode:
//   copy       FETCH carries the tag's buffer; the kernel copies into / out of it.
//   user_copy  FETCH carries no buffer; for a WRITE the queue reads the data from /dev/ublkcN
//              (user_copy_offset) into the tag's buffer before handle(), for a READ it writes the
//              buffer back after it. Both are plain read/write ops on this queue's ring.
//   zero_copy  FETCH / COMMIT carry auto_buf_reg{index = tag, FALLBACK} in the SQE's addr; the ring has a sparse
//              buffer table of depth slots, the kernel registers each request's pages at its tag
//              and unregisters them at COMMIT. READ/WRITE go to handle_fixed(req, tag). When the
//              kernel could not register (io_flag::need_reg_buf), the queue registers the pages
//              itself with REGISTER_IO_BUF, calls handle_fixed() and unregisters them before COMMIT.
//
// Once every FETCH has been submitted it calls on_fetched (START_DEV may be sent from then on).
// A FETCH / COMMIT_AND_FETCH completing with UBLK_IO_RES_ABORT (-ENODEV: the device stops) ends
// that tag's loop; serve() returns when every loop has ended.
//
// The FETCH commands are long-lived ops parked in the kernel: the executor has no admission limit
// (executor.hpp), and the ring is sized for depth parked commands plus one target I/O per tag.
// Steady state allocates nothing: the per-tag loops live as long as the queue, the io_command
// awaiters live in their frames, and the target's task frames come from the thread's frame pool.
#pragma once

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
#include <uringcmd/ops.hpp>
#include <uringcmd/ublk/error.hpp>
#include <uringcmd/ublk/io_command.hpp>
#include <uringcmd/ublk/mode.hpp>
#include <uringcmd/ublk/queue_setup.hpp>
#include <uringcmd/ublk/target.hpp>
#include <uringcmd/ublk/uapi.hpp>

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
  std::uint64_t served = 0;     ///< requests committed
  std::uint64_t aborted = 0;    ///< tags that ended on UBLK_IO_RES_ABORT
  std::uint64_t fallbacks = 0;  ///< zero copy: requests whose pages the queue registered itself
  std::uint64_t commits = 0;    ///< batch mode: COMMIT_IO_CMDS sent (served / commits: requests per batch)
};

template <target Target>
class queue {
 public:
  /// `char_fd`: /dev/ublkcN, open; `info`: the dev_info ADD_DEV returned (depth, max_io_buf_bytes,
  /// and the granted flags, which say the data mode).
  /// `force_fallback` (zero copy, for tests): ask the kernel to register each request's pages at
  /// an index past the table, so that every READ/WRITE takes the need_reg_buf path.
  queue(int char_fd, const ctrl_dev_info& info, std::uint16_t q_id, Target& tgt, bool force_fallback = false) noexcept
      : fd_(char_fd), q_id_(q_id), depth_(info.queue_depth), buf_bytes_(info.max_io_buf_bytes),
        mode_(mode_of(info.flags)), force_fallback_(force_fallback), target_(tgt) {}
  queue(const queue&) = delete;
  queue& operator=(const queue&) = delete;

  /// Serves the queue on this thread until the device stops (see the top of the file), on an
  /// executor of its own. on_fetched gets the setup's outcome exactly once: success after the
  /// FETCHes went out, or the error that stopped serve() before that (then serve() returns it too).
  result<void> serve(const std::function<void(result<void>)>& on_fetched) {
    return serve_on_own_executor(*this, queue_ring_options(depth_), on_fetched);
  }

  /// The same on `ex`, which this thread runs (a runtime core's, device.hpp): its ring sized by
  /// queue_ring_options(depth) and with nothing registered yet. Once, per queue. Returns when
  /// every tag's loop has ended; the ring keeps the registrations.
  result<void> serve(executor& ex, const std::function<void(result<void>)>& on_fetched) {
    report_once report(on_fetched);
    auto descs = mapping::descriptors(fd_, q_id_, depth_);
    if (!descs) return report.failed(descs.error());
    // Zero copy never touches these: untouched anonymous pages cost nothing.
    auto bufs = mapping::anonymous(std::size_t{depth_} * buf_bytes_);
    if (!bufs) return report.failed(bufs.error());
    descs_map_ = std::move(*descs);
    bufs_map_ = std::move(*bufs);
    descs_ = reinterpret_cast<const io_desc*>(descs_map_.data());
    bufs_ = bufs_map_.data();
    result<void> outcome;
    bool loops_live = false;
    try {
      if (auto r = register_files(ex, fd_, target_); !r) throw std::system_error(r.error(), "io_uring_register_files");
      if (mode_ == data_mode::zero_copy) {
        // The slots the kernel registers each tag's request pages in (index = tag).
        const int r = io_uring_register_buffers_sparse(&ex.ring().native(), depth_);
        if (r < 0) throw std::system_error(errno_code(-r), "io_uring_register_buffers_sparse");
      }
      loops_live = true;
      for (std::uint16_t t = 0; t < depth_; ++t) ex.spawn(serve_tag(t));
      ex.run_once(false);  // the loops start and queue their FETCHes
      ex.run_once(false);  // ... which this thread submits
      if (error_) outcome = fail(error_);
      report(outcome);
      ex.run();
      loops_live = false;
      if (outcome && error_) outcome = fail(error_);
    } catch (const std::system_error& e) {
      outcome = fail(e.code());
    }
    report(outcome);
    // Unmapped now: the descriptor mapping holds /dev/ublkcN open, and DEL_DEV waits for that.
    // After an error I/O may still use them until `ex` is gone: release() then, once it is.
    if (!loops_live) release();
    return outcome;
  }

  /// Unmaps what serve() mapped. Only once nothing can use it: serve() ended normally, or the
  /// executor it served on is gone (device.hpp calls it after stopping the runtime).
  void release() noexcept {
    descs_map_ = {};
    bufs_map_ = {};
  }

  queue_stats stats() const noexcept {
    return {served_.load(std::memory_order_relaxed), aborted_.load(std::memory_order_relaxed),
            fallbacks_.load(std::memory_order_relaxed), 0};
  }
  data_mode mode() const noexcept { return mode_; }
  /// The first unexpected error a tag's loop ended on (none when it ended on ABORT).
  std::error_code error() const noexcept { return error_; }
  /// The exceptions the target let escape (each failed its request with EIO).
  const target_exceptions& thrown() const noexcept { return thrown_; }

 private:
  /// What FETCH / COMMIT_AND_FETCH carry: the tag's buffer in io_cmd::addr (copy mode only), and
  /// in zero-copy mode where the kernel registers the next request's pages, in the SQE's addr.
  std::uint64_t buffer_addr(std::byte* buf) const noexcept {
    return mode_ == data_mode::copy ? reinterpret_cast<std::uintptr_t>(buf) : 0;
  }
  std::uint64_t sqe_addr(std::uint16_t tag) const noexcept {
    if (mode_ != data_mode::zero_copy) return 0;
    return encode(auto_buf_reg{force_fallback_ ? std::uint16_t{0xffff} : tag, auto_buf_reg_fallback});
  }

  task<void> serve_tag(std::uint16_t tag) {
    std::byte* const buf = bufs_ + std::size_t{tag} * buf_bytes_;
    io_cmd c;
    c.q_id = q_id_;
    c.tag = tag;
    c.result = -1;
    c.addr = buffer_addr(buf);
    const std::uint64_t addr = sqe_addr(tag);
    auto r = co_await io_command(io_cmd_op::fetch_req, c, addr);
    std::uint32_t last_op = io_cmd_op::fetch_req;
    for (;;) {
      if (!r) {
        const std::error_code e = r.error();
        if (e == std::errc::no_such_device || e == std::errc::operation_canceled) {
          count(aborted_);
        } else if (!error_) {
          error_ = e.category() == std::system_category() ? command_error(last_op, e.value()) : e;
        }
        co_return;
      }
      const io_request req = decode(descs_[tag], q_id_, tag);
      int res = -EIO;
      try {
        if (req.has_data() && req.bytes > buf_bytes_) {
          res = -EIO;
        } else if (!req.has_data()) {
          res = co_await awaitable(target_.handle(req, {}));
        } else if (mode_ == data_mode::user_copy) {
          res = co_await handle_user_copy(req, std::span<std::byte>(buf, req.bytes));
        } else if (mode_ == data_mode::zero_copy) {
          if constexpr (zero_copy_target<Target>) {
            res = req.flags & io_flag::need_reg_buf ? co_await handle_registering(req)
                                                     : co_await awaitable(target_.handle_fixed(req, req.tag));
          } else {
            res = -EOPNOTSUPP;  // unreachable: the device refuses zero copy for such a target
          }
        } else {
          res = co_await awaitable(target_.handle(req, std::span<std::byte>(buf, req.bytes)));
        }
      } catch (...) {
        thrown_.note();  // res stays -EIO
      }
      count(served_);
      c.result = res;
      last_op = io_cmd_op::commit_and_fetch_req;
      r = co_await io_command(io_cmd_op::commit_and_fetch_req, c, addr);
    }
  }

  /// user_copy: the request's data crosses /dev/ublkcN; a short or failed copy is EIO.
  task<int> handle_user_copy(const io_request& req, std::span<std::byte> buf) {
    const std::uint64_t at = user_copy_offset(q_id_, req.tag);
    if (req.op == io_op::write) {
      auto got = co_await uringcmd::read(char_file(), buf, at);
      if (!got || *got != buf.size()) co_return -EIO;
    }
    int res = co_await awaitable(target_.handle(req, buf));
    if (req.op == io_op::read && res > 0) {
      auto put = co_await uringcmd::write(char_file(), buf.first(static_cast<std::size_t>(res)), at);
      if (!put || *put != static_cast<std::size_t>(res)) res = -EIO;
    }
    co_return res;
  }

  /// zero_copy, io_flag::need_reg_buf: the kernel could not register the request's pages at
  /// index = tag, so the queue does it around handle_fixed().
  task<int> handle_registering(const io_request& req) {
    io_cmd reg;
    reg.q_id = q_id_;
    reg.tag = req.tag;
    reg.addr = req.tag;
    if (!co_await io_command(io_cmd_op::register_io_buf, reg)) co_return -EIO;
    count(fallbacks_);
    int res = co_await awaitable(target_.handle_fixed(req, req.tag));
    if (!co_await io_command(io_cmd_op::unregister_io_buf, reg) && res >= 0) res = -EIO;
    co_return res;
  }

  int fd_;
  std::uint16_t q_id_;
  std::uint16_t depth_;
  std::uint32_t buf_bytes_;
  data_mode mode_;
  bool force_fallback_;
  Target& target_;
  mapping descs_map_, bufs_map_;  // serve()'s, here so that an error cannot unmap them under I/O
  const io_desc* descs_ = nullptr;
  std::byte* bufs_ = nullptr;
  std::error_code error_;
  target_exceptions thrown_;
  std::atomic<std::uint64_t> served_{0};
  std::atomic<std::uint64_t> aborted_{0};
  std::atomic<std::uint64_t> fallbacks_{0};
};

}  // namespace uringcmd::ublk
