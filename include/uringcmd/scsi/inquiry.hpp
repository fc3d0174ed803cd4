// SPDX-License-Identifier: MIT
// Standard INQUIRY data and the VPD pages 00h, 80h, 83h (SPC-6) and B0h, B1h, B2h (SBC-5),
// parsed from the bytes a device returned.
//
// Every parser takes the bytes actually transferred (allocation length minus residual). It
// returns std::nullopt only when they are too short for the mandatory header (5 bytes for the
// standard data, 4 for a VPD page) or, for a VPD page, when the page code is not the one asked
// for. Everything after the header is optional: a field that lies, even partly, past the returned
// bytes or past the length the device declared is std::nullopt, never garbage.
//
// LIFETIME: the string_views, spans and views in the results point into the caller's buffer,
// which must outlive them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>


#include <uringcmd/scsi/bytes.hpp>
#include <uringcmd/record_view.hpp>

namespace uringcmd::scsi {

/// An ASCII field of `bytes` as a string_view into the buffer, without its trailing spaces and
/// NULs (and its leading spaces when `trim_leading`). Bytes are not checked for printability.
inline std::string_view ascii_field(std::span<const std::uint8_t> bytes, bool trim_leading = false) noexcept {
  std::size_t b = 0;
  std::size_t e = bytes.size();
  while (e > 0 && (bytes[e - 1] == ' ' || bytes[e - 1] == 0)) --e;
  while (trim_leading && b < e && bytes[b] == ' ') ++b;
  return {reinterpret_cast<const char*>(bytes.data()) + b, e - b};
}

// ---- Standard INQUIRY data (SPC-6, table "Standard INQUIRY data format") ----------------------

struct standard_inquiry {
  // Bytes 0-4: the mandatory header.
  std::uint8_t peripheral_qualifier = 0;  ///< byte 0 bits 7-5 (0: a logical unit is connected)
  std::uint8_t device_type = 0;           ///< byte 0 bits 4-0 (0: direct access block device)
  bool rmb = false;                       ///< byte 1 bit 7: removable medium
  std::uint8_t version = 0;               ///< byte 2 (5: SPC-3, 6: SPC-4, 7: SPC-5)
  bool norm_aca = false;                  ///< byte 3 bit 5
  bool hi_sup = false;                    ///< byte 3 bit 4
  std::uint8_t response_data_format = 0;  ///< byte 3 bits 3-0 (2 for every current device)
  std::uint8_t additional_length = 0;     ///< byte 4: bytes the device has after byte 4
  /// The device has more data (5 + additional_length) than was returned: ask again with a larger
  /// allocation length for the fields that are absent.
  bool truncated = false;

  // Byte 5.
  std::optional<bool> sccs, acc;
  std::optional<std::uint8_t> tpgs;  ///< bits 5-4: target port group support
  std::optional<bool> three_pc, protect;
  // Byte 6.
  std::optional<bool> enc_serv, multi_p;
  // Byte 7.
  std::optional<bool> cmd_que;
  /// Bytes 8-15, 16-31, 32-35, trailing spaces trimmed; present only when the whole field was
  /// returned and lies within the additional length. LIFETIME: they point into the buffer.
  std::optional<std::string_view> vendor, product, revision;
};

/// Parses standard INQUIRY data (EVPD=0). std::nullopt when fewer than 5 bytes were returned.
inline std::optional<standard_inquiry> parse_standard_inquiry(std::span<const std::uint8_t> bytes) noexcept {
  const byte_reader all(bytes);
  if (!all.has(0, 5)) return std::nullopt;
  standard_inquiry s;
  const std::uint8_t b0 = *all.u8(0);
  s.peripheral_qualifier = static_cast<std::uint8_t>(b0 >> 5);
  s.device_type = static_cast<std::uint8_t>(b0 & 0x1F);
  s.rmb = all.bit(1, 7);
  s.version = *all.u8(2);
  s.norm_aca = all.bit(3, 5);
  s.hi_sup = all.bit(3, 4);
  s.response_data_format = static_cast<std::uint8_t>(*all.u8(3) & 0x0F);
  s.additional_length = *all.u8(4);
  const std::size_t declared = 5 + std::size_t{s.additional_length};
  s.truncated = declared > bytes.size();
  // Fields past the additional length are not valid even when the device sent them.
  const byte_reader r(all.bytes(0, declared));
  if (auto b5 = r.u8(5)) {
    s.sccs = (*b5 & 0x80) != 0;
    s.acc = (*b5 & 0x40) != 0;
    s.tpgs = static_cast<std::uint8_t>((*b5 >> 4) & 3);
    s.three_pc = (*b5 & 0x08) != 0;
    s.protect = (*b5 & 0x01) != 0;
  }
  if (auto b6 = r.u8(6)) {
    s.enc_serv = (*b6 & 0x40) != 0;
    s.multi_p = (*b6 & 0x10) != 0;
  }
  if (auto b7 = r.u8(7)) s.cmd_que = (*b7 & 0x02) != 0;
  if (r.has(8, 8)) s.vendor = ascii_field(r.bytes(8, 8));
  if (r.has(16, 16)) s.product = ascii_field(r.bytes(16, 16));
  if (r.has(32, 4)) s.revision = ascii_field(r.bytes(32, 4));
  return s;
}

// ---- VPD pages (SPC-6, table "Vital product data page format") ------------------------------

/// The common 4-byte header of a VPD page and its bytes.
struct vpd_page {
  std::uint8_t peripheral_qualifier = 0;  ///< byte 0 bits 7-5
  std::uint8_t device_type = 0;           ///< byte 0 bits 4-0
  std::uint8_t page_code = 0;             ///< byte 1
  std::uint16_t page_length = 0;          ///< bytes 2-3, as declared: bytes after byte 3
  /// The whole page, header included, cut at 4 + page_length and at what was returned, so that
  /// offsets into it are the byte numbers of the spec's tables.
  std::span<const std::uint8_t> bytes;
  bool truncated = false;  ///< the page is longer than what was returned

  /// The bytes after the header (none for a default-constructed page).
  std::span<const std::uint8_t> data() const noexcept { return byte_reader(bytes).bytes(4, bytes.size()); }
};

/// Parses any VPD page's header. std::nullopt when fewer than 4 bytes were returned.
inline std::optional<vpd_page> parse_vpd_page(std::span<const std::uint8_t> bytes) noexcept {
  const byte_reader r(bytes);
  if (!r.has(0, 4)) return std::nullopt;
  vpd_page p;
  p.peripheral_qualifier = static_cast<std::uint8_t>(*r.u8(0) >> 5);
  p.device_type = static_cast<std::uint8_t>(*r.u8(0) & 0x1F);
  p.page_code = *r.u8(1);
  p.page_length = static_cast<std::uint16_t>(*r.be<2>(2));
  p.bytes = r.bytes(0, 4 + std::size_t{p.page_length});
  p.truncated = p.bytes.size() < 4 + std::size_t{p.page_length};
  return p;
}

/// Parses a VPD page's header; std::nullopt also when its page code is not `page_code`.
inline std::optional<vpd_page> parse_vpd_page(std::span<const std::uint8_t> bytes, std::uint8_t page_code) noexcept {
  auto p = parse_vpd_page(bytes);
  if (!p || p->page_code != page_code) return std::nullopt;
  return p;
}

namespace vpd {
inline constexpr std::uint8_t supported_pages = 0x00;
inline constexpr std::uint8_t unit_serial_number = 0x80;
inline constexpr std::uint8_t device_identification = 0x83;
inline constexpr std::uint8_t block_limits = 0xB0;
inline constexpr std::uint8_t block_device_characteristics = 0xB1;
inline constexpr std::uint8_t logical_block_provisioning = 0xB2;
}  // namespace vpd

// ---- 00h Supported VPD Pages (SPC-6, table "Supported VPD Pages VPD page") -----------------

struct supported_vpd_pages {
  vpd_page page;
  std::span<const std::uint8_t> codes;  ///< the page codes returned, in the device's order

  bool supports(std::uint8_t code) const noexcept {
    for (std::uint8_t c : codes)
      if (c == code) return true;
    return false;
  }
};

inline std::optional<supported_vpd_pages> parse_supported_vpd_pages(std::span<const std::uint8_t> bytes) noexcept {
  auto p = parse_vpd_page(bytes, vpd::supported_pages);
  if (!p) return std::nullopt;
  return supported_vpd_pages{*p, p->data()};
}

// ---- 80h Unit Serial Number (SPC-6, table "Unit Serial Number VPD page") -------------------

struct unit_serial_number {
  vpd_page page;
  /// The PRODUCT SERIAL NUMBER field, leading and trailing spaces trimmed (devices right-align
  /// it). Cut at what was returned: check page.truncated. LIFETIME: points into the buffer.
  std::string_view serial;
};

inline std::optional<unit_serial_number> parse_unit_serial_number(std::span<const std::uint8_t> bytes) noexcept {
  auto p = parse_vpd_page(bytes, vpd::unit_serial_number);
  if (!p) return std::nullopt;
  return unit_serial_number{*p, ascii_field(p->data(), true)};
}

// ---- 83h Device Identification (SPC-6, table "Designation descriptor") ---------------------

enum class designator_code_set : std::uint8_t { binary = 1, ascii = 2, utf8 = 3 };
enum class designator_association : std::uint8_t { logical_unit = 0, target_port = 1, target_device = 2 };
enum class designator_type : std::uint8_t {
  vendor_specific = 0x0,
  t10_vendor_id = 0x1,
  eui64 = 0x2,
  naa = 0x3,
  relative_target_port = 0x4,
  target_port_group = 0x5,
  logical_unit_group = 0x6,
  md5_logical_unit = 0x7,
  scsi_name_string = 0x8,
  protocol_specific_port = 0x9,
  uuid = 0xA,
};

/// The spec's name of a designator type ("reserved" for Bh-Fh).
constexpr std::string_view designator_type_name(designator_type t) noexcept {
  switch (t) {
    case designator_type::vendor_specific: return "vendor specific";
    case designator_type::t10_vendor_id: return "T10 vendor ID based";
    case designator_type::eui64: return "EUI-64 based";
    case designator_type::naa: return "NAA";
    case designator_type::relative_target_port: return "relative target port identifier";
    case designator_type::target_port_group: return "target port group";
    case designator_type::logical_unit_group: return "logical unit group";
    case designator_type::md5_logical_unit: return "MD5 logical unit identifier";
    case designator_type::scsi_name_string: return "SCSI name string";
    case designator_type::protocol_specific_port: return "protocol specific port identifier";
    case designator_type::uuid: return "UUID identifier";
  }
  return "reserved";
}

constexpr std::string_view designator_association_name(designator_association a) noexcept {
  switch (a) {
    case designator_association::logical_unit: return "logical unit";
    case designator_association::target_port: return "target port";
    case designator_association::target_device: return "target device";
  }
  return "reserved";
}

struct designator {
  /// Byte 0 bits 7-4. Meaningful only when `piv` and the association is a target port or
  /// target device (SPC-6 7.7.6.1); 6 is SAS, 5 iSCSI, 0 Fibre Channel.
  std::uint8_t protocol_identifier = 0;
  designator_code_set code_set{};  ///< byte 0 bits 3-0 (raw; other values are reserved)
  bool piv = false;                ///< byte 1 bit 7
  designator_association association{};  ///< byte 1 bits 5-4 (raw; 3 is reserved)
  designator_type type{};                ///< byte 1 bits 3-0 (raw)
  std::span<const std::uint8_t> bytes;   ///< the DESIGNATOR field (byte 3's length of them)

  /// The designator as text when its code set is ASCII or UTF-8 (trailing NULs and spaces
  /// trimmed: SCSI name strings are NUL padded), otherwise std::nullopt.
  std::optional<std::string_view> text() const noexcept {
    if (code_set != designator_code_set::ascii && code_set != designator_code_set::utf8) return std::nullopt;
    return ascii_field(bytes);
  }
};

/// SPC-6 "Designation descriptor": a 4-byte header and the designator. A descriptor that does
/// not fit ends the walk.
struct designator_format {
  static constexpr std::optional<std::size_t> length(std::span<const std::uint8_t> s) noexcept {
    const byte_reader r(s);
    auto n = r.u8(3);
    if (!n || !r.has(4, *n)) return std::nullopt;
    return 4 + std::size_t{*n};
  }
  static constexpr designator decode(std::span<const std::uint8_t> s) noexcept {
    const byte_reader r(s);
    const std::uint8_t b0 = *r.u8(0), b1 = *r.u8(1);
    designator d;
    d.protocol_identifier = static_cast<std::uint8_t>(b0 >> 4);
    d.code_set = static_cast<designator_code_set>(b0 & 0x0F);
    d.piv = (b1 & 0x80) != 0;
    d.association = static_cast<designator_association>((b1 >> 4) & 3);
    d.type = static_cast<designator_type>(b1 & 0x0F);
    d.bytes = r.bytes(4, *r.u8(3));
    return d;
  }
};
/// A lazy forward range of the designation descriptors of a VPD 83h page's data.
using designator_view = record_view<designator_format>;

struct device_identification {
  vpd_page page;
  /// The designators, lazily. LIFETIME: borrows the buffer.
  designator_view designators() const noexcept { return designator_view(page.data()); }
};

inline std::optional<device_identification> parse_device_identification(std::span<const std::uint8_t> bytes) noexcept {
  auto p = parse_vpd_page(bytes, vpd::device_identification);
  if (!p) return std::nullopt;
  return device_identification{*p};
}

// ---- B0h Block Limits (SBC-5, table "Block Limits VPD page") -------------------------------
// Page length 3Ch in SBC-3 and later; SBC-2 devices return 0Ch (through the optimal transfer
// length). Values are raw: 0 means "not reported" / "no limit" for most fields.

struct block_limits {
  vpd_page page;
  std::optional<bool> wsnz;                                     ///< byte 4 bit 0
  std::optional<std::uint8_t> maximum_compare_and_write_length;  ///< byte 5
  std::optional<std::uint16_t> optimal_transfer_length_granularity;    ///< bytes 6-7
  std::optional<std::uint32_t> maximum_transfer_length;                ///< bytes 8-11
  std::optional<std::uint32_t> optimal_transfer_length;                ///< bytes 12-15
  std::optional<std::uint32_t> maximum_prefetch_length;                ///< bytes 16-19
  std::optional<std::uint32_t> maximum_unmap_lba_count;                ///< bytes 20-23
  std::optional<std::uint32_t> maximum_unmap_block_descriptor_count;   ///< bytes 24-27
  std::optional<std::uint32_t> optimal_unmap_granularity;              ///< bytes 28-31
  std::optional<bool> ugavalid;                                        ///< byte 32 bit 7
  /// Bytes 32-35 bits 30-0; present only when UGAVALID is set (the field is invalid otherwise).
  std::optional<std::uint32_t> unmap_granularity_alignment;
  std::optional<std::uint64_t> maximum_write_same_length;               ///< bytes 36-43
  std::optional<std::uint32_t> maximum_atomic_transfer_length;          ///< bytes 44-47
  std::optional<std::uint32_t> atomic_alignment;                        ///< bytes 48-51
  std::optional<std::uint32_t> atomic_transfer_length_granularity;      ///< bytes 52-55
  std::optional<std::uint32_t> maximum_atomic_transfer_length_with_atomic_boundary;  ///< 56-59
  std::optional<std::uint32_t> maximum_atomic_boundary_size;            ///< bytes 60-63
};

namespace inquiry_detail {
// A 4-byte big-endian field as uint32 (the value always fits).
inline std::optional<std::uint32_t> be32_field(const byte_reader& r, std::size_t offset) noexcept {
  auto v = r.be<4>(offset);
  if (!v) return std::nullopt;
  return static_cast<std::uint32_t>(*v);
}
}  // namespace inquiry_detail

inline std::optional<block_limits> parse_block_limits(std::span<const std::uint8_t> bytes) noexcept {
  auto p = parse_vpd_page(bytes, vpd::block_limits);
  if (!p) return std::nullopt;
  const byte_reader r(p->bytes);
  block_limits b;
  b.page = *p;
  if (auto b4 = r.u8(4)) b.wsnz = (*b4 & 1) != 0;
  b.maximum_compare_and_write_length = r.u8(5);
  if (auto v = r.be<2>(6)) b.optimal_transfer_length_granularity = static_cast<std::uint16_t>(*v);
  b.maximum_transfer_length = inquiry_detail::be32_field(r, 8);
  b.optimal_transfer_length = inquiry_detail::be32_field(r, 12);
  b.maximum_prefetch_length = inquiry_detail::be32_field(r, 16);
  b.maximum_unmap_lba_count = inquiry_detail::be32_field(r, 20);
  b.maximum_unmap_block_descriptor_count = inquiry_detail::be32_field(r, 24);
  b.optimal_unmap_granularity = inquiry_detail::be32_field(r, 28);
  if (auto v = inquiry_detail::be32_field(r, 32)) {
    b.ugavalid = (*v & 0x80000000U) != 0;
    if (*b.ugavalid) b.unmap_granularity_alignment = *v & 0x7FFFFFFFU;
  }
  b.maximum_write_same_length = r.be<8>(36);
  b.maximum_atomic_transfer_length = inquiry_detail::be32_field(r, 44);
  b.atomic_alignment = inquiry_detail::be32_field(r, 48);
  b.atomic_transfer_length_granularity = inquiry_detail::be32_field(r, 52);
  b.maximum_atomic_transfer_length_with_atomic_boundary = inquiry_detail::be32_field(r, 56);
  b.maximum_atomic_boundary_size = inquiry_detail::be32_field(r, 60);
  return b;
}

// ---- B1h Block Device Characteristics (SBC-5, table "Block Device Characteristics VPD page") --

struct block_device_characteristics {
  vpd_page page;
  /// Bytes 4-5: 0 not reported, 1 non-rotating medium (solid state), 0401h-FFFEh nominal rpm.
  std::optional<std::uint16_t> medium_rotation_rate;
  std::optional<std::uint8_t> product_type;  ///< byte 6 (0 not indicated, 1 CFast, ...)
  std::optional<std::uint8_t> wabereq;       ///< byte 7 bits 7-6
  std::optional<std::uint8_t> wacereq;       ///< byte 7 bits 5-4
  std::optional<std::uint8_t> nominal_form_factor;  ///< byte 7 bits 3-0 (2: 3.5", 3: 2.5", ...)
  std::optional<std::uint8_t> zoned;         ///< byte 8 bits 5-4
  std::optional<bool> fuab;                  ///< byte 8 bit 1
  std::optional<bool> vbuls;                 ///< byte 8 bit 0

  bool non_rotating() const noexcept { return medium_rotation_rate == std::uint16_t{1}; }
};

inline std::optional<block_device_characteristics> parse_block_device_characteristics(
    std::span<const std::uint8_t> bytes) noexcept {
  auto p = parse_vpd_page(bytes, vpd::block_device_characteristics);
  if (!p) return std::nullopt;
  const byte_reader r(p->bytes);
  block_device_characteristics c;
  c.page = *p;
  if (auto v = r.be<2>(4)) c.medium_rotation_rate = static_cast<std::uint16_t>(*v);
  c.product_type = r.u8(6);
  if (auto b7 = r.u8(7)) {
    c.wabereq = static_cast<std::uint8_t>(*b7 >> 6);
    c.wacereq = static_cast<std::uint8_t>((*b7 >> 4) & 3);
    c.nominal_form_factor = static_cast<std::uint8_t>(*b7 & 0x0F);
  }
  if (auto b8 = r.u8(8)) {
    c.zoned = static_cast<std::uint8_t>((*b8 >> 4) & 3);
    c.fuab = (*b8 & 0x02) != 0;
    c.vbuls = (*b8 & 0x01) != 0;
  }
  return c;
}

// ---- B2h Logical Block Provisioning (SBC-5, table "Logical Block Provisioning VPD page") ----

struct logical_block_provisioning {
  vpd_page page;
  std::optional<std::uint8_t> threshold_exponent;  ///< byte 4
  // Byte 5.
  std::optional<bool> lbpu, lbpws, lbpws10;
  std::optional<std::uint8_t> lbprz;  ///< bits 4-2: 0 unmapped reads are not zero, 1 zero, ...
  std::optional<bool> anc_sup, dp;
  // Byte 6.
  std::optional<std::uint8_t> minimum_percentage;  ///< bits 7-3
  std::optional<std::uint8_t> provisioning_type;   ///< bits 2-0: 0 full, 1 resource, 2 thin
  std::optional<std::uint8_t> threshold_percentage;  ///< byte 7
  /// The provisioning group descriptor (a designation descriptor) from byte 8, when DP is set.
  designator_view provisioning_group() const noexcept {
    if (!dp.value_or(false)) return designator_view();
    return designator_view(byte_reader(page.bytes).bytes(8, page.bytes.size()));
  }
};

inline std::optional<logical_block_provisioning> parse_logical_block_provisioning(
    std::span<const std::uint8_t> bytes) noexcept {
  auto p = parse_vpd_page(bytes, vpd::logical_block_provisioning);
  if (!p) return std::nullopt;
  const byte_reader r(p->bytes);
  logical_block_provisioning l;
  l.page = *p;
  l.threshold_exponent = r.u8(4);
  if (auto b5 = r.u8(5)) {
    l.lbpu = (*b5 & 0x80) != 0;
    l.lbpws = (*b5 & 0x40) != 0;
    l.lbpws10 = (*b5 & 0x20) != 0;
    l.lbprz = static_cast<std::uint8_t>((*b5 >> 2) & 7);
    l.anc_sup = (*b5 & 0x02) != 0;
    l.dp = (*b5 & 0x01) != 0;
  }
  if (auto b6 = r.u8(6)) {
    l.minimum_percentage = static_cast<std::uint8_t>(*b6 >> 3);
    l.provisioning_type = static_cast<std::uint8_t>(*b6 & 7);
  }
  l.threshold_percentage = r.u8(7);
  return l;
}

}  // namespace uringcmd::scsi
