// SPDX-License-Identifier: MIT
// The guest's SCSI disks (the virtio-scsi QEMU disk and scsi_debug) and their nodes, found through
// sysfs: the guest has no udev. Shared by the VM tests under tests/vm/scsi/.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "support/unique_fd.hpp"

namespace uc_test {

struct scsi_disk {
  std::string hctl;   // "1:0:0:0"
  std::string model;  // from sysfs, trailing spaces trimmed
  std::string bsg;    // /dev/bsg/1:0:0:0, empty when the kernel has no BSG node for it
  std::string sg;     // /dev/sg1, empty without the sg driver
  std::string block;  // /dev/sdb
  bool scsi_debug() const { return model.rfind("scsi_debug", 0) == 0; }
};

/// Every SCSI disk (one with a block device), ordered by H:C:T:L.
inline std::vector<scsi_disk> scsi_disks() {
  namespace fs = std::filesystem;
  std::vector<scsi_disk> out;
  std::error_code ec;
  for (const auto& d : fs::directory_iterator("/sys/class/scsi_device", ec)) {
    scsi_disk t;
    t.hctl = d.path().filename().string();
    std::ifstream m(d.path() / "device" / "model");
    std::getline(m, t.model);
    while (!t.model.empty() && t.model.back() == ' ') t.model.pop_back();
    if (fs::exists("/dev/bsg/" + t.hctl)) t.bsg = "/dev/bsg/" + t.hctl;
    for (const auto& e : fs::directory_iterator(d.path() / "device" / "scsi_generic", ec))
      t.sg = "/dev/" + e.path().filename().string();
    for (const auto& e : fs::directory_iterator(d.path() / "device" / "block", ec))
      t.block = "/dev/" + e.path().filename().string();
    if (!t.block.empty()) out.push_back(t);
  }
  std::sort(out.begin(), out.end(), [](const scsi_disk& a, const scsi_disk& b) { return a.hctl < b.hctl; });
  return out;
}

/// Both guest disks, or a failed test (outside the VM there are none).
inline std::vector<scsi_disk> require_disks() {
  auto disks = scsi_disks();
  if (disks.size() < 2) FAIL("expected the virtio-scsi disk and scsi_debug (run in the VM: scripts/vm run)");
  return disks;
}

// A scsi_debug parameter set for the scope of a test, restored after (sysfs; writes to delay
// knobs fail with EBUSY while commands are queued, so retry a little).
class scsi_debug_param {
 public:
  scsi_debug_param(const std::string& name, const std::string& value, std::string restore)
      : path_("/sys/bus/pseudo/drivers/scsi_debug/" + name), restore_(std::move(restore)) {
    REQUIRE_MESSAGE(write(value), "cannot set " << path_ << " = " << value);
  }
  ~scsi_debug_param() { write(restore_); }
  scsi_debug_param(const scsi_debug_param&) = delete;
  scsi_debug_param& operator=(const scsi_debug_param&) = delete;

 private:
  bool write(const std::string& v) const {
    for (int i = 0; i < 100; ++i) {
      std::ofstream f(path_);
      f << v;
      f.flush();
      if (f) return true;
      ::usleep(10'000);
    }
    return false;
  }
  std::string path_;
  std::string restore_;
};

/// The scsi_debug disk, or a failed test.
inline scsi_disk require_scsi_debug() {
  for (const scsi_disk& t : require_disks())
    if (t.scsi_debug()) return t;
  FAIL("no scsi_debug disk");
  return {};
}

inline unique_fd open_rw(const std::string& path) {
  unique_fd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  REQUIRE_MESSAGE(fd.get() >= 0, "open " << path << ": " << std::strerror(errno));
  return fd;
}

}  // namespace uc_test
