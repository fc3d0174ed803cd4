// SPDX-License-Identifier: MIT
// nvme::command_op's SQE and its reply, on byte arrays: no ring, no device. The layout checks read
// the SQE's bytes at the offsets of the kernel's own struct nvme_uring_cmd (<linux/nvme_ioctl.h>,
// present in Debian 12's headers), not through our struct.
#include <linux/nvme_ioctl.h>
#include <sys/uio.h>

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <ostream>

#include <doctest/doctest.h>

#include <uringcmd/cancellation.hpp>
#include <uringcmd/nvme/passthru.hpp>

using namespace uringcmd;
using namespace std::chrono_literals;

namespace {
struct alignas(64) sqe128 {
  std::array<unsigned char, 128> bytes;
  io_uring_sqe& sqe() { return *reinterpret_cast<io_uring_sqe*>(bytes.data()); }
  // The field of the kernel's struct nvme_uring_cmd at `offset`, read from the SQE's command area.
  template <class T>
  T at(std::size_t offset) const {
    T v;
    std::memcpy(&v, bytes.data() + offsetof(io_uring_sqe, cmd) + offset, sizeof v);
    return v;
  }
};
#define UC_FIELD(f) at<decltype(::nvme_uring_cmd::f)>(offsetof(::nvme_uring_cmd, f))
}  // namespace

TEST_CASE("our nvme_uring_cmd and cmd_op values are the kernel's, byte for byte") {
  static_assert(sizeof(nvme::nvme_uring_cmd) == sizeof(::nvme_uring_cmd));
  CHECK(offsetof(nvme::nvme_uring_cmd, opcode) == offsetof(::nvme_uring_cmd, opcode));
  CHECK(offsetof(nvme::nvme_uring_cmd, flags) == offsetof(::nvme_uring_cmd, flags));
  CHECK(offsetof(nvme::nvme_uring_cmd, nsid) == offsetof(::nvme_uring_cmd, nsid));
  CHECK(offsetof(nvme::nvme_uring_cmd, cdw2) == offsetof(::nvme_uring_cmd, cdw2));
  CHECK(offsetof(nvme::nvme_uring_cmd, cdw3) == offsetof(::nvme_uring_cmd, cdw3));
  CHECK(offsetof(nvme::nvme_uring_cmd, metadata) == offsetof(::nvme_uring_cmd, metadata));
  CHECK(offsetof(nvme::nvme_uring_cmd, addr) == offsetof(::nvme_uring_cmd, addr));
  CHECK(offsetof(nvme::nvme_uring_cmd, metadata_len) == offsetof(::nvme_uring_cmd, metadata_len));
  CHECK(offsetof(nvme::nvme_uring_cmd, data_len) == offsetof(::nvme_uring_cmd, data_len));
  CHECK(offsetof(nvme::nvme_uring_cmd, cdw10) == offsetof(::nvme_uring_cmd, cdw10));
  CHECK(offsetof(nvme::nvme_uring_cmd, cdw15) == offsetof(::nvme_uring_cmd, cdw15));
  CHECK(offsetof(nvme::nvme_uring_cmd, timeout_ms) == offsetof(::nvme_uring_cmd, timeout_ms));
  CHECK(offsetof(nvme::nvme_uring_cmd, rsvd2) == offsetof(::nvme_uring_cmd, rsvd2));
  CHECK(nvme::cmd_op::io == NVME_URING_CMD_IO);
  CHECK(nvme::cmd_op::io_vec == NVME_URING_CMD_IO_VEC);
  CHECK(nvme::cmd_op::admin == NVME_URING_CMD_ADMIN);
  CHECK(nvme::cmd_op::admin_vec == NVME_URING_CMD_ADMIN_VEC);
}

TEST_CASE("an NVMe read fills the SQE: URING_CMD, cmd_op IO, and every nvme_uring_cmd field at the kernel's offset") {
  std::array<std::byte, 4096> data{};
  std::array<std::byte, 64> meta{};
  nvme::options o;
  o.timeout_ms = 1500;
  o.metadata = meta;
  auto cmd = *nvme::read(1, 0x0000000200000003ULL, 8, {.fua = true, .limited_retry = false, .dsm = 0x07, .pi = {}});
  cmd.cdw2 = 0x22222222;
  cmd.cdw3 = 0x33333333;
  auto op = nvme::io(5, cmd, data, o);
  sqe128 slot;
  slot.bytes.fill(0xff);  // a reused slot: nothing of it may reach the kernel
  op.prepare_sqe(slot.sqe());
  const io_uring_sqe& s = slot.sqe();
  CHECK(s.opcode == IORING_OP_URING_CMD);
  CHECK(s.fd == 5);
  CHECK(s.cmd_op == NVME_URING_CMD_IO);
  CHECK(s.__pad1 == 0);
  CHECK(s.flags == 0);
  CHECK(s.uring_cmd_flags == 0);
  CHECK(s.buf_index == 0);
  CHECK(s.addr == 0);
  CHECK(s.len == 0);
  CHECK(slot.UC_FIELD(opcode) == 0x02);
  CHECK(slot.UC_FIELD(flags) == 0);
  CHECK(slot.UC_FIELD(rsvd1) == 0);
  CHECK(slot.UC_FIELD(nsid) == 1);
  CHECK(slot.UC_FIELD(cdw2) == 0x22222222);
  CHECK(slot.UC_FIELD(cdw3) == 0x33333333);
  CHECK(slot.UC_FIELD(metadata) == reinterpret_cast<std::uintptr_t>(meta.data()));
  CHECK(slot.UC_FIELD(metadata_len) == 64);
  CHECK(slot.UC_FIELD(addr) == reinterpret_cast<std::uintptr_t>(data.data()));
  CHECK(slot.UC_FIELD(data_len) == 4096);
  CHECK(slot.UC_FIELD(cdw10) == 3);
  CHECK(slot.UC_FIELD(cdw11) == 2);
  CHECK(slot.UC_FIELD(cdw12) == (7U | (1U << 30)));
  CHECK(slot.UC_FIELD(cdw13) == 0x07);
  CHECK(slot.UC_FIELD(cdw14) == 0);
  CHECK(slot.UC_FIELD(cdw15) == 0);
  CHECK(slot.UC_FIELD(timeout_ms) == 1500);
  CHECK(slot.UC_FIELD(rsvd2) == 0);
  // The 8 bytes of the command area past the 72-byte command are zeroed, and nothing beyond it is touched.
  for (std::size_t i = offsetof(io_uring_sqe, cmd) + 72; i < 128; ++i) CHECK(slot.bytes[i] == 0);
}

TEST_CASE("an admin command goes with cmd_op ADMIN, a registered buffer with IORING_URING_CMD_FIXED and its index") {
  std::array<std::byte, 4096> id{};
  nvme::options o;
  o.fixed_buffer = 9;
  auto op = nvme::admin(fixed_file(2), nvme::identify_controller(), id, o);
  sqe128 slot{};
  op.prepare_sqe(slot.sqe());
  CHECK(slot.sqe().cmd_op == NVME_URING_CMD_ADMIN);
  CHECK((slot.sqe().flags & IOSQE_FIXED_FILE) != 0);
  CHECK(slot.sqe().fd == 2);
  CHECK(slot.sqe().uring_cmd_flags == IORING_URING_CMD_FIXED);
  CHECK(static_cast<unsigned>(slot.sqe().buf_index) == 9);
  CHECK(slot.UC_FIELD(opcode) == 0x06);
  CHECK(slot.UC_FIELD(cdw10) == 0x01);
  CHECK(slot.UC_FIELD(addr) == reinterpret_cast<std::uintptr_t>(id.data()));
  CHECK(slot.UC_FIELD(data_len) == 4096);
  CHECK(slot.UC_FIELD(metadata) == 0);
  CHECK(slot.UC_FIELD(metadata_len) == 0);
  CHECK(slot.UC_FIELD(timeout_ms) == 0);  // the driver's default
}

TEST_CASE("a command without data has addr and data_len 0; a const buffer is passed for writes") {
  sqe128 slot{};
  auto flush = nvme::io(3, nvme::flush(1));
  flush.prepare_sqe(slot.sqe());
  CHECK(slot.UC_FIELD(opcode) == 0x00);
  CHECK(slot.UC_FIELD(addr) == 0);
  CHECK(slot.UC_FIELD(data_len) == 0);

  const std::array<std::byte, 512> block{};
  auto w = nvme::io(3, *nvme::write(1, 0, 1), block);
  w.prepare_sqe(slot.sqe());
  CHECK(slot.UC_FIELD(opcode) == 0x01);
  CHECK(slot.UC_FIELD(addr) == reinterpret_cast<std::uintptr_t>(block.data()));
  CHECK(slot.UC_FIELD(data_len) == 512);

  auto set = nvme::admin(4, nvme::set_volatile_write_cache(true));
  set.prepare_sqe(slot.sqe());
  CHECK(slot.sqe().cmd_op == NVME_URING_CMD_ADMIN);
  CHECK(slot.UC_FIELD(cdw11) == 1);
}

TEST_CASE("the vectored forms use IO_VEC / ADMIN_VEC with addr the iovec array and data_len its count") {
  std::array<std::byte, 512> a{}, b{};
  const std::array<iovec, 2> iov{{{a.data(), a.size()}, {b.data(), b.size()}}};
  sqe128 slot{};
  auto op = nvme::io_vec(3, *nvme::read(1, 0, 2), iov);
  op.prepare_sqe(slot.sqe());
  CHECK(slot.sqe().cmd_op == NVME_URING_CMD_IO_VEC);
  CHECK(slot.UC_FIELD(addr) == reinterpret_cast<std::uintptr_t>(iov.data()));
  CHECK(slot.UC_FIELD(data_len) == 2);
  auto adm = nvme::admin_vec(4, nvme::get_smart_log(), iov);
  adm.prepare_sqe(slot.sqe());
  CHECK(slot.sqe().cmd_op == NVME_URING_CMD_ADMIN_VEC);
  CHECK(slot.UC_FIELD(data_len) == 2);
}

TEST_CASE("with_timeout on an NVMe command becomes its timeout_ms, never a linked timeout") {
  auto op = with_timeout(nvme::io(3, nvme::flush(1)), 2500ms);
  CHECK(op.link_timeout == nullptr);
  sqe128 slot{};
  op.prepare_sqe(slot.sqe());
  CHECK(slot.UC_FIELD(timeout_ms) == 2500);
  auto rounded = with_timeout(nvme::io(3, nvme::flush(1)), 1500us);
  rounded.prepare_sqe(slot.sqe());
  CHECK(slot.UC_FIELD(timeout_ms) == 2);  // rounded up: a deadline is never shortened
}

TEST_CASE("finish returns the NVMe status and DW0 from res2, keeping DW1, and a negative res as an errno") {
  auto op = nvme::admin(4, nvme::get_features(nvme::feature_id::number_of_queues));
  completion c{};
  c.res = 0;
  c.extra[0] = 0xAAAABBBB'003F003FULL;
  auto r = op.finish(c);
  REQUIRE(r.has_value());
  CHECK(r->ok());
  CHECK_FALSE(r->error());
  CHECK(r->dw0 == 0x003F003FU);
  CHECK(r->dw1() == 0xAAAABBBBU);
  CHECK(r->result == 0xAAAABBBB'003F003FULL);

  c.res = 0x4080;  // an NVMe status: a reply, not an error of the result
  c.extra[0] = 0;
  r = op.finish(c);
  REQUIRE(r.has_value());
  CHECK_FALSE(r->ok());
  CHECK(r->status.raw() == 0x4080);
  CHECK(r->status.dnr());
  CHECK(r->error() == nvme::errc::lba_out_of_range);

  c.res = -EINTR;  // the driver timed the command out and aborted it
  r = op.finish(c);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error() == std::errc::interrupted);
  CHECK(r.error().category() == std::system_category());

  c.res = -ENOTTY;  // an admin command sent to /dev/ngXnY
  CHECK(op.finish(c).error() == std::errc::inappropriate_io_control_operation);
}
