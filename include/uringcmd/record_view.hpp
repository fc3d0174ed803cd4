// SPDX-License-Identifier: MIT
// record_view: a lazy forward range over length-prefixed records packed one after the other
// (SCSI designation descriptors, mode pages, command descriptors, sense descriptors; NVMe
// namespace identification descriptors). A Format
// says how long the record at the front of the bytes is, and what it decodes to:
//   static constexpr std::optional<std::size_t> length(std::span<const std::uint8_t> rest)
//       the record's size, never 0 and never past `rest`; nullopt ends the walk (a format may
//       return a cut length to yield a last, truncated record)
//   static constexpr T decode(std::span<const std::uint8_t> record)   exactly those bytes
// Nothing is read past the bytes given.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include <range/v3/view/facade.hpp>

namespace uringcmd {

template <class Format>
class record_view : public ranges::view_facade<record_view<Format>, ranges::finite> {
 public:
  constexpr record_view() noexcept = default;
  constexpr explicit record_view(std::span<const std::uint8_t> records) noexcept : bytes_(records) {}

 private:
  friend ranges::range_access;
  struct cursor {
    std::span<const std::uint8_t> rest;  // starts with a record, or is empty: the end

    // On the record at the front of `s`, or at the end: begin and end are one type (a common range).
    static constexpr cursor at(std::span<const std::uint8_t> s) noexcept {
      return {Format::length(s) ? s : s.subspan(s.size())};
    }
    constexpr auto read() const noexcept { return Format::decode(rest.first(*Format::length(rest))); }
    constexpr void next() noexcept { *this = at(rest.subspan(*Format::length(rest))); }
    constexpr bool equal(const cursor& other) const noexcept { return rest.data() == other.rest.data(); }
  };
  constexpr cursor begin_cursor() const noexcept { return cursor::at(bytes_); }
  constexpr cursor end_cursor() const noexcept { return {bytes_.subspan(bytes_.size())}; }

  std::span<const std::uint8_t> bytes_;
};

}  // namespace uringcmd
