// SPDX-License-Identifier: MIT
// uringcmd-nvme's subcommands: admin commands through nvme::controller (DEV, or the controller of
// a namespace node), I/O through nvme::namespace_device, `list` from sysfs; each reports its fields
// (../common/output.hpp) or its failure (errors.hpp).
#pragma once

#include <fcntl.h>
#include <linux/nvme_ioctl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <uringcmd/nvme/controller.hpp>
#include <uringcmd/nvme/namespace.hpp>
#include <uringcmd/task.hpp>

#include "../common/output.hpp"
#include "../common/transfer.hpp"
#include "errors.hpp"
#include "fields.hpp"

namespace nvme_tool {

namespace uc = uringcmd;
namespace fs = std::filesystem;

struct args {
  std::string command, device, in, out;
  std::optional<std::uint64_t> lba, count, nsid, feature, sel, timeout_ms;
  bool deallocate = false;
  output_mode mode;
};

inline void print(const args& a, const fields& f) { cli::print(a.mode, f); }

/// /dev/nvmeX (a controller), as opposed to a namespace node.
inline bool is_controller_node(const std::string& path) {
  std::error_code ec;
  const std::string name = fs::path(path).filename().string();
  return !name.empty() && fs::exists("/sys/class/nvme/" + name, ec);
}

inline nv::device_options device_options(const args& a, bool read_only) {
  nv::device_options o;
  if (a.timeout_ms) o.admin_timeout_ms = o.io_timeout_ms = static_cast<std::uint32_t>(*a.timeout_ms);
  o.read_only = read_only;
  return o;
}

// Every subcommand starts by opening DEV; a failed open returns its exit status.
#define UC_NVME_OPEN_OR_RETURN(var, type, a, read_only)                                                           \
  auto var##_r = co_await nv::type::open(a.device, device_options(a, read_only));                                 \
  if (!var##_r) co_return report_error(a.mode, a.command, var##_r.error(), var##_r.details(), a.device);          \
  nv::type& var = *var##_r

template <class T>
int failed(const args& a, const nv::response<T>& r) {
  return report_error(a.mode, a.command, r.error(), r.details());
}

// ---- admin commands -------------------------------------------------------------------------

inline uc::task<int> cmd_id_ctrl(args a) {
  UC_NVME_OPEN_OR_RETURN(ctrl, controller, a, true);
  std::vector<std::byte> buf(nv::identify_size);
  auto r = co_await ctrl.identify(buf);
  if (!r) co_return failed(a, r);
  fields f{{"device", ctrl.path()}};
  auto id = id_ctrl_fields(*r);
  f.insert(f.end(), id.begin(), id.end());
  print(a, f);
  co_return exit_ok;
}

/// The nsid of a namespace node (NVME_IOCTL_ID), or the errno.
inline nv::response<std::uint32_t> nsid_of(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return nv::response<std::uint32_t>(uc::errno_code(errno));
  const int id = ::ioctl(fd, NVME_IOCTL_ID);
  const int err = errno;
  ::close(fd);
  if (id <= 0) return nv::response<std::uint32_t>(uc::errno_code(id < 0 ? err : ENODEV));
  return nv::response<std::uint32_t>(static_cast<std::uint32_t>(id), nv::reply{});
}

inline uc::task<int> cmd_id_ns(args a) {
  std::uint32_t nsid = 0;
  if (a.nsid) {
    nsid = static_cast<std::uint32_t>(*a.nsid);
  } else {  // a namespace node says which; main() refused a controller without -n
    auto id = nsid_of(a.device);
    if (!id) co_return report_error(a.mode, a.command, id.error(), std::nullopt, a.device);
    nsid = *id;
  }
  UC_NVME_OPEN_OR_RETURN(ctrl, controller, a, true);
  std::vector<std::byte> buf(nv::identify_size);
  auto r = co_await ctrl.identify_ns(nsid, buf);
  if (!r) co_return failed(a, r);
  fields f{{"device", ctrl.path()}, {"nsid", nsid}};
  if (auto bs = r->block_size()) f.emplace_back("block_size", *bs);
  if (auto lf = r->current_lba_format()) f.emplace_back("metadata_size", unsigned{lf->ms});
  auto id = id_ns_fields(*r);
  f.insert(f.end(), id.begin(), id.end());
  print(a, f);
  co_return exit_ok;
}

inline uc::task<int> cmd_list_ns(args a) {
  UC_NVME_OPEN_OR_RETURN(ctrl, controller, a, true);
  std::vector<std::byte> buf(nv::identify_size);
  list ids;
  for (std::uint32_t after = 0;;) {
    auto r = co_await ctrl.active_namespaces(buf, after);
    if (!r) co_return failed(a, r);
    for (std::uint32_t id : r->ids()) ids.push_back(fields{{"nsid", id}}), after = id;
    if (!r->full()) break;
  }
  print(a, fields{{"device", ctrl.path()}, {"nsid_list", std::move(ids)}});
  co_return exit_ok;
}

inline uc::task<int> cmd_smart_log(args a) {
  UC_NVME_OPEN_OR_RETURN(ctrl, controller, a, true);
  std::vector<std::byte> buf(nv::smart_log_size);
  auto r = co_await ctrl.smart(buf, a.nsid ? static_cast<std::uint32_t>(*a.nsid) : nv::nsid_all);
  if (!r) co_return failed(a, r);
  fields f{{"device", ctrl.path()}};
  auto s = smart_log_fields(*r);
  f.insert(f.end(), s.begin(), s.end());
  print(a, f);
  co_return exit_ok;
}

inline uc::task<int> cmd_error_log(args a) {
  UC_NVME_OPEN_OR_RETURN(ctrl, controller, a, true);
  std::vector<std::byte> buf(nv::identify_size);
  auto id = co_await ctrl.identify(buf);  // ELPE: how many entries the controller keeps
  if (!id) co_return failed(a, id);
  buf.assign((std::size_t{id->elpe} + 1) * nv::error_log_entry_size, std::byte{0});
  auto r = co_await ctrl.error_log(buf);
  if (!r) co_return failed(a, r);
  list entries;
  for (const nv::error_log_entry& e : nv::parse_error_log(*r)) entries.push_back(error_entry_fields(e));
  print(a, fields{{"device", ctrl.path()}, {"errors", std::move(entries)}});
  co_return exit_ok;
}

inline uc::task<int> cmd_get_feature(args a) {
  std::uint32_t nsid = 0;  // a namespace node: its namespace's value of a namespace-specific feature
  if (a.nsid) nsid = static_cast<std::uint32_t>(*a.nsid);
  else if (!is_controller_node(a.device))
    if (auto id = nsid_of(a.device)) nsid = *id;
  UC_NVME_OPEN_OR_RETURN(ctrl, controller, a, true);
  const auto fid = static_cast<std::uint8_t>(*a.feature);
  const auto sel = static_cast<std::uint8_t>(a.sel.value_or(0));
  std::vector<std::byte> data(sel == 3 ? 0 : feature_data_length(fid));
  auto r = co_await ctrl.admin(nv::get_features(fid, static_cast<nv::feature_select>(sel), nsid), data);
  if (!r) co_return failed(a, r);
  fields f{{"device", ctrl.path()},
           {"feature_id", hx(fid)},
           {"feature_name", feature_name(fid)},
           {"sel", unsigned{sel}},
           {"sel_name", select_names[sel]},
           {"value", hx(r->dw0, 8)}};
  if (nsid) f.emplace(f.begin() + 1, "nsid", nsid);
  decode_feature(fid, sel, r->dw0, f);
  if (!data.empty()) f.emplace_back("data", hex_string(cli::u8(data)));
  print(a, f);
  co_return exit_ok;
}

// ---- I/O commands ---------------------------------------------------------------------------

/// The separate metadata of `blocks` (namespaces formatted with metadata outside the blocks, like
/// the test VM's n3): the controller moves it too, so a command must carry a buffer for it.
inline std::size_t separate_metadata_bytes(const nv::namespace_device& ns, std::uint64_t blocks) {
  const auto& i = ns.info();
  return i.extended_lba ? 0 : static_cast<std::size_t>(blocks * i.metadata_size);
}
/// Bytes of data per block: the block, and its metadata with extended LBAs.
inline std::uint64_t data_bytes_per_block(const nv::namespace_device& ns) {
  return ns.block_size() + (ns.info().extended_lba ? ns.info().metadata_size : 0U);
}

inline fields io_fields(const nv::namespace_device& ns) {
  return {{"device", ns.path()}, {"nsid", ns.nsid()}, {"block_size", ns.block_size()}};
}

inline uc::task<int> cmd_read(args a) {
  UC_NVME_OPEN_OR_RETURN(ns, namespace_device, a, true);
  const std::uint64_t bs = data_bytes_per_block(ns);
  if (*a.count > UINT64_MAX / bs) co_return report_problem(a.mode, a.command, "--count too large", exit_usage);
  const std::uint64_t total = *a.count * bs;
  data_sink sink{a.out, a.mode, {}, {}};
  if (!sink.open()) co_return report_error(a.mode, a.command, uc::errno_code(errno), std::nullopt, a.out);
  std::vector<std::byte> buf(std::min(total, std::max(bs, chunk_bytes / bs * bs)));
  std::vector<std::byte> meta(separate_metadata_bytes(ns, buf.size() / bs));  // read, not kept
  for (std::uint64_t done = 0; done < total;) {
    const std::size_t n = std::min<std::uint64_t>(buf.size(), total - done);
    nv::io_options o;
    o.metadata = std::span(meta).first(separate_metadata_bytes(ns, n / bs));
    auto r = co_await ns.read(*a.lba + done / bs, std::span(buf).first(n), o);
    if (!r) co_return failed(a, r);
    if (!sink.put(cli::u8(buf).first(n), done))
      co_return report_error(a.mode, a.command, uc::errno_code(errno), std::nullopt, a.out);
    done += n;
    progress(program_name, a.command, done, total);
  }
  fields f = io_fields(ns);
  f.insert(f.end(), {{"lba", *a.lba}, {"blocks", *a.count}, {"bytes", total}});
  sink.finish(f);
  if (a.mode.json || !a.out.empty()) print(a, f);
  co_return exit_ok;
}

inline uc::task<int> cmd_write(args a) {
  UC_NVME_OPEN_OR_RETURN(ns, namespace_device, a, false);
  const std::uint64_t bs = data_bytes_per_block(ns);
  std::ifstream file;
  std::istream* in = &std::cin;  // no --in: stdin, as nvme-cli's write
  std::optional<std::uint64_t> size;
  if (!a.in.empty()) {
    std::error_code ec;
    size = fs::file_size(a.in, ec);
    file.open(a.in, std::ios::binary);
    if (ec || !file) co_return report_error(a.mode, a.command, ec ? ec : uc::errno_code(errno), std::nullopt, a.in);
    if (*size % bs || *size == 0)  // a partial block cannot be written: refuse rather than pad or cut
      co_return report_problem(a.mode, a.command,
                               a.in + " holds " + std::to_string(*size) + " bytes, not whole " + std::to_string(bs) +
                                   "-byte blocks",
                               exit_usage);
    in = &file;
  }
  const std::string source = a.in.empty() ? std::string("stdin") : a.in;
  std::vector<std::byte> buf(std::max(bs, chunk_bytes / bs * bs));
  if (size) buf.resize(std::min<std::uint64_t>(buf.size(), *size));
  std::vector<std::byte> meta(separate_metadata_bytes(ns, buf.size() / bs));  // zeros
  std::uint64_t done = 0;
  for (;;) {
    in->read(reinterpret_cast<char*>(buf.data()), static_cast<std::streamsize>(buf.size()));
    const auto n = static_cast<std::size_t>(in->gcount());
    if (in->bad()) co_return report_error(a.mode, a.command, uc::errno_code(EIO), std::nullopt, source);
    if (n % bs)
      co_return report_problem(a.mode, a.command,
                               source + " ends in a partial block (" + std::to_string(done + n) + " bytes, not whole " +
                                   std::to_string(bs) + "-byte blocks); " + std::to_string(done / bs) +
                                   " blocks were written",
                               exit_usage);
    if (n == 0) break;
    nv::io_options o;
    o.metadata = std::span(meta).first(separate_metadata_bytes(ns, n / bs));
    auto r = co_await ns.write(*a.lba + done / bs, std::span(buf).first(n), o);
    if (!r) co_return failed(a, r);
    done += n;
    progress(program_name, a.command, done, size.value_or(0));
    if (n < buf.size()) break;
  }
  if (done == 0) co_return report_problem(a.mode, a.command, source + " is empty: nothing to write", exit_usage);
  fields f = io_fields(ns);
  f.insert(f.end(), {{"lba", *a.lba}, {"blocks", done / bs}, {"bytes", done}});
  print(a, f);
  co_return exit_ok;
}

inline uc::task<int> cmd_flush(args a) {
  UC_NVME_OPEN_OR_RETURN(ns, namespace_device, a, false);
  auto r = co_await ns.flush();
  if (!r) co_return failed(a, r);
  fields f = io_fields(ns);
  f.emplace_back("flushed", true);
  print(a, f);
  co_return exit_ok;
}

inline uc::task<int> cmd_write_zeroes(args a) {
  UC_NVME_OPEN_OR_RETURN(ns, namespace_device, a, false);
  auto r = co_await ns.write_zeroes(*a.lba, *a.count, a.deallocate);
  if (!r) co_return failed(a, r);
  fields f = io_fields(ns);
  f.insert(f.end(), {{"lba", *a.lba}, {"blocks", *r}, {"deallocate", a.deallocate}, {"zeroed", true}});
  print(a, f);
  co_return exit_ok;
}

inline uc::task<int> cmd_dsm(args a) {
  UC_NVME_OPEN_OR_RETURN(ns, namespace_device, a, false);
  auto r = co_await ns.deallocate(*a.lba, *a.count);
  if (!r) co_return failed(a, r);
  fields f = io_fields(ns);
  // DLFEAT bits 2:0: what the blocks read as now (1: zeros, 2: ones, 0: not reported).
  f.insert(f.end(), {{"lba", *a.lba}, {"blocks", *a.count}, {"deallocated", true},
                     {"dlfeat", unsigned{ns.info().dlfeat}}});
  print(a, f);
  co_return exit_ok;
}

// ---- list -----------------------------------------------------------------------------------

/// A sysfs attribute's first line, trailing blanks trimmed ("" when absent).
inline std::string sysfs_text(const fs::path& p) {
  std::ifstream in(p);
  std::string s;
  std::getline(in, s);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n')) s.pop_back();
  return s;
}

/// "67.11 MB": bytes in decimal units, as nvme list prints sizes.
inline std::string si_bytes(std::uint64_t v) {
  static constexpr const char* units[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
  double d = static_cast<double>(v);
  std::size_t u = 0;
  while (d >= 1000 && u + 1 < std::size(units)) d /= 1000, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f %s", d, units[u]);
  return buf;
}

/// "512 B + 8 B", "4 KiB + 0 B": a block's data and metadata sizes.
inline std::string format_text(std::uint32_t bs, std::uint32_t ms) {
  const std::string data = bs >= 1024 && bs % 1024 == 0 ? std::to_string(bs / 1024) + " KiB" : std::to_string(bs) + " B";
  return data + " + " + std::to_string(ms) + " B";
}

struct generic_node {
  std::string name;  // ng0n1
  unsigned ctrl = 0, ns = 0;
};

/// /sys/class/nvme-generic's ngXnY, by controller and namespace instance.
inline std::vector<generic_node> generic_nodes() {
  std::vector<generic_node> nodes;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/sys/class/nvme-generic", ec)) {
    generic_node n{e.path().filename().string()};
    if (std::sscanf(n.name.c_str(), "ng%un%u", &n.ctrl, &n.ns) == 2) nodes.push_back(std::move(n));
  }
  std::sort(nodes.begin(), nodes.end(), [](const auto& x, const auto& y) { return std::pair(x.ctrl, x.ns) < std::pair(y.ctrl, y.ns); });
  return nodes;
}

inline uc::task<int> cmd_list(args a) {
  list devices;
  std::vector<std::array<std::string, 8>> rows;
  int status = exit_ok;
  for (const generic_node& g : generic_nodes()) {
    const fs::path sys = fs::path("/sys/class/nvme-generic") / g.name / "device";
    const std::string block = "nvme" + g.name.substr(2);
    std::error_code ec;
    const bool has_block = fs::exists("/sys/class/block/" + block, ec);
    const std::string node = has_block ? "/dev/" + block : "/dev/" + g.name;
    fields d{{"NameSpace", 0U},
             {"DevicePath", node},
             {"GenericPath", "/dev/" + g.name},
             {"Firmware", sysfs_text(sys / "firmware_rev")},
             {"ModelNumber", sysfs_text(sys / "model")},
             {"SerialNumber", sysfs_text(sys / "serial")}};
    std::array<std::string, 8> row{has_block ? node : "-", "/dev/" + g.name, sysfs_text(sys / "serial"),
                                   sysfs_text(sys / "model"), "-", "-", "-", sysfs_text(sys / "firmware_rev")};
    auto ns = co_await nv::namespace_device::open("/dev/" + g.name, device_options(a, true));
    if (ns) {
      const auto& i = ns->info();
      d[0].second = ns->nsid();
      d.insert(d.end(), {{"UsedBytes", i.utilization * i.block_size},
                         {"MaximumLBA", i.size},
                         {"PhysicalSize", i.size * i.block_size},
                         {"SectorSize", i.block_size},
                         {"MetadataSize", unsigned{i.metadata_size}}});
      row[4] = std::to_string(ns->nsid());
      row[5] = si_bytes(i.utilization * i.block_size) + " / " + si_bytes(i.size * i.block_size);
      row[6] = format_text(i.block_size, i.metadata_size);
    } else {  // listed all the same, with the reason
      d.emplace_back("error", error_text(ns.error(), ns.details()));
      std::cerr << program_name << " list: /dev/" << g.name << ": " << error_text(ns.error(), ns.details()) << '\n';
      status = exit_failed;
    }
    devices.push_back(std::move(d));
    rows.push_back(std::move(row));
  }
  if (a.mode.json) {
    std::cout << to_json(fields{{"Devices", std::move(devices)}}) << '\n';
    co_return status;
  }
  if (rows.empty()) {
    std::cout << "No NVMe namespaces (/sys/class/nvme-generic is empty or absent)\n";
    co_return status;
  }
  const std::array<std::string, 8> head{"Node", "Generic", "SN", "Model", "Namespace", "Usage", "Format", "FW Rev"};
  std::array<std::size_t, 8> w{};
  for (std::size_t c = 0; c < w.size(); ++c) {
    w[c] = head[c].size();
    for (const auto& r : rows) w[c] = std::max(w[c], r[c].size());
  }
  auto line = [&](const std::array<std::string, 8>& r) {
    std::string s;
    for (std::size_t c = 0; c < w.size(); ++c) s += r[c] + std::string(w[c] - r[c].size() + (c + 1 < w.size()), ' ');
    while (!s.empty() && s.back() == ' ') s.pop_back();
    std::cout << s << '\n';
  };
  line(head);
  std::array<std::string, 8> rule;
  for (std::size_t c = 0; c < w.size(); ++c) rule[c] = std::string(w[c], '-');
  line(rule);
  for (const auto& r : rows) line(r);
  co_return status;
}

}  // namespace nvme_tool
