// SPDX-License-Identifier: MIT
// The ublk UAPI (linux/ublk_cmd.h) as far as uringcmd uses it. Debian 12's header is from 6.1 and
// lacks GET_FEATURES and every later flag, so the layout is defined here from the kernel's UAPI
// (include/uapi/linux/ublk_cmd.h, 7.x), with the sizes and offsets checked below.
#pragma once

#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace uringcmd::ublk {

/// Payload of every control command on /dev/ublk-control (ring must be SQE128).
struct ctrl_cmd {
  std::uint32_t dev_id = ~0u;
  std::uint16_t queue_id = 0xffff;
  std::uint16_t len = 0;
  std::uint64_t addr = 0;
  std::uint64_t data[1] = {0};
  std::uint16_t dev_path_len = 0;
  std::uint16_t pad = 0;
  std::uint32_t reserved = 0;
};
static_assert(sizeof(ctrl_cmd) == 32);

/// Payload of every data-plane command on /dev/ublkcN (fits a 64-byte SQE).
struct io_cmd {
  std::uint16_t q_id = 0;
  std::uint16_t tag = 0;
  std::int32_t result = 0;  ///< COMMIT: bytes done or -errno; FETCH: ignored (-1 by convention)
  std::uint64_t addr = 0;   ///< the tag's buffer (copy mode), or zone_append_lba
};
static_assert(sizeof(io_cmd) == 16 && offsetof(io_cmd, result) == 4 && offsetof(io_cmd, addr) == 8);
using ublksrv_io_cmd = io_cmd;

/// Payload of the BATCH_IO commands (struct ublk_batch_io, 7.0): PREP_IO_CMDS and COMMIT_IO_CMDS
/// point sqe->addr at nr_elem elements of elem_bytes each (batch_elem_bytes()).
struct batch_io {
  std::uint16_t q_id = 0;
  std::uint16_t flags = 0;  ///< batch_flag::*
  std::uint16_t nr_elem = 0;
  std::uint8_t elem_bytes = 0;
  std::uint8_t reserved = 0;
  std::uint64_t reserved2 = 0;
};
static_assert(sizeof(batch_io) == 16 && offsetof(batch_io, elem_bytes) == 6);

/// UBLK_BATCH_F_*: which optional 8-byte fields follow each element's header.
namespace batch_flag {
inline constexpr std::uint16_t has_zone_lba = 1u << 0;
inline constexpr std::uint16_t has_buf_addr = 1u << 1;
inline constexpr std::uint16_t auto_buf_reg_fallback = 1u << 2;
}  // namespace batch_flag

/// The mandatory head of a batch element (struct ublk_elem_header); then buf_addr (has_buf_addr),
/// then zone_lba (has_zone_lba), 8 bytes each.
struct batch_elem_header {
  std::uint16_t tag = 0;
  std::uint16_t buf_index = 0;  ///< AUTO_BUF_REG's index
  std::int32_t result = 0;      ///< COMMIT_IO_CMDS: bytes done or -errno
};
static_assert(sizeof(batch_elem_header) == 8);

/// The size of one batch element for `flags`.
constexpr std::uint8_t batch_elem_bytes(std::uint16_t flags) noexcept {
  return static_cast<std::uint8_t>(sizeof(batch_elem_header) + ((flags & batch_flag::has_buf_addr) ? 8 : 0) +
                                   ((flags & batch_flag::has_zone_lba) ? 8 : 0));
}

namespace detail {
// _IOC(dir, 'u', nr, size) as the kernel encodes it.
constexpr std::uint32_t ioc(std::uint32_t dir, std::uint32_t nr, std::uint32_t size) {
  return (dir << 30) | (size << 16) | (std::uint32_t{'u'} << 8) | nr;
}
constexpr std::uint32_t ior(std::uint32_t nr) { return ioc(2, nr, sizeof(ctrl_cmd)); }
constexpr std::uint32_t iowr(std::uint32_t nr) { return ioc(3, nr, sizeof(ctrl_cmd)); }
constexpr std::uint32_t io_iowr(std::uint32_t nr) { return ioc(3, nr, sizeof(io_cmd)); }
constexpr std::uint32_t batch_iowr(std::uint32_t nr) { return ioc(3, nr, sizeof(batch_io)); }
}  // namespace detail

/// Ioctl-encoded control opcodes (UBLK_U_CMD_*; the legacy raw numbers are not used).
namespace cmd {
inline constexpr std::uint32_t get_queue_affinity = detail::ior(0x01);
inline constexpr std::uint32_t get_dev_info = detail::ior(0x02);
inline constexpr std::uint32_t add_dev = detail::iowr(0x04);
inline constexpr std::uint32_t del_dev = detail::iowr(0x05);
inline constexpr std::uint32_t start_dev = detail::iowr(0x06);
inline constexpr std::uint32_t stop_dev = detail::iowr(0x07);
inline constexpr std::uint32_t set_params = detail::iowr(0x08);
inline constexpr std::uint32_t get_params = detail::ior(0x09);
inline constexpr std::uint32_t start_user_recovery = detail::iowr(0x10);  // 6.1
inline constexpr std::uint32_t end_user_recovery = detail::iowr(0x11);    // 6.1
inline constexpr std::uint32_t get_dev_info2 = detail::ior(0x12);         // 6.3
inline constexpr std::uint32_t get_features = detail::ior(0x13);          // 6.5
inline constexpr std::uint32_t del_dev_async = detail::ior(0x14);         // 6.9
inline constexpr std::uint32_t update_size = detail::iowr(0x15);          // 6.16, UBLK_F_UPDATE_SIZE
inline constexpr std::uint32_t quiesce_dev = detail::iowr(0x16);          // 6.16, UBLK_F_QUIESCE
inline constexpr std::uint32_t try_stop_dev = detail::iowr(0x17);         // 7.0, UBLK_F_SAFE_STOP_DEV
}  // namespace cmd
static_assert(cmd::add_dev == 0xc0207504u && cmd::get_features == 0x80207513u);

/// Ioctl-encoded data-plane opcodes (UBLK_U_IO_*), on /dev/ublkcN.
namespace io_cmd_op {
inline constexpr std::uint32_t fetch_req = detail::io_iowr(0x20);
inline constexpr std::uint32_t commit_and_fetch_req = detail::io_iowr(0x21);
inline constexpr std::uint32_t need_get_data = detail::io_iowr(0x22);
inline constexpr std::uint32_t register_io_buf = detail::io_iowr(0x23);    // 6.15, SUPPORT_ZERO_COPY
inline constexpr std::uint32_t unregister_io_buf = detail::io_iowr(0x24);  // 6.15
inline constexpr std::uint32_t prep_io_cmds = detail::batch_iowr(0x25);      // 7.0, BATCH_IO
inline constexpr std::uint32_t commit_io_cmds = detail::batch_iowr(0x26);    // 7.0
inline constexpr std::uint32_t fetch_io_cmds = detail::batch_iowr(0x27);     // 7.0, multishot
}  // namespace io_cmd_op
static_assert(io_cmd_op::fetch_req == 0xc0107520u);

/// struct ublk_auto_buf_reg (AUTO_BUF_REG, 6.16): where the kernel registers a request's pages
/// before it hands the request over. Travels in FETCH / COMMIT_AND_FETCH's io_cmd::addr.
struct auto_buf_reg {
  std::uint16_t index = 0;  ///< the slot in the issuing ring's (sparse) buffer table
  std::uint8_t flags = 0;   ///< auto_buf_reg_fallback
};
/// If registering fails, deliver the request anyway with io_flag::need_reg_buf set (the server
/// then registers the pages itself) instead of failing it.
inline constexpr std::uint8_t auto_buf_reg_fallback = 1u << 0;
/// ublk_auto_buf_reg_to_sqe_addr(): index in bits 0-15, flags in 16-23, the rest reserved (0).
constexpr std::uint64_t encode(auto_buf_reg r) noexcept {
  return std::uint64_t{r.index} | std::uint64_t{r.flags} << 16;
}

/// CQE results of FETCH / COMMIT_AND_FETCH.
inline constexpr int io_res_ok = 0;
inline constexpr int io_res_need_get_data = 1;
inline constexpr int io_res_abort = -ENODEV;  ///< UBLK_IO_RES_ABORT: the device is stopping

/// GET_FEATURES writes exactly this many bytes (a u64 mask) to ctrl_cmd::addr.
inline constexpr std::uint16_t features_len = 8;

/// UBLK_F_* bits.
namespace feature {
inline constexpr std::uint64_t support_zero_copy = 1ull << 0;
inline constexpr std::uint64_t uring_cmd_comp_in_task = 1ull << 1;
inline constexpr std::uint64_t need_get_data = 1ull << 2;
inline constexpr std::uint64_t user_recovery = 1ull << 3;
inline constexpr std::uint64_t user_recovery_reissue = 1ull << 4;
inline constexpr std::uint64_t unprivileged_dev = 1ull << 5;
inline constexpr std::uint64_t cmd_ioctl_encode = 1ull << 6;
inline constexpr std::uint64_t user_copy = 1ull << 7;
inline constexpr std::uint64_t zoned = 1ull << 8;
inline constexpr std::uint64_t user_recovery_fail_io = 1ull << 9;
inline constexpr std::uint64_t update_size = 1ull << 10;
inline constexpr std::uint64_t auto_buf_reg = 1ull << 11;
inline constexpr std::uint64_t quiesce = 1ull << 12;
inline constexpr std::uint64_t per_io_daemon = 1ull << 13;
inline constexpr std::uint64_t buf_reg_off_daemon = 1ull << 14;
inline constexpr std::uint64_t batch_io = 1ull << 15;
inline constexpr std::uint64_t integrity = 1ull << 16;
inline constexpr std::uint64_t safe_stop_dev = 1ull << 17;
inline constexpr std::uint64_t no_auto_part_scan = 1ull << 18;
inline constexpr std::uint64_t shmem_zc = 1ull << 19;
inline constexpr std::uint64_t io_desc_size = 1ull << 20;
}  // namespace feature

/// UBLK_F_* names by bit number.
inline constexpr std::array<std::string_view, 21> feature_names = {
    "SUPPORT_ZERO_COPY",  "URING_CMD_COMP_IN_TASK", "NEED_GET_DATA",   "USER_RECOVERY",
    "USER_RECOVERY_REISSUE", "UNPRIVILEGED_DEV",    "CMD_IOCTL_ENCODE", "USER_COPY",
    "ZONED",              "USER_RECOVERY_FAIL_IO",  "UPDATE_SIZE",     "AUTO_BUF_REG",
    "QUIESCE",            "PER_IO_DAEMON",          "BUF_REG_OFF_DAEMON", "BATCH_IO",
    "INTEGRITY",          "SAFE_STOP_DEV",          "NO_AUTO_PART_SCAN", "SHMEM_ZC",
    "IO_DESC_SIZE"};

/// The first kernel release with each UBLK_F_* bit working (anchors §3.2.1), by bit number.
inline constexpr std::array<std::string_view, 21> feature_since = {
    "6.15", "6.0", "6.0", "6.1", "6.1", "6.3", "6.4", "6.5", "6.6", "6.13", "6.16",
    "6.16", "6.16", "6.16", "6.17", "7.0", "7.0", "7.0", "7.0", "7.1", "7.3"};

/// ublksrv_ctrl_dev_info::state.
namespace dev_state {
inline constexpr std::uint16_t dead = 0;
inline constexpr std::uint16_t live = 1;
inline constexpr std::uint16_t quiesced = 2;
inline constexpr std::uint16_t fail_io = 3;
}  // namespace dev_state

/// What ADD_DEV takes and writes back, and GET_DEV_INFO(2) returns (struct ublksrv_ctrl_dev_info).
struct ctrl_dev_info {
  std::uint16_t nr_hw_queues = 0;
  std::uint16_t queue_depth = 0;
  std::uint16_t state = 0;
  std::uint16_t pad0 = 0;
  std::uint32_t max_io_buf_bytes = 0;
  std::uint32_t dev_id = ~0u;
  std::int32_t ublksrv_pid = 0;
  std::uint32_t pad1 = 0;
  std::uint64_t flags = 0;
  std::uint64_t ublksrv_flags = 0;  ///< the server's own, stored by the kernel untouched
  std::uint32_t owner_uid = 0;      ///< written by the kernel
  std::uint32_t owner_gid = 0;
  std::uint64_t reserved1 = 0;
  std::uint64_t reserved2 = 0;
};
static_assert(sizeof(ctrl_dev_info) == 64);
static_assert(offsetof(ctrl_dev_info, max_io_buf_bytes) == 8 && offsetof(ctrl_dev_info, dev_id) == 12 &&
              offsetof(ctrl_dev_info, flags) == 24 && offsetof(ctrl_dev_info, owner_uid) == 40);
using ublksrv_ctrl_dev_info = ctrl_dev_info;

/// UBLK_PARAM_TYPE_* bits of ublk_params::types.
namespace param_type {
inline constexpr std::uint32_t basic = 1u << 0;
inline constexpr std::uint32_t discard = 1u << 1;
inline constexpr std::uint32_t devt = 1u << 2;  ///< read-only: GET_PARAMS fills it
inline constexpr std::uint32_t zoned = 1u << 3;
inline constexpr std::uint32_t dma_align = 1u << 4;  // 6.14
inline constexpr std::uint32_t segment = 1u << 5;    // 6.14
inline constexpr std::uint32_t integrity = 1u << 6;  // 7.0
}  // namespace param_type

/// UBLK_ATTR_* bits of ublk_param_basic::attrs.
namespace attr {
inline constexpr std::uint32_t read_only = 1u << 0;
inline constexpr std::uint32_t rotational = 1u << 1;
inline constexpr std::uint32_t volatile_cache = 1u << 2;  ///< the device sends FLUSH
inline constexpr std::uint32_t fua = 1u << 3;             ///< the device sends UBLK_IO_F_FUA writes
}  // namespace attr

struct param_basic {
  std::uint32_t attrs = 0;
  std::uint8_t logical_bs_shift = 9;
  std::uint8_t physical_bs_shift = 12;
  std::uint8_t io_opt_shift = 12;
  std::uint8_t io_min_shift = 9;
  std::uint32_t max_sectors = 0;  ///< at most dev_info.max_io_buf_bytes >> 9
  std::uint32_t chunk_sectors = 0;
  std::uint64_t dev_sectors = 0;
  std::uint64_t virt_boundary_mask = 0;
};
static_assert(sizeof(param_basic) == 32 && offsetof(param_basic, max_sectors) == 8 &&
              offsetof(param_basic, dev_sectors) == 16);

struct param_discard {
  std::uint32_t discard_alignment = 0;
  std::uint32_t discard_granularity = 0;
  std::uint32_t max_discard_sectors = 0;
  std::uint32_t max_write_zeroes_sectors = 0;
  std::uint16_t max_discard_segments = 0;  ///< the kernel takes only 1 so far
  std::uint16_t reserved0 = 0;
};
static_assert(sizeof(param_discard) == 20);

struct param_devt {
  std::uint32_t char_major = 0;
  std::uint32_t char_minor = 0;
  std::uint32_t disk_major = 0;
  std::uint32_t disk_minor = 0;
};
static_assert(sizeof(param_devt) == 16);

struct param_zoned {
  std::uint32_t max_open_zones = 0;
  std::uint32_t max_active_zones = 0;
  std::uint32_t max_zone_append_sectors = 0;
  std::uint8_t reserved[20] = {};
};
static_assert(sizeof(param_zoned) == 32);

struct param_dma_align {
  std::uint32_t alignment = 0;
  std::uint8_t pad[4] = {};
};
static_assert(sizeof(param_dma_align) == 8);

struct param_segment {
  std::uint64_t seg_boundary_mask = 0;
  std::uint32_t max_segment_size = 0;  ///< at least 4096 (UBLK_MIN_SEGMENT_SIZE)
  std::uint16_t max_segments = 0;
  std::uint8_t pad[2] = {};
};
static_assert(sizeof(param_segment) == 16);

/// struct ublk_params up to the segment parameters (6.14). `len` tells the kernel how much of it
/// we know; an older kernel clamps it to its own size and ignores the types it does not know, a
/// newer one treats the missing tail as absent.
struct params {
  std::uint32_t len = sizeof(params);
  std::uint32_t types = 0;
  param_basic basic;
  param_discard discard;
  param_devt devt;
  param_zoned zoned;
  param_dma_align dma;
  param_segment seg;
};
static_assert(offsetof(params, basic) == 8 && offsetof(params, discard) == 40 && offsetof(params, devt) == 60 &&
              offsetof(params, zoned) == 76 && offsetof(params, dma) == 108 && offsetof(params, seg) == 120 &&
              sizeof(params) == 136);
using ublk_params = params;

/// UBLK_IO_OP_*: the low 8 bits of ublksrv_io_desc::op_flags.
namespace io_op {
inline constexpr std::uint8_t read = 0;
inline constexpr std::uint8_t write = 1;
inline constexpr std::uint8_t flush = 2;
inline constexpr std::uint8_t discard = 3;
inline constexpr std::uint8_t write_same = 4;
inline constexpr std::uint8_t write_zeroes = 5;
inline constexpr std::uint8_t zone_open = 10;
inline constexpr std::uint8_t zone_close = 11;
inline constexpr std::uint8_t zone_finish = 12;
inline constexpr std::uint8_t zone_append = 13;
inline constexpr std::uint8_t zone_reset_all = 14;
inline constexpr std::uint8_t zone_reset = 15;
inline constexpr std::uint8_t report_zones = 18;
}  // namespace io_op

/// UBLK_IO_F_*: ublksrv_io_desc::op_flags above the op.
namespace io_flag {
inline constexpr std::uint32_t failfast_dev = 1u << 8;
inline constexpr std::uint32_t failfast_transport = 1u << 9;
inline constexpr std::uint32_t failfast_driver = 1u << 10;
inline constexpr std::uint32_t meta = 1u << 11;
inline constexpr std::uint32_t fua = 1u << 13;
inline constexpr std::uint32_t nounmap = 1u << 15;
inline constexpr std::uint32_t swap = 1u << 16;
inline constexpr std::uint32_t need_reg_buf = 1u << 17;
}  // namespace io_flag

/// One entry of a queue's read-only descriptor array (struct ublksrv_io_desc).
struct io_desc {
  std::uint32_t op_flags = 0;
  std::uint32_t nr_sectors = 0;  ///< or nr_zones for REPORT_ZONES
  std::uint64_t start_sector = 0;
  std::uint64_t addr = 0;  ///< the buffer the server gave with FETCH (copy mode)

  std::uint8_t op() const noexcept { return static_cast<std::uint8_t>(op_flags & 0xff); }
  std::uint32_t flags() const noexcept { return op_flags & ~0xffu; }
};
static_assert(sizeof(io_desc) == 24 && offsetof(io_desc, start_sector) == 8);
using ublksrv_io_desc = io_desc;

/// mmap of /dev/ublkcN: queue q's descriptor array lies at UBLKSRV_CMD_BUF_OFFSET + q *
/// max_cmd_buf_size(), read-only, queue_depth entries, rounded up to pages.
inline constexpr std::uint64_t cmd_buf_offset = 0;          // UBLKSRV_CMD_BUF_OFFSET
inline constexpr std::uint64_t io_buf_offset = 0x80000000;  // UBLKSRV_IO_BUF_OFFSET (user copy)
/// USER_COPY: the /dev/ublkcN file offset of byte `off` of queue `q`'s request `tag`
/// (UBLKSRV_IO_BUF_OFFSET + q << 41 | tag << 25 | off; one request is at most 32 MiB).
constexpr std::uint64_t user_copy_offset(std::uint16_t q, std::uint16_t tag, std::uint32_t off = 0) noexcept {
  return io_buf_offset + (std::uint64_t{q} << 41 | std::uint64_t{tag} << 25 | off);
}

inline constexpr std::uint32_t max_queue_depth = 4096;      // UBLK_MAX_QUEUE_DEPTH
inline constexpr std::uint32_t max_queues = 4096;           // UBLK_MAX_NR_QUEUES
/// Bytes the kernel reserves per queue in the mmap space: the largest descriptor array, page-rounded.
inline constexpr std::uint64_t max_cmd_buf_size(std::uint64_t page_size) noexcept {
  return (max_queue_depth * sizeof(io_desc) + page_size - 1) / page_size * page_size;
}
/// The mmap offset of queue `q`'s descriptors.
inline constexpr std::uint64_t desc_offset(std::uint16_t q, std::uint64_t page_size) noexcept {
  return cmd_buf_offset + q * max_cmd_buf_size(page_size);
}
/// The length to mmap for `depth` descriptors.
inline constexpr std::uint64_t desc_map_size(std::uint16_t depth, std::uint64_t page_size) noexcept {
  return (depth * sizeof(io_desc) + page_size - 1) / page_size * page_size;
}

}  // namespace uringcmd::ublk
