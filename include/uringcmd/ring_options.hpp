// SPDX-License-Identifier: MIT
// How an executor's io_uring is set up.
#pragma once

#include <cstdint>
#include <iterator>
#include <string>

#include <uringcmd/detail/flag_names.hpp>
#include <uringcmd/detail/uapi_compat.hpp>

namespace uringcmd {

struct ring_options {
  /// Submission queue entries (rounded up to a power of two by the kernel).
  unsigned entries = 256;
  /// Completion queue entries; 0 means the larger of 2 x entries and max_in_flight.
  unsigned cq_entries = 0;
  /// How many operations you expect in flight at once, long-lived ones included (a ublk queue of
  /// depth D parks D FETCH commands and runs up to D target I/Os: 2 x D). The CQ is sized to hold
  /// them all, so completions never spill into the kernel's overflow list. Going past it is still
  /// safe (IORING_FEAT_NODROP keeps the overflow), only slower. At most 65536.
  unsigned max_in_flight = 0;
  /// 128-byte SQEs (IORING_SETUP_SQE128): needed by 80-byte uring_cmd payloads
  /// (NVMe passthrough, SCSI BSG, ublk control).
  bool big_sqe = false;
  /// 32-byte CQEs (IORING_SETUP_CQE32): needed to receive res2 (NVMe DW0, BSG status pack).
  bool big_cqe = false;
  /// SINGLE_ISSUER | DEFER_TASKRUN: completions run only when this thread waits (+12% at depth 1).
  /// Needs kernel 6.1; only the owning thread may touch the ring, which the executor guarantees.
  bool defer_taskrun = true;
  /// COOP_TASKRUN: no IPI to interrupt the thread for completions (ignored with defer_taskrun).
  bool coop_taskrun = true;
  /// SUBMIT_ALL: keep submitting the batch past an SQE that fails at submission.
  bool submit_all = true;
  /// io_uring_register_ring_fd on the thread that runs the ring: every io_uring_enter skips the fd
  /// lookup (5.18+; +16% at NOP depth 1 in a competing library). Falls back silently.
  bool register_ring_fd = true;
  /// Other threads' executors wake this one with IORING_OP_MSG_RING (5.18+) when both rings have
  /// it; otherwise, and when false, by writing its eventfd (one syscall per wake-up).
  bool msg_ring_doorbell = true;
  /// Microseconds to keep polling the ring for work before sleeping in io_uring_enter, after a
  /// turn that found more than one completion (0: sleep at once). A thread that queues work on a
  /// sleeping ring pays for waking it: a ublk queue that sleeps is woken by every request, in the
  /// submitter's time. Burns up to this long of CPU per idle turn; adds IORING_SETUP_TASKRUN_FLAG,
  /// which shows pending task work without entering the kernel. Measured in docs/benchmarks.md
  /// ("ublk", --poll-us).
  unsigned idle_spin_us = 0;
  /// Lets the poll grow past idle_spin_us, up to this many microseconds, to cover a gap that a
  /// shorter poll missed and that brought a single completion, as at depth 1 (0 or at most
  /// idle_spin_us: every poll is idle_spin_us). Polls that find work sooner shrink it back, and a
  /// gap longer than this stops polling. Like the block layer's hybrid polling it sizes the poll
  /// from the gaps it sees; a core spins at most this long per idle turn. Measured in
  /// docs/benchmarks.md ("ublk", --poll-max-us).
  unsigned idle_spin_max_us = 0;
  /// Extra IORING_SETUP_* bits, passed through unchanged.
  std::uint32_t extra_flags = 0;

  /// Both SQE128 and CQE32, as passthrough (NVMe, BSG) and ublk control need.
  static ring_options passthrough(unsigned entries = 256) {
    ring_options o;
    o.entries = entries;
    o.big_sqe = true;
    o.big_cqe = true;
    return o;
  }

  std::uint32_t setup_flags() const noexcept {
    std::uint32_t f = extra_flags;
    if (cq_entries) f |= IORING_SETUP_CQSIZE;
    if (big_sqe) f |= IORING_SETUP_SQE128;
    if (big_cqe) f |= IORING_SETUP_CQE32;
    if (defer_taskrun) f |= IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    else if (coop_taskrun) f |= IORING_SETUP_COOP_TASKRUN;
    if (submit_all) f |= IORING_SETUP_SUBMIT_ALL;
    if (idle_spin_us && (defer_taskrun || coop_taskrun)) f |= IORING_SETUP_TASKRUN_FLAG;
    return f;
  }
};

/// "SQE128|CQE32|SINGLE_ISSUER|..." for messages.
inline std::string setup_flag_names(std::uint32_t flags) {
  static constexpr std::string_view names[] = {
      "IOPOLL",        "SQPOLL",          "SQ_AFF",        "CQSIZE",      "CLAMP",
      "ATTACH_WQ",     "R_DISABLED",      "SUBMIT_ALL",    "COOP_TASKRUN", "TASKRUN_FLAG",
      "SQE128",        "CQE32",           "SINGLE_ISSUER", "DEFER_TASKRUN", "NO_MMAP",
      "REGISTERED_FD_ONLY", "NO_SQARRAY", "HYBRID_IOPOLL", "CQE_MIXED",   "SQE_MIXED"};
  std::string s = detail::flag_names(flags, names, '|');
  return s.empty() ? "none" : s;
}

}  // namespace uringcmd
