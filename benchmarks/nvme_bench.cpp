// SPDX-License-Identifier: MIT
// uringcmd-nvme-bench: NVMe reads on one namespace, six ways, in the same run (issue 8).
//
//   uringcmd        nvme::namespace_device::read() on /dev/ngXnY (IORING_OP_URING_CMD): QD coroutines
//                   on one executor (ring_options::passthrough()), each with its own aligned buffer
//   uringcmd-fixed  the same with the buffers registered (executor::register_buffers, one region;
//                   io_options::fixed_buffer: IORING_URING_CMD_FIXED)
//   uringcmd-op     the raw op under read(): co_await nvme::io(fd, nvme::read(...), buf), no
//                   coroutine layers in between (what namespace_device::read costs on top)
//   fio-uring-cmd   fio --ioengine=io_uring_cmd --cmd_type=nvme on the same /dev/ngXnY, fio's defaults
//   fio-uring-cmd-fixed  the same with --fixedbufs=1 (the like of uringcmd-fixed)
//   fio-io_uring    fio --ioengine=io_uring --direct=1 on the block device /dev/nvmeXnY
//
// Workloads: 4 KiB random reads (block-aligned over the whole namespace, fixed seed) at QD 1 and
// 32; 128 KiB sequential reads at QD 32. Each case: a warm-up per side, then two rounds of half
// the time each, the second in reverse order. Every command's status is checked: a failed command,
// or an allocation in steady state on our sides, fails the run (exit 1); a ratio never does. fio
// missing or failing is a skipped row, not a failure.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <sys/uio.h>

#include <uringcmd/executor.hpp>
#include <uringcmd/nvme/command.hpp>
#include <uringcmd/nvme/namespace.hpp>
#include <uringcmd/nvme/passthru.hpp>
#include <uringcmd/ring_options.hpp>
#include <uringcmd/sync_wait.hpp>
#include <uringcmd/task.hpp>

#include "alloc_counter.hpp"
#include "bench_common.hpp"
#include "support/ci.hpp"

namespace {

namespace nvme = uringcmd::nvme;
using uc_bench::buffers;
using uc_bench::clock_type;
using uc_bench::human;
using uc_bench::json_escape;
using uc_bench::measurement;
using uc_bench::ring_limit;
using uc_bench::run_limit;
using uc_bench::splitmix64;
using uc_bench::state_name;
using uringcmd::task;

constexpr std::uint64_t seed = 0x0e7e'b3e0'0000'0008ULL;  // issue 8
constexpr const char* default_device = "namespace 1 of nvme0";

// The generic node of nvme0's namespace 1: the kernel scans namespaces in parallel, so the N of
// /dev/ng0nN is not the nsid (the test VM's namespace 3 carries metadata, which this refuses).
std::string namespace_one() {
  for (int n = 1; n <= 64; ++n) {
    std::FILE* f = std::fopen(("/sys/class/block/nvme0n" + std::to_string(n) + "/nsid").c_str(), "r");
    if (!f) continue;
    int nsid = 0;
    const bool read = std::fscanf(f, "%d", &nsid) == 1;
    std::fclose(f);
    if (read && nsid == 1) return "/dev/ng0n" + std::to_string(n);
  }
  return "/dev/ng0n1";
}

// ---------------------------------------------------------------- options

struct options {
  std::string device;  // empty: namespace_one()
  double seconds = 2;     // per side and case, split over the rounds
  std::uint64_t ios = 0;  // instead of seconds: commands per side and case
  bool quick = false;
  bool json = false;
  std::string filter;
};

void print_help(const char* argv0) {
  std::printf(
      "usage: %s [--device PATH] [--seconds S | --ios N] [--quick] [--json] [--filter TEXT] [--help]\n"
      "\n"
      "NVMe reads on one namespace, same run: our passthrough (uringcmd: namespace_device::read;\n"
      "uringcmd-fixed: with registered buffers; uringcmd-op: the raw nvme::io op), fio's io_uring_cmd\n"
      "engine on the same /dev/ngXnY (fio-uring-cmd; fio-uring-cmd-fixed: --fixedbufs=1) and fio's\n"
      "io_uring engine on the block device (fio-io_uring, --direct=1).\n"
      "Workloads: 4 KiB random reads at QD 1 and 32; 128 KiB sequential reads at QD 32.\n"
      "\n"
      "  --device PATH   the namespace: /dev/ngXnY or /dev/nvmeXnY (default %s); the other node\n"
      "                  of the pair is found through sysfs\n"
      "  --seconds S     measured time per side and case (default 2), in two rounds, plus a\n"
      "                  warm-up of min(0.25, S/4) s\n"
      "  --ios N         a fixed number of commands per side and case instead of a time\n"
      "  --quick         smoke run: 64 commands per side and case, one round, fio skipped\n"
      "  --json          one JSON object per line per row instead of the table\n"
      "  --filter TEXT   only the rows whose id contains TEXT; ids look like\n"
      "                  randread-4k/qd32/uringcmd, seqread-128k/qd32/fio-io_uring\n"
      "  -h, --help      this text\n"
      "\n"
      "Exit status: 0 on success; 1 if a command failed (an errno, an NVMe status, a short read) or\n"
      "one of our sides allocated in steady state; 2 on a usage error; 77 if the namespace does not\n"
      "exist (1 in CI or in the test VM). A missing or failing fio is a skipped row. Progress goes\n"
      "to stderr, results to stdout.\n",
      argv0, default_device);
}

// ---------------------------------------------------------------- cases, sides, rows

enum class workload { randread, seqread };
enum class side { uringcmd, uringcmd_fixed, uringcmd_op, fio_cmd, fio_cmd_fixed, fio_uring };
constexpr side all_sides[] = {side::uringcmd, side::uringcmd_fixed, side::uringcmd_op,
                              side::fio_cmd,  side::fio_cmd_fixed,  side::fio_uring};

const char* side_name(side s) {
  switch (s) {
    case side::uringcmd: return "uringcmd";
    case side::uringcmd_fixed: return "uringcmd-fixed";
    case side::uringcmd_op: return "uringcmd-op";
    case side::fio_cmd: return "fio-uring-cmd";
    case side::fio_cmd_fixed: return "fio-uring-cmd-fixed";
    case side::fio_uring: return "fio-io_uring";
  }
  return "?";
}
bool is_fio(side s) { return s == side::fio_cmd || s == side::fio_cmd_fixed || s == side::fio_uring; }
/// The row a side's ratio is taken against: like with like (registered buffers against fio's
/// --fixedbufs=1, everything else against fio's defaults).
side ratio_base(side s) {
  return s == side::uringcmd_fixed || s == side::fio_cmd_fixed ? side::fio_cmd_fixed : side::fio_cmd;
}

struct bench_case {
  workload w;
  std::uint32_t bytes;  // per command
  unsigned qd;
};
constexpr bench_case all_cases[] = {
    {workload::randread, 4096, 1}, {workload::randread, 4096, 32}, {workload::seqread, 128 * 1024, 32}};
constexpr std::uint32_t max_bytes = 128 * 1024;
constexpr unsigned max_qd = 32;

std::string workload_name(const bench_case& c) {
  return std::string(c.w == workload::randread ? "randread" : "seqread") + "-" + std::to_string(c.bytes / 1024) + "k";
}
std::string row_id(const bench_case& c, side s) {
  return workload_name(c) + "/qd" + std::to_string(c.qd) + "/" + side_name(s);
}

/// The namespace under test.
struct target {
  nvme::namespace_device* ns = nullptr;
  std::string ng;     // /dev/ngXnY
  std::string block;  // /dev/nvmeXnY ("" without one)
  std::uint32_t nsid = 0;
  std::uint32_t block_size = 512;
  std::uint64_t blocks = 0;
  std::uint32_t timeout_ms = 30'000;  // what namespace_device puts in every command
};

/// The geometry of one case on the target.
struct geometry {
  std::uint32_t bytes = 4096;   // per command
  std::uint32_t blocks = 8;     // per command
  std::uint64_t slots = 1;      // command-sized positions in the namespace
};

// ---------------------------------------------------------------- ours: coroutines on one executor

struct worker_state {
  std::span<std::byte> buf;
  std::uint64_t rng = 0;
  std::uint64_t done = 0;
  double lat_sum_us = 0;
  std::string error;  // the first failure
};

/// What the workers of one round share: the limit and, for sequential reads, the next position.
struct shared_state {
  ring_limit lim;
  workload w = workload::randread;
  std::uint64_t next_slot = 0;
  std::uint64_t slot(const geometry& g, worker_state& ws) noexcept {
    if (w == workload::randread) return splitmix64(ws.rng) % g.slots;
    const std::uint64_t s = next_slot;
    next_slot = s + 1 == g.slots ? 0 : s + 1;
    return s;
  }
};

task<void> ns_worker(nvme::namespace_device& ns, const geometry& g, nvme::io_options io, worker_state& ws,
                     shared_state& sh) {
  while (sh.lim.take()) {
    const std::uint64_t lba = sh.slot(g, ws) * g.blocks;
    const auto t0 = clock_type::now();
    auto r = co_await ns.read(lba, ws.buf, io);
    ws.lat_sum_us += std::chrono::duration<double, std::micro>(clock_type::now() - t0).count();
    if (!r) {
      ws.error = "read at LBA " + std::to_string(lba) + ": " + r.describe();
    } else if (*r != g.bytes) {
      ws.error = "short read: " + std::to_string(*r) + " bytes";
    } else {
      ++ws.done;
      continue;
    }
    sh.lim.stop = true;
    co_return;
  }
}

task<void> op_worker(const target& t, const geometry& g, worker_state& ws, shared_state& sh) {
  nvme::options po;
  po.timeout_ms = t.timeout_ms;  // as namespace_device sets it
  while (sh.lim.take()) {
    const std::uint64_t lba = sh.slot(g, ws) * g.blocks;
    const auto t0 = clock_type::now();
    const auto cmd = nvme::read(t.nsid, lba, g.blocks);
    auto r = co_await nvme::io(t.ns->fd(), *cmd, ws.buf, po);
    ws.lat_sum_us += std::chrono::duration<double, std::micro>(clock_type::now() - t0).count();
    if (!r) {
      ws.error = "read at LBA " + std::to_string(lba) + ": " + uringcmd::describe(r.error());
    } else if (!r->ok()) {
      ws.error = "read at LBA " + std::to_string(lba) + ": " + nvme::describe(r->status);
    } else {
      ++ws.done;
      continue;
    }
    sh.lim.stop = true;
    co_return;
  }
}

measurement run_ours(uringcmd::executor& ex, const target& t, side s, const bench_case& c, const geometry& g,
                     buffers& bufs, const run_limit& lim, std::uint64_t round_seed) {
  std::vector<worker_state> ws(c.qd);
  for (unsigned i = 0; i < c.qd; ++i) {
    ws[i].buf = bufs.at(i, g.bytes);
    ws[i].rng = round_seed + i * 0x1000193ULL;
  }
  shared_state sh{ring_limit{lim}, c.w, round_seed % g.slots};
  sh.lim.remaining = lim.ios;
  nvme::io_options io;
  if (s == side::uringcmd_fixed) io.fixed_buffer = 0;  // bufs.all() is registered buffer 0
  measurement m;
  m.counted_allocs = true;
  std::string error;
  const std::uint64_t a0 = uc_bench::allocation_count();
  const auto t0 = clock_type::now();
  sh.lim.deadline =
      t0 + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(lim.seconds));
  try {
    for (unsigned i = 0; i < c.qd; ++i) {
      if (s == side::uringcmd_op) ex.spawn(op_worker(t, g, ws[i], sh));
      else ex.spawn(ns_worker(*t.ns, g, io, ws[i], sh));
    }
    ex.run();
  } catch (const std::exception& e) {
    error = std::string("exception: ") + e.what();
  }
  const auto t1 = clock_type::now();
  m.allocs = uc_bench::allocation_count() - a0;
  m.seconds = std::chrono::duration<double>(t1 - t0).count();
  for (const auto& w : ws) {
    m.ios += w.done;
    m.lat_sum_us += w.lat_sum_us;
    if (error.empty() && !w.error.empty()) error = w.error;
  }
  if (!lim.timed && error.empty() && m.ios != lim.ios)
    error = std::to_string(m.ios) + " of " + std::to_string(lim.ios) + " commands completed";
  m.st = error.empty() ? measurement::state::ok : measurement::state::failed;
  m.reason = error;
  return m;
}

// ---------------------------------------------------------------- fio: a child process

std::vector<std::string> fio_args(const target& t, side s, const bench_case& c, const run_limit& lim, double warm_s) {
  std::vector<std::string> a = {"fio", "--name=b"};
  if (s == side::fio_uring) {
    a.insert(a.end(), {"--ioengine=io_uring", "--direct=1", "--filename=" + t.block});
  } else {
    a.insert(a.end(), {"--ioengine=io_uring_cmd", "--cmd_type=nvme", "--filename=" + t.ng});
    if (s == side::fio_cmd_fixed) a.emplace_back("--fixedbufs=1");
  }
  a.insert(a.end(), {std::string("--rw=") + (c.w == workload::randread ? "randread" : "read"),
                     "--bs=" + std::to_string(c.bytes / 1024) + "k", "--iodepth=" + std::to_string(c.qd)});
  if (c.w == workload::randread)
    a.insert(a.end(), {"--norandommap", "--randrepeat=1", "--randseed=" + std::to_string(seed & 0xffffffff)});
  if (lim.timed) {
    a.insert(a.end(), {"--time_based", "--runtime=" + uc_bench::fio_ms(lim.seconds)});
    if (warm_s > 0) a.push_back("--ramp_time=" + uc_bench::fio_ms(warm_s));
  } else {
    a.push_back("--io_size=" + std::to_string(lim.ios * c.bytes));
  }
  a.emplace_back("--output-format=json");
  return a;
}

std::string joined(const std::vector<std::string>& args) {
  std::string s;
  for (const auto& a : args) s += (s.empty() ? "" : " ") + a;
  return s;
}

// ---------------------------------------------------------------- the run

struct row {
  bench_case c{};
  side s{};
  measurement m;
  std::optional<double> ratio;  // IOPS / ratio_base(s)'s
};

std::vector<row> bench(const target& t, uringcmd::executor& ex, buffers& bufs, const std::string& fixed_reason,
                       const options& o, int& failures) {
  std::vector<row> rows;
  auto wanted = [&](const bench_case& c, side s) {
    return o.filter.empty() || row_id(c, s).find(o.filter) != std::string::npos;
  };

  const unsigned rounds = o.quick ? 1 : 2;
  const run_limit round_lim =
      o.ios ? run_limit{false, 0, std::max<std::uint64_t>(1, o.ios / rounds)} : run_limit{true, o.seconds / rounds, 0};
  const double warm_s = std::min(0.25, o.seconds / 4);

  unsigned case_index = 0;
  for (const bench_case& c : all_cases) {
    std::vector<side> sides;
    for (side s : all_sides)
      if (wanted(c, s)) sides.push_back(s);
    if (sides.empty()) continue;
    std::rotate(sides.begin(), sides.begin() + static_cast<std::ptrdiff_t>(case_index++ % sides.size()), sides.end());

    geometry g;
    g.bytes = c.bytes;
    g.blocks = c.bytes / t.block_size;
    g.slots = std::max<std::uint64_t>(1, t.blocks / g.blocks);

    std::vector<row> mine;
    for (side s : sides) {
      row r;
      r.c = c;
      r.s = s;
      if (s == side::uringcmd_fixed && !fixed_reason.empty()) r.m.reason = fixed_reason;
      if (s == side::fio_uring && t.block.empty()) r.m.reason = "no block device for " + t.ng;
      if (is_fio(s) && o.quick) r.m.reason = "--quick";
      if (!r.m.reason.empty()) r.m.st = measurement::state::skipped;
      mine.push_back(std::move(r));
    }
    const std::string label = workload_name(c) + " qd" + std::to_string(c.qd);

    auto run_side = [&](const row& r, const run_limit& lim, std::uint64_t round_seed) -> measurement {
      if (!is_fio(r.s)) return run_ours(ex, t, r.s, c, g, bufs, lim, round_seed);
      const auto args = fio_args(t, r.s, c, lim, warm_s);
      std::fprintf(stderr, "   %s\n", joined(args).c_str());
      return uc_bench::run_fio_read(args);
    };

    // Warm-up: faults in buffers and the ring, fills the frame pool. fio warms up inside its own
    // run (--ramp_time). With a command count: one command per worker (--quick), else 32 at least.
    const run_limit warm_lim = o.ios || o.quick
                                   ? run_limit{false, 0, o.quick ? c.qd : std::max<std::uint64_t>(c.qd, 32)}
                                   : run_limit{true, warm_s, 0};
    uc_bench::run_rounds(mine, label, warm_lim, round_lim, rounds, seed, run_side, is_fio, side_name, 18, 19);

    for (row& r : mine) {
      if (r.m.st == measurement::state::failed) ++failures;
      if (r.m.st != measurement::state::ok) continue;
      if (r.m.counted_allocs && r.m.allocs != 0) {
        std::fprintf(stderr, "error: %s: %llu allocations in %llu commands (steady state must be 0)\n",
                     row_id(c, r.s).c_str(), static_cast<unsigned long long>(r.m.allocs),
                     static_cast<unsigned long long>(r.m.ios));
        ++failures;
      }
      for (const row& b : mine)
        if (b.s == ratio_base(r.s) && b.m.st == measurement::state::ok && b.m.iops() > 0)
          r.ratio = r.m.iops() / b.m.iops();
    }
    // Rows in the fixed side order, whatever order they ran in.
    std::sort(mine.begin(), mine.end(), [](const row& a, const row& b) { return a.s < b.s; });
    for (row& r : mine) rows.push_back(std::move(r));
  }
  return rows;
}

// ---------------------------------------------------------------- output

void print_json(const target& t, const row& r) {
  const bool ok = r.m.st == measurement::state::ok;
  const std::string ratio = r.ratio ? std::to_string(*r.ratio) : "null";
  const std::string allocs = ok && r.m.counted_allocs && r.m.ios
                                 ? std::to_string(static_cast<double>(r.m.allocs) / static_cast<double>(r.m.ios))
                                 : "null";
  std::printf(
      "{\"id\":\"%s\",\"device\":\"%s\",\"block\":\"%s\",\"nsid\":%u,\"lba_size\":%u,\"workload\":\"%s\","
      "\"bytes\":%u,\"qd\":%u,\"side\":\"%s\",\"status\":\"%s\",\"reason\":\"%s\",\"ios\":%llu,\"seconds\":%.4f,"
      "\"iops\":%.1f,\"mb_per_s\":%.3f,\"mean_lat_us\":%.2f,\"ratio_base\":\"%s\",\"ratio\":%s,"
      "\"allocs_per_op\":%s}\n",
      json_escape(row_id(r.c, r.s)).c_str(), json_escape(t.ng).c_str(), json_escape(t.block).c_str(), t.nsid,
      t.block_size, workload_name(r.c).c_str(), r.c.bytes, r.c.qd, side_name(r.s), state_name(r.m.st),
      json_escape(r.m.reason).c_str(), static_cast<unsigned long long>(r.m.ios), r.m.seconds, r.m.iops(),
      r.m.iops() * r.c.bytes / 1e6, r.m.mean_lat_us(), side_name(ratio_base(r.s)), ratio.c_str(), allocs.c_str());
}

void print_table(const std::vector<row>& rows) {
  std::printf("%-13s %4s %-19s %10s %8s %12s %9s %10s\n", "workload", "QD", "side", "IOPS", "MB/s", "mean lat us",
              "vs fio", "allocs/op");
  for (const row& r : rows) {
    const std::string w = workload_name(r.c);
    if (r.m.st != measurement::state::ok) {
      std::printf("%-13s %4u %-19s %s: %s\n", w.c_str(), r.c.qd, side_name(r.s), state_name(r.m.st),
                  r.m.reason.c_str());
      continue;
    }
    char ratio[16] = "-", allocs[16] = "-";
    if (r.ratio) std::snprintf(ratio, sizeof ratio, "%.2fx", *r.ratio);
    if (r.m.counted_allocs && r.m.ios)
      std::snprintf(allocs, sizeof allocs, "%.3g", static_cast<double>(r.m.allocs) / static_cast<double>(r.m.ios));
    std::printf("%-13s %4u %-19s %10s %8.1f %12.1f %9s %10s\n", w.c_str(), r.c.qd, side_name(r.s),
                human(r.m.iops()).c_str(), r.m.iops() * r.c.bytes / 1e6, r.m.mean_lat_us(), ratio, allocs);
  }
}

// The goal: ours >= 1.0x fio io_uring_cmd at QD 32 (4 KiB random reads), like with like.
// Reported, never enforced.
void print_goal(const std::vector<row>& rows, FILE* to) {
  for (const row& r : rows) {
    if (r.c.w != workload::randread || r.c.qd != 32 || !r.ratio) continue;
    if (r.s != side::uringcmd && r.s != side::uringcmd_fixed) continue;
    std::fprintf(to, "goal %s >= 1.0x %s at QD 32 (randread 4k): %.2fx, %s\n", side_name(r.s),
                 side_name(ratio_base(r.s)), *r.ratio, *r.ratio >= 1.0 ? "met" : "not met");
  }
}

// ---------------------------------------------------------------- main

int real_main(int argc, char** argv) {
  options o;
  bool seconds_given = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (a == "-h" || a == "--help") {
      print_help(argv[0]);
      return 0;
    } else if (a == "--json") {
      o.json = true;
    } else if (a == "--quick") {
      o.quick = true;
    } else if (a == "--device") {
      const char* v = value();
      if (!v) return std::fprintf(stderr, "--device wants a path\n"), 2;
      o.device = v;
    } else if (a == "--seconds") {
      if (!uc_bench::parse_seconds(value(), o.seconds))
        return std::fprintf(stderr, "--seconds wants a number in (0, 3600]\n"), 2;
      seconds_given = true;
    } else if (a == "--ios") {
      if (!uc_bench::parse_u64(value(), o.ios)) return std::fprintf(stderr, "--ios wants a positive integer\n"), 2;
    } else if (a == "--filter") {
      const char* v = value();
      if (!v) return std::fprintf(stderr, "--filter wants a text\n"), 2;
      o.filter = v;
    } else {
      std::fprintf(stderr, "unknown argument '%s' (see --help)\n", argv[i]);
      return 2;
    }
  }
  if (seconds_given && o.ios) return std::fprintf(stderr, "--seconds and --ios exclude each other\n"), 2;
  if (o.quick && !o.ios && !seconds_given) o.ios = 64;

  if (o.device.empty()) o.device = namespace_one();
  if (::access(o.device.c_str(), F_OK) != 0) {
    const char* guest = std::getenv("UC_VM_GUEST");
    if (uc_test::in_ci() || (guest && std::string_view(guest) == "1")) {
      std::fprintf(stderr, "error: %s: no such NVMe namespace\n", o.device.c_str());
      return 1;
    }
    std::printf("UC-SKIP: %s does not exist (run it in the test VM: scripts/vm run)\n", o.device.c_str());
    return 77;
  }

  // One executor for all of our sides; the namespace is opened (Identify Namespace and
  // Controller) outside every timed region.
  uringcmd::executor ex(uringcmd::ring_options::passthrough());
  auto opened = uringcmd::sync_wait(ex, nvme::namespace_device::open(o.device));
  if (!opened) {
    std::fprintf(stderr, "error: open %s: %s\n", o.device.c_str(), opened.describe().c_str());
    return 1;
  }
  nvme::namespace_device ns = std::move(opened).value();
  target t;
  t.ns = &ns;
  t.ng = ns.path();
  t.block = ns.block_path();
  if (::access(t.block.c_str(), F_OK) != 0) t.block.clear();
  t.nsid = ns.nsid();
  t.block_size = ns.block_size();
  t.blocks = ns.blocks();
  t.timeout_ms = ns.ctrl().options().io_timeout_ms;
  const auto& info = ns.info();
  std::fprintf(stderr, "== %s (nsid %u, block %s): %u-byte LBAs, %llu blocks (%llu MiB), max %u blocks per command\n",
               t.ng.c_str(), t.nsid, t.block.empty() ? "none" : t.block.c_str(), t.block_size,
               static_cast<unsigned long long>(t.blocks),
               static_cast<unsigned long long>(t.blocks * t.block_size >> 20), ns.max_transfer_blocks());
  if (info.metadata_size != 0 || info.extended_lba) {
    std::fprintf(stderr, "error: %s is formatted with %u bytes of metadata per block: pick one without (ng0n1, ng0n2)\n",
                 t.ng.c_str(), static_cast<unsigned>(info.metadata_size));
    return 2;
  }
  for (const bench_case& c : all_cases) {
    if (c.bytes % t.block_size != 0 || c.bytes / t.block_size > ns.max_transfer_blocks() ||
        t.blocks < c.bytes / t.block_size) {
      std::fprintf(stderr, "error: %s: %u-byte reads do not fit its LBA size or transfer limit\n", t.ng.c_str(),
                   c.bytes);
      return 2;
    }
  }

  // Every worker's buffer, 4 KiB aligned, in one region: registered as buffer 0 for the fixed side.
  buffers bufs(max_qd, max_bytes);
  std::string fixed_reason;
  {
    const auto all = bufs.all();
    const iovec iov{all.data(), all.size()};
    if (auto r = ex.register_buffers(std::span(&iov, 1)); !r)
      fixed_reason = "register_buffers: " + uringcmd::describe(r.error());
  }

  int failures = 0;
  const std::vector<row> rows = bench(t, ex, bufs, fixed_reason, o, failures);
  if (o.json) {
    for (const row& r : rows) print_json(t, r);
    print_goal(rows, stderr);
  } else {
    print_table(rows);
    print_goal(rows, stdout);
  }
  if (failures) {
    std::fprintf(stderr, "error: %d row(s) failed: a command failed or allocated (see above)\n", failures);
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return real_main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
