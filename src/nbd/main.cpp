// SPDX-License-Identifier: MIT
// uringcmd-nbd: an NBD server. Network through Asio, storage through uringcmd (io_uring reads and
// writes on a file or block device; NVMe or SCSI passthrough), one io_context + executor per
// thread. See docs/nbd.md.
#include <sched.h>
#include <sys/resource.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <asio/signal_set.hpp>

#include <uringcmd/runtime.hpp>

#include "nbd/server.hpp"
#include "nbd/storage_file.hpp"
#include "nbd/storage_nvme.hpp"
#include "nbd/storage_scsi.hpp"

namespace {

constexpr const char* usage = R"(usage: uringcmd-nbd [options] FILE
       uringcmd-nbd [options] --nvme /dev/ngXnY
       uringcmd-nbd [options] --scsi /dev/sgN|/dev/bsg/H:C:T:L

Exports FILE (a regular file or a block device), an NVMe namespace or a SCSI logical unit over
the NBD protocol (fixed newstyle handshake, NBD_OPT_GO/INFO/LIST/EXPORT_NAME, structured replies,
READ/WRITE/FLUSH/TRIM/WRITE_ZEROES with FUA, multiple connections). Network I/O runs on Asio,
storage I/O on io_uring through uringcmd: reads and writes on FILE, NVMe passthrough commands on
the namespace's generic node, SCSI commands over BSG io_uring (Linux 7.1+) or sg on the LU.
One exception: reads and writes of a file on tmpfs or ramfs, which io_uring could only hand to
a kernel thread on the same CPU, are copied by the worker itself (--io).
Passthrough exports are block-granular: NBD_INFO_BLOCK_SIZE names the LBA size and a request
not aligned to it is answered EINVAL. TRIM is offered only where the device can deallocate.

options:
      --nvme NODE          export the NVMe namespace NODE (/dev/ngXnY or /dev/nvmeXnY)
      --scsi NODE          export the SCSI LU NODE (/dev/sgN, /dev/bsg/H:C:T:L or /dev/sdX)
  -b, --bind ADDR          listen address (default 127.0.0.1; 0.0.0.0 or :: for every interface)
  -p, --port PORT          TCP port (default 10809, NBD's; 0 picks a free one, printed at start)
  -n, --name NAME          export name (default "default"; the empty name also reaches it)
  -r, --read-only          refuse writes, trims and zeroing (EPERM)
  -s, --size BYTES         export at most BYTES (K/M/G suffixes); a writable regular file shorter
                           than that is extended to it
  -t, --threads N          worker threads (runtime cores, pinned to a CPU each when there are
                           enough), each with its own io_context and io_uring (default: one per
                           CPU when reads and writes run on the workers, else half the CPUs)
      --io MODE            FILE's reads and writes: auto (default: on the worker threads for a
                           tmpfs or ramfs file, else io_uring), uring (always io_uring), worker
                           (always pread/pwrite on the worker threads, which wait for them)
      --max-connections N  close connections past N (default 1024)
      --queue-depth N      requests in flight per connection (default 32)
  -v, --verbose            log every connection
  -h, --help               this text

SIGTERM or SIGINT: stop accepting, finish and answer the requests in flight, exit 0.

example:
  uringcmd-nbd --size 1G disk.img &
  qemu-img info nbd://127.0.0.1/default
  nbdcopy nbd://127.0.0.1 copy.img
)";

[[noreturn]] void usage_error(const std::string& why) {
  std::fprintf(stderr, "uringcmd-nbd: %s\nTry 'uringcmd-nbd --help'.\n", why.c_str());
  std::exit(2);
}

std::uint64_t parse_size(std::string_view s) {
  std::uint64_t v = 0;
  std::size_t i = 0;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
    if (v > (UINT64_MAX - 9) / 10) usage_error("size too large: " + std::string(s));
    v = v * 10 + static_cast<std::uint64_t>(s[i] - '0');
  }
  if (i == 0) usage_error("not a size: " + std::string(s));
  const std::string_view suffix = s.substr(i);
  unsigned shift = 0;
  if (suffix == "K" || suffix == "k") shift = 10;
  else if (suffix == "M" || suffix == "m") shift = 20;
  else if (suffix == "G" || suffix == "g") shift = 30;
  else if (suffix == "T" || suffix == "t") shift = 40;
  else if (!suffix.empty()) usage_error("unknown size suffix: " + std::string(s));
  if (shift && v > (UINT64_MAX >> shift)) usage_error("size too large: " + std::string(s));
  return v << shift;
}

unsigned parse_count(std::string_view s, const char* what) {
  const std::uint64_t v = parse_size(s);
  if (v == 0 || v > 1'000'000) usage_error(std::string(what) + " out of range: " + std::string(s));
  return static_cast<unsigned>(v);
}

/// CPUs this process may run on: a core per CPU can be pinned, more cannot.
unsigned cpus_allowed() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) != 0) return 1;
  return static_cast<unsigned>(CPU_COUNT(&set));
}

/// A worker per CPU, or half the CPUs (at least one) when the storage's reads and writes go to
/// io_uring's io-wq threads (buffered writes, files without non-blocking I/O): a worker is then
/// not the only thread a request keeps busy, and with a worker per CPU those threads compete
/// with the workers, and two rings' io-wq writers with each other for the file's lock
/// (docs/benchmarks.md, "uringcmd-nbd vs nbdkit").
unsigned default_threads(const uringcmd::nbd::storage& s) {
  return s.offloads() ? std::max(1U, (cpus_allowed() + 1) / 2) : cpus_allowed();
}

uringcmd::nbd::file_io parse_io(std::string_view s) {
  using uringcmd::nbd::file_io;
  if (s == "auto") return file_io::automatic;
  if (s == "uring") return file_io::uring;
  if (s == "worker") return file_io::worker;
  usage_error("--io: auto, uring or worker, not " + std::string(s));
}

}  // namespace

int main(int argc, char** argv) {
  using namespace uringcmd::nbd;
  std::string bind_address = "127.0.0.1", path;
  enum class kind { file, nvme, scsi } backend = kind::file;
  unsigned short port = 10809;
  unsigned threads = 0;  // default_threads(), once the storage is open
  std::optional<uringcmd::nbd::file_io> io;  // --io, FILE exports only
  std::uint64_t size_limit = 0;
  server_config cfg;
  cfg.exported.name = "default";
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&]() -> std::string_view {
      if (i + 1 >= argc) usage_error(std::string(a) + " needs a value");
      return argv[++i];
    };
    if (a == "-h" || a == "--help") {
      std::fputs(usage, stdout);
      return 0;
    } else if (a == "-b" || a == "--bind") {
      bind_address = value();
    } else if (a == "-p" || a == "--port") {
      const std::uint64_t p = a.empty() ? 0 : parse_size(value());
      if (p > 65535) usage_error("port out of range");
      port = static_cast<unsigned short>(p);
    } else if (a == "-n" || a == "--name") {
      cfg.exported.name = value();
      if (cfg.exported.name.size() > 4096) usage_error("export names are at most 4096 bytes");
    } else if (a == "-r" || a == "--read-only") {
      cfg.exported.read_only = true;
    } else if (a == "-s" || a == "--size") {
      size_limit = parse_size(value());
    } else if (a == "-t" || a == "--threads") {
      threads = parse_count(value(), "--threads");
    } else if (a == "--io") {
      io = parse_io(value());
    } else if (a == "--max-connections") {
      cfg.max_connections = parse_count(value(), "--max-connections");
    } else if (a == "--queue-depth") {
      cfg.queue_depth = parse_count(value(), "--queue-depth");
    } else if (a == "--nvme" || a == "--scsi") {
      if (!path.empty()) usage_error("one FILE or device only");
      backend = a == "--nvme" ? kind::nvme : kind::scsi;
      path = value();
    } else if (a == "-v" || a == "--verbose") {
      cfg.verbose = true;
    } else if (!a.empty() && a[0] == '-') {
      usage_error("unknown option " + std::string(a));
    } else if (path.empty()) {
      path = a;
    } else {
      usage_error("one FILE only");
    }
  }
  if (path.empty()) usage_error("no FILE to export");
  if (io && backend != kind::file) usage_error("--io is for FILE exports (passthrough commands always go through io_uring)");

  // Every connection is a descriptor: take the hard limit, not the shell's usual 1024.
  if (rlimit fds{}; ::getrlimit(RLIMIT_NOFILE, &fds) == 0 && fds.rlim_cur < fds.rlim_max) {
    fds.rlim_cur = fds.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &fds);
  }
  try {
    std::unique_ptr<storage> opened;
    switch (backend) {
      case kind::file: opened = std::make_unique<file_storage>(path, cfg.exported.read_only, size_limit, io.value_or(file_io::automatic)); break;
      case kind::nvme: opened = std::make_unique<nvme_storage>(path, cfg.exported.read_only, size_limit); break;
      case kind::scsi: opened = std::make_unique<scsi_storage>(path, cfg.exported.read_only, size_limit); break;
    }
    storage& store = *opened;
    cfg.store = &store;
    if (threads == 0) threads = default_threads(store);
    cfg.exported.size = store.size();
    cfg.exported.description = store.description();
    cfg.exported.min_block = store.block_size();
    cfg.exported.preferred_block = std::max<std::uint32_t>(store.block_size(), 4096);
    cfg.exported.can_trim = store.can_trim();

    // Every worker is built and listening before any runs: the first picks the port when asked
    // for port 0, the others share it through SO_REUSEPORT.
    std::atomic<unsigned> connections{0};
    std::vector<std::unique_ptr<worker>> workers;
    tcp::endpoint at(::asio::ip::make_address(bind_address), port);
    for (unsigned i = 0; i < threads; ++i) {
      workers.push_back(std::make_unique<worker>(cfg, i, connections));
      workers.back()->listen(at);
      at = workers.back()->endpoint();
    }
    std::vector<worker*> team;
    for (auto& w : workers) team.push_back(w.get());
    for (auto& w : workers) w->team(team);
    ::asio::signal_set signals(workers[0]->io(), SIGTERM, SIGINT);
    signals.async_wait([&](const std::error_code& ec, int signo) {
      if (ec) return;
      log("%s: finishing the requests in flight, then exiting", signo == SIGTERM ? "SIGTERM" : "SIGINT");
      for (auto& w : workers) w->stop();
    });
    log("exporting %s (%llu bytes, %s) as \"%s\" on %s port %u, %u thread(s)%s", store.description().c_str(),
        static_cast<unsigned long long>(store.size()), cfg.exported.read_only ? "read-only" : "read-write",
        cfg.exported.name.c_str(), at.address().to_string().c_str(), at.port(), threads,
        store.offloads() ? "" : ", reads and writes on the worker threads (--io)");
    // Thread per core: each worker runs on a runtime core (pinned to its CPU when there are
    // enough), whose executor is built on that thread with the rings the storage needs
    // (SQE128/CQE32 for passthrough) and driven by the worker's io_context.
    uringcmd::runtime_options ro;
    ro.cores = threads;
    ro.ring = store.ring();
    // The ring_driver then skips a turn per pass when the kernel queued no task work.
    ro.ring.extra_flags |= IORING_SETUP_TASKRUN_FLAG;
    ro.pin = threads <= cpus_allowed();
    ro.loop = [&workers](std::size_t core, uringcmd::executor& ex) { workers[core]->run(ex); };
    uringcmd::runtime rt(ro);
    // The cores serve until the signal handler's stop() has finished their connections; stop()
    // here waits for that, then shuts the executors down on their threads.
    rt.stop();
    log("stopped");
  } catch (const std::exception& e) {
    log("error: %s", e.what());
    return 1;
  }
  return 0;
}
