// SPDX-License-Identifier: MIT
// capabilities::probe() on the host kernel: URING_CMD present, the report and the JSON agree.
#include <sys/utsname.h>

#include <cctype>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <doctest/doctest.h>

#include <uringcmd/probe.hpp>

using namespace uringcmd;

namespace {

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

class parser {
 public:
  explicit parser(std::string_view s) : s_(s) {}
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

}  // namespace

TEST_CASE("the JSON checker itself rejects broken documents") {
  CHECK_NOTHROW(parser(R"({"a":[1,true,null,"x\n"],"b":{}})").parse_document());
  CHECK_THROWS(parser(R"({"a":1,})").parse_document());
  CHECK_THROWS(parser(R"({"a":1 "b":2})").parse_document());
  CHECK_THROWS(parser(R"({"a":"unterminated})").parse_document());
  CHECK_THROWS(parser(R"({"a":1}})").parse_document());
  CHECK_THROWS(parser(R"({"a":1,"a":2})").parse_document());
}

TEST_CASE("probe: this kernel has io_uring with URING_CMD and passthrough rings") {
  const capabilities caps = capabilities::probe();
  REQUIRE_MESSAGE(!caps.setup_error, describe(caps.setup_error));
  utsname u{};
  REQUIRE(::uname(&u) == 0);
  CHECK(caps.kernel_release == u.release);
  CHECK(caps.has_uring_cmd());
  CHECK(caps.supports(IORING_OP_NOP));
  CHECK(caps.supports(IORING_OP_READ));
  CHECK(caps.supports(IORING_OP_ASYNC_CANCEL));
  CHECK(caps.last_op >= IORING_OP_URING_CMD);
  CHECK_FALSE(caps.supports(caps.last_op + 1));
  CHECK_FALSE(caps.supports(100000));
  CHECK(caps.passthrough_ring);
  CHECK(caps.single_issuer_defer);
  CHECK((caps.accepted_flags & IORING_SETUP_SQE128) != 0);
  CHECK((caps.accepted_flags & IORING_SETUP_DEFER_TASKRUN) != 0);
  CHECK((caps.features & IORING_FEAT_NODROP) != 0);
  CHECK(capabilities::name_of(IORING_OP_URING_CMD) == "URING_CMD");
  CHECK(capabilities::name_of(999) == "op999");
}

TEST_CASE("probe: to_json is valid JSON that matches the probe") {
  const capabilities caps = capabilities::probe();
  const std::string text = caps.to_json();
  json j;
  try {
    j = parser(text).parse_document();
  } catch (const std::exception& e) {
    FAIL("invalid JSON (" << e.what() << "): " << text);
  }
  CHECK(std::get<std::string>(j["kernel"].v) == caps.kernel_release);
  CHECK(std::get<double>(j["last_op"].v) == caps.last_op);
  CHECK(std::get<bool>(j["ops"]["URING_CMD"].v) == true);
  CHECK(std::get<bool>(j["ops"]["NOP"].v) == true);
  CHECK(j["ops"].obj().size() == caps.last_op + 1);
  CHECK(std::get<bool>(j["passthrough_ring"].v) == caps.passthrough_ring);
  CHECK(std::get<std::string>(j["setup_flags"].v) == setup_flag_names(caps.accepted_flags));
  CHECK(std::get<std::string>(j["features"].v).rfind("0x", 0) == 0);
  CHECK(std::stoul(std::get<std::string>(j["features"].v), nullptr, 16) == caps.features);
  bool nodrop = false;
  for (const json& n : j["feature_names"].arr()) nodrop |= std::get<std::string>(n.v) == "NODROP";
  CHECK(nodrop);
}

TEST_CASE("probe: print names URING_CMD and the passthrough ring") {
  const capabilities caps = capabilities::probe();
  std::ostringstream os;
  caps.print(os);
  const std::string report = os.str();
  CHECK(report.find("URING_CMD         yes") != std::string::npos);
  CHECK(report.find("SQE128|CQE32      yes") != std::string::npos);
  CHECK(report.find(caps.kernel_release) != std::string::npos);
  CHECK(report.find("unsupported ops") != std::string::npos);
}
