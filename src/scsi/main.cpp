// SPDX-License-Identifier: MIT
// uringcmd-scsi: SCSI commands from the shell over BSG io_uring, in sg3_utils' conventions
// (device names, exit statuses, decoded sense on stderr).
#include <cctype>
#include <charconv>
#include <cstdint>
#include <exception>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <uringcmd/uringcmd.hpp>

#include "commands.hpp"

namespace {

namespace uc = uringcmd;
using namespace scsi_tool;

struct option_info {
  std::string_view name, metavar, help;
};
constexpr option_info option_table[] = {
    {"--vpd", "PAGE", "decode VPD page PAGE (0x00, 0x80, 0x83, 0xb0-0xb2; others as hex)"},
    {"--lba", "N", "first logical block address"},
    {"--count", "N", "number of logical blocks"},
    {"--in", "FILE", "send FILE's bytes (write: whole blocks only)"},
    {"--out", "FILE", "write the data read to FILE (default: a hex dump on stdout)"},
    {"--len", "N", "expect N bytes of data-in"},
    {"--timeout", "MS", "command deadline in milliseconds (default 60000)"},
    {"--json", "", "one JSON object on stdout instead of text"},
    {"--help", "", "this text"},
};

struct command_info {
  std::string_view name, synopsis, summary, options;
};
constexpr command_info command_table[] = {
    {"inquiry", "DEV [--vpd PAGE]", "standard INQUIRY data, or a decoded VPD page", "--vpd --timeout --json --help"},
    {"readcap", "DEV", "READ CAPACITY (10), and (16) when needed: size, block size, provisioning",
     "--timeout --json --help"},
    {"luns", "DEV", "REPORT LUNS", "--timeout --json --help"},
    {"tur", "DEV", "TEST UNIT READY", "--timeout --json --help"},
    {"read", "DEV --lba N --count N [--out FILE]", "read blocks (a hex dump on stdout, or raw to FILE)",
     "--lba --count --out --timeout --json --help"},
    {"write", "DEV --lba N --in FILE", "write FILE's blocks at N", "--lba --in --timeout --json --help"},
    {"sync", "DEV", "SYNCHRONIZE CACHE (10) of the whole device", "--timeout --json --help"},
    {"unmap", "DEV --lba N --count N", "UNMAP the blocks (thin provisioning)", "--lba --count --timeout --json --help"},
    {"opcodes", "DEV", "REPORT SUPPORTED OPERATION CODES", "--timeout --json --help"},
    {"raw", "DEV CDB-HEX [--in FILE | --len N [--out FILE]]", "send any CDB (bytes in hex, spaces allowed)",
     "--in --out --len --timeout --json --help"},
    {"decode-sense", "HEX...", "decode sense data (bytes in hex, spaces allowed); needs no device", "--json --help"},
};

constexpr std::string_view device_help = "DEV: /dev/bsg/H:C:T:L, /dev/sgN or /dev/sdX (Linux 7.1+, usually root)\n";
constexpr std::string_view number_help = "Numbers are decimal, or hex with 0x or a trailing h.\n";

std::string usage() {
  std::ostringstream s;
  s << "usage: uringcmd-scsi COMMAND [ARGS] [--json] [--help]\n\n";
  for (const auto& c : command_table) s << "  " << c.name << ' ' << c.synopsis << "\n      " << c.summary << '\n';
  s << '\n' << device_help << number_help << "uringcmd-scsi COMMAND --help: its options.\n\n" << exit_table;
  return s.str();
}

std::string usage(const command_info& c) {
  std::ostringstream s;
  s << "usage: uringcmd-scsi " << c.name << ' ' << c.synopsis << "\n" << c.summary << "\n\n";
  for (const auto& o : option_table) {
    if (c.options.find(std::string(o.name) + ' ') == std::string_view::npos && !c.options.ends_with(o.name)) continue;
    const std::string left = std::string(o.name) + (o.metavar.empty() ? "" : " ") + std::string(o.metavar);
    s << "  " << left << std::string(left.size() < 15 ? 15 - left.size() : 1, ' ') << o.help << '\n';
  }
  s << '\n' << (c.name == "decode-sense" ? "" : device_help) << number_help << '\n' << exit_table;
  return s.str();
}

std::optional<std::uint64_t> parse_number(std::string_view s) {
  int base = 10;
  if (s.starts_with("0x") || s.starts_with("0X")) s.remove_prefix(2), base = 16;
  else if (s.ends_with('h') || s.ends_with('H')) s.remove_suffix(1), base = 16;
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// Bytes in hex: "70 00 05", "700005", "0x70 0x0 5": a word of one or two digits is one byte,
// a longer one is a run of pairs.
std::optional<std::vector<std::uint8_t>> parse_hex_bytes(const std::vector<std::string>& words) {
  std::vector<std::uint8_t> out;
  for (const auto& arg : words) {
    std::istringstream split(arg);
    for (std::string w; split >> w;) {
      std::string_view v(w);
      if (v.starts_with("0x") || v.starts_with("0X")) v.remove_prefix(2);
      if (v.empty() || (v.size() > 2 && v.size() % 2)) return std::nullopt;
      for (std::size_t i = 0; i < v.size(); i += 2) {
        std::uint8_t b = 0;
        const auto n = std::min<std::size_t>(2, v.size() - i);
        const auto [end, ec] = std::from_chars(v.data() + i, v.data() + i + n, b, 16);
        if (ec != std::errc() || end != v.data() + i + n) return std::nullopt;
        out.push_back(b);
      }
    }
  }
  return out;
}

int syntax_error(const std::string& what, const std::string& help) {
  std::cerr << "uringcmd-scsi: " << what << "\n\n" << help;
  return exit_syntax;
}

uc::task<int> dispatch(args a, std::optional<sc::cdb> cdb) {
  const std::string_view c = a.command;
  if (c == "inquiry") co_return co_await cmd_inquiry(std::move(a));
  if (c == "readcap") co_return co_await cmd_readcap(std::move(a));
  if (c == "luns") co_return co_await cmd_luns(std::move(a));
  if (c == "tur") co_return co_await cmd_tur(std::move(a));
  if (c == "read") co_return co_await cmd_read(std::move(a));
  if (c == "write") co_return co_await cmd_write(std::move(a));
  if (c == "sync") co_return co_await cmd_sync(std::move(a));
  if (c == "unmap") co_return co_await cmd_unmap(std::move(a));
  if (c == "opcodes") co_return co_await cmd_opcodes(std::move(a));
  co_return co_await cmd_raw(std::move(a), *cdb);
}

int run(int argc, char** argv) {
  if (argc < 2) return syntax_error("no command", usage());
  const std::string_view name = argv[1];
  if (name == "--help" || name == "-h") {
    std::cout << usage();
    return exit_ok;
  }
  const command_info* cmd = nullptr;
  for (const auto& c : command_table)
    if (c.name == name) cmd = &c;
  if (!cmd) return syntax_error("unknown command '" + std::string(name) + "'", usage());
  const std::string help = usage(*cmd);

  args a;
  a.command = std::string(name);
  std::vector<std::string> words;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (!arg.starts_with("--") && arg != "-h") {
      words.push_back(arg);
      continue;
    }
    const option_info* opt = nullptr;
    for (const auto& o : option_table)
      if (o.name == arg || (arg == "-h" && o.name == "--help")) opt = &o;
    if (!opt || cmd->options.find(opt->name) == std::string_view::npos)
      return syntax_error("'" + arg + "' is not an option of " + a.command, help);
    if (opt->name == "--help") {
      std::cout << help;
      return exit_ok;
    }
    if (opt->name == "--json") {
      a.mode.json = true;
      continue;
    }
    if (++i == argc) return syntax_error(arg + " needs " + std::string(opt->metavar), help);
    const std::string value = argv[i];
    if (opt->name == "--in") a.in = value;
    else if (opt->name == "--out") a.out = value;
    else {
      auto n = parse_number(value);
      if (!n) return syntax_error(arg + ": '" + value + "' is not a number", help);
      if (opt->name == "--lba") a.lba = n;
      if (opt->name == "--count") a.count = n;
      if (opt->name == "--len") a.len = n;
      if (opt->name == "--timeout") a.timeout_ms = n;
      if (opt->name == "--vpd") a.vpd = n;
    }
  }

  if (name == "decode-sense") {
    auto bytes = parse_hex_bytes(words);
    if (!bytes || bytes->empty()) return syntax_error("decode-sense needs sense bytes in hex", help);
    return cmd_decode_sense(a, *bytes);
  }
  if (words.empty()) return syntax_error("missing DEV", help);
  a.device = words.front();
  words.erase(words.begin());
  std::optional<sc::cdb> cdb;
  if (name == "raw") {
    auto bytes = parse_hex_bytes(words);
    if (!bytes || !(cdb = sc::raw(*bytes))) return syntax_error("raw needs a CDB of 1 to 32 bytes in hex", help);
    if (!a.in.empty() && (a.len || !a.out.empty())) return syntax_error("--in excludes --len and --out", help);
    if (!a.out.empty() && !a.len) return syntax_error("--out needs --len", help);
  } else if (!words.empty()) {
    return syntax_error("unexpected argument '" + words.front() + "'", help);
  }
  if ((name == "read" || name == "unmap") && (!a.lba || !a.count)) return syntax_error("needs --lba and --count", help);
  if (name == "write" && (!a.lba || a.in.empty())) return syntax_error("needs --lba and --in", help);
  if (a.vpd && *a.vpd > 0xff) return syntax_error("--vpd: a page code is 0..255", help);
  if (a.timeout_ms && *a.timeout_ms > UINT32_MAX) return syntax_error("--timeout too large", help);
  if (a.len && *a.len > 1U << 30) return syntax_error("--len: at most 1 GiB", help);

  uc::executor ex(uc::ring_options::passthrough());
  return uc::sync_wait(ex, dispatch(std::move(a), cdb));
}

}  // namespace

int main(int argc, char** argv) {
  // Nothing may escape: an exception (a failed io_uring setup, bad_alloc) is a message and 99.
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "uringcmd-scsi: " << e.what() << '\n';
  } catch (...) {
    std::cerr << "uringcmd-scsi: unknown exception\n";
  }
  return exit_other;
}
