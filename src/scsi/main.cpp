// SPDX-License-Identifier: MIT
// uringcmd-scsi: SCSI commands from the shell over BSG io_uring, in sg3_utils' conventions
// (device names, exit statuses, decoded sense on stderr).
#include <cstdint>
#include <exception>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <uringcmd/uringcmd.hpp>

#include "../common/args.hpp"
#include "commands.hpp"

namespace {

namespace uc = uringcmd;
using namespace scsi_tool;

using cli::arg_kind;
constexpr cli::option_info option_table[] = {
    {"--vpd", "PAGE", "decode VPD page PAGE (0x00, 0x80, 0x83, 0xb0-0xb2; others as hex)"},
    {"--lba", "N", "first logical block address"},
    {"--count", "N", "number of logical blocks"},
    {"--in", "FILE", "send FILE's bytes (write: whole blocks only)", arg_kind::text},
    {"--out", "FILE", "write the data read to FILE (default: a hex dump on stdout)", arg_kind::text},
    {"--len", "N", "expect N bytes of data-in"},
    {"--timeout", "MS", "command deadline in milliseconds (default 60000)"},
    {"--json", "", "one JSON object on stdout instead of text", arg_kind::flag},
    {"--help", "", "this text", arg_kind::flag},
};

constexpr cli::command_info command_table[] = {
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
    {"decode-sense", "HEX...", "decode sense data (bytes in hex, spaces allowed); needs no device", "--json --help",
     false},
};

constexpr cli::program tool{
    .name = program_name,
    .options = option_table,
    .commands = command_table,
    .device_help = "DEV: /dev/bsg/H:C:T:L, /dev/sgN or /dev/sdX (Linux 7.1+, usually root)\n",
    .number_help = "Numbers are decimal, or hex with 0x or a trailing h.\n",
    .exit_help = exit_table,
    .exit_ok = exit_ok,
    .exit_usage = exit_syntax,
};

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
  auto parsed = tool.parse(argc, argv);
  if (auto* status = std::get_if<int>(&parsed)) return *status;
  auto& p = std::get<cli::parsed_args>(parsed);
  const std::string_view name = p.command->name;
  const std::string& help = p.help;
  auto syntax_error = [](const std::string& what, const std::string& h) { return tool.syntax_error(what, h); };

  args a;
  a.command = std::string(name);
  a.mode.json = p.flag("--json");
  a.in = p.text("--in");
  a.out = p.text("--out");
  a.lba = p.number("--lba");
  a.count = p.number("--count");
  a.len = p.number("--len");
  a.timeout_ms = p.number("--timeout");
  a.vpd = p.number("--vpd");
  std::vector<std::string>& words = p.words;

  if (name == "decode-sense") {
    auto bytes = cli::parse_hex_bytes(words);
    if (!bytes || bytes->empty()) return syntax_error("decode-sense needs sense bytes in hex", help);
    return cmd_decode_sense(a, *bytes);
  }
  if (words.empty()) return syntax_error("missing DEV", help);
  a.device = words.front();
  words.erase(words.begin());
  std::optional<sc::cdb> cdb;
  if (name == "raw") {
    auto bytes = cli::parse_hex_bytes(words);
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
