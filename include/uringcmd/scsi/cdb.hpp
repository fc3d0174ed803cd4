// SPDX-License-Identifier: MIT
// SCSI CDB builders: constexpr functions that return a `cdb` (up to 32 bytes), byte-exact to the
// SPC-4/SBC-4 command tables cited on each, plus the UNMAP parameter list and a raw escape hatch.
//
// No field is ever silently truncated. A parameter whose field is 8, 16, 32 or 64 bits wide takes
// exactly that type (READ(10): uint32_t LBA, uint16_t blocks), so a too-wide argument is the
// caller's narrowing conversion, which -Wconversion reports. Fields of other widths take an enum
// (page control, power condition, BYTCHK) or, where any byte value could be passed (the 6-bit MODE
// SENSE page code, a raw CDB's length, an UNMAP list's size), the builder returns std::nullopt.
// Reserved bytes and the CONTROL byte are always 0 (Linux uses neither NACA nor linked commands).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include <uringcmd/scsi/bytes.hpp>
#include <uringcmd/scsi/opcodes.hpp>

namespace uringcmd::scsi {

namespace cdb_detail {
struct cdb_access;
}

/// A command descriptor block: 1..32 bytes, stored inline; the bytes past size() are zero.
class [[nodiscard]] cdb {
 public:
  static constexpr std::size_t max_size = 32;  // variable-length CDBs (opcode 0x7f) are 32 bytes

  constexpr std::span<const std::uint8_t> bytes() const noexcept { return {bytes_.data(), size_}; }
  /// Writable view of the same size(), to set a field no builder offers (e.g. GROUP NUMBER).
  constexpr std::span<std::uint8_t> bytes() noexcept { return {bytes_.data(), size_}; }
  constexpr const std::uint8_t* data() const noexcept { return bytes_.data(); }
  constexpr std::size_t size() const noexcept { return size_; }
  constexpr std::uint8_t opcode() const noexcept { return bytes_[0]; }
  constexpr std::uint8_t operator[](std::size_t i) const noexcept { return bytes_[i]; }
  friend constexpr bool operator==(const cdb&, const cdb&) noexcept = default;

 private:
  friend struct cdb_detail::cdb_access;
  constexpr cdb(std::uint8_t opcode, std::uint8_t size) noexcept : size_(size) { bytes_[0] = opcode; }
  std::array<std::uint8_t, max_size> bytes_{};
  std::uint8_t size_ = 0;
};

namespace cdb_detail {
// Builders construct a zeroed cdb of the table's length and fill it through a raw pointer.
struct cdb_access {
  static constexpr cdb make(std::uint8_t opcode, std::uint8_t size) noexcept { return {opcode, size}; }
  static constexpr std::uint8_t* ptr(cdb& c) noexcept { return c.bytes_.data(); }
};
constexpr std::uint8_t bit(bool on, unsigned n) noexcept { return static_cast<std::uint8_t>(on ? (1U << n) : 0U); }
constexpr std::uint8_t u8(unsigned v) noexcept { return static_cast<std::uint8_t>(v); }
}  // namespace cdb_detail

// ---- SPC-4 -----------------------------------------------------------------------------------

/// SPC-4 table "TEST UNIT READY command": all fields after the opcode are reserved.
constexpr cdb test_unit_ready() noexcept { return cdb_detail::cdb_access::make(op::test_unit_ready, 6); }

struct request_sense_flags {
  bool desc = false;  // ask for descriptor-format sense data instead of fixed format
};
/// SPC-4 table "REQUEST SENSE command": DESC is byte 1 bit 0; the ALLOCATION LENGTH is one byte.
constexpr cdb request_sense(std::uint8_t alloc_len, request_sense_flags f = {}) noexcept {
  cdb c = cdb_detail::cdb_access::make(op::request_sense, 6);
  std::uint8_t* b = cdb_detail::cdb_access::ptr(c);
  b[1] = cdb_detail::bit(f.desc, 0);
  b[4] = alloc_len;
  return c;
}

/// SPC-4 table "INQUIRY command", standard data (EVPD=0; the PAGE CODE must then be 0). The
/// ALLOCATION LENGTH is bytes 3-4; SPC-2 devices read only byte 4, so stay under 256 for them.
constexpr cdb inquiry(std::uint16_t alloc_len) noexcept {
  cdb c = cdb_detail::cdb_access::make(op::inquiry, 6);
  std::uint8_t* b = cdb_detail::cdb_access::ptr(c);
  put_be<2>(b + 3, alloc_len);
  return c;
}

/// SPC-4 table "INQUIRY command" with EVPD=1 (byte 1 bit 0) for VPD page `page` (the codes are
/// `vpd::` in scsi/inquiry.hpp: 0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2, ...).
constexpr cdb inquiry_vpd(std::uint8_t page, std::uint16_t alloc_len) noexcept {
  cdb c = inquiry(alloc_len);
  std::uint8_t* b = cdb_detail::cdb_access::ptr(c);
  b[1] = 0x01;
  b[2] = page;
  return c;
}

/// SPC-4 table "REPORT LUNS command": SELECT REPORT is byte 2 (0x00 addressable LUs, 0x01 well
/// known, 0x02 all); the 4-byte ALLOCATION LENGTH must be at least 16 or the device refuses it.
constexpr cdb report_luns(std::uint32_t alloc_len, std::uint8_t select_report = 0) noexcept {
  cdb c = cdb_detail::cdb_access::make(op::report_luns, 12);
  std::uint8_t* b = cdb_detail::cdb_access::ptr(c);
  b[2] = select_report;
  put_be<4>(b + 6, alloc_len);
  return c;
}

/// PC field of MODE SENSE (SPC-4 table "Page control (PC) field").
enum class page_control : std::uint8_t { current = 0, changeable = 1, default_values = 2, saved = 3 };

struct mode_sense6_flags {
  page_control pc = page_control::current;
  bool dbd = false;  // disable block descriptors
};
struct mode_sense10_flags {
  page_control pc = page_control::current;
  bool dbd = false;
  bool llbaa = false;  // accept long (16-byte) LBA block descriptors
};

/// SPC-4 table "MODE SENSE(6) command": DBD byte 1 bit 3; PC (bits 7:6) and the 6-bit PAGE CODE
/// share byte 2; SUBPAGE CODE byte 3; one-byte ALLOCATION LENGTH. nullopt when page > 0x3f
/// (0x3f itself means all pages; subpage 0xff all subpages).
[[nodiscard]] constexpr std::optional<cdb> mode_sense6(std::uint8_t page, std::uint8_t subpage,
                                                       std::uint8_t alloc_len,
                                                       mode_sense6_flags f = {}) noexcept {
  if (page > 0x3f) return std::nullopt;
  cdb c = cdb_detail::cdb_access::make(op::mode_sense6, 6);
  std::uint8_t* b = cdb_detail::cdb_access::ptr(c);
  b[1] = cdb_detail::bit(f.dbd, 3);
  b[2] = cdb_detail::u8(static_cast<unsigned>(f.pc) << 6 | page);
  b[3] = subpage;
  b[4] = alloc_len;
  return c;
}

/// SPC-4 table "MODE SENSE(10) command": as MODE SENSE(6) plus LLBAA (byte 1 bit 4) and a 2-byte
/// ALLOCATION LENGTH in bytes 7-8. nullopt when page > 0x3f.
[[nodiscard]] constexpr std::optional<cdb> mode_sense10(std::uint8_t page, std::uint8_t subpage,
                                                        std::uint16_t alloc_len,
                                                        mode_sense10_flags f = {}) noexcept {
  if (page > 0x3f) return std::nullopt;
  cdb c = cdb_detail::cdb_access::make(op::mode_sense10, 10);
  std::uint8_t* b = cdb_detail::cdb_access::ptr(c);
  b[1] = cdb_detail::u8(cdb_detail::bit(f.llbaa, 4) | cdb_detail::bit(f.dbd, 3));
  b[2] = cdb_detail::u8(static_cast<unsigned>(f.pc) << 6 | page);
  b[3] = subpage;
  put_be<2>(b + 7, alloc_len);
  return c;
}

/// REPORTING OPTIONS of REPORT SUPPORTED OPERATION CODES (SPC-4 table "REPORTING OPTIONS field").
enum class rsoc_report : std::uint8_t {
  all = 0,                 // every supported command
  one_command = 1,         // `opcode`, which must not have service actions
  one_service_action = 2,  // `opcode` with `service_action`
  one_command_either = 3,  // `opcode`, with `service_action` if the opcode has them
};
struct rsoc_options {
  rsoc_report report = rsoc_report::all;
  std::uint8_t opcode = 0;
  std::uint16_t service_action = 0;
  bool rctd = false;  // return command timeouts descriptors
};
/// SPC-4 table "REPORT SUPPORTED OPERATION CODES command": MAINTENANCE IN, service action 0x0c;
/// byte 2 holds RCTD (bit 7) and REPORTING OPTIONS (bits 2:0), bytes 3-5 the requested opcode and
/// service action, bytes 6-9 the ALLOCATION LENGTH.
constexpr cdb report_supported_opcodes(std::uint32_t alloc_len, rsoc_options o = {}) noexcept {
  cdb c = cdb_detail::cdb_access::make(op::maintenance_in, 12);
  std::uint8_t* b = cdb_detail::cdb_access::ptr(c);
  b[1] = service_action::report_supported_opcodes;
  b[2] = cdb_detail::u8(cdb_detail::bit(o.rctd, 7) | static_cast<unsigned>(o.report));
  b[3] = o.opcode;
  put_be<2>(b + 4, o.service_action);
  put_be<4>(b + 6, alloc_len);
  return c;
}

// ---- SBC-4 -----------------------------------------------------------------------------------

/// SBC-4 table "READ CAPACITY (10) command": LBA and PMI are obsolete, so every field is 0.
constexpr cdb read_capacity10() noexcept { return cdb_detail::cdb_access::make(op::read_capacity10, 10); }

/// SBC-4 table "READ CAPACITY (16) command": SERVICE ACTION IN(16), service action 0x10; the
/// ALLOCATION LENGTH is bytes 10-13 (the parameter data is 32 bytes in SBC-3 and later).
constexpr cdb read_capacity16(std::uint32_t alloc_len = 32) noexcept {
  cdb c = cdb_detail::cdb_access::make(op::service_action_in16, 16);
  std::uint8_t* b = cdb_detail::cdb_access::ptr(c);
  b[1] = service_action::read_capacity16;
  put_be<4>(b + 10, alloc_len);
  return c;
}

struct rw_flags {
  bool fua = false;  // force unit access: the medium, not only a volatile cache
  bool dpo = false;  // disable page out: do not keep these blocks cached
};

namespace cdb_detail {
// READ/WRITE/VERIFY/WRITE SAME/SYNCHRONIZE CACHE (10) share one shape: LBA in bytes 2-5, a 2-byte
// block count in 7-8. The (16) forms: LBA in bytes 2-9, a 4-byte count in 10-13.
constexpr cdb lba10(std::uint8_t opcode, std::uint8_t byte1, std::uint32_t lba, std::uint16_t n) noexcept {
  cdb c = cdb_access::make(opcode, 10);
  std::uint8_t* b = cdb_access::ptr(c);
  b[1] = byte1;
  put_be<4>(b + 2, lba);
  put_be<2>(b + 7, n);
  return c;
}
constexpr cdb lba16(std::uint8_t opcode, std::uint8_t byte1, std::uint64_t lba, std::uint32_t n) noexcept {
  cdb c = cdb_access::make(opcode, 16);
  std::uint8_t* b = cdb_access::ptr(c);
  b[1] = byte1;
  put_be<8>(b + 2, lba);
  put_be<4>(b + 10, n);
  return c;
}
// DPO is byte 1 bit 4 and FUA bit 3 in READ and WRITE (10)/(16).
constexpr std::uint8_t rw_byte1(rw_flags f) noexcept { return u8(bit(f.dpo, 4) | bit(f.fua, 3)); }
}  // namespace cdb_detail

/// SBC-4 table "READ (10) command". blocks == 0 transfers nothing and is not an error.
constexpr cdb read10(std::uint32_t lba, std::uint16_t blocks, rw_flags f = {}) noexcept {
  return cdb_detail::lba10(op::read10, cdb_detail::rw_byte1(f), lba, blocks);
}
/// SBC-4 table "READ (16) command". blocks == 0 transfers nothing and is not an error.
constexpr cdb read16(std::uint64_t lba, std::uint32_t blocks, rw_flags f = {}) noexcept {
  return cdb_detail::lba16(op::read16, cdb_detail::rw_byte1(f), lba, blocks);
}
/// SBC-4 table "WRITE (10) command". blocks == 0 transfers nothing and is not an error.
constexpr cdb write10(std::uint32_t lba, std::uint16_t blocks, rw_flags f = {}) noexcept {
  return cdb_detail::lba10(op::write10, cdb_detail::rw_byte1(f), lba, blocks);
}
/// SBC-4 table "WRITE (16) command". blocks == 0 transfers nothing and is not an error.
constexpr cdb write16(std::uint64_t lba, std::uint32_t blocks, rw_flags f = {}) noexcept {
  return cdb_detail::lba16(op::write16, cdb_detail::rw_byte1(f), lba, blocks);
}

/// BYTCHK of VERIFY (SBC-4 table "BYTCHK field"); 2 is reserved, hence the enum.
enum class byte_check : std::uint8_t {
  none = 0,         // verify the medium only; no data-out buffer
  compare = 1,      // compare each block with the data-out buffer
  compare_one = 3,  // compare each block with the single block in the data-out buffer
};
struct verify_flags {
  byte_check bytchk = byte_check::none;
  bool dpo = false;
};
namespace cdb_detail {
constexpr std::uint8_t verify_byte1(verify_flags f) noexcept {
  return u8(bit(f.dpo, 4) | static_cast<unsigned>(f.bytchk) << 1);
}
}  // namespace cdb_detail
/// SBC-4 table "VERIFY (10) command": DPO byte 1 bit 4, BYTCHK bits 2:1. blocks == 0 verifies
/// nothing and is not an error.
constexpr cdb verify10(std::uint32_t lba, std::uint16_t blocks, verify_flags f = {}) noexcept {
  return cdb_detail::lba10(op::verify10, cdb_detail::verify_byte1(f), lba, blocks);
}
/// SBC-4 table "VERIFY (16) command": byte 1 as VERIFY(10).
constexpr cdb verify16(std::uint64_t lba, std::uint32_t blocks, verify_flags f = {}) noexcept {
  return cdb_detail::lba16(op::verify16, cdb_detail::verify_byte1(f), lba, blocks);
}

struct write_same_flags {
  bool unmap = false;   // deallocate the blocks if the data-out block is all zeros
  bool anchor = false;  // anchor instead of deallocate (with unmap)
};
struct write_same16_flags {
  bool unmap = false;
  bool anchor = false;
  bool ndob = false;  // no data-out buffer: write zeros (the command then carries no data)
};
/// SBC-4 table "WRITE SAME (10) command": ANCHOR byte 1 bit 4, UNMAP bit 3. blocks == 0 means "to
/// the last LBA" unless the Block Limits VPD page sets WSNZ, so prefer a non-zero count.
constexpr cdb write_same10(std::uint32_t lba, std::uint16_t blocks, write_same_flags f = {}) noexcept {
  const std::uint8_t byte1 = cdb_detail::u8(cdb_detail::bit(f.anchor, 4) | cdb_detail::bit(f.unmap, 3));
  return cdb_detail::lba10(op::write_same10, byte1, lba, blocks);
}
/// SBC-4 table "WRITE SAME (16) command": as WRITE SAME(10) plus NDOB in byte 1 bit 0.
constexpr cdb write_same16(std::uint64_t lba, std::uint32_t blocks, write_same16_flags f = {}) noexcept {
  using cdb_detail::bit;
  const std::uint8_t byte1 = cdb_detail::u8(bit(f.anchor, 4) | bit(f.unmap, 3) | bit(f.ndob, 0));
  return cdb_detail::lba16(op::write_same16, byte1, lba, blocks);
}

struct sync_cache_flags {
  bool immed = false;  // complete once the command is validated, before the cache is flushed
};
/// SBC-4 table "SYNCHRONIZE CACHE (10) command": IMMED byte 1 bit 1. blocks == 0 means from `lba`
/// to the last LBA, so the defaults flush the whole cache.
constexpr cdb synchronize_cache10(std::uint32_t lba = 0, std::uint16_t blocks = 0,
                                  sync_cache_flags f = {}) noexcept {
  return cdb_detail::lba10(op::synchronize_cache10, cdb_detail::bit(f.immed, 1), lba, blocks);
}
/// SBC-4 table "SYNCHRONIZE CACHE (16) command": byte 1 as the (10) form.
constexpr cdb synchronize_cache16(std::uint64_t lba = 0, std::uint32_t blocks = 0,
                                  sync_cache_flags f = {}) noexcept {
  return cdb_detail::lba16(op::synchronize_cache16, cdb_detail::bit(f.immed, 1), lba, blocks);
}

/// POWER CONDITION of START STOP UNIT (SBC-4 table "POWER CONDITION field"). Anything but
/// start_valid makes the device ignore START and LOEJ.
enum class power_condition : std::uint8_t {
  start_valid = 0x0,
  active = 0x1,
  idle = 0x2,
  standby = 0x3,
  lu_control = 0x7,
  force_idle_0 = 0xa,
  force_standby_0 = 0xb,
};
struct start_stop_flags {
  bool start = false;     // spin up (true) or down (false)
  bool loej = false;      // load (with start) or eject (without) the medium
  bool immed = false;     // complete before the operation finishes
  bool no_flush = false;  // do not flush the cache before stopping
  power_condition pc = power_condition::start_valid;
};
/// SBC-4 table "START STOP UNIT command": IMMED byte 1 bit 0; byte 4 holds POWER CONDITION (bits
/// 7:4), NO_FLUSH (2), LOEJ (1), START (0). The POWER CONDITION MODIFIER (byte 3) stays 0; set it
/// through cdb::bytes() for IDLE_B/C or STANDBY_Y.
constexpr cdb start_stop_unit(start_stop_flags f) noexcept {
  cdb c = cdb_detail::cdb_access::make(op::start_stop_unit, 6);
  std::uint8_t* b = cdb_detail::cdb_access::ptr(c);
  using cdb_detail::bit;
  b[1] = bit(f.immed, 0);
  b[4] = cdb_detail::u8(static_cast<unsigned>(f.pc) << 4 | bit(f.no_flush, 2) | bit(f.loej, 1) | bit(f.start, 0));
  return c;
}

// ---- UNMAP -----------------------------------------------------------------------------------

struct unmap_flags {
  bool anchor = false;  // anchor the blocks instead of deallocating them
};
/// SBC-4 table "UNMAP command": ANCHOR byte 1 bit 0; PARAMETER LIST LENGTH bytes 7-8 (the value
/// unmap_parameter_list returns).
constexpr cdb unmap(std::uint16_t param_list_len, unmap_flags f = {}) noexcept {
  cdb c = cdb_detail::cdb_access::make(op::unmap, 10);
  std::uint8_t* b = cdb_detail::cdb_access::ptr(c);
  b[1] = cdb_detail::bit(f.anchor, 0);
  put_be<2>(b + 7, param_list_len);
  return c;
}

/// One SBC-4 "UNMAP block descriptor": LBA (8 bytes), NUMBER OF LOGICAL BLOCKS (4), 4 reserved.
struct unmap_descriptor {
  std::uint64_t lba = 0;
  std::uint32_t blocks = 0;
};
inline constexpr std::size_t unmap_header_size = 8;
inline constexpr std::size_t unmap_descriptor_size = 16;
/// UNMAP DATA LENGTH (2 bytes) counts the 6 header bytes after itself plus every descriptor.
inline constexpr std::size_t max_unmap_descriptors = (0xffff - 6) / unmap_descriptor_size;  // 4095
constexpr std::size_t unmap_parameter_list_size(std::size_t descriptors) noexcept {
  return unmap_header_size + descriptors * unmap_descriptor_size;
}

/// Writes the SBC-4 "UNMAP parameter list" (header, then one block descriptor per entry) at the
/// start of `out` and returns its length for unmap(). nullopt, writing nothing, when `out` is
/// shorter than unmap_parameter_list_size(n) or n > max_unmap_descriptors. The device's own
/// limit (MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT, Block Limits VPD) is the caller's to respect.
[[nodiscard]] constexpr std::optional<std::uint16_t> unmap_parameter_list(
    std::span<std::uint8_t> out, std::span<const unmap_descriptor> descriptors) noexcept {
  const std::size_t n = descriptors.size();
  if (n > max_unmap_descriptors || out.size() < unmap_parameter_list_size(n)) return std::nullopt;
  const auto len = static_cast<std::uint16_t>(unmap_parameter_list_size(n));
  std::uint8_t* p = out.data();
  put_be<2>(p, len - 2);                        // UNMAP DATA LENGTH: the bytes after this field
  put_be<2>(p + 2, n * unmap_descriptor_size);  // UNMAP BLOCK DESCRIPTOR DATA LENGTH
  put_be<4>(p + 4, 0U);                         // reserved
  for (std::uint8_t* d = p + unmap_header_size; const unmap_descriptor& e : descriptors) {
    put_be<8>(d, e.lba);
    put_be<4>(d + 8, e.blocks);
    put_be<4>(d + 12, 0U);  // reserved
    d += unmap_descriptor_size;
  }
  return len;
}
[[nodiscard]] inline std::optional<std::uint16_t> unmap_parameter_list(
    std::span<std::byte> out, std::span<const unmap_descriptor> descriptors) noexcept {
  const std::span<std::uint8_t> bytes(reinterpret_cast<std::uint8_t*>(out.data()), out.size());
  return unmap_parameter_list(bytes, descriptors);
}

// ---- Raw -------------------------------------------------------------------------------------

/// Any CDB of 1..32 bytes, for commands without a builder. nullopt for an empty or longer CDB.
[[nodiscard]] constexpr std::optional<cdb> raw(std::span<const std::uint8_t> bytes) noexcept {
  if (bytes.empty() || bytes.size() > cdb::max_size) return std::nullopt;
  cdb c = cdb_detail::cdb_access::make(bytes[0], static_cast<std::uint8_t>(bytes.size()));
  std::uint8_t* b = cdb_detail::cdb_access::ptr(c);
  for (std::size_t i = 1; i < bytes.size(); ++i) b[i] = bytes[i];
  return c;
}
/// The same for a length known at compile time, checked at compile time: raw({0x12, 0, 0, 0, 36, 0}).
template <std::size_t N>
  requires(N >= 1 && N <= cdb::max_size)
constexpr cdb raw(const std::uint8_t (&bytes)[N]) noexcept {
  return *raw(std::span<const std::uint8_t>(bytes, N));
}

}  // namespace uringcmd::scsi
