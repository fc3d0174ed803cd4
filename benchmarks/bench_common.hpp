// SPDX-License-Identifier: MIT
// Helpers shared by the passthrough benchmarks (scsi_bench.cpp, nvme_bench.cpp): argument parsing,
// the seeded LBA generator, aligned per-worker buffers, what one side measured, how long a round
// runs, fio as a child process with its JSON result, and the JSON/table formatting bits.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <uringcmd/error.hpp>

extern char** environ;

namespace uc_bench {

using clock_type = std::chrono::steady_clock;

// ---------------------------------------------------------------- arguments

/// A positive decimal integer.
inline bool parse_u64(const char* s, std::uint64_t& out) {
  if (!s || !*s) return false;
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(s, &end, 10);
  if (errno || *end || v == 0) return false;
  out = v;
  return true;
}

/// A number of seconds in (0, 3600].
inline bool parse_seconds(const char* s, double& out) {
  if (!s || !*s) return false;
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(s, &end);
  if (errno || *end || !(v > 0) || v > 3600) return false;
  out = v;
  return true;
}

// ---------------------------------------------------------------- sysfs

/// The first line of a (sysfs) file, trailing blanks removed; "" if unreadable.
inline std::string read_line(const std::filesystem::path& p) {
  std::ifstream f(p);
  std::string s;
  std::getline(f, s);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\t')) s.pop_back();
  return s;
}

/// The name of any one entry of `dir`; "" if none.
inline std::string first_entry(const std::filesystem::path& dir) {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) return e.path().filename().string();
  return {};
}

// ---------------------------------------------------------------- workload helpers

/// The LBA generator: splitmix64, seeded per worker and round.
inline std::uint64_t splitmix64(std::uint64_t& s) noexcept {
  std::uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/// Per-worker buffers, 4 KiB aligned, allocated once (outside every timed region).
class buffers {
 public:
  buffers(unsigned n, std::size_t each) : each_((each + 4095) / 4096 * 4096), storage_(n * each_ + 4096) {}
  std::span<std::byte> at(unsigned i, std::size_t len) noexcept {
    return {base() + i * each_, len};
  }
  /// The whole aligned area (for io_uring_register_buffers).
  std::span<std::byte> all() noexcept { return {base(), storage_.size() - 4096}; }

 private:
  std::byte* base() noexcept {
    auto b = reinterpret_cast<std::uintptr_t>(storage_.data());
    const std::uintptr_t aligned = (b + 4095) & ~std::uintptr_t{4095};
    return storage_.data() + (aligned - b);
  }
  std::size_t each_;
  std::vector<std::byte> storage_;
};

// ---------------------------------------------------------------- measurements

/// What one side did, summed over its rounds.
struct measurement {
  std::uint64_t ios = 0;
  double seconds = 0;
  double lat_sum_us = 0;  // over all ios
  std::uint64_t allocs = 0;
  bool counted_allocs = false;
  enum class state { ok, skipped, failed, not_run } st = state::not_run;
  std::string reason;

  double iops() const { return seconds > 0 ? static_cast<double>(ios) / seconds : 0; }
  double mean_lat_us() const { return ios ? lat_sum_us / static_cast<double>(ios) : 0; }
  void add(const measurement& m) {
    ios += m.ios;
    seconds += m.seconds;
    lat_sum_us += m.lat_sum_us;
    allocs += m.allocs;
    counted_allocs = counted_allocs || m.counted_allocs;
  }
};

inline const char* state_name(measurement::state s) {
  switch (s) {
    case measurement::state::ok: return "ok";
    case measurement::state::skipped: return "skipped";
    case measurement::state::failed: return "failed";
    case measurement::state::not_run: return "not_run";
  }
  return "?";
}

/// How long one round runs: until a deadline, or a number of commands.
struct run_limit {
  bool timed = true;
  double seconds = 0;
  std::uint64_t ios = 0;
};

/// A run_limit shared by the coroutines of one executor (one thread: no atomics).
struct ring_limit {
  run_limit lim;
  clock_type::time_point deadline{};
  std::uint64_t remaining = 0;
  bool stop = false;
  bool take() noexcept {
    if (stop) return false;
    if (lim.timed) return clock_type::now() < deadline;
    if (!remaining) return false;
    --remaining;
    return true;
  }
};

// ---------------------------------------------------------------- fio: a child process

/// The first number after "key" at or after `from` in fio's JSON; nullopt if absent.
inline std::optional<double> json_number(std::string_view text, std::size_t from, std::string_view key) {
  const std::string quoted = "\"" + std::string(key) + "\"";
  const std::size_t k = text.find(quoted, from);
  if (k == std::string_view::npos) return std::nullopt;
  std::size_t p = text.find(':', k + quoted.size());
  if (p == std::string_view::npos) return std::nullopt;
  ++p;
  while (p < text.size() && (text[p] == ' ' || text[p] == '\n' || text[p] == '\t')) ++p;
  const std::string num(text.substr(p, std::min<std::size_t>(40, text.size() - p)));
  char* end = nullptr;
  const double v = std::strtod(num.c_str(), &end);
  if (end == num.c_str()) return std::nullopt;
  return v;
}

/// Where the object value of "key" (`"key" : {`) starts at or after `from`; npos if absent. Skips
/// the same word used as a string value ("rw" : "read").
inline std::size_t json_object(std::string_view text, std::size_t from, std::string_view key) {
  const std::string quoted = "\"" + std::string(key) + "\"";
  for (std::size_t k = text.find(quoted, from); k != std::string_view::npos; k = text.find(quoted, k + 1)) {
    std::size_t p = k + quoted.size();
    while (p < text.size() && (text[p] == ' ' || text[p] == '\n' || text[p] == '\t')) ++p;
    if (p >= text.size() || text[p] != ':') continue;
    ++p;
    while (p < text.size() && (text[p] == ' ' || text[p] == '\n' || text[p] == '\t')) ++p;
    if (p < text.size() && text[p] == '{') return k;
  }
  return std::string_view::npos;
}

struct child_output {
  int status = -1;      // waitpid status
  int spawn_error = 0;  // posix_spawnp's error
  std::string out, err;
};

/// Runs `args` (args[0] looked up in PATH) with stdin from /dev/null; collects stdout and stderr.
inline child_output run_child(const std::vector<std::string>& args) {
  child_output r;
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) < 0) return r.spawn_error = errno, r;
  if (::pipe2(err_pipe, O_CLOEXEC) < 0) {
    r.spawn_error = errno;
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    return r;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  r.spawn_error = posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (r.spawn_error == 0) {
    pollfd p[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
    std::string* dst[2] = {&r.out, &r.err};
    int open_count = 2;
    char buf[4096];
    while (open_count > 0) {
      if (::poll(p, 2, -1) < 0) {
        if (errno == EINTR) continue;
        break;
      }
      for (int i = 0; i < 2; ++i) {
        if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        const ssize_t n = ::read(p[i].fd, buf, sizeof buf);
        if (n > 0) {
          dst[i]->append(buf, static_cast<std::size_t>(n));
        } else if (n == 0 || errno != EINTR) {
          p[i].fd = -1;
          --open_count;
        }
      }
    }
    while (::waitpid(pid, &r.status, 0) < 0 && errno == EINTR) {
    }
  }
  ::close(out_pipe[0]);
  ::close(err_pipe[0]);
  return r;
}

inline std::string last_line(const std::string& s) {
  std::string t = s;
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
  const std::size_t nl = t.rfind('\n');
  return nl == std::string::npos ? t : t.substr(nl + 1);
}

/// fio's duration arguments: milliseconds, at least 1.
inline std::string fio_ms(double s) { return std::to_string(std::max<long long>(1, std::llround(s * 1000))) + "ms"; }

/// Runs fio (`args`, with --output-format=json among them) and reads jobs[0]'s "read" object
/// (total_ios, runtime, lat_ns.mean). A missing or failing fio, or a job error, is a skipped
/// measurement with the reason: never a failure.
inline measurement run_fio_read(const std::vector<std::string>& args) {
  measurement m;
  m.st = measurement::state::skipped;
  const child_output c = run_child(args);
  if (c.spawn_error) {
    m.reason = "fio: " + uringcmd::describe(uringcmd::errno_code(c.spawn_error));
    return m;
  }
  // jobs[0] (the group with --group_reporting): its "error", then its "read" object.
  const std::size_t jobs_at = c.out.find("\"jobs\"");
  const auto job_error = jobs_at == std::string::npos ? std::nullopt : json_number(c.out, jobs_at, "error");
  const std::size_t read_at = jobs_at == std::string::npos ? std::string::npos : json_object(c.out, jobs_at, "read");
  if (job_error && *job_error != 0) {
    const int e = static_cast<int>(*job_error);
    m.reason = "fio: error " + std::to_string(e) + " (" + uringcmd::describe(uringcmd::errno_code(e)) + ")";
    return m;
  }
  if (!WIFEXITED(c.status) || WEXITSTATUS(c.status) != 0 || read_at == std::string::npos) {
    std::string why = last_line(c.err);
    if (why.empty()) why = "no JSON result";
    m.reason = "fio failed (status " + std::to_string(WIFEXITED(c.status) ? WEXITSTATUS(c.status) : -1) + "): " + why;
    return m;
  }
  const auto total = json_number(c.out, read_at, "total_ios");
  const auto runtime_ms = json_number(c.out, read_at, "runtime");
  const std::size_t lat_at = json_object(c.out, read_at, "lat_ns");
  const auto lat_ns = lat_at == std::string::npos ? std::nullopt : json_number(c.out, lat_at, "mean");
  if (!total || !runtime_ms || !lat_ns || *runtime_ms <= 0) {
    m.reason = "fio: unexpected JSON (no read.total_ios/runtime/lat_ns.mean)";
    return m;
  }
  m.ios = static_cast<std::uint64_t>(*total);
  m.seconds = *runtime_ms / 1000;
  m.lat_sum_us = *lat_ns / 1000 * *total;
  m.st = measurement::state::ok;
  return m;
}

// ---------------------------------------------------------------- output

inline std::string json_escape(std::string_view s) {
  std::string out;
  for (char ch : s) {
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (static_cast<unsigned char>(ch) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(ch)));
      out += buf;
    } else {
      out += ch;
    }
  }
  return out;
}

/// 739.7k, 10.71M, 163: the table's rates.
inline std::string human(double v) {
  char buf[32];
  if (v >= 1e6) std::snprintf(buf, sizeof buf, "%.2fM", v / 1e6);
  else if (v >= 1e3) std::snprintf(buf, sizeof buf, "%.1fk", v / 1e3);
  else std::snprintf(buf, sizeof buf, "%.0f", v);
  return buf;
}

/// One case's rows, measured: a warm-up of every side that does not warm itself up (`warms_itself`:
/// fio, with --ramp_time), then `rounds` rounds of every row, the order reversed every other round
/// so no side always runs first; progress on stderr. A failure or skip ends a row's rounds.
/// Row: `s` (the side) and `m` (a measurement); run_side(row, limit, seed) -> measurement.
template <class Row, class RunSide, class WarmsItself, class SideName>
void run_rounds(std::vector<Row>& rows, const std::string& label, const run_limit& warm, const run_limit& round,
                unsigned rounds, std::uint64_t seed, RunSide run_side, WarmsItself warms_itself, SideName side_name,
                int label_width, int side_width) {
  using state = measurement::state;
  for (Row& r : rows) {
    if (r.m.st == state::skipped || warms_itself(r.s)) continue;
    measurement w = run_side(r, warm, seed ^ 0xffff);
    if (w.st == state::failed) {
      r.m.st = state::failed;
      r.m.reason = "warm-up: " + w.reason;
    }
  }
  for (unsigned k = 0; k < rounds; ++k) {
    for (std::size_t j = 0; j < rows.size(); ++j) {
      Row& r = rows[k % 2 == 0 ? j : rows.size() - 1 - j];
      if (r.m.st == state::skipped || r.m.st == state::failed) continue;
      measurement m = run_side(r, round, seed + k * 7919);
      if (m.st == state::ok) {
        r.m.add(m);
        r.m.st = state::ok;
        std::fprintf(stderr, "[%-*s] round %u/%u %-*s %9s IOPS  %9.1f us  (%llu in %.2f s)\n", label_width,
                     label.c_str(), k + 1, rounds, side_width, side_name(r.s), human(m.iops()).c_str(),
                     m.mean_lat_us(), static_cast<unsigned long long>(m.ios), m.seconds);
      } else {
        r.m.st = m.st;
        r.m.reason = m.reason;
        std::fprintf(stderr, "[%-*s] round %u/%u %-*s %s: %s\n", label_width, label.c_str(), k + 1, rounds, side_width,
                     side_name(r.s), m.st == state::skipped ? "skipped" : "FAILED", m.reason.c_str());
      }
    }
  }
}

}  // namespace uc_bench
