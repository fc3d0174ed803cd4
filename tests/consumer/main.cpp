// SPDX-License-Identifier: MIT
// Built against the installed package by scripts/test: proves find_package(uringcmd) works.
#include <iostream>

#include <uringcmd/uringcmd.hpp>

uringcmd::task<int> twice() {
  (co_await uringcmd::nop()).value();
  (co_await uringcmd::nop()).value();
  co_return 2;
}

int main() {
  uringcmd::executor ex;
  int n = uringcmd::sync_wait(ex, twice());
  std::cout << "consumer: " << n << " nops through uringcmd " << uringcmd::version_string << '\n';
  return n == 2 ? 0 : 1;
}
