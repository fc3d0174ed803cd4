// SPDX-License-Identifier: MIT
// The NBD protocol (https://github.com/NetworkBlockDevice/nbd/blob/master/doc/proto.md) as pure
// functions: wire constants, the fixed newstyle handshake's option state machine, and request and
// reply encoding. No sockets here, so that the unit tests and the fuzz run reach every branch.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace uringcmd::nbd {

// ---- wire constants ----

inline constexpr std::uint64_t nbd_magic = 0x4e42444d41474943;       // "NBDMAGIC"
inline constexpr std::uint64_t opts_magic = 0x49484156454f5054;      // "IHAVEOPT"
inline constexpr std::uint64_t opt_reply_magic = 0x0003e889045565a9;
inline constexpr std::uint32_t request_magic = 0x25609513;
inline constexpr std::uint32_t simple_reply_magic = 0x67446698;
inline constexpr std::uint32_t structured_reply_magic = 0x668e33ef;

// Handshake flags (server) and client flags.
inline constexpr std::uint16_t flag_fixed_newstyle = 1 << 0;
inline constexpr std::uint16_t flag_no_zeroes = 1 << 1;

// Options.
enum : std::uint32_t {
  opt_export_name = 1,
  opt_abort = 2,
  opt_list = 3,
  opt_starttls = 5,
  opt_info = 6,
  opt_go = 7,
  opt_structured_reply = 8,
  opt_list_meta_context = 9,
  opt_set_meta_context = 10,
  opt_extended_headers = 11,
};

// Option reply types.
inline constexpr std::uint32_t rep_err_bit = 1U << 31;
enum : std::uint32_t {
  rep_ack = 1,
  rep_server = 2,
  rep_info = 3,
  rep_err_unsup = rep_err_bit | 1,
  rep_err_policy = rep_err_bit | 2,
  rep_err_invalid = rep_err_bit | 3,
  rep_err_unknown = rep_err_bit | 6,
};

// NBD_INFO_* in NBD_REP_INFO replies.
enum : std::uint16_t { info_export = 0, info_name = 1, info_description = 2, info_block_size = 3 };

// Transmission flags.
enum : std::uint16_t {
  tflag_has_flags = 1 << 0,
  tflag_read_only = 1 << 1,
  tflag_send_flush = 1 << 2,
  tflag_send_fua = 1 << 3,
  tflag_send_trim = 1 << 5,
  tflag_send_write_zeroes = 1 << 6,
  tflag_can_multi_conn = 1 << 8,
};

// Commands and command flags.
enum : std::uint16_t {
  cmd_read = 0,
  cmd_write = 1,
  cmd_disc = 2,
  cmd_flush = 3,
  cmd_trim = 4,
  cmd_cache = 5,
  cmd_write_zeroes = 6,
  cmd_block_status = 7,
};
enum : std::uint16_t { cmd_flag_fua = 1 << 0, cmd_flag_no_hole = 1 << 1, cmd_flag_df = 1 << 2 };
inline constexpr std::uint16_t known_cmd_flags = cmd_flag_fua | cmd_flag_no_hole | cmd_flag_df;

// Errors on the wire (NBD's own numbers, equal to Linux errnos for these).
enum : std::uint32_t {
  err_none = 0,
  err_perm = 1,
  err_io = 5,
  err_nomem = 12,
  err_inval = 22,
  err_nospc = 28,
  err_overflow = 75,
  err_notsup = 95,
  err_shutdown = 108,
};

// Structured reply chunk types and flags.
enum : std::uint16_t { reply_flag_done = 1 << 0 };
enum : std::uint16_t { reply_type_none = 0, reply_type_offset_data = 1, reply_type_error = 32769 };

inline constexpr std::size_t greeting_size = 18;
inline constexpr std::size_t option_header_size = 16;
inline constexpr std::size_t request_size = 28;
inline constexpr std::size_t simple_reply_size = 16;
inline constexpr std::size_t chunk_header_size = 20;
/// An option's data longer than this is a broken or hostile client: the connection is closed
/// (export names are at most 4096 bytes; nothing we accept carries more).
inline constexpr std::uint32_t max_option_length = 16 * 1024;

// ---- big-endian fields ----

template <class T>
T load_be(std::span<const std::byte> b, std::size_t at) noexcept {
  T v = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) v = static_cast<T>((v << 8) | static_cast<T>(b[at + i]));
  return v;
}
template <class T>
void store_be(std::span<std::byte> b, std::size_t at, T v) noexcept {
  for (std::size_t i = sizeof(T); i-- > 0;) {
    b[at + i] = static_cast<std::byte>(v & 0xff);
    v = static_cast<T>(v >> 8);
  }
}
template <class T>
void append_be(std::vector<std::byte>& out, T v) {
  const std::size_t at = out.size();
  out.resize(at + sizeof(T));
  store_be<T>(out, at, v);
}

// ---- the export ----

struct export_info {
  std::string name;  ///< "" matches too: the default export
  std::string description;
  std::uint64_t size = 0;
  bool read_only = false;
  /// The storage's block size: requests must be aligned to it (NBD_INFO_BLOCK_SIZE says so, and
  /// check_request refuses the rest with EINVAL rather than touching a neighbour's bytes).
  std::uint32_t min_block = 1;
  std::uint32_t preferred_block = 4096;
  std::uint32_t max_block = 32 * 1024 * 1024;  ///< the largest request payload accepted
  bool can_trim = true;  ///< the storage can deallocate (else TRIM is not offered)

  std::uint16_t transmission_flags() const noexcept {
    std::uint16_t f = tflag_has_flags | tflag_send_flush | tflag_send_fua | tflag_can_multi_conn;
    if (read_only) return f | tflag_read_only;
    f |= tflag_send_write_zeroes;
    if (can_trim) f |= tflag_send_trim;
    return f;
  }
  bool matches(std::string_view requested) const noexcept { return requested.empty() || requested == name; }
};

// ---- handshake ----

/// The server's first 18 bytes.
inline std::array<std::byte, greeting_size> greeting() noexcept {
  std::array<std::byte, greeting_size> g{};
  store_be<std::uint64_t>(g, 0, nbd_magic);
  store_be<std::uint64_t>(g, 8, opts_magic);
  store_be<std::uint16_t>(g, 16, flag_fixed_newstyle | flag_no_zeroes);
  return g;
}

struct option_header {
  std::uint32_t option;
  std::uint32_t length;
};
/// nullopt for a bad magic (the client is not speaking fixed newstyle: close).
inline std::optional<option_header> parse_option_header(std::span<const std::byte, option_header_size> b) noexcept {
  if (load_be<std::uint64_t>(b, 0) != opts_magic) return std::nullopt;
  return option_header{load_be<std::uint32_t>(b, 8), load_be<std::uint32_t>(b, 12)};
}

/// The option phase, one option at a time: feed it each option and send what it appends.
class handshake {
 public:
  enum class next { more_options, transmission, close };

  explicit handshake(const export_info& e) noexcept : export_(e) {}

  /// The client's 32-bit flags; false means close (it lacks FIXED_NEWSTYLE or sets bits we never
  /// offered).
  bool on_client_flags(std::uint32_t flags) noexcept {
    if (!(flags & flag_fixed_newstyle) || (flags & ~std::uint32_t{flag_fixed_newstyle | flag_no_zeroes})) return false;
    no_zeroes_ = flags & flag_no_zeroes;
    return true;
  }

  /// Handles one option; appends the bytes to send to `out`.
  next on_option(std::uint32_t option, std::span<const std::byte> data, std::vector<std::byte>& out) {
    switch (option) {
      case opt_export_name: {
        const std::string_view name(reinterpret_cast<const char*>(data.data()), data.size());
        if (!export_.matches(name)) return next::close;  // this option has no way to say "no such export"
        append_be<std::uint64_t>(out, export_.size);
        append_be<std::uint16_t>(out, export_.transmission_flags());
        if (!no_zeroes_) out.resize(out.size() + 124);
        return next::transmission;
      }
      case opt_abort:
        reply(out, option, rep_ack, {});
        return next::close;
      case opt_list: {
        if (!data.empty()) return error(out, option, rep_err_invalid, "NBD_OPT_LIST takes no data");
        std::vector<std::byte> entry;
        append_be<std::uint32_t>(entry, static_cast<std::uint32_t>(export_.name.size()));
        append_text(entry, export_.name);
        reply(out, option, rep_server, entry);
        reply(out, option, rep_ack, {});
        return next::more_options;
      }
      case opt_info:
      case opt_go:
        return info_or_go(option, data, out);
      case opt_structured_reply:
        if (!data.empty()) return error(out, option, rep_err_invalid, "NBD_OPT_STRUCTURED_REPLY takes no data");
        structured_ = true;
        reply(out, option, rep_ack, {});
        return next::more_options;
      default:  // STARTTLS, meta contexts, extended headers, and anything newer
        return error(out, option, rep_err_unsup, "option not supported by uringcmd-nbd");
    }
  }

  bool structured_replies() const noexcept { return structured_; }

 private:
  next info_or_go(std::uint32_t option, std::span<const std::byte> data, std::vector<std::byte>& out) {
    // u32 name length, name, u16 count, count x u16 info types
    if (data.size() < 6) return error(out, option, rep_err_invalid, "truncated NBD_OPT_INFO/GO");
    const std::uint32_t name_len = load_be<std::uint32_t>(data, 0);
    if (name_len > data.size() - 6) return error(out, option, rep_err_invalid, "export name past the option's end");
    const std::string_view name(reinterpret_cast<const char*>(data.data()) + 4, name_len);
    const std::uint16_t count = load_be<std::uint16_t>(data, 4 + name_len);
    if (data.size() != 6 + name_len + 2 * std::size_t{count})
      return error(out, option, rep_err_invalid, "NBD_OPT_INFO/GO length disagrees with its request count");
    if (!export_.matches(name)) return error(out, option, rep_err_unknown, "no such export");
    bool want_name = false, want_description = false;
    for (std::uint16_t i = 0; i < count; ++i) {
      const std::uint16_t type = load_be<std::uint16_t>(data, 6 + name_len + 2 * std::size_t{i});
      want_name |= type == info_name;
      want_description |= type == info_description;
    }
    std::vector<std::byte> info;
    append_be<std::uint16_t>(info, info_export);
    append_be<std::uint64_t>(info, export_.size);
    append_be<std::uint16_t>(info, export_.transmission_flags());
    reply(out, option, rep_info, info);
    info.clear();
    append_be<std::uint16_t>(info, info_block_size);
    append_be<std::uint32_t>(info, export_.min_block);
    append_be<std::uint32_t>(info, export_.preferred_block);
    append_be<std::uint32_t>(info, export_.max_block);
    reply(out, option, rep_info, info);
    if (want_name) {
      info.clear();
      append_be<std::uint16_t>(info, info_name);
      append_text(info, export_.name);
      reply(out, option, rep_info, info);
    }
    if (want_description && !export_.description.empty()) {
      info.clear();
      append_be<std::uint16_t>(info, info_description);
      append_text(info, export_.description);
      reply(out, option, rep_info, info);
    }
    reply(out, option, rep_ack, {});
    return option == opt_go ? next::transmission : next::more_options;
  }

  static void append_text(std::vector<std::byte>& out, std::string_view s) {
    const auto* p = reinterpret_cast<const std::byte*>(s.data());
    out.insert(out.end(), p, p + s.size());
  }
  static void reply(std::vector<std::byte>& out, std::uint32_t option, std::uint32_t type,
                    std::span<const std::byte> data) {
    append_be<std::uint64_t>(out, opt_reply_magic);
    append_be<std::uint32_t>(out, option);
    append_be<std::uint32_t>(out, type);
    append_be<std::uint32_t>(out, static_cast<std::uint32_t>(data.size()));
    out.insert(out.end(), data.begin(), data.end());
  }
  static next error(std::vector<std::byte>& out, std::uint32_t option, std::uint32_t type, std::string_view why) {
    reply(out, option, type, std::as_bytes(std::span(why.data(), why.size())));
    return next::more_options;
  }

  const export_info& export_;
  bool no_zeroes_ = false;
  bool structured_ = false;
};

// ---- transmission ----

struct request {
  std::uint16_t flags;
  std::uint16_t type;
  std::uint64_t handle;
  std::uint64_t offset;
  std::uint32_t length;
};

/// nullopt for a bad magic: the stream cannot be resynchronised, close.
inline std::optional<request> parse_request(std::span<const std::byte, request_size> b) noexcept {
  if (load_be<std::uint32_t>(b, 0) != request_magic) return std::nullopt;
  return request{load_be<std::uint16_t>(b, 4), load_be<std::uint16_t>(b, 6), load_be<std::uint64_t>(b, 8),
                 load_be<std::uint64_t>(b, 16), load_be<std::uint32_t>(b, 24)};
}
inline std::array<std::byte, request_size> encode_request(const request& r) noexcept {
  std::array<std::byte, request_size> b{};
  store_be<std::uint32_t>(b, 0, request_magic);
  store_be<std::uint16_t>(b, 4, r.flags);
  store_be<std::uint16_t>(b, 6, r.type);
  store_be<std::uint64_t>(b, 8, r.handle);
  store_be<std::uint64_t>(b, 16, r.offset);
  store_be<std::uint32_t>(b, 24, r.length);
  return b;
}

/// What the server does with a request before touching storage.
struct verdict {
  enum class action {
    serve,             ///< run it
    reject,            ///< reply `error` (a WRITE's payload is read and dropped first)
    disconnect,        ///< NBD_CMD_DISC: finish what is in flight, then close
    close,             ///< the client broke the protocol: close now
  } what;
  std::uint32_t error = err_none;
  /// Bytes of payload that follow the header on the wire (WRITE only).
  std::uint32_t payload = 0;
};

/// Checks a request against the export: the export is never touched outside [0, size), a read-only
/// export is never written, a payload larger than max_block closes the connection (reading it
/// would let one client make us buffer gigabytes), a request not aligned to min_block is refused
/// (EINVAL; no read-modify-write: a partial block would race with a concurrent write of the
/// rest of it), and so is a TRIM the storage cannot do (it was never offered).
inline verdict check_request(const request& r, const export_info& e) noexcept {
  using a = verdict::action;
  const std::uint32_t payload = r.type == cmd_write ? r.length : 0;
  if (payload > e.max_block) return {a::close, err_overflow, 0};
  auto reject = [&](std::uint32_t err) { return verdict{a::reject, err, payload}; };
  if (r.flags & ~known_cmd_flags) return reject(err_inval);
  const bool in_range = r.offset <= e.size && r.length <= e.size - r.offset;
  const bool aligned = e.min_block <= 1 || (r.offset % e.min_block == 0 && r.length % e.min_block == 0);
  switch (r.type) {
    case cmd_read:
      if (r.length > e.max_block) return reject(err_overflow);
      if (!in_range || !aligned) return reject(err_inval);
      return {a::serve, err_none, 0};
    case cmd_write:
    case cmd_trim:
    case cmd_write_zeroes:
      if (e.read_only) return reject(err_perm);
      if (!in_range) return reject(r.type == cmd_write ? err_nospc : err_inval);
      if (!aligned || (r.type == cmd_trim && !e.can_trim)) return reject(err_inval);
      return {a::serve, err_none, payload};
    case cmd_flush:
      return {a::serve, err_none, 0};
    case cmd_disc:
      return {a::disconnect, err_none, 0};
    default:  // CACHE, BLOCK_STATUS (never negotiated), unknown
      return reject(err_inval);
  }
}

/// A simple reply's 16 bytes.
inline std::array<std::byte, simple_reply_size> simple_reply(std::uint64_t handle, std::uint32_t error) noexcept {
  std::array<std::byte, simple_reply_size> b{};
  store_be<std::uint32_t>(b, 0, simple_reply_magic);
  store_be<std::uint32_t>(b, 4, error);
  store_be<std::uint64_t>(b, 8, handle);
  return b;
}

/// A structured reply chunk header (20 bytes) into `b`; `length` counts the bytes after it.
inline void chunk_header(std::span<std::byte> b, std::uint16_t flags, std::uint16_t type, std::uint64_t handle,
                         std::uint32_t length) noexcept {
  store_be<std::uint32_t>(b, 0, structured_reply_magic);
  store_be<std::uint16_t>(b, 4, flags);
  store_be<std::uint16_t>(b, 6, type);
  store_be<std::uint64_t>(b, 8, handle);
  store_be<std::uint32_t>(b, 16, length);
}

/// The largest reply header the server sends ahead of data: an error chunk with a short message.
inline constexpr std::size_t max_reply_header = 64;

/// The header bytes of the reply to `r` (data, if any, follows them on the wire): a simple reply,
/// or with structured replies one chunk with NBD_REPLY_FLAG_DONE for reads and failures
/// (OFFSET_DATA for a read, NONE for an empty one, ERROR for a failure). Returns its length.
inline std::size_t encode_reply(std::span<std::byte, max_reply_header> b, const request& r, std::uint32_t error,
                                bool structured) noexcept {
  // With structured replies, a success without data may still be a simple reply (the spec's
  // "MAY", except for reads): libnbd reads a simple reply in one recv and a chunk header in two.
  // Random 4 KiB writes over one connection, where fio (libnbd) is the bottleneck: 719 -> 791
  // MiB/s (docs/benchmarks.md).
  if (!structured || (error == err_none && r.type != cmd_read)) {
    const auto s = simple_reply(r.handle, error);
    std::copy(s.begin(), s.end(), b.begin());
    return s.size();
  }
  if (error != err_none) {
    // u32 error, u16 message length, message (empty: the error number says it)
    chunk_header(b, reply_flag_done, reply_type_error, r.handle, 6);
    store_be<std::uint32_t>(b, chunk_header_size, error);
    store_be<std::uint16_t>(b, chunk_header_size + 4, 0);
    return chunk_header_size + 6;
  }
  if (r.type == cmd_read && r.length > 0) {
    chunk_header(b, reply_flag_done, reply_type_offset_data, r.handle, 8 + r.length);
    store_be<std::uint64_t>(b, chunk_header_size, r.offset);
    return chunk_header_size + 8;
  }
  chunk_header(b, reply_flag_done, reply_type_none, r.handle, 0);
  return chunk_header_size;
}

/// A Linux errno as the NBD error a client understands (anything else reads as EIO).
inline std::uint32_t nbd_error_of(int errno_value) noexcept {
  switch (errno_value) {
    case 0: return err_none;
    case 1: case 13: case 30: return err_perm;  // EPERM, EACCES, EROFS
    case 12: return err_nomem;
    case 22: return err_inval;
    case 27: case 28: case 122: return err_nospc;  // EFBIG, ENOSPC, EDQUOT
    case 75: return err_overflow;
    case 95: return err_notsup;
    default: return err_io;
  }
}

}  // namespace uringcmd::nbd
