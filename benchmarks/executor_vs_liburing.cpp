// SPDX-License-Identifier: MIT
// uringcmd-bench: the executor against hand-written liburing, in the same process and run.
//
// For each benchmark, both sides get their own ring set up with the same flags (the executor's
// default ring_options). After one warm-up round per side, R measured rounds alternate which side
// goes first; the report is the median ops/s of each side and the ratio of the medians. Heap
// allocations are counted across the timed region only (after the warm-up).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/sockios.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <uringcmd/error.hpp>
#include <uringcmd/executor.hpp>
#include <uringcmd/ring.hpp>
#include <uringcmd/ring_options.hpp>

#include "alloc_counter.hpp"
#include "support/ci.hpp"
#include "baseline.hpp"
#include "workloads.hpp"

namespace uc_bench {
namespace {

// ---------------------------------------------------------------- options

struct options {
  std::uint64_t ops = 2'000'000;  // per round and side
  unsigned rounds = 5;
  bool json = false;
  bool quick = false;
  bool list = false;
  std::string only;    // "<case>/<side>", e.g. "nop/d32/uringcmd"
  std::string filter;  // run only benchmarks whose id contains this
};

void print_help(const char* argv0) {
  std::printf(
      "usage: %s [--ops N] [--rounds R] [--quick] [--json] [--filter TEXT] [--only NAME/SIDE] [--list]\n"
      "\n"
      "Compares the uringcmd executor (D coroutines looping over co_await) with a hand-written\n"
      "liburing refill loop in C style, in the same process, on rings with the same setup flags.\n"
      "Each benchmark runs one warm-up round per side, then R rounds alternating which side goes\n"
      "first; it reports the median ops/s of each side, the ratio of the medians (uringcmd/baseline)\n"
      "and the heap allocations per op on the uringcmd side, counted over the timed rounds only.\n"
      "\n"
      "  --ops N         ops per round and side (default 2000000)\n"
      "  --rounds R      measured rounds per benchmark (default 5)\n"
      "  --quick         CI smoke run: 20000 ops, 3 rounds (a few hundred ms)\n"
      "  --json          one JSON object per line per benchmark instead of the table\n"
      "  --filter TEXT   run only the benchmarks whose name (see --list) contains TEXT\n"
      "  --only C/SIDE   run exactly one round of N ops of one side, nothing else (for callgrind);\n"
      "                  SIDE is uringcmd or baseline, e.g. --only nop/d32/uringcmd\n"
      "  --list          list the benchmark names\n"
      "  -h, --help      this text\n"
      "\n"
      "Exit status: 0 on success; 1 if an op failed or returned a wrong value, or if a plain NOP\n"
      "benchmark allocated in steady state; 2 on a usage error. Timing ratios never fail the run.\n"
      "Progress goes to stderr, results to stdout.\n",
      argv0);
}

bool parse_u64(const char* s, std::uint64_t& out) {
  if (!s || !*s) return false;
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(s, &end, 10);
  if (errno || *end || v == 0) return false;
  out = v;
  return true;
}

// ---------------------------------------------------------------- cases

enum class workload { nop, nop_nested, siocinq };

struct bench_case {
  const char* name;
  workload kind;
  unsigned depth;
  bool assert_no_allocs;  // plain-awaiter NOP: a steady-state allocation fails the run

  std::string id() const { return std::string(name) + "/d" + std::to_string(depth); }
};

constexpr bench_case all_cases[] = {
    {"nop", workload::nop, 1, true},
    {"nop", workload::nop, 32, true},
    {"nop", workload::nop, 128, true},
    {"nop_nested", workload::nop_nested, 32, false},
    {"sock_siocinq", workload::siocinq, 1, false},
    {"sock_siocinq", workload::siocinq, 32, false},
};

// ---------------------------------------------------------------- socket fixture

/// A connected loopback TCP pair with `queued` bytes waiting on `reader` (never read).
struct tcp_fixture {
  int listener = -1, writer = -1, reader = -1;
  int queued = 0;
  std::string error;

  ~tcp_fixture() {
    for (int fd : {reader, writer, listener})
      if (fd >= 0) ::close(fd);
  }

  bool open(int bytes) {
    listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listener < 0) return fail("socket");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) return fail("bind");
    if (::listen(listener, 1) < 0) return fail("listen");
    if (::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) < 0) return fail("getsockname");
    writer = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (writer < 0) return fail("socket");
    if (::connect(writer, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) return fail("connect");
    reader = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (reader < 0) return fail("accept4");
    std::vector<char> payload(static_cast<std::size_t>(bytes), 'x');
    if (::write(writer, payload.data(), payload.size()) != static_cast<ssize_t>(payload.size())) return fail("write");
    // Wait until every byte is in the reader's receive queue.
    for (int tries = 0; tries < 100; ++tries) {
      pollfd p{reader, POLLIN, 0};
      ::poll(&p, 1, 10);
      int inq = 0;
      if (::ioctl(reader, SIOCINQ, &inq) < 0) return fail("ioctl(SIOCINQ)");
      if (inq == bytes) {
        queued = bytes;
        return true;
      }
    }
    error = "the queued bytes never arrived";
    return false;
  }

  bool fail(const char* what) {
    error = std::string(what) + ": " + uringcmd::describe(uringcmd::errno_code(errno));
    return false;
  }
};

// ---------------------------------------------------------------- measurement

using clock_type = std::chrono::steady_clock;

struct sample {
  double seconds = 0;
  std::uint64_t allocs = 0;
  std::uint64_t completed = 0;
  std::uint64_t bad = 0;
  int enter_error = 0;
  std::string exception;  // the executor threw
};

/// One benchmark's two rings: the executor and the hand-driven baseline ring, set up by the same
/// uringcmd::ring code (same flags, CQ size and registered ring fd), both owned by this thread.
class bench_rings {
 public:
  explicit bench_rings(const uringcmd::ring_options& opts) : ex_(opts), baseline_(opts) {
    ex_.run_once(false);  // adopts the executor's ring here, as the baseline's
    baseline_.adopt();
  }

  uringcmd::executor& ex() noexcept { return ex_; }
  io_uring* ring() noexcept { return &baseline_.native(); }
  std::uint32_t baseline_flags() const noexcept { return baseline_.flags(); }
  bool baseline_fd_registered() const noexcept { return baseline_.fd_registered(); }

 private:
  uringcmd::executor ex_;
  uringcmd::ring baseline_;
};

sample run_uringcmd(bench_rings& rings, const bench_case& c, const tcp_fixture& sock, std::uint64_t n) {
  sample s;
  uringcmd_result r;
  const std::uint64_t a0 = allocation_count();
  const auto t0 = clock_type::now();
  try {
    switch (c.kind) {
      case workload::nop: r = uringcmd_nop(rings.ex(), c.depth, n); break;
      case workload::nop_nested: r = uringcmd_nop_nested(rings.ex(), c.depth, n); break;
      case workload::siocinq: r = uringcmd_siocinq(rings.ex(), sock.reader, c.depth, n, sock.queued); break;
    }
  } catch (const std::exception& e) {
    s.exception = e.what();
  }
  const auto t1 = clock_type::now();
  s.allocs = allocation_count() - a0;
  s.seconds = std::chrono::duration<double>(t1 - t0).count();
  s.completed = r.completed;
  s.bad = r.bad;
  return s;
}

sample run_baseline(bench_rings& rings, const bench_case& c, const tcp_fixture& sock, std::uint64_t n) {
  sample s;
  baseline_result r;
  const std::uint64_t a0 = allocation_count();
  const auto t0 = clock_type::now();
  switch (c.kind) {
    case workload::nop:
    case workload::nop_nested: r = baseline_nop(rings.ring(), c.depth, n); break;
    case workload::siocinq: r = baseline_siocinq(rings.ring(), sock.reader, c.depth, n, sock.queued); break;
  }
  const auto t1 = clock_type::now();
  s.allocs = allocation_count() - a0;
  s.seconds = std::chrono::duration<double>(t1 - t0).count();
  s.completed = r.completed;
  s.bad = r.bad;
  s.enter_error = r.enter_error;
  return s;
}

struct stats {
  double median = 0, min = 0, max = 0;
};

stats summarize(std::vector<double> v) {
  stats s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size() / 2;
  s.median = v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
  s.min = v.front();
  s.max = v.back();
  return s;
}

struct bench_result {
  const bench_case* c = nullptr;
  stats uc, base;
  double ratio = 0;
  double allocs_per_op = 0, baseline_allocs_per_op = 0;
  std::uint64_t allocs = 0;
  std::uint64_t errors = 0;
  std::vector<std::string> problems;
};

std::string human(double ops) {
  char buf[32];
  if (ops >= 1e6) std::snprintf(buf, sizeof buf, "%.2fM", ops / 1e6);
  else if (ops >= 1e3) std::snprintf(buf, sizeof buf, "%.1fk", ops / 1e3);
  else std::snprintf(buf, sizeof buf, "%.0f", ops);
  return buf;
}

// Records what went wrong in one sample; returns the number of failed ops.
std::uint64_t check(const sample& s, std::uint64_t n, const char* side, bench_result& out) {
  std::uint64_t errors = s.bad;
  char buf[160];
  if (!s.exception.empty()) {
    out.problems.push_back(std::string(side) + ": exception: " + s.exception);
    ++errors;
  }
  if (s.enter_error) {
    std::snprintf(buf, sizeof buf, "%s: io_uring_enter failed: %s", side,
                  uringcmd::describe(uringcmd::errno_code(-s.enter_error)).c_str());
    out.problems.emplace_back(buf);
    ++errors;
  }
  if (s.bad) {
    std::snprintf(buf, sizeof buf, "%s: %llu ops returned an error or a wrong value", side,
                  static_cast<unsigned long long>(s.bad));
    out.problems.emplace_back(buf);
  }
  if (s.completed != n && s.exception.empty() && !s.enter_error) {
    std::snprintf(buf, sizeof buf, "%s: %llu of %llu ops completed", side,
                  static_cast<unsigned long long>(s.completed), static_cast<unsigned long long>(n));
    out.problems.emplace_back(buf);
    ++errors;
  }
  return errors;
}

bench_result run_case(const bench_case& c, const options& o, const uringcmd::ring_options& ropts,
                      const tcp_fixture& sock) {
  bench_result out;
  out.c = &c;
  bench_rings rings(ropts);
  const std::string id = c.id();

  // Warm-up: faults in both rings, fills the frame pool, settles the CPU frequency. At least
  // `depth` ops, so that it starts as many tasks (frames) as a measured round will.
  const std::uint64_t warm = std::max<std::uint64_t>(o.ops / 4, c.depth);
  out.errors += check(run_uringcmd(rings, c, sock, warm), warm, "uringcmd warm-up", out);
  out.errors += check(run_baseline(rings, c, sock, warm), warm, "baseline warm-up", out);

  std::vector<double> uc, base;
  std::uint64_t uc_allocs = 0, base_allocs = 0;
  for (unsigned r = 0; r < o.rounds; ++r) {
    sample a, b;
    if (r % 2 == 0) {
      a = run_uringcmd(rings, c, sock, o.ops);
      b = run_baseline(rings, c, sock, o.ops);
    } else {
      b = run_baseline(rings, c, sock, o.ops);
      a = run_uringcmd(rings, c, sock, o.ops);
    }
    out.errors += check(a, o.ops, "uringcmd", out);
    out.errors += check(b, o.ops, "baseline", out);
    const double ua = static_cast<double>(o.ops) / a.seconds;
    const double ba = static_cast<double>(o.ops) / b.seconds;
    uc.push_back(ua);
    base.push_back(ba);
    uc_allocs += a.allocs;
    base_allocs += b.allocs;
    std::fprintf(stderr, "[%-18s] round %u/%u (%s first): uringcmd %8s/s  baseline %8s/s  ratio %.3f  allocs %llu\n",
                 id.c_str(), r + 1, o.rounds, r % 2 == 0 ? "uringcmd" : "baseline", human(ua).c_str(),
                 human(ba).c_str(), ua / ba, static_cast<unsigned long long>(a.allocs));
  }
  out.uc = summarize(uc);
  out.base = summarize(base);
  out.ratio = out.base.median > 0 ? out.uc.median / out.base.median : 0;
  const double total = static_cast<double>(o.ops) * o.rounds;
  out.allocs = uc_allocs;
  out.allocs_per_op = static_cast<double>(uc_allocs) / total;
  out.baseline_allocs_per_op = static_cast<double>(base_allocs) / total;
  if (c.assert_no_allocs && uc_allocs) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "uringcmd: %llu heap allocations in steady state (expected 0)",
                  static_cast<unsigned long long>(uc_allocs));
    out.problems.emplace_back(buf);
  }
  return out;
}

double spread(const stats& s) { return s.median > 0 ? (s.max - s.min) / s.median * 100 : 0; }

void print_json(const bench_result& r, const options& o, std::uint32_t flags) {
  std::printf(
      "{\"name\":\"%s\",\"depth\":%u,\"ops_per_round\":%llu,\"rounds\":%u,"
      "\"ops_per_sec\":%.0f,\"baseline_ops_per_sec\":%.0f,\"ratio\":%.4f,"
      "\"allocs_per_op\":%.6g,\"baseline_allocs_per_op\":%.6g,"
      "\"ops_per_sec_min\":%.0f,\"ops_per_sec_max\":%.0f,"
      "\"baseline_ops_per_sec_min\":%.0f,\"baseline_ops_per_sec_max\":%.0f,"
      "\"errors\":%llu,\"ring_flags\":\"%s\",\"ok\":%s}\n",
      r.c->name, r.c->depth, static_cast<unsigned long long>(o.ops), o.rounds, r.uc.median, r.base.median, r.ratio,
      r.allocs_per_op, r.baseline_allocs_per_op, r.uc.min, r.uc.max, r.base.min, r.base.max,
      static_cast<unsigned long long>(r.errors), uringcmd::setup_flag_names(flags).c_str(),
      r.problems.empty() ? "true" : "false");
}

void print_table_header() {
  std::printf("%-14s %5s %16s %16s %7s %10s %16s\n", "benchmark", "depth", "ops/s uringcmd", "ops/s baseline",
              "ratio", "allocs/op", "spread U / B");
}

void print_table_row(const bench_result& r) {
  char spread_buf[32];
  std::snprintf(spread_buf, sizeof spread_buf, "%4.1f%% / %4.1f%%", spread(r.uc), spread(r.base));
  std::printf("%-14s %5u %16s %16s %7.3f %10.3g %16s\n", r.c->name, r.c->depth, human(r.uc.median).c_str(),
              human(r.base.median).c_str(), r.ratio, r.allocs_per_op, spread_buf);
}

using uc_test::in_ci;

// io_uring itself is unavailable here (seccomp, io_uring_disabled, old kernel): a skip, not a failure.
bool unavailable(const std::system_error& e) {
  const int v = e.code().value();
  return e.code().category() == std::system_category() && (v == ENOSYS || v == EPERM || v == EACCES);
}

int run_only(const options& o, const uringcmd::ring_options& ropts, const tcp_fixture& sock, bool sock_ok) {
  const std::size_t slash = o.only.rfind('/');
  const std::string case_id = slash == std::string::npos ? o.only : o.only.substr(0, slash);
  const std::string side = slash == std::string::npos ? "" : o.only.substr(slash + 1);
  if (side != "uringcmd" && side != "baseline") {
    std::fprintf(stderr, "--only wants <benchmark>/d<depth>/<uringcmd|baseline>, e.g. nop/d32/uringcmd\n");
    return 2;
  }
  for (const bench_case& c : all_cases) {
    if (c.id() != case_id) continue;
    if (c.kind == workload::siocinq && !sock_ok) {
      std::fprintf(stderr, "socket uring_cmd unavailable: %s\n", sock.error.c_str());
      return 1;
    }
    bench_rings rings(ropts);
    sample s = side == "uringcmd" ? run_uringcmd(rings, c, sock, o.ops) : run_baseline(rings, c, sock, o.ops);
    bench_result dummy;
    const std::uint64_t errors = check(s, o.ops, side.c_str(), dummy);
    std::printf("%s %s ops=%llu seconds=%.6f ops_per_sec=%.0f allocs=%llu errors=%llu\n", case_id.c_str(),
                side.c_str(), static_cast<unsigned long long>(o.ops), s.seconds,
                static_cast<double>(o.ops) / s.seconds, static_cast<unsigned long long>(s.allocs),
                static_cast<unsigned long long>(errors));
    for (const auto& p : dummy.problems) std::fprintf(stderr, "error: %s\n", p.c_str());
    return errors ? 1 : 0;
  }
  std::fprintf(stderr, "unknown benchmark '%s' (see --list)\n", case_id.c_str());
  return 2;
}

int real_main(int argc, char** argv) {
  options o;
  bool ops_given = false, rounds_given = false;
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
    } else if (a == "--list") {
      o.list = true;
    } else if (a == "--ops") {
      if (!parse_u64(value(), o.ops)) return std::fprintf(stderr, "--ops wants a positive integer\n"), 2;
      ops_given = true;
    } else if (a == "--rounds") {
      std::uint64_t r = 0;
      if (!parse_u64(value(), r) || r > 1000) return std::fprintf(stderr, "--rounds wants 1..1000\n"), 2;
      o.rounds = static_cast<unsigned>(r);
      rounds_given = true;
    } else if (a == "--filter") {
      const char* v = value();
      if (!v) return std::fprintf(stderr, "--filter wants a text\n"), 2;
      o.filter = v;
    } else if (a == "--only") {
      const char* v = value();
      if (!v) return std::fprintf(stderr, "--only wants a name (see --list)\n"), 2;
      o.only = v;
    } else {
      std::fprintf(stderr, "unknown argument '%s' (see --help)\n", argv[i]);
      return 2;
    }
  }
  if (o.quick) {
    if (!ops_given) o.ops = 20'000;
    if (!rounds_given) o.rounds = 3;
  }
  if (o.list) {
    for (const bench_case& c : all_cases) std::printf("%s/uringcmd\n%s/baseline\n", c.id().c_str(), c.id().c_str());
    return 0;
  }

  const uringcmd::ring_options ropts{};  // the executor's defaults; the baseline ring copies them

  tcp_fixture sock;
  bool sock_ok = sock.open(123);

  // Probe: can this process set up the rings at all, and does the kernel support socket uring_cmd
  // (6.7+)? Checked once, outside every timed region: res must equal the queued byte count, both
  // through the executor and through the hand-written baseline.
  std::uint32_t flags = 0;
  try {
    bench_rings probe(ropts);
    flags = probe.ex().setup_flags();
    if (probe.baseline_flags() != flags || probe.baseline_fd_registered() != probe.ex().ring().fd_registered()) {
      std::fprintf(stderr, "error: baseline ring (flags %s, fd registered %d) differs from the executor's (%s, %d)\n",
                   uringcmd::setup_flag_names(probe.baseline_flags()).c_str(), probe.baseline_fd_registered(),
                   uringcmd::setup_flag_names(flags).c_str(), probe.ex().ring().fd_registered());
      return 1;
    }
    if (sock_ok) {
      const int via_uc = uringcmd_siocinq_once(probe.ex(), sock.reader);
      const baseline_result via_base = baseline_siocinq(probe.ring(), sock.reader, 1, 1, sock.queued);
      if (via_uc == -EOPNOTSUPP || via_uc == -EINVAL || via_uc == -ENOTTY) {
        sock.error = "the kernel refuses SOCKET_URING_OP_SIOCINQ (needs 6.7+): " +
                     uringcmd::describe(uringcmd::errno_code(-via_uc));
        sock_ok = false;
      } else if (via_uc != sock.queued || via_base.bad || via_base.completed != 1) {
        std::fprintf(stderr, "error: SIOCINQ check: %d bytes queued, uringcmd returned %d, baseline %s\n", sock.queued,
                     via_uc, via_base.bad ? "a different value" : "the same");
        return 1;
      } else {
        std::fprintf(stderr, "socket check: SIOCINQ returned %d (= bytes queued) via uringcmd and baseline\n", via_uc);
      }
    }
  } catch (const std::system_error& e) {
    if (unavailable(e)) {
      if (in_ci()) {
        std::fprintf(stderr, "error: io_uring unavailable in CI: %s\n", e.what());
        return 1;
      }
      std::printf("UC-SKIP: io_uring unavailable: %s\n", e.what());
      return 0;
    }
    throw;
  }

  if (!o.only.empty()) return run_only(o, ropts, sock, sock_ok);

  std::vector<bench_result> results;
  for (const bench_case& c : all_cases) {
    if (!o.filter.empty() && c.id().find(o.filter) == std::string::npos) continue;
    if (c.kind == workload::siocinq && !sock_ok) {
      std::fprintf(stderr, "[%-18s] skipped: %s\n", c.id().c_str(), sock.error.c_str());
      continue;
    }
    results.push_back(run_case(c, o, ropts, sock));
  }

  if (o.json) {
    for (const auto& r : results) print_json(r, o, flags);
  } else {
    std::printf("uringcmd-bench: %llu ops/round, %u rounds (+1 warm-up), median ops/s, ratio = uringcmd/baseline\n",
                static_cast<unsigned long long>(o.ops), o.rounds);
    std::printf("ring flags (both sides): %s, %u entries\n\n", uringcmd::setup_flag_names(flags).c_str(),
                ropts.entries);
    print_table_header();
    for (const auto& r : results) print_table_row(r);
    if (!sock_ok) std::printf("\nsock_siocinq skipped: %s\n", sock.error.c_str());
  }

  int rc = 0;
  for (const auto& r : results) {
    for (const auto& p : r.problems) {
      std::fprintf(stderr, "error: %s: %s\n", r.c->id().c_str(), p.c_str());
      rc = 1;
    }
    if (!r.c->assert_no_allocs && r.allocs)
      std::fprintf(stderr, "note: %s: %.3g heap allocations per op in steady state\n", r.c->id().c_str(),
                   r.allocs_per_op);
  }
  return rc;
}

}  // namespace
}  // namespace uc_bench

int main(int argc, char** argv) {
  try {
    return uc_bench::real_main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
