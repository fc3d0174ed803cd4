// SPDX-License-Identifier: MIT
// Error codes: errno values keep std::system_category; failures detected by uringcmd itself get
// uringcmd::errc. describe() names both ("ENOENT: No such file or directory").
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <system_error>

namespace uringcmd {

/// Failures detected before anything reaches the kernel.
/// Failures detected by uringcmd itself. One byte: op_base keeps a refused op's errc in its padding.
enum class errc : std::uint8_t {
  ok = 0,
  no_executor = 1,       ///< an operation was awaited where no executor is running
  sqe128_required,       ///< an 80-byte command on a ring set up without IORING_SETUP_SQE128
  cqe32_required,        ///< the operation needs res2 but the ring has no IORING_SETUP_CQE32
  payload_too_large,     ///< a uring_cmd payload larger than the SQE's command area
  executor_stopping,     ///< started while the executor shuts down; never submitted
  buffer_too_large,      ///< a buffer or iovec count that does not fit the SQE's 32-bit length
  invalid_ring_options,  ///< ring options the executor cannot work with (the message says which)
  not_owner_thread,      ///< the ring was driven from a thread other than the one that first ran it
  completions_lost,      ///< the kernel dropped CQEs (overflow list allocation failed): ops are lost
  submission_refused,    ///< the ring takes no SQEs (its owner thread cannot flush it, or the kernel refused)
  no_memory,             ///< uringcmd could not allocate what the op needs (e.g. a multishot slot)
};

namespace detail {
class error_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "uringcmd"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::ok: return "success";
      case errc::no_executor: return "no uringcmd executor is running on this thread";
      case errc::sqe128_required:
        return "80-byte uring_cmd needs a ring set up with IORING_SETUP_SQE128 (ring_options::big_sqe)";
      case errc::cqe32_required:
        return "this command returns res2, which needs a ring set up with IORING_SETUP_CQE32 (ring_options::big_cqe)";
      case errc::payload_too_large: return "uring_cmd payload is larger than 80 bytes";
      case errc::executor_stopping: return "the executor is shutting down";
      case errc::buffer_too_large: return "buffer larger than 4 GiB - 1 (the SQE's length is 32 bits): split the transfer";
      case errc::invalid_ring_options: return "ring options the executor cannot work with";
      case errc::not_owner_thread:
        return "an executor's ring was driven from a thread other than the one that first ran it (SINGLE_ISSUER)";
      case errc::completions_lost: return "the kernel dropped completions (CQ overflow it could not store); operations are lost";
      case errc::submission_refused: return "the ring takes no submissions now";
      case errc::no_memory: return "out of memory for the operation's bookkeeping";
    }
    return "unknown uringcmd error " + std::to_string(ev);
  }
};
}  // namespace detail

inline const std::error_category& error_category() noexcept {
  static const detail::error_category_impl instance;
  return instance;
}

inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), error_category()}; }

/// An errno value (positive) as an error_code.
inline std::error_code errno_code(int err) noexcept { return {err, std::system_category()}; }

/// The symbolic name of an errno value ("EAGAIN"), or "E?<n>" when unknown.
inline std::string errno_name(int err) {
  if (const char* n = ::strerrorname_np(err)) return n;
  return "E?" + std::to_string(err);
}

/// A one-line description that names the error: "ENOENT: No such file or directory".
inline std::string describe(const std::error_code& ec) {
  if (!ec) return "success";
  if (ec.category() == std::system_category() || ec.category() == std::generic_category())
    return errno_name(ec.value()) + ": " + ec.message();
  return std::string(ec.category().name()) + ": " + ec.message();
}

/// A std::system_error whose what() names the error once: "io_uring_enter: EEXIST: File exists".
/// (std::system_error appends the code's message itself, so the context carries only the name.)
inline std::system_error system_error(const std::error_code& ec, const std::string& context) {
  std::string what = context;
  if (ec.category() == std::system_category() || ec.category() == std::generic_category()) {
    what += (what.empty() ? "" : ": ") + errno_name(ec.value());
  } else {
    what += (what.empty() ? "" : ": ") + std::string(ec.category().name());
  }
  return std::system_error(ec, what);
}

/// The negative errno to hand back to the kernel (e.g. a ublk commit) for any error.
inline int to_errno(const std::error_code& ec) noexcept {
  if (!ec) return 0;
  if (ec.category() == std::system_category() || ec.category() == std::generic_category()) return -ec.value();
  if (ec.category() != error_category()) {
    // A foreign category's values are not errc; one that maps onto an errno (uringcmd::feature:
    // EOPNOTSUPP) hands back that errno.
    const std::error_condition c = ec.default_error_condition();
    return c.category() == std::generic_category() ? -c.value() : -EIO;
  }
  switch (static_cast<errc>(ec.value())) {
    case errc::no_executor: return -EINVAL;
    case errc::sqe128_required:
    case errc::cqe32_required: return -EOPNOTSUPP;
    case errc::payload_too_large:
    case errc::buffer_too_large: return -E2BIG;
    case errc::executor_stopping: return -ECANCELED;
    case errc::invalid_ring_options: return -EINVAL;
    case errc::not_owner_thread: return -EEXIST;
    case errc::completions_lost: return -EBADR;
    case errc::submission_refused: return -EBUSY;
    case errc::no_memory: return -ENOMEM;
    default: return -EIO;
  }
}

}  // namespace uringcmd

template <>
struct std::is_error_code_enum<uringcmd::errc> : std::true_type {};
