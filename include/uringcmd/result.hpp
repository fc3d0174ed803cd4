// SPDX-License-Identifier: MIT
// result<T>: a value or a std::error_code (std::expected needs C++23; g++ 12 in C++20 lacks it).
#pragma once

#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

#include <uringcmd/error.hpp>

namespace uringcmd {

/// Wraps an error so result<T> can be built from it unambiguously (like std::unexpected).
struct failure {
  std::error_code code;
};

template <class E>
  requires std::is_error_code_enum_v<E>
failure fail(E e) noexcept { return {make_error_code(e)}; }
inline failure fail(std::error_code ec) noexcept { return {ec}; }
/// From a kernel return value such as cqe->res (negative errno).
inline failure fail_errno(int negative_errno) noexcept { return {errno_code(-negative_errno)}; }

/// The outcome of an operation. value() throws std::system_error with a named message on error.
template <class T>
class [[nodiscard]] result {
 public:
  using value_type = T;
  result(T v) noexcept(std::is_nothrow_move_constructible_v<T>) : v_(std::in_place_index<0>, std::move(v)) {}
  result(failure f) noexcept : v_(std::in_place_index<1>, f.code) {}

  bool has_value() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  T& value() & { check(); return std::get<0>(v_); }
  const T& value() const& { check(); return std::get<0>(v_); }
  T&& value() && { check(); return std::get<0>(std::move(v_)); }
  T& operator*() noexcept { return *std::get_if<0>(&v_); }
  const T& operator*() const noexcept { return *std::get_if<0>(&v_); }
  T* operator->() noexcept { return std::get_if<0>(&v_); }
  const T* operator->() const noexcept { return std::get_if<0>(&v_); }
  template <class U>
  T value_or(U&& fallback) const& { return has_value() ? **this : static_cast<T>(std::forward<U>(fallback)); }

  /// The error, or a default (success) error_code when a value is held.
  std::error_code error() const noexcept { return has_value() ? std::error_code{} : std::get<1>(v_); }

 private:
  void check() const {
    if (!has_value()) throw uringcmd::system_error(std::get<1>(v_), "");
  }
  std::variant<T, std::error_code> v_;
};

template <>
class [[nodiscard]] result<void> {
 public:
  using value_type = void;
  result() noexcept = default;
  result(failure f) noexcept {
    if (f.code) {
      value_ = f.code.value();
      category_ = &f.code.category();
    }
  }

  bool has_value() const noexcept { return category_ == nullptr; }
  explicit operator bool() const noexcept { return has_value(); }
  void value() const {
    if (!has_value()) throw uringcmd::system_error(error(), "");
  }
  std::error_code error() const noexcept {
    return has_value() ? std::error_code{} : std::error_code{value_, *category_};
  }

 private:
  // Not a std::error_code: its default constructor calls the out-of-line std::system_category(),
  // which every successful op (the hot path) would pay for.
  int value_ = 0;
  const std::error_category* category_ = nullptr;
};

}  // namespace uringcmd
