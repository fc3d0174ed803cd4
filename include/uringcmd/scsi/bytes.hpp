// SPDX-License-Identifier: MIT
// Big-endian fields of SCSI CDBs, parameter lists and responses. Readers are bounds-checked
// against the bytes the device actually returned: a field that does not fit is "absent", never
// read past the end.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace uringcmd::scsi {

/// Writes the low `N` bytes of `v` big-endian at `p`.
template <std::size_t N, class T>
constexpr void put_be(std::uint8_t* p, T v) noexcept {
  for (std::size_t i = 0; i < N; ++i) p[i] = static_cast<std::uint8_t>(static_cast<std::uint64_t>(v) >> (8 * (N - 1 - i)));
}

/// Reads `N` big-endian bytes at `p` (the caller has checked the bounds).
template <std::size_t N>
constexpr std::uint64_t get_be(const std::uint8_t* p) noexcept {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < N; ++i) v = (v << 8) | p[i];
  return v;
}

/// A view of bytes a device returned, with bounds-checked big-endian reads.
class byte_reader {
 public:
  constexpr byte_reader() noexcept = default;
  constexpr explicit byte_reader(std::span<const std::uint8_t> bytes) noexcept : bytes_(bytes) {}
  explicit byte_reader(std::span<const std::byte> bytes) noexcept
      : bytes_(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()) {}

  constexpr std::size_t size() const noexcept { return bytes_.size(); }
  constexpr bool has(std::size_t offset, std::size_t len) const noexcept {
    return offset <= bytes_.size() && len <= bytes_.size() - offset;
  }
  /// The `N`-byte big-endian field at `offset`, or nullopt when it lies (even partly) past the end.
  template <std::size_t N>
  constexpr std::optional<std::uint64_t> be(std::size_t offset) const noexcept {
    if (!has(offset, N)) return std::nullopt;
    return get_be<N>(bytes_.data() + offset);
  }
  constexpr std::optional<std::uint8_t> u8(std::size_t offset) const noexcept {
    if (!has(offset, 1)) return std::nullopt;
    return bytes_[offset];
  }
  /// Bit `bit` of byte `offset` (false when absent).
  constexpr bool bit(std::size_t offset, unsigned bit) const noexcept {
    return has(offset, 1) && ((bytes_[offset] >> bit) & 1U);
  }
  /// `len` bytes from `offset`, cut at the end of the data.
  constexpr std::span<const std::uint8_t> bytes(std::size_t offset, std::size_t len) const noexcept {
    if (offset >= bytes_.size()) return {};
    return bytes_.subspan(offset, len < bytes_.size() - offset ? len : bytes_.size() - offset);
  }
  constexpr std::span<const std::uint8_t> all() const noexcept { return bytes_; }

 private:
  std::span<const std::uint8_t> bytes_;
};

}  // namespace uringcmd::scsi
