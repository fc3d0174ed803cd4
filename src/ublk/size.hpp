// SPDX-License-Identifier: MIT
// Sizes on the daemon's command line and in its output: "64M", "1G", "512K", "4096" in, "64 MiB"
// out (powers of 1024, as losetup and kublk take them).
#pragma once

#include <charconv>
#include <cstdio>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ublk_tool {

/// Bytes from "N", "NK", "NM", "NG", "NT" (also "NKiB", "NMB", any case); nothing on a typo or
/// an overflow.
inline std::optional<std::uint64_t> parse_size(std::string_view s) {
  std::uint64_t n = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || end == s.data()) return std::nullopt;
  std::string_view unit(end, static_cast<std::size_t>(s.data() + s.size() - end));
  if (unit.ends_with("iB") || unit.ends_with("ib")) unit.remove_suffix(2);
  else if (unit.size() == 2 && (unit.back() == 'B' || unit.back() == 'b')) unit.remove_suffix(1);
  int shift = 0;
  if (unit.size() > 1) return std::nullopt;
  if (!unit.empty()) {
    switch (unit.front() | 0x20) {
      case 'k': shift = 10; break;
      case 'm': shift = 20; break;
      case 'g': shift = 30; break;
      case 't': shift = 40; break;
      default: return std::nullopt;
    }
  }
  if (shift && n > (UINT64_MAX >> shift)) return std::nullopt;
  return n << shift;
}

/// "64 MiB", "1.5 GiB", "4096 B".
inline std::string format_size(std::uint64_t bytes) {
  static constexpr const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  std::uint64_t whole = bytes;
  while (u < 4 && whole >= 1024 && whole % 1024 == 0) whole /= 1024, ++u;
  if (whole >= 1024 * 16) {  // not a round number: one decimal is enough to read it
    double v = static_cast<double>(bytes);
    u = 0;
    while (u < 4 && v >= 1024) v /= 1024, ++u;
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
    return buf;
  }
  return std::to_string(whole) + " " + units[u];
}

}  // namespace ublk_tool
