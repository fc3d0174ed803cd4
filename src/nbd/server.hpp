// SPDX-License-Identifier: MIT
// The NBD server's workers and connections. A worker is one core of a uringcmd::runtime (main.cpp):
// its thread runs one asio::io_context that drives the core's executor (ring_driver), with its
// own listening socket on the shared port (SO_REUSEPORT); a connection it accepts goes to the
// worker that serves the fewest (worker::place). A connection is an Asio coroutine, the reader, that parses requests out of a receive
// buffer (one recvmsg brings many pipelined headers). Each request is one uringcmd task started
// straight on the worker's executor: it awaits the storage op and queues its reply, with no Asio
// coroutine frame, async_run spawn or posted completion per request. After every executor turn
// the worker sends each connection's queued replies (headers and read payloads) in one gathered,
// non-blocking sendmsg; only what the socket would not take goes through Asio's async_write
// (docs/nbd.md).
#pragma once

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/post.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <uringcmd/asio/bridge.hpp>
#include <uringcmd/executor.hpp>

#include "nbd/log.hpp"
#include "nbd/protocol.hpp"
#include "nbd/storage.hpp"

namespace uringcmd::nbd {

using ::asio::awaitable;
using ::asio::ip::tcp;

/// asio::transfer_all, without its 64 KiB cap per system call: a 1 MiB reply or payload moves
/// in as few sendmsg/recvmsg calls as the socket allows, not in 16 trips through the io_context.
inline std::size_t transfer_everything(const std::error_code& ec, std::size_t) noexcept {
  return ec ? 0 : std::size_t{1} << 30;
}

// What one recvmsg may bring: hundreds of pipelined request headers, or a small write with its
// payload (larger payloads go straight to their slot). Per connection, idle ones included.
inline constexpr std::size_t receive_buffer = 16 * 1024;

// A payload at least this large is waited for whole (SO_RCVLOWAT): loopback delivers ~64 KiB
// segments, and waking for each costs an epoll_wait, a recvmsg and a recvmsg that finds nothing.
inline constexpr std::size_t wait_whole_payload = 128 * 1024;

/// SO_SNDBUF (the kernel doubles it). Over a network, room for a few 1 MiB read replies per
/// send: with the autotuned default a large reply goes out in ~64 KiB pieces, each a trip through
/// epoll. To a client on this machine, less: the pages a reply is copied into are read by the
/// client right away, and the fewer there are in flight, the more of them are still in the
/// cache. 1 MiB reads over one loopback connection, tmpfs file, same sitting: 454 -> 361 us of
/// server CPU per request, 2105 -> 2763 MiB/s with 512 KiB instead of 4 MiB (1 MiB: 391-459 us,
/// 256 KiB: 397 us; docs/benchmarks.md).
inline int send_buffer_for(const ::asio::ip::address& peer) noexcept {
  return peer.is_loopback() ? 512 * 1024 : 4 * 1024 * 1024;
}

struct server_config {
  export_info exported;
  storage* store = nullptr;
  unsigned max_connections = 1024;
  unsigned queue_depth = 32;                           ///< requests in flight per connection
  std::size_t bytes_per_connection = 64 * 1024 * 1024;  ///< payload buffered per connection
  bool verbose = false;
};

class worker;

class connection : public std::enable_shared_from_this<connection> {
 public:
  connection(worker& w, tcp::socket s, std::string peer);
  awaitable<void> run();
  /// Stop reading new requests (shutdown): what is in flight is finished and answered first.
  void stop_reading() { stop_.emit(::asio::cancellation_type::terminal); }
  /// Shutdown's grace period is over (a client that stopped reading our replies, or sending a
  /// payload): fail its socket's pending I/O so the connection can finish.
  void abort() {
    std::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
  }
  const std::string& peer() const noexcept { return peer_; }
  /// Sends the queued replies (worker::flush_replies, after the executor turn that queued them).
  void flush();

 private:
  struct slot {
    request req{};
    std::array<std::byte, max_reply_header> header{};
    std::size_t header_len = 0;
    std::vector<std::byte> data;
    std::size_t bytes = 0;  ///< of `data` this request uses (counted against bytes_per_connection)
    std::uint32_t error = err_none;
  };

  awaitable<bool> negotiate();
  awaitable<bool> read_exact(std::span<std::byte> buf, bool stoppable);
  awaitable<std::size_t> receive(std::span<std::byte> buf, bool stoppable);
  void wake_at(std::size_t bytes);
  task<void> serve(slot& s);
  void finish(slot& s, std::uint32_t error);
  void sent();
  awaitable<void> wait_for_slot();
  slot& take_slot(std::size_t bytes);
  void release(slot& s);

  worker& worker_;
  const server_config& cfg_;
  tcp::socket socket_;
  std::string peer_;
  bool structured_ = false;
  ::asio::cancellation_signal stop_;
  ::asio::steady_timer slot_freed_;
  std::vector<std::byte> inbuf_;       ///< received bytes not parsed yet: [in_begin_, in_end_)
  std::size_t in_begin_ = 0, in_end_ = 0;
  std::size_t rcvlowat_ = 1;  ///< the socket's SO_RCVLOWAT
  std::vector<std::unique_ptr<slot>> slots_;
  std::vector<slot*> free_;
  std::vector<slot*> replies_, sending_;
  std::vector<iovec> gather_;
  std::vector<::asio::const_buffer> rest_;  ///< of sending_, what the socket did not take at once
  unsigned in_flight_ = 0;
  std::size_t bytes_in_flight_ = 0;
  bool flush_queued_ = false;  ///< on the worker's list for the end of this executor turn
  bool writing_ = false;       ///< an async_write of rest_ is out
  bool broken_ = false;
  std::uint64_t requests_ = 0;
};

class worker {
 public:
  worker(const server_config& cfg, unsigned index, std::atomic<unsigned>& connections)
      : cfg_(cfg), index_(index), connections_(connections), acceptor_(io_) {}

  /// Listens on `at` (port 0: any; the chosen port is then endpoint().port()).
  void listen(const tcp::endpoint& at) {
    acceptor_.open(at.protocol());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    const int one = 1;
    if (::setsockopt(acceptor_.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
      throw std::system_error(errno, std::system_category(), "SO_REUSEPORT");
    acceptor_.bind(at);
    acceptor_.listen(1024);
  }
  tcp::endpoint endpoint() const { return acceptor_.local_endpoint(); }
  /// The workers a new connection may be handed to (place()); before any worker runs.
  void team(std::vector<worker*> all) { team_ = std::move(all); }

  /// Serves until stop() has finished every connection, driving `ex` (this thread's executor,
  /// whose ring it owns) from the io_context.
  void run(executor& ex) {
    driver_.emplace(io_, ex);
    driver_->after_turn([this] { flush_replies(); });
    ::asio::co_spawn(io_, accept_loop(), ::asio::detached);
    io_.run();
    driver_.reset();
  }
  /// From any thread: stop accepting, finish every connection's in-flight requests, then return from run().
  void stop() {
    ::asio::post(io_, [this] {
      stopping_ = true;
      std::error_code ignored;
      acceptor_.close(ignored);
      for (auto& c : live_) c->stop_reading();
      if (live_.empty()) return;
      grace_.expires_after(shutdown_grace);
      grace_.async_wait([this](const std::error_code& ec) {
        if (ec) return;  // every connection finished in time
        log("shutdown: %zu connection(s) still busy after %lld s, closing them", live_.size(),
            static_cast<long long>(shutdown_grace.count()));
        for (auto& c : live_) c->abort();
      });
    });
  }

  /// How long shutdown waits for connections to finish their requests before closing them.
  static constexpr std::chrono::seconds shutdown_grace{10};

  /// `c` has replies queued: they go out at the end of this executor turn (outside a turn: of
  /// the next one, which driver().kick() schedules).
  void flush_after_turn(std::shared_ptr<connection> c) { to_flush_.push_back(std::move(c)); }

  ::asio::io_context& io() noexcept { return io_; }
  uringcmd::asio::ring_driver& driver() noexcept { return *driver_; }
  const server_config& config() const noexcept { return cfg_; }
  bool stopping() const noexcept { return stopping_; }
  unsigned index() const noexcept { return index_; }
  /// Connections to the export, over all workers.
  unsigned connections() const noexcept { return connections_.load(std::memory_order_relaxed); }

 private:
  awaitable<void> accept_loop() {
    for (;;) {
      std::error_code ec;
      tcp::socket sock = co_await acceptor_.async_accept(::asio::redirect_error(::asio::use_awaitable, ec));
      if (ec) {
        if (stopping_) co_return;
        log("accept: %s", ec.message().c_str());
        continue;  // EMFILE and friends: the listener stays
      }
      std::error_code peer_ec;
      const auto ep = sock.remote_endpoint(peer_ec);
      std::string peer = peer_ec ? "?" : ep.address().to_string() + ":" + std::to_string(ep.port());
      if (connections_.fetch_add(1) >= cfg_.max_connections) {
        connections_.fetch_sub(1);
        log("%s: refused, already %u connections (--max-connections)", peer.c_str(), cfg_.max_connections);
        continue;  // the socket closes here
      }
      sock.set_option(tcp::no_delay(true), peer_ec);
      sock.set_option(::asio::socket_base::send_buffer_size(send_buffer_for(ep.address())), peer_ec);
      place(std::move(sock), std::move(peer));
    }
  }

  // SO_REUSEPORT picks a listener by a hash of the client's address and port, which leaves two
  // workers with 3 and 1 of 4 connections half of the time: the connection goes to the worker
  // that serves the fewest (counted when handed over, so two workers accepting at once do not
  // both pick the same one), through its io_context.
  void place(tcp::socket sock, std::string peer) {
    worker* to = this;
    for (worker* w : team_)
      if (w->serving_.load(std::memory_order_relaxed) < to->serving_.load(std::memory_order_relaxed)) to = w;
    to->serving_.fetch_add(1, std::memory_order_relaxed);
    if (to == this) return adopt(std::move(sock), std::move(peer));
    const auto protocol = acceptor_.local_endpoint().protocol();
    std::error_code ec;
    const int fd = sock.release(ec);
    if (ec) return given_up();  // the socket closes with `sock`
    ::asio::post(to->io_, [to, protocol, fd, peer = std::move(peer)]() mutable {
      to->adopt(tcp::socket(to->io_, protocol, fd), std::move(peer));
    });
  }

  void adopt(tcp::socket sock, std::string peer) {
    if (stopping_) return given_up();  // the socket closes here
    auto c = std::make_shared<connection>(*this, std::move(sock), std::move(peer));
    live_.push_back(c);
    auto where = std::prev(live_.end());
    ::asio::co_spawn(io_, c->run(), [this, where](std::exception_ptr e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          log("%s: dropped: %s", (*where)->peer().c_str(), ex.what());
        }
      }
      live_.erase(where);
      given_up();
      if (stopping_ && live_.empty()) grace_.cancel();
    });
  }

  /// A connection counted by place() is gone.
  void given_up() {
    serving_.fetch_sub(1, std::memory_order_relaxed);
    connections_.fetch_sub(1);
  }

  void flush_replies() {
    if (to_flush_.empty()) return;
    for (auto& c : to_flush_) c->flush();
    to_flush_.clear();  // may destroy a connection whose last reply just went out
  }

  const server_config& cfg_;
  unsigned index_;
  std::atomic<unsigned>& connections_;
  std::vector<worker*> team_;            ///< every worker, this one included (set before any runs)
  std::atomic<unsigned> serving_{0};     ///< connections placed on this worker and not finished
  ::asio::io_context io_{1};
  std::optional<uringcmd::asio::ring_driver> driver_;  ///< while run() runs
  tcp::acceptor acceptor_;
  std::list<std::shared_ptr<connection>> live_;
  std::vector<std::shared_ptr<connection>> to_flush_;  ///< connections with replies queued this turn
  ::asio::steady_timer grace_{io_};
  bool stopping_ = false;
};

// ---- connection ----

inline connection::connection(worker& w, tcp::socket s, std::string peer)
    : worker_(w),
      cfg_(w.config()),
      socket_(std::move(s)),
      peer_(std::move(peer)),
      slot_freed_(w.io()),
      inbuf_(receive_buffer) {
  slots_.reserve(cfg_.queue_depth);
  for (unsigned i = 0; i < cfg_.queue_depth; ++i) free_.push_back(slots_.emplace_back(std::make_unique<slot>()).get());
  replies_.reserve(cfg_.queue_depth);
  sending_.reserve(cfg_.queue_depth);
  gather_.reserve(2 * cfg_.queue_depth);
  rest_.reserve(2 * cfg_.queue_depth);
}

/// Fills `buf` from the receive buffer, refilling it as needed; a large remainder (a write's
/// payload) is received straight into `buf`, not copied through the buffer.
inline awaitable<bool> connection::read_exact(std::span<std::byte> buf, bool stoppable) {
  std::size_t done = std::min(buf.size(), in_end_ - in_begin_);
  std::copy_n(inbuf_.begin() + static_cast<std::ptrdiff_t>(in_begin_), done, buf.begin());
  in_begin_ += done;
  while (done < buf.size()) {
    const std::size_t left = buf.size() - done;
    if (left >= inbuf_.size() / 2) {
      wake_at(left >= wait_whole_payload ? left : 1);
      const std::size_t n = co_await receive(buf.subspan(done), stoppable);
      if (n == 0) co_return false;
      done += n;
      continue;
    }
    wake_at(1);
    in_begin_ = 0;
    in_end_ = co_await receive(inbuf_, stoppable);
    if (in_end_ == 0) co_return false;
    const std::size_t n = std::min(buf.size() - done, in_end_);
    std::copy_n(inbuf_.begin(), n, buf.begin() + static_cast<std::ptrdiff_t>(done));
    in_begin_ = n;
    done += n;
  }
  co_return true;
}

/// The socket reads as ready (epoll) once it holds `bytes` (the kernel caps it at half the
/// receive buffer's limit and wakes early under memory pressure or at the peer's close). Set
/// before every receive: a payload's remainder, which the peer owes us, or 1 (a header).
inline void connection::wake_at(std::size_t bytes) {
  if (bytes == rcvlowat_) return;
  const int v = static_cast<int>(std::min<std::size_t>(bytes, INT_MAX));
  if (::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVLOWAT, &v, sizeof v) == 0) rcvlowat_ = bytes;
}

/// One read of what the socket has (at least a byte); 0 for an error, the peer's close or a stop.
/// The recvmsg is ours, non-blocking: Asio's async_read_some would post even a read that
/// succeeds at once, which costs a trip through the io_context and its epoll_wait, and
/// pipelined headers and payload segments usually are there already. Asio waits only after
/// the socket said EAGAIN, which its edge-triggered epoll needs to see the next arrival.
inline awaitable<std::size_t> connection::receive(std::span<std::byte> buf, bool stoppable) {
  for (;;) {
    const ssize_t n = ::recv(socket_.native_handle(), buf.data(), buf.size(), MSG_DONTWAIT);
    if (n >= 0) co_return static_cast<std::size_t>(n);
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) co_return 0;
    std::error_code ec;
    if (stoppable)
      co_await socket_.async_wait(
          tcp::socket::wait_read,
          ::asio::bind_cancellation_slot(stop_.slot(), ::asio::redirect_error(::asio::use_awaitable, ec)));
    else
      co_await socket_.async_wait(tcp::socket::wait_read, ::asio::redirect_error(::asio::use_awaitable, ec));
    if (ec) co_return 0;
  }
}

inline awaitable<bool> connection::negotiate() {
  const export_info& e = cfg_.exported;
  handshake hs(e);
  const auto hello = greeting();
  co_await ::asio::async_write(socket_, ::asio::buffer(hello), ::asio::use_awaitable);
  std::array<std::byte, 4> flags{};
  if (!co_await read_exact(flags, true)) co_return false;
  if (!hs.on_client_flags(load_be<std::uint32_t>(flags, 0))) {
    log("%s: handshake refused: client flags 0x%x (not fixed newstyle)", peer_.c_str(), load_be<std::uint32_t>(flags, 0));
    co_return false;
  }
  std::vector<std::byte> data, out;
  for (;;) {
    std::array<std::byte, option_header_size> h{};
    if (!co_await read_exact(h, true)) co_return false;
    const auto opt = parse_option_header(h);
    if (!opt) {
      log("%s: handshake: bad option magic, closing", peer_.c_str());
      co_return false;
    }
    if (opt->length > max_option_length) {
      log("%s: handshake: option %u claims %u bytes, closing", peer_.c_str(), opt->option, opt->length);
      co_return false;
    }
    data.resize(opt->length);
    if (!co_await read_exact(data, true)) co_return false;
    out.clear();
    const auto next = hs.on_option(opt->option, data, out);
    if (!out.empty()) co_await ::asio::async_write(socket_, ::asio::buffer(out), ::asio::use_awaitable);
    if (next == handshake::next::close) co_return false;
    if (next == handshake::next::transmission) break;
  }
  structured_ = hs.structured_replies();
  if (cfg_.verbose)
    log("%s: export \"%s\" (%llu bytes), %s replies [thread %u]", peer_.c_str(), e.name.c_str(),
        static_cast<unsigned long long>(e.size), structured_ ? "structured" : "simple", worker_.index());
  co_return true;
}

inline awaitable<void> connection::run() {
  auto self = shared_from_this();  // alive until the last reply has gone out
  if (cfg_.verbose) log("%s: connected [thread %u]", peer_.c_str(), worker_.index());
  if (co_await negotiate()) {
    std::array<std::byte, request_size> h{};
    while (!worker_.stopping() && !broken_ && co_await read_exact(h, true)) {
      const auto req = parse_request(h);
      if (!req) {
        log("%s: bad request magic, closing", peer_.c_str());
        break;
      }
      const verdict v = check_request(*req, cfg_.exported);
      if (v.what == verdict::action::close) {
        log("%s: request of %u bytes exceeds the %u-byte limit, closing", peer_.c_str(), req->length,
            cfg_.exported.max_block);
        break;
      }
      if (v.what == verdict::action::disconnect) break;
      ++requests_;
      const std::size_t bytes = req->type == cmd_read && v.what == verdict::action::serve ? req->length : v.payload;
      while (in_flight_ == cfg_.queue_depth || (in_flight_ > 0 && bytes_in_flight_ + bytes > cfg_.bytes_per_connection))
        co_await wait_for_slot();
      slot& s = take_slot(bytes);
      s.req = *req;
      if (v.payload && !co_await read_exact(std::span(s.data).first(v.payload), false)) {
        release(s);  // disconnected mid-write: nothing of it reaches the export
        break;
      }
      if (v.what == verdict::action::reject) {
        finish(s, v.error);
        worker_.driver().kick();
      } else {
        worker_.driver().spawn(serve(s));
        // The only connection writes a large payload before receiving the next, while it is
        // still in the cache: 1 MiB writes, tmpfs file, 2787 -> 3090 MiB/s, 350 -> 315 us of
        // server CPU per request. With several, the workers' writes then collide on the file's
        // lock more often than when each writes what it has received in one batch: 4
        // connections, 2267 -> 2119 MiB/s, 512 -> 580 us (same sitting, docs/benchmarks.md).
        if (v.payload >= wait_whole_payload && worker_.connections() == 1)
          co_await ::asio::post(socket_.get_executor(), ::asio::use_awaitable);
      }
    }
  }
  while (in_flight_ > 0) co_await wait_for_slot();  // every request answered (or the peer is gone)
  std::error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  if (cfg_.verbose) log("%s: disconnected after %llu requests", peer_.c_str(), static_cast<unsigned long long>(requests_));
}

// One request, on the executor. The connection outlives it: run() holds the connection until every
// slot is released, and a slot is released only after this task has queued its reply.
inline task<void> connection::serve(slot& s) {
  storage& st = *cfg_.store;
  const request& r = s.req;
  const bool fua = r.flags & cmd_flag_fua;
  std::uint32_t error = err_inval;  // check_request let nothing else through
  try {
    switch (r.type) {
      case cmd_read: error = co_await st.read(std::span(s.data).first(r.length), r.offset); break;
      case cmd_write: error = co_await st.write(std::span(s.data).first(r.length), r.offset, fua); break;
      case cmd_flush: error = co_await st.flush(); break;
      case cmd_trim: error = co_await st.trim(r.offset, r.length, fua); break;
      case cmd_write_zeroes: error = co_await st.write_zeroes(r.offset, r.length, r.flags & cmd_flag_no_hole, fua); break;
      default: break;
    }
  } catch (const std::exception& e) {
    log("%s: request failed: %s", peer_.c_str(), e.what());
    error = err_io;
  }
  finish(s, error);
}

inline void connection::finish(slot& s, std::uint32_t error) {
  s.error = error;
  s.header_len = encode_reply(s.header, s.req, error, structured_);
  replies_.push_back(&s);
  if (!flush_queued_) {
    flush_queued_ = true;
    worker_.flush_after_turn(shared_from_this());
  }
}

// Straight from the end of the executor turn whose completions queued the replies: one
// non-blocking sendmsg for all of them, no wake-up through the io_context. Replies queued while
// an async_write is out go after it, from its handler.
inline void connection::flush() {
  flush_queued_ = false;
  if (writing_ || replies_.empty()) return;
  std::swap(sending_, replies_);
  if (broken_) return sent();
  gather_.clear();
  for (slot* s : sending_) {
    gather_.push_back({s->header.data(), s->header_len});
    if (s->req.type == cmd_read && s->error == err_none && s->req.length)
      gather_.push_back({s->data.data(), s->req.length});
  }
  msghdr m{};
  m.msg_iov = gather_.data();
  m.msg_iovlen = std::min<std::size_t>(gather_.size(), IOV_MAX);
  const ssize_t n = ::sendmsg(socket_.native_handle(), &m, MSG_DONTWAIT | MSG_NOSIGNAL);
  if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
    broken_ = true;  // the reader sees the socket fail too; the rest is released unsent
    return sent();
  }
  std::size_t done = n < 0 ? 0 : static_cast<std::size_t>(n);
  std::size_t i = 0;
  for (; i < gather_.size() && done >= gather_[i].iov_len; ++i) done -= gather_[i].iov_len;
  if (i == gather_.size()) return sent();
  // The socket is full: the rest waits for room in Asio's reactor.
  rest_.clear();
  rest_.emplace_back(static_cast<const std::byte*>(gather_[i].iov_base) + done, gather_[i].iov_len - done);
  for (++i; i < gather_.size(); ++i) rest_.emplace_back(gather_[i].iov_base, gather_[i].iov_len);
  writing_ = true;
  ::asio::async_write(socket_, rest_, transfer_everything,
                      [this, self = shared_from_this()](const std::error_code& ec, std::size_t) {
                        writing_ = false;
                        if (ec) broken_ = true;
                        sent();
                        flush();
                      });
}

/// Every reply in sending_ is out (or never will be): their slots are free.
inline void connection::sent() {
  for (slot* s : sending_) release(*s);
  sending_.clear();
}

inline awaitable<void> connection::wait_for_slot() {
  slot_freed_.expires_at(::asio::steady_timer::time_point::max());
  std::error_code ec;
  co_await slot_freed_.async_wait(::asio::redirect_error(::asio::use_awaitable, ec));
}

inline connection::slot& connection::take_slot(std::size_t bytes) {
  slot* s = free_.back();
  free_.pop_back();
  if (s->data.size() < bytes) s->data.resize(bytes);
  s->bytes = bytes;
  ++in_flight_;
  bytes_in_flight_ += bytes;
  return *s;
}

inline void connection::release(slot& s) {
  bytes_in_flight_ -= s.bytes;
  // Buffers that grew for one huge request go back to the allocator, so an idle connection does
  // not pin queue_depth x 32 MiB.
  if (s.data.size() > 4 * 1024 * 1024) std::vector<std::byte>().swap(s.data);
  free_.push_back(&s);
  --in_flight_;
  slot_freed_.cancel();
}

}  // namespace uringcmd::nbd
