// SPDX-License-Identifier: MIT
// Names of the set bits of a mask (setup flags, io_uring and ublk features), for reports and messages.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace uringcmd::detail {

/// Calls `f(name)` for each set bit, lowest first; `names[b]` names bit b, a bit past the table is
/// "bit<b>" (a newer kernel than the table).
template <class F>
void for_each_flag_name(std::uint64_t bits, std::span<const std::string_view> names, F&& f) {
  for (unsigned b = 0; b < 64; ++b) {
    if (!(bits & (std::uint64_t{1} << b))) continue;
    if (b < names.size()) f(names[b]);
    else f(std::string_view("bit" + std::to_string(b)));
  }
}

/// The names of the set bits joined by `sep`; empty when no bit is set.
inline std::string flag_names(std::uint64_t bits, std::span<const std::string_view> names, char sep) {
  std::string s;
  for_each_flag_name(bits, names, [&](std::string_view n) {
    if (!s.empty()) s += sep;
    s += n;
  });
  return s;
}

}  // namespace uringcmd::detail
