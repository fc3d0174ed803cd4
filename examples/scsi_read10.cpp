// SPDX-License-Identifier: MIT
// The shortest SCSI read over BSG io_uring (Linux 7.1+): READ(10) of block 0 of a SCSI disk.
//   scsi_read10 /dev/sdX            (or /dev/sgN, /dev/bsg/H:C:T:L; as root)
#include <array>
#include <cstddef>
#include <cstdio>

#include <uringcmd/scsi/device.hpp>
#include <uringcmd/uringcmd.hpp>

namespace uc = uringcmd;

uc::task<int> read_block0(const char* path) {
  auto dev = co_await uc::scsi::device::open(path);
  if (!dev) {
    std::fprintf(stderr, "%s: %s\n", path, dev.describe().c_str());
    co_return 1;
  }
  std::array<std::byte, 512> block{};
  auto r = co_await dev->read10(0, 1, block);  // LBA 0, 1 block
  if (!r) {
    std::fprintf(stderr, "READ(10): %s\n", r.describe().c_str());  // the decoded sense
    co_return 1;
  }
  std::printf("read %u bytes; bytes 510-511: %02x %02x\n", *r, unsigned(block[510]), unsigned(block[511]));
  co_return 0;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s /dev/sdX|/dev/sgN|/dev/bsg/H:C:T:L\n", argv[0]);
    return 2;
  }
  uc::executor ex(uc::ring_options::passthrough());  // BSG needs SQE128|CQE32
  return uc::sync_wait(ex, read_block0(argv[1]));
}
