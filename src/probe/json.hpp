// SPDX-License-Identifier: MIT
// Minimal JSON text helpers for uringcmd-probe --json (no parsing, no allocation beyond the string).
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace probe {

inline std::string json_quote(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += ch;
        }
    }
  }
  return out + "\"";
}

inline std::string json_hex(unsigned long long v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "\"0x%llx\"", v);
  return buf;
}

}  // namespace probe
