// SPDX-License-Identifier: MIT
// Finds the passthrough devices of this machine and asks each driver what it supports, through
// the same uring_cmd awaitable applications use.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include <uringcmd/detail/flag_names.hpp>
#include <uringcmd/scsi/uapi.hpp>
#include <uringcmd/ublk/uapi.hpp>
#include <uringcmd/uringcmd.hpp>

namespace probe {

namespace fs = std::filesystem;
namespace uc = uringcmd;

struct bsg_node {
  std::string node;    // /dev/bsg/H:C:T:L
  std::string vendor;  // from sysfs, trimmed
  std::string model;
};

/// Whether a kernel answers BSG uring_cmd (7.1+): unknown until a node has been asked.
enum class tristate { unknown, yes, no };

struct ublk_report {
  bool present = false;
  std::error_code error;  // opening or GET_FEATURES failed
  std::uint64_t features = 0;
};

struct device_report {
  std::vector<bsg_node> bsg;
  std::vector<std::string> nvme_ctrl;     // /dev/nvmeN   (admin passthrough)
  std::vector<std::string> nvme_generic;  // /dev/ngNnM   (I/O passthrough)
  tristate bsg_uring_cmd = tristate::unknown;
  std::string bsg_uring_cmd_detail;
  ublk_report ublk;
};

inline std::string read_trimmed(const fs::path& p) {
  std::ifstream f(p);
  std::string s;
  std::getline(f, s);
  auto end = s.find_last_not_of(" \t\n");
  return end == std::string::npos ? std::string{} : s.substr(0, end + 1);
}

inline std::vector<std::string> matching(const fs::path& dir, const std::regex& re) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (std::regex_match(e.path().filename().string(), re)) out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

/// TEST UNIT READY through BSG uring_cmd. res == 0 means the kernel carried the command (whatever
/// the SCSI status in res2); EOPNOTSUPP means this kernel has no BSG io_uring support.
inline uc::task<uc::result<uc::cmd_result>> bsg_test_unit_ready(int fd) {
  std::uint8_t cdb[6] = {0x00, 0, 0, 0, 0, 0};
  std::uint8_t sense[32] = {};
  uc::scsi::bsg_uring_cmd cmd;
  cmd.request = reinterpret_cast<std::uintptr_t>(cdb);
  cmd.request_len = sizeof cdb;
  cmd.response = reinterpret_cast<std::uintptr_t>(sense);
  cmd.max_response_len = sizeof sense;
  cmd.timeout_ms = 5000;
  uc::cmd_options opts;
  opts.needs_res2 = true;
  co_return co_await uc::uring_cmd(fd, 0, cmd, opts);
}

inline uc::task<ublk_report> ublk_features() {
  ublk_report r;
  int fd = ::open("/dev/ublk-control", O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    r.present = errno != ENOENT;
    if (r.present) r.error = uc::errno_code(errno);
    co_return r;
  }
  r.present = true;
  std::uint64_t mask = 0;
  uc::ublk::ctrl_cmd cmd;
  cmd.len = uc::ublk::features_len;
  cmd.addr = reinterpret_cast<std::uintptr_t>(&mask);
  auto res = co_await uc::uring_cmd(fd, uc::ublk::cmd::get_features, cmd);
  ::close(fd);
  if (!res) r.error = res.error();
  else r.features = mask;
  co_return r;
}

/// Scans /dev and sysfs and queries drivers. Needs an executor with a passthrough ring.
inline uc::task<device_report> scan_devices() {
  device_report rep;
  for (const auto& node : matching("/dev/bsg", std::regex(R"(\d+:\d+:\d+:\d+)"))) {
    const fs::path sys = fs::path("/sys/class/bsg") / fs::path(node).filename() / "device";
    rep.bsg.push_back({node, read_trimmed(sys / "vendor"), read_trimmed(sys / "model")});
  }
  rep.nvme_ctrl = matching("/dev", std::regex(R"(nvme\d+)"));
  rep.nvme_generic = matching("/dev", std::regex(R"(ng\d+n\d+)"));

  for (const auto& b : rep.bsg) {
    int fd = ::open(b.node.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      rep.bsg_uring_cmd_detail = b.node + ": open: " + uc::describe(uc::errno_code(errno));
      continue;
    }
    auto r = co_await bsg_test_unit_ready(fd);
    ::close(fd);
    if (r) {
      rep.bsg_uring_cmd = tristate::yes;
      rep.bsg_uring_cmd_detail = b.node + ": TEST UNIT READY status 0x" + [&] {
        char buf[8];
        std::snprintf(buf, sizeof buf, "%02x", uc::scsi::bsg_res2{r->res2}.device_status());
        return std::string(buf);
      }();
    } else {
      rep.bsg_uring_cmd = r.error() == std::errc::operation_not_supported ? tristate::no : tristate::unknown;
      rep.bsg_uring_cmd_detail = b.node + ": " + uc::describe(r.error());
    }
    break;  // one node answers for the kernel
  }
  rep.ublk = co_await ublk_features();
  co_return rep;
}

inline std::vector<std::string> ublk_feature_list(std::uint64_t mask) {
  std::vector<std::string> out;
  uc::detail::for_each_flag_name(mask, uc::ublk::feature_names, [&](std::string_view n) { out.emplace_back(n); });
  return out;
}

}  // namespace probe
