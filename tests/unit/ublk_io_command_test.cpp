// SPDX-License-Identifier: MIT
// ublk's per-tag data-plane op (io_command) on an SQE buffer, and inline target handlers, without
// a kernel: the SQE fields the ublk driver reads, and the result an inline handler hands over.
#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <system_error>
#include <type_traits>
#include <utility>

#include <doctest/doctest.h>

#include <uringcmd/ublk/io_command.hpp>
#include <uringcmd/ublk/targets/null.hpp>
#include <uringcmd/ublk/targets/ram.hpp>

using namespace uringcmd;
using namespace uringcmd::ublk;

// Both handler kinds make a target: the RAM target's handle() is inline, its handle_fixed() a task.
static_assert(zero_copy_target<null_target>);
static_assert(zero_copy_target<ram_target>);
static_assert(std::same_as<decltype(std::declval<ram_target&>().handle(io_request{}, std::span<std::byte>{})), int>);
static_assert(std::same_as<decltype(std::declval<ram_target&>().handle_fixed(io_request{}, 0)), task<int>>);

namespace {
struct alignas(64) sqe_slot {
  std::array<unsigned char, 64> bytes;
  explicit sqe_slot(unsigned char fill) { bytes.fill(fill); }
  io_uring_sqe& sqe() { return *reinterpret_cast<io_uring_sqe*>(bytes.data()); }
};

io_cmd commit_of(std::uint16_t q, std::uint16_t tag, std::int32_t result, std::uint64_t addr) {
  io_cmd c;
  c.q_id = q;
  c.tag = tag;
  c.result = result;
  c.addr = addr;
  return c;
}

// Drives an awaiter the way a coroutine does, for an inline handler's result (never suspends).
template <class Awaitable>
int await_now(Awaitable&& a) {
  REQUIRE(a.await_ready());
  return a.await_resume();
}
}  // namespace

TEST_CASE("io_command names /dev/ublkcN by its fixed-file index and carries the io_cmd bytes") {
  sqe_slot slot(0xA5);  // a reused slot: nothing of the old op may reach the driver
  const io_cmd c = commit_of(3, 77, 4096, 0x7f0012345000ULL);
  io_command op(io_cmd_op::commit_and_fetch_req, c, encode(auto_buf_reg{77, auto_buf_reg_fallback}));
  op.prepare_sqe(slot.sqe());
  const io_uring_sqe& s = slot.sqe();
  CHECK(s.opcode == IORING_OP_URING_CMD);
  CHECK(s.fd == char_file_index);
  CHECK(s.flags == IOSQE_FIXED_FILE);
  CHECK(s.cmd_op == io_cmd_op::commit_and_fetch_req);
  CHECK(s.__pad1 == 0);
  CHECK(s.addr == (77u | (std::uint64_t{auto_buf_reg_fallback} << 16)));
  CHECK(s.len == 0);
  CHECK(s.ioprio == 0);
  CHECK(s.uring_cmd_flags == 0);
  CHECK(s.buf_index == 0);
  CHECK(s.personality == 0);
  io_cmd sent;
  std::memcpy(&sent, slot.bytes.data() + offsetof(io_uring_sqe, cmd), sizeof sent);
  CHECK(sent.q_id == 3);
  CHECK(sent.tag == 77);
  CHECK(sent.result == 4096);
  CHECK(sent.addr == 0x7f0012345000ULL);
}

TEST_CASE("io_command without an sqe address leaves sqe->addr zero") {
  sqe_slot slot(0xFF);
  io_command op(io_cmd_op::fetch_req, commit_of(0, 1, -1, 0));
  op.prepare_sqe(slot.sqe());
  CHECK(slot.sqe().addr == 0);
  CHECK(op.cmd_op() == io_cmd_op::fetch_req);
}

TEST_CASE("io_command turns a negative res into its errno and passes other values through") {
  io_command op(io_cmd_op::fetch_req, commit_of(0, 0, -1, 0));
  completion c{};
  c.res = io_res_abort;
  const auto aborted = op.finish(c);
  REQUIRE_FALSE(aborted);
  CHECK(aborted.error() == std::errc::no_such_device);
  c.res = 0;
  const auto fetched = op.finish(c);
  REQUIRE(fetched);
  CHECK(*fetched == 0);
}

TEST_CASE("an inline handler's result is awaited without suspending") {
  null_target null;
  io_request read;
  read.op = ublk::io_op::read;
  read.bytes = 8192;
  CHECK(await_now(awaitable(null.handle(read, {}))) == 8192);
  io_request flush;
  flush.op = ublk::io_op::flush;
  CHECK(await_now(awaitable(null.handle(flush, {}))) == 0);
  CHECK(await_now(awaitable(null.handle_fixed(read, 5))) == 8192);
}
