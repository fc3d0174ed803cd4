// SPDX-License-Identifier: MIT
// bsg_command: one SCSI command over the BSG io_uring interface (Linux 7.1+, /dev/bsg/H:C:T:L),
// as a uring_cmd on a SQE128|CQE32 ring. The CDB and the sense buffer live in the awaiter, the
// data buffer is the caller's; all of them stay owned until the CQE. Semantics: anchors §3.1.
//
// The kernel answers in two parts: cqe->res is an errno for failures of the transport itself
// (EINVAL for a malformed command, EOPNOTSUPP for BIDI or a ring without SQE128|CQE32, EPERM for a
// command a non-CAP_SYS_RAWIO caller may not send); the SCSI outcome (status, host and driver
// bytes, sense, residual) is in res2 and the sense buffer, and is returned as a reply, never as
// an errno: deciding what is an error is the caller's (or the device layer's) business.
// Not cancelable: the bound is timeout_ms, which with_timeout sets (cancellation.hpp).
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>

#include <uringcmd/fd.hpp>
#include <uringcmd/feature.hpp>
#include <uringcmd/io_op.hpp>
#include <uringcmd/scsi/reply.hpp>
#include <uringcmd/scsi/uapi.hpp>
#include <uringcmd/uring_cmd.hpp>

namespace uringcmd::scsi {

/// The options of one command; bsg_options is the BSG transport's name for them.
using bsg_options = command_options;

class bsg_command_op : public io_op<bsg_command_op> {
 public:
  /// `cdb` is copied (1..32 bytes, else uringcmd::errc::payload_too_large before submission); `data` must
  /// outlive the co_await.
  bsg_command_op(fd_ref fd, std::span<const std::uint8_t> cdb, data_dir dir, void* data, std::size_t len,
                 const bsg_options& opts) noexcept
      : fd_(fd), data_(data), len_(len), opts_(opts), cdb_len_(static_cast<std::uint8_t>(cdb.size() > max_cdb_size ? 0 : cdb.size())), dir_(dir) {
    if (cdb_len_) std::memcpy(cdb_.data(), cdb.data(), cdb_len_);
  }

  uringcmd::errc bind(const executor& ex) const noexcept {
    if (cdb_len_ == 0) return uringcmd::errc::payload_too_large;
    if (len_ > UINT32_MAX) return uringcmd::errc::buffer_too_large;
    if (!ex.big_sqe()) return uringcmd::errc::sqe128_required;
    if (!ex.big_cqe()) return uringcmd::errc::cqe32_required;
    return uringcmd::errc::ok;
  }

  void prepare_sqe(io_uring_sqe& sqe) noexcept {
    uringcmd::detail::prep_uring_cmd(sqe, fd_, 0);  // cmd_op: not read by the BSG handler
    if (opts_.fixed_buffer) {
      sqe.uring_cmd_flags = IORING_URING_CMD_FIXED;
      sqe.buf_index = *opts_.fixed_buffer;
    }
    bsg_uring_cmd cmd{};
    cmd.request = reinterpret_cast<std::uintptr_t>(cdb_.data());
    cmd.request_len = cdb_len_;
    cmd.protocol = bsg_protocol_scsi;
    cmd.subprotocol = bsg_sub_protocol_scsi_cmd;
    cmd.max_response_len = max_sense_size;
    cmd.response = reinterpret_cast<std::uintptr_t>(sense_.data());
    const auto len = static_cast<std::uint32_t>(len_);
    if (dir_ == data_dir::to_device) {
      cmd.dout_xferp = reinterpret_cast<std::uintptr_t>(data_);
      cmd.dout_xfer_len = len;
    } else if (dir_ == data_dir::from_device) {
      cmd.din_xferp = reinterpret_cast<std::uintptr_t>(data_);
      cmd.din_xfer_len = len;
    }
    cmd.timeout_ms = opts_.timeout_ms;
    std::memcpy(uringcmd::detail::cmd_area(sqe), &cmd, sizeof cmd);
  }

  result<reply> finish(const completion& c) noexcept {
    // Before 7.1 the BSG node has no uring_cmd at all: that refusal is the feature's named error.
    if (c.res < 0) [[unlikely]] return fail(name_missing_feature(errno_code(-c.res), feature::bsg_uring_cmd));
    const bsg_res2 r{c.extra[0]};
    reply out;
    out.status = r.device_status();
    out.driver = r.driver_status();
    out.host = r.host_status();
    out.sense_len = r.sense_len() < max_sense_size ? r.sense_len() : static_cast<std::uint8_t>(max_sense_size);
    out.residual = r.resid_len();
    out.requested = dir_ == data_dir::none ? 0 : static_cast<std::uint32_t>(len_);
    if (out.sense_len) std::memcpy(out.sense_buf.data(), sense_.data(), out.sense_len);
    return out;
  }

  /// with_timeout's hook: the deadline becomes the command's timeout_ms.
  bool set_kernel_deadline(std::chrono::milliseconds ms) noexcept {
    opts_.timeout_ms = static_cast<std::uint32_t>(ms.count());
    return true;
  }

 private:
  fd_ref fd_;
  void* data_;
  std::size_t len_;
  bsg_options opts_;
  std::array<std::uint8_t, max_cdb_size> cdb_{};
  std::uint8_t cdb_len_;
  data_dir dir_;
  std::array<std::uint8_t, max_sense_size> sense_{};
};

/// A command without data (TEST UNIT READY, SYNCHRONIZE CACHE, START STOP UNIT...).
[[nodiscard("co_await it")]] inline bsg_command_op bsg_command(fd_ref fd, std::span<const std::uint8_t> cdb,
                                                              const bsg_options& opts = {}) noexcept {
  return {fd, cdb, data_dir::none, nullptr, 0, opts};
}
/// A command that reads into `in` (INQUIRY, READ...).
[[nodiscard("co_await it")]] inline bsg_command_op bsg_command_in(fd_ref fd, std::span<const std::uint8_t> cdb,
                                                                 std::span<std::byte> in,
                                                                 const bsg_options& opts = {}) noexcept {
  return {fd, cdb, data_dir::from_device, in.data(), in.size(), opts};
}
/// A command that writes `out` (WRITE, UNMAP's parameter list...).
[[nodiscard("co_await it")]] inline bsg_command_op bsg_command_out(fd_ref fd, std::span<const std::uint8_t> cdb,
                                                                  std::span<const std::byte> out,
                                                                  const bsg_options& opts = {}) noexcept {
  return {fd, cdb, data_dir::to_device, const_cast<std::byte*>(out.data()), out.size(), opts};
}

}  // namespace uringcmd::scsi
