// SPDX-License-Identifier: MIT
// The command-line tools' bulk transfers (read/write subcommands): bounded buffers, progress on
// stderr for long ones, and where data read goes (a file, the JSON "data" field, a hex dump).
#pragma once

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "output.hpp"

namespace cli {

inline constexpr std::uint64_t MiB = 1024 * 1024;
inline constexpr std::uint64_t chunk_bytes = 8 * MiB;     // a bounded buffer, however much moves
inline constexpr std::uint64_t progress_step = 64 * MiB;  // longer transfers report progress

inline std::span<const std::uint8_t> u8(std::span<const std::byte> b) {
  return {reinterpret_cast<const std::uint8_t*>(b.data()), b.size()};
}

/// "PROGRAM COMMAND: 64 of 512 MiB" on stderr about every 64 MiB of a transfer longer than that.
inline void progress(std::string_view program, std::string_view command, std::uint64_t done, std::uint64_t total) {
  if (total > progress_step && (done % progress_step < chunk_bytes || done == total))
    std::cerr << program << ' ' << command << ": " << done / MiB << " of " << total / MiB << " MiB\n";
}

/// Sends data read somewhere: to the file `out`, to the JSON "data" field, or as a hex dump.
struct data_sink {
  const std::string& out;
  output_mode mode;
  std::ofstream file;
  std::string json_hex;
  bool open() {
    if (out.empty()) return true;
    file.open(out, std::ios::binary | std::ios::trunc);
    return file.good();
  }
  bool put(std::span<const std::uint8_t> bytes, std::uint64_t offset) {
    if (!out.empty())
      return bool(file.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size())));
    if (mode.json) json_hex += hex_string(bytes);
    else hexdump(std::cout, bytes, offset);
    return true;
  }
  void finish(fields& f) {
    if (!out.empty()) f.emplace_back("file", out);
    else if (mode.json) f.emplace_back("data", std::move(json_hex));
  }
};

}  // namespace cli
