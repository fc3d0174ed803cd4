// SPDX-License-Identifier: MIT
// nvme::controller: an NVMe controller's admin commands (/dev/nvmeX) as coroutines.
//
//   auto ctrl = (co_await nvme::controller::open("/dev/nvme0")).value();
//   std::array<std::byte, 4096> buf;
//   auto id = (co_await ctrl.identify(buf)).value();        // views buf
//   std::cout << id.model << " MDTS " << int(id.mdts) << '\n';
//
// Every command answers an nvme::response<T>: the value, or an error_code a caller can branch on
// (the "nvme" category for a status the controller returned, errno for the kernel's refusals),
// with the completion (status, DW0) reachable through details(). Parsed values view the caller's
// buffer. The ring must be SQE128|CQE32 (ring_options::passthrough()). Each command carries a
// deadline (timeout_ms), enforced by the driver: NVMe passthrough cannot be cancelled.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <utility>

#include <uringcmd/nvme/command.hpp>
#include <uringcmd/nvme/error.hpp>
#include <uringcmd/nvme/identify.hpp>
#include <uringcmd/nvme/log.hpp>
#include <uringcmd/nvme/passthru.hpp>
#include <uringcmd/response.hpp>
#include <uringcmd/task.hpp>

namespace uringcmd::nvme {

/// basic_response's hook: a status the controller returned says more than its error_code.
inline std::optional<std::string> details_text(const reply& r) {
  if (!r.ok()) return describe(r.status);
  return std::nullopt;
}

/// A command's value or its error, with the completion when the controller answered.
template <class T>
using response = basic_response<T, reply>;

struct device_options {
  std::uint32_t admin_timeout_ms = 60'000;  ///< every admin command's deadline (nvme_core's default)
  std::uint32_t io_timeout_ms = 30'000;     ///< every I/O command's deadline (nvme_core's default)
  bool read_only = false;                   ///< open O_RDONLY: the kernel then refuses commands that write
};

namespace device_detail {
/// Owns a file descriptor; moves, never copies.
class owned_fd {
 public:
  owned_fd() = default;
  explicit owned_fd(int fd) noexcept : fd_(fd) {}
  owned_fd(owned_fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  owned_fd& operator=(owned_fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  ~owned_fd() { reset(); }
  int get() const noexcept { return fd_; }
  void reset() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

/// Runs one command; a status other than success becomes the error, with the reply kept.
inline task<response<reply>> run(command_op op) {
  auto r = co_await op;
  if (!r) co_return response<reply>(r.error());
  if (!r->ok()) co_return response<reply>(make_error_code(r->status), *r);
  co_return response<reply>(*r, *r);
}

inline std::span<const std::uint8_t> as_u8(std::span<const std::byte> b) noexcept {
  return {reinterpret_cast<const std::uint8_t*>(b.data()), b.size()};
}

/// "nvme0" for /dev/nvme0, /dev/nvme0n1, /dev/ng0n1 (the controller the node belongs to).
inline std::optional<std::string> controller_name(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const std::string name = fs::path(path).filename().string();
  if (fs::exists("/sys/class/nvme/" + name, ec)) return name;
  for (const char* cls : {"/sys/class/nvme-generic/", "/sys/class/block/"}) {
    const auto ctrl = fs::canonical(fs::path(cls) / name / "device", ec);
    if (!ec && fs::exists("/sys/class/nvme" / ctrl.filename(), ec)) return ctrl.filename().string();
  }
  return std::nullopt;
}
}  // namespace device_detail

class controller {
 public:
  /// Opens the controller of `path`: /dev/nvmeX itself, or any of its namespace nodes
  /// (/dev/nvmeXnY, /dev/ngXnY), resolved through sysfs.
  static task<response<controller>> open(std::string path, device_options opts = {}) {
    auto name = device_detail::controller_name(path);
    if (!name) co_return response<controller>(errno_code(ENODEV));
    controller c;
    c.path_ = "/dev/" + *name;
    c.opts_ = opts;
    c.fd_ = device_detail::owned_fd(::open(c.path_.c_str(), (opts.read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC));
    if (c.fd_.get() < 0) co_return response<controller>(errno_code(errno));
    co_return response<controller>(std::move(c), reply{});
  }

  int fd() const noexcept { return fd_.get(); }
  /// /dev/nvmeX.
  const std::string& path() const noexcept { return path_; }
  const device_options& options() const noexcept { return opts_; }

  /// Any admin command; the value is the completion (DW0 in reply::dw0).
  task<response<reply>> admin(command c, std::span<std::byte> data = {},
                              std::optional<std::uint32_t> timeout_ms = std::nullopt) {
    return device_detail::run(nvme::admin(fd_.get(), c, data, deadline(timeout_ms)));
  }

  /// Identify Controller into `buf` (4096 bytes); the value views it.
  task<response<id_ctrl>> identify(std::span<std::byte> buf) {
    return identify_as<id_ctrl>(nvme::identify_controller(), buf, parse_identify_controller);
  }
  /// Identify Namespace `nsid` into `buf` (4096 bytes); the value views it.
  task<response<id_ns>> identify_ns(std::uint32_t nsid, std::span<std::byte> buf) {
    return identify_as<id_ns>(nvme::identify_namespace(nsid), buf, parse_identify_namespace);
  }
  /// The active namespace IDs above `after`, up to 1024 of them (namespace_list::full() says
  /// whether to ask again from the last one).
  task<response<namespace_list>> active_namespaces(std::span<std::byte> buf, std::uint32_t after = 0) {
    return identify_as<namespace_list>(identify_active_namespaces(after), buf,
                                       [](std::span<const std::uint8_t> b) -> std::optional<namespace_list> {
                                         return parse_namespace_list(b);
                                       });
  }
  /// The Namespace Identification Descriptors of `nsid` (EUI64, NGUID, UUID, CSI).
  task<response<ns_descriptor_view>> ns_descriptors(std::uint32_t nsid, std::span<std::byte> buf) {
    return identify_as<ns_descriptor_view>(identify_ns_descriptors(nsid), buf,
                                           [](std::span<const std::uint8_t> b) -> std::optional<ns_descriptor_view> {
                                             return parse_ns_descriptors(b);
                                           });
  }

  /// The SMART / Health Information log (512 bytes), controller-wide unless `nsid` is given.
  task<response<smart_log>> smart(std::span<std::byte> buf, std::uint32_t nsid = nsid_all) {
    auto r = co_await admin(get_smart_log(nsid), buf.first(std::min(buf.size(), smart_log_size)));
    co_return parsed(std::move(r), parse_smart_log(device_detail::as_u8(buf)));
  }
  /// The Error Information log: as many 64-byte entries as `buf` holds (at most the
  /// controller's ELPE + 1 are meaningful).
  task<response<std::span<const std::uint8_t>>> error_log(std::span<std::byte> buf) {
    const std::size_t entries = buf.size() / error_log_entry_size;
    const auto c = get_error_log(static_cast<std::uint32_t>(entries));
    if (!c) co_return response<std::span<const std::uint8_t>>(errno_code(EINVAL));
    auto r = co_await admin(*c, buf.first(entries * error_log_entry_size));
    if (!r) co_return response<std::span<const std::uint8_t>>(r.error(), r.details());
    co_return response<std::span<const std::uint8_t>>(device_detail::as_u8(buf.first(entries * error_log_entry_size)),
                                                      *r.details());
  }
  /// The Firmware Slot Information log (512 bytes).
  task<response<firmware_slot_log>> firmware_slots(std::span<std::byte> buf) {
    auto r = co_await admin(get_firmware_slot_log(), buf.first(std::min(buf.size(), firmware_slot_log_size)));
    co_return parsed(std::move(r), parse_firmware_slot_log(device_detail::as_u8(buf)));
  }

  /// Get Features `fid`: the value is the completion's DW0 (nvme/features.hpp decodes it). The
  /// features that also return a data structure (LBA Range Type, Autonomous Power State
  /// Transition, Host Memory Buffer, Timestamp, ...) write it into `data`: give one of its size.
  task<response<std::uint32_t>> get_feature(std::uint8_t fid, feature_select sel = feature_select::current,
                                            std::uint32_t nsid = 0, std::uint32_t cdw11 = 0,
                                            std::span<std::byte> data = {}) {
    co_return dw0(co_await admin(get_features(fid, sel, nsid, cdw11), data));
  }
  /// Set Features `fid` to `cdw11`: the value is the completion's DW0.
  task<response<std::uint32_t>> set_feature(std::uint8_t fid, std::uint32_t cdw11, bool save = false,
                                            std::uint32_t nsid = 0) {
    co_return dw0(co_await admin(set_features(fid, cdw11, save, nsid)));
  }

 private:
  controller() = default;

  nvme::options deadline(std::optional<std::uint32_t> ms) const noexcept {
    nvme::options o;
    o.timeout_ms = ms.value_or(opts_.admin_timeout_ms);
    return o;
  }

  template <class T, class Parse>
  task<response<T>> identify_as(command c, std::span<std::byte> buf, Parse parse) {
    if (buf.size() < identify_size) co_return response<T>(errno_code(EINVAL));
    auto r = co_await admin(c, buf.first(identify_size));
    co_return parsed(std::move(r), parse(device_detail::as_u8(buf.first(identify_size))));
  }

  template <class T>
  static response<T> parsed(response<reply> r, std::optional<T> v) {
    if (!r) return response<T>(r.error(), r.details());
    if (!v) return response<T>(errno_code(EPROTO), r.details());
    return response<T>(std::move(*v), *r.details());
  }
  static response<std::uint32_t> dw0(response<reply> r) {
    if (!r) return response<std::uint32_t>(r.error(), r.details());
    return response<std::uint32_t>(r->dw0, *r.details());
  }

  device_detail::owned_fd fd_;
  std::string path_;
  device_options opts_;
};

}  // namespace uringcmd::nvme
