// SPDX-License-Identifier: MIT
// basic_response<T, Details>: what a device-layer command answers. A value, or an error_code a
// caller can branch on; and, whenever the device answered, the device's own account of it
// (Details: scsi::outcome, nvme::reply), also next to a value (a recovered error is a success
// with something to say). The protocol layers name it: scsi::response<T>, nvme::response<T>.
#pragma once

#include <optional>
#include <string>
#include <system_error>
#include <utility>

#include <uringcmd/error.hpp>

namespace uringcmd {

/// `Details` needs a `details_text(const Details&)` found by ADL: the device's account in one
/// line, or std::nullopt when it has nothing to add to the error_code.
template <class T, class Details>
class basic_response {
 public:
  basic_response(T v, Details d) : value_(std::move(v)), details_(std::move(d)) {}
  basic_response(std::error_code e, std::optional<Details> d = std::nullopt) : error_(e), details_(std::move(d)) {}

  bool has_value() const noexcept { return !error_; }
  explicit operator bool() const noexcept { return has_value(); }
  std::error_code error() const noexcept { return error_; }
  const std::optional<Details>& details() const noexcept { return details_; }
  /// The value; throws std::system_error whose message is describe().
  T& value() & {
    check();
    return *value_;
  }
  T&& value() && {
    check();
    return std::move(*value_);
  }
  T& operator*() noexcept { return *value_; }
  T* operator->() noexcept { return &*value_; }
  /// One line: the device's account when it answered, else the transport error.
  std::string describe() const {
    if (details_) {
      if (std::optional<std::string> s = details_text(*details_)) return *std::move(s);
    }
    return uringcmd::describe(error_);
  }

 private:
  void check() const {
    if (error_) throw std::system_error(error_, describe());
  }
  std::optional<T> value_;
  std::error_code error_;
  std::optional<Details> details_;
};

}  // namespace uringcmd
