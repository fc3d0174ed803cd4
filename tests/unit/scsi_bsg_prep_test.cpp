// SPDX-License-Identifier: MIT
// bsg_command_op's SQE and its reply, on byte arrays: no ring, no device.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include <doctest/doctest.h>

#include <uringcmd/cancellation.hpp>
#include <uringcmd/scsi/bsg.hpp>

using namespace uringcmd;
using namespace std::chrono_literals;

namespace {
struct alignas(64) sqe128 {
  std::array<unsigned char, 128> bytes;
  io_uring_sqe& sqe() { return *reinterpret_cast<io_uring_sqe*>(bytes.data()); }
  scsi::bsg_uring_cmd cmd() const {
    scsi::bsg_uring_cmd c;
    std::memcpy(&c, bytes.data() + offsetof(io_uring_sqe, cmd), sizeof c);
    return c;
  }
};
}  // namespace

TEST_CASE("a BSG READ fills bsg_uring_cmd: CDB, sense buffer, data-in, timeout, protocol SCSI") {
  const std::array<std::uint8_t, 10> cdb{0x28, 0, 0, 0, 0, 100, 0, 0, 8, 0};
  std::array<std::byte, 4096> data{};
  scsi::bsg_options o;
  o.timeout_ms = 1234;
  auto op = scsi::bsg_command_in(5, cdb, data, o);
  sqe128 slot;
  slot.bytes.fill(0xff);  // a reused slot: nothing of it may reach the kernel
  op.prepare_sqe(slot.sqe());
  CHECK(slot.sqe().opcode == IORING_OP_URING_CMD);
  CHECK(slot.sqe().fd == 5);
  CHECK(slot.sqe().cmd_op == 0);
  CHECK(slot.sqe().uring_cmd_flags == 0);
  const auto c = slot.cmd();
  CHECK(c.request_len == 10);
  CHECK(std::memcmp(reinterpret_cast<const void*>(c.request), cdb.data(), cdb.size()) == 0);  // a copy in the op
  CHECK(c.request != reinterpret_cast<std::uintptr_t>(cdb.data()));
  CHECK(c.protocol == scsi::bsg_protocol_scsi);
  CHECK(c.subprotocol == scsi::bsg_sub_protocol_scsi_cmd);
  CHECK(c.max_response_len == scsi::max_sense_size);
  CHECK(c.response != 0);
  CHECK(c.din_xferp == reinterpret_cast<std::uintptr_t>(data.data()));
  CHECK(c.din_xfer_len == 4096);
  CHECK(c.dout_xferp == 0);
  CHECK(c.dout_xfer_len == 0);  // never BIDI
  CHECK(c.dout_iovec_count == 0);
  CHECK(c.din_iovec_count == 0);
  CHECK(c.timeout_ms == 1234);
  for (unsigned char b : c.reserved) CHECK(b == 0);
}

TEST_CASE("a BSG WRITE with a fixed buffer sets data-out and IORING_URING_CMD_FIXED") {
  const std::array<std::uint8_t, 10> cdb{0x2a, 0, 0, 0, 0, 1, 0, 0, 1, 0};
  std::array<std::byte, 512> data{};
  scsi::bsg_options o;
  o.fixed_buffer = 7;
  auto op = scsi::bsg_command_out(fixed_file(3), cdb, data, o);
  sqe128 slot{};
  op.prepare_sqe(slot.sqe());
  CHECK((slot.sqe().flags & IOSQE_FIXED_FILE) != 0);
  CHECK(slot.sqe().uring_cmd_flags == IORING_URING_CMD_FIXED);
  CHECK(static_cast<unsigned>(slot.sqe().buf_index) == 7);
  const auto c = slot.cmd();
  CHECK(c.dout_xferp == reinterpret_cast<std::uintptr_t>(data.data()));
  CHECK(c.dout_xfer_len == 512);
  CHECK(c.din_xfer_len == 0);
  CHECK(c.timeout_ms == 60'000);  // the default deadline, as sg3_utils
}

TEST_CASE("with_timeout on a BSG command becomes its timeout_ms") {
  const std::array<std::uint8_t, 6> tur{};
  auto op = with_timeout(scsi::bsg_command(3, tur), 2500ms);
  CHECK(op.link_timeout == nullptr);
  sqe128 slot{};
  op.prepare_sqe(slot.sqe());
  CHECK(slot.cmd().timeout_ms == 2500);
  CHECK(slot.cmd().din_xfer_len == 0);
  CHECK(slot.cmd().dout_xfer_len == 0);
}

TEST_CASE("the reply unpacks res2: status, driver, host, sense length and the residual") {
  const std::array<std::uint8_t, 10> cdb{0x28};
  std::array<std::byte, 4096> data{};
  auto op = scsi::bsg_command_in(5, cdb, data);
  completion c{};
  c.res = 0;
  // CHECK CONDITION, DRIVER_SENSE, DID_OK, 18 bytes of sense, 4096 not transferred.
  c.extra[0] = (std::uint64_t{4096} << 32) | (std::uint64_t{18} << 24) | (0x00u << 16) | (0x08u << 8) | 0x02u;
  auto r = op.finish(c);
  REQUIRE(r.has_value());
  CHECK(r->status == 0x02);
  CHECK(r->driver == 0x08);
  CHECK(r->host == 0);
  CHECK(r->sense_len == 18);
  CHECK(r->sense().size() == 18);
  CHECK(r->residual == 4096);
  CHECK(r->transferred() == 0);
  CHECK_FALSE(r->good());

  c.extra[0] = std::uint64_t{512} << 32;  // GOOD with a residual: a short transfer, not an error
  r = op.finish(c);
  CHECK(r->good());
  CHECK(r->transferred() == 3584);

  c.res = -EPERM;  // the transport refused (no CAP_SYS_RAWIO for this opcode)
  CHECK(op.finish(c).error() == std::errc::operation_not_permitted);

  c.res = 0;
  c.extra[0] = std::uint64_t{200} << 24;  // a sense length over the buffer is clamped, never over-read
  CHECK(op.finish(c)->sense_len == scsi::max_sense_size);
}
