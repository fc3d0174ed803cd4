// SPDX-License-Identifier: MIT
// ublk::batch_queue: one hardware queue of a ublk device added with UBLK_F_BATCH_IO (7.0), served
// in copy mode (data_mode::batch) or zero copy (batch_zero_copy: with UBLK_F_AUTO_BUF_REG). Same
// shape as queue<Target> (queue.hpp): serve() on the queue's own thread (on a runtime core's
// executor, or its own), stats(), error().
//
// Instead of one parked FETCH per tag, the kernel hands requests over in runs of tags:
//
//   PREP_IO_CMDS(every tag + its buffer)              once, before anything else
//   FETCH_IO_CMDS (multishot, buffer select)          each CQE: res bytes of u16 tags, written at a
//                                                     running offset into one provided buffer
//   tag -> descriptor -> target.handle() -> result    one parked coroutine per tag, woken by FETCH
//   COMMIT_IO_CMDS(tag, result, buffer)...            the results a loop pass produced, in one command
//
// The tag buffer is a provided-buffer ring of one entry, registered with incremental consumption
// (IOU_PBUF_RING_INC): each FETCH CQE uses the next res bytes of it. Once it is used up the FETCH
// ends with -ENOBUFS (or without IORING_CQE_F_MORE for other reasons); the queue puts the buffer
// back when it is used up and arms a new FETCH. -ENODEV (the device stops) ends it for good; the
// tags the server still holds are committed afterwards, so that STOP_DEV's drain completes.
//
// How the data moves: in copy mode every PREP/COMMIT element carries its tag's buffer
// (UBLK_BATCH_F_HAS_BUF_ADDR) and the target's handle() gets that buffer. In zero copy the
// elements are 8 bytes, their buf_index (= tag) is where the kernel registers the tag's next
// request in this ring's sparse buffer table, and handle_fixed(req, tag) gets the index; the
// kernel unregisters it when the COMMIT returns the request. No fallback is asked for: the index
// is always a free slot of the table, so a failed registration can only fail that request.
//
// A commit buffer is read by the kernel when the COMMIT is issued, but it stays untouched until
// the COMMIT's CQE: results that arrive meanwhile go to the other of two buffers, so a COMMIT
// carries at most depth elements (each tag is committed once before it is handed over again).
//
// As in queue.hpp, /dev/ublkcN (and the target's files) sit in the ring's file table, and every
// command names it there (queue_setup.hpp).
//
// Steady state allocates nothing: the tag loops, the committer and the FETCH stream live as long as
// the queue, their wake-ups are op_base nodes in the executor's ready queue, and the buffers are
// one anonymous mapping made by serve().
#pragma once

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <span>
#include <system_error>
#include <vector>

#include <liburing.h>

#include <uringcmd/executor.hpp>
#include <uringcmd/multishot.hpp>
#include <uringcmd/result.hpp>
#include <uringcmd/task.hpp>
#include <uringcmd/ublk/error.hpp>
#include <uringcmd/ublk/mode.hpp>
#include <uringcmd/ublk/queue.hpp>
#include <uringcmd/ublk/queue_setup.hpp>
#include <uringcmd/ublk/target.hpp>
#include <uringcmd/ublk/uapi.hpp>
#include <uringcmd/uring_cmd.hpp>

namespace uringcmd::ublk {

namespace batch_detail {
// Newer than Debian 12's <linux/io_uring.h>.
inline constexpr std::uint32_t uring_cmd_multishot = 1u << 1;  // IORING_URING_CMD_MULTISHOT (with BATCH_IO)
inline constexpr std::uint16_t pbuf_ring_inc = 1u << 1;        // IOU_PBUF_RING_INC (6.12)
/// Sets the kernel's io_uring_buf_reg.flags, which liburing 2.3's copy of the struct calls `pad`
/// (and whose flags argument it ignores); newer liburing (2.15) names it `flags`.
template <class Reg>
void set_buf_reg_flags(Reg& reg, std::uint16_t flags) noexcept {
  if constexpr (requires { reg.flags; }) reg.flags = flags;
  else reg.pad = flags;
}

/// Where serve()'s one anonymous mapping keeps its parts: the provided-buffer ring (one entry),
/// the FETCH tag buffer (2 bytes per tag), and two commit buffers (depth elements each; the
/// first also carries PREP_IO_CMDS, which completes before any COMMIT).
struct batch_layout {
  std::size_t ring = 0;
  std::size_t tags = 0;
  std::size_t tags_bytes = 0;
  std::size_t commit[2] = {0, 0};
  std::size_t commit_bytes = 0;
  std::size_t total = 0;
};
constexpr std::size_t round_up(std::size_t n, std::size_t page) noexcept { return (n + page - 1) / page * page; }
constexpr batch_layout layout_for(std::uint16_t depth, std::uint8_t elem_bytes, std::size_t page) noexcept {
  batch_layout l;
  l.ring = 0;
  l.tags = page;
  l.tags_bytes = round_up(std::size_t{depth} * sizeof(std::uint16_t), page);
  l.commit_bytes = round_up(std::size_t{depth} * elem_bytes, page);
  l.commit[0] = l.tags + l.tags_bytes;
  l.commit[1] = l.commit[0] + l.commit_bytes;
  l.total = l.commit[1] + l.commit_bytes;
  return l;
}

/// The elements of one PREP_IO_CMDS / COMMIT_IO_CMDS, written into a buffer of `capacity` of them.
class elem_list {
 public:
  elem_list() = default;
  elem_list(std::byte* buf, std::uint16_t capacity, std::uint16_t flags) noexcept
      : buf_(buf), capacity_(capacity), flags_(flags), elem_bytes_(batch_elem_bytes(flags)) {}

  /// Appends one element; false when full (never, for at most one element per tag). `buf_addr`
  /// counts with has_buf_addr only; `buf_index` is the AUTO_BUF_REG slot (ignored without it).
  bool add(std::uint16_t tag, std::int32_t result, std::uint64_t buf_addr, std::uint16_t buf_index = 0) noexcept {
    if (count_ == capacity_) return false;
    std::byte* e = buf_ + std::size_t{count_} * elem_bytes_;
    const batch_elem_header h{tag, buf_index, result};
    std::memcpy(e, &h, sizeof h);
    if (flags_ & batch_flag::has_buf_addr) std::memcpy(e + sizeof h, &buf_addr, sizeof buf_addr);
    ++count_;
    return true;
  }
  void clear() noexcept { count_ = 0; }
  bool empty() const noexcept { return count_ == 0; }
  std::uint16_t size() const noexcept { return count_; }
  std::uint8_t elem_bytes() const noexcept { return elem_bytes_; }
  std::uint32_t bytes() const noexcept { return std::uint32_t{count_} * elem_bytes_; }
  const std::byte* data() const noexcept { return buf_; }

  /// The command header for these elements on queue `q`.
  batch_io header(std::uint16_t q) const noexcept {
    batch_io b;
    b.q_id = q;
    b.flags = flags_;
    b.nr_elem = count_;
    b.elem_bytes = elem_bytes_;
    return b;
  }
  /// sqe->addr / sqe->len of the command.
  cmd_options options() const noexcept {
    cmd_options o;
    o.addr = reinterpret_cast<std::uintptr_t>(buf_);
    o.len = bytes();
    return o;
  }

 private:
  std::byte* buf_ = nullptr;
  std::uint16_t capacity_ = 0;
  std::uint16_t count_ = 0;
  std::uint16_t flags_ = 0;
  std::uint8_t elem_bytes_ = 0;
};

/// Reads the tags FETCH CQEs deliver into one incrementally consumed buffer of `size` bytes.
class tag_cursor {
 public:
  tag_cursor() = default;
  tag_cursor(const std::byte* buf, std::size_t size) noexcept : buf_(buf), size_(size) {}
  /// The tags of a CQE with `res` bytes, at the running offset; none if res does not fit.
  std::span<const std::uint16_t> take(std::int32_t res) noexcept {
    if (res <= 0 || res % 2 || off_ + static_cast<std::size_t>(res) > size_) return {};
    const auto* t = reinterpret_cast<const std::uint16_t*>(buf_ + off_);
    off_ += static_cast<std::size_t>(res);
    return {t, static_cast<std::size_t>(res) / 2};
  }
  /// The kernel has used the whole buffer: it must be provided again before the next FETCH.
  bool used_up() const noexcept { return off_ == size_; }
  void rewind() noexcept { off_ = 0; }
  std::size_t offset() const noexcept { return off_; }

 private:
  const std::byte* buf_ = nullptr;
  std::size_t size_ = 0;
  std::size_t off_ = 0;
};

/// What a FETCH CQE means for the stream: tags to serve (res > 0), an empty tag buffer (the FETCH
/// ends; provide the buffer again and re-arm), or the end (any other error: -ENODEV when the device
/// stops, -ECANCELED when the ring goes away).
enum class fetch_event { tags, out_of_buffer, end };
constexpr fetch_event classify_fetch(std::int32_t res) noexcept {
  if (res >= 0) return fetch_event::tags;
  if (res == -ENOBUFS) return fetch_event::out_of_buffer;
  return fetch_event::end;
}

/// The multishot FETCH_IO_CMDS: every CQE as it came (res, flags).
struct fetch_stream : multishot<fetch_stream, completion> {
  fetch_stream(fd_ref f, std::uint16_t q, std::uint16_t nr, std::uint16_t group) noexcept
      : fd(f), q_id(q), nr_elem(nr), buf_group(group) {}
  void prepare_sqe(io_uring_sqe& sqe) noexcept {
    uringcmd::detail::prep_uring_cmd(sqe, fd, io_cmd_op::fetch_io_cmds);
    sqe.uring_cmd_flags = uring_cmd_multishot;
    sqe.flags |= IOSQE_BUFFER_SELECT;
    sqe.buf_group = buf_group;
    batch_io b;
    b.q_id = q_id;
    b.nr_elem = nr_elem;
    b.elem_bytes = sizeof(std::uint16_t);
    std::memcpy(uringcmd::detail::cmd_area(sqe), &b, sizeof b);
  }
  result<completion> finish(const completion& c) noexcept { return c; }
  fd_ref fd;
  std::uint16_t q_id;
  std::uint16_t nr_elem;
  std::uint16_t buf_group;
};

/// A coroutine parked until somebody schedules its node (a tag waiting for a request, the
/// committer waiting for results).
struct park {
  op_base& node;
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) noexcept { node.waiter = h; }
  void await_resume() const noexcept {}
};
}  // namespace batch_detail

template <target Target>
class batch_queue {
 public:
  /// As queue<Target>: `char_fd` /dev/ublkcN, `info` what ADD_DEV granted (BATCH_IO, and
  /// AUTO_BUF_REG for zero copy).
  batch_queue(int char_fd, const ctrl_dev_info& info, std::uint16_t q_id, Target& tgt) noexcept
      : fd_(char_fd),
        q_id_(q_id),
        depth_(info.queue_depth),
        buf_bytes_(info.max_io_buf_bytes),
        zero_copy_((info.flags & feature::auto_buf_reg) != 0),
        elem_flags_(zero_copy_ ? std::uint16_t{0} : batch_flag::has_buf_addr),
        target_(tgt) {}
  batch_queue(const batch_queue&) = delete;
  batch_queue& operator=(const batch_queue&) = delete;

  /// Serves the queue on this thread until the device stops, on an executor of its own.
  /// on_fetched gets the setup's outcome once: success after PREP_IO_CMDS completed and the FETCH
  /// went out, or the error that ended serve() before that.
  result<void> serve(const std::function<void(result<void>)>& on_fetched) {
    return serve_on_own_executor(*this, queue_ring_options(depth_), on_fetched);
  }

  /// The same on `ex`, as queue<Target>::serve(executor&, ...): a ring sized by
  /// queue_ring_options(depth) with nothing registered yet (the tag buffer takes group tag_group),
  /// once per queue.
  result<void> serve(executor& ex, const std::function<void(result<void>)>& on_fetched) {
    report_once report(on_fetched);
    const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    const batch_detail::batch_layout lay = batch_detail::layout_for(depth_, batch_elem_bytes(elem_flags_), page);
    auto descs = mapping::descriptors(fd_, q_id_, depth_);
    if (!descs) return report.failed(descs.error());
    // Zero copy never touches these: untouched anonymous pages cost nothing.
    auto bufs = mapping::anonymous(std::size_t{depth_} * buf_bytes_);
    if (!bufs) return report.failed(bufs.error());
    auto meta = mapping::anonymous(lay.total);
    if (!meta) return report.failed(meta.error());
    descs_map_ = std::move(*descs);
    bufs_map_ = std::move(*bufs);
    meta_map_ = std::move(*meta);
    descs_ = reinterpret_cast<const io_desc*>(descs_map_.data());
    bufs_ = bufs_map_.data();
    std::byte* const m = meta_map_.data();
    ring_ = reinterpret_cast<io_uring_buf_ring*>(m + lay.ring);
    tag_buf_ = m + lay.tags;
    tag_buf_bytes_ = lay.tags_bytes;
    cursor_ = batch_detail::tag_cursor(tag_buf_, lay.tags_bytes);
    commits_[0] = batch_detail::elem_list(m + lay.commit[0], depth_, elem_flags_);
    commits_[1] = batch_detail::elem_list(m + lay.commit[1], depth_, elem_flags_);
    slots_.assign(depth_, slot{});

    result<void> outcome;
    bool loops_live = false;
    try {
      if (auto r = register_files(ex, fd_, target_); !r) throw std::system_error(r.error(), "io_uring_register_files");
      if (zero_copy_) {
        // The slots the kernel registers each tag's request pages in (buf_index = tag).
        const int r = io_uring_register_buffers_sparse(&ex.ring().native(), depth_);
        if (r < 0) throw std::system_error(errno_code(-r), "io_uring_register_buffers_sparse");
      }
      io_uring_buf_reg reg{};
      reg.ring_addr = reinterpret_cast<std::uintptr_t>(ring_);
      reg.ring_entries = 1;
      reg.bgid = tag_group;
      batch_detail::set_buf_reg_flags(reg, batch_detail::pbuf_ring_inc);
      if (const int r = io_uring_register_buf_ring(&ex.ring().native(), &reg, 0); r < 0)
        throw std::system_error(errno_code(-r), "io_uring_register_buf_ring");
      io_uring_buf_ring_init(ring_);
      provide_tag_buffer();
      loops_live = true;
      ex.spawn(start());
      while (!setup_done_) ex.run_once(true);  // PREP_IO_CMDS completes
      ex.run_once(false);                      // the loops start and queue the FETCH
      ex.run_once(false);                      // ... which this thread submits
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
    meta_map_ = {};
  }

  queue_stats stats() const noexcept {
    return {served_.load(std::memory_order_relaxed), aborted_.load(std::memory_order_relaxed), 0,
            commits_sent_.load(std::memory_order_relaxed)};
  }
  data_mode mode() const noexcept { return zero_copy_ ? data_mode::batch_zero_copy : data_mode::batch; }
  /// The first unexpected error (none when the queue ended because the device stopped).
  std::error_code error() const noexcept { return error_; }
  /// The exceptions the target let escape (each failed its request with EIO).
  const target_exceptions& thrown() const noexcept { return thrown_; }

 private:
  static constexpr std::uint16_t tag_group = 0;

  struct slot {
    op_base node;       // scheduled to hand the tag its request
    bool busy = false;  // the server owns the tag (between FETCH and COMMIT)
  };

  void note(std::error_code e) noexcept {
    if (!error_) error_ = e;
  }
  std::byte* buffer_of(std::uint16_t tag) const noexcept { return bufs_ + std::size_t{tag} * buf_bytes_; }
  /// A PREP/COMMIT element of `tag`: its buffer (copy), or its own slot for the next request (zero copy).
  void add_elem(batch_detail::elem_list& list, std::uint16_t tag, std::int32_t result) const noexcept {
    list.add(tag, result, reinterpret_cast<std::uintptr_t>(buffer_of(tag)), tag);
  }
  void provide_tag_buffer() noexcept {
    io_uring_buf_ring_add(ring_, tag_buf_, static_cast<unsigned>(tag_buf_bytes_), 0, 0, 0);
    io_uring_buf_ring_advance(ring_, 1);
    cursor_.rewind();
  }

  /// PREP_IO_CMDS for every tag, then the loops.
  task<void> start() {
    batch_detail::elem_list& prep = commits_[0];
    for (std::uint16_t t = 0; t < depth_; ++t) add_elem(prep, t, 0);
    auto r = co_await uring_cmd(char_file(), io_cmd_op::prep_io_cmds, prep.header(q_id_), prep.options());
    prep.clear();
    setup_done_ = true;
    if (!r) {
      note(named(io_cmd_op::prep_io_cmds, r.error()));
      co_return;
    }
    executor& ex = *executor::current();
    for (std::uint16_t t = 0; t < depth_; ++t) ex.spawn(serve_tag(t));
    ex.spawn(commit_loop());
    ex.spawn(fetch_loop());
  }

  /// A kernel errno as the command's named error; the library's own errors as they are.
  static std::error_code named(std::uint32_t op, std::error_code e) noexcept {
    return e.category() == std::system_category() ? command_error(op, e.value()) : e;
  }

  /// Arms FETCH_IO_CMDS again and again until the device stops, waking each tag it delivers.
  task<void> fetch_loop() {
    executor& ex = *executor::current();
    const auto nr = static_cast<std::uint16_t>(tag_buf_bytes_ / sizeof(std::uint16_t));
    std::optional<batch_detail::fetch_stream> fetch;
    for (bool live = true; live;) {
      fetch.emplace(char_file(), q_id_, nr, tag_group);
      bool out_of_buffer = false;
      while (auto item = co_await fetch->next()) {
        if (!*item) {  // refused before it reached the kernel
          note(item->error());
          live = false;
          break;
        }
        const completion& c = **item;
        switch (batch_detail::classify_fetch(c.res)) {
          case batch_detail::fetch_event::tags:
            for (std::uint16_t tag : cursor_.take(c.res)) hand_over(ex, tag);
            break;
          case batch_detail::fetch_event::out_of_buffer:
            out_of_buffer = true;
            break;
          case batch_detail::fetch_event::end:
            if (c.res != -ENODEV && c.res != -ECANCELED) note(command_error(io_cmd_op::fetch_io_cmds, -c.res));
            live = false;
            break;
        }
      }
      if (!live) break;
      if (cursor_.used_up()) {
        provide_tag_buffer();
      } else if (out_of_buffer) {  // the kernel found no buffer while ours still had room
        note(command_error(io_cmd_op::fetch_io_cmds, ENOBUFS));
        break;
      }
    }
    fetch.reset();
    // The device stops: idle tags end now, busy ones after their result (committed below).
    aborted_.fetch_add(depth_, std::memory_order_relaxed);
    stopping_ = true;
    for (slot& s : slots_)
      if (!s.busy) ex.schedule(s.node);
    wake_committer(ex);
  }

  void hand_over(executor& ex, std::uint16_t tag) noexcept {
    if (tag >= depth_ || slots_[tag].busy) {
      note(command_error(io_cmd_op::fetch_io_cmds, EPROTO));  // a tag the server still owns
      return;
    }
    slots_[tag].busy = true;
    ++busy_;
    ex.schedule(slots_[tag].node);
  }

  task<void> serve_tag(std::uint16_t tag) {
    executor& ex = *executor::current();
    std::byte* const buf = buffer_of(tag);
    slot& s = slots_[tag];
    for (;;) {
      co_await batch_detail::park{s.node};
      if (!s.busy) co_return;  // woken by the stop
      const io_request req = decode(descs_[tag], q_id_, tag);
      int res = -EIO;
      try {
        if (!req.has_data()) {
          res = co_await awaitable(target_.handle(req, {}));
        } else if (req.bytes > buf_bytes_) {
          res = -EIO;
        } else if (zero_copy_) {
          if constexpr (zero_copy_target<Target>) res = co_await awaitable(target_.handle_fixed(req, tag));
          else res = -EOPNOTSUPP;  // unreachable: the device refuses zero copy for such a target
        } else {
          res = co_await awaitable(target_.handle(req, std::span<std::byte>(buf, req.bytes)));
        }
      } catch (...) {
        thrown_.note();  // res stays -EIO (queue_setup.hpp)
      }
      count(served_);
      add_elem(commits_[filling_], tag, res);
      s.busy = false;
      --busy_;
      wake_committer(ex);
      if (stopping_) co_return;
    }
  }

  void wake_committer(executor& ex) noexcept {
    if (!committer_parked_) return;
    committer_parked_ = false;
    ex.schedule(committer_node_);
  }

  /// Sends the results collected since the last COMMIT_IO_CMDS, one command at a time; ends once
  /// the device stops and no tag is busy.
  task<void> commit_loop() {
    for (;;) {
      batch_detail::elem_list& out = commits_[filling_];
      if (out.empty()) {
        if (stopping_ && busy_ == 0) co_return;
        committer_parked_ = true;
        co_await batch_detail::park{committer_node_};
        continue;
      }
      filling_ ^= 1;  // results from now on go to the other buffer
      count(commits_sent_);
      auto r = co_await uring_cmd(char_file(), io_cmd_op::commit_io_cmds, out.header(q_id_), out.options());
      // res: the bytes of elements the kernel took. After the device stopped, its refusal of
      // aborted requests is expected.
      if (!stopping_) {
        if (!r) note(named(io_cmd_op::commit_io_cmds, r.error()));
        else if (static_cast<std::uint32_t>(r->res) != out.bytes()) note(command_error(io_cmd_op::commit_io_cmds, EIO));
      }
      out.clear();
    }
  }

  int fd_;
  std::uint16_t q_id_;
  std::uint16_t depth_;
  std::uint32_t buf_bytes_;
  bool zero_copy_;
  std::uint16_t elem_flags_;  ///< of every PREP/COMMIT: has_buf_addr in copy mode, nothing in zero copy
  Target& target_;
  mapping descs_map_, bufs_map_, meta_map_;  // serve()'s, here so that an error cannot unmap them under I/O
  const io_desc* descs_ = nullptr;
  std::byte* bufs_ = nullptr;
  io_uring_buf_ring* ring_ = nullptr;
  std::byte* tag_buf_ = nullptr;
  std::size_t tag_buf_bytes_ = 0;
  batch_detail::tag_cursor cursor_;
  batch_detail::elem_list commits_[2];
  unsigned filling_ = 0;
  std::vector<slot> slots_;
  unsigned busy_ = 0;
  op_base committer_node_;
  bool committer_parked_ = false;
  bool setup_done_ = false;
  bool stopping_ = false;
  std::error_code error_;
  target_exceptions thrown_;
  std::atomic<std::uint64_t> served_{0};
  std::atomic<std::uint64_t> aborted_{0};
  std::atomic<std::uint64_t> commits_sent_{0};
};

}  // namespace uringcmd::ublk
