// SPDX-License-Identifier: MIT
// The NBD server's storage backends (src/nbd/storage*.hpp) called directly: the file backend on
// a real file through a real ring, device statuses mapped to NBD errors, and the passthrough
// backends refusing nodes that are not their devices by name. The passthrough backends on real
// devices: tests/vm/nbd_passthrough.sh.
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/uio.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <string>
#include <system_error>

#include <doctest/doctest.h>

#include <uringcmd/executor.hpp>
#include <uringcmd/sync_wait.hpp>

#include "nbd/storage_file.hpp"
#include "nbd/storage_nvme.hpp"
#include "nbd/storage_scsi.hpp"

using namespace uringcmd;
using namespace uringcmd::nbd;

namespace {

struct temp_file {
  std::string path;
  temp_file() {
    char name[] = "/tmp/uc-nbd-storage-XXXXXX";
    const int fd = ::mkstemp(name);
    REQUIRE(fd >= 0);
    ::close(fd);
    path = name;
  }
  ~temp_file() { ::unlink(path.c_str()); }
};

std::array<std::byte, 4096> filled(std::byte b) {
  std::array<std::byte, 4096> a;
  a.fill(b);
  return a;
}

}  // namespace

TEST_CASE("nbd storage: a device status becomes the errno the kernel's driver would report") {
  CHECK(nbd_error_of(nvme::make_error_code(nvme::errc::capacity_exceeded)) == err_nospc);
  CHECK(nbd_error_of(nvme::make_error_code(nvme::errc::invalid_opcode)) == err_notsup);
  CHECK(nbd_error_of(nvme::make_error_code(nvme::errc::unrecovered_read_error)) == err_io);
  CHECK(nbd_error_of(scsi::make_error_code(scsi::errc::data_protect)) == err_perm);
  CHECK(nbd_error_of(scsi::make_error_code(scsi::errc::volume_overflow)) == err_nospc);
  CHECK(nbd_error_of(scsi::make_error_code(scsi::errc::illegal_request)) == err_inval);
  CHECK(nbd_error_of(scsi::make_error_code(scsi::errc::medium_error)) == err_io);
  CHECK(nbd_error_of(std::error_code(EROFS, std::system_category())) == err_perm);
}

TEST_CASE("nbd storage: the file backend writes, reads, zeroes and trims, through the ring or on the calling thread") {
  temp_file f;
  file_io io{};
  SUBCASE("io_uring") { io = file_io::uring; }
  SUBCASE("pread/pwrite") { io = file_io::worker; }
  file_storage st(f.path, false, 1 << 20, io);  // extended to 1 MiB
  CHECK(st.copies_on_worker() == (io == file_io::worker));
  CHECK(st.offloads() == (io == file_io::uring));
  CHECK(st.size() == 1 << 20);
  CHECK(st.block_size() == 1);
  CHECK(st.can_trim());
  executor ex(st.ring());
  const auto a = filled(std::byte{0xab});
  std::array<std::byte, 4096> back{};
  CHECK(sync_wait(ex, st.write(a, 8192, true)) == err_none);
  CHECK(sync_wait(ex, st.read(back, 8192)) == err_none);
  CHECK(back == a);
  CHECK(sync_wait(ex, st.write_zeroes(8192, 1024, true, false)) == err_none);
  CHECK(sync_wait(ex, st.read(back, 8192)) == err_none);
  CHECK(back[1023] == std::byte{0});
  CHECK(back[1024] == std::byte{0xab});
  CHECK(sync_wait(ex, st.trim(8192, 4096, false)) == err_none);
  CHECK(sync_wait(ex, st.read(back, 8192)) == err_none);
  CHECK(back == std::array<std::byte, 4096>{});
  CHECK(sync_wait(ex, st.flush()) == err_none);
}

TEST_CASE("nbd storage: reads and writes of a tmpfs file are copied on the worker exactly where io_uring would hand them to a kernel thread") {
  char name[] = "/dev/shm/uc-nbd-storage-XXXXXX";
  const int fd = ::mkstemp(name);
  REQUIRE(fd >= 0);
  ::close(fd);
  struct guard {
    const char* path;
    ~guard() { ::unlink(path); }
  } g{name};
  file_storage st(name, false, 65536);
  // What io_uring asks of the file before it punts: IOCB_NOWAIT, refused with EOPNOTSUPP.
  const int probe_fd = ::open(name, O_RDONLY | O_CLOEXEC);
  REQUIRE(probe_fd >= 0);
  std::byte b{};
  iovec v{&b, 1};
  const bool punted = ::preadv2(probe_fd, &v, 1, 0, RWF_NOWAIT) < 0 && errno == EOPNOTSUPP;
  ::close(probe_fd);
  CHECK(st.copies_on_worker() == punted);
  temp_file disk;  // in /tmp: a disk's filesystem unless /tmp is a tmpfs too
  struct statfs fs{};
  REQUIRE(::statfs("/tmp", &fs) == 0);
  if (fs.f_type != TMPFS_MAGIC) CHECK(!file_storage(disk.path, false, 65536).copies_on_worker());
  CHECK(!file_storage(disk.path, false, 65536, file_io::uring).copies_on_worker());
}

TEST_CASE("nbd storage: a write through a read-only file backend fails and leaves the file as it was") {
  temp_file f;
  { file_storage rw(f.path, false, 65536); }
  file_storage st(f.path, true, 0);
  executor ex(st.ring());
  const auto a = filled(std::byte{1});
  CHECK(sync_wait(ex, st.write(a, 0, false)) == err_io);  // EBADF (opened O_RDONLY): EIO
  std::array<std::byte, 4096> back{};
  CHECK(sync_wait(ex, st.read(back, 0)) == err_none);
  CHECK(back == std::array<std::byte, 4096>{});
}

TEST_CASE("nbd storage: passthrough backends refuse a node that is not their device, by name") {
  temp_file f;
  for (const std::string& path : {std::string("/dev/ng97n1"), f.path}) {
    try {
      nvme_storage st(path, true, 0);
      FAIL("opened " << path << " as an NVMe namespace");
    } catch (const std::system_error& e) {
      CHECK(e.code() == std::errc::no_such_device);
      CHECK(std::string(e.what()).find(path) != std::string::npos);
    }
    try {
      scsi_storage st(path, true, 0);
      FAIL("opened " << path << " as a SCSI LU");
    } catch (const std::system_error& e) {
      CHECK(e.code() == std::errc::no_such_device);
      CHECK(std::string(e.what()).find(path) != std::string::npos);
    }
  }
}
