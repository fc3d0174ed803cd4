// SPDX-License-Identifier: MIT
// The server's log: "2026-11-30 18:01:02 uringcmd-nbd: ..." on stderr, one fprintf per line so
// that threads do not interleave.
#pragma once

#include <cstdarg>
#include <cstdio>
#include <ctime>

namespace uringcmd::nbd {

inline void log(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
inline void log(const char* fmt, ...) {
  char when[32];
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::localtime_r(&now, &tm);
  std::strftime(when, sizeof when, "%F %T", &tm);
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  std::fprintf(stderr, "%s uringcmd-nbd: %s\n", when, msg);
}

}  // namespace uringcmd::nbd
