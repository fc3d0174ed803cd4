// SPDX-License-Identifier: MIT
// Identify data (Base 2.0 5.17.2, NVM Command Set 1.0 4.1.5): Identify Controller (CNS 01h),
// Identify Namespace (CNS 00h), the Active Namespace ID list (CNS 02h) and the Namespace
// Identification Descriptor list (CNS 03h), parsed from the bytes the controller returned.
//
// The controller always transfers the 4096 bytes asked for; the parsers still take any span and
// never read past it. The fixed structures need the bytes up to the last field decoded
// (id_ctrl::min_size, id_ns::min_size), else std::nullopt; the variable
// parts (LBA formats, namespace lists, descriptors) yield what was returned, whole entries only.
// Field names follow the spec's (and nvme-cli's JSON) abbreviations.
//
// LIFETIME: the string_views, spans and views in the results point into the caller's buffer.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include <range/v3/view/iota.hpp>
#include <range/v3/view/transform.hpp>

#include <uringcmd/nvme/bytes.hpp>
#include <uringcmd/record_view.hpp>

namespace uringcmd::nvme {

// ---- Identify Controller (Base 2.0, figure "Identify – Identify Controller Data Structure") --

/// Identify Controller data (nvme-cli's id-ctrl); strings view the parsed buffer.
struct id_ctrl {
  /// Bytes needed: everything decoded lies before SUBNQN's end (byte 1023).
  static constexpr std::size_t min_size = 1024;

  std::uint16_t vid = 0;            ///< bytes 1:0 PCI Vendor ID
  std::uint16_t ssvid = 0;          ///< bytes 3:2 PCI Subsystem Vendor ID
  std::string_view serial;          ///< bytes 23:4 SN, trailing spaces trimmed
  std::string_view model;           ///< bytes 63:24 MN
  std::string_view firmware;        ///< bytes 71:64 FR
  std::uint8_t rab = 0;             ///< byte 72 Recommended Arbitration Burst
  std::uint32_t ieee = 0;           ///< bytes 75:73 IEEE OUI, as nvme-cli prints it (byte 73 least significant)
  std::uint8_t cmic = 0;            ///< byte 76 Controller Multi-Path I/O and Namespace Sharing Capabilities
  std::uint8_t mdts = 0;            ///< byte 77 Maximum Data Transfer Size: 2^mdts minimum pages, 0 = no limit
  std::uint16_t cntlid = 0;         ///< bytes 79:78 Controller ID
  std::uint32_t ver = 0;            ///< bytes 83:80 Version: major 31:16, minor 15:8, tertiary 7:0
  std::uint32_t rtd3r = 0;          ///< bytes 87:84 RTD3 Resume Latency (µs)
  std::uint32_t rtd3e = 0;          ///< bytes 91:88 RTD3 Entry Latency (µs)
  std::uint32_t oaes = 0;           ///< bytes 95:92 Optional Asynchronous Events Supported
  std::uint32_t ctratt = 0;         ///< bytes 99:96 Controller Attributes
  std::uint8_t cntrltype = 0;       ///< byte 111 Controller Type (1 I/O, 2 discovery, 3 administrative)
  std::array<std::uint8_t, 16> fguid{};  ///< bytes 127:112 FRU Globally Unique Identifier
  std::array<std::uint16_t, 3> crdt{};   ///< bytes 133:128 Command Retry Delay Times 1-3 (100 ms units)
  std::uint16_t oacs = 0;           ///< bytes 257:256 Optional Admin Command Support
  std::uint8_t acl = 0;             ///< byte 258 Abort Command Limit (0's based)
  std::uint8_t aerl = 0;            ///< byte 259 Asynchronous Event Request Limit (0's based)
  std::uint8_t frmw = 0;            ///< byte 260 Firmware Updates
  std::uint8_t lpa = 0;             ///< byte 261 Log Page Attributes
  std::uint8_t elpe = 0;            ///< byte 262 Error Log Page Entries (0's based)
  std::uint8_t npss = 0;            ///< byte 263 Number of Power States Support (0's based)
  std::uint8_t avscc = 0;           ///< byte 264
  std::uint8_t apsta = 0;           ///< byte 265 Autonomous Power State Transition Attributes
  std::uint16_t wctemp = 0;         ///< bytes 267:266 Warning Composite Temperature Threshold (K)
  std::uint16_t cctemp = 0;         ///< bytes 269:268 Critical Composite Temperature Threshold (K)
  uint128 tnvmcap;                  ///< bytes 295:280 Total NVM Capacity (bytes)
  uint128 unvmcap;                  ///< bytes 311:296 Unallocated NVM Capacity (bytes)
  std::uint8_t sqes = 0;            ///< byte 512 SQ entry size: required 3:0, maximum 7:4 (log2)
  std::uint8_t cqes = 0;            ///< byte 513 CQ entry size
  std::uint16_t maxcmd = 0;         ///< bytes 515:514
  std::uint32_t nn = 0;             ///< bytes 519:516 Number of Namespaces (largest NSID)
  std::uint16_t oncs = 0;           ///< bytes 521:520 Optional NVM Command Support
  std::uint16_t fuses = 0;          ///< bytes 523:522 Fused Operation Support
  std::uint8_t fna = 0;             ///< byte 524 Format NVM Attributes
  std::uint8_t vwc = 0;             ///< byte 525 Volatile Write Cache
  std::uint16_t awun = 0;           ///< bytes 527:526 Atomic Write Unit Normal (0's based, blocks)
  std::uint16_t awupf = 0;          ///< bytes 529:528 Atomic Write Unit Power Fail (0's based, blocks)
  std::uint8_t icsvscc = 0;         ///< byte 530 I/O Command Set Vendor Specific Command Configuration
  std::uint8_t nwpc = 0;            ///< byte 531 Namespace Write Protection Capabilities
  std::uint16_t acwu = 0;           ///< bytes 533:532 Atomic Compare & Write Unit
  std::uint16_t ocfs = 0;           ///< bytes 535:534 Optional Copy Formats Supported
  std::uint32_t sgls = 0;           ///< bytes 539:536 SGL Support
  std::uint32_t mnan = 0;           ///< bytes 543:540 Maximum Number of Allowed Namespaces
  std::string_view subnqn;          ///< bytes 1023:768 NVM Subsystem NVMe Qualified Name

  constexpr std::uint16_t version_major() const noexcept { return static_cast<std::uint16_t>(ver >> 16); }
  constexpr std::uint8_t version_minor() const noexcept { return static_cast<std::uint8_t>(ver >> 8); }
  constexpr std::uint8_t version_tertiary() const noexcept { return static_cast<std::uint8_t>(ver); }
  /// The largest transfer in bytes, given the controller's minimum page size (CAP.MPSMIN; 4096 on
  /// almost every controller); nullopt when MDTS is 0 (no limit) or the value overflows.
  constexpr std::optional<std::uint64_t> max_transfer_bytes(std::uint32_t min_page_size = 4096) const noexcept {
    if (mdts == 0 || mdts >= 32) return std::nullopt;
    return std::uint64_t{min_page_size} << mdts;
  }
  /// VWC bit 0: a volatile write cache is present (Flush is meaningful).
  constexpr bool volatile_write_cache() const noexcept { return (vwc & 1U) != 0; }
  /// ONCS bits: Compare (0), Write Uncorrectable (1), Dataset Management (2), Write Zeroes (3),
  /// Save/Select in features (4), Reservations (5), Timestamp (6), Verify (7), Copy (8).
  constexpr bool supports_compare() const noexcept { return (oncs & 1U) != 0; }
  constexpr bool supports_dataset_management() const noexcept { return (oncs >> 2) & 1U; }
  constexpr bool supports_write_zeroes() const noexcept { return (oncs >> 3) & 1U; }
  constexpr bool supports_verify() const noexcept { return (oncs >> 7) & 1U; }
};

/// Parses Identify Controller data. std::nullopt when fewer than id_ctrl::min_size
/// bytes were returned.
inline std::optional<id_ctrl> parse_identify_controller(std::span<const std::uint8_t> bytes) noexcept {
  const le_reader r(bytes);
  if (!r.has(0, id_ctrl::min_size)) return std::nullopt;
  auto u8 = [&](std::size_t o) { return r.u8_or0(o); };
  auto u16 = [&](std::size_t o) { return static_cast<std::uint16_t>(r.le_or0<2>(o)); };
  auto u32 = [&](std::size_t o) { return static_cast<std::uint32_t>(r.le_or0<4>(o)); };
  id_ctrl c;
  c.vid = u16(0);
  c.ssvid = u16(2);
  c.serial = ascii_field(r.bytes(4, 20));
  c.model = ascii_field(r.bytes(24, 40));
  c.firmware = ascii_field(r.bytes(64, 8));
  c.rab = u8(72);
  c.ieee = static_cast<std::uint32_t>(r.le_or0<3>(73));
  c.cmic = u8(76);
  c.mdts = u8(77);
  c.cntlid = u16(78);
  c.ver = u32(80);
  c.rtd3r = u32(84);
  c.rtd3e = u32(88);
  c.oaes = u32(92);
  c.ctratt = u32(96);
  c.cntrltype = u8(111);
  for (std::size_t i = 0; i < c.fguid.size(); ++i) c.fguid[i] = u8(112 + i);
  for (std::size_t i = 0; i < c.crdt.size(); ++i) c.crdt[i] = u16(128 + 2 * i);
  c.oacs = u16(256);
  c.acl = u8(258);
  c.aerl = u8(259);
  c.frmw = u8(260);
  c.lpa = u8(261);
  c.elpe = u8(262);
  c.npss = u8(263);
  c.avscc = u8(264);
  c.apsta = u8(265);
  c.wctemp = u16(266);
  c.cctemp = u16(268);
  c.tnvmcap = le128_or0(r, 280);
  c.unvmcap = le128_or0(r, 296);
  c.sqes = u8(512);
  c.cqes = u8(513);
  c.maxcmd = u16(514);
  c.nn = u32(516);
  c.oncs = u16(520);
  c.fuses = u16(522);
  c.fna = u8(524);
  c.vwc = u8(525);
  c.awun = u16(526);
  c.awupf = u16(528);
  c.icsvscc = u8(530);
  c.nwpc = u8(531);
  c.acwu = u16(532);
  c.ocfs = u16(534);
  c.sgls = u32(536);
  c.mnan = u32(540);
  c.subnqn = ascii_field(r.bytes(768, 256));
  return c;
}

// ---- Identify Namespace (NVM Command Set 1.0, figure "Identify – Identify Namespace Data
// Structure, NVM Command Set") ------------------------------------------------------------------

/// One LBA Format (NVM Command Set 1.0, figure "LBA Format Data Structure").
struct lba_format {
  std::uint16_t ms = 0;     ///< bits 15:0 Metadata Size (bytes per block)
  std::uint8_t lbads = 0;   ///< bits 23:16 LBA Data Size, log2 (values under 9 are not supported)
  std::uint8_t rp = 0;      ///< bits 25:24 Relative Performance (0 best .. 3 degraded)

  /// 2^lbads, or nullopt when lbads is under 9 (the format is not available) or over 31.
  constexpr std::optional<std::uint32_t> block_size() const noexcept {
    if (lbads < 9 || lbads > 31) return std::nullopt;
    return std::uint32_t{1} << lbads;
  }
  friend constexpr bool operator==(const lba_format&, const lba_format&) noexcept = default;
};

namespace identify_detail {
constexpr lba_format decode_lba_format(std::uint32_t v) noexcept {
  return {static_cast<std::uint16_t>(v & 0xFFFFU), static_cast<std::uint8_t>(v >> 16), static_cast<std::uint8_t>((v >> 24) & 3U)};
}
}  // namespace identify_detail

/// Identify Namespace data (nvme-cli's id-ns); the LBA formats view the parsed buffer.
struct id_ns {
  /// Bytes needed for the fixed fields (through EUI64, byte 127); the LBA formats from byte 128
  /// are taken as far as they were returned.
  static constexpr std::size_t min_size = 128;
  static constexpr std::size_t lba_formats_offset = 128;
  static constexpr std::size_t max_lba_formats = 64;

  std::uint64_t nsze = 0;   ///< bytes 7:0 Namespace Size (blocks)
  std::uint64_t ncap = 0;   ///< bytes 15:8 Namespace Capacity (blocks)
  std::uint64_t nuse = 0;   ///< bytes 23:16 Namespace Utilization (blocks)
  std::uint8_t nsfeat = 0;  ///< byte 24 Namespace Features (bit 0 thin provisioning, bit 2 DAE...)
  std::uint8_t nlbaf = 0;   ///< byte 25 Number of LBA Formats, 0's based (lba_format_count())
  std::uint8_t flbas = 0;   ///< byte 26 Formatted LBA Size (format index, extended LBA bit)
  std::uint8_t mc = 0;      ///< byte 27 Metadata Capabilities
  std::uint8_t dpc = 0;     ///< byte 28 End-to-end Data Protection Capabilities
  std::uint8_t dps = 0;     ///< byte 29 End-to-end Data Protection Type Settings (2:0 PI type)
  std::uint8_t nmic = 0;    ///< byte 30 Namespace Multi-path I/O and Namespace Sharing Capabilities
  std::uint8_t rescap = 0;  ///< byte 31 Reservation Capabilities
  std::uint8_t dlfeat = 0;  ///< byte 33 Deallocate Logical Block Features (2:0 what deallocated blocks read as)
  std::uint16_t nawun = 0;  ///< bytes 35:34
  std::uint16_t nawupf = 0; ///< bytes 37:36
  std::uint16_t noiob = 0;  ///< bytes 47:46 Namespace Optimal I/O Boundary (blocks)
  uint128 nvmcap;           ///< bytes 63:48 NVM Capacity (bytes)
  std::uint16_t npwg = 0;   ///< bytes 65:64 Preferred Write Granularity (0's based)
  std::uint16_t npwa = 0;   ///< bytes 67:66 Preferred Write Alignment (0's based)
  std::uint16_t npdg = 0;   ///< bytes 69:68 Preferred Deallocate Granularity (0's based)
  std::uint16_t npda = 0;   ///< bytes 71:70 Preferred Deallocate Alignment (0's based)
  std::uint16_t nows = 0;   ///< bytes 73:72 Optimal Write Size (0's based)
  std::uint32_t anagrpid = 0;  ///< bytes 95:92
  std::uint8_t nsattr = 0;     ///< byte 99 (bit 0 write protected)
  std::uint16_t nvmsetid = 0;  ///< bytes 101:100
  std::uint16_t endgid = 0;    ///< bytes 103:102
  std::array<std::uint8_t, 16> nguid{};  ///< bytes 119:104 Namespace Globally Unique Identifier
  std::array<std::uint8_t, 8> eui64{};   ///< bytes 127:120 IEEE Extended Unique Identifier
  /// The LBA Format entries returned, cut at lba_format_count() and at whole 4-byte entries.
  std::span<const std::uint8_t> lba_format_bytes;

  /// The number of LBA formats the namespace declares (NLBAF + 1, at most 64).
  constexpr std::size_t lba_format_count() const noexcept {
    return std::size_t{nlbaf} + 1 < max_lba_formats ? std::size_t{nlbaf} + 1 : max_lba_formats;
  }
  /// The LBA formats returned, lazily: a random-access range-v3 view of lba_format.
  auto lba_formats() const noexcept {
    return ranges::views::iota(std::size_t{0}, lba_format_bytes.size() / 4) |
           ranges::views::transform([b = lba_format_bytes](std::size_t i) {
             return identify_detail::decode_lba_format(static_cast<std::uint32_t>(get_le<4>(b.data() + 4 * i)));
           });
  }
  /// FLBAS bit 4: metadata is transferred at the end of each block (extended LBA), not in a
  /// separate buffer.
  constexpr bool extended_lba() const noexcept { return (flbas >> 4) & 1U; }
  /// The format in use: FLBAS bits 3:0, and bits 6:5 as its high bits when the namespace has more
  /// than 16 formats (they are reserved otherwise, so they are ignored then).
  constexpr std::uint8_t current_lba_format_index() const noexcept {
    const auto low = static_cast<std::uint8_t>(flbas & 0x0FU);
    if (nlbaf < 16) return low;
    return static_cast<std::uint8_t>(low | ((flbas >> 5) & 3U) << 4);
  }
  /// The format in use; nullopt when its index is past NLBAF or its entry was not returned.
  constexpr std::optional<lba_format> current_lba_format() const noexcept {
    const std::size_t i = current_lba_format_index();
    if (i >= lba_format_count() || 4 * i + 4 > lba_format_bytes.size()) return std::nullopt;
    return identify_detail::decode_lba_format(static_cast<std::uint32_t>(get_le<4>(lba_format_bytes.data() + 4 * i)));
  }
  /// The block size of the format in use (nullopt when there is none, see above).
  constexpr std::optional<std::uint32_t> block_size() const noexcept {
    if (auto f = current_lba_format()) return f->block_size();
    return std::nullopt;
  }
  /// NSFEAT bit 0: thin provisioning (NCAP may be less than NSZE).
  constexpr bool thin_provisioned() const noexcept { return (nsfeat & 1U) != 0; }
  /// DPS bits 2:0: the protection information type (0 none, 1-3 type 1-3).
  constexpr std::uint8_t pi_type() const noexcept { return static_cast<std::uint8_t>(dps & 7U); }
};

/// Parses Identify Namespace data (CNS 00h, NVM command set). std::nullopt when fewer than
/// id_ns::min_size bytes were returned. A namespace that is not active reads as all
/// zeros (NSZE 0).
inline std::optional<id_ns> parse_identify_namespace(std::span<const std::uint8_t> bytes) noexcept {
  const le_reader r(bytes);
  if (!r.has(0, id_ns::min_size)) return std::nullopt;
  auto u8 = [&](std::size_t o) { return r.u8_or0(o); };
  auto u16 = [&](std::size_t o) { return static_cast<std::uint16_t>(r.le_or0<2>(o)); };
  id_ns n;
  n.nsze = r.le_or0<8>(0);
  n.ncap = r.le_or0<8>(8);
  n.nuse = r.le_or0<8>(16);
  n.nsfeat = u8(24);
  n.nlbaf = u8(25);
  n.flbas = u8(26);
  n.mc = u8(27);
  n.dpc = u8(28);
  n.dps = u8(29);
  n.nmic = u8(30);
  n.rescap = u8(31);
  n.dlfeat = u8(33);
  n.nawun = u16(34);
  n.nawupf = u16(36);
  n.noiob = u16(46);
  n.nvmcap = le128_or0(r, 48);
  n.npwg = u16(64);
  n.npwa = u16(66);
  n.npdg = u16(68);
  n.npda = u16(70);
  n.nows = u16(72);
  n.anagrpid = static_cast<std::uint32_t>(r.le_or0<4>(92));
  n.nsattr = u8(99);
  n.nvmsetid = u16(100);
  n.endgid = u16(102);
  for (std::size_t i = 0; i < n.nguid.size(); ++i) n.nguid[i] = u8(104 + i);
  for (std::size_t i = 0; i < n.eui64.size(); ++i) n.eui64[i] = u8(120 + i);
  const auto formats = r.bytes(id_ns::lba_formats_offset, 4 * n.lba_format_count());
  n.lba_format_bytes = formats.first(formats.size() / 4 * 4);
  return n;
}

// ---- Active Namespace ID list (Base 2.0, CNS 02h) ----------------------------------------------

/// Up to 1024 NSIDs in increasing order; the list ends at the first 0 entry.
struct namespace_list {
  static constexpr std::size_t max_entries = 1024;
  std::span<const std::uint8_t> bytes;  ///< the non-zero entries, 4 bytes each

  std::size_t size() const noexcept { return bytes.size() / 4; }
  /// The NSIDs, lazily: a random-access range-v3 view of uint32_t.
  auto ids() const noexcept {
    return ranges::views::iota(std::size_t{0}, size()) | ranges::views::transform([b = bytes](std::size_t i) {
             return static_cast<std::uint32_t>(get_le<4>(b.data() + 4 * i));
           });
  }
  /// The list is full: ask again with the last NSID for the rest.
  bool full() const noexcept { return size() == max_entries; }
};

/// Parses an Active Namespace ID list: the whole entries returned, up to the first 0 (and at most
/// 1024). Never fails: no bytes is an empty list.
inline namespace_list parse_namespace_list(std::span<const std::uint8_t> bytes) noexcept {
  const std::size_t entries = bytes.size() / 4 < namespace_list::max_entries ? bytes.size() / 4 : namespace_list::max_entries;
  std::size_t n = 0;
  while (n < entries && get_le<4>(bytes.data() + 4 * n) != 0) ++n;
  return {bytes.first(4 * n)};
}

// ---- Namespace Identification Descriptor list (Base 2.0, CNS 03h) ------------------------------

/// NIDT (Base 2.0, figure "Namespace Identifier Type (NIDT)").
enum class ns_id_type : std::uint8_t { eui64 = 1, nguid = 2, uuid = 3, csi = 4 };

/// The NIDL the spec requires for a type, 0 for a reserved type.
constexpr std::size_t ns_id_length(ns_id_type t) noexcept {
  switch (t) {
    case ns_id_type::eui64: return 8;
    case ns_id_type::nguid: return 16;
    case ns_id_type::uuid: return 16;
    case ns_id_type::csi: return 1;
  }
  return 0;
}

/// One Namespace Identification Descriptor: byte 0 NIDT, byte 1 NIDL, bytes 3:2 reserved, then
/// NIDL bytes of NID.
struct ns_descriptor {
  ns_id_type type{};                ///< raw; values 5 and up are reserved
  std::span<const std::uint8_t> id;  ///< the NID, NIDL bytes

  /// The length matches the type's (a reserved type is never well formed).
  bool well_formed() const noexcept { return ns_id_length(type) != 0 && id.size() == ns_id_length(type); }
  /// The Command Set Identifier of a CSI descriptor.
  std::optional<std::uint8_t> csi() const noexcept {
    if (type != ns_id_type::csi || id.empty()) return std::nullopt;
    return id[0];
  }
};

namespace identify_detail {
struct ns_descriptor_format {
  // NIDT 0 ends the list, as does a descriptor that does not fit.
  static constexpr std::optional<std::size_t> length(std::span<const std::uint8_t> s) noexcept {
    if (s.size() < 4 || s[0] == 0) return std::nullopt;
    const std::size_t n = 4 + std::size_t{s[1]};
    if (n > s.size()) return std::nullopt;
    return n;
  }
  static constexpr ns_descriptor decode(std::span<const std::uint8_t> s) noexcept {
    return {static_cast<ns_id_type>(s[0]), s.subspan(4)};
  }
};
}  // namespace identify_detail

/// A lazy forward range over the descriptors of a CNS 03h list. Nothing is read past the bytes.
using ns_descriptor_view = record_view<identify_detail::ns_descriptor_format>;

/// The descriptors of a Namespace Identification Descriptor list. Never fails.
inline ns_descriptor_view parse_ns_descriptors(std::span<const std::uint8_t> bytes) noexcept {
  return ns_descriptor_view(bytes);
}

}  // namespace uringcmd::nvme
