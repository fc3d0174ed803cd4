// SPDX-License-Identifier: MIT
// json_parser: for tests that check the JSON a tool prints.
#pragma once

#include <cctype>
#include <cstddef>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace uc_test {

// A strict little JSON parser (RFC 8259 minus \u escapes beyond ASCII): enough to prove the
// report is valid JSON and to look values up.
struct json {
  using object = std::map<std::string, json>;
  using array = std::vector<json>;
  std::variant<std::nullptr_t, bool, double, std::string, std::shared_ptr<array>, std::shared_ptr<object>> v;
  const object& obj() const { return *std::get<std::shared_ptr<object>>(v); }
  const array& arr() const { return *std::get<std::shared_ptr<array>>(v); }
  const json& operator[](const std::string& k) const { return obj().at(k); }
};

class json_parser {
 public:
  explicit json_parser(std::string_view s) : s_(s) {}
  json parse_document() {
    json j = value();
    ws();
    if (i_ != s_.size()) throw std::runtime_error("trailing characters at " + std::to_string(i_));
    return j;
  }

 private:
  void ws() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  char peek() {
    ws();
    if (i_ >= s_.size()) throw std::runtime_error("unexpected end");
    return s_[i_];
  }
  void expect(char c) {
    if (peek() != c) throw std::runtime_error(std::string("expected '") + c + "' at " + std::to_string(i_));
    ++i_;
  }
  bool literal(std::string_view w) {
    if (s_.substr(i_, w.size()) != w) return false;
    i_ += w.size();
    return true;
  }
  std::string string() {
    expect('"');
    std::string out;
    while (i_ < s_.size() && s_[i_] != '"') {
      char c = s_[i_++];
      if (static_cast<unsigned char>(c) < 0x20) throw std::runtime_error("control character in string");
      if (c == '\\') {
        if (i_ >= s_.size()) break;
        char e = s_[i_++];
        switch (e) {
          case '"': case '\\': case '/': out += e; break;
          case 'n': out += '\n'; break;
          case 't': out += '\t'; break;
          case 'r': out += '\r'; break;
          case 'b': out += '\b'; break;
          case 'f': out += '\f'; break;
          case 'u': out += static_cast<char>(std::stoi(std::string(s_.substr(i_, 4)), nullptr, 16)); i_ += 4; break;
          default: throw std::runtime_error("bad escape");
        }
      } else {
        out += c;
      }
    }
    expect('"');
    return out;
  }
  json value() {
    const char c = peek();
    if (c == '{') {
      ++i_;
      auto o = std::make_shared<json::object>();
      if (peek() != '}') {
        do {
          std::string k = string();
          expect(':');
          if (!o->emplace(k, value()).second) throw std::runtime_error("duplicate key " + k);
        } while (peek() == ',' && ++i_);
      }
      expect('}');
      return {o};
    }
    if (c == '[') {
      ++i_;
      auto a = std::make_shared<json::array>();
      if (peek() != ']') {
        do a->push_back(value());
        while (peek() == ',' && ++i_);
      }
      expect(']');
      return {a};
    }
    if (c == '"') return {string()};
    if (literal("true")) return {true};
    if (literal("false")) return {false};
    if (literal("null")) return {nullptr};
    std::size_t used = 0;
    const double d = std::stod(std::string(s_.substr(i_, 32)), &used);
    if (used == 0) throw std::runtime_error("bad value at " + std::to_string(i_));
    i_ += used;
    return {d};
  }
  std::string_view s_;
  std::size_t i_ = 0;
};

}  // namespace uc_test
