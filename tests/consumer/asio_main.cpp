// SPDX-License-Identifier: MIT
// Built against the installed package by scripts/test: proves find_package(uringcmd) exports
// uringcmd::asio, the Asio bridge, with its headers.
#include <iostream>

#include <uringcmd/asio/bridge.hpp>
#include <uringcmd/ops.hpp>

int main() {
  asio::io_context io;
  uringcmd::executor ex;
  uringcmd::asio::ring_driver driver(io, ex);
  std::error_code result = make_error_code(std::errc::interrupted);
  uringcmd::asio::async_run(driver, uringcmd::nop(), [&](std::error_code ec) { result = ec; });
  io.run();
  std::cout << "consumer: a NOP through the Asio bridge: " << (result ? result.message() : "ok") << '\n';
  return result ? 1 : 0;
}
