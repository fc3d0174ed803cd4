// SPDX-License-Identifier: MIT
// Our error codes in Asio's conventions: Asio reports errno values in its own system category
// (asio::error::get_system_category(), "asio.system", which Asio 1.22 keeps apart from
// std::system_category) and a cancelled operation as asio::error::operation_aborted (ECANCELED).
// Without the mapping `ec == asio::error::operation_aborted` would be false for our ECANCELED.
#pragma once

#include <cerrno>
#include <system_error>

#include <asio/error.hpp>

#include <uringcmd/error.hpp>

namespace uringcmd::asio {

/// `ec` as Asio code expects it: `to_asio(ec) == asio::error::operation_aborted` for an op that
/// was cancelled (ECANCELED, or refused because the executor is stopping); errnos (system or
/// generic category) move to Asio's system category; uringcmd::errc codes are kept.
inline std::error_code to_asio(std::error_code ec) noexcept {
  if (!ec) return ec;
  if (ec == make_error_code(errc::executor_stopping)) return ::asio::error::operation_aborted;
  if (ec.category() == std::system_category() || ec.category() == std::generic_category())
    return {ec.value(), ::asio::error::get_system_category()};
  return ec;
}

}  // namespace uringcmd::asio
