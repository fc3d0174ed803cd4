// SPDX-License-Identifier: MIT
// The command-line tools' arguments (uringcmd-scsi, uringcmd-nvme): "PROGRAM COMMAND [DEV] [ARGS]"
// with options from one table, usage text generated from the same tables, numbers in decimal or
// hex, and bytes in hex.
#pragma once

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <iostream>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace cli {

enum class arg_kind { flag, number, text };

struct option_info {
  std::string_view name, metavar, help;
  arg_kind kind = arg_kind::number;
  std::string_view short_name = {};  ///< "-n": the same option (nvme-cli's short forms)
};

struct command_info {
  std::string_view name, synopsis, summary;
  std::string_view options;  ///< the option names it takes, separated by spaces
  bool device = true;        ///< takes DEV (the usage then explains DEV)
};

/// Numbers: decimal, or hex with 0x or a trailing h.
inline std::optional<std::uint64_t> parse_number(std::string_view s) {
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
inline std::optional<std::vector<std::uint8_t>> parse_hex_bytes(const std::vector<std::string>& words) {
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

/// What the command line held: the command, its words (DEV and the rest) and its options.
struct parsed_args {
  const command_info* command = nullptr;
  std::string help;  ///< the command's usage text
  std::vector<std::string> words;
  std::vector<std::pair<std::string_view, std::string>> texts;
  std::vector<std::pair<std::string_view, std::uint64_t>> numbers;
  std::vector<std::string_view> flags;

  bool flag(std::string_view name) const { return std::find(flags.begin(), flags.end(), name) != flags.end(); }
  /// The option's value (the last one given), if any.
  std::optional<std::uint64_t> number(std::string_view name) const {
    for (auto it = numbers.rbegin(); it != numbers.rend(); ++it)
      if (it->first == name) return it->second;
    return std::nullopt;
  }
  std::string text(std::string_view name) const {
    for (auto it = texts.rbegin(); it != texts.rend(); ++it)
      if (it->first == name) return it->second;
    return {};
  }
};

/// One tool's tables and texts.
struct program {
  std::string_view name;  ///< "uringcmd-scsi"
  std::span<const option_info> options;
  std::span<const command_info> commands;
  std::string_view device_help;  ///< "DEV: ...\n"
  std::string_view number_help;  ///< "Numbers are ...\n"
  std::string_view exit_help;    ///< the table of exit statuses
  int exit_ok = 0;
  int exit_usage = 1;
  std::size_t option_column = 15;  ///< where the options' help starts in a command's usage

  std::string usage() const {
    std::ostringstream s;
    s << "usage: " << name << " COMMAND [ARGS] [--json] [--help]\n\n";
    for (const auto& c : commands) s << "  " << c.name << ' ' << c.synopsis << "\n      " << c.summary << '\n';
    s << '\n' << device_help << number_help << name << " COMMAND --help: its options.\n\n" << exit_help;
    return s.str();
  }

  std::string usage(const command_info& c) const {
    std::ostringstream s;
    s << "usage: " << name << ' ' << c.name << ' ' << c.synopsis << "\n" << c.summary << "\n\n";
    for (const auto& o : options) {
      if (c.options.find(std::string(o.name) + ' ') == std::string_view::npos && !c.options.ends_with(o.name)) continue;
      std::string left = o.short_name.empty() ? std::string() : std::string(o.short_name) + ", ";
      left += std::string(o.name) + (o.metavar.empty() ? "" : " ") + std::string(o.metavar);
      s << "  " << left << std::string(left.size() < option_column ? option_column - left.size() : 1, ' ') << o.help
        << '\n';
    }
    s << '\n' << (c.device ? device_help : "") << number_help << '\n' << exit_help;
    return s.str();
  }

  /// "PROGRAM: what", a blank line and `help` on stderr; returns exit_usage.
  int syntax_error(const std::string& what, const std::string& help) const {
    std::cerr << name << ": " << what << "\n\n" << help;
    return exit_usage;
  }

  /// The parsed command line, or the exit status when there is nothing to run: --help was
  /// printed (exit_ok), or a syntax error was reported (exit_usage).
  std::variant<parsed_args, int> parse(int argc, char** argv) const {
    if (argc < 2) return syntax_error("no command", usage());
    const std::string_view cmd_name = argv[1];
    if (cmd_name == "--help" || cmd_name == "-h") {
      std::cout << usage();
      return exit_ok;
    }
    parsed_args a;
    for (const auto& c : commands)
      if (c.name == cmd_name) a.command = &c;
    if (!a.command) return syntax_error("unknown command '" + std::string(cmd_name) + "'", usage());
    a.help = usage(*a.command);

    for (int i = 2; i < argc; ++i) {
      const std::string arg = argv[i];
      const option_info* opt = nullptr;
      for (const auto& o : options)
        if (o.name == arg || (arg == "-h" && o.name == "--help") || (!o.short_name.empty() && o.short_name == arg))
          opt = &o;
      if (!arg.starts_with("--") && arg != "-h" && !opt) {
        a.words.push_back(arg);
        continue;
      }
      if (!opt || a.command->options.find(opt->name) == std::string_view::npos)
        return syntax_error("'" + arg + "' is not an option of " + std::string(cmd_name), a.help);
      if (opt->name == "--help") {
        std::cout << a.help;
        return exit_ok;
      }
      if (opt->kind == arg_kind::flag) {
        a.flags.push_back(opt->name);
        continue;
      }
      if (++i == argc) return syntax_error(arg + " needs " + std::string(opt->metavar), a.help);
      const std::string value = argv[i];
      if (opt->kind == arg_kind::text) {
        a.texts.emplace_back(opt->name, value);
      } else {
        auto n = parse_number(value);
        if (!n) return syntax_error(arg + ": '" + value + "' is not a number", a.help);
        a.numbers.emplace_back(opt->name, *n);
      }
    }
    return a;
  }
};

}  // namespace cli
