// SPDX-License-Identifier: MIT
// The shortest NVMe read over io_uring passthrough: the first 4096 bytes of a namespace.
//   nvme_read /dev/ng0n1            (or /dev/nvme0n1; as root)
#include <cstddef>
#include <cstdio>
#include <vector>

#include <uringcmd/nvme/namespace.hpp>
#include <uringcmd/uringcmd.hpp>

namespace uc = uringcmd;

uc::task<int> read_start(const char* path) {
  auto ns = co_await uc::nvme::namespace_device::open(path);
  if (!ns) {
    std::fprintf(stderr, "%s: %s\n", path, ns.describe().c_str());
    co_return 1;
  }
  std::vector<std::byte> buf(4096 / ns->block_size() * ns->block_size());  // whole blocks: 8 x 512 or 1 x 4096
  std::vector<std::byte> meta(buf.size() / ns->block_size() * ns->info().metadata_size);
  uc::nvme::io_options o;
  if (!ns->info().extended_lba) o.metadata = meta;  // separate metadata travels in its own buffer
  auto r = co_await ns->read(0, buf, o);  // LBA 0
  if (!r) {
    std::fprintf(stderr, "read: %s\n", r.describe().c_str());  // "LBA Out of Range (SCT 0h SC 80h, DNR)"
    co_return 1;
  }
  std::printf("read %llu bytes from %s (nsid %u, %u-byte blocks)\n", static_cast<unsigned long long>(*r),
              ns->path().c_str(), ns->nsid(), ns->block_size());
  co_return 0;
}

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s /dev/ngXnY|/dev/nvmeXnY\n", argv[0]);
    return 2;
  }
  uc::executor ex(uc::ring_options::passthrough());  // NVMe passthrough needs SQE128|CQE32
  return uc::sync_wait(ex, read_start(argv[1]));
}
