// SPDX-License-Identifier: MIT
// The serving side of the daemon: `add` and `recover` bring a device up, report it to whoever ran
// them and keep serving until a signal or a STOP_DEV from outside (`del`), then shut down in the
// order the kernel needs (ublk::device::stop: STOP_DEV -> queues drain -> close -> DEL_DEV).
//
// Without --foreground the command forks first: the parent waits on a pipe for the child's one
// report (the device line, or the named error) and exits with its status; the child, in a new
// session, writes the state file, sends the report, moves its stdout and stderr to
// /run/uringcmd-ublk/ID.log and serves. Forking before the device exists keeps the queue threads
// in the process that serves them (the kernel accepts COMMITs only from the task that FETCHed).
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <iostream>
#include <memory>
#include <string>
#include <system_error>
#include <thread>

#include <uringcmd/ublk/device.hpp>
#include <uringcmd/ublk/mode.hpp>
#include <uringcmd/ublk/targets/loop.hpp>
#include <uringcmd/ublk/targets/null.hpp>
#include <uringcmd/ublk/targets/ram.hpp>

#include "size.hpp"
#include "state.hpp"

namespace ublk_tool {

inline constexpr int exit_ok = 0;
inline constexpr int exit_syntax = 1;
inline constexpr int exit_failed = 2;

/// "uringcmd-ublk[123] dev 0: text" on stderr (the log file in the background).
inline void log(std::uint32_t id, const std::string& text) {
  std::cerr << "uringcmd-ublk[" << ::getpid() << "]";
  if (id != ~0u) std::cerr << " dev " << id;
  std::cerr << ": " << text << std::endl;
}

/// The device line `add`, `recover` and `list` print:
/// "dev 0: /dev/ublkb0  loop file=/tmp/x  size=64 MiB  queues=2 depth=128  mode=copy  poll=20-250us  pid=123".
inline std::string device_line(const device_spec& s, const std::string& extra = {}) {
  std::string l = "dev " + std::to_string(s.id) + ": /dev/ublkb" + std::to_string(s.id) + "  " + s.target;
  if (!s.file.empty()) l += " file=" + s.file;
  l += extra + "  size=" + format_size(s.size) + "  queues=" + std::to_string(s.queues) +
       " depth=" + std::to_string(s.depth) + "  mode=" + std::string(to_string(s.mode)) +
       "  " + poll_text(s.poll_us, s.poll_max_us);
  if (s.recovery != ublk::recovery_mode::none) l += "  recovery=" + std::string(to_string(s.recovery));
  return l + "  pid=" + std::to_string(s.pid);
}

/// Where the one report of `add` / `recover` goes: stdout/stderr (foreground), or the parent's pipe.
class reporter {
 public:
  explicit reporter(int fd = -1) : fd_(fd) {}
  void ok(const std::string& line) { send('0', line, std::cout); }
  int failed(const std::string& text) {
    send('2', text, std::cerr);
    return exit_failed;
  }
  bool background() const noexcept { return fd_ >= 0; }

 private:
  void send(char status, const std::string& text, std::ostream& os) {
    if (fd_ < 0) {
      os << text << std::endl;
      return;
    }
    const std::string msg = status + text + '\n';
    (void)!::write(fd_, msg.data(), msg.size());
    ::close(fd_);
    fd_ = -1;
  }
  int fd_;
};

/// Forks the daemon. In the parent, waits for its report, prints it and returns the exit status;
/// in the child returns -1 and sets `report_fd`.
inline int detach(const char* command, int& report_fd) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return std::perror("pipe"), exit_failed;
  std::cout.flush();
  const pid_t pid = ::fork();
  if (pid < 0) return std::perror("fork"), exit_failed;
  if (pid == 0) {
    ::close(p[0]);
    ::setsid();
    report_fd = p[1];
    return -1;
  }
  ::close(p[1]);
  std::string msg;
  char buf[512];
  for (ssize_t n; (n = ::read(p[0], buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    msg.append(buf, static_cast<std::size_t>(n));
  }
  ::close(p[0]);
  if (msg.empty()) {
    std::cerr << "uringcmd-ublk " << command << ": the daemon (pid " << pid << ") exited before the device was up\n";
    return exit_failed;
  }
  (msg[0] == '0' ? std::cout : std::cerr) << msg.substr(1);
  return msg[0] == '0' ? exit_ok : exit_failed;
}

namespace serve_detail {
// The daemon's output from now on: the log file (stdin: /dev/null), so that whoever ran `add`
// (a shell's $(...), a test) is not held by our copy of its stdout.
inline void redirect_to_log(std::uint32_t id) {
  const int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const int out = ::open(log_path(id).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (in >= 0) ::dup2(in, 0), ::close(in);
  if (out >= 0) ::dup2(out, 1), ::dup2(out, 2), ::close(out);
}

// What the main thread sends the signal thread when the device stopped without a signal.
inline constexpr int wake_signal = SIGUSR1;

inline sigset_t stop_signals() {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGINT);
  sigaddset(&s, SIGTERM);
  sigaddset(&s, SIGHUP);
  sigaddset(&s, wake_signal);
  return s;
}

template <class Target>
std::string target_note(const Target&) { return {}; }
inline std::string target_note(const ublk::loop_target& t) {
  return std::string("  io=") + (t.direct() ? "direct" : "buffered (no O_DIRECT here)");
}

template <class Target>
std::unique_ptr<ublk::device<Target>> bring_up(Target& tgt, std::uint32_t id, const ublk::device_options& o,
                                               bool recovering) {
  return recovering ? ublk::device<Target>::recover(tgt, id, o) : ublk::device<Target>::start(tgt, o);
}
}  // namespace serve_detail

/// Brings the device of `spec` up (or, `recovering`, takes over its quiesced device), reports it
/// and serves until SIGINT/SIGTERM/SIGHUP or a STOP_DEV from outside. Returns the exit status.
template <class Target>
int serve(Target& tgt, device_spec spec, reporter report, bool recovering) {
  namespace sd = serve_detail;
  // Before any queue thread exists, so that every thread inherits the mask and only
  // the signal thread below sees the signals.
  const sigset_t stops = sd::stop_signals();
  ::pthread_sigmask(SIG_BLOCK, &stops, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  ublk::device_options o;
  o.queues = spec.queues;
  o.depth = spec.depth;
  o.size = spec.size;
  o.id = spec.id;
  if constexpr (requires { tgt.logical_block_shift(); }) o.logical_block_shift = tgt.logical_block_shift();
  o.mode = spec.mode;
  o.recovery = spec.recovery;
  o.queue_cpus = spec.cpus;
  o.pin_queues = spec.pin;
  o.idle_spin_us = spec.poll_us;
  o.idle_spin_max_us = spec.poll_max_us;

  std::unique_ptr<ublk::device<Target>> dev;
  try {
    dev = sd::bring_up(tgt, spec.id, o, recovering);
  } catch (const std::exception& e) {
    return report.failed(std::string("uringcmd-ublk ") + (recovering ? "recover" : "add") + ": " + e.what());
  }
  spec.id = dev->id();
  spec.mode = ublk::mode_of(dev->info().flags);
  spec.recovery = ublk::recovery_of(dev->info().flags);
  spec.pid = ::getpid();
  if (!save_state(spec)) log(spec.id, "cannot write " + state_path(spec.id) + ": list and recover will not know the target");
  const bool background = report.background();
  report.ok(device_line(spec, sd::target_note(tgt)));
  if (background) sd::redirect_to_log(spec.id);
  log(spec.id, std::string(recovering ? "recovered, " : "") + "serving " + device_line(spec, sd::target_note(tgt)));

  // A signal thread turns SIGINT/SIGTERM/SIGHUP into STOP_DEV; this thread waits for the queues
  // to end, whoever stopped the device (the signal, or `del` from another process).
  std::thread signals([&dev, &stops, id = spec.id] {
    int sig = 0;
    if (::sigwait(&stops, &sig) != 0 || sig == sd::wake_signal) return;
    log(id, std::string(::sigabbrev_np(sig) ? ::sigabbrev_np(sig) : "signal") +
                ": stopping (STOP_DEV, queues drain, DEL_DEV)");
    try {
      dev->request_stop();
    } catch (const std::exception& e) {
      log(id, std::string("STOP_DEV: ") + e.what());
    }
  });
  dev->wait();
  ::pthread_kill(signals.native_handle(), sd::wake_signal);
  signals.join();
  if (const auto e = dev->queue_error()) log(spec.id, "a queue failed: " + e.message());
  else log(spec.id, "queues drained, deleting the device");
  int status = exit_ok;
  try {
    dev->stop();
    log(spec.id, "deleted (" + std::to_string(dev->served()) + " requests served)");
  } catch (const std::exception& e) {
    log(spec.id, std::string("stop: ") + e.what());
    status = exit_failed;
  }
  remove_state(spec.id);
  if (background && status == exit_ok) std::remove(log_path(spec.id).c_str());
  return status;
}

/// Builds the target `spec` names and serves it. Throws std::system_error for a target that
/// cannot be built (a loop file that does not open).
inline int serve_spec(device_spec spec, reporter report, bool recovering) {
  if (spec.target == "null") {
    ublk::null_target t;
    return serve(t, spec, report, recovering);
  }
  if (spec.target == "ram") {
    ublk::ram_target t(spec.size);
    return serve(t, spec, report, recovering);
  }
  ublk::loop_target t(spec.file, spec.size);
  spec.size = t.size();
  return serve(t, spec, report, recovering);
}

}  // namespace ublk_tool
