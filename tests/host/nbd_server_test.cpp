// SPDX-License-Identifier: MIT
// uringcmd-nbd against real clients (libnbd's nbdinfo/nbdcopy, qemu-io/qemu-img) and against a raw
// socket that breaks the protocol on purpose: bad clients get an error or a closed connection, and
// the export and the other clients never notice.
#include <sys/resource.h>
#include <sys/statvfs.h>

#include <cstring>
#include <thread>

#include "host/nbd_fixture.hpp"

using namespace uc_test;
using namespace std::chrono_literals;

namespace {

constexpr std::uint64_t mib = 1024 * 1024;

/// A simple reply as raw_client::simple_reply returns it: {error, handle}.
std::optional<std::pair<std::uint32_t, std::uint64_t>> answer(std::uint32_t error, std::uint64_t handle) {
  return std::pair{error, handle};
}

/// The export still answers a fresh client, and `offset` holds `expect`.
void export_still_serves(const nbd_server& srv, std::uint64_t offset, std::span<const std::byte> expect) {
  raw_client c(srv.port());
  REQUIRE(c.connect_export());
  std::vector<std::byte> got(expect.size());
  REQUIRE(c.read(offset, got) == nbd::err_none);
  CHECK(std::memcmp(got.data(), expect.data(), expect.size()) == 0);
}

}  // namespace

TEST_CASE("nbd: nbdinfo sees the export's size, name and capabilities") {
  UC_REQUIRE_TOOL("nbdinfo", "libnbd-bin");
  export_file f(64 * mib);
  nbd_server srv(f.path);
  CHECK(shell("timeout 30 nbdinfo --size " + srv.uri() + " | grep -qx 67108864"));
  CHECK(shell("timeout 30 nbdinfo --can multi-conn " + srv.uri()));
  CHECK(shell("timeout 30 nbdinfo --can trim " + srv.uri()));
  CHECK(shell("timeout 30 nbdinfo --list " + srv.uri() + " | grep -q 'export=\"default\"'"));
}

TEST_CASE("nbd: nbdcopy round-trips a 256 MiB random file with identical sha256 both ways") {
  UC_REQUIRE_TOOL("nbdcopy", "libnbd-bin");
  UC_REQUIRE_TOOL("sha256sum", "coreutils");
  watchdog dog(100s, "nbdcopy round trip");
  // tmpfs when it has room: the test measures the server, not the disk (seconds, not tens).
  struct statvfs shm{};
  const bool in_memory = ::statvfs("/dev/shm", &shm) == 0 && shm.f_bavail * shm.f_frsize > (1ULL << 30);
  const std::string dir = in_memory ? "/dev/shm" : "/var/tmp";
  scratch_file source(dir), back(dir);
  REQUIRE(shell("head -c 256M /dev/urandom > " + source.path));  // at the kernel's speed, even in -O0 builds
  scratch_file exported(dir);
  nbd_server srv(exported.path, {"--size", "256M"});
  REQUIRE(shell("timeout 60 nbdcopy --connections 4 " + source.path + " " + srv.uri()));
  REQUIRE(shell("timeout 60 nbdcopy --connections 4 " + srv.uri() + " " + back.path));
  const auto digests = sha256_of({source.path, exported.path, back.path});
  CHECK(digests[1] == digests[0]);  // what landed on the export's storage
  CHECK(digests[2] == digests[0]);  // what came back over NBD
}

TEST_CASE("nbd: qemu-io writes, reads, discards, zeroes and flushes, qemu-img compare agrees, with reads and writes through io_uring or on the worker") {
  UC_REQUIRE_TOOL("qemu-io", "qemu-utils");
  UC_REQUIRE_TOOL("qemu-img", "qemu-utils");
  std::string mode;
  SUBCASE("--io uring") { mode = "uring"; }
  SUBCASE("--io worker") { mode = "worker"; }
  export_file f(16 * mib);
  nbd_server srv(f.path, {"--io", mode});
  const std::string io = "timeout 30 qemu-io -f raw ";
  CHECK(shell(io + "-c 'write -P 0xab 1M 64k' -c 'write -P 0xcd -f 2M 4k' -c flush " + srv.uri() + " >/dev/null"));
  CHECK(shell(io + "-c 'read -P 0xab 1M 64k' -c 'read -P 0xcd 2M 4k' " + srv.uri() + " | grep -q 'read 4096/4096'"));
  CHECK(shell(io + "-c 'discard 1M 32k' -c 'read -P 0 1M 32k' -c 'read -P 0xab 1056k 32k' " + srv.uri() +
              " | grep -c '^read' | grep -qx 2"));
  CHECK(shell(io + "-c 'write -z 2M 4k' -c 'read -P 0 2M 4k' " + srv.uri() + " | grep -q 'read 4096/4096'"));
  // A pattern qemu-io cannot misread: the export equals a local image written the same way.
  temp_file local;
  REQUIRE(::ftruncate(local.fd.get(), 16 * mib) == 0);
  CHECK(shell(io + "-c 'write -P 0x11 5M 1M' " + srv.uri() + " >/dev/null"));
  CHECK(shell("cp " + f.path + " " + local.path));
  CHECK(shell("timeout 30 qemu-img compare -q -f raw -F raw " + srv.uri() + " " + local.path));
  CHECK(shell(io + "-c 'write -P 0x22 9M 4k' " + srv.uri() + " >/dev/null"));
  CHECK(std::system(("timeout 30 qemu-img compare -q -f raw -F raw " + srv.uri() + " " + local.path).c_str()) != 0);
}

TEST_CASE("nbd: a read-only export answers writes, trims and zeroing with EPERM and keeps serving") {
  export_file f(mib);
  nbd_server srv(f.path, {"--read-only"});
  raw_client c(srv.port());
  REQUIRE(c.connect_export() == mib);
  const auto data = pattern(4096, 1);
  CHECK(c.write(0, data) == nbd::err_perm);
  REQUIRE(c.request(nbd::cmd_trim, 0, 4096, 7));
  CHECK(c.simple_reply() == answer(nbd::err_perm, 7));
  std::vector<std::byte> got(4096);
  CHECK(c.read(0, got) == nbd::err_none);
  CHECK(got == std::vector<std::byte>(4096));
}

TEST_CASE("nbd: malformed handshakes close the connection and never hurt the next client") {
  export_file f(mib);
  nbd_server srv(f.path);
  const std::vector<std::byte> zeroes(4096);
  SUBCASE("client flags without FIXED_NEWSTYLE") {
    raw_client c(srv.port());
    REQUIRE(c.hello(0));
    CHECK(c.closed_by_server());
  }
  SUBCASE("client flags with unknown bits") {
    raw_client c(srv.port());
    REQUIRE(c.hello(nbd::flag_fixed_newstyle | 0x80));
    CHECK(c.closed_by_server());
  }
  SUBCASE("an option with a bad magic") {
    raw_client c(srv.port());
    REQUIRE(c.hello());
    REQUIRE(c.send_be<std::uint64_t>(0x1122334455667788));
    REQUIRE(c.send_be<std::uint64_t>(0));
    CHECK(c.closed_by_server());
  }
  SUBCASE("an option claiming 4 GiB of data") {
    raw_client c(srv.port());
    REQUIRE(c.hello());
    REQUIRE(c.send_be<std::uint64_t>(nbd::opts_magic));
    REQUIRE(c.send_be<std::uint32_t>(nbd::opt_go));
    REQUIRE(c.send_be<std::uint32_t>(0xffffffff));
    CHECK(c.closed_by_server());
  }
  SUBCASE("EXPORT_NAME for an export that does not exist") {
    raw_client c(srv.port());
    REQUIRE(c.hello());
    const std::string name = "nope";
    REQUIRE(c.option(nbd::opt_export_name, std::as_bytes(std::span(name.data(), name.size()))));
    CHECK(c.closed_by_server());
  }
  SUBCASE("a client that hangs up halfway through the greeting") {
    raw_client c(srv.port());
    c.close();
  }
  export_still_serves(srv, 0, zeroes);
}

TEST_CASE("nbd: unknown options and bad INFO requests get error replies, then GO works") {
  export_file f(mib);
  nbd_server srv(f.path);
  raw_client c(srv.port());
  REQUIRE(c.hello());
  REQUIRE(c.option(1234, {}));
  auto r = c.read_option_reply();
  REQUIRE(r);
  CHECK(r->type == nbd::rep_err_unsup);
  REQUIRE(c.option(nbd::opt_info, std::vector<std::byte>(3)));  // shorter than its fixed fields
  r = c.read_option_reply();
  REQUIRE(r);
  CHECK(r->type == nbd::rep_err_invalid);
  std::vector<std::byte> unknown_name;
  nbd::append_be<std::uint32_t>(unknown_name, 3);
  for (char ch : std::string("foo")) unknown_name.push_back(static_cast<std::byte>(ch));
  nbd::append_be<std::uint16_t>(unknown_name, 0);
  REQUIRE(c.option(nbd::opt_go, unknown_name));
  r = c.read_option_reply();
  REQUIRE(r);
  CHECK(r->type == nbd::rep_err_unknown);
  CHECK(c.go() == mib);
  std::vector<std::byte> got(512);
  CHECK(c.read(0, got) == nbd::err_none);
}

TEST_CASE("nbd: malformed requests get errors or a closed connection, and the export is unharmed") {
  export_file f(mib);
  nbd_server srv(f.path);
  const auto data = pattern(4096, 3);
  {
    raw_client c(srv.port());
    REQUIRE(c.connect_export());
    REQUIRE(c.write(8192, data) == nbd::err_none);
  }
  SUBCASE("a read past the end is EINVAL, and the connection goes on") {
    raw_client c(srv.port());
    REQUIRE(c.connect_export());
    std::vector<std::byte> buf(4096);
    CHECK(c.read(mib - 512, buf) == nbd::err_inval);
    CHECK(c.read(UINT64_MAX - 100, buf) == nbd::err_inval);  // offset + length overflows
    CHECK(c.read(0, buf) == nbd::err_none);
  }
  SUBCASE("a write past the end is ENOSPC; its payload is consumed, the stream stays in sync") {
    raw_client c(srv.port());
    REQUIRE(c.connect_export());
    CHECK(c.write(mib - 100, data) == nbd::err_nospc);
    std::vector<std::byte> buf(16);
    CHECK(c.read(0, buf) == nbd::err_none);
  }
  SUBCASE("a read larger than the largest block is EOVERFLOW") {
    raw_client c(srv.port());
    REQUIRE(c.connect_export());
    REQUIRE(c.request(nbd::cmd_read, 0, 64 * 1024 * 1024, 9));
    CHECK(c.simple_reply() == answer(nbd::err_overflow, 9));
  }
  SUBCASE("a write claiming 3 GiB of payload closes the connection") {
    raw_client c(srv.port());
    REQUIRE(c.connect_export());
    REQUIRE(c.request(nbd::cmd_write, 0, 3U << 30, 1));
    CHECK(c.closed_by_server());
  }
  SUBCASE("a bad request magic closes the connection") {
    raw_client c(srv.port());
    REQUIRE(c.connect_export());
    auto req = nbd::encode_request({0, nbd::cmd_read, 1, 0, 512});
    req[0] = std::byte{0};
    REQUIRE(c.send(req));
    CHECK(c.closed_by_server());
  }
  SUBCASE("unknown commands and flags are EINVAL") {
    raw_client c(srv.port());
    REQUIRE(c.connect_export());
    REQUIRE(c.request(99, 0, 512, 5));
    CHECK(c.simple_reply() == answer(nbd::err_inval, 5));
    REQUIRE(c.request(nbd::cmd_read, 0, 512, 6, 0x100));
    CHECK(c.simple_reply() == answer(nbd::err_inval, 6));
  }
  SUBCASE("a client that disconnects in the middle of a write's payload writes nothing") {
    raw_client c(srv.port());
    REQUIRE(c.connect_export());
    REQUIRE(c.request(nbd::cmd_write, 8192, 4096, 1));
    REQUIRE(c.send(std::vector<std::byte>(1000, std::byte{0xee})));
    c.close();
    std::this_thread::sleep_for(50ms);
  }
  SUBCASE("NBD_CMD_DISC ends the connection cleanly") {
    raw_client c(srv.port());
    REQUIRE(c.connect_export());
    REQUIRE(c.request(nbd::cmd_disc, 0, 0, 1));
    CHECK(c.closed_by_server());
  }
  export_still_serves(srv, 8192, data);
}

TEST_CASE("nbd: a thousand idle connections do not stop another client") {
  export_file f(mib);
  nbd_server srv(f.path);
  rlimit fds{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &fds) == 0);
  fds.rlim_cur = fds.rlim_max;  // the server raises its own limit the same way
  REQUIRE(::setrlimit(RLIMIT_NOFILE, &fds) == 0);
  if (fds.rlim_cur < 1100) UC_SKIP("RLIMIT_NOFILE's hard limit is below 1100: cannot open 1000 connections");
  std::vector<std::unique_ptr<raw_client>> idle;
  for (int i = 0; i < 1000; ++i) {
    idle.push_back(std::make_unique<raw_client>(srv.port()));
    if (i % 2) REQUIRE(idle.back()->hello());  // half stop after the flags, half say nothing
  }
  const std::vector<std::byte> zeroes(4096);
  export_still_serves(srv, 0, zeroes);
}

TEST_CASE("nbd: concurrent clients with pipelined requests each read back what they wrote") {
  export_file f(16 * mib);
  nbd_server srv(f.path);
  constexpr int clients = 4, requests = 64;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < clients; ++t) {
    threads.emplace_back([&, t] {
      raw_client c(srv.port());
      if (!c.connect_export()) return void(++failures);
      const std::uint64_t base = static_cast<std::uint64_t>(t) * 4 * mib;
      // All the writes first, without waiting: the server runs them concurrently.
      for (int i = 0; i < requests; ++i) {
        const auto d = pattern(16384, static_cast<unsigned>(t * 1000 + i));
        if (!c.request(nbd::cmd_write, base + static_cast<std::uint64_t>(i) * 16384, 16384, static_cast<std::uint64_t>(i)) ||
            !c.send(d))
          return void(++failures);
      }
      std::vector<bool> seen(requests);
      for (int i = 0; i < requests; ++i) {
        auto r = c.simple_reply();
        if (!r || r->first != 0 || r->second >= requests || seen[r->second]) return void(++failures);
        seen[r->second] = true;
      }
      for (int i = 0; i < requests; ++i) {
        std::vector<std::byte> got(16384);
        if (c.read(base + static_cast<std::uint64_t>(i) * 16384, got) != nbd::err_none ||
            got != pattern(16384, static_cast<unsigned>(t * 1000 + i)))
          return void(++failures);
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(failures == 0);
}

// The server waits for a large payload whole (SO_RCVLOWAT at what is left of it): a payload that
// trickles in must still be taken as its pieces come, and the header after it must not wait for
// more bytes than it has.
TEST_CASE("nbd: a 1 MiB write whose payload arrives in pauses is answered, and so is the read right after it") {
  export_file f(4 * mib);
  nbd_server srv(f.path);
  raw_client c(srv.port());
  REQUIRE(c.connect_export());
  const auto data = pattern(mib, 7);
  REQUIRE(c.request(nbd::cmd_write, mib, mib, 1));
  for (std::size_t at = 0; at < mib; at += 300 * 1024) {
    REQUIRE(c.send(std::span(data).subspan(at, std::min<std::size_t>(300 * 1024, mib - at))));
    std::this_thread::sleep_for(20ms);
  }
  CHECK(c.simple_reply() == answer(nbd::err_none, 1));
  std::vector<std::byte> got(512);
  REQUIRE(c.read(mib + mib - 512, got) == nbd::err_none);
  CHECK(std::memcmp(got.data(), data.data() + mib - 512, 512) == 0);
}

TEST_CASE("nbd: structured replies carry read data in an OFFSET_DATA chunk, errors in an ERROR chunk and a write's success in a simple reply") {
  export_file f(mib);
  nbd_server srv(f.path);
  raw_client c(srv.port());
  REQUIRE(c.hello());
  REQUIRE(c.option(nbd::opt_structured_reply, {}));
  auto ack = c.read_option_reply();
  REQUIRE(ack);
  CHECK(ack->type == nbd::rep_ack);
  REQUIRE(c.go() == mib);
  REQUIRE(c.request(nbd::cmd_read, 4096, 512, 77));
  std::array<std::byte, nbd::chunk_header_size + 8> h{};
  REQUIRE(c.recv(h));
  CHECK(nbd::load_be<std::uint32_t>(h, 0) == nbd::structured_reply_magic);
  CHECK(nbd::load_be<std::uint16_t>(h, 4) == nbd::reply_flag_done);
  CHECK(nbd::load_be<std::uint16_t>(h, 6) == nbd::reply_type_offset_data);
  CHECK(nbd::load_be<std::uint64_t>(h, 8) == 77);
  CHECK(nbd::load_be<std::uint32_t>(h, 16) == 8 + 512);
  CHECK(nbd::load_be<std::uint64_t>(h, 20) == 4096);
  std::vector<std::byte> data(512);
  REQUIRE(c.recv(data));
  REQUIRE(c.request(nbd::cmd_read, mib, 512, 78));
  std::array<std::byte, nbd::chunk_header_size + 6> e{};
  REQUIRE(c.recv(e));
  CHECK(nbd::load_be<std::uint16_t>(e, 6) == nbd::reply_type_error);
  CHECK(nbd::load_be<std::uint64_t>(e, 8) == 78);
  CHECK(nbd::load_be<std::uint32_t>(e, 20) == nbd::err_inval);
  // The spec's MAY for every command but READ; libnbd reads it in one recv instead of two.
  const std::vector<std::byte> payload(512, std::byte{7});
  CHECK(c.write(0, payload, 79) == nbd::err_none);
}

TEST_CASE("nbd: SIGTERM answers every request it has taken before the server exits 0") {
  export_file f(16 * mib);
  nbd_server srv(f.path);
  raw_client c(srv.port());
  REQUIRE(c.connect_export());
  constexpr int requests = 32;
  auto data_of = [](int i) { return pattern(256 * 1024, static_cast<unsigned>(i)); };
  for (int i = 0; i < requests; ++i) {
    const auto d = data_of(i);
    REQUIRE((c.request(nbd::cmd_write, static_cast<std::uint64_t>(i) * d.size(), static_cast<std::uint32_t>(d.size()),
                       static_cast<std::uint64_t>(i), nbd::cmd_flag_fua) &&
             c.send(d)));
  }
  // Requests still in the socket when the signal lands are not taken; each one taken is answered,
  // and an answered write is on disk (FUA).
  std::thread stopper([&] { CHECK(srv.terminate() == 0); });
  std::vector<std::uint64_t> answered;
  while (auto r = c.simple_reply()) {
    CHECK(r->first == nbd::err_none);
    answered.push_back(r->second);
  }
  stopper.join();
  CHECK(!answered.empty());
  for (std::uint64_t i : answered) {
    const auto d = data_of(static_cast<int>(i));
    std::vector<std::byte> on_disk(d.size());
    REQUIRE(::pread(f.fd.get(), on_disk.data(), on_disk.size(), static_cast<off_t>(i * d.size())) ==
            static_cast<ssize_t>(d.size()));
    CHECK(on_disk == d);
  }
}
