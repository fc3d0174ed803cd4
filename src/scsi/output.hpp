// SPDX-License-Identifier: MIT
// uringcmd-scsi's output: a command fills one ordered tree of fields, printed either for people
// ("key: value" lines) or as one JSON object, so the two never disagree.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <cstdio>
#include <iomanip>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "../probe/json.hpp"

namespace scsi_tool {

struct node;
using fields = std::vector<std::pair<std::string, node>>;
using list = std::vector<node>;

struct node {
  std::variant<std::string, std::uint64_t, bool, list, fields> v;
  node(std::string s) : v(std::move(s)) {}
  node(const char* s) : v(std::string(s)) {}
  node(std::string_view s) : v(std::string(s)) {}
  node(bool b) : v(b) {}
  template <std::unsigned_integral T>
    requires(!std::same_as<T, bool>)
  node(T n) : v(std::uint64_t{n}) {}
  node(list l) : v(std::move(l)) {}
  node(fields f) : v(std::move(f)) {}
};

inline std::string hex(std::uint64_t v, int digits = 2) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%0*llx", digits, static_cast<unsigned long long>(v));
  return buf;
}

/// "0011aabb": bytes as one hex string (JSON data, designators).
inline std::string hex_string(std::span<const std::uint8_t> bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string s;
  s.reserve(bytes.size() * 2);
  for (auto b : bytes) (s += digits[b >> 4]) += digits[b & 15];
  return s;
}

inline std::string to_json(const node& n) {
  if (auto* s = std::get_if<std::string>(&n.v)) return probe::json_quote(*s);
  if (auto* u = std::get_if<std::uint64_t>(&n.v)) return std::to_string(*u);
  if (auto* b = std::get_if<bool>(&n.v)) return *b ? "true" : "false";
  std::string j;
  if (auto* l = std::get_if<list>(&n.v)) {
    for (const auto& e : *l) j += (j.empty() ? "" : ",") + to_json(e);
    return "[" + j + "]";
  }
  for (const auto& [k, v] : std::get<fields>(n.v)) j += (j.empty() ? "" : ",") + probe::json_quote(k) + ":" + to_json(v);
  return "{" + j + "}";
}

// One line for a list element: scalars as they are, objects as "key=value  key=value".
inline std::string inline_text(const node& n) {
  if (auto* s = std::get_if<std::string>(&n.v)) return *s;
  if (auto* u = std::get_if<std::uint64_t>(&n.v)) return std::to_string(*u);
  if (auto* b = std::get_if<bool>(&n.v)) return *b ? "yes" : "no";
  std::string t;
  if (auto* l = std::get_if<list>(&n.v)) {
    for (const auto& e : *l) t += (t.empty() ? "" : ", ") + inline_text(e);
    return t;
  }
  for (const auto& [k, v] : std::get<fields>(n.v)) t += (t.empty() ? "" : "  ") + k + "=" + inline_text(v);
  return t;
}

inline void print_human(std::ostream& os, const fields& f, int indent = 0) {
  const std::string pad(static_cast<std::size_t>(indent), ' ');
  for (const auto& [k, v] : f) {
    if (auto* sub = std::get_if<fields>(&v.v)) {
      os << pad << k << ":\n";
      print_human(os, *sub, indent + 2);
    } else if (auto* l = std::get_if<list>(&v.v)) {
      os << pad << k << ": " << l->size() << '\n';
      for (const auto& e : *l) os << pad << "  " << inline_text(e) << '\n';
    } else {
      os << pad << std::left << std::setw(std::max(1, 24 - indent)) << (k + ":") << ' ' << inline_text(v) << '\n';
    }
  }
}

/// hexdump -C's layout: offset, 16 bytes in two groups of 8, the printable characters.
inline void hexdump(std::ostream& os, std::span<const std::uint8_t> bytes, std::uint64_t offset = 0) {
  char line[96];
  for (std::size_t i = 0; i < bytes.size(); i += 16) {
    int n = std::snprintf(line, sizeof line, "%08llx ", static_cast<unsigned long long>(offset + i));
    std::string ascii;
    for (std::size_t j = 0; j < 16; ++j) {
      const auto at = static_cast<std::size_t>(n);
      if (i + j < bytes.size()) {
        const std::uint8_t b = bytes[i + j];
        n += std::snprintf(line + at, sizeof line - at, "%s %02x", j == 8 ? " " : "", b);
        ascii += (b >= 0x20 && b < 0x7f) ? static_cast<char>(b) : '.';
      } else {
        n += std::snprintf(line + at, sizeof line - at, "%s   ", j == 8 ? " " : "");
      }
    }
    os << line << "  |" << ascii << "|\n";
  }
}

}  // namespace scsi_tool
