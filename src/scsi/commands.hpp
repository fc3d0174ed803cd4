// SPDX-License-Identifier: MIT
// uringcmd-scsi's subcommands: each opens the device, runs its commands through scsi::device and
// reports the result (fields, see output.hpp) or the failure with its exit status (errors.hpp).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <uringcmd/scsi/device.hpp>
#include <uringcmd/scsi/luns.hpp>
#include <uringcmd/scsi/opcodes_report.hpp>
#include <uringcmd/task.hpp>

#include "../common/output.hpp"
#include "../common/transfer.hpp"
#include "errors.hpp"
#include "vpd.hpp"

namespace scsi_tool {

namespace uc = uringcmd;

struct args {
  std::string command, device, in, out;
  std::vector<std::string> positional;  // after DEV: raw's CDB bytes; decode-sense's sense bytes
  std::optional<std::uint64_t> lba, count, len, timeout_ms, vpd;
  output_mode mode;
};

inline void print(const args& a, const fields& f) { cli::print(a.mode, f); }

inline void progress(const args& a, std::uint64_t done, std::uint64_t total) {
  cli::progress(program_name, a.command, done, total);
}

inline uc::task<uc::scsi::response<sc::device>> open_device(const args& a) {
  sc::device_options o;
  if (a.timeout_ms) o.timeout_ms = static_cast<std::uint32_t>(*a.timeout_ms);
  return sc::device::open(a.device, o);
}

// Every device subcommand starts the same way; a failed open returns its exit status.
#define UC_OPEN_OR_RETURN(dev, a)                                                                   \
  auto dev##_r = co_await open_device(a);                                                           \
  if (!dev##_r) co_return report_error(a.mode, a.command, dev##_r.error(), dev##_r.details(), true); \
  sc::device& dev = *dev##_r

template <class T>
int failed(const args& a, const uc::scsi::response<T>& r) {
  return report_error(a.mode, a.command, r.error(), r.details());
}

inline std::string_view device_type_name(std::uint8_t t) {
  switch (t) {
    case 0x00: return "disk";
    case 0x01: return "tape";
    case 0x05: return "cd/dvd";
    case 0x08: return "medium changer";
    case 0x0d: return "enclosure";
    case 0x0e: return "simplified direct access";
    case 0x14: return "host managed zoned block";
    case 0x1f: return "unknown or no device";
    default: return "other";
  }
}

inline uc::task<int> cmd_inquiry(args a) {
  UC_OPEN_OR_RETURN(dev, a);
  fields f{{"device", dev.path()}};
  if (!a.vpd) {
    auto r = co_await dev.inquiry();
    if (!r) co_return failed(a, r);
    f.insert(f.end(), {{"device_type", r->device_type},
                       {"device_type_name", device_type_name(r->device_type)},
                       {"version", hex(r->version)},
                       {"removable", r->removable},
                       {"vendor", r->vendor},
                       {"product", r->product},
                       {"revision", r->revision}});
    print(a, f);
    co_return exit_ok;
  }
  const auto page = static_cast<std::uint8_t>(*a.vpd);
  std::vector<std::byte> buf(4096);
  auto r = co_await dev.vpd(page, buf);
  if (r && vpd_size(*r) > buf.size()) {  // longer than asked for: ask again for all of it
    buf.resize(std::min<std::size_t>(vpd_size(*r), 0xffff));
    r = co_await dev.vpd(page, buf);
  }
  if (!r) co_return failed(a, r);
  // Some transports do not report the residual: the page's own length says what is data.
  const auto page_bytes = r->first(std::min(r->size(), vpd_size(*r)));
  f.insert(f.end(), {{"page", hex(page)}, {"page_name", vpd_page_name(page)}, {"length", page_bytes.size()}});
  if (!decode_vpd(page, page_bytes, f)) {
    if (a.mode.json) f.emplace_back("data", hex_string(page_bytes));
    print(a, f);
    if (!a.mode.json) hexdump(std::cout, page_bytes);
    co_return exit_ok;
  }
  print(a, f);
  co_return exit_ok;
}

inline uc::task<int> cmd_readcap(args a) {
  UC_OPEN_OR_RETURN(dev, a);
  auto r = co_await dev.read_capacity();
  if (!r) co_return failed(a, r);
  fields f{{"device", dev.path()}, {"last_lba", r->last_lba}, {"blocks", r->blocks()}, {"block_size", r->block_size}};
  if (auto b = r->bytes()) f.emplace_back("bytes", *b);
  f.insert(f.end(), {{"lbpme", r->lbpme}, {"lbprz", r->lbprz}, {"protection", r->protection}});
  print(a, f);
  co_return exit_ok;
}

inline uc::task<int> cmd_tur(args a) {
  UC_OPEN_OR_RETURN(dev, a);
  auto r = co_await dev.test_unit_ready();
  if (!r) co_return failed(a, r);
  print(a, fields{{"device", dev.path()}, {"ready", true}});
  co_return exit_ok;
}

inline uc::task<int> cmd_sync(args a) {
  UC_OPEN_OR_RETURN(dev, a);
  auto r = co_await dev.sync_cache();
  if (!r) co_return failed(a, r);
  print(a, fields{{"device", dev.path()}, {"synchronized", true}});
  co_return exit_ok;
}

inline uc::task<int> cmd_luns(args a) {
  UC_OPEN_OR_RETURN(dev, a);
  std::vector<std::byte> buf(8 + 8 * 256);
  for (;;) {
    auto r = co_await dev.execute(sc::report_luns(static_cast<std::uint32_t>(buf.size())), sc::data_dir::from_device, buf);
    if (!r) co_return failed(a, r);
    auto d = sc::parse_report_luns(u8(buf).first(*r));
    if (!d) co_return report_problem(a.mode, a.command, "short REPORT LUNS data", exit_other);
    if (d->truncated() && d->required_allocation_length() <= 1 << 20 && d->required_allocation_length() > buf.size()) {
      buf.resize(d->required_allocation_length());  // the list grew past our buffer: ask for all of it
      continue;
    }
    list luns;
    for (sc::lun l : d->luns()) luns.push_back(fields{{"lun", l.linux_lun()}, {"address", hex(l.raw, 16)}});
    print(a, fields{{"device", dev.path()}, {"count", d->reported_count()}, {"luns", std::move(luns)}});
    co_return exit_ok;
  }
}

inline uc::task<int> cmd_opcodes(args a) {
  UC_OPEN_OR_RETURN(dev, a);
  std::vector<std::byte> buf(0xfffc);  // scsi_debug refuses an allocation length over 0xffff
  auto r = co_await dev.execute(sc::report_supported_opcodes(static_cast<std::uint32_t>(buf.size())),
                                sc::data_dir::from_device, buf);
  if (!r) co_return failed(a, r);
  auto rep = sc::parse_all_commands_report(u8(buf).first(*r));
  if (!rep) co_return report_problem(a.mode, a.command, "short REPORT SUPPORTED OPERATION CODES data", exit_other);
  list cmds;
  for (const sc::command_descriptor& d : rep->descriptors()) {
    fields c{{"opcode", hex(d.opcode)}};
    if (d.servactv) c.emplace_back("service_action", hex(d.service_action, 4));
    c.emplace_back("cdb_length", d.cdb_length);
    c.emplace_back("name", sc::opcode_name(d.opcode));
    cmds.push_back(std::move(c));
  }
  print(a, fields{{"device", dev.path()}, {"commands", std::move(cmds)}});
  co_return exit_ok;
}

inline uc::task<int> cmd_read(args a) {
  UC_OPEN_OR_RETURN(dev, a);
  if (!dev.capacity()) co_return failed(a, co_await dev.read_capacity());  // the reason it is unknown
  const std::uint64_t bs = dev.capacity()->block_size;
  if (*a.count > UINT64_MAX / bs) co_return report_problem(a.mode, a.command, "--count too large", exit_syntax);
  const std::uint64_t total = *a.count * bs;
  data_sink sink{a.out, a.mode, {}, {}};
  if (!sink.open()) co_return report_problem(a.mode, a.command, "cannot write " + a.out, exit_file);
  std::vector<std::byte> buf(std::min(total, std::max(bs, chunk_bytes / bs * bs)));
  for (std::uint64_t done = 0; done < total;) {
    const std::size_t n = std::min<std::uint64_t>(buf.size(), total - done);
    auto r = co_await dev.read(*a.lba + done / bs, std::span(buf).first(n));
    if (!r) co_return failed(a, r);
    if (!sink.put(u8(buf).first(*r), done)) co_return report_problem(a.mode, a.command, "cannot write " + a.out, exit_file);
    done += *r;
    if (*r < n) co_return report_problem(a.mode, a.command, "short read: " + std::to_string(done) + " bytes", exit_other);
    progress(a, done, total);
  }
  fields f{{"device", dev.path()}, {"lba", *a.lba}, {"blocks", *a.count}, {"bytes", total}};
  sink.finish(f);
  if (a.mode.json || !a.out.empty()) print(a, f);
  co_return exit_ok;
}

inline uc::task<int> cmd_write(args a) {
  UC_OPEN_OR_RETURN(dev, a);
  if (!dev.capacity()) co_return failed(a, co_await dev.read_capacity());
  const std::uint64_t bs = dev.capacity()->block_size;
  std::error_code ec;
  const std::uint64_t total = std::filesystem::file_size(a.in, ec);
  std::ifstream in(a.in, std::ios::binary);
  if (ec || !in) co_return report_problem(a.mode, a.command, "cannot read " + a.in, exit_file);
  if (total % bs)  // a partial block cannot be written: refuse rather than pad or cut
    co_return report_problem(a.mode, a.command,
                             a.in + " holds " + std::to_string(total) + " bytes, not whole " + std::to_string(bs) +
                                 "-byte blocks",
                             exit_syntax);
  std::vector<std::byte> buf(std::min(total, std::max(bs, chunk_bytes / bs * bs)));
  for (std::uint64_t done = 0; done < total;) {
    const std::size_t n = std::min<std::uint64_t>(buf.size(), total - done);
    if (!in.read(reinterpret_cast<char*>(buf.data()), static_cast<std::streamsize>(n)))
      co_return report_problem(a.mode, a.command, "cannot read " + a.in, exit_file);
    auto r = co_await dev.write(*a.lba + done / bs, std::span(buf).first(n));
    if (!r) co_return failed(a, r);
    done += *r;
    if (*r < n) co_return report_problem(a.mode, a.command, "short write: " + std::to_string(done) + " bytes", exit_other);
    progress(a, done, total);
  }
  print(a, fields{{"device", dev.path()}, {"lba", *a.lba}, {"blocks", total / bs}, {"bytes", total}});
  co_return exit_ok;
}

inline uc::task<int> cmd_unmap(args a) {
  UC_OPEN_OR_RETURN(dev, a);
  if (*a.count > std::uint64_t{sc::max_unmap_descriptors} * 0xffffffffU)
    co_return report_problem(a.mode, a.command, "--count too large for one UNMAP", exit_syntax);
  auto r = co_await dev.unmap(*a.lba, *a.count);
  if (!r) co_return failed(a, r);
  print(a, fields{{"device", dev.path()}, {"lba", *a.lba}, {"blocks", *a.count}, {"unmapped", true}});
  co_return exit_ok;
}

inline uc::task<int> cmd_raw(args a, sc::cdb c) {
  UC_OPEN_OR_RETURN(dev, a);
  std::vector<std::byte> buf;
  auto dir = sc::data_dir::none;
  if (!a.in.empty()) {
    std::ifstream in(a.in, std::ios::binary);
    const std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (!in.is_open() || in.bad()) co_return report_problem(a.mode, a.command, "cannot read " + a.in, exit_file);
    buf.resize(bytes.size());
    std::copy_n(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size(), buf.begin());
    dir = sc::data_dir::to_device;
  } else if (a.len) {
    buf.resize(*a.len);
    dir = sc::data_dir::from_device;
  }
  data_sink sink{a.out, a.mode, {}, {}};
  if (dir == sc::data_dir::from_device && !sink.open())
    co_return report_problem(a.mode, a.command, "cannot write " + a.out, exit_file);
  auto r = co_await dev.execute(c, dir, buf);  // --timeout is the device's default (open_device)
  if (!r) co_return failed(a, r);
  fields f{{"device", dev.path()}, {"cdb", hex_string(c.bytes())}, {"status", sc::status_text(r.details()->status)},
           {"transferred", *r}};
  if (r.details()->sense_data) f.emplace_back("sense", sense_fields(*r.details()->sense_data));
  if (dir == sc::data_dir::from_device) {
    const bool dump = !a.mode.json && a.out.empty();  // the fields go above the hex dump
    if (dump) print(a, f);
    if (!sink.put(u8(buf).first(*r), 0)) co_return report_problem(a.mode, a.command, "cannot write " + a.out, exit_file);
    sink.finish(f);
    if (!dump) print(a, f);
  } else {
    print(a, f);
  }
  co_return exit_ok;
}

inline int cmd_decode_sense(const args& a, std::span<const std::uint8_t> bytes) {
  auto s = sc::decode_sense(bytes);
  if (!s) return report_problem(a.mode, a.command, "not sense data (response code must be 0x70..0x73)", exit_malformed);
  print(a, sense_fields(*s));
  return exit_ok;
}

}  // namespace scsi_tool
