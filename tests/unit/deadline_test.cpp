// SPDX-License-Identifier: MIT
// Deadlines for commands the kernel cannot cancel: with_timeout writes them into the command's
// own timeout_ms (as nvme_uring_cmd and bsg_uring_cmd carry it) instead of linking a timer.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include <doctest/doctest.h>

#include <uringcmd/cancellation.hpp>
#include <uringcmd/uring_cmd.hpp>

using namespace uringcmd;
using namespace std::chrono_literals;

namespace {
// Shaped like the passthrough UAPIs: a 32-bit timeout_ms somewhere inside a 72-byte command.
struct passthrough_cmd {
  std::uint8_t opcode;
  std::uint8_t pad[27];
  std::uint32_t timeout_ms;
  std::uint8_t rest[40];
};
static_assert(sizeof(passthrough_cmd) == 72);

std::uint32_t timeout_in(const auto& op) {
  std::uint32_t v;
  std::memcpy(&v, op.payload().data() + offsetof(passthrough_cmd, timeout_ms), sizeof v);
  return v;
}
}  // namespace

TEST_CASE("with_timeout writes a passthrough deadline into timeout_ms and links no timer") {
  passthrough_cmd cmd{};
  cmd.opcode = 0x28;
  cmd_options opts;
  opts.timeout_ms_offset = offsetof(passthrough_cmd, timeout_ms);
  auto timed = with_timeout(uring_cmd(3, 0x42, cmd, opts), 1500ms);
  CHECK(timed.link_timeout == nullptr);  // a LINK_TIMEOUT would do nothing for such a command
  CHECK(timeout_in(timed) == 1500);
  CHECK(static_cast<std::uint8_t>(timed.payload()[0]) == 0x28);  // the rest of the command is intact
}

TEST_CASE("a uring_cmd without a timeout field gets a linked timer instead") {
  passthrough_cmd cmd{};
  auto timed = with_timeout(uring_cmd(3, 0x42, cmd), 20ms);
  CHECK(timed.link_timeout != nullptr);
  CHECK(timed.link_timeout->tv_nsec == 20'000'000);
  CHECK(timeout_in(timed) == 0);
  // An offset that would write past the command area is not trusted either.
  cmd_options past_end;
  past_end.timeout_ms_offset = 78;
  auto t2 = with_timeout(uring_cmd(3, 0x42, cmd, past_end), 20ms);
  CHECK(t2.link_timeout != nullptr);
}

TEST_CASE("deadlines become whole milliseconds, never 0 (the driver's default) and at most UINT32_MAX") {
  CHECK(detail::deadline_ms(0ns).count() == 1);
  CHECK(detail::deadline_ms(-5ms).count() == 1);
  CHECK(detail::deadline_ms(1ns).count() == 1);
  CHECK(detail::deadline_ms(1500us).count() == 2);  // rounded up: never shorter than asked
  CHECK(detail::deadline_ms(30s).count() == 30000);
  CHECK(detail::deadline_ms(std::chrono::hours(24 * 60)).count() == UINT32_MAX);
}

TEST_CASE("a copied timed op points at its own timespec") {
  auto a = with_timeout(nop(), 5ms);
  auto b = a;
  CHECK(b.link_timeout != nullptr);
  CHECK(b.link_timeout != a.link_timeout);
  CHECK(b.link_timeout->tv_nsec == 5'000'000);
}
