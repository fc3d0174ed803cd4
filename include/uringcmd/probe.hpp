// SPDX-License-Identifier: MIT
// capabilities: what the running kernel's io_uring supports, probed once (opcodes, setup flags,
// features). The kernel that runs the program is what counts, not the headers it was built with.
// The printed report and the JSON are uringcmd-probe's (src/probe/report.hpp), not the core's.
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <array>
#include <bitset>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include <liburing.h>

#include <uringcmd/detail/flag_names.hpp>
#include <uringcmd/detail/uapi_compat.hpp>
#include <uringcmd/error.hpp>
#include <uringcmd/feature.hpp>

namespace uringcmd {

/// Names of io_uring opcodes by number (the kernel's enum io_uring_op, through 7.x).
inline constexpr std::array<std::string_view, 65> opcode_names = {
    "NOP",          "READV",        "WRITEV",          "FSYNC",        "READ_FIXED",     "WRITE_FIXED",
    "POLL_ADD",     "POLL_REMOVE",  "SYNC_FILE_RANGE", "SENDMSG",      "RECVMSG",        "TIMEOUT",
    "TIMEOUT_REMOVE", "ACCEPT",     "ASYNC_CANCEL",    "LINK_TIMEOUT", "CONNECT",        "FALLOCATE",
    "OPENAT",       "CLOSE",        "FILES_UPDATE",    "STATX",        "READ",           "WRITE",
    "FADVISE",      "MADVISE",      "SEND",            "RECV",         "OPENAT2",        "EPOLL_CTL",
    "SPLICE",       "PROVIDE_BUFFERS", "REMOVE_BUFFERS", "TEE",        "SHUTDOWN",       "RENAMEAT",
    "UNLINKAT",     "MKDIRAT",      "SYMLINKAT",       "LINKAT",       "MSG_RING",       "FSETXATTR",
    "SETXATTR",     "FGETXATTR",    "GETXATTR",        "SOCKET",       "URING_CMD",      "SEND_ZC",
    "SENDMSG_ZC",   "READ_MULTISHOT", "WAITID",        "FUTEX_WAIT",   "FUTEX_WAKE",     "FUTEX_WAITV",
    "FIXED_FD_INSTALL", "FTRUNCATE", "BIND",           "LISTEN",       "RECV_ZC",        "EPOLL_WAIT",
    "READV_FIXED",  "WRITEV_FIXED", "PIPE",            "NOP128",       "URING_CMD128"};

/// Names of IORING_FEAT_* bits.
inline constexpr std::array<std::string_view, 18> feature_names = {
    "SINGLE_MMAP",  "NODROP",      "SUBMIT_STABLE", "RW_CUR_POS",     "CUR_PERSONALITY", "FAST_POLL",
    "POLL_32BITS",  "SQPOLL_NONFIXED", "EXT_ARG",   "NATIVE_WORKERS", "RSRC_TAGS",       "CQE_SKIP",
    "LINKED_FILE",  "REG_REG_RING", "RECVSEND_BUNDLE", "MIN_TIMEOUT", "RW_ATTR",         "NO_IOWAIT"};

struct capabilities {
  std::string kernel_release;
  /// /proc/sys/kernel/io_uring_disabled (0 = enabled), -1 when the sysctl does not exist.
  int io_uring_disabled = -1;
  /// Set when no ring could be created at all; everything below is then empty.
  std::error_code setup_error;
  unsigned last_op = 0;
  std::bitset<256> ops;
  std::uint32_t features = 0;
  /// Setup flags (and combinations of interest) the kernel accepted, tried one ring each.
  std::uint32_t accepted_flags = 0;
  bool passthrough_ring = false;   ///< SQE128|CQE32 together
  bool single_issuer_defer = false; ///< SINGLE_ISSUER|DEFER_TASKRUN together
  /// uring_cmd on sockets (SOCKET_URING_OP_SIOCINQ...), Linux 6.7: tried, since the opcode alone
  /// (5.19) does not say which files answer it.
  bool socket_uring_cmd = false;
  /// io_uring_register_ring_fd worked (5.18).
  bool registered_ring_fd = false;
  /// A multishot poll / accept was armed and stayed armed (IORING_CQE_F_MORE): tried.
  bool poll_multishot = false;
  bool accept_multishot = false;

  bool supports(unsigned opcode) const noexcept { return opcode < ops.size() && ops.test(opcode); }
  bool has_uring_cmd() const noexcept { return supports(IORING_OP_URING_CMD); }

  /// Whether this kernel has `f` (feature.hpp); std::nullopt for what depends on a device driver
  /// and its hardware (BSG, ublk, block discard): uringcmd-probe's device report says those.
  std::optional<bool> has(feature f) const noexcept {
    if (const std::uint32_t flag = info_of(f).setup_flag) return (accepted_flags & flag) != 0;
    switch (f) {
      case feature::uring_cmd:
      case feature::nvme_passthrough: return has_uring_cmd();  // the NVMe driver's came with the opcode
      case feature::msg_ring: return supports(IORING_OP_MSG_RING);
      case feature::read_multishot: return supports(49);  // IORING_OP_READ_MULTISHOT, unnamed in liburing 2.3
      case feature::registered_ring_fd: return registered_ring_fd;
      case feature::poll_multishot: return poll_multishot;
      case feature::accept_multishot: return accept_multishot;
      case feature::socket_uring_cmd: return socket_uring_cmd;
      default: return std::nullopt;
    }
  }

  static capabilities probe() {
    capabilities c;
    utsname u{};
    if (::uname(&u) == 0) c.kernel_release = u.release;
    c.io_uring_disabled = read_io_uring_disabled();

    io_uring ring;
    io_uring_params p{};
    if (int r = io_uring_queue_init_params(4, &ring, &p); r < 0) {
      c.setup_error = errno_code(-r);
      return c;
    }
    c.features = p.features;
    c.registered_ring_fd = io_uring_register_ring_fd(&ring) == 1;
    if (io_uring_probe* pr = io_uring_get_probe_ring(&ring)) {
      c.last_op = pr->last_op;
      for (unsigned i = 0; i < pr->ops_len && i < c.ops.size(); ++i)
        if (pr->ops[i].flags & IO_URING_OP_SUPPORTED) c.ops.set(pr->ops[i].op);
      io_uring_free_probe(pr);
    }
    io_uring_queue_exit(&ring);

    constexpr std::uint32_t single_flags[] = {
        IORING_SETUP_SUBMIT_ALL, IORING_SETUP_COOP_TASKRUN, IORING_SETUP_SQE128,  IORING_SETUP_CQE32,
        IORING_SETUP_SINGLE_ISSUER, IORING_SETUP_NO_SQARRAY, IORING_SETUP_CQE_MIXED, IORING_SETUP_SQE_MIXED};
    for (std::uint32_t f : single_flags)
      if (kernel_accepts_setup_flags(f)) c.accepted_flags |= f;
    c.single_issuer_defer = kernel_accepts_setup_flags(IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN);
    if (c.single_issuer_defer) c.accepted_flags |= IORING_SETUP_DEFER_TASKRUN;
    c.passthrough_ring = kernel_accepts_setup_flags(IORING_SETUP_SQE128 | IORING_SETUP_CQE32);
    if (kernel_accepts_setup_flags(IORING_SETUP_R_DISABLED)) c.accepted_flags |= IORING_SETUP_R_DISABLED;
    c.socket_uring_cmd = c.has_uring_cmd() && try_socket_uring_cmd();
    c.poll_multishot = try_poll_multishot();
    c.accept_multishot = try_accept_multishot();
    return c;
  }

  /// The names of the IORING_FEAT_* bits in `features`, joined by `sep`.
  std::string feature_list(char sep = ' ') const { return detail::flag_names(features, feature_names, sep); }

  static std::string name_of(unsigned op) {
    return op < opcode_names.size() ? std::string(opcode_names[op]) : "op" + std::to_string(op);
  }

 private:
  // Submits what `prep` writes into one SQE: the first CQE's res when it succeeded and stays armed
  // (IORING_CQE_F_MORE: multishot works), else -1. The ring's exit cancels the request.
  template <class Prep>
  static int armed_result(Prep&& prep) noexcept {
    io_uring ring;
    if (io_uring_queue_init(4, &ring, 0) != 0) return -1;
    prep(*io_uring_get_sqe(&ring));
    io_uring_cqe* cqe = nullptr;
    int res = -1;
    if (io_uring_submit_and_wait(&ring, 1) == 1 && io_uring_peek_cqe(&ring, &cqe) == 0 && (cqe->flags & IORING_CQE_F_MORE))
      res = cqe->res;
    io_uring_queue_exit(&ring);
    return res;
  }
  // Multishot poll on a pipe that already holds a byte.
  static bool try_poll_multishot() noexcept {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return false;
    const bool ok = ::write(p[1], "x", 1) == 1 &&
                    armed_result([&](io_uring_sqe& sqe) { io_uring_prep_poll_multishot(&sqe, p[0], POLLIN); }) >= 0;
    ::close(p[0]);
    ::close(p[1]);
    return ok;
  }
  // Multishot accept on a loopback listener with one connection already queued.
  static bool try_accept_multishot() noexcept {
    const int l = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const int c = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    const int accepted =
        l >= 0 && c >= 0 && ::bind(l, reinterpret_cast<sockaddr*>(&a), len) == 0 && ::listen(l, 1) == 0 &&
                ::getsockname(l, reinterpret_cast<sockaddr*>(&a), &len) == 0 &&
                ::connect(c, reinterpret_cast<sockaddr*>(&a), len) == 0
            ? armed_result([&](io_uring_sqe& sqe) { io_uring_prep_multishot_accept(&sqe, l, nullptr, nullptr, SOCK_CLOEXEC); })
            : -1;
    const bool ok = accepted >= 0;
    if (accepted >= 0) ::close(accepted);
    if (l >= 0) ::close(l);
    if (c >= 0) ::close(c);
    return ok;
  }
  // SIOCINQ as a uring_cmd on a UDP socket: 0 where sockets answer uring_cmd, -EOPNOTSUPP before.
  static bool try_socket_uring_cmd() noexcept {
    const int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) return false;
    bool ok = false;
    io_uring ring;
    if (io_uring_queue_init(2, &ring, 0) == 0) {
      io_uring_sqe* sqe = io_uring_get_sqe(&ring);
      io_uring_prep_rw(IORING_OP_URING_CMD, sqe, s, nullptr, 0, 0);
      sqe->cmd_op = 0;  // SOCKET_URING_OP_SIOCINQ
      io_uring_cqe* cqe = nullptr;
      if (io_uring_submit_and_wait(&ring, 1) == 1 && io_uring_peek_cqe(&ring, &cqe) == 0) ok = cqe->res >= 0;
      io_uring_queue_exit(&ring);
    }
    ::close(s);
    return ok;
  }
  // Plain open/read: a sysctl file is not worth <fstream> in every user's translation unit.
  static int read_io_uring_disabled() noexcept {
    const int fd = ::open("/proc/sys/kernel/io_uring_disabled", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    char buf[16] = {};
    const ssize_t n = ::read(fd, buf, sizeof buf - 1);
    ::close(fd);
    if (n <= 0 || buf[0] < '0' || buf[0] > '9') return -1;
    return static_cast<int>(std::strtol(buf, nullptr, 10));
  }
};

}  // namespace uringcmd
