// SPDX-License-Identifier: MIT
// Little-endian fields of NVMe data structures (identify data, log pages, DSM ranges). Readers are
// bounds-checked against the bytes the controller returned: a field that does not fit is absent,
// never read past the end.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace uringcmd::nvme {

/// Writes the low `N` bytes of `v` little-endian at `p`.
template <std::size_t N, class T>
constexpr void put_le(std::uint8_t* p, T v) noexcept {
  for (std::size_t i = 0; i < N; ++i) p[i] = static_cast<std::uint8_t>(static_cast<std::uint64_t>(v) >> (8 * i));
}

/// Reads `N` little-endian bytes at `p` (the caller has checked the bounds).
template <std::size_t N>
constexpr std::uint64_t get_le(const std::uint8_t* p) noexcept {
  static_assert(N <= 8);
  std::uint64_t v = 0;
  for (std::size_t i = N; i > 0; --i) v = (v << 8) | p[i - 1];
  return v;
}

/// A view of bytes a controller returned, with bounds-checked little-endian reads.
class le_reader {
 public:
  constexpr le_reader() noexcept = default;
  constexpr explicit le_reader(std::span<const std::uint8_t> bytes) noexcept : bytes_(bytes) {}

  constexpr std::size_t size() const noexcept { return bytes_.size(); }
  constexpr bool has(std::size_t offset, std::size_t len) const noexcept {
    return offset <= bytes_.size() && len <= bytes_.size() - offset;
  }
  /// The `N`-byte field at `offset`, or nullopt when it lies (even partly) past the end.
  template <std::size_t N>
  constexpr std::optional<std::uint64_t> le(std::size_t offset) const noexcept {
    if (!has(offset, N)) return std::nullopt;
    return get_le<N>(bytes_.data() + offset);
  }
  /// The `N`-byte field at `offset`, 0 when absent: for parsers that checked a minimum size once.
  template <std::size_t N>
  constexpr std::uint64_t le_or0(std::size_t offset) const noexcept {
    return has(offset, N) ? get_le<N>(bytes_.data() + offset) : 0;
  }
  constexpr std::uint8_t u8_or0(std::size_t offset) const noexcept { return has(offset, 1) ? bytes_[offset] : 0; }
  /// `len` bytes from `offset`, cut at the end of the data.
  constexpr std::span<const std::uint8_t> bytes(std::size_t offset, std::size_t len) const noexcept {
    if (offset >= bytes_.size()) return {};
    return bytes_.subspan(offset, len < bytes_.size() - offset ? len : bytes_.size() - offset);
  }
  constexpr std::span<const std::uint8_t> all() const noexcept { return bytes_; }

 private:
  std::span<const std::uint8_t> bytes_;
};

/// A 128-bit little-endian counter (SMART data units and command counts, capacities in bytes),
/// kept as two halves: -Wpedantic forbids naming __int128 outside an __extension__.
struct uint128 {
  std::uint64_t low = 0;
  std::uint64_t high = 0;

  friend constexpr bool operator==(const uint128&, const uint128&) noexcept = default;
  /// The value when it fits 64 bits.
  constexpr std::optional<std::uint64_t> to_u64() const noexcept {
    if (high != 0) return std::nullopt;
    return low;
  }
  /// The value in decimal ("340282366920938463463374607431768211455" at most).
  std::string to_string() const {
    __extension__ using u128 = unsigned __int128;
    u128 v = (static_cast<u128>(high) << 64) | low;
    char digits[40];
    std::size_t n = 0;
    do {
      digits[n++] = static_cast<char>('0' + static_cast<unsigned>(v % 10));
      v /= 10;
    } while (v != 0);
    std::string s;
    s.reserve(n);
    while (n > 0) s += digits[--n];
    return s;
  }
};

/// The 16-byte little-endian counter at `offset` (0 when absent).
constexpr uint128 le128_or0(const le_reader& r, std::size_t offset) noexcept {
  if (!r.has(offset, 16)) return {};
  return {r.le_or0<8>(offset), r.le_or0<8>(offset + 8)};
}

/// An ASCII field (serial number, model, firmware revision, NQN) as a string_view into the buffer,
/// without its trailing spaces and NULs; also cut at the first NUL (an NQN is NUL-terminated).
/// Bytes are not checked for printability. LIFETIME: points into `bytes`.
inline std::string_view ascii_field(std::span<const std::uint8_t> bytes) noexcept {
  std::size_t e = 0;
  while (e < bytes.size() && bytes[e] != 0) ++e;
  while (e > 0 && bytes[e - 1] == ' ') --e;
  return {reinterpret_cast<const char*>(bytes.data()), e};
}

}  // namespace uringcmd::nvme
