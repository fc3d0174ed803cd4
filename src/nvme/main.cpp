// SPDX-License-Identifier: MIT
// uringcmd-nvme: NVMe admin and I/O commands from the shell over io_uring passthrough, in
// nvme-cli's conventions (subcommand names, -n/-f, JSON field names).
#include <cstdint>
#include <exception>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <uringcmd/uringcmd.hpp>

#include "../common/args.hpp"
#include "commands.hpp"

namespace {

namespace uc = uringcmd;
using namespace nvme_tool;
using cli::arg_kind;

constexpr cli::option_info option_table[] = {
    {"--namespace-id", "NSID", "the namespace (default: DEV's own)", arg_kind::number, "-n"},
    {"--feature-id", "ID", "the feature identifier, e.g. 7 (Number of Queues)", arg_kind::number, "-f"},
    {"--sel", "N", "0 current (default), 1 default, 2 saved, 3 supported capabilities", arg_kind::number, "-s"},
    {"--lba", "N", "first logical block address"},
    {"--count", "N", "number of logical blocks"},
    {"--in", "FILE", "write FILE's bytes, whole blocks only (default: stdin)", arg_kind::text},
    {"--out", "FILE", "write the data read to FILE (default: a hex dump on stdout)", arg_kind::text},
    {"--deallocate", "", "deallocate the blocks (write-zeroes: allow it; dsm: do it)", arg_kind::flag, "-d"},
    {"--timeout", "MS", "each command's deadline in milliseconds (default: admin 60000, I/O 30000)"},
    {"--json", "", "one JSON object on stdout instead of text (nvme-cli's field names)", arg_kind::flag},
    {"--help", "", "this text", arg_kind::flag},
};

constexpr cli::command_info command_table[] = {
    {"list", "", "every NVMe namespace (sysfs): node, generic node, SN, model, nsid, usage, format",
     "--timeout --json --help", false},
    {"id-ctrl", "DEV", "Identify Controller", "--timeout --json --help"},
    {"id-ns", "DEV [-n NSID]", "Identify Namespace (DEV's, or NSID's)", "--namespace-id --timeout --json --help"},
    {"list-ns", "DEV", "the active namespace IDs", "--timeout --json --help"},
    {"smart-log", "DEV [-n NSID]", "the SMART / Health Information log", "--namespace-id --timeout --json --help"},
    {"error-log", "DEV", "the Error Information log (ELPE + 1 entries)", "--timeout --json --help"},
    {"get-feature", "DEV -f ID [--sel N] [-n NSID]", "Get Features: the value (DW0), decoded where known",
     "--feature-id --sel --namespace-id --timeout --json --help"},
    {"read", "DEV --lba N --count N [--out FILE]", "read blocks (a hex dump on stdout, or raw to FILE)",
     "--lba --count --out --timeout --json --help"},
    {"write", "DEV --lba N [--in FILE]", "write FILE's (or stdin's) blocks at N", "--lba --in --timeout --json --help"},
    {"flush", "DEV", "Flush the namespace's volatile write cache", "--timeout --json --help"},
    {"write-zeroes", "DEV --lba N --count N [--deallocate]", "Write Zeroes over the blocks",
     "--lba --count --deallocate --timeout --json --help"},
    {"dsm", "DEV --deallocate --lba N --count N", "Dataset Management: deallocate (trim) the blocks",
     "--deallocate --lba --count --timeout --json --help"},
};

constexpr cli::program tool{
    .name = program_name,
    .options = option_table,
    .commands = command_table,
    .device_help = "DEV: admin commands (id-ctrl ... get-feature) take the controller /dev/nvmeX, or any of its\n"
                   "namespace nodes; I/O commands (read ... dsm) take a namespace: /dev/ngXnY or /dev/nvmeXnY\n"
                   "(usually root). `uringcmd-nvme list` shows them.\n",
    .number_help = "Numbers are decimal, or hex with 0x or a trailing h; counts are in logical blocks.\n",
    .exit_help = exit_table,
    .exit_ok = exit_ok,
    .exit_usage = exit_usage,
    .option_column = 26,
};

bool is_io(std::string_view c) {
  return c == "read" || c == "write" || c == "flush" || c == "write-zeroes" || c == "dsm";
}

uc::task<int> dispatch(args a) {
  const std::string_view c = a.command;
  if (c == "list") co_return co_await cmd_list(std::move(a));
  if (c == "id-ctrl") co_return co_await cmd_id_ctrl(std::move(a));
  if (c == "id-ns") co_return co_await cmd_id_ns(std::move(a));
  if (c == "list-ns") co_return co_await cmd_list_ns(std::move(a));
  if (c == "smart-log") co_return co_await cmd_smart_log(std::move(a));
  if (c == "error-log") co_return co_await cmd_error_log(std::move(a));
  if (c == "get-feature") co_return co_await cmd_get_feature(std::move(a));
  if (c == "read") co_return co_await cmd_read(std::move(a));
  if (c == "write") co_return co_await cmd_write(std::move(a));
  if (c == "flush") co_return co_await cmd_flush(std::move(a));
  if (c == "write-zeroes") co_return co_await cmd_write_zeroes(std::move(a));
  co_return co_await cmd_dsm(std::move(a));
}

int run(int argc, char** argv) {
  auto parsed = tool.parse(argc, argv);
  if (auto* status = std::get_if<int>(&parsed)) return *status;
  auto& p = std::get<cli::parsed_args>(parsed);
  const std::string_view name = p.command->name;
  auto usage_error = [&](const std::string& what) { return tool.syntax_error(what, p.help); };

  args a;
  a.command = std::string(name);
  a.mode.json = p.flag("--json");
  a.deallocate = p.flag("--deallocate");
  a.in = p.text("--in");
  a.out = p.text("--out");
  a.lba = p.number("--lba");
  a.count = p.number("--count");
  a.nsid = p.number("--namespace-id");
  a.feature = p.number("--feature-id");
  a.sel = p.number("--sel");
  a.timeout_ms = p.number("--timeout");

  if (p.command->device) {
    if (p.words.empty()) return usage_error("missing DEV");
    a.device = p.words.front();
    p.words.erase(p.words.begin());
  }
  if (!p.words.empty()) return usage_error("unexpected argument '" + p.words.front() + "'");
  if (is_io(name) && is_controller_node(a.device))
    return usage_error(a.device + " is a controller: " + a.command + " needs a namespace (/dev/ngXnY or /dev/nvmeXnY)");
  if (name == "id-ns" && !a.nsid && is_controller_node(a.device))
    return usage_error(a.device + " is a controller: give the namespace with -n NSID");
  if ((name == "read" || name == "write-zeroes" || name == "dsm") && (!a.lba || !a.count))
    return usage_error("needs --lba and --count");
  if (name == "read" && *a.count == 0) return usage_error("--count: at least 1 block");
  if (name == "write" && !a.lba) return usage_error("needs --lba");
  if (name == "dsm" && !a.deallocate) return usage_error("dsm needs --deallocate (the one attribute it sends)");
  if (name == "get-feature" && !a.feature) return usage_error("needs -f ID");
  if (a.feature && *a.feature > 0xff) return usage_error("-f: a feature identifier is 0..255");
  if (a.sel && *a.sel > 3) return usage_error("--sel: 0..3");
  if (a.nsid && (*a.nsid == 0 || *a.nsid > UINT32_MAX)) return usage_error("-n: an NSID is 1..0xffffffff");
  if (a.timeout_ms && *a.timeout_ms > UINT32_MAX) return usage_error("--timeout too large");

  uc::executor ex(uc::ring_options::passthrough());  // NVMe passthrough needs SQE128|CQE32
  return uc::sync_wait(ex, dispatch(std::move(a)));
}

}  // namespace

int main(int argc, char** argv) {
  // Nothing may escape: an exception (a failed io_uring setup, bad_alloc) is a message and 1.
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "uringcmd-nvme: " << e.what() << '\n';
  } catch (...) {
    std::cerr << "uringcmd-nvme: unknown exception\n";
  }
  return exit_failed;
}
