// SPDX-License-Identifier: MIT
// uringcmd-probe: what this kernel and machine offer for io_uring passthrough.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>

#include "devices.hpp"
#include "json.hpp"
#include "report.hpp"

namespace {

namespace uc = uringcmd;
using probe::json_quote;

constexpr const char* usage = R"(usage: uringcmd-probe [--json] [--help]

Reports what the running kernel supports for io_uring passthrough:
  io_uring opcodes, setup flags and features (probed, not taken from headers);
  SCSI BSG nodes (/dev/bsg/H:C:T:L) and whether BSG uring_cmd works (Linux 7.1+);
  NVMe controllers (/dev/nvmeN, admin) and generic namespaces (/dev/ngNnM, I/O);
  /dev/ublk-control and the ublk features the driver reports (UBLK_U_CMD_GET_FEATURES).

  --json   one JSON object instead of the report
  --help   this text

Device queries need root (device nodes are 0600). Exit status: 0, or 1 if io_uring is unusable.
)";

const char* tristate_json(probe::tristate t) {
  return t == probe::tristate::yes ? "true" : t == probe::tristate::no ? "false" : "null";
}

std::string json_strings(const std::vector<std::string>& v) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + json_quote(v[i]);
  return s + "]";
}

// Every feature of feature.hpp's table with its name, first release and whether this machine has
// it (null: not found out here, e.g. no device of that kind). scripts/gen-compatibility reads it.
std::string kernel_features_json(const uc::capabilities& caps, const probe::device_report& d) {
  std::string j = "{";
  for (const uc::feature_info& f : uc::feature_table) {
    std::optional<bool> has = caps.has(f.id);
    if (f.id == uc::feature::bsg_uring_cmd && d.bsg_uring_cmd != probe::tristate::unknown)
      has = d.bsg_uring_cmd == probe::tristate::yes;
    if (f.id == uc::feature::ublk) has = d.ublk.present;
    j += (j.size() > 1 ? "," : "") + json_quote(f.key) + ":{\"name\":" + json_quote(f.name) +
         ",\"since\":" + json_quote(f.since) + ",\"present\":" + (has ? (*has ? "true" : "false") : "null") + "}";
  }
  // Each UBLK_F_* flag with the release that brought it (ublk/uapi.hpp): the driver's own
  // GET_FEATURES answer where there is one (6.5+), absent with the driver, else unknown.
  const bool answered = d.ublk.present && !d.ublk.error;
  for (std::size_t bit = 0; bit < uc::ublk::feature_names.size(); ++bit) {
    const std::string name = "UBLK_F_" + std::string(uc::ublk::feature_names[bit]);
    const char* present = answered ? ((d.ublk.features >> bit) & 1 ? "true" : "false") : d.ublk.present ? "null" : "false";
    std::string key = "ublk_" + std::string(uc::ublk::feature_names[bit]);
    std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    j += "," + json_quote(key) + ":{\"name\":" + json_quote(name) + ",\"since\":" +
         json_quote(uc::ublk::feature_since[bit]) + ",\"present\":" + present + "}";
  }
  return j + "}";
}

std::string to_json(const uc::capabilities& caps, const probe::device_report& d) {
  std::string j = "{\"kernel\":" + json_quote(caps.kernel_release) + ",\"io_uring\":" + probe::to_json(caps) +
                  ",\"devices\":{\"bsg\":[";
  for (std::size_t i = 0; i < d.bsg.size(); ++i)
    j += (i ? "," : "") + std::string("{\"node\":") + json_quote(d.bsg[i].node) + ",\"vendor\":" +
         json_quote(d.bsg[i].vendor) + ",\"model\":" + json_quote(d.bsg[i].model) + "}";
  j += "],\"bsg_uring_cmd\":" + std::string(tristate_json(d.bsg_uring_cmd)) +
       ",\"bsg_uring_cmd_detail\":" + json_quote(d.bsg_uring_cmd_detail);
  j += ",\"nvme_ctrl\":" + json_strings(d.nvme_ctrl) + ",\"nvme_generic\":" + json_strings(d.nvme_generic);
  j += ",\"ublk_control\":{\"present\":" + std::string(d.ublk.present ? "true" : "false");
  if (d.ublk.error) j += ",\"error\":" + json_quote(uc::describe(d.ublk.error));
  if (d.ublk.present && !d.ublk.error)
    j += ",\"features\":" + probe::json_hex(d.ublk.features) +
         ",\"feature_names\":" + json_strings(probe::ublk_feature_list(d.ublk.features));
  j += "}}";
  return j + ",\"kernel_features\":" + kernel_features_json(caps, d) + "}";
}

void print(const uc::capabilities& caps, const probe::device_report& d) {
  std::cout << "== io_uring ==\n";
  probe::print_report(std::cout, caps);
  std::cout << "\n== devices ==\n";
  std::cout << "SCSI BSG nodes    " << (d.bsg.empty() ? std::string("none") : std::to_string(d.bsg.size())) << '\n';
  for (const auto& b : d.bsg) std::cout << "  " << b.node << "  " << b.vendor << ' ' << b.model << '\n';
  std::cout << "BSG uring_cmd     "
            << (d.bsg_uring_cmd == probe::tristate::yes  ? "yes"
                : d.bsg_uring_cmd == probe::tristate::no ? "NO (kernel < 7.1: use SG_IO)"
                                                         : "unknown")
            << (d.bsg_uring_cmd_detail.empty() ? "" : "  (" + d.bsg_uring_cmd_detail + ")") << '\n';
  auto list = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : " ") + x;
    return s.empty() ? std::string("none") : s;
  };
  std::cout << "NVMe controllers  " << list(d.nvme_ctrl) << '\n';
  std::cout << "NVMe generic      " << list(d.nvme_generic) << '\n';
  std::cout << "ublk-control      ";
  if (!d.ublk.present) std::cout << "none (no /dev/ublk-control: load ublk_drv, Linux 6.0+)\n";
  else if (d.ublk.error) std::cout << "present, " << uc::describe(d.ublk.error) << '\n';
  else {
    char mask[24];
    std::snprintf(mask, sizeof mask, "0x%llx", static_cast<unsigned long long>(d.ublk.features));
    std::cout << "features " << mask << ": " << list(probe::ublk_feature_list(d.ublk.features)) << '\n';
  }
}

}  // namespace

int main(int argc, char** argv) {
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--json")) json = true;
    else if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
      std::cout << usage;
      return 0;
    } else {
      std::cerr << "uringcmd-probe: unknown argument '" << argv[i] << "'\n" << usage;
      return 2;
    }
  }
  const auto caps = uc::capabilities::probe();
  probe::device_report devices;
  if (!caps.setup_error && caps.passthrough_ring) {
    try {
      uc::executor ex(uc::ring_options::passthrough(64));
      devices = uc::sync_wait(ex, probe::scan_devices());
    } catch (const std::exception& e) {
      std::cerr << "uringcmd-probe: device scan failed: " << e.what() << '\n';
    }
  }
  if (json) std::cout << to_json(caps, devices) << '\n';
  else print(caps, devices);
  return caps.setup_error ? 1 : 0;
}
