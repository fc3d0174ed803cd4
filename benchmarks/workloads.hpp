// SPDX-License-Identifier: MIT
// The uringcmd side of each benchmark: `depth` coroutines spawned on an executor, each looping
// over co_await of one op, driven by executor::run().
#pragma once

#include <cstdint>

#include <uringcmd/executor.hpp>

namespace uc_bench {

struct uringcmd_result {
  std::uint64_t completed = 0;
  std::uint64_t bad = 0;  ///< ops that returned an error or an unexpected value
};

/// `depth` tasks, each looping `co_await uringcmd::nop()`; n ops in all.
uringcmd_result uringcmd_nop(uringcmd::executor& ex, unsigned depth, std::uint64_t n);

/// As uringcmd_nop, but every op is wrapped in a child task<void> that co_awaits the nop, so each
/// op costs a coroutine frame (from the frame pool) on top of the awaiter.
uringcmd_result uringcmd_nop_nested(uringcmd::executor& ex, unsigned depth, std::uint64_t n);

/// `depth` tasks, each looping `co_await uringcmd::uring_cmd(fd, cmd_ops::socket_siocinq)`; every
/// result must equal `expected`.
uringcmd_result uringcmd_siocinq(uringcmd::executor& ex, int fd, unsigned depth, std::uint64_t n, int expected);

/// One SIOCINQ through the executor (sync_wait), for the check outside the timed part: returns
/// res, or the negative errno.
int uringcmd_siocinq_once(uringcmd::executor& ex, int fd);

}  // namespace uc_bench
