// SPDX-License-Identifier: MIT
// ublk::io_command: a per-tag data-plane command (FETCH_REQ, COMMIT_AND_FETCH_REQ,
// REGISTER_IO_BUF, UNREGISTER_IO_BUF) on /dev/ublkcN, registered at char_file_index of the
// queue's ring. It is the generic uring_cmd op cut to what these commands need, since each request
// pays for one: the 16-byte io_cmd, sqe->addr (auto_buf_reg in zero-copy mode), a result that is
// the CQE's res. Against uring_cmd() it saves the ring checks (bind), the cmd_options copy and
// the payload buffer: 52 instructions per I/O (null target, copy mode: 266 -> 214 Ir per I/O,
// benchmarks/ublk/callgrind).
//
// Only the first 16 bytes of the command area are written: the ublk driver reads exactly an
// io_cmd (ublk_ch_uring_cmd), so on a ring with 128-byte SQEs the rest is never seen.
#pragma once

#include <cstdint>
#include <cstring>

#include <uringcmd/io_op.hpp>
#include <uringcmd/result.hpp>
#include <uringcmd/ublk/target.hpp>
#include <uringcmd/ublk/uapi.hpp>
#include <uringcmd/uring_cmd.hpp>

namespace uringcmd::ublk {

class io_command : public uringcmd::io_op<io_command> {
 public:
  /// `sqe_addr`: what the command carries in sqe->addr (encode(auto_buf_reg{...}), or 0).
  io_command(std::uint32_t cmd_op, const io_cmd& cmd, std::uint64_t sqe_addr = 0) noexcept
      : cmd_(cmd), sqe_addr_(sqe_addr), cmd_op_(cmd_op) {}

  void prepare_sqe(io_uring_sqe& sqe) noexcept {
    uringcmd::detail::prep_uring_cmd(sqe, fixed_file(char_file_index), cmd_op_);
    sqe.addr = sqe_addr_;
    std::memcpy(uringcmd::detail::cmd_area(sqe), &cmd_, sizeof cmd_);
  }
  /// The CQE's res (0, or UBLK_IO_RES_NEED_GET_DATA and the like), or the negative res as errno.
  result<int> finish(const completion& c) noexcept {
    if (c.res < 0) [[unlikely]] return fail_errno(c.res);
    return c.res;
  }

  std::uint32_t cmd_op() const noexcept { return cmd_op_; }

 private:
  io_cmd cmd_;
  std::uint64_t sqe_addr_;
  std::uint32_t cmd_op_;
};

}  // namespace uringcmd::ublk
