// SPDX-License-Identifier: MIT
// sg_command: one SCSI command over the sg driver's asynchronous v3 interface (/dev/sgN), driven
// by the ring: the fallback transport for kernels without BSG io_uring (before 7.1). It gives the
// same scsi::reply as bsg_command, and never blocks the ring's thread for the duration of a
// command.
//
// How: write() of a struct sg_io_hdr queues the command, straight from the ring's thread (sg has
// no FMODE_NOWAIT, so io_uring would hand it to an io-wq worker); one one-shot IORING_OP_POLL_ADD
// (POLLIN) per open file waits for finished commands; when it fires, the first parked command on
// that file read()s every finished reply (O_NONBLOCK: until EAGAIN) and hands each to its command
// by hdr.usr_ptr, then re-arms the poll for those still out. One executor keeps up to 16 commands
// on the caller's fd and, beyond that, opens up to 3 more files of the same node
// (/proc/self/fd/N: a dup() would share the queue of 16), so 64 are in the kernel at once.
//
// Why (issue: sg-ring was 6-17x slower than blocking SG_IO): the old design sent write() and a
// blocking read() per command through IORING_OP_WRITE/READ, i.e. through io-wq, and only one
// io-wq worker was ever alive (sampled /proc/PID/task/*/comm during the benchmark), so commands
// were serialised behind each other's reads. Measured in the test VM (kernel 7.2, TCG, busy
// 2-core host): scripts/vm run -- ./build/sgfast-rel/benchmarks/uringcmd-scsi-bench
//   INQUIRY at depth 1, sda: 985 us per command before, 98 us now (SG_IO in the same run: 83 us);
//   4 KiB reads at QD 32, scsi_debug with its 4 ms delay: 588 IOPS before, 4.9k now (SG_IO in 32
//   threads: 4.5k; with one fd, 16 in the kernel: 2.1-2.4k).
// Not won: with no device delay, at depth, the two syscalls per command on one thread cap it at
// 6.5-9k IOPS (fio's sg engine alike) where SG_IO in 32-64 threads uses both vCPUs (13-27k).
// See docs/benchmarks.md, SCSI passthrough.
//
// What may block the ring's thread, bounded: write() copies the CDB (and to_device data into
// sg's bounce buffer) and allocates a request; that allocation sleeps only when every tag of the
// host (can_queue: 128+ on virtio-scsi, 192 on scsi_debug) is taken, until one command ends (sg
// does not pass BLK_MQ_REQ_NOWAIT, drivers/scsi/sg.c sg_start_req). With O_NONBLOCK it does not
// wait out the host's error recovery (scsi_block_when_processing_errors is skipped); the command
// queues behind it instead. read() only copies a finished reply out. Nothing waits for a command.
//
// sg driver semantics relied on (drivers/scsi/sg.c, unchanged from 4.x to 7.x):
//   - sg_poll reports POLLIN while a finished, unread, non-SG_IO request is on the file, and
//     sg_rq_end_io wakes its waiters; sg_read with O_NONBLOCK answers EAGAIN when none is
//     finished, and with SG_SET_FORCE_PACK_ID off returns the oldest finished one, whoever's.
//   - A v3 hdr is recognised by dxfer_direction < 0 (it overlays sg_header.reply_len), both in
//     write() and in the read() buffer; interface_id must be 'S' (else ENOSYS).
//   - One file holds at most SG_MAX_QUEUE (16) requests, finished-but-unread ones included; the
//     17th write() fails with EDOM. So commands queue in user space per fd (below), and an EDOM
//     from another user of the same open file is retried after 1 ms.
//   - write() errors: EMSGSIZE (CDB shorter than 6 or too long), ENOSYS, ENOMEM (data buffers),
//     EFAULT, ENODEV (device going away), EPERM (credentials changed since open), EBADF (fd not
//     open for writing). read() errors: ENODEV (ends every command outstanding on that file).
//     Those come back as the errno; a SCSI-level outcome is a reply, never an errno.
//   - Data is bounced through kernel buffers (indirect I/O): to_device data is copied at write(),
//     from_device data at read(), by whichever thread reads the reply, in this process.
//
// The fd may be shared by threads (and by executors of one thread): a reply read by another
// thread reaches its command through its executor's remote queue. It must not carry commands
// other than sg_command's (their usr_ptr would be taken for ours), nor be shared with another
// process, and it must stay O_NONBLOCK.
//
// Timeouts: opts.timeout_ms becomes hdr.timeout (0: 60,000 ms, like BSG); the SCSI midlayer
// aborts a command that exceeds it, which then completes normally with host byte DID_TIME_OUT (3)
// in the reply, as over BSG. Not cancellable, like BSG: there is no op to hand to with_timeout or
// with_stop; the bound is timeout_ms. Executor shutdown waits for commands already written, as it
// does for BSG (their frames hold the hdr and sense the kernel writes at read()): once the poll
// cannot be re-armed, the outstanding ones are collected with a blocking poll(2) + read().
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <scsi/sg.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include <uringcmd/detail/remote_queue.hpp>
#include <uringcmd/executor.hpp>
#include <uringcmd/ops.hpp>
#include <uringcmd/result.hpp>
#include <uringcmd/scsi/reply.hpp>
#include <uringcmd/scsi/uapi.hpp>
#include <uringcmd/task.hpp>

namespace uringcmd::scsi {

/// What sg_prepare_fd found (and set).
struct sg_fd_info {
  int version = 0;        ///< SG_GET_VERSION_NUM, e.g. 30536 for 3.5.36
  int reserved_size = 0;  ///< SG_GET_RESERVED_SIZE: the fd's reserve buffer, in bytes
};

inline constexpr int sg_min_version = 30000;  // the v3 interface (sg_io_hdr) arrived with sg 3.0

/// Readies an sg fd for sg_command; call once per open file, before its first command. The fd
/// must be open O_RDWR (write() queues the commands). Sets O_NONBLOCK (write() must not wait
/// out the device's error recovery, read() must answer EAGAIN instead of waiting: both run on the
/// ring's thread), clears SG_SET_FORCE_PACK_ID (a read() takes whichever reply is ready and hands
/// it to its command by usr_ptr), sets SG_SET_COMMAND_Q (several commands per fd), and, if
/// `reserved_size` >= 0, asks for that reserve buffer (the kernel may give less: see the result).
/// Errors: ENOTTY (not an sg node), EOPNOTSUPP (sg older than 3.0), EBADF (not open O_RDWR).
/// Blocks on nothing: plain ioctls and fcntls.
inline result<sg_fd_info> sg_prepare_fd(int fd, int reserved_size = -1) noexcept {
  sg_fd_info info;
  if (::ioctl(fd, SG_GET_VERSION_NUM, &info.version) < 0) return fail_errno(-errno);
  if (info.version < sg_min_version) return fail_errno(-EOPNOTSUPP);
  const int fl = ::fcntl(fd, F_GETFL);
  if (fl < 0) return fail_errno(-errno);
  if ((fl & O_ACCMODE) != O_RDWR) return fail_errno(-EBADF);
  if (!(fl & O_NONBLOCK) && ::fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return fail_errno(-errno);
  int zero = 0, one = 1;
  if (::ioctl(fd, SG_SET_FORCE_PACK_ID, &zero) < 0) return fail_errno(-errno);
  if (::ioctl(fd, SG_SET_COMMAND_Q, &one) < 0) return fail_errno(-errno);
  if (reserved_size >= 0 && ::ioctl(fd, SG_SET_RESERVED_SIZE, &reserved_size) < 0) return fail_errno(-errno);
  if (::ioctl(fd, SG_GET_RESERVED_SIZE, &info.reserved_size) < 0) return fail_errno(-errno);
  return info;
}

namespace detail {

inline constexpr unsigned sg_max_queue = 16;        // SG_MAX_QUEUE: requests one sg fd holds
inline constexpr unsigned sg_flag_q_at_tail = 0x10;  // SG_FLAG_Q_AT_TAIL (not in glibc's header)
inline constexpr unsigned sg_default_timeout_ms = 60'000;

/// Unique per process, positive, never -1. Process-wide because another thread may share the fd;
/// wraps after 2^30 commands, long after any old one was read.
inline int sg_next_pack_id() noexcept {
  static constinit std::atomic<std::uint32_t> next{0};
  return static_cast<int>((next.fetch_add(1, std::memory_order_relaxed) & 0x3fff'ffffu) + 1);
}

/// The CDB, copied when sg_command is called (the task starts later, when awaited).
struct sg_cdb {
  std::array<std::uint8_t, max_cdb_size> bytes{};
  std::uint8_t len = 0;  // 0: too long, refused
};

class sg_slot;
struct sg_wait;
struct sg_group;

inline constexpr unsigned sg_max_lanes = 4;  // open files per fd and executor: 64 commands in the kernel

// One open file of the sg node: the caller's fd (lane 0) or a private reopen of it. Holds the
// commands written to it whose reply has not been read yet, and the one POLL_ADD armed for them.
struct sg_lane {
  sg_group* group = nullptr;
  int fd = -1;
  unsigned used = 0;         // slots held (queued in the kernel or about to be)
  sg_wait* first = nullptr;  // written, reply not read yet (by anyone)
  sg_wait* last = nullptr;
  std::uint64_t poll_ud = 0;  // the armed POLL_ADD, 0 if none
  bool collect_due = false;   // the poll fired: the next of first.. to run reads the replies
  bool idle() const noexcept { return used == 0 && !first && !poll_ud; }
};

// What one executor has going on one caller's fd: its lanes and admission (at most sg_max_queue
// commands per lane in the kernel, the rest wait here in FIFO order, so that the kernel's EDOM is
// not the normal case). Per executor, not per thread: several executors of a thread run one at a
// time, and a poll armed on one that is not running would never be reaped. Heap-allocated once and
// reused (polls and frames point into it), so a command allocates nothing.
struct sg_group {
  int fd = -1;  // the caller's; -1: free for reuse
  executor* ex = nullptr;
  std::array<sg_lane, sg_max_lanes> lanes{};
  unsigned open_lanes = 0;
  bool reopen_failed = false;  // no /proc, or the node refused: stay on the caller's fd
  sg_slot* head = nullptr;     // waiting for a slot
  sg_slot* tail = nullptr;
};
inline thread_local std::vector<std::unique_ptr<sg_group>> sg_groups;

inline sg_group& sg_group_of(int fd, executor* ex) {
  sg_group* free = nullptr;
  for (auto& g : sg_groups) {
    if (g->fd == fd && g->ex == ex) return *g;
    if (g->fd < 0 && !free) free = g.get();
  }
  if (!free) free = sg_groups.emplace_back(std::make_unique<sg_group>()).get();
  free->fd = fd;
  free->ex = ex;
  free->open_lanes = 1;
  free->lanes[0].group = free;
  free->lanes[0].fd = fd;
  return *free;
}

// Another open file of the caller's sg node, with a queue of 16 of its own. The same path through
// /proc reopens it (a dup() would share the queue); O_NONBLOCK: never wait for an O_EXCL holder.
inline sg_lane* sg_add_lane(sg_group& g) noexcept {
  if (g.reopen_failed || g.open_lanes == sg_max_lanes) return nullptr;
  std::array<char, 32> path{};
  std::snprintf(path.data(), path.size(), "/proc/self/fd/%d", g.fd);
  const int fd = ::open(path.data(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
  int one = 1;
  if (fd >= 0 && ::ioctl(fd, SG_SET_COMMAND_Q, &one) == 0) {
    sg_lane& l = g.lanes[g.open_lanes++];
    l = sg_lane{};
    l.group = &g;
    l.fd = fd;
    return &l;
  }
  if (fd >= 0) ::close(fd);
  g.reopen_failed = true;
  return nullptr;
}

inline void sg_maybe_free(sg_group& g) noexcept {
  if (g.head) return;
  for (unsigned i = 0; i < g.open_lanes; ++i)
    if (!g.lanes[i].idle()) return;
  for (unsigned i = 1; i < g.open_lanes; ++i) ::close(g.lanes[i].fd);
  g = sg_group{};  // fd numbers get reused
}

/// A place in one of a group's lanes, held in the command's coroutine frame: co_await it to get
/// one, its destructor gives it to the next waiter (or back). The waiter is resumed through its
/// executor's ready queue, hence op_base.
class sg_slot : public op_base {
 public:
  explicit sg_slot(sg_group& g) noexcept : g_(g) {}
  sg_slot(const sg_slot&) = delete;
  sg_slot& operator=(const sg_slot&) = delete;
  ~sg_slot() {
    if (state_ == state::waiting) unlink();
    else if (state_ == state::held) release();
    sg_maybe_free(g_);
  }

  bool await_ready() noexcept {
    if (g_.head) return false;  // FIFO: behind those already waiting
    for (unsigned i = 0; i < g_.open_lanes; ++i)
      if (g_.lanes[i].used < sg_max_queue) return take(g_.lanes[i]);
    if (sg_lane* l = sg_add_lane(g_)) return take(*l);
    return false;
  }
  void await_suspend(std::coroutine_handle<> h) noexcept {
    waiter = h;
    (g_.tail ? g_.tail->next_ : g_.head) = this;
    g_.tail = this;
    state_ = state::waiting;
  }
  void await_resume() const noexcept {}
  sg_lane& lane() const noexcept { return *lane_; }

 private:
  enum class state : std::uint8_t { idle, waiting, held };

  bool take(sg_lane& l) noexcept {
    ++l.used;
    lane_ = &l;
    state_ = state::held;
    return true;
  }
  void release() noexcept {
    if (sg_slot* w = g_.head) {  // the slot passes to the first waiter: `used` stays
      g_.head = w->next_;
      if (!g_.head) g_.tail = nullptr;
      w->lane_ = lane_;
      w->state_ = state::held;
      g_.ex->schedule(*w);
    } else {
      --lane_->used;
    }
  }
  void unlink() noexcept {  // a frame destroyed while waiting (executor shutdown)
    sg_slot* prev = nullptr;
    for (sg_slot* s = g_.head; s; prev = s, s = s->next_) {
      if (s != this) continue;
      (prev ? prev->next_ : g_.head) = next_;
      if (g_.tail == this) g_.tail = prev;
      return;
    }
  }

  sg_group& g_;
  sg_lane* lane_ = nullptr;
  state state_ = state::idle;
  sg_slot* next_ = nullptr;
};

/// One command between its write() and the read() of its reply, in the command's frame. hdr.usr_ptr
/// points here: whoever reads the reply (any coroutine on this fd, on any thread) finds it by it.
struct sg_wait : op_base, uringcmd::detail::remote_node {
  static constexpr std::uint32_t live = 0x53475741;  // "SGWA": a cheap check on usr_ptr

  sg_io_hdr_t hdr{};  // the request; replaced by the reply when it is read
  std::array<std::uint8_t, max_sense_size> sense{};
  sg_lane* e = nullptr;  // where it was written
  sg_wait* prev_w = nullptr;
  sg_wait* next_w = nullptr;
  std::uint32_t magic = live;
  int error = 0;           // a read() error that ended the command (negative errno)
  bool linked = false;     // in e->first..last
  bool done = false;       // the reply (or error) is in
  bool suspended = false;  // parked in await_suspend, nobody has scheduled it yet

  sg_wait() = default;
  sg_wait(const sg_wait&) = delete;
  sg_wait& operator=(const sg_wait&) = delete;
  inline ~sg_wait();

  // co_await *this: park until done, or until the armed poll fires and it is this one's turn.
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) noexcept {
    waiter = h;
    suspended = true;
  }
  void await_resume() const noexcept {}

  void link(sg_lane& to) noexcept {
    e = &to;
    prev_w = to.last;
    (to.last ? to.last->next_w : to.first) = this;
    to.last = this;
    linked = true;
  }
  void unlink() noexcept {
    (prev_w ? prev_w->next_w : e->first) = next_w;
    (next_w ? next_w->prev_w : e->last) = prev_w;
    linked = false;
  }
  void wake() noexcept {
    if (!suspended) return;  // running, or already in a ready queue: it looks at its flags then
    suspended = false;
    e->group->ex->schedule(*this);
  }
};

// The one-shot POLL_ADD on an fd fired (or was cancelled): runs inside the executor's CQE walk, so
// it only marks the fd and names a parked command to resume; that one reads the replies.
inline op_base* sg_poll_fired(void* owner, const completion&) noexcept {
  auto& e = *static_cast<sg_lane*>(owner);
  e.poll_ud = 0;
  e.collect_due = true;
  sg_wait* w = e.first;
  if (!w || !w->suspended) return nullptr;  // a running one sees collect_due when it looks
  w->suspended = false;
  return w;
}

inline bool sg_arm(sg_lane& e) noexcept {
  uringcmd::errc refused = uringcmd::errc::ok;
  e.poll_ud = e.group->ex->arm_multishot(&e, &sg_poll_fired, [&](io_uring_sqe& sqe) noexcept {
    io_uring_prep_poll_add(&sqe, e.fd, POLLIN);  // one-shot: sg_poll is level-triggered on finished requests
  }, refused);
  return e.poll_ud != 0;
}

// The reply is in (or the command failed): on its own executor's thread.
inline void sg_finish(sg_wait& w) noexcept {
  sg_lane& e = *w.e;
  if (w.linked) w.unlink();
  w.done = true;
  w.wake();
  // Nothing of this executor left on the fd, but its poll is armed (another thread read the last
  // reply): cancel it, or the executor would wait for it forever.
  if (!e.first && e.poll_ud) {
    e.group->ex->detach_multishot(e.poll_ud);
    e.poll_ud = 0;
  }
}

// A reply read on this thread, perhaps another executor's (the fd is shared): hand it to its own.
inline void sg_route(sg_wait& w) noexcept {
  if (w.e->group->ex == executor::current()) return sg_finish(w);
  w.run = [](uringcmd::detail::remote_node& n, executor&) { sg_finish(static_cast<sg_wait&>(n)); };
  w.discard = nullptr;
  w.e->group->ex->schedule_remote(w);
}

// Reads every finished reply (non-blocking: sg_prepare_fd set O_NONBLOCK) until none is left or
// nothing of `e` is outstanding, and routes each to its command.
inline void sg_collect(sg_lane& e) noexcept {
  e.collect_due = false;
  while (e.first) {
    sg_io_hdr_t h{};
    h.interface_id = 'S';
    h.dxfer_direction = SG_DXFER_NONE;  // < 0: a v3 read
    h.pack_id = -1;                     // any finished request
    const ssize_t n = ::read(e.fd, &h, sizeof h);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return;
      const int err = -errno;  // ENODEV: the device is going away; nothing more will come
      while (sg_wait* w = e.first) {
        w->error = err;
        sg_finish(*w);
      }
      return;
    }
    auto* w = static_cast<sg_wait*>(h.usr_ptr);
    if (n != sizeof h || !w || w->magic != sg_wait::live || w->hdr.pack_id != h.pack_id) continue;  // not ours
    w->hdr = h;
    sg_route(*w);
  }
}

// Last resort when no poll can be armed (executor stopping, no memory): wait here.
inline void sg_block_until_readable(int fd) noexcept {
  pollfd p{fd, POLLIN, 0};
  while (::poll(&p, 1, -1) < 0 && errno == EINTR) {
  }
}

// A command left `e`: if others are still outstanding, someone must keep the poll armed.
inline void sg_keep_going(sg_lane& e) noexcept {
  if (!e.first) return;
  if (!e.collect_due && !e.poll_ud && !sg_arm(e)) e.collect_due = true;
  if (e.collect_due) e.first->wake();
}

// A frame destroyed before its reply was read (only when nothing drove it: executor teardown):
// the kernel still holds pointers into it, so wait for the reply here.
sg_wait::~sg_wait() {
  if (!linked) return;
  while (!done) {
    sg_block_until_readable(e->fd);
    sg_collect(*e);
  }
}

inline task<result<reply>> sg_run(int fd, sg_cdb cdb, data_dir dir, std::span<std::byte> data, command_options opts) {
  if (cdb.len == 0) co_return fail(uringcmd::errc::payload_too_large);
  if (data.size() > UINT32_MAX) co_return fail(uringcmd::errc::buffer_too_large);
  if (opts.fixed_buffer) co_return fail_errno(-EOPNOTSUPP);  // sg copies through its own buffers
  executor* const ex = executor::current();
  if (!ex) co_return fail(uringcmd::errc::no_executor);

  sg_slot slot(sg_group_of(fd, ex));
  co_await slot;
  sg_lane& e = slot.lane();

  // Everything the kernel reads or writes through pointers lives in this frame until the reply
  // is read: the hdr, the CDB (`cdb`), the sense buffer (in `w`).
  sg_wait w;
  sg_io_hdr_t& hdr = w.hdr;
  hdr.interface_id = 'S';
  hdr.dxfer_direction = dir == data_dir::to_device     ? SG_DXFER_TO_DEV
                        : dir == data_dir::from_device ? SG_DXFER_FROM_DEV
                                                       : SG_DXFER_NONE;
  hdr.cmd_len = cdb.len;
  hdr.mx_sb_len = static_cast<unsigned char>(max_sense_size);
  if (dir != data_dir::none) {
    hdr.dxfer_len = static_cast<unsigned>(data.size());
    hdr.dxferp = data.data();
  }
  hdr.cmdp = cdb.bytes.data();
  hdr.sbp = w.sense.data();
  hdr.timeout = opts.timeout_ms ? opts.timeout_ms : sg_default_timeout_ms;
  hdr.flags = sg_flag_q_at_tail;  // FIFO behind queued I/O, as BSG io_uring queues (sg's v3 default is at head)
  hdr.pack_id = sg_next_pack_id();
  hdr.usr_ptr = &w;

  for (unsigned waited_ms = 0;;) {
    if (ex->stopping()) co_return fail(uringcmd::errc::executor_stopping);
    // Straight from this thread: queueing takes microseconds (see the top of the file).
    if (::write(e.fd, &hdr, sizeof hdr) >= 0) break;
    const int err = errno;
    if (err == EINTR) continue;
    // EDOM: the fd's 16 requests are taken by someone outside this executor's queue. Wait for one
    // of them, bounded by the command's own timeout.
    if (err != EDOM || waited_ms >= hdr.timeout) co_return fail_errno(-err);
    co_await uringcmd::sleep_for(std::chrono::milliseconds(1));
    ++waited_ms;
  }
  w.link(e);

  while (!w.done) {
    if (e.collect_due) {
      sg_collect(e);
    } else if (!e.poll_ud && !sg_arm(e)) {
      sg_block_until_readable(e.fd);
      e.collect_due = true;
    } else {
      co_await w;
    }
  }
  sg_keep_going(e);
  if (w.error) co_return fail_errno(w.error);

  reply out;
  out.status = hdr.status;  // the SCSI status byte (masked_status is the obsolete >> 1 form)
  out.host = static_cast<std::uint8_t>(hdr.host_status);
  out.driver = static_cast<std::uint8_t>(hdr.driver_status);
  out.sense_len = hdr.sb_len_wr < max_sense_size ? hdr.sb_len_wr : static_cast<std::uint8_t>(max_sense_size);
  out.residual = hdr.resid > 0 ? static_cast<std::uint32_t>(hdr.resid) : 0;
  out.requested = hdr.dxfer_len;
  if (out.sense_len) std::memcpy(out.sense_buf.data(), w.sense.data(), out.sense_len);
  co_return out;
}

}  // namespace detail

/// One SCSI command through sg (fd prepared with sg_prepare_fd). `cdb` (1..32 bytes, else
/// uringcmd::errc::payload_too_large; sg itself wants at least 6, else EMSGSIZE) is copied now; `data`
/// must outlive the co_await. `opts.fixed_buffer` is refused (EOPNOTSUPP): sg has no registered
/// buffers. The reply is the same as bsg_command's: status = the SAM status byte, host/driver
/// bytes, sense (sb_len_wr bytes), residual = resid, requested = the data length.
inline task<result<reply>> sg_command(int sg_fd, std::span<const std::uint8_t> cdb, data_dir dir,
                                      std::span<std::byte> data, const command_options& opts = {}) {
  detail::sg_cdb c;
  if (!cdb.empty() && cdb.size() <= max_cdb_size) {
    std::memcpy(c.bytes.data(), cdb.data(), cdb.size());
    c.len = static_cast<std::uint8_t>(cdb.size());
  }
  return detail::sg_run(sg_fd, c, dir, data, opts);
}
/// A command without data (TEST UNIT READY, SYNCHRONIZE CACHE...).
inline task<result<reply>> sg_command(int sg_fd, std::span<const std::uint8_t> cdb, const command_options& opts = {}) {
  return sg_command(sg_fd, cdb, data_dir::none, {}, opts);
}
/// A command that reads into `in` (INQUIRY, READ...).
inline task<result<reply>> sg_command_in(int sg_fd, std::span<const std::uint8_t> cdb, std::span<std::byte> in,
                                         const command_options& opts = {}) {
  return sg_command(sg_fd, cdb, data_dir::from_device, in, opts);
}
/// A command that writes `out` (WRITE...). sg only reads from it.
inline task<result<reply>> sg_command_out(int sg_fd, std::span<const std::uint8_t> cdb, std::span<const std::byte> out,
                                          const command_options& opts = {}) {
  return sg_command(sg_fd, cdb, data_dir::to_device, {const_cast<std::byte*>(out.data()), out.size()}, opts);
}

}  // namespace uringcmd::scsi
