// SPDX-License-Identifier: MIT
// The daemon's state file, one per device: /run/uringcmd-ublk/ID (URINGCMD_UBLK_STATE_DIR moves
// it). It says what the kernel cannot: which target serves the device and on what, so `list`
// can show it and `recover` can rebuild the same target after the daemon died. "key value" lines:
//
//   target loop
//   file /tmp/disk.img
//   size 67108864
//   queues 2
//   depth 128
//   mode copy
//   recovery reissue
//   pid 1234
//
// The serving daemon writes it once the device is up (recover rewrites the pid) and removes it
// after DEL_DEV; `del` removes it for a daemon that died.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <uringcmd/ublk/mode.hpp>

namespace ublk_tool {

namespace ublk = uringcmd::ublk;

/// What `add` was asked to serve; once the device is up, what it serves.
struct device_spec {
  std::string target;  ///< null, ram, loop
  std::string file;    ///< loop: the backing file or block device
  std::uint64_t size = 0;
  std::uint16_t queues = 1;
  std::uint16_t depth = 128;
  std::uint32_t id = ~0u;
  ublk::data_mode mode = ublk::data_mode::best;
  ublk::recovery_mode recovery = ublk::recovery_mode::none;
  pid_t pid = 0;
  std::vector<int> cpus;  ///< add --cpus: queue q's CPU (not saved: recover places queues anew)
  bool pin = true;        ///< add --no-pin: false
  unsigned poll_us = 20;       ///< add --poll-us: each queue polls this long before sleeping
  unsigned poll_max_us = 250;  ///< add --poll-max-us: ... and up to this long to cover a gap
};

/// "poll=20us", or "poll=20-250us" when the poll may grow.
inline std::string poll_text(unsigned poll_us, unsigned poll_max_us) {
  return "poll=" + std::to_string(poll_us) + (poll_max_us > poll_us ? "-" + std::to_string(poll_max_us) : "") + "us";
}

inline std::string state_dir() {
  const char* d = std::getenv("URINGCMD_UBLK_STATE_DIR");
  return d && *d ? d : "/run/uringcmd-ublk";
}
inline std::string state_path(std::uint32_t id) { return state_dir() + "/" + std::to_string(id); }
/// The background daemon's stdout and stderr.
inline std::string log_path(std::uint32_t id) { return state_path(id) + ".log"; }

/// Writes the state file (temporary + rename: a reader sees the old one or the new one).
inline bool save_state(const device_spec& s) {
  ::mkdir(state_dir().c_str(), 0755);
  const std::string path = state_path(s.id), tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << "target " << s.target << "\nfile " << s.file << "\nsize " << s.size << "\nqueues " << s.queues
      << "\ndepth " << s.depth << "\nmode " << to_string(s.mode) << "\nrecovery " << to_string(s.recovery)
      << "\npoll_us " << s.poll_us << "\npoll_max_us " << s.poll_max_us << "\npid " << s.pid << '\n';
    if (!f.flush()) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

inline std::optional<device_spec> load_state(std::uint32_t id) {
  std::ifstream f(state_path(id));
  if (!f) return std::nullopt;
  device_spec s;
  s.id = id;
  for (std::string line; std::getline(f, line);) {
    const auto sp = line.find(' ');
    const std::string key = line.substr(0, sp), value = sp == std::string::npos ? "" : line.substr(sp + 1);
    if (key == "target") s.target = value;
    else if (key == "file") s.file = value;
    else if (key == "size") s.size = std::strtoull(value.c_str(), nullptr, 10);
    else if (key == "queues") s.queues = static_cast<std::uint16_t>(std::strtoul(value.c_str(), nullptr, 10));
    else if (key == "depth") s.depth = static_cast<std::uint16_t>(std::strtoul(value.c_str(), nullptr, 10));
    else if (key == "mode") s.mode = ublk::parse_data_mode(value).value_or(ublk::data_mode::copy);
    else if (key == "recovery") s.recovery = value == "fail-io" ? ublk::recovery_mode::fail_io
                                             : value == "reissue" ? ublk::recovery_mode::reissue
                                                                  : ublk::recovery_mode::none;
    else if (key == "poll_us") s.poll_us = static_cast<unsigned>(std::strtoul(value.c_str(), nullptr, 10));
    else if (key == "poll_max_us") s.poll_max_us = static_cast<unsigned>(std::strtoul(value.c_str(), nullptr, 10));
    else if (key == "pid") s.pid = static_cast<pid_t>(std::strtol(value.c_str(), nullptr, 10));
  }
  if (s.target.empty()) return std::nullopt;
  return s;
}

inline void remove_state(std::uint32_t id) {
  std::remove(state_path(id).c_str());
}

}  // namespace ublk_tool
