// SPDX-License-Identifier: MIT
// uring_cmd_op::prepare_sqe on an SQE buffer, checking the fields a driver reads. No ring: an op
// that was never validated by an executor fills the 16-byte command area of a 64-byte SQE.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include <doctest/doctest.h>

#include <uringcmd/uring_cmd.hpp>

using namespace uringcmd;

namespace {
// A 128-byte SQE slot: the first 64 bytes are what a 64-byte ring holds.
struct alignas(64) sqe_slot {
  std::array<unsigned char, 128> bytes;
  explicit sqe_slot(unsigned char fill) { bytes.fill(fill); }
  io_uring_sqe& sqe() { return *reinterpret_cast<io_uring_sqe*>(bytes.data()); }
};
constexpr std::size_t cmd_offset = 48;  // offsetof(io_uring_sqe, cmd)

struct sixteen {
  std::uint64_t a;
  std::uint64_t b;
};
}  // namespace

TEST_CASE("uring_cmd fills opcode, fd, cmd_op, addr, len and the 16-byte command") {
  static_assert(offsetof(io_uring_sqe, cmd) == cmd_offset);
  sqe_slot slot(0);
  cmd_options opts;
  opts.addr = 0x1122334455667788ULL;
  opts.len = 4096;
  auto op = uring_cmd(7, 0x1200, sixteen{0xAAAAAAAAAAAAAAAAULL, 0x0102030405060708ULL}, opts);
  op.prepare_sqe(slot.sqe());
  const io_uring_sqe& s = slot.sqe();
  CHECK(s.opcode == IORING_OP_URING_CMD);
  CHECK(s.fd == 7);
  CHECK(s.cmd_op == 0x1200);
  CHECK(s.__pad1 == 0);
  CHECK(s.addr == 0x1122334455667788ULL);
  CHECK(s.len == 4096);
  CHECK(s.flags == 0);
  CHECK(s.uring_cmd_flags == 0);
  CHECK(s.buf_index == 0);
  // The kernel's addr3 (e.g. BLOCK_URING_CMD_DISCARD's length) is the command's first 8 bytes.
  CHECK(s.addr3 == 0xAAAAAAAAAAAAAAAAULL);
  std::uint64_t second;
  std::memcpy(&second, slot.bytes.data() + cmd_offset + 8, 8);
  CHECK(second == 0x0102030405060708ULL);
}

TEST_CASE("a reused SQE slot leaks nothing of its previous contents to the driver") {
  sqe_slot slot(0xFF);  // garbage from an earlier op everywhere
  const std::array<std::byte, 3> payload{std::byte{1}, std::byte{2}, std::byte{3}};
  auto op = uring_cmd(3, cmd_ops::socket_siocinq, payload);
  op.prepare_sqe(slot.sqe());
  const io_uring_sqe& s = slot.sqe();
  CHECK(s.opcode == IORING_OP_URING_CMD);
  CHECK(s.cmd_op == cmd_ops::socket_siocinq);
  CHECK(s.__pad1 == 0);  // drivers reject a non-zero __pad1 (block: EINVAL)
  CHECK(s.flags == 0);
  CHECK(s.ioprio == 0);
  CHECK(s.addr == 0);
  CHECK(s.len == 0);
  CHECK(s.rw_flags == 0);
  CHECK(s.buf_index == 0);
  CHECK(s.personality == 0);
  CHECK(s.file_index == 0);
  // payload, then zeros up to the end of the 16-byte command area
  CHECK(slot.bytes[cmd_offset + 0] == 1);
  CHECK(slot.bytes[cmd_offset + 1] == 2);
  CHECK(slot.bytes[cmd_offset + 2] == 3);
  for (std::size_t i = cmd_offset + 3; i < 64; ++i) CHECK(slot.bytes[i] == 0);
  // A 64-byte SQE ends at 64: nothing may be written past it (that is the next SQE).
  for (std::size_t i = 64; i < 128; ++i) CHECK(slot.bytes[i] == 0xFF);
}

TEST_CASE("a mutable std::span payload sends the bytes it views, not the span object") {
  // Regression: span<std::byte> is trivially copyable, so the struct overload used to take it
  // and sent its pointer and length to the driver.
  std::array<std::byte, 4> bytes{std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}};
  std::span<std::byte> mut(bytes);
  sqe_slot slot(0xFF);
  auto op = uring_cmd(3, 0x77, mut);
  op.prepare_sqe(slot.sqe());
  for (std::size_t i = 0; i < 4; ++i) CHECK(slot.bytes[cmd_offset + i] == i + 1);
  for (std::size_t i = cmd_offset + 4; i < 64; ++i) CHECK(slot.bytes[i] == 0);
  // A fixed-extent span too.
  std::span<std::byte, 4> fixed(bytes);
  auto op2 = uring_cmd(3, 0x77, fixed);
  slot.bytes.fill(0xFF);
  op2.prepare_sqe(slot.sqe());
  CHECK(slot.bytes[cmd_offset + 3] == 4);
  CHECK(slot.bytes[cmd_offset + 4] == 0);
}

TEST_CASE("fixed file and fixed buffer set their flags") {
  sqe_slot slot(0);
  cmd_options opts;
  opts.fixed_buffer = 5;
  auto op = uring_cmd(fixed_file(2), 0x42, {}, opts);
  op.prepare_sqe(slot.sqe());
  const io_uring_sqe& s = slot.sqe();
  CHECK(s.fd == 2);
  CHECK((s.flags & IOSQE_FIXED_FILE) != 0);
  CHECK(s.uring_cmd_flags == IORING_URING_CMD_FIXED);
  CHECK(s.buf_index == 5);
  CHECK(s.cmd_op == 0x42);
}

TEST_CASE("cmd_ops constants match the kernel UAPI") {
  CHECK(cmd_ops::socket_siocinq == 0);
  CHECK(cmd_ops::socket_siocoutq == 1);
  CHECK(cmd_ops::block_discard == ((0x12U << 8) | 0U));  // _IO(0x12, 0)
  CHECK(small_cmd_size == 16);
  CHECK(big_cmd_size == 80);
}
