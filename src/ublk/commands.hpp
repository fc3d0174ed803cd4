// SPDX-License-Identifier: MIT
// The daemon's commands that talk to the kernel without serving: features, list, del. Each opens
// /dev/ublk-control on a private SQE128 executor and reports named errors.
#pragma once

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <uringcmd/detail/flag_names.hpp>
#include <uringcmd/executor.hpp>
#include <uringcmd/ring_options.hpp>
#include <uringcmd/sync_wait.hpp>
#include <uringcmd/ublk/control.hpp>
#include <uringcmd/ublk/mode.hpp>

#include "../common/output.hpp"
#include "serve.hpp"
#include "size.hpp"
#include "state.hpp"

namespace ublk_tool {

namespace uc = uringcmd;

/// A control device and the executor its commands run on.
struct control_session {
  uc::executor ex{uc::ring_options::passthrough(16)};
  uc::ublk::control ctl;

  /// Opens /dev/ublk-control; the error names the node and what to do.
  static std::optional<control_session> open(std::string& error) {
    auto c = uc::ublk::control::open();
    if (!c) {
      error = "open /dev/ublk-control: " + uc::describe(c.error()) +
              (c.error() == std::errc::no_such_file_or_directory ? " (load the driver: modprobe ublk_drv)" : "");
      return std::nullopt;
    }
    return std::optional<control_session>(std::in_place, std::move(*c));
  }
  explicit control_session(uc::ublk::control c) : ctl(std::move(c)) {}

  template <class T>
  T run(uc::task<T> t) { return uc::sync_wait(ex, std::move(t)); }
};

inline std::string state_name(std::uint16_t s) {
  switch (s) {
    case ublk::dev_state::dead: return "DEAD";
    case ublk::dev_state::live: return "LIVE";
    case ublk::dev_state::quiesced: return "QUIESCED";
    case ublk::dev_state::fail_io: return "FAIL_IO";
    default: return "state" + std::to_string(s);
  }
}

/// The ids of every ublk device the kernel has (its /dev/ublkcN nodes), ascending.
inline std::vector<std::uint32_t> device_ids() {
  std::vector<std::uint32_t> ids;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/dev", ec)) {
    const std::string n = e.path().filename().string();
    if (n.size() > 5 && n.starts_with("ublkc") && n.find_first_not_of("0123456789", 5) == std::string::npos)
      ids.push_back(static_cast<std::uint32_t>(std::stoul(n.substr(5))));
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

/// True while `pid` runs (a zombie no longer serves).
inline bool process_alive(pid_t pid) {
  if (pid <= 0 || (::kill(pid, 0) != 0 && errno == ESRCH)) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  const auto close = line.rfind(')');
  return close == std::string::npos || close + 2 >= line.size() || line[close + 2] != 'Z';
}

// ---- features ----

/// The data modes a kernel with feature mask `mask` allows, with the reason for each it does not.
inline cli::list mode_report(const uc::ublk::feature_report& f) {
  cli::list modes;
  for (auto m : ublk::forced_modes) {
    auto r = ublk::select_mode(m, f.mask, true);
    cli::fields e{{"mode", std::string(to_string(m))}, {"supported", bool(r)}};
    if (!r) e.emplace_back("reason", r.error().message());
    modes.emplace_back(std::move(e));
  }
  return modes;
}

inline int cmd_features(cli::output_mode out) {
  std::string err;
  auto s = control_session::open(err);
  if (!s) return cli::report_problem("uringcmd-ublk", out, "features", err, exit_failed);
  auto f = s->run(s->ctl.features());
  if (!f) return cli::report_problem("uringcmd-ublk", out, "features", f.error().message(), exit_failed);
  cli::list names;
  if (f->mask) uc::detail::for_each_flag_name(*f->mask, uc::ublk::feature_names, [&](std::string_view n) { names.emplace_back(n); });
  cli::list modes = mode_report(*f);
  if (out.json) {
    cli::fields j{{"get_features", f->known()}};
    if (f->mask) j.emplace_back("mask", *f->mask);
    j.emplace_back("features", names);
    j.emplace_back("modes", modes);
    cli::print(out, j);
    return exit_ok;
  }
  if (f->mask) std::cout << "kernel ublk features (GET_FEATURES " << cli::hex(*f->mask, 1) << "):\n";
  else std::cout << "kernel ublk features: " << f->describe() << "; copy mode and user recovery only\n";
  for (const auto& n : names) std::cout << "  UBLK_F_" << cli::inline_text(n) << '\n';
  std::cout << "data modes (--mode):\n";
  for (const auto& m : modes) {
    const auto& e = std::get<cli::fields>(m.v);
    std::string line = "  " + cli::inline_text(e[0].second);
    line.resize(std::max<std::size_t>(line.size() + 2, 19), ' ');  // "batch-zero-copy" and 2 blanks
    line += std::get<bool>(e[1].second.v) ? "yes" : "no: " + cli::inline_text(e[2].second);
    std::cout << line << '\n';
  }
  return exit_ok;
}

// ---- list ----

inline std::optional<cli::fields> describe_device(control_session& s, std::uint32_t id, std::error_code& err) {
  auto info = s.run(s.ctl.dev_info(id));
  if (!info) {
    err = info.error();
    return std::nullopt;
  }
  cli::fields d{{"id", id}, {"block", "/dev/ublkb" + std::to_string(id)}, {"state", state_name(info->state)},
                {"queues", info->nr_hw_queues}, {"depth", info->queue_depth}};
  if (auto p = s.run(s.ctl.get_params(id)); p && (p->types & ublk::param_type::basic))
    d.emplace_back("size", std::uint64_t{p->basic.dev_sectors} << 9);
  d.emplace_back("flags", uc::detail::flag_names(info->flags, uc::ublk::feature_names, ' '));
  d.emplace_back("mode", std::string(to_string(ublk::mode_of(info->flags))));
  d.emplace_back("pid", static_cast<std::uint64_t>(info->ublksrv_pid > 0 ? info->ublksrv_pid : 0));
  d.emplace_back("daemon", info->ublksrv_pid > 0 && process_alive(info->ublksrv_pid) ? "running" : "gone");
  if (auto st = load_state(id)) {
    d.emplace_back("target", st->target);
    if (!st->file.empty()) d.emplace_back("file", st->file);
    d.emplace_back("poll_us", std::uint64_t{st->poll_us});
    d.emplace_back("poll_max_us", std::uint64_t{st->poll_max_us});
  } else {
    d.emplace_back("target", "unknown (no " + state_path(id) + ")");
  }
  return d;
}

inline int cmd_list(cli::output_mode out, std::optional<std::uint64_t> only) {
  std::string err;
  auto s = control_session::open(err);
  if (!s) return cli::report_problem("uringcmd-ublk", out, "list", err, exit_failed);
  std::vector<std::uint32_t> ids = only ? std::vector<std::uint32_t>{static_cast<std::uint32_t>(*only)} : device_ids();
  cli::list devs;
  for (auto id : ids) {
    std::error_code ec;
    auto d = describe_device(*s, id, ec);
    if (!d && !only && ec == std::errc::no_such_device) continue;  // deleted while we looked
    if (!d) return cli::report_problem("uringcmd-ublk", out, "list", "dev " + std::to_string(id) + ": " + ec.message(), exit_failed);
    devs.emplace_back(std::move(*d));
  }
  if (out.json) {
    cli::print(out, cli::fields{{"devices", devs}});
    return exit_ok;
  }
  if (devs.empty()) std::cout << "no ublk devices\n";
  for (const auto& n : devs) {
    const auto& d = std::get<cli::fields>(n.v);
    auto get = [&](std::string_view k) {
      for (const auto& [key, v] : d)
        if (key == k) return cli::inline_text(v);
      return std::string();
    };
    auto number = [&](std::string_view k) { return static_cast<unsigned>(std::stoul(get(k))); };
    std::string size = get("size");
    if (!size.empty()) size = format_size(std::stoull(size));
    std::cout << "dev " << get("id") << ": " << get("block") << "  " << get("state") << "  " << get("target")
              << (get("file").empty() ? "" : " file=" + get("file")) << "  size=" << size << "  queues=" << get("queues")
              << " depth=" << get("depth") << "  mode=" << get("mode")
              << (get("poll_us").empty() ? "" : "  " + poll_text(number("poll_us"), number("poll_max_us"))) << "  pid=" << get("pid") << " (" << get("daemon")
              << ")\n    flags: " << get("flags") << '\n';
  }
  return exit_ok;
}

// ---- del ----

/// STOP_DEV, then waits for the serving daemon to exit, then deletes the device if it is still
/// there: our daemon deletes its own device before it exits, other servers (kublk, ublksrv) exit
/// on STOP and leave DEL_DEV to whoever stopped them. A device whose daemon is gone is deleted
/// here at once. "" or the error.
inline std::string delete_device(control_session& s, std::uint32_t id, std::chrono::seconds limit) {
  auto info = s.run(s.ctl.dev_info(id));
  if (!info) return info.error().message();
  const pid_t pid = info->ublksrv_pid;
  const std::string char_node = "/dev/ublkc" + std::to_string(id);
  if (pid > 0 && pid != ::getpid() && process_alive(pid)) {
    if (auto r = s.run(s.ctl.stop(id)); !r) return r.error().message();
    const auto end = std::chrono::steady_clock::now() + limit;
    while (process_alive(pid)) {
      if (std::chrono::steady_clock::now() >= end)
        return "the daemon (pid " + std::to_string(pid) + ") did not exit within " + std::to_string(limit.count()) +
               " s of STOP_DEV (its log, if it is ours: " + log_path(id) + ")";
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    struct stat st;
    if (::stat(char_node.c_str(), &st) != 0) return {};  // its daemon deleted it
  }
  // Nobody serves it (the daemon was killed, or exited on STOP): stop (a DEAD device answers
  // that too) and delete.
  (void)s.run(s.ctl.stop(id));
  if (auto r = s.run(s.ctl.del(id)); !r) return r.error().message();
  remove_state(id);
  return {};
}

inline int cmd_del(cli::output_mode out, std::optional<std::uint64_t> id, bool all) {
  std::string err;
  auto s = control_session::open(err);
  if (!s) return cli::report_problem("uringcmd-ublk", out, "del", err, exit_failed);
  const std::vector<std::uint32_t> ids = all ? device_ids() : std::vector<std::uint32_t>{static_cast<std::uint32_t>(*id)};
  int status = exit_ok;
  for (auto i : ids) {
    err = delete_device(*s, i, std::chrono::seconds(30));
    if (!err.empty()) status = cli::report_problem("uringcmd-ublk", out, "del", "dev " + std::to_string(i) + ": " + err, exit_failed);
    else if (!out.json) std::cout << "dev " << i << ": deleted\n";
  }
  if (out.json && status == exit_ok) {
    cli::list l;
    for (auto i : ids) l.emplace_back(i);
    cli::print(out, cli::fields{{"deleted", l}});
  }
  return status;
}

}  // namespace ublk_tool
