// SPDX-License-Identifier: MIT
// uringcmd-probe's io_uring section: a capabilities probe as a report for people and as JSON.
// It lives with the tool so that <uringcmd/probe.hpp> stays free of <ostream> and JSON.
#pragma once

#include <ostream>
#include <string>
#include <string_view>

#include <uringcmd/detail/flag_names.hpp>
#include <uringcmd/error.hpp>
#include <uringcmd/probe.hpp>
#include <uringcmd/ring_options.hpp>

#include "json.hpp"

namespace probe {

/// A human-readable report.
inline void print_report(std::ostream& os, const uringcmd::capabilities& c) {
  using uringcmd::capabilities;
  os << "kernel            " << c.kernel_release << '\n';
  os << "io_uring_disabled "
     << (c.io_uring_disabled < 0 ? std::string("(no sysctl)") : std::to_string(c.io_uring_disabled)) << '\n';
  if (c.setup_error) {
    os << "io_uring          unavailable: " << uringcmd::describe(c.setup_error) << '\n';
    return;
  }
  os << "last opcode       " << c.last_op << " (" << capabilities::name_of(c.last_op) << ")\n";
  os << "URING_CMD         " << (c.has_uring_cmd() ? "yes" : "NO") << '\n';
  os << "SQE128|CQE32      " << (c.passthrough_ring ? "yes" : "NO") << "  (NVMe/SCSI passthrough, ublk control)\n";
  os << "SINGLE_ISSUER|DEFER_TASKRUN " << (c.single_issuer_defer ? "yes" : "no") << '\n';
  os << "setup flags       " << uringcmd::setup_flag_names(c.accepted_flags) << '\n';
  os << "features          " << c.feature_list(' ') << '\n';
  os << "unsupported ops   ";
  bool any = false;
  for (unsigned i = 0; i <= c.last_op && i < uringcmd::opcode_names.size(); ++i)
    if (!c.supports(i)) {
      os << (any ? " " : "") << capabilities::name_of(i);
      any = true;
    }
  os << (any ? "" : "none") << '\n';
}

/// One JSON object.
inline std::string to_json(const uringcmd::capabilities& c) {
  using uringcmd::opcode_names;
  std::string j = "{\"kernel\":" + json_quote(c.kernel_release) +
                  ",\"io_uring_disabled\":" + std::to_string(c.io_uring_disabled);
  if (c.setup_error) return j + ",\"error\":" + json_quote(uringcmd::describe(c.setup_error)) + "}";
  j += ",\"last_op\":" + std::to_string(c.last_op) + ",\"ops\":{";
  for (unsigned i = 0; i <= c.last_op && i < opcode_names.size(); ++i)
    j += (i ? "," : "") + json_quote(opcode_names[i]) + ":" + (c.supports(i) ? "true" : "false");
  j += "},\"setup_flags\":" + json_quote(uringcmd::setup_flag_names(c.accepted_flags));
  j += ",\"passthrough_ring\":" + std::string(c.passthrough_ring ? "true" : "false");
  j += ",\"single_issuer_defer_taskrun\":" + std::string(c.single_issuer_defer ? "true" : "false");
  j += ",\"features\":" + json_hex(c.features) + ",\"feature_names\":[";
  bool first = true;
  uringcmd::detail::for_each_flag_name(c.features, uringcmd::feature_names, [&](std::string_view n) {
    j += (first ? "" : ",") + json_quote(n);
    first = false;
  });
  return j + "]}";
}

}  // namespace probe
