// SPDX-License-Identifier: MIT
// The command-line tools' output (uringcmd-scsi, uringcmd-nvme): a command fills one ordered tree
// of fields, printed either for people ("key: value" lines) or as one JSON object, so the two
// never disagree; failures other than a device's are reported the same way (report_problem).
#pragma once

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "../probe/json.hpp"

namespace cli {

struct node;
using fields = std::vector<std::pair<std::string, node>>;
using list = std::vector<node>;

/// A number that people read in hex ("0x010a") and JSON carries as a number (266), as nvme-cli
/// prints identify data.
struct hex_number {
  std::uint64_t value = 0;
  int digits = 2;
};

struct node {
  std::variant<std::string, std::uint64_t, bool, list, fields, hex_number> v;
  node(std::string s) : v(std::move(s)) {}
  node(const char* s) : v(std::string(s)) {}
  node(std::string_view s) : v(std::string(s)) {}
  node(bool b) : v(b) {}
  template <std::unsigned_integral T>
    requires(!std::same_as<T, bool>)
  node(T n) : v(std::uint64_t{n}) {}
  node(list l) : v(std::move(l)) {}
  node(fields f) : v(std::move(f)) {}
  node(hex_number h) : v(h) {}
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
  if (auto* h = std::get_if<hex_number>(&n.v)) return std::to_string(h->value);
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
  if (auto* h = std::get_if<hex_number>(&n.v)) return hex(h->value, h->digits);
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

struct output_mode {
  bool json = false;
};

/// The fields on stdout, as JSON or as text.
inline void print(output_mode m, const fields& f) {
  if (m.json) std::cout << to_json(f) << '\n';
  else print_human(std::cout, f);
}

/// A failure that is not a device's answer (a bad argument, a file): "PROGRAM COMMAND: text" on
/// stderr and, with --json, {"command", "error", "exit_status"} on stdout. Returns `status`.
inline int report_problem(std::string_view program, output_mode m, std::string_view command, const std::string& text,
                          int status) {
  std::cerr << program << ' ' << command << ": " << text << '\n';
  if (m.json)
    std::cout << to_json(fields{{"command", command}, {"error", text}, {"exit_status", static_cast<unsigned>(status)}})
              << '\n';
  return status;
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

}  // namespace cli
