// SPDX-License-Identifier: MIT
// capabilities: what the running kernel's io_uring supports, probed once (opcodes, setup flags,
// features) and printable as a report or JSON. The kernel that runs the program is what counts,
// not the headers it was built with.
#pragma once

#include <sys/utsname.h>

#include <array>
#include <bitset>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <ostream>
#include <string>
#include <string_view>

#include <liburing.h>

#include <uringcmd/config.hpp>
#include <uringcmd/detail/json.hpp>
#include <uringcmd/error.hpp>
#include <uringcmd/ring_options.hpp>

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

  bool supports(unsigned opcode) const noexcept { return opcode < ops.size() && ops.test(opcode); }
  bool has_uring_cmd() const noexcept { return supports(IORING_OP_URING_CMD); }

  static capabilities probe() {
    capabilities c;
    utsname u{};
    if (::uname(&u) == 0) c.kernel_release = u.release;
    if (std::ifstream f("/proc/sys/kernel/io_uring_disabled"); f) f >> c.io_uring_disabled;

    io_uring ring;
    io_uring_params p{};
    if (int r = io_uring_queue_init_params(4, &ring, &p); r < 0) {
      c.setup_error = errno_code(-r);
      return c;
    }
    c.features = p.features;
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
      if (try_setup(f)) c.accepted_flags |= f;
    c.single_issuer_defer = try_setup(IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN);
    if (c.single_issuer_defer) c.accepted_flags |= IORING_SETUP_DEFER_TASKRUN;
    c.passthrough_ring = try_setup(IORING_SETUP_SQE128 | IORING_SETUP_CQE32);
    return c;
  }

  /// A human-readable report.
  void print(std::ostream& os) const {
    os << "kernel            " << kernel_release << '\n';
    os << "io_uring_disabled " << (io_uring_disabled < 0 ? std::string("(no sysctl)") : std::to_string(io_uring_disabled))
       << '\n';
    if (setup_error) {
      os << "io_uring          unavailable: " << describe(setup_error) << '\n';
      return;
    }
    os << "last opcode       " << last_op << " (" << name_of(last_op) << ")\n";
    os << "URING_CMD         " << (has_uring_cmd() ? "yes" : "NO") << '\n';
    os << "SQE128|CQE32      " << (passthrough_ring ? "yes" : "NO") << "  (NVMe/SCSI passthrough, ublk control)\n";
    os << "SINGLE_ISSUER|DEFER_TASKRUN " << (single_issuer_defer ? "yes" : "no") << '\n';
    os << "setup flags       " << setup_flag_names(accepted_flags) << '\n';
    os << "features          " << feature_list(' ') << '\n';
    os << "unsupported ops   ";
    bool any = false;
    for (unsigned i = 0; i <= last_op && i < opcode_names.size(); ++i)
      if (!supports(i)) {
        os << (any ? " " : "") << name_of(i);
        any = true;
      }
    os << (any ? "" : "none") << '\n';
  }

  /// One JSON object.
  std::string to_json() const {
    using detail::json_quote;
    std::string j = "{\"kernel\":" + json_quote(kernel_release) +
                    ",\"io_uring_disabled\":" + std::to_string(io_uring_disabled);
    if (setup_error) return j + ",\"error\":" + json_quote(describe(setup_error)) + "}";
    j += ",\"last_op\":" + std::to_string(last_op) + ",\"ops\":{";
    for (unsigned i = 0; i <= last_op && i < opcode_names.size(); ++i)
      j += (i ? "," : "") + json_quote(opcode_names[i]) + ":" + (supports(i) ? "true" : "false");
    j += "},\"setup_flags\":" + json_quote(setup_flag_names(accepted_flags));
    j += ",\"passthrough_ring\":" + std::string(passthrough_ring ? "true" : "false");
    j += ",\"single_issuer_defer_taskrun\":" + std::string(single_issuer_defer ? "true" : "false");
    j += ",\"features\":" + detail::json_hex(features) + ",\"feature_names\":[" + feature_list(',', true) + "]}";
    return j;
  }

  static std::string name_of(unsigned op) {
    return op < opcode_names.size() ? std::string(opcode_names[op]) : "op" + std::to_string(op);
  }

 private:
  static bool try_setup(std::uint32_t flags) noexcept {
    io_uring ring;
    io_uring_params p{};
    p.flags = flags;
    if (io_uring_queue_init_params(4, &ring, &p) < 0) return false;
    io_uring_queue_exit(&ring);
    return true;
  }
  std::string feature_list(char sep, bool quoted = false) const {
    std::string s;
    for (unsigned b = 0; b < 32; ++b) {
      if (!(features & (1U << b))) continue;
      std::string n = b < feature_names.size() ? std::string(feature_names[b]) : "bit" + std::to_string(b);
      if (!s.empty()) s += sep;
      s += quoted ? detail::json_quote(n) : n;
    }
    return s;
  }
};

}  // namespace uringcmd
