// SPDX-License-Identifier: MIT
// scsi::decode_sense against sg3_utils' sg_decode_sense on the same bytes: a few hundred generated
// vectors in both formats (sense keys, ASC/ASCQ from the table, ranges and unnamed codes,
// information, sense-key-specific data). Needs /usr/bin/sg_decode_sense (Debian sg3-utils).
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <random>
#include <string>
#include <variant>
#include <utility>
#include <vector>

#include <doctest/doctest.h>

#include "support/skip.hpp"

#include <uringcmd/scsi/sense.hpp>

using namespace uringcmd::scsi;

namespace {

bool have_sg_decode_sense() { return std::system("command -v sg_decode_sense >/dev/null 2>&1") == 0; }

/// sg_decode_sense's output for each vector, run without a shell, `parallel` processes at a time.
std::vector<std::string> sg_decode_all(const std::vector<std::vector<std::uint8_t>>& vectors, std::size_t parallel) {
  std::vector<std::string> outputs(vectors.size());
  for (std::size_t first = 0; first < vectors.size(); first += parallel) {
    const std::size_t last = std::min(vectors.size(), first + parallel);
    std::vector<std::pair<pid_t, int>> running;
    for (std::size_t i = first; i < last; ++i) {
      std::vector<std::string> args{"sg_decode_sense"};
      char hex[3];
      for (auto b : vectors[i]) {
        std::snprintf(hex, sizeof hex, "%02x", b);
        args.emplace_back(hex);
      }
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      int fds[2];
      REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
      posix_spawn_file_actions_t fa;
      ::posix_spawn_file_actions_init(&fa);
      ::posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
      ::posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
      pid_t pid = -1;
      const int rc = ::posix_spawnp(&pid, "sg_decode_sense", &fa, nullptr, argv.data(), environ);
      ::posix_spawn_file_actions_destroy(&fa);
      ::close(fds[1]);
      REQUIRE(rc == 0);
      running.emplace_back(pid, fds[0]);
    }
    for (std::size_t k = 0; k < running.size(); ++k) {
      auto [pid, fd] = running[k];
      char buf[1024];
      ssize_t n;
      while ((n = ::read(fd, buf, sizeof buf)) > 0) outputs[first + k].append(buf, static_cast<std::size_t>(n));
      ::close(fd);
      int status = 0;
      ::waitpid(pid, &status, 0);
    }
  }
  return outputs;
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> lines;
  std::size_t at = 0;
  while (at < s.size()) {
    auto nl = s.find('\n', at);
    if (nl == std::string::npos) nl = s.size();
    std::string l = s.substr(at, nl - at);
    while (!l.empty() && (l.back() == ' ' || l.back() == '\r')) l.pop_back();
    lines.push_back(l);
    at = nl + 1;
  }
  return lines;
}

/// The hex number after `marker` in `out`, if `marker` occurs.
std::optional<std::uint64_t> hex_after(const std::string& out, const std::string& marker) {
  const auto at = out.find(marker);
  if (at == std::string::npos) return std::nullopt;
  return std::strtoull(out.c_str() + at + marker.size(), nullptr, 16);
}

struct vector_spec {
  bool descriptor;
  bool deferred;
  std::uint8_t key, asc, ascq;
  std::optional<std::uint64_t> information;
  std::optional<std::array<std::uint8_t, 3>> sks;
};

std::vector<std::uint8_t> build(const vector_spec& s) {
  std::vector<std::uint8_t> v;
  if (!s.descriptor) {
    v.assign(18, 0);
    v[0] = static_cast<std::uint8_t>((s.deferred ? 0x71 : 0x70) | (s.information ? 0x80 : 0));
    v[2] = s.key;
    if (s.information) put_be<4>(&v[3], *s.information);
    v[7] = 10;
    v[12] = s.asc;
    v[13] = s.ascq;
    if (s.sks) std::copy(s.sks->begin(), s.sks->end(), v.begin() + 15);
    return v;
  }
  v = {static_cast<std::uint8_t>(s.deferred ? 0x73 : 0x72), s.key, s.asc, s.ascq, 0, 0, 0, 0};
  if (s.information) {
    const std::size_t at = v.size();
    v.resize(at + 12);
    v[at] = 0x00;
    v[at + 1] = 0x0a;
    v[at + 2] = 0x80;
    put_be<8>(&v[at + 4], *s.information);
  }
  if (s.sks) {
    v.insert(v.end(), {0x02, 0x06, 0x00, 0x00, (*s.sks)[0], (*s.sks)[1], (*s.sks)[2], 0x00});
  }
  v[7] = static_cast<std::uint8_t>(v.size() - 8);
  return v;
}

}  // namespace

TEST_CASE("decode_sense agrees with sg_decode_sense on generated vectors of both formats") {
  if (!have_sg_decode_sense()) UC_SKIP("sg_decode_sense (sg3-utils) is not installed");

  std::mt19937 rng(20240917);
  const auto& table = sense_detail::asc_table;
  constexpr int count = 400;
  std::vector<vector_spec> specs;
  for (int i = 0; i < count; ++i) {
    vector_spec spec{};
    spec.descriptor = rng() % 2 == 0;
    spec.deferred = rng() % 5 == 0;
    spec.key = static_cast<std::uint8_t>(rng() % 16);
    switch (rng() % 10) {
      case 0: {  // a range: 40h/NN, 70h/NN
        const auto& r = sense_detail::asc_range_table[rng() % sense_detail::asc_range_table.size()];
        spec.asc = r.asc;
        spec.ascq = static_cast<std::uint8_t>(r.ascq_min + rng() % (r.ascq_max - r.ascq_min + 1U));
        break;
      }
      case 1:  // anything, mostly unnamed
        spec.asc = static_cast<std::uint8_t>(rng());
        spec.ascq = static_cast<std::uint8_t>(rng());
        break;
      default: {
        const auto& e = table[rng() % table.size()];
        spec.asc = e.asc;
        spec.ascq = e.ascq;
      }
    }
    if (rng() % 2) {
      spec.information = spec.descriptor ? (std::uint64_t{rng()} << 32 | rng()) : std::uint64_t{rng()};
    }
    const auto key = static_cast<sense_key>(spec.key);
    const bool sks_known = key == sense_key::illegal_request || key == sense_key::not_ready ||
                           key == sense_key::no_sense || key == sense_key::recovered_error ||
                           key == sense_key::medium_error || key == sense_key::hardware_error;
    if (sks_known && rng() % 2) {
      std::uint8_t b0 = 0x80;
      if (key == sense_key::illegal_request) b0 = static_cast<std::uint8_t>(0x80 | (rng() & 0x4f));
      spec.sks = std::array<std::uint8_t, 3>{b0, static_cast<std::uint8_t>(rng()), static_cast<std::uint8_t>(rng())};
    }
    specs.push_back(spec);
  }
  std::vector<std::vector<std::uint8_t>> vectors;
  for (const auto& spec : specs) vectors.push_back(build(spec));
  const auto outputs = sg_decode_all(vectors, 16);

  int with_info = 0, with_sks = 0, named = 0;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const vector_spec& spec = specs[i];
    const auto key = static_cast<sense_key>(spec.key);
    const auto& bytes = vectors[i];
    const auto ours = decode_sense(bytes);
    const std::string& theirs = outputs[i];
    const auto lines = lines_of(theirs);
    CAPTURE(theirs);
    REQUIRE(ours);
    REQUIRE(!lines.empty());

    // Format, deferred, sense key.
    CHECK(lines[0].starts_with(spec.descriptor ? "Descriptor format" : "Fixed format"));
    CHECK((lines[0].find("deferred") != std::string::npos) == ours->deferred);
    const auto key_at = lines[0].find("Sense key: ");
    REQUIRE(key_at != std::string::npos);
    const std::string their_key = lines[0].substr(key_at + 11);
    CHECK(ours->key == key);
    if (key != sense_key::vendor_specific) CHECK(their_key == sense_key_name(ours->key));

    // ASC/ASCQ: "Additional sense: <name>", or sg3_utils' "ASC=.., ASCQ=.. (hex)" line.
    const std::string desc = ours->asc_text();
    bool asc_found = false;
    for (const auto& l : lines) asc_found = asc_found || l == "Additional sense: " + desc || l == desc;
    CHECK_MESSAGE(asc_found, "ours: " << desc);
    named += asc_name(ours->asc, ours->ascq).empty() ? 0 : 1;

    // Information.
    const auto their_info = spec.descriptor ? hex_after(theirs, "Information: 0x") : hex_after(theirs, "Info fld=0x");
    CHECK(ours->information == spec.information);
    CHECK(their_info == ours->information);
    with_info += ours->information ? 1 : 0;

    // Sense-key-specific data.
    CHECK(ours->sks.has_value() == spec.sks.has_value());
    if (ours->sks) {
      ++with_sks;
      if (const auto* fp = std::get_if<field_pointer>(&*ours->sks)) {
        std::string want = std::string(fp->command ? "Error in Command: " : "Error in Data parameters: ") + "byte " +
                           std::to_string(fp->field);
        if (fp->bit_valid) want += " bit " + std::to_string(fp->bit);
        CHECK_MESSAGE(theirs.find(want) != std::string::npos, "want: " << want);
      } else if (std::holds_alternative<progress_indication>(*ours->sks)) {
        std::string want = describe(*ours->sks);  // "progress 25.00%"
        want = "Progress indication: " + want.substr(want.find(' ') + 1);
        CHECK_MESSAGE(theirs.find(want) != std::string::npos, "want: " << want);
      } else if (const auto* rc = std::get_if<retry_count>(&*ours->sks)) {
        // sg3_utils 1.46 prints the count in hex for fixed format and in decimal for descriptor format.
        char want[40];
        std::snprintf(want, sizeof want, spec.descriptor ? "Actual retry count: %u" : "Actual retry count: 0x%x",
                      unsigned{rc->count});
        CHECK_MESSAGE(theirs.find(want) != std::string::npos, "want: " << want);
      } else {
        FAIL("unexpected sense-key-specific form");
      }
    }
  }
  MESSAGE("cross-checked " << count << " vectors with sg_decode_sense: " << named << " named ASC/ASCQ, " << with_info
                           << " with information, " << with_sks << " with sense-key-specific data");
}
