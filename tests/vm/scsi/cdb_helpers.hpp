// SPDX-License-Identifier: MIT
// CDBs written out by hand from SPC/SBC, independently of the library's CDB builders, and the
// bytes they bring back read by hand: shared by the transport tests (bsg_test.cpp, sg_test.cpp),
// which send them over BSG io_uring and over sg.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include <doctest/doctest.h>

#include <uringcmd/scsi/reply.hpp>
#include <uringcmd/task.hpp>

namespace uc_test::cdb {

inline std::array<std::uint8_t, 10> read10(std::uint32_t lba, std::uint16_t blocks) {  // SBC-4 READ(10)
  return {0x28, 0, std::uint8_t(lba >> 24), std::uint8_t(lba >> 16), std::uint8_t(lba >> 8), std::uint8_t(lba), 0,
          std::uint8_t(blocks >> 8), std::uint8_t(blocks), 0};
}
inline std::array<std::uint8_t, 10> write10(std::uint32_t lba, std::uint16_t blocks) {  // SBC-4 WRITE(10)
  auto c = read10(lba, blocks);
  c[0] = 0x2a;
  return c;
}
inline constexpr std::array<std::uint8_t, 6> tur_cdb{0x00, 0, 0, 0, 0, 0};   // SPC-6 TEST UNIT READY
inline constexpr std::array<std::uint8_t, 6> inq_cdb{0x12, 0, 0, 0, 96, 0};  // SPC-6 INQUIRY, 96 bytes

struct capacity {
  std::uint32_t last_lba;
  std::uint32_t block_size;
};

/// SBC-4 READ CAPACITY(10) through `command_in` (&scsi::bsg_command_in or &scsi::sg_command_in),
/// which must answer GOOD.
template <class CommandIn>
uringcmd::task<capacity> read_capacity10(CommandIn command_in, int fd) {
  const std::array<std::uint8_t, 10> cdb{0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  std::array<std::byte, 8> data{};
  auto r = co_await command_in(fd, cdb, data, uringcmd::scsi::command_options{});
  REQUIRE(r.has_value());
  REQUIRE(r->good());
  auto be32 = [&](std::size_t o) {
    return std::uint32_t(data[o]) << 24 | std::uint32_t(data[o + 1]) << 16 | std::uint32_t(data[o + 2]) << 8 |
           std::uint32_t(data[o + 3]);
  };
  co_return capacity{be32(0), be32(4)};
}

/// The sense key and additional sense code, from fixed (70h/71h) or descriptor (72h/73h) sense data.
inline std::uint8_t sense_key(std::span<const std::uint8_t> s) { return (s[0] & 0x7f) >= 0x72 ? s[1] & 0x0f : s[2] & 0x0f; }
inline std::uint8_t sense_asc(std::span<const std::uint8_t> s) { return (s[0] & 0x7f) >= 0x72 ? s[2] : s[12]; }

}  // namespace uc_test::cdb
