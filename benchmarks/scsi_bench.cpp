// SPDX-License-Identifier: MIT
// uringcmd-scsi-bench: SCSI passthrough, four ways, on the same disk in the same run (issue 7).
//
//   bsg     scsi::device forced to BSG io_uring (IORING_OP_URING_CMD on /dev/bsg/H:C:T:L): QD
//           coroutines on one executor (ring_options::passthrough()), each with its own buffer
//   sg-ring scsi::device forced to the sg transport (write()/read() of sg_io_hdr on /dev/sgN
//           through the same kind of ring): the fallback for kernels without BSG io_uring
//   sg_io   blocking ioctl(SG_IO) on /dev/sgN, the sg3_utils way: QD threads, each with its own
//           fd (sg holds at most 16 commands per fd) and buffer
//   fio-sg  Debian's fio, --ioengine=sg on the same /dev/sgN, as a child process; its JSON IOPS
//
// Workloads: 4 KiB random reads (READ(10) at random 4 KiB-aligned LBAs within the first 32 MiB,
// fixed seed) at QD 1 and 32, and INQUIRY at batch 1 and 64 (that many commands kept in flight).
// Each case: a warm-up per side, then two rounds of half the time each, the second in reverse
// order, so that drift hits every side alike. Every command's status is checked: a failed command
// fails the run (exit 1); a timing ratio never does. fio failing is a skipped row, not a failure.
#include <fcntl.h>
#include <scsi/sg.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <uringcmd/error.hpp>
#include <uringcmd/executor.hpp>
#include <uringcmd/ring_options.hpp>
#include <uringcmd/scsi/cdb.hpp>
#include <uringcmd/scsi/device.hpp>
#include <uringcmd/sync_wait.hpp>
#include <uringcmd/task.hpp>

#include "alloc_counter.hpp"
#include "bench_common.hpp"
#include "support/ci.hpp"

namespace {

namespace scsi = uringcmd::scsi;
using uringcmd::task;
using uc_bench::buffers;
using uc_bench::clock_type;
using uc_bench::first_entry;
using uc_bench::human;
using uc_bench::json_escape;
using uc_bench::measurement;
using uc_bench::parse_seconds;
using uc_bench::parse_u64;
using uc_bench::read_line;
using uc_bench::ring_limit;
using uc_bench::run_limit;
using uc_bench::splitmix64;
using uc_bench::state_name;

constexpr std::uint64_t seed = 0x5c51'7b3e'0000'0007ULL;  // issue 7
constexpr std::size_t io_bytes_wanted = 4096;
constexpr std::uint64_t region_bytes = 32ULL << 20;  // random LBAs within the first 32 MiB
constexpr std::size_t inquiry_len = 96;
constexpr std::uint32_t min_inquiry_len = 36;  // a standard INQUIRY answer is at least this long
constexpr unsigned sg_fd_queue = 16;           // SG_MAX_QUEUE: commands one sg fd holds

// ---------------------------------------------------------------- options

struct options {
  std::vector<std::string> devices;
  double seconds = 2;      // per side and case, split over the rounds
  std::uint64_t ios = 0;   // instead of seconds: commands per side and case
  bool quick = false;
  bool json = false;
  std::string filter;
};

void print_help(const char* argv0) {
  std::printf(
      "usage: %s [--device PATH]... [--seconds S | --ios N] [--quick] [--json] [--filter TEXT] [--help]\n"
      "\n"
      "SCSI passthrough on the same disk, same run: BSG io_uring (bsg), the sg fallback through the\n"
      "ring (sg-ring), blocking ioctl(SG_IO) in threads (sg_io) and fio's sg engine (fio-sg).\n"
      "Workloads: 4 KiB random reads at QD 1 and 32; INQUIRY at batch 1 and 64 (in flight).\n"
      "\n"
      "  --device PATH   a disk: /dev/sdX, /dev/sgN or /dev/bsg/H:C:T:L (repeatable; default:\n"
      "                  every SCSI disk in /sys/class/scsi_device)\n"
      "  --seconds S     measured time per side and case (default 2), in two rounds, plus a\n"
      "                  warm-up of min(0.25, S/4) s\n"
      "  --ios N         a fixed number of commands per side and case instead of a time\n"
      "  --quick         smoke run: 64 commands per side and case, one round, fio skipped\n"
      "  --json          one JSON object per line per row instead of the table\n"
      "  --filter TEXT   only the rows whose id contains TEXT; ids look like\n"
      "                  sdb/randread/qd32/bsg, sda/inquiry/qd64/sg_io\n"
      "  -h, --help      this text\n"
      "\n"
      "Exit status: 0 on success; 1 if a command failed (transport error, bad status, short\n"
      "transfer); 2 on a usage error; 77 if no SCSI disk was found (1 in CI or in the test VM).\n"
      "A missing or failing fio is a skipped row. Progress goes to stderr, results to stdout.\n",
      argv0);
}

// ---------------------------------------------------------------- disks (sysfs)

struct disk {
  std::string hctl;   // H:C:T:L
  std::string model;  // sysfs model, trimmed
  std::string block;  // sda
  std::string sg;     // /dev/sgN ("" without the sg driver)
  std::string bsg;    // /dev/bsg/H:C:T:L
  std::string name() const { return block.empty() ? hctl : block; }
};

std::optional<disk> disk_at(const std::string& hctl) {
  namespace fs = std::filesystem;
  const fs::path d = fs::path("/sys/class/scsi_device") / hctl / "device";
  std::error_code ec;
  if (!fs::exists(d, ec)) return std::nullopt;
  disk k;
  k.hctl = hctl;
  k.model = read_line(d / "model");
  k.block = first_entry(d / "block");
  const std::string sg = first_entry(d / "scsi_generic");
  if (!sg.empty()) k.sg = "/dev/" + sg;
  k.bsg = "/dev/bsg/" + hctl;
  return k;
}

// Every direct-access device (type 0) that has a block device.
std::vector<disk> find_disks() {
  namespace fs = std::filesystem;
  std::vector<std::string> hctls;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/sys/class/scsi_device", ec)) {
    if (read_line(e.path() / "device" / "type") != "0") continue;
    hctls.push_back(e.path().filename().string());
  }
  std::sort(hctls.begin(), hctls.end());
  std::vector<disk> out;
  for (const auto& h : hctls)
    if (auto k = disk_at(h); k && !k->block.empty()) out.push_back(std::move(*k));
  return out;
}

// /dev/bsg/H:C:T:L, /dev/sgN or /dev/sdX -> its disk.
std::optional<disk> disk_for(const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path p(path);
  if (p.parent_path() == "/dev/bsg") return disk_at(p.filename().string());
  const std::string name = p.filename().string();
  std::error_code ec;
  for (const auto& d : fs::directory_iterator("/sys/class/scsi_device", ec)) {
    for (const char* sub : {"block", "scsi_generic"}) {
      for (const auto& e : fs::directory_iterator(d.path() / "device" / sub, ec))
        if (e.path().filename() == name) return disk_at(d.path().filename().string());
    }
  }
  return std::nullopt;
}

// ---------------------------------------------------------------- cases, rows

enum class workload { randread, inquiry };
enum class side { bsg, sg_ring, sg_io, fio_sg };
constexpr side all_sides[] = {side::bsg, side::sg_ring, side::sg_io, side::fio_sg};

const char* side_name(side s) {
  switch (s) {
    case side::bsg: return "bsg";
    case side::sg_ring: return "sg-ring";
    case side::sg_io: return "sg_io";
    case side::fio_sg: return "fio-sg";
  }
  return "?";
}
const char* workload_name(workload w) { return w == workload::randread ? "randread" : "inquiry"; }

struct bench_case {
  workload w;
  unsigned qd;
};
constexpr bench_case all_cases[] = {
    {workload::randread, 1}, {workload::randread, 32}, {workload::inquiry, 1}, {workload::inquiry, 64}};

std::string row_id(const disk& k, const bench_case& c, side s) {
  return k.name() + "/" + workload_name(c.w) + "/qd" + std::to_string(c.qd) + "/" + side_name(s);
}

/// The I/O geometry of one disk.
struct geometry {
  std::uint32_t block_size = 512;
  std::uint16_t blocks = 8;     // per read
  std::uint32_t bytes = 4096;   // per read
  std::uint64_t slots = 1;      // aligned positions within the region
};

// ---------------------------------------------------------------- ours: coroutines on one executor

struct worker_state {
  std::span<std::byte> buf;
  std::uint64_t rng = 0;
  std::uint64_t done = 0;
  double lat_sum_us = 0;
  std::string error;  // the first failure
};

// Whether a command's answer is acceptable; records the first failure otherwise.
bool accept(scsi::response<std::uint32_t> r, workload w, const geometry& g, worker_state& ws) {
  if (!r) {
    ws.error = r.describe();
    return false;
  }
  const bool ok = w == workload::randread ? *r == g.bytes : *r >= min_inquiry_len;
  if (!ok) ws.error = "short transfer: " + std::to_string(*r) + " bytes";
  return ok;
}

task<void> ring_worker(scsi::device& dev, workload w, const geometry& g, worker_state& ws, ring_limit& lim) {
  while (lim.take()) {
    const auto t0 = clock_type::now();
    bool ok = false;
    if (w == workload::randread) {
      const auto lba = static_cast<std::uint32_t>(splitmix64(ws.rng) % g.slots * g.blocks);
      ok = accept(co_await dev.read10(lba, g.blocks, ws.buf), w, g, ws);
    } else {
      ok = accept(co_await dev.execute(scsi::inquiry(static_cast<std::uint16_t>(inquiry_len)),
                                       scsi::data_dir::from_device, ws.buf),
                  w, g, ws);
    }
    ws.lat_sum_us += std::chrono::duration<double, std::micro>(clock_type::now() - t0).count();
    if (!ok) {
      lim.stop = true;
      co_return;
    }
    ++ws.done;
  }
}

measurement run_ring(uringcmd::executor& ex, scsi::device& dev, workload w, unsigned qd, const geometry& g,
                     buffers& bufs, const run_limit& lim, std::uint64_t round_seed) {
  std::vector<worker_state> ws(qd);
  for (unsigned i = 0; i < qd; ++i) {
    ws[i].buf = bufs.at(i, w == workload::randread ? g.bytes : inquiry_len);
    ws[i].rng = round_seed + i * 0x1000193ULL;
  }
  ring_limit rl{lim};
  rl.remaining = lim.ios;
  measurement m;
  m.counted_allocs = true;
  std::string error;
  const std::uint64_t a0 = uc_bench::allocation_count();
  const auto t0 = clock_type::now();
  rl.deadline = t0 + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(lim.seconds));
  try {
    for (unsigned i = 0; i < qd; ++i) ex.spawn(ring_worker(dev, w, g, ws[i], rl));
    ex.run();
  } catch (const std::exception& e) {
    error = std::string("exception: ") + e.what();
  }
  const auto t1 = clock_type::now();
  m.allocs = uc_bench::allocation_count() - a0;
  m.seconds = std::chrono::duration<double>(t1 - t0).count();
  for (const auto& s : ws) {
    m.ios += s.done;
    m.lat_sum_us += s.lat_sum_us;
    if (error.empty() && !s.error.empty()) error = s.error;
  }
  if (!lim.timed && error.empty() && m.ios != lim.ios)
    error = std::to_string(m.ios) + " of " + std::to_string(lim.ios) + " commands completed";
  m.st = error.empty() ? measurement::state::ok : measurement::state::failed;
  m.reason = error;
  return m;
}

// ---------------------------------------------------------------- sg_io: blocking ioctl, threads

struct thread_limit {
  run_limit lim;
  clock_type::time_point deadline{};
  std::atomic<std::int64_t> remaining{0};
  std::atomic<bool> stop{false};
  bool take() noexcept {
    if (stop.load(std::memory_order_relaxed)) return false;
    if (lim.timed) return clock_type::now() < deadline;
    return remaining.fetch_sub(1, std::memory_order_relaxed) > 0;
  }
};

void sgio_worker(int fd, workload w, const geometry& g, worker_state& ws, thread_limit& lim,
                 const std::atomic<bool>& go) {
  go.wait(false, std::memory_order_acquire);
  std::array<unsigned char, 16> cdb{};
  std::array<unsigned char, 96> sense{};
  while (lim.take()) {
    sg_io_hdr_t h{};
    h.interface_id = 'S';
    h.dxfer_direction = SG_DXFER_FROM_DEV;
    h.sbp = sense.data();
    h.mx_sb_len = static_cast<unsigned char>(sense.size());
    h.dxferp = ws.buf.data();
    h.timeout = 60'000;
    std::uint32_t want = 0;
    if (w == workload::randread) {
      const auto lba = static_cast<std::uint32_t>(splitmix64(ws.rng) % g.slots * g.blocks);
      const scsi::cdb c = scsi::read10(lba, g.blocks);
      std::memcpy(cdb.data(), c.bytes().data(), c.bytes().size());
      h.cmd_len = static_cast<unsigned char>(c.bytes().size());
      h.dxfer_len = g.bytes;
      want = g.bytes;
    } else {
      const scsi::cdb c = scsi::inquiry(static_cast<std::uint16_t>(inquiry_len));
      std::memcpy(cdb.data(), c.bytes().data(), c.bytes().size());
      h.cmd_len = static_cast<unsigned char>(c.bytes().size());
      h.dxfer_len = static_cast<unsigned>(inquiry_len);
      want = min_inquiry_len;
    }
    h.cmdp = cdb.data();
    const auto t0 = clock_type::now();
    const int rc = ::ioctl(fd, SG_IO, &h);
    const int err = errno;
    ws.lat_sum_us += std::chrono::duration<double, std::micro>(clock_type::now() - t0).count();
    const std::uint32_t moved = h.resid > 0 ? h.dxfer_len - static_cast<std::uint32_t>(h.resid) : h.dxfer_len;
    char buf[160];
    if (rc < 0) {
      ws.error = "ioctl(SG_IO): " + uringcmd::describe(uringcmd::errno_code(err));
    } else if ((h.info & SG_INFO_OK_MASK) != SG_INFO_OK || h.status || h.host_status) {
      std::snprintf(buf, sizeof buf, "SG_IO: status 0x%02x host 0x%02x driver 0x%02x", h.status, h.host_status,
                    h.driver_status);
      ws.error = buf;
    } else if (moved < want || (w == workload::randread && moved != want)) {
      ws.error = "SG_IO: short transfer: " + std::to_string(moved) + " bytes";
    } else {
      ++ws.done;
      continue;
    }
    lim.stop.store(true, std::memory_order_relaxed);
    return;
  }
}

measurement run_sgio(const disk& k, workload w, unsigned qd, const geometry& g, buffers& bufs, const run_limit& lim,
                     std::uint64_t round_seed) {
  measurement m;
  std::vector<int> fds;
  std::string error;
  // One fd per thread: one sg fd holds at most 16 commands (EDOM beyond), and sg3_utils tools
  // open their own.
  for (unsigned i = 0; i < qd; ++i) {
    const int fd = ::open(k.sg.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) {
      error = "open " + k.sg + ": " + uringcmd::describe(uringcmd::errno_code(errno));
      break;
    }
    fds.push_back(fd);
  }
  if (error.empty()) {
    std::vector<worker_state> ws(qd);
    thread_limit tl;
    tl.lim = lim;
    tl.remaining.store(static_cast<std::int64_t>(lim.ios));
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    threads.reserve(qd);
    for (unsigned i = 0; i < qd; ++i) {
      ws[i].buf = bufs.at(i, w == workload::randread ? g.bytes : inquiry_len);
      ws[i].rng = round_seed + i * 0x1000193ULL;
      threads.emplace_back(sgio_worker, fds[i], w, std::cref(g), std::ref(ws[i]), std::ref(tl), std::cref(go));
    }
    const auto t0 = clock_type::now();
    tl.deadline = t0 + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(lim.seconds));
    go.store(true, std::memory_order_release);
    go.notify_all();
    for (auto& t : threads) t.join();
    m.seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
    for (const auto& s : ws) {
      m.ios += s.done;
      m.lat_sum_us += s.lat_sum_us;
      if (error.empty() && !s.error.empty()) error = s.error;
    }
    if (!lim.timed && error.empty() && m.ios != lim.ios)
      error = std::to_string(m.ios) + " of " + std::to_string(lim.ios) + " commands completed";
  }
  for (int fd : fds) ::close(fd);
  m.st = error.empty() ? measurement::state::ok : measurement::state::failed;
  m.reason = error;
  return m;
}

// ---------------------------------------------------------------- fio-sg: a child process

measurement run_fio(const disk& k, unsigned qd, const run_limit& lim, double warm_s) {
  // sg takes at most 16 commands per fd (fio's own --iodepth=32 fails with EDOM): above that, as
  // many jobs (fds) as needed, reported as one group.
  const unsigned jobs = (qd + sg_fd_queue - 1) / sg_fd_queue;
  const unsigned depth = qd / jobs;
  std::vector<std::string> args = {"fio", "--name=b", "--filename=" + k.sg, "--ioengine=sg", "--rw=randread",
                                   "--bs=4k", "--iodepth=" + std::to_string(depth), "--size=32M",
                                   "--norandommap", "--randrepeat=1", "--randseed=" + std::to_string(seed & 0xffffffff),
                                   "--output-format=json"};
  if (jobs > 1) {
    args.push_back("--numjobs=" + std::to_string(jobs));
    args.push_back("--group_reporting");
  }
  if (lim.timed) {
    args.push_back("--time_based");
    args.push_back("--runtime=" + uc_bench::fio_ms(lim.seconds));
    if (warm_s > 0) args.push_back("--ramp_time=" + uc_bench::fio_ms(warm_s));
  } else {
    args.push_back("--io_size=" + std::to_string(lim.ios / jobs * io_bytes_wanted));
  }
  return uc_bench::run_fio_read(args);
}

// ---------------------------------------------------------------- one disk

struct row {
  const disk* k = nullptr;
  bench_case c{};
  side s{};
  measurement m;
  std::optional<double> ratio;  // IOPS / sg_io's
  std::uint32_t bytes = 0;      // per command, for MB/s (reads only)
};

struct ours {
  std::optional<scsi::device> dev;
  std::string reason;  // why not
};

ours open_ours(uringcmd::executor& ex, const disk& k, scsi::transport t) {
  ours o;
  scsi::device_options opts;
  opts.force = t;
  try {
    auto r = uringcmd::sync_wait(ex, scsi::device::open(k.bsg, opts));
    if (!r) {
      o.reason = "open (" + std::string(t == scsi::transport::bsg_uring ? "BSG io_uring" : "sg") + "): " + r.describe();
    } else if (r->which() != t) {
      o.reason = "open: got the other transport";
    } else if (!r->capacity() || !r->capacity()->block_size) {
      o.reason = "READ CAPACITY failed";
    } else {
      o.dev.emplace(std::move(*r));
    }
  } catch (const std::exception& e) {
    o.reason = std::string("open: ") + e.what();
  }
  return o;
}

std::string scsi_debug_note(const disk& k) {
  if (k.model != "scsi_debug") return {};
  const std::string d = read_line("/sys/module/scsi_debug/parameters/delay");
  const std::string nd = read_line("/sys/module/scsi_debug/parameters/ndelay");
  if (d.empty()) return {};
  return "scsi_debug delay=" + d + " jiffies ndelay=" + (nd.empty() ? "?" : nd) + " ns";
}

std::vector<row> bench_disk(const disk& k, const options& o, int& failures) {
  std::vector<row> rows;
  const std::string name = k.name();
  std::fprintf(stderr, "== %s (%s): %s, %s%s%s\n", name.c_str(), k.model.c_str(), k.bsg.c_str(),
               k.sg.empty() ? "no sg node" : k.sg.c_str(), scsi_debug_note(k).empty() ? "" : ", ",
               scsi_debug_note(k).c_str());

  auto wanted = [&](const bench_case& c, side s) {
    if (c.w == workload::inquiry && s == side::fio_sg) return false;
    return o.filter.empty() || row_id(k, c, s).find(o.filter) != std::string::npos;
  };

  // One executor for both of our transports; the devices are opened (TEST UNIT READY, READ
  // CAPACITY, block limits) outside every timed region.
  uringcmd::executor ex(uringcmd::ring_options::passthrough());
  ours via_bsg = open_ours(ex, k, scsi::transport::bsg_uring);
  ours via_sg = k.sg.empty() ? ours{std::nullopt, "no sg node"} : open_ours(ex, k, scsi::transport::sg_async);
  const scsi::device* any = via_bsg.dev ? &*via_bsg.dev : via_sg.dev ? &*via_sg.dev : nullptr;
  geometry g;
  if (any) {
    g.block_size = any->capacity()->block_size;
  } else {
    // Neither of ours opened: READ CAPACITY through SG_IO is not worth a second implementation;
    // 512 is what both guest disks use.
    std::fprintf(stderr, "   %s; %s; assuming 512-byte blocks\n", via_bsg.reason.c_str(), via_sg.reason.c_str());
  }
  g.blocks = static_cast<std::uint16_t>(std::max<std::uint32_t>(1, static_cast<std::uint32_t>(io_bytes_wanted) / g.block_size));
  g.bytes = g.blocks * g.block_size;
  std::uint64_t region_blocks = region_bytes / g.block_size;
  if (any) region_blocks = std::min<std::uint64_t>(region_blocks, any->capacity()->blocks());
  g.slots = std::max<std::uint64_t>(1, region_blocks / g.blocks);
  std::fprintf(stderr, "   block size %u: reads of %u blocks (%u bytes) at %llu aligned positions\n", g.block_size,
               g.blocks, g.bytes, static_cast<unsigned long long>(g.slots));

  const unsigned rounds = o.quick ? 1 : 2;
  run_limit round_lim;
  run_limit warm_lim;
  if (o.ios) {
    round_lim = {false, 0, std::max<std::uint64_t>(1, o.ios / rounds)};
  } else {
    round_lim = {true, o.seconds / rounds, 0};
  }
  const double warm_s = std::min(0.25, o.seconds / 4);

  unsigned case_index = 0;
  for (const bench_case& c : all_cases) {
    std::vector<side> sides;
    for (side s : all_sides)
      if (wanted(c, s)) sides.push_back(s);
    if (sides.empty()) continue;
    std::rotate(sides.begin(), sides.begin() + static_cast<std::ptrdiff_t>(case_index++ % sides.size()), sides.end());

    std::vector<row> mine;
    for (side s : sides) {
      row r;
      r.k = &k;
      r.c = c;
      r.s = s;
      r.bytes = g.bytes;
      if (s == side::bsg && !via_bsg.dev) r.m.reason = via_bsg.reason;
      if (s == side::sg_ring && !via_sg.dev) r.m.reason = via_sg.reason;
      if ((s == side::sg_io || s == side::fio_sg) && k.sg.empty()) r.m.reason = "no sg node";
      if (s == side::fio_sg && o.quick) r.m.reason = "--quick";
      if (!r.m.reason.empty()) r.m.st = measurement::state::skipped;
      mine.push_back(std::move(r));
    }
    buffers bufs(c.qd, std::max<std::size_t>(g.bytes, inquiry_len));
    const std::string label = k.name() + " " + workload_name(c.w) + " qd" + std::to_string(c.qd);

    auto run_side = [&](const row& r, const run_limit& lim, std::uint64_t round_seed) -> measurement {
      switch (r.s) {
        case side::bsg: return run_ring(ex, *via_bsg.dev, c.w, c.qd, g, bufs, lim, round_seed);
        case side::sg_ring: return run_ring(ex, *via_sg.dev, c.w, c.qd, g, bufs, lim, round_seed);
        case side::sg_io: return run_sgio(k, c.w, c.qd, g, bufs, lim, round_seed);
        case side::fio_sg: return run_fio(k, c.qd, lim, warm_s);
      }
      return {};
    };

    // Warm-up: faults in buffers and rings, fills the frame pool, starts io-wq workers. fio
    // warms up inside its own run (--ramp_time).
    // With a command count: one command per worker (--quick), else 32 at least.
    warm_lim = o.ios || o.quick ? run_limit{false, 0, o.quick ? c.qd : std::max<std::uint64_t>(c.qd, 32)}
                                : run_limit{true, warm_s, 0};
    uc_bench::run_rounds(mine, label, warm_lim, round_lim, rounds, seed, run_side,
                         [](side s) { return s == side::fio_sg; }, side_name, 20, 7);

    const row* base = nullptr;
    for (const row& r : mine)
      if (r.s == side::sg_io && r.m.st == measurement::state::ok) base = &r;
    for (row& r : mine) {
      if (r.m.st == measurement::state::failed) ++failures;
      if (base && r.m.st == measurement::state::ok && base->m.iops() > 0) r.ratio = r.m.iops() / base->m.iops();
    }
    // Rows in the fixed side order, whatever order they ran in.
    std::sort(mine.begin(), mine.end(), [](const row& a, const row& b) { return a.s < b.s; });
    for (row& r : mine) rows.push_back(std::move(r));
  }
  return rows;
}

// ---------------------------------------------------------------- output

void print_json(const row& r) {
  const bool ok = r.m.st == measurement::state::ok;
  const bool rd = r.c.w == workload::randread;
  std::string ratio = r.ratio ? std::to_string(*r.ratio) : "null";
  std::string allocs = ok && r.m.counted_allocs && r.m.ios
                           ? std::to_string(static_cast<double>(r.m.allocs) / static_cast<double>(r.m.ios))
                           : "null";
  std::printf(
      "{\"id\":\"%s\",\"device\":\"%s\",\"bsg\":\"%s\",\"sg\":\"%s\",\"model\":\"%s\",\"workload\":\"%s\","
      "\"qd\":%u,\"side\":\"%s\",\"status\":\"%s\",\"reason\":\"%s\",\"ios\":%llu,\"seconds\":%.4f,"
      "\"iops\":%.1f,\"mb_per_s\":%.3f,\"mean_lat_us\":%.2f,\"ratio_vs_sg_io\":%s,\"allocs_per_op\":%s}\n",
      json_escape(row_id(*r.k, r.c, r.s)).c_str(), json_escape(r.k->name()).c_str(), json_escape(r.k->bsg).c_str(),
      json_escape(r.k->sg).c_str(), json_escape(r.k->model).c_str(), workload_name(r.c.w), r.c.qd, side_name(r.s),
      state_name(r.m.st), json_escape(r.m.reason).c_str(), static_cast<unsigned long long>(r.m.ios), r.m.seconds,
      r.m.iops(), rd ? r.m.iops() * r.bytes / 1e6 : 0.0, r.m.mean_lat_us(), ratio.c_str(), allocs.c_str());
}

void print_table(const std::vector<row>& rows) {
  std::printf("%-22s %-9s %4s %-8s %10s %8s %12s %9s %10s\n", "device", "workload", "QD", "side", "IOPS", "MB/s",
              "mean lat us", "vs SG_IO", "allocs/op");
  for (const row& r : rows) {
    const std::string dev = r.k->name() + " " + r.k->model;
    if (r.m.st != measurement::state::ok) {
      std::printf("%-22s %-9s %4u %-8s %s: %s\n", dev.c_str(), workload_name(r.c.w), r.c.qd, side_name(r.s),
                  state_name(r.m.st), r.m.reason.c_str());
      continue;
    }
    char mbs[16] = "-", ratio[16] = "-", allocs[16] = "-";
    if (r.c.w == workload::randread) std::snprintf(mbs, sizeof mbs, "%.1f", r.m.iops() * r.bytes / 1e6);
    if (r.ratio) std::snprintf(ratio, sizeof ratio, "%.2fx", *r.ratio);
    if (r.m.counted_allocs && r.m.ios)
      std::snprintf(allocs, sizeof allocs, "%.3g", static_cast<double>(r.m.allocs) / static_cast<double>(r.m.ios));
    std::printf("%-22s %-9s %4u %-8s %10s %8s %12.1f %9s %10s\n", dev.c_str(), workload_name(r.c.w), r.c.qd,
                side_name(r.s), human(r.m.iops()).c_str(), mbs, r.m.mean_lat_us(), ratio, allocs);
  }
}

// The goal: BSG >= 1.5x SG_IO at QD 32 (4 KiB random reads). Reported, never enforced.
void print_goal(const std::vector<row>& rows, FILE* to) {
  for (const row& r : rows) {
    if (r.c.w != workload::randread || r.c.qd != 32 || r.s != side::bsg || !r.ratio) continue;
    std::fprintf(to, "goal bsg >= 1.5x sg_io at QD 32, %s (%s): %.2fx, %s\n", r.k->name().c_str(), r.k->model.c_str(),
                 *r.ratio, *r.ratio >= 1.5 ? "met" : "not met");
  }
}

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
      o.devices.emplace_back(v);
    } else if (a == "--seconds") {
      if (!parse_seconds(value(), o.seconds)) return std::fprintf(stderr, "--seconds wants a number in (0, 3600]\n"), 2;
      seconds_given = true;
    } else if (a == "--ios") {
      if (!parse_u64(value(), o.ios)) return std::fprintf(stderr, "--ios wants a positive integer\n"), 2;
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

  std::vector<disk> disks;
  if (o.devices.empty()) {
    disks = find_disks();
  } else {
    for (const auto& p : o.devices) {
      auto k = disk_for(p);
      if (!k) return std::fprintf(stderr, "error: %s: not a SCSI device in /sys/class/scsi_device\n", p.c_str()), 1;
      disks.push_back(std::move(*k));
    }
  }
  if (disks.empty()) {
    const char* guest = std::getenv("UC_VM_GUEST");
    if (uc_test::in_ci() || (guest && std::string_view(guest) == "1")) {
      std::fprintf(stderr, "error: no SCSI disk found in /sys/class/scsi_device\n");
      return 1;
    }
    std::printf("UC-SKIP: no SCSI disk found in /sys/class/scsi_device (run it in the test VM: scripts/vm run)\n");
    return 77;
  }

  int failures = 0;
  std::vector<row> rows;
  for (const disk& k : disks) {
    auto more = bench_disk(k, o, failures);
    for (auto& r : more) rows.push_back(std::move(r));
  }
  if (o.json) {
    for (const row& r : rows) print_json(r);
    print_goal(rows, stderr);
  } else {
    print_table(rows);
    print_goal(rows, stdout);
  }
  if (failures) {
    std::fprintf(stderr, "error: %d row(s) failed: a command failed (see above)\n", failures);
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
