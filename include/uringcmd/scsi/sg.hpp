// SPDX-License-Identifier: MIT
// sg_command: one SCSI command over the sg driver's asynchronous v3 interface (/dev/sgN), driven
// through the ring: the fallback transport for kernels without BSG io_uring (before 7.1). It gives
// the same scsi::reply as bsg_command, and never blocks the ring's thread.
//
// How: write() of a struct sg_io_hdr queues the command (IORING_OP_WRITE), then read() of a hdr
// carrying the same pack_id collects exactly that command's completion (IORING_OP_READ). sg has
// no FMODE_NOWAIT, so io_uring runs both in its io-wq workers, where they may block: the write on
// a request tag, the read until the command is done. Cost: one worker thread parked per command
// in flight, and two ring round trips per command instead of BSG's one.
//
// sg driver semantics relied on (drivers/scsi/sg.c, unchanged from 4.x to 6.12):
//   - sg_read with SG_SET_FORCE_PACK_ID on returns only a request whose pack_id equals the one
//     in the hdr passed to read() (-1 would mean "any"), and waits for it while it is active. A
//     pack_id with no request behind it waits forever: a read is only issued after its write
//     succeeded, and pack_ids are unique and never -1.
//   - A v3 hdr is recognised by dxfer_direction < 0 (it overlays sg_header.reply_len), both in
//     write() and in the read() buffer; interface_id must be 'S' (else ENOSYS).
//   - One fd holds at most SG_MAX_QUEUE (16) requests, finished-but-unread ones included; the
//     17th write() fails with EDOM. So commands queue in user space per fd (below), and an EDOM
//     from another user of the same open file is retried after 1 ms.
//   - write() errors: EMSGSIZE (CDB shorter than 6 or too long), ENOSYS, ENOMEM (data buffers),
//     EFAULT, ENODEV (device going away), EPERM (credentials changed since open), EBADF (fd not
//     open for writing). read() errors: ENODEV, EINTR (the read was cancelled, e.g. executor
//     shutdown). Those come back as the errno; a SCSI-level outcome is a reply, never an errno.
//   - Data is bounced through kernel buffers (indirect I/O): to_device data is copied at write(),
//     from_device data at read(), both by the io-wq worker, in this process's address space.
//
// Timeouts: opts.timeout_ms becomes hdr.timeout (0: 60,000 ms, like BSG); the SCSI midlayer
// aborts a command that exceeds it, which then completes normally with host byte DID_TIME_OUT (3)
// in the reply, as over BSG. Not cancellable, like BSG: there is no op to hand to with_timeout or
// with_stop; the bound is timeout_ms. If the read is cancelled anyway (executor shutdown), the
// coroutine ends with EINTR/ECANCELED, the command's reply stays queued on the fd (its kernel
// buffers are freed, without copying anything, when the fd is closed): close such an fd.
#pragma once

#include <fcntl.h>
#include <scsi/sg.h>
#include <sys/ioctl.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

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
/// must be open O_RDWR (write() queues the commands). Sets SG_SET_FORCE_PACK_ID (each read()
/// collects its own command) and SG_SET_COMMAND_Q (several commands per fd), clears O_NONBLOCK
/// (a non-blocking read() would answer EAGAIN instead of waiting in the io-wq worker), and, if
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
  if ((fl & O_NONBLOCK) && ::fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) return fail_errno(-errno);
  int one = 1;
  if (::ioctl(fd, SG_SET_FORCE_PACK_ID, &one) < 0) return fail_errno(-errno);
  if (::ioctl(fd, SG_SET_COMMAND_Q, &one) < 0) return fail_errno(-errno);
  if (reserved_size >= 0 && ::ioctl(fd, SG_SET_RESERVED_SIZE, &reserved_size) < 0) return fail_errno(-errno);
  if (::ioctl(fd, SG_GET_RESERVED_SIZE, &info.reserved_size) < 0) return fail_errno(-errno);
  return info;
}

namespace detail {

inline constexpr unsigned sg_max_queue = 16;        // SG_MAX_QUEUE: requests one sg fd holds
inline constexpr unsigned sg_flag_q_at_tail = 0x10;  // SG_FLAG_Q_AT_TAIL (not in glibc's header)
inline constexpr unsigned sg_default_timeout_ms = 60'000;

/// Unique per process, positive, never -1 ("any" to sg_read). Process-wide because another
/// thread may share the fd; wraps after 2^30 commands, long after any old one was read.
inline int sg_next_pack_id() noexcept {
  static constinit std::atomic<std::uint32_t> next{0};
  return static_cast<int>((next.fetch_add(1, std::memory_order_relaxed) & 0x3fff'ffffu) + 1);
}

/// The CDB, copied when sg_command is called (the task starts later, when awaited).
struct sg_cdb {
  std::array<std::uint8_t, max_cdb_size> bytes{};
  std::uint8_t len = 0;  // 0: too long, refused
};

// Per-thread, per-fd admission: at most sg_max_queue commands of this thread in one fd, the rest
// wait here in FIFO order, so that the kernel's EDOM is not the normal case. Per thread because
// the executors of a thread run one at a time; a fd shared with another thread or process can
// still see EDOM, which sg_command retries.
class sg_slot;
struct sg_fd_slots {
  int fd;
  unsigned used;
  sg_slot* head;
  sg_slot* tail;
};
inline thread_local std::vector<sg_fd_slots> sg_fd_table;

inline sg_fd_slots* sg_find(int fd) noexcept {
  for (auto& e : sg_fd_table)
    if (e.fd == fd) return &e;
  return nullptr;
}

/// A place in an fd's queue, held in the command's coroutine frame: co_await it to get one, its
/// destructor gives it to the next waiter (or back). The waiter is resumed through its
/// executor's ready queue, hence op_base.
class sg_slot : public op_base {
 public:
  explicit sg_slot(int fd) noexcept : fd_(fd) {}
  sg_slot(const sg_slot&) = delete;
  sg_slot& operator=(const sg_slot&) = delete;
  ~sg_slot() {
    if (state_ == state::waiting) unlink();
    else if (state_ == state::held) release();
  }

  bool await_ready() {
    sg_fd_slots* e = sg_find(fd_);
    if (!e) e = &sg_fd_table.emplace_back(sg_fd_slots{fd_, 0, nullptr, nullptr});
    // Without an executor nothing could resume a waiter; the op that follows fails anyway.
    if ((e->used < sg_max_queue && !e->head) || !executor::current()) {
      ++e->used;
      state_ = state::held;
      return true;
    }
    return false;
  }
  void await_suspend(std::coroutine_handle<> h) noexcept {
    waiter = h;
    ex_ = executor::current();
    sg_fd_slots* e = sg_find(fd_);
    (e->tail ? e->tail->next_ : e->head) = this;
    e->tail = this;
    state_ = state::waiting;
  }
  void await_resume() const noexcept {}

 private:
  enum class state : std::uint8_t { idle, waiting, held };

  void release() noexcept {
    sg_fd_slots* e = sg_find(fd_);
    if (!e) return;
    if (sg_slot* w = e->head) {  // the slot passes to the first waiter: `used` stays
      e->head = w->next_;
      if (!e->head) e->tail = nullptr;
      w->state_ = state::held;
      w->ex_->schedule(*w);
    } else if (--e->used == 0) {
      *e = sg_fd_table.back();  // forget the fd: fd numbers get reused
      sg_fd_table.pop_back();
    }
  }
  void unlink() noexcept {  // a frame destroyed while waiting (executor shutdown)
    sg_fd_slots* e = sg_find(fd_);
    if (!e) return;
    sg_slot* prev = nullptr;
    for (sg_slot* s = e->head; s; prev = s, s = s->next_) {
      if (s != this) continue;
      (prev ? prev->next_ : e->head) = next_;
      if (e->tail == this) e->tail = prev;
      return;
    }
  }

  int fd_;
  state state_ = state::idle;
  sg_slot* next_ = nullptr;
  executor* ex_ = nullptr;
};

inline task<result<reply>> sg_run(int fd, sg_cdb cdb, data_dir dir, std::span<std::byte> data, command_options opts) {
  if (cdb.len == 0) co_return fail(uringcmd::errc::payload_too_large);
  if (data.size() > UINT32_MAX) co_return fail(uringcmd::errc::buffer_too_large);
  if (opts.fixed_buffer) co_return fail_errno(-EOPNOTSUPP);  // sg copies through its own buffers

  // Everything the kernel reads or writes through pointers lives in this frame until the read
  // completes: the hdr, the CDB (`cdb`), the sense buffer.
  std::array<std::uint8_t, max_sense_size> sense{};
  sg_io_hdr_t hdr{};
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
  hdr.sbp = sense.data();
  hdr.timeout = opts.timeout_ms ? opts.timeout_ms : sg_default_timeout_ms;
  hdr.flags = sg_flag_q_at_tail;  // FIFO behind queued I/O, as BSG io_uring queues (sg's v3 default is at head)
  hdr.pack_id = sg_next_pack_id();
  hdr.usr_ptr = &hdr;
  const auto hdr_bytes = std::as_writable_bytes(std::span(&hdr, 1));

  sg_slot slot(fd);
  co_await slot;

  for (unsigned waited_ms = 0;; ++waited_ms) {
    auto w = co_await uringcmd::write(fd, hdr_bytes, 0);  // sg ignores the offset
    if (w) break;
    // EDOM: the fd's 16 requests are taken by someone outside this thread's queue. Wait for one
    // of them, bounded by the command's own timeout.
    if (w.error() != errno_code(EDOM) || waited_ms >= hdr.timeout) co_return fail(w.error());
    co_await uringcmd::sleep_for(std::chrono::milliseconds(1));
  }

  // The same hdr is the read's request: dxfer_direction < 0 marks it v3, pack_id names the
  // command. sg overwrites it with the completed request's hdr.
  auto r = co_await uringcmd::read(fd, hdr_bytes, 0);
  if (!r) co_return fail(r.error());
  if (*r != sizeof hdr || hdr.usr_ptr != &hdr) co_return fail_errno(-EPROTO);  // not ours: cannot happen

  reply out;
  out.status = hdr.status;  // the SCSI status byte (masked_status is the obsolete >> 1 form)
  out.host = static_cast<std::uint8_t>(hdr.host_status);
  out.driver = static_cast<std::uint8_t>(hdr.driver_status);
  out.sense_len = hdr.sb_len_wr < max_sense_size ? hdr.sb_len_wr : static_cast<std::uint8_t>(max_sense_size);
  out.residual = hdr.resid > 0 ? static_cast<std::uint32_t>(hdr.resid) : 0;
  out.requested = hdr.dxfer_len;
  if (out.sense_len) std::memcpy(out.sense_buf.data(), sense.data(), out.sense_len);
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
