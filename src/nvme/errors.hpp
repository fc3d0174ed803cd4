// SPDX-License-Identifier: MIT
// uringcmd-nvme's exit statuses and the report of a failed command: the NVMe status by its name
// ("LBA Out of Range (SCT 0h SC 80h, DNR)") when the controller answered, else the errno.
#pragma once

#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include <uringcmd/error.hpp>
#include <uringcmd/nvme/error.hpp>
#include <uringcmd/nvme/passthru.hpp>
#include <uringcmd/nvme/status.hpp>

#include "../common/output.hpp"

namespace nvme_tool {

using namespace cli;  // fields, output_mode, report_problem, ...: shared with uringcmd-scsi
namespace nv = uringcmd::nvme;

inline constexpr std::string_view program_name = "uringcmd-nvme";

enum exit_status : int {
  exit_ok = 0,
  exit_failed = 1,  // the command failed: an NVMe status, or an errno (the device, a file, the kernel)
  exit_usage = 2,   // a bad command line
};

inline constexpr std::string_view exit_table = R"text(Exit status:
   0 success
   1 the command failed: the controller's NVMe status (named, e.g. "NVMe status LBA Out of
     Range (SCT 0h SC 80h, DNR)"), or an errno ("errno ENODEV: No such device")
   2 usage: a bad command line
)text";

/// "NVMe status <name> (SCT ..)" or "errno <NAME>: <text>": which of the two it is, and what.
inline std::string error_text(std::error_code ec, const std::optional<nv::reply>& d) {
  if (d && !d->ok()) return "NVMe status " + nv::describe(d->status);
  if (ec.category() == nv::error_category())  // a status without its completion: the code alone
    return "NVMe status " + nv::describe(nv::status_field(static_cast<std::uint16_t>(ec.value())));
  if (ec.category() == std::system_category() || ec.category() == std::generic_category())
    return "errno " + uringcmd::describe(ec);
  return uringcmd::describe(ec);
}

/// Reports a failed `command` on stderr (and, with --json, as {"error": ...} on stdout); returns
/// exit_failed. `what`: the device or file it concerns, if any.
inline int report_error(output_mode m, std::string_view command, std::error_code ec,
                        const std::optional<nv::reply>& d, std::string_view what = {}) {
  const std::string text = (what.empty() ? std::string() : std::string(what) + ": ") + error_text(ec, d);
  std::cerr << program_name << ' ' << command << ": " << text << '\n';
  if (m.json) {
    fields f{{"command", command}, {"error", text}, {"exit_status", unsigned{exit_failed}}};
    if (d && !d->ok()) {
      const nv::status_field s = d->status;
      f.emplace_back("nvme_status", fields{{"name", nv::status_name(s.code())},
                                           {"value", hex_number{s.raw(), 4}},
                                           {"sct", static_cast<unsigned>(s.sct())},
                                           {"sc", hex_number{s.sc(), 2}},
                                           {"dnr", s.dnr()},
                                           {"more", s.more()},
                                           {"crd", unsigned{s.crd()}}});
    } else if (ec.category() == std::system_category() || ec.category() == std::generic_category()) {
      f.emplace_back("errno", static_cast<unsigned>(ec.value()));
      f.emplace_back("errno_name", uringcmd::errno_name(ec.value()));
    }
    std::cout << to_json(f) << '\n';
  }
  return exit_failed;
}

/// A failure that is not the device's: a file, an argument only the device can refute.
inline int report_problem(output_mode m, std::string_view command, const std::string& text, int status) {
  return cli::report_problem(program_name, m, command, text, status);
}

}  // namespace nvme_tool
