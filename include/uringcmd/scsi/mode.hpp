// SPDX-License-Identifier: MIT
// MODE SENSE (6) and (10) parameter data (SPC-6 "Mode parameters"): the header, the block
// descriptors (SBC-5 short and long LBA formats), a lazy range of mode pages, and typed decoding
// of the Caching (08h, SBC-5) and Control (0Ah, SPC-6) pages.
//
// parse_mode_sense6/10 take the bytes actually transferred and return std::nullopt when they are
// shorter than the mode parameter header (4 or 8 bytes). Everything else is cut at the MODE DATA
// LENGTH and at what was returned. The last mode page may be cut short by the allocation length:
// it is still yielded, with `truncated` set, and the typed decoders leave its missing fields
// std::nullopt.
//
// LIFETIME: spans and views in the results borrow the caller's buffer.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include <range/v3/view/chunk.hpp>
#include <range/v3/view/transform.hpp>

#include <uringcmd/scsi/bytes.hpp>
#include <uringcmd/record_view.hpp>

namespace uringcmd::scsi {

/// SPC-6 tables "Mode parameter header(6)" and "Mode parameter header(10)".
struct mode_parameter_header {
  std::uint16_t mode_data_length = 0;  ///< bytes that follow the field, as the device has them
  std::uint8_t medium_type = 0;
  std::uint8_t device_specific = 0;  ///< DEVICE-SPECIFIC PARAMETER (raw)
  bool longlba = false;              ///< (10) only: the block descriptors are 16 bytes long
  std::uint16_t block_descriptor_length = 0;
  std::size_t header_length = 0;  ///< 4 for (6), 8 for (10)

  /// Direct-access devices (SBC-5 "DEVICE-SPECIFIC PARAMETER field"): bit 7 write protected.
  constexpr bool wp() const noexcept { return (device_specific & 0x80) != 0; }
  /// Direct-access devices: bit 4, DPO and FUA supported.
  constexpr bool dpofua() const noexcept { return (device_specific & 0x10) != 0; }
};

/// A direct-access block descriptor: SBC-5 "Short LBA mode parameter block descriptor" (8
/// bytes: number of blocks 0-3, block length 5-7) or "Long LBA ..." (16 bytes: 0-7, 12-15).
struct block_descriptor {
  std::uint64_t number_of_blocks = 0;
  std::uint32_t block_length = 0;
  friend constexpr bool operator==(const block_descriptor&, const block_descriptor&) noexcept = default;
};

/// One mode page (SPC-6 "Page_0 mode page format" and "Sub_page mode page format").
struct mode_page {
  bool ps = false;                 ///< byte 0 bit 7: parameters saveable
  bool spf = false;                ///< byte 0 bit 6: sub_page format
  std::uint8_t page_code = 0;      ///< byte 0 bits 5-0
  std::uint8_t subpage_code = 0;   ///< byte 1 when spf, else 0
  std::uint16_t page_length = 0;   ///< as declared: bytes after the page's 2- or 4-byte header
  /// The whole page, header included, cut at what was returned: offsets into it are the byte
  /// numbers of the spec's page tables.
  std::span<const std::uint8_t> bytes;
  bool truncated = false;  ///< fewer than header + page_length bytes were returned

  std::size_t header_length() const noexcept { return spf ? 4 : 2; }
  /// The page's parameters, after its header.
  std::span<const std::uint8_t> data() const noexcept { return byte_reader(bytes).bytes(header_length(), bytes.size()); }
};

/// SPC-6 "Page_0 / Sub_page mode page format": a 2- or 4-byte header and the parameters. A page
/// whose header does not fit ends the walk; one whose parameters are cut short is yielded
/// (truncated) and is the last.
struct mode_page_format {
  static std::optional<mode_page> header(std::span<const std::uint8_t> s) noexcept {
    const byte_reader r(s);
    auto b0 = r.u8(0);
    if (!b0) return std::nullopt;
    mode_page p;
    p.ps = (*b0 & 0x80) != 0;
    p.spf = (*b0 & 0x40) != 0;
    p.page_code = static_cast<std::uint8_t>(*b0 & 0x3F);
    if (p.spf) {
      if (!r.has(0, 4)) return std::nullopt;
      p.subpage_code = *r.u8(1);
      p.page_length = static_cast<std::uint16_t>(*r.be<2>(2));
    } else {
      auto len = r.u8(1);
      if (!len) return std::nullopt;
      p.page_length = *len;
    }
    const std::size_t whole = p.header_length() + p.page_length;
    p.bytes = r.bytes(0, whole);
    p.truncated = p.bytes.size() < whole;
    return p;
  }
  static std::optional<std::size_t> length(std::span<const std::uint8_t> s) noexcept {
    auto p = header(s);
    if (!p) return std::nullopt;
    return p->bytes.size();  // never 0: the header is there
  }
  static mode_page decode(std::span<const std::uint8_t> s) noexcept { return header(s).value_or(mode_page{}); }
};
/// A lazy forward range of the mode pages in `bytes`.
using mode_page_view = record_view<mode_page_format>;

/// MODE SENSE parameter data: header, block descriptors, pages.
struct mode_parameters {
  mode_parameter_header header;
  /// The block descriptors returned, cut to whole descriptors (8 or 16 bytes each).
  std::span<const std::uint8_t> block_descriptor_bytes;
  /// The mode pages returned, after the block descriptors.
  std::span<const std::uint8_t> page_bytes;
  /// The device has more mode data than was returned.
  bool truncated = false;

  std::size_t block_descriptor_size() const noexcept { return header.longlba ? 16 : 8; }
  /// The block descriptors, lazily: a random-access, sized range of block_descriptor.
  auto block_descriptors() const noexcept {
    return block_descriptor_bytes | ranges::views::chunk(block_descriptor_size()) |
           ranges::views::transform([longlba = header.longlba](auto entry) {
             const byte_reader r(std::span<const std::uint8_t>(entry.begin(), entry.end()));
             // Chunks are whole descriptors: every field is there.
             if (longlba)
               return block_descriptor{r.be<8>(0).value_or(0), static_cast<std::uint32_t>(r.be<4>(12).value_or(0))};
             return block_descriptor{r.be<4>(0).value_or(0), static_cast<std::uint32_t>(r.be<3>(5).value_or(0))};
           });
  }
  /// The mode pages, lazily.
  mode_page_view pages() const noexcept { return mode_page_view(page_bytes); }
  /// The first page with this page and subpage code (subpage 0 matches a page_0 format page).
  std::optional<mode_page> find_page(std::uint8_t page_code, std::uint8_t subpage_code = 0) const noexcept {
    for (const mode_page& p : pages())
      if (p.page_code == page_code && p.subpage_code == subpage_code) return p;
    return std::nullopt;
  }
};

namespace mode_detail {
inline mode_parameters split(const byte_reader& r, mode_parameter_header h, std::size_t total) noexcept {
  mode_parameters m;
  m.header = h;
  m.truncated = total > r.size();
  // Everything after the header, cut at the mode data length and at what was returned.
  const auto data = r.bytes(0, total);
  const auto body = data.size() > h.header_length ? data.subspan(h.header_length) : std::span<const std::uint8_t>{};
  const std::size_t bd = std::min<std::size_t>(h.block_descriptor_length, body.size());
  m.block_descriptor_bytes = body.first(bd / m.block_descriptor_size() * m.block_descriptor_size());
  m.page_bytes = body.subspan(bd);
  return m;
}
}  // namespace mode_detail

/// MODE SENSE (6). std::nullopt when fewer than 4 bytes were returned.
inline std::optional<mode_parameters> parse_mode_sense6(std::span<const std::uint8_t> bytes) noexcept {
  const byte_reader r(bytes);
  if (!r.has(0, 4)) return std::nullopt;
  mode_parameter_header h;
  h.mode_data_length = *r.u8(0);
  h.medium_type = *r.u8(1);
  h.device_specific = *r.u8(2);
  h.block_descriptor_length = *r.u8(3);
  h.header_length = 4;
  return mode_detail::split(r, h, 1 + std::size_t{h.mode_data_length});
}

/// MODE SENSE (10). std::nullopt when fewer than 8 bytes were returned.
inline std::optional<mode_parameters> parse_mode_sense10(std::span<const std::uint8_t> bytes) noexcept {
  const byte_reader r(bytes);
  if (!r.has(0, 8)) return std::nullopt;
  mode_parameter_header h;
  h.mode_data_length = static_cast<std::uint16_t>(*r.be<2>(0));
  h.medium_type = *r.u8(2);
  h.device_specific = *r.u8(3);
  h.longlba = r.bit(4, 0);
  h.block_descriptor_length = static_cast<std::uint16_t>(*r.be<2>(6));
  h.header_length = 8;
  return mode_detail::split(r, h, 2 + std::size_t{h.mode_data_length});
}

namespace mode_pages {
inline constexpr std::uint8_t caching = 0x08;
inline constexpr std::uint8_t control = 0x0A;
inline constexpr std::uint8_t all = 0x3F;  ///< the PAGE CODE that asks for every page
}  // namespace mode_pages

/// SBC-5 table "Caching mode page" (page_0 format, page length 12h).
struct caching_page {
  bool wce = false;  ///< byte 2 bit 2: write cache enabled
  bool rcd = false;  ///< byte 2 bit 0: read cache disabled
  bool mf = false;   ///< byte 2 bit 1
  std::optional<bool> fsw, dra;  ///< byte 12 bits 7 and 5
  std::optional<std::uint8_t> number_of_cache_segments;  ///< byte 13
  std::optional<std::uint16_t> cache_segment_size;       ///< bytes 14-15
};

/// std::nullopt unless `p` is a page_0 format page 08h with at least byte 2 returned.
inline std::optional<caching_page> decode_caching_page(const mode_page& p) noexcept {
  if (p.spf || p.page_code != mode_pages::caching) return std::nullopt;
  const byte_reader r(p.bytes);  // already cut at the page length
  auto b2 = r.u8(2);
  if (!b2) return std::nullopt;
  caching_page c;
  c.wce = (*b2 & 0x04) != 0;
  c.mf = (*b2 & 0x02) != 0;
  c.rcd = (*b2 & 0x01) != 0;
  if (auto b12 = r.u8(12)) {
    c.fsw = (*b12 & 0x80) != 0;
    c.dra = (*b12 & 0x20) != 0;
  }
  c.number_of_cache_segments = r.u8(13);
  if (auto v = r.be<2>(14)) c.cache_segment_size = static_cast<std::uint16_t>(*v);
  return c;
}

/// SPC-6 table "Control mode page" (page_0 format, page length 0Ah).
struct control_page {
  // Byte 2.
  std::uint8_t tst = 0;  ///< bits 7-5
  bool tmf_only = false, dpicz = false, d_sense = false, gltsd = false, rlec = false;
  // Byte 3.
  std::optional<std::uint8_t> queue_algorithm_modifier;  ///< bits 7-4
  std::optional<std::uint8_t> qerr;                      ///< bits 2-1
  // Byte 4.
  std::optional<bool> swp;  ///< bit 3: software write protect
  // Byte 5.
  std::optional<bool> ato, tas;  ///< bits 7, 6
  std::optional<std::uint16_t> busy_timeout_period;                 ///< bytes 8-9 (100 ms units)
  std::optional<std::uint16_t> extended_self_test_completion_time;  ///< bytes 10-11 (seconds)
};

/// std::nullopt unless `p` is a page_0 format page 0Ah with at least byte 2 returned.
inline std::optional<control_page> decode_control_page(const mode_page& p) noexcept {
  if (p.spf || p.page_code != mode_pages::control) return std::nullopt;
  const byte_reader r(p.bytes);  // already cut at the page length
  auto b2 = r.u8(2);
  if (!b2) return std::nullopt;
  control_page c;
  c.tst = static_cast<std::uint8_t>(*b2 >> 5);
  c.tmf_only = (*b2 & 0x10) != 0;
  c.dpicz = (*b2 & 0x08) != 0;
  c.d_sense = (*b2 & 0x04) != 0;
  c.gltsd = (*b2 & 0x02) != 0;
  c.rlec = (*b2 & 0x01) != 0;
  if (auto b3 = r.u8(3)) {
    c.queue_algorithm_modifier = static_cast<std::uint8_t>(*b3 >> 4);
    c.qerr = static_cast<std::uint8_t>((*b3 >> 1) & 3);
  }
  if (auto b4 = r.u8(4)) c.swp = (*b4 & 0x08) != 0;
  if (auto b5 = r.u8(5)) {
    c.ato = (*b5 & 0x80) != 0;
    c.tas = (*b5 & 0x40) != 0;
  }
  if (auto v = r.be<2>(8)) c.busy_timeout_period = static_cast<std::uint16_t>(*v);
  if (auto v = r.be<2>(10)) c.extended_self_test_completion_time = static_cast<std::uint16_t>(*v);
  return c;
}

}  // namespace uringcmd::scsi
