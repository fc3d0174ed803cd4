// SPDX-License-Identifier: MIT
// ublk::control: the control commands of /dev/ublk-control as coroutines.
//
//   auto ctl = ublk::control::open().value();
//   auto f = co_await ctl.features();                 // mask, or "unknown" before 6.5
//   ctrl_dev_info want{.nr_hw_queues = 1, .queue_depth = 64, .max_io_buf_bytes = 512 << 10};
//   auto info = (co_await ctl.add(want)).value();     // the kernel's answer: id, flags, limits
//
// The ring must be SQE128 (ring_options::passthrough()): ctrl_cmd is 32 bytes. Errors are
// ublk::command_error codes naming the command (error.hpp).
//
// Deadlines. Control commands are NOT cancelable uring_cmds (the driver marks only its data-plane
// FETCH commands cancelable, and those only at ring exit). ublk_drv answers a control command
// issued without blocking with -EAGAIN, so io_uring runs every control command in an io-wq
// worker. Each command here is linked to a timeout (with_timeout): when it fires, io_uring cancels
// the io-wq work item: one still queued never runs; one running gets a notify signal, which ends
// the interruptible waits the slow commands block in (START_DEV waiting for the queues' FETCHes,
// DEL_DEV waiting for the last reference); the command then completes with an error and the
// result is ETIMEDOUT. A command stuck in an uninterruptible kernel wait (the buggy-kernel ADD_DEV
// hangs of anchors §3.2.4) cannot be ended from user space: the coroutine then waits for its CQE,
// because the kernel may still write the buffers the command points to.
#pragma once

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <array>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <uringcmd/cancellation.hpp>
#include <uringcmd/detail/flag_names.hpp>
#include <uringcmd/result.hpp>
#include <uringcmd/task.hpp>
#include <uringcmd/ublk/error.hpp>
#include <uringcmd/ublk/uapi.hpp>
#include <uringcmd/uring_cmd.hpp>

namespace uringcmd::ublk {

/// What GET_FEATURES said: the kernel's UBLK_F_* mask, or nothing on a kernel that predates it.
struct feature_report {
  std::optional<std::uint64_t> mask;

  bool known() const noexcept { return mask.has_value(); }
  /// True when the kernel has every bit of `f`; false when it lacks one or cannot say.
  bool has(std::uint64_t f) const noexcept { return mask && (*mask & f) == f; }
  /// "SUPPORT_ZERO_COPY URING_CMD_COMP_IN_TASK ..." or the reason it is unknown.
  std::string describe() const {
    if (!mask) return "unknown, kernel predates GET_FEATURES (6.5)";
    return uringcmd::detail::flag_names(*mask, feature_names, ' ');
  }
};

// ---- pure encoding (unit-tested without a kernel) ----

/// A control command for device `dev_id` whose buffer is `len` bytes at `addr`.
inline ctrl_cmd make_ctrl_cmd(std::uint32_t dev_id, const void* addr = nullptr, std::uint16_t len = 0,
                              std::uint64_t data0 = 0) noexcept {
  ctrl_cmd c;
  c.dev_id = dev_id;
  c.queue_id = 0xffff;
  c.addr = reinterpret_cast<std::uintptr_t>(addr);
  c.len = len;
  c.data[0] = data0;
  return c;
}

/// The ADD_DEV request as sent: ioctl encoding always on, the id in both places the kernel checks.
inline ctrl_dev_info add_request(ctrl_dev_info want) noexcept {
  want.flags |= feature::cmd_ioctl_encode;
  want.state = 0;
  want.ublksrv_pid = 0;
  return want;
}

/// Requested UBLK_F_* bits the kernel may drop without the device being any different for us:
/// COMP_IN_TASK (forced, then retired) and NEED_GET_DATA when a copy mode makes it moot.
inline std::uint64_t droppable_flags(std::uint64_t requested) noexcept {
  std::uint64_t d = feature::uring_cmd_comp_in_task;
  if (requested & (feature::user_copy | feature::support_zero_copy | feature::auto_buf_reg))
    d |= feature::need_get_data;
  return d;
}

/// The lowest requested bit the kernel did not grant (-1: none), ignoring droppable ones.
inline int missing_flag(std::uint64_t requested, std::uint64_t granted) noexcept {
  const std::uint64_t missing = requested & ~granted & ~droppable_flags(requested);
  return missing ? std::countr_zero(missing) : -1;
}

/// Basic parameters for a disk of `bytes` with `1 << lbs_shift` logical blocks and requests of at
/// most `max_io_bytes`.
inline params basic_params(std::uint64_t bytes, std::uint32_t max_io_bytes, std::uint8_t lbs_shift = 9,
                           std::uint32_t attrs = 0) noexcept {
  params p;
  p.types = param_type::basic;
  p.basic.attrs = attrs;
  p.basic.logical_bs_shift = lbs_shift;
  p.basic.physical_bs_shift = lbs_shift > 12 ? lbs_shift : 12;
  p.basic.io_min_shift = lbs_shift;
  p.basic.io_opt_shift = lbs_shift > 12 ? lbs_shift : 12;
  p.basic.max_sectors = max_io_bytes >> 9;
  p.basic.dev_sectors = bytes >> 9;
  return p;
}

/// Adds discard and write-zeroes limits (one segment, the only kind the kernel takes).
inline void enable_discard(params& p, std::uint32_t granularity = 4096, std::uint32_t max_sectors = UINT32_MAX >> 9) noexcept {
  p.types |= param_type::discard;
  p.discard.discard_granularity = granularity;
  p.discard.max_discard_sectors = max_sectors;
  p.discard.max_write_zeroes_sectors = max_sectors;
  p.discard.max_discard_segments = 1;
}

/// True when `err` (positive) says the kernel does not know the control command at all.
inline bool unknown_command_errno(int err) noexcept { return err == EOPNOTSUPP || err == EINVAL || err == ENOTTY; }

struct control_options {
  /// Every command's deadline (see the top of this file).
  std::chrono::milliseconds timeout{30'000};
};

class control {
 public:
  /// Opens /dev/ublk-control (root, or CAP_SYS_ADMIN for privileged devices).
  static result<control> open(const char* path = "/dev/ublk-control", control_options opts = {}) {
    const int fd = ::open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) return fail(errno_code(errno));
    return control(fd, opts);
  }
  control(control&& o) noexcept : fd_(std::exchange(o.fd_, -1)), opts_(o.opts_), features_(o.features_) {}
  control& operator=(control&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
      opts_ = o.opts_;
      features_ = o.features_;
    }
    return *this;
  }
  ~control() { reset(); }
  int fd() const noexcept { return fd_; }

  /// Any control command with its deadline; the value is the CQE's res. Errors name the command.
  /// A command the deadline ended reports ETIMEDOUT, whatever the interrupted command returned
  /// (EINTR from an interrupted wait, ECANCELED when it never ran). An interrupted command may
  /// have done part of its work: an interrupted DEL_DEV has already unlisted the device, which
  /// the kernel frees once its last reference goes.
  task<result<int>> raw(std::uint32_t cmd_op, ctrl_cmd c) {
    auto op = with_timeout(uring_cmd(fd_, cmd_op, c), opts_.timeout);
    auto r = co_await op;
    if (!r) {
      std::error_code e = r.error();
      // Did the linked timer fire? Its CQE says ECANCELED when the command finished first;
      // anything else is its attempt to cancel: ETIME (cancelled before it ran), or the cancel's
      // own error when the command was already running in io-wq (EALREADY, ENOENT; 7.2 answers
      // ENOENT) and the worker's signal interrupted it instead.
      if (op.timeout_res != 0 && op.timeout_res != -ECANCELED) e = errno_code(ETIMEDOUT);
      if (e.category() == std::system_category()) co_return fail(command_error(cmd_op, e.value()));
      co_return fail(e);
    }
    co_return r->res;
  }

  /// GET_FEATURES (6.5+); an older kernel gives an unknown report, not an error.
  task<result<feature_report>> features() {
    std::uint64_t mask = 0;
    auto r = co_await raw(cmd::get_features, make_ctrl_cmd(~0u, &mask, features_len));
    if (!r) {
      if (unknown_command_errno(command_errno(r.error())) || command_errno(r.error()) == ENODEV) {
        features_ = feature_report{};
        co_return *features_;
      }
      co_return fail(r.error());
    }
    features_ = feature_report{mask};
    co_return *features_;
  }

  /// ADD_DEV. `want.dev_id` ~0u lets the kernel choose. The value is what the kernel wrote back:
  /// the id, the flags it granted (forced bits included) and its limits; read them from there.
  /// A requested flag the kernel lacks is an error naming it (feature_error), and the device, if
  /// the kernel created one without it, is deleted again.
  task<result<ctrl_dev_info>> add(ctrl_dev_info want) {
    ctrl_dev_info info = add_request(want);
    if (!features_) (void)co_await features();
    if (features_ && features_->mask) {
      if (const int bit = missing_flag(info.flags, *features_->mask); bit >= 0)
        co_return fail(feature_error(cmd::add_dev, static_cast<unsigned>(bit)));
    }
    auto r = co_await raw(cmd::add_dev, make_ctrl_cmd(info.dev_id, &info, sizeof info));
    if (!r) co_return fail(r.error());
    if (const int bit = missing_flag(add_request(want).flags, info.flags); bit >= 0) {
      (void)co_await del(info.dev_id);
      co_return fail(feature_error(cmd::add_dev, static_cast<unsigned>(bit)));
    }
    co_return info;
  }

  /// SET_PARAMS (before START_DEV only).
  task<result<void>> set_params(std::uint32_t dev_id, params p) {
    p.len = sizeof p;
    auto r = co_await raw(cmd::set_params, make_ctrl_cmd(dev_id, &p, sizeof p));
    if (!r) co_return fail(r.error());
    co_return result<void>{};
  }

  /// GET_PARAMS: every type the kernel knows (devt included).
  task<result<params>> get_params(std::uint32_t dev_id) {
    params p;
    p.types = 0;
    auto r = co_await raw(cmd::get_params, make_ctrl_cmd(dev_id, &p, sizeof p));
    if (!r) co_return fail(r.error());
    co_return p;
  }

  /// START_DEV: returns once the kernel has added /dev/ublkbN (after every queue's tags have a
  /// FETCH outstanding, and after the partition scan, which the queues must serve).
  task<result<void>> start(std::uint32_t dev_id, pid_t daemon_pid) {
    return void_cmd(cmd::start_dev, make_ctrl_cmd(dev_id, nullptr, 0, static_cast<std::uint64_t>(daemon_pid)));
  }
  /// STOP_DEV: removes /dev/ublkbN; the queues must keep serving until it returns.
  task<result<void>> stop(std::uint32_t dev_id) { return void_cmd(cmd::stop_dev, make_ctrl_cmd(dev_id)); }
  /// DEL_DEV: waits until the device is gone; deadlocks (until the deadline) while this process
  /// still holds /dev/ublkcN or one of its mappings, so close those first.
  task<result<void>> del(std::uint32_t dev_id) { return void_cmd(cmd::del_dev, make_ctrl_cmd(dev_id)); }
  /// DEL_DEV_ASYNC (6.9+): starts the removal without waiting for it.
  task<result<void>> del_async(std::uint32_t dev_id) { return void_cmd(cmd::del_dev_async, make_ctrl_cmd(dev_id)); }

  /// START_USER_RECOVERY: for a device added with USER_RECOVERY whose server died and which the
  /// kernel has quiesced (state QUIESCED or FAIL_IO); the new server then opens /dev/ublkcN and
  /// FETCHes every tag.
  task<result<void>> start_recovery(std::uint32_t dev_id) {
    return void_cmd(cmd::start_user_recovery, make_ctrl_cmd(dev_id));
  }
  /// END_USER_RECOVERY: like START_DEV, returns once every tag has a FETCH out; `daemon_pid`
  /// becomes the device's server.
  task<result<void>> end_recovery(std::uint32_t dev_id, pid_t daemon_pid) {
    return void_cmd(cmd::end_user_recovery, make_ctrl_cmd(dev_id, nullptr, 0, static_cast<std::uint64_t>(daemon_pid)));
  }

  /// GET_DEV_INFO2 (6.3+, which also checks the char device path for unprivileged devices),
  /// falling back to GET_DEV_INFO on an older kernel.
  task<result<ctrl_dev_info>> dev_info(std::uint32_t dev_id) {
    // The path goes first in the buffer; the kernel skips dev_path_len bytes and writes the info
    // after it (the permission check moves addr and len past the path).
    alignas(8) std::array<char, sizeof(ctrl_dev_info) + 64> buf{};
    const std::string path = "/dev/ublkc" + std::to_string(dev_id);
    std::memcpy(buf.data(), path.data(), path.size());
    ctrl_cmd c = make_ctrl_cmd(dev_id, buf.data(), static_cast<std::uint16_t>(buf.size()));
    c.dev_path_len = static_cast<std::uint16_t>(path.size());
    auto r = co_await raw(cmd::get_dev_info2, c);
    std::size_t at = path.size();
    if (!r && unknown_command_errno(command_errno(r.error()))) {
      buf.fill(0);
      at = 0;
      r = co_await raw(cmd::get_dev_info, make_ctrl_cmd(dev_id, buf.data(), sizeof(ctrl_dev_info)));
    }
    if (!r) co_return fail(r.error());
    ctrl_dev_info info;
    std::memcpy(&info, buf.data() + at, sizeof info);
    co_return info;
  }

  /// GET_QUEUE_AFFINITY: the CPUs the kernel maps queue `q` to.
  task<result<std::vector<int>>> queue_affinity(std::uint32_t dev_id, std::uint16_t q) {
    cpu_set_t set;
    CPU_ZERO(&set);
    auto r = co_await raw(cmd::get_queue_affinity, make_ctrl_cmd(dev_id, &set, sizeof set, q));
    if (!r) co_return fail(r.error());
    std::vector<int> cpus;
    for (int i = 0; i < CPU_SETSIZE; ++i)
      if (CPU_ISSET(i, &set)) cpus.push_back(i);
    co_return cpus;
  }

 private:
  control(int fd, control_options opts) noexcept : fd_(fd), opts_(opts) {}
  void reset() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  task<result<void>> void_cmd(std::uint32_t op, ctrl_cmd c) {
    auto r = co_await raw(op, c);
    if (!r) co_return fail(r.error());
    co_return result<void>{};
  }

  int fd_ = -1;
  control_options opts_;
  std::optional<feature_report> features_;
};

}  // namespace uringcmd::ublk
