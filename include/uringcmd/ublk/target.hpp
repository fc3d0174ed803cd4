// SPDX-License-Identifier: MIT
// What a ublk target is: something that serves one request at a time per tag.
//
//   struct my_target {
//     task<int> handle(ublk::io_request req, std::span<std::byte> buf);  // required
//     void tune(ublk::params& p) const;                                  // optional
//   };
//
// A target that never waits (the null target, the RAM target's memcpy) may return `int` instead of
// `task<int>` from handle() and handle_fixed(): the queue then calls it without a coroutine frame
// (about 90 instructions per I/O less for the null target; docs/benchmarks.md, "ublk").
//
// handle() gets the decoded descriptor and, in copy mode, the tag's buffer, sized to the request's
// data (empty for FLUSH, DISCARD, WRITE_ZEROES): for a WRITE it holds the data, for a READ the
// target fills it. It returns the bytes done (READ/WRITE), 0 (ops without data) or -errno, which
// the queue commits to the kernel as is. It runs on the queue's executor thread and may co_await
// any uringcmd op there (the queue's ring is sized for one target I/O per tag). With several queues
// the same target object is called from several threads at once: it must be safe for that.
// tune() may adjust the parameters the device sends with SET_PARAMS (discard limits, attributes).
// An exception escaping handle() fails that request with EIO and the queue serves on; the device
// keeps the first one (device::target_exception()).
//
// Zero copy (data_mode::zero_copy, mode.hpp) needs a zero_copy_target: one that also has
//
//     task<int> handle_fixed(ublk::io_request req, std::uint16_t buf_index);
//
// called instead of handle() for READ and WRITE (the other ops still go to handle() with an empty
// span). The kernel has registered the request's pages in the queue ring's buffer table at
// `buf_index`; the target moves the data with READ_FIXED / WRITE_FIXED (or any fixed-buffer op)
// on that same ring, with buffer address 0 = the start of the request, and returns as handle()
// does. The pages are the block layer's: the target never sees them in its address space.
//
// A target with files of its own (a loop target's backing file) may also have
//
//     std::span<const int> files() const;
//
// (a file_target): every queue registers them in its ring's file table after /dev/ublkcN, file i
// at index first_target_file + i, and the target names them there (fixed_file(first_target_file))
// in the ops it co_awaits, which saves the kernel a file lookup per I/O. The fds must stay open
// while the device serves.
#pragma once

#include <concepts>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <span>

#include <uringcmd/task.hpp>
#include <uringcmd/ublk/uapi.hpp>

namespace uringcmd::ublk {

/// One request, decoded from its ublksrv_io_desc.
struct io_request {
  std::uint16_t q_id = 0;
  std::uint16_t tag = 0;
  std::uint8_t op = 0;             ///< io_op::*
  std::uint32_t flags = 0;         ///< io_flag::* (FUA, NOUNMAP, ...)
  std::uint64_t offset = 0;        ///< bytes from the start of the device
  std::uint64_t bytes = 0;         ///< the request's length in bytes (0 for FLUSH)

  bool fua() const noexcept { return flags & io_flag::fua; }
  /// READ and WRITE move data through the tag's buffer; the other ops do not.
  bool has_data() const noexcept { return op == io_op::read || op == io_op::write; }
};

/// Decodes queue `q`'s descriptor of `tag`.
inline io_request decode(const io_desc& d, std::uint16_t q, std::uint16_t tag) noexcept {
  io_request r;
  r.q_id = q;
  r.tag = tag;
  r.op = d.op();
  r.flags = d.flags();
  r.offset = d.start_sector << 9;
  r.bytes = std::uint64_t{d.nr_sectors} << 9;
  return r;
}

/// What handle() and handle_fixed() return: a task, or the result itself when nothing is awaited.
template <class R>
concept handler_result = std::same_as<R, task<int>> || std::same_as<R, int>;

template <class T>
concept target = requires(T& t, const io_request& r, std::span<std::byte> b) {
  { t.handle(r, b) } -> handler_result;
};

/// A target that can serve READ/WRITE from the request's pages registered at a fixed-buffer index.
template <class T>
concept zero_copy_target = target<T> && requires(T& t, const io_request& r, std::uint16_t index) {
  { t.handle_fixed(r, index) } -> handler_result;
};

namespace detail {
/// An inline handler's result, co_await-able like a task's: ready at once, never suspends.
struct ready_result {
  int value;
  bool await_ready() const noexcept { return true; }
  void await_suspend(std::coroutine_handle<>) const noexcept {}
  int await_resume() const noexcept { return value; }
};
}  // namespace detail

/// `co_await awaitable(tgt.handle(req, buf))` serves either kind of handler.
inline detail::ready_result awaitable(int result) noexcept { return {result}; }
inline task<int>&& awaitable(task<int>&& t) noexcept { return std::move(t); }

/// Indexes in each queue ring's registered file table: /dev/ublkcN, then the target's files.
inline constexpr int char_file_index = 0;
inline constexpr int first_target_file = 1;

/// A target whose files every queue registers (see the top of the file).
template <class T>
concept file_target = target<T> && requires(const T& t) {
  { t.files() } -> std::convertible_to<std::span<const int>>;
};

template <class T>
concept tunable_target = requires(const T& t, params& p) { t.tune(p); };

}  // namespace uringcmd::ublk
