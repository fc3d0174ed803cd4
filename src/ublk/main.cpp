// SPDX-License-Identifier: MIT
// uringcmd-ublk: userspace block devices served by uringcmd's ublk library, with the CLI of the
// kernel's ublk selftest server (kublk) and blktests: add, del, list, recover, features.
// docs/ublk.md is the user guide.
#include <algorithm>
#include <charconv>
#include <cstdint>
#include <exception>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <uringcmd/ublk/mode.hpp>
#include <uringcmd/ublk/target.hpp>

#include "../common/args.hpp"
#include "../common/output.hpp"
#include "commands.hpp"
#include "serve.hpp"
#include "size.hpp"
#include "state.hpp"

namespace {

using namespace ublk_tool;
using cli::arg_kind;

constexpr cli::option_info option_table[] = {
    {"--type", "TARGET", "null, loop or ram", arg_kind::text, "-t"},
    {"--number", "ID", "the device number (/dev/ublkbID); add: default the first free one", arg_kind::number, "-n"},
    {"--file", "FILE", "loop: the backing file or block device (created or grown to --size)", arg_kind::text, "-f"},
    {"--size", "SIZE", "bytes, or with K, M, G, T (powers of 1024); default: the file's size, 1G for null, 64M for ram",
     arg_kind::text},
    {"--queues", "N", "hardware queues, one thread each (default 1)", arg_kind::number, "-q"},
    {"--depth", "N", "requests in flight per queue (default 128)", arg_kind::number, "-d"},
    {"--mode", "MODE", "copy, user-copy, zero-copy, batch or batch-zero-copy (default: the best the kernel has, see features)",
     arg_kind::text},
    {"--recovery", "0|1", "1: the device survives its daemon's death until `recover` (UBLK_F_USER_RECOVERY)",
     arg_kind::number, "-r"},
    {"--reissue", "", "with -r 1: requests in flight when the daemon died are reissued (the default)", arg_kind::flag},
    {"--fail-io", "", "with -r 1: I/O fails while no daemon serves, instead of waiting", arg_kind::flag},
    {"--cpus", "LIST", "the CPU of each queue's thread, one per queue: 0,1,... (default: from the kernel's queue affinity)",
     arg_kind::text},
    {"--no-pin", "", "leave the queue threads unpinned", arg_kind::flag},
    {"--poll-us", "N", "microseconds a busy queue polls for requests before it sleeps (default 20; 0: sleep at once)",
     arg_kind::number},
    {"--poll-max-us", "N", "the poll may grow to N microseconds to cover the gaps between requests (default 250; "
     "at most --poll-us: a fixed poll)", arg_kind::number},
    {"--foreground", "", "stay attached: serve in this process until SIGINT/SIGTERM", arg_kind::flag},
    {"--all", "", "every ublk device", arg_kind::flag},
    {"--json", "", "one JSON object on stdout instead of text", arg_kind::flag},
    {"--help", "", "this text", arg_kind::flag},
};

// --mode's help names every mode the library can force: a new data_mode cannot be left out of it.
constexpr bool mode_help_names_every_mode() {
  for (const cli::option_info& o : option_table)
    if (o.name == "--mode") {
      for (const ublk::data_mode m : ublk::forced_modes)
        if (o.help.find(ublk::to_string(m)) == std::string_view::npos) return false;
      return true;
    }
  return false;
}
static_assert(mode_help_names_every_mode());

constexpr cli::command_info command_table[] = {
    {"add", "-t null|loop|ram [-n ID] [-f FILE] [--size SIZE] [-q N] [-d N] [--mode MODE] [-r 0|1 [--reissue|--fail-io]] [--cpus LIST|--no-pin] [--poll-us N] [--poll-max-us N] [--foreground]",
     "add a device and serve it in the background; prints it once /dev/ublkbID exists",
     "--type --number --file --size --queues --depth --mode --recovery --reissue --fail-io --cpus --no-pin --poll-us --poll-max-us --foreground --help",
     false},
    {"del", "-n ID | --all", "stop a device and wait for its daemon to delete it (or delete it if its daemon died)",
     "--number --all --json --help", false},
    {"list", "[-n ID] [--json]", "the ublk devices: state, queues, size, flags, daemon, target", "--number --json --help",
     false},
    {"recover", "-n ID", "serve again a device added with -r 1 whose daemon died (same /dev/ublkbID)",
     "--number --help", false},
    {"features", "[--json]", "the kernel's UBLK_F_* features and the data modes they allow", "--json --help", false},
};

constexpr std::string_view exit_table =
    "Exit status: 0 done, 1 syntax error, 2 the command failed (the error, named, on stderr).\n"
    "Run as root: /dev/ublk-control is root's. State files: /run/uringcmd-ublk/ID (docs/ublk.md).\n";

constexpr cli::program tool{
    .name = "uringcmd-ublk",
    .options = option_table,
    .commands = command_table,
    .device_help = "",
    .number_help = "Numbers are decimal, or hex with 0x or a trailing h.\n",
    .exit_help = exit_table,
    .exit_ok = exit_ok,
    .exit_usage = exit_syntax,
    .option_column = 20,
};

// The serving process's half of add/recover: build the target and serve (errors go to the report).
int serve_reported(const device_spec& spec, reporter report, bool recovering) {
  try {
    return serve_spec(spec, report, recovering);
  } catch (const std::exception& e) {
    return report.failed(std::string("uringcmd-ublk ") + (recovering ? "recover" : "add") + ": " + e.what());
  }
}

int start_serving(const char* command, const device_spec& spec, bool foreground, bool recovering) {
  if (foreground) return serve_reported(spec, reporter(), recovering);
  int report_fd = -1;
  if (const int parent_status = detach(command, report_fd); parent_status >= 0) return parent_status;
  std::_Exit(serve_reported(spec, reporter(report_fd), recovering));
}

// The kernel's answer to the mode and recovery asked for, before anything is forked or added.
std::string check_kernel(const device_spec& spec) {
  std::string err;
  auto s = control_session::open(err);
  if (!s) return err;
  auto f = s->run(s->ctl.features());
  if (!f) return f.error().message();
  const bool zc = spec.target == "loop"  ? ublk::zero_copy_target<ublk::loop_target>
                  : spec.target == "ram" ? ublk::zero_copy_target<ublk::ram_target>
                                         : ublk::zero_copy_target<ublk::null_target>;
  if (auto m = ublk::select_mode(spec.mode, f->mask, zc); !m) {
    if (m.error().category() != uringcmd::ublk::ublk_category() && ublk::needs_fixed_buffers(spec.mode))
      return "--mode " + std::string(to_string(spec.mode)) + ": the " + spec.target +
             " target cannot serve zero copy (it has no handle_fixed)";
    return "--mode " + std::string(to_string(spec.mode)) + ": " + m.error().message();
  }
  if (auto r = ublk::check_recovery(spec.recovery, f->mask); !r) return "-r 1: " + r.error().message();
  return {};
}

/// "0,1,3" -> {0, 1, 3}; empty on anything else.
std::vector<int> parse_cpu_list(std::string_view s) {
  std::vector<int> cpus;
  for (std::size_t at = 0; at <= s.size();) {
    const std::size_t comma = std::min(s.find(',', at), s.size());
    int cpu = -1;
    const auto [end, ec] = std::from_chars(s.data() + at, s.data() + comma, cpu);
    if (ec != std::errc() || end != s.data() + comma || cpu < 0) return {};
    cpus.push_back(cpu);
    at = comma + 1;
  }
  return cpus;
}

int cmd_add(const cli::parsed_args& p) {
  const auto bad = [&](const std::string& what) { return tool.syntax_error(what, p.help); };
  device_spec spec;
  spec.target = p.text("--type");
  spec.file = p.text("--file");
  if (spec.target != "null" && spec.target != "loop" && spec.target != "ram")
    return bad(spec.target.empty() ? "add needs -t null|loop|ram" : "-t: '" + spec.target + "' is not null, loop or ram");
  if (spec.target == "loop" && spec.file.empty()) return bad("-t loop needs -f FILE");
  if (spec.target != "loop" && !spec.file.empty()) return bad("-f is for -t loop");
  if (const std::string s = p.text("--size"); !s.empty()) {
    const auto n = parse_size(s);
    if (!n || *n == 0 || *n % 512) return bad("--size: '" + s + "' is not a size (a multiple of 512: 64M, 1G, 4096)");
    spec.size = *n;
  } else if (spec.target != "loop") {
    spec.size = spec.target == "null" ? 1ull << 30 : 64ull << 20;
  }
  const auto queues = p.number("--queues").value_or(1), depth = p.number("--depth").value_or(128);
  if (queues < 1 || queues > 64) return bad("-q: 1 to 64 queues");
  if (depth < 1 || depth > ublk::max_queue_depth) return bad("-d: a depth of 1 to 4096");
  spec.queues = static_cast<std::uint16_t>(queues);
  spec.depth = static_cast<std::uint16_t>(depth);
  if (auto n = p.number("--number")) {
    if (*n >= 1u << 20) return bad("-n: an id below 1048576");
    spec.id = static_cast<std::uint32_t>(*n);
  }
  if (const std::string m = p.text("--mode"); !m.empty()) {
    const auto mode = ublk::parse_data_mode(m);
    if (!mode || *mode == ublk::data_mode::best) {
      std::string known;
      for (const ublk::data_mode k : ublk::forced_modes) known += (known.empty() ? "" : ", ") + std::string(to_string(k));
      return bad("--mode: '" + m + "' is not one of " + known);
    }
    spec.mode = *mode;
  }
  const auto rec = p.number("--recovery").value_or(0);
  if (rec > 1) return bad("-r: 0 or 1");
  if (!rec && (p.flag("--reissue") || p.flag("--fail-io"))) return bad("--reissue and --fail-io go with -r 1");
  if (p.flag("--reissue") && p.flag("--fail-io")) return bad("--reissue or --fail-io, not both");
  if (rec) spec.recovery = p.flag("--fail-io") ? ublk::recovery_mode::fail_io : ublk::recovery_mode::reissue;
  if (const std::string c = p.text("--cpus"); !c.empty()) {
    if (p.flag("--no-pin")) return bad("--cpus or --no-pin, not both");
    spec.cpus = parse_cpu_list(c);
    if (spec.cpus.size() != spec.queues)
      return bad("--cpus: '" + c + "' is not one CPU number per queue (" + std::to_string(spec.queues) + ")");
  }
  spec.pin = !p.flag("--no-pin");
  for (auto [name, field] : {std::pair{"--poll-us", &spec.poll_us}, std::pair{"--poll-max-us", &spec.poll_max_us}})
    if (const auto us = p.number(name)) {
      if (*us > 1'000'000) return bad(std::string(name) + ": at most 1000000 (one second)");
      *field = static_cast<unsigned>(*us);
    }
  spec.poll_max_us = spec.poll_us ? std::max(spec.poll_max_us, spec.poll_us) : 0;  // shown as poll=20-250us
  if (const std::string err = check_kernel(spec); !err.empty()) {
    std::cerr << "uringcmd-ublk add: " << err << '\n';
    return exit_failed;
  }
  return start_serving("add", spec, p.flag("--foreground"), false);
}

int cmd_recover(const cli::parsed_args& p) {
  const auto n = p.number("--number");
  if (!n) return tool.syntax_error("recover needs -n ID", p.help);
  const auto id = static_cast<std::uint32_t>(*n);
  auto fail = [&](const std::string& what) {
    std::cerr << "uringcmd-ublk recover: dev " << id << ": " << what << '\n';
    return exit_failed;
  };
  auto spec = load_state(id);
  if (!spec) return fail("no state file " + state_path(id) + ": which target served it is unknown");
  {
    std::string err;
    auto s = control_session::open(err);
    if (!s) return fail(err);
    auto info = s->run(s->ctl.dev_info(id));
    if (!info) return fail(info.error().message());
    if (!(info->flags & ublk::feature::user_recovery)) return fail("it was added without -r 1 (UBLK_F_USER_RECOVERY)");
    if (info->ublksrv_pid > 0 && process_alive(info->ublksrv_pid) && info->state == ublk::dev_state::live)
      return fail("it is LIVE, served by pid " + std::to_string(info->ublksrv_pid) + ": nothing to recover");
  }
  if (spec->target == "ram") std::cerr << "uringcmd-ublk recover: dev " << id << ": a ram target's data died with its daemon; it comes back zeroed\n";
  return start_serving("recover", *spec, false, true);
}

int run(int argc, char** argv) {
  auto parsed = tool.parse(argc, argv);
  if (auto* status = std::get_if<int>(&parsed)) return *status;
  auto& p = std::get<cli::parsed_args>(parsed);
  if (!p.words.empty()) return tool.syntax_error("unexpected argument '" + p.words.front() + "'", p.help);
  const std::string_view name = p.command->name;
  const cli::output_mode out{p.flag("--json")};
  if (name == "add") return cmd_add(p);
  if (name == "recover") return cmd_recover(p);
  if (name == "features") return cmd_features(out);
  if (name == "list") return cmd_list(out, p.number("--number"));
  // del
  if (p.flag("--all") == p.number("--number").has_value()) return tool.syntax_error("del needs -n ID or --all", p.help);
  return cmd_del(out, p.number("--number"), p.flag("--all"));
}

}  // namespace

int main(int argc, char** argv) {
  // Nothing may escape: an exception (a failed io_uring setup, bad_alloc) is a message and 2.
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "uringcmd-ublk: " << e.what() << '\n';
  } catch (...) {
    std::cerr << "uringcmd-ublk: unknown exception\n";
  }
  return exit_failed;
}
