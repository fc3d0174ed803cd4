// SPDX-License-Identifier: MIT
// nvme::command: the dwords of a 64-byte NVMe submission queue entry that user space sets, and
// constexpr builders for the admin and NVM I/O commands people send, dword-exact to NVM Express
// Base Specification 2.0 (admin commands) and the NVM Command Set Specification 1.0 (I/O
// commands); each builder names its figure's fields.
//
// No field is silently truncated: a parameter whose field is 8, 16, 32 or 64 bits wide takes that
// type; a count the spec stores 0's based (NLB, NR, NUMD) is taken as the real count and the
// builder returns std::nullopt when it does not fit (0 blocks, 65537 blocks, 257 ranges), as it
// does for a log page length or offset that is not a whole number of dwords. Fields of other
// widths take an enum or a bool.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include <uringcmd/nvme/bytes.hpp>
#include <uringcmd/nvme/uapi.hpp>

namespace uringcmd::nvme {

/// Admin command opcodes (Base 2.0, figure "Opcodes for Admin Commands").
namespace admin_opcode {
inline constexpr std::uint8_t delete_io_sq = 0x00;
inline constexpr std::uint8_t create_io_sq = 0x01;
inline constexpr std::uint8_t get_log_page = 0x02;
inline constexpr std::uint8_t delete_io_cq = 0x04;
inline constexpr std::uint8_t create_io_cq = 0x05;
inline constexpr std::uint8_t identify = 0x06;
inline constexpr std::uint8_t abort = 0x08;
inline constexpr std::uint8_t set_features = 0x09;
inline constexpr std::uint8_t get_features = 0x0A;
inline constexpr std::uint8_t async_event_request = 0x0C;
inline constexpr std::uint8_t namespace_management = 0x0D;
inline constexpr std::uint8_t firmware_commit = 0x10;
inline constexpr std::uint8_t firmware_image_download = 0x11;
inline constexpr std::uint8_t device_self_test = 0x14;
inline constexpr std::uint8_t namespace_attachment = 0x15;
inline constexpr std::uint8_t format_nvm = 0x80;
inline constexpr std::uint8_t security_send = 0x81;
inline constexpr std::uint8_t security_receive = 0x82;
inline constexpr std::uint8_t sanitize = 0x84;
}  // namespace admin_opcode

/// NVM command set I/O opcodes (NVM Command Set 1.0, figure "Opcodes for NVM Commands").
namespace io_opcode {
inline constexpr std::uint8_t flush = 0x00;
inline constexpr std::uint8_t write = 0x01;
inline constexpr std::uint8_t read = 0x02;
inline constexpr std::uint8_t write_uncorrectable = 0x04;
inline constexpr std::uint8_t compare = 0x05;
inline constexpr std::uint8_t write_zeroes = 0x08;
inline constexpr std::uint8_t dataset_management = 0x09;
inline constexpr std::uint8_t verify = 0x0C;
inline constexpr std::uint8_t copy = 0x19;
}  // namespace io_opcode

/// Data transfer direction, bits 1:0 of every opcode (Base 2.0, "Opcodes for Admin Commands":
/// "Data Transfer"). The kernel maps buffers by it (nvme_is_write: bit 0), so it is derived from
/// the opcode, never stored.
enum class data_transfer : std::uint8_t {
  none = 0,
  host_to_controller = 1,  ///< a write: the buffer is read by the controller
  controller_to_host = 2,  ///< a read: the buffer is written by the controller
  bidirectional = 3,       ///< Linux has no bidirectional passthrough; the kernel treats it as a write
};

/// The fields of a submission queue entry that user space sets (command dwords 0-3 and 10-15).
/// Everything else (CID, PRP/SGL, PSDT, MPTR, data/metadata lengths) is the kernel's, from the
/// buffers given to nvme::io / nvme::admin.
struct command {
  std::uint8_t opcode = 0;  ///< CDW0 bits 7:0
  std::uint8_t flags = 0;   ///< CDW0 bits 15:8 (FUSE, PSDT): Linux refuses anything but 0
  std::uint32_t nsid = 0;   ///< NSID
  std::uint32_t cdw2 = 0;
  std::uint32_t cdw3 = 0;
  std::uint32_t cdw10 = 0;
  std::uint32_t cdw11 = 0;
  std::uint32_t cdw12 = 0;
  std::uint32_t cdw13 = 0;
  std::uint32_t cdw14 = 0;
  std::uint32_t cdw15 = 0;

  constexpr data_transfer direction() const noexcept { return static_cast<data_transfer>(opcode & 3U); }
  friend constexpr bool operator==(const command&, const command&) noexcept = default;
};

namespace command_detail {
constexpr std::uint32_t bit(bool on, unsigned n) noexcept { return on ? (1U << n) : 0U; }
constexpr std::uint32_t lo32(std::uint64_t v) noexcept { return static_cast<std::uint32_t>(v); }
constexpr std::uint32_t hi32(std::uint64_t v) noexcept { return static_cast<std::uint32_t>(v >> 32); }
}  // namespace command_detail

/// Any command from its dwords: vendor-specific commands, or fields no builder offers.
constexpr command raw(std::uint8_t opcode, std::uint32_t nsid, const std::array<std::uint32_t, 6>& cdw10_15 = {}) noexcept {
  command c;
  c.opcode = opcode;
  c.nsid = nsid;
  c.cdw10 = cdw10_15[0];
  c.cdw11 = cdw10_15[1];
  c.cdw12 = cdw10_15[2];
  c.cdw13 = cdw10_15[3];
  c.cdw14 = cdw10_15[4];
  c.cdw15 = cdw10_15[5];
  return c;
}

// ---- Identify (Base 2.0 5.17) ----------------------------------------------------------------

/// Every Identify data structure is 4096 bytes.
inline constexpr std::size_t identify_size = 4096;

/// CNS values (Base 2.0, figure "CNS Values").
enum class cns : std::uint8_t {
  ns = 0x00,                   ///< Identify Namespace (NVM command set), for NSID
  controller = 0x01,           ///< Identify Controller
  active_namespaces = 0x02,    ///< Active Namespace ID list: NSIDs greater than NSID
  ns_descriptors = 0x03,       ///< Namespace Identification Descriptor list, for NSID
  nvm_set_list = 0x04,
  io_namespace = 0x05,         ///< I/O Command Set specific Identify Namespace (CSI in CDW11)
  io_controller = 0x06,        ///< I/O Command Set specific Identify Controller
  io_active_namespaces = 0x07,
  allocated_namespaces = 0x10,
  allocated_namespace = 0x11,
  namespace_controllers = 0x12,
  controller_list = 0x13,
  io_command_sets = 0x1C,
};

struct identify_options {
  std::uint16_t cntid = 0;   ///< CDW10 bits 31:16 CNTID (controller lists)
  std::uint16_t cnssid = 0;  ///< CDW11 bits 15:0 CNS Specific Identifier (NVM Set ID, Endurance Group ID...)
  std::uint8_t csi = 0;      ///< CDW11 bits 31:24 Command Set Identifier (0 NVM, 2 Zoned)
  std::uint8_t uuid_index = 0;  ///< CDW14 bits 6:0; values over 127 are refused (nullopt)
};

/// Identify (06h), Base 2.0 figure "Identify – Command Dword 10": CNS bits 7:0, CNTID 31:16;
/// "Command Dword 11": CNSSID 15:0, CSI 31:24; "Command Dword 14": UUID Index 6:0. Transfers
/// identify_size bytes, controller to host. nullopt when uuid_index > 127.
constexpr std::optional<command> identify(cns what, std::uint32_t nsid, identify_options o = {}) noexcept {
  if (o.uuid_index > 0x7F) return std::nullopt;
  command c;
  c.opcode = admin_opcode::identify;
  c.nsid = nsid;
  c.cdw10 = static_cast<std::uint32_t>(what) | (std::uint32_t{o.cntid} << 16);
  c.cdw11 = std::uint32_t{o.cnssid} | (std::uint32_t{o.csi} << 24);
  c.cdw14 = o.uuid_index;
  return c;
}
/// Identify Controller (CNS 01h); NSID is not used and is 0.
constexpr command identify_controller() noexcept { return *identify(cns::controller, 0); }
/// Identify Namespace (CNS 00h) of `nsid` (NVM command set).
constexpr command identify_namespace(std::uint32_t nsid) noexcept { return *identify(cns::ns, nsid); }
/// Active Namespace ID list (CNS 02h): up to 1024 active NSIDs greater than `after` (0: from the
/// first). Continue with the last NSID returned while the list is full.
constexpr command identify_active_namespaces(std::uint32_t after = 0) noexcept {
  return *identify(cns::active_namespaces, after);
}
/// Namespace Identification Descriptor list (CNS 03h) of `nsid`: EUI64, NGUID, UUID, CSI.
constexpr command identify_ns_descriptors(std::uint32_t nsid) noexcept { return *identify(cns::ns_descriptors, nsid); }

// ---- Get Log Page (Base 2.0 5.16) ------------------------------------------------------------

/// Log page identifiers (Base 2.0, figure "Log Page Identifiers").
namespace log_id {
inline constexpr std::uint8_t supported_log_pages = 0x00;
inline constexpr std::uint8_t error_information = 0x01;
inline constexpr std::uint8_t smart_health = 0x02;
inline constexpr std::uint8_t firmware_slot = 0x03;
inline constexpr std::uint8_t changed_namespaces = 0x04;
inline constexpr std::uint8_t commands_supported = 0x05;
inline constexpr std::uint8_t device_self_test = 0x06;
inline constexpr std::uint8_t telemetry_host = 0x07;
inline constexpr std::uint8_t telemetry_controller = 0x08;
inline constexpr std::uint8_t endurance_group = 0x09;
inline constexpr std::uint8_t ana = 0x0C;
inline constexpr std::uint8_t persistent_event = 0x0D;
inline constexpr std::uint8_t sanitize_status = 0x81;
}  // namespace log_id

/// Sizes of the fixed-size log pages.
inline constexpr std::size_t smart_log_size = 512;
inline constexpr std::size_t firmware_slot_log_size = 512;
inline constexpr std::size_t error_log_entry_size = 64;

struct log_options {
  std::uint64_t offset = 0;     ///< LPOL/LPOU, in bytes; a multiple of 4 (else nullopt)
  std::uint8_t lsp = 0;         ///< CDW10 bits 14:8 Log Specific Field; over 127 refused
  std::uint16_t lsi = 0;        ///< CDW11 bits 31:16 Log Specific Identifier
  bool rae = false;             ///< CDW10 bit 15 Retain Asynchronous Event
  std::uint8_t csi = 0;         ///< CDW14 bits 31:24 Command Set Identifier
  std::uint8_t uuid_index = 0;  ///< CDW14 bits 6:0; over 127 refused
};

/// Get Log Page (02h), Base 2.0 figures "Get Log Page – Command Dword 10..14": LID bits 7:0,
/// LSP 14:8, RAE 15, NUMDL 31:16 of CDW10; NUMDU 15:0 and LSI 31:16 of CDW11; LPOL (CDW12) and
/// LPOU (CDW13), the byte offset; UUID Index 6:0 and CSI 31:24 of CDW14 (OT, bit 23, stays 0:
/// the offset is in bytes). NUMD (NUMDU:NUMDL) is the 0's based number of dwords to return.
/// `bytes` is the transfer length: nullopt when it is 0 or not a multiple of 4, when the offset
/// is not, or when lsp or uuid_index does not fit its field.
constexpr std::optional<command> get_log_page(std::uint8_t lid, std::uint32_t nsid, std::uint32_t bytes,
                                              log_options o = {}) noexcept {
  if (bytes == 0 || bytes % 4 != 0 || o.offset % 4 != 0 || o.lsp > 0x7F || o.uuid_index > 0x7F) return std::nullopt;
  const std::uint32_t numd = bytes / 4 - 1;
  command c;
  c.opcode = admin_opcode::get_log_page;
  c.nsid = nsid;
  c.cdw10 = lid | (std::uint32_t{o.lsp} << 8) | command_detail::bit(o.rae, 15) | ((numd & 0xFFFFU) << 16);
  c.cdw11 = (numd >> 16) | (std::uint32_t{o.lsi} << 16);
  c.cdw12 = command_detail::lo32(o.offset);
  c.cdw13 = command_detail::hi32(o.offset);
  c.cdw14 = std::uint32_t{o.uuid_index} | (std::uint32_t{o.csi} << 24);
  return c;
}
/// Error Information log (01h): `entries` 64-byte entries, newest first. nullopt for 0 entries or
/// more than fit a 32-bit length.
constexpr std::optional<command> get_error_log(std::uint32_t entries, bool rae = false) noexcept {
  if (entries == 0 || entries > UINT32_MAX / error_log_entry_size) return std::nullopt;
  return get_log_page(log_id::error_information, nsid_all, entries * static_cast<std::uint32_t>(error_log_entry_size),
                      {.rae = rae});
}
/// SMART / Health Information log (02h), 512 bytes, controller-wide (nsid_all) by default.
constexpr command get_smart_log(std::uint32_t nsid = nsid_all, bool rae = false) noexcept {
  return *get_log_page(log_id::smart_health, nsid, smart_log_size, {.rae = rae});
}
/// Firmware Slot Information log (03h), 512 bytes.
constexpr command get_firmware_slot_log() noexcept {
  return *get_log_page(log_id::firmware_slot, nsid_all, firmware_slot_log_size);
}

// ---- Get Features / Set Features (Base 2.0 5.15, 5.27) ----------------------------------------

/// Feature identifiers (Base 2.0, figure "Feature Identifiers").
namespace feature_id {
inline constexpr std::uint8_t arbitration = 0x01;
inline constexpr std::uint8_t power_management = 0x02;
inline constexpr std::uint8_t lba_range_type = 0x03;
inline constexpr std::uint8_t temperature_threshold = 0x04;
inline constexpr std::uint8_t error_recovery = 0x05;
inline constexpr std::uint8_t volatile_write_cache = 0x06;
inline constexpr std::uint8_t number_of_queues = 0x07;
inline constexpr std::uint8_t interrupt_coalescing = 0x08;
inline constexpr std::uint8_t interrupt_vector_configuration = 0x09;
inline constexpr std::uint8_t write_atomicity_normal = 0x0A;
inline constexpr std::uint8_t async_event_configuration = 0x0B;
inline constexpr std::uint8_t autonomous_power_state_transition = 0x0C;
inline constexpr std::uint8_t host_memory_buffer = 0x0D;
inline constexpr std::uint8_t timestamp = 0x0E;
inline constexpr std::uint8_t keep_alive_timer = 0x0F;
inline constexpr std::uint8_t host_controlled_thermal_management = 0x10;
inline constexpr std::uint8_t non_operational_power_state = 0x11;
}  // namespace feature_id

/// SEL of Get Features (Base 2.0, figure "Select (SEL)").
enum class feature_select : std::uint8_t { current = 0, default_value = 1, saved = 2, supported_capabilities = 3 };

/// Get Features (0Ah), Base 2.0 figure "Get Features – Command Dword 10": FID bits 7:0, SEL
/// 10:8; CDW11 is feature specific; CDW14 bits 6:0 UUID Index (left 0 here, see raw()). The
/// value comes back in completion DW0 (nvme/features.hpp decodes it).
constexpr command get_features(std::uint8_t fid, feature_select sel = feature_select::current, std::uint32_t nsid = 0,
                               std::uint32_t cdw11 = 0) noexcept {
  command c;
  c.opcode = admin_opcode::get_features;
  c.nsid = nsid;
  c.cdw10 = fid | (static_cast<std::uint32_t>(sel) << 8);
  c.cdw11 = cdw11;
  return c;
}

/// Set Features (09h), Base 2.0 figure "Set Features – Command Dword 10": FID bits 7:0, SV
/// (save across resets) bit 31; CDW11.. are feature specific.
constexpr command set_features(std::uint8_t fid, std::uint32_t cdw11, bool save = false, std::uint32_t nsid = 0) noexcept {
  command c;
  c.opcode = admin_opcode::set_features;
  c.nsid = nsid;
  c.cdw10 = fid | command_detail::bit(save, 31);
  c.cdw11 = cdw11;
  return c;
}

/// Number of Queues (07h), Base 2.0 figure "Number of Queues – Command Dword 11": NSQR bits 15:0,
/// NCQR 31:16, both 0's based. Counts 1..65535; nullopt otherwise (65535 is reserved as 0's
/// based FFFFh).
constexpr std::optional<command> set_number_of_queues(std::uint32_t submission_queues,
                                                      std::uint32_t completion_queues) noexcept {
  if (submission_queues == 0 || completion_queues == 0 || submission_queues > 0xFFFF || completion_queues > 0xFFFF)
    return std::nullopt;
  return set_features(feature_id::number_of_queues, (submission_queues - 1) | ((completion_queues - 1) << 16));
}

/// Volatile Write Cache (06h), Base 2.0 figure "Volatile Write Cache – Command Dword 11": WCE
/// bit 0.
constexpr command set_volatile_write_cache(bool enable, bool save = false) noexcept {
  return set_features(feature_id::volatile_write_cache, command_detail::bit(enable, 0), save);
}

/// Arbitration (01h), Base 2.0 figure "Arbitration – Command Dword 11": AB bits 2:0 (burst is
/// 2^AB commands, 7 = no limit), LPW 15:8, MPW 23:16, HPW 31:24 (0's based weights).
struct arbitration {
  std::uint8_t burst_log2 = 0;  ///< AB; over 7 refused
  std::uint8_t low_weight = 0;
  std::uint8_t medium_weight = 0;
  std::uint8_t high_weight = 0;
};
constexpr std::optional<command> set_arbitration(arbitration a, bool save = false) noexcept {
  if (a.burst_log2 > 7) return std::nullopt;
  return set_features(feature_id::arbitration,
                      a.burst_log2 | (std::uint32_t{a.low_weight} << 8) | (std::uint32_t{a.medium_weight} << 16) |
                          (std::uint32_t{a.high_weight} << 24),
                      save);
}

/// Power Management (02h), Base 2.0 figure "Power Management – Command Dword 11": PS bits 4:0,
/// WH (workload hint) 7:5. nullopt when a value does not fit.
constexpr std::optional<command> set_power_management(std::uint8_t power_state, std::uint8_t workload_hint = 0,
                                                      bool save = false) noexcept {
  if (power_state > 31 || workload_hint > 7) return std::nullopt;
  return set_features(feature_id::power_management, power_state | (std::uint32_t{workload_hint} << 5), save);
}

/// THSEL of the Temperature Threshold feature.
enum class threshold_type : std::uint8_t { over = 0, under = 1 };
/// Temperature Threshold (04h), Base 2.0 figure "Temperature Threshold – Command Dword 11":
/// TMPTH bits 15:0 (kelvin), TMPSEL 19:16 (0 composite, 1-8 sensor n, Fh all), THSEL 21:20.
/// nullopt when sensor > 15.
constexpr std::optional<command> set_temperature_threshold(std::uint16_t kelvin, std::uint8_t sensor = 0,
                                                           threshold_type type = threshold_type::over,
                                                           bool save = false) noexcept {
  if (sensor > 15) return std::nullopt;
  return set_features(feature_id::temperature_threshold,
                      kelvin | (std::uint32_t{sensor} << 16) | (static_cast<std::uint32_t>(type) << 20), save);
}
/// Get Features of the Temperature Threshold: CDW11 selects which threshold (TMPSEL, THSEL).
constexpr std::optional<command> get_temperature_threshold(std::uint8_t sensor = 0, threshold_type type = threshold_type::over,
                                                           feature_select sel = feature_select::current) noexcept {
  if (sensor > 15) return std::nullopt;
  return get_features(feature_id::temperature_threshold, sel, 0,
                      (std::uint32_t{sensor} << 16) | (static_cast<std::uint32_t>(type) << 20));
}

// ---- NVM I/O commands (NVM Command Set 1.0, chapter 3) -----------------------------------------

/// Largest number of logical blocks one Read/Write/Compare/Write Zeroes moves (NLB is 16 bits,
/// 0's based). The controller's MDTS may allow fewer.
inline constexpr std::uint32_t max_blocks = 0x10000;

/// PRINFO (CDW12 bits 29:26) of Read, Write, Compare, Write Zeroes (NVM Command Set 1.0, figure
/// "Protection Information Field").
struct protection_info {
  bool pract = false;          ///< PRINFO bit 3 (CDW12 bit 29): the controller inserts/strips PI
  bool check_guard = false;    ///< PRCHK bit 2 (CDW12 bit 28)
  bool check_app_tag = false;  ///< PRCHK bit 1 (CDW12 bit 27)
  bool check_ref_tag = false;  ///< PRCHK bit 0 (CDW12 bit 26)
  std::uint32_t ref_tag = 0;   ///< CDW14: Expected/Initial Logical Block Reference Tag
  std::uint16_t app_tag = 0;   ///< CDW15 bits 15:0: (Expected) Logical Block Application Tag
  std::uint16_t app_mask = 0;  ///< CDW15 bits 31:16: Application Tag Mask
};

struct rw_flags {
  bool fua = false;            ///< CDW12 bit 30 Force Unit Access
  bool limited_retry = false;  ///< CDW12 bit 31 LR
  std::uint8_t dsm = 0;        ///< CDW13 bits 7:0 Dataset Management hints (access frequency, latency...)
  protection_info pi;
};

namespace command_detail {
constexpr std::uint32_t prinfo(const protection_info& p) noexcept {
  return bit(p.pract, 29) | bit(p.check_guard, 28) | bit(p.check_app_tag, 27) | bit(p.check_ref_tag, 26);
}
// Read, Write, Compare share one shape: SLBA in CDW10-11, NLB (0's based) 15:0 of CDW12 with FUA
// bit 30 and LR bit 31, DSM in CDW13, the PI tags in CDW14-15.
constexpr std::optional<command> lba_command(std::uint8_t opcode, std::uint32_t nsid, std::uint64_t slba,
                                             std::uint32_t blocks, const rw_flags& f) noexcept {
  if (blocks == 0 || blocks > max_blocks) return std::nullopt;
  command c;
  c.opcode = opcode;
  c.nsid = nsid;
  c.cdw10 = lo32(slba);
  c.cdw11 = hi32(slba);
  c.cdw12 = (blocks - 1) | prinfo(f.pi) | bit(f.fua, 30) | bit(f.limited_retry, 31);
  c.cdw13 = f.dsm;
  c.cdw14 = f.pi.ref_tag;
  c.cdw15 = std::uint32_t{f.pi.app_tag} | (std::uint32_t{f.pi.app_mask} << 16);
  return c;
}
}  // namespace command_detail

/// Read (02h), NVM Command Set 1.0 figures "Read – Command Dword 10..15": SLBA (CDW10 low, CDW11
/// high), NLB 15:0 / PRINFO 29:26 / FUA 30 / LR 31 of CDW12, DSM 7:0 of CDW13, EILBRT (CDW14),
/// ELBAT 15:0 / ELBATM 31:16 of CDW15. `blocks` 1..max_blocks, else nullopt.
constexpr std::optional<command> read(std::uint32_t nsid, std::uint64_t slba, std::uint32_t blocks, rw_flags f = {}) noexcept {
  return command_detail::lba_command(io_opcode::read, nsid, slba, blocks, f);
}
/// Write (01h), NVM Command Set 1.0 figures "Write – Command Dword 10..15": as Read, with ILBRT,
/// LBAT, LBATM. FUA (CDW12 bit 30) makes the data durable before completion.
constexpr std::optional<command> write(std::uint32_t nsid, std::uint64_t slba, std::uint32_t blocks, rw_flags f = {}) noexcept {
  return command_detail::lba_command(io_opcode::write, nsid, slba, blocks, f);
}
/// Compare (05h), NVM Command Set 1.0 figures "Compare – Command Dword 10..15": as Read; the
/// buffer holds the data to compare with (host to controller). A mismatch is status Compare
/// Failure (SCT 2h SC 85h).
constexpr std::optional<command> compare(std::uint32_t nsid, std::uint64_t slba, std::uint32_t blocks, rw_flags f = {}) noexcept {
  return command_detail::lba_command(io_opcode::compare, nsid, slba, blocks, f);
}
/// Flush (00h), NVM Command Set 1.0 "Flush command": only NSID (nsid_all flushes every namespace
/// where the controller reports support in VWC).
constexpr command flush(std::uint32_t nsid) noexcept { return raw(io_opcode::flush, nsid); }

struct write_zeroes_flags {
  bool deallocate = false;     ///< CDW12 bit 25 DEAC: deallocate the blocks if the controller can
  bool fua = false;            ///< CDW12 bit 30
  bool limited_retry = false;  ///< CDW12 bit 31
  protection_info pi;
};
/// Write Zeroes (08h), NVM Command Set 1.0 figures "Write Zeroes – Command Dword 10..15": SLBA,
/// NLB 15:0 / DEAC 25 / PRINFO 29:26 / FUA 30 / LR 31 of CDW12, ILBRT, LBAT/LBATM. No data.
/// `blocks` 1..max_blocks, else nullopt.
constexpr std::optional<command> write_zeroes(std::uint32_t nsid, std::uint64_t slba, std::uint32_t blocks,
                                              write_zeroes_flags f = {}) noexcept {
  auto c = command_detail::lba_command(io_opcode::write_zeroes, nsid, slba, blocks,
                                       {.fua = f.fua, .limited_retry = f.limited_retry, .dsm = 0, .pi = f.pi});
  if (c) c->cdw12 |= command_detail::bit(f.deallocate, 25);
  return c;
}

/// Dataset Management attributes (NVM Command Set 1.0, figure "Dataset Management – Command Dword
/// 11").
struct dsm_attributes {
  bool deallocate = false;        ///< AD, bit 2: deallocate ("trim") the ranges
  bool integral_write = false;    ///< IDW, bit 1
  bool integral_read = false;     ///< IDR, bit 0
};
/// At most 256 ranges per Dataset Management command (NR is 8 bits, 0's based).
inline constexpr std::size_t max_dsm_ranges = 256;
inline constexpr std::size_t dsm_range_size = 16;

/// Dataset Management (09h): NR (CDW10 bits 7:0) is the 0's based number of 16-byte ranges in the
/// data buffer (host to controller; build it with encode_dsm_ranges); CDW11 the attributes.
/// `ranges` 1..256, else nullopt.
constexpr std::optional<command> dataset_management(std::uint32_t nsid, std::size_t ranges, dsm_attributes a) noexcept {
  if (ranges == 0 || ranges > max_dsm_ranges) return std::nullopt;
  command c;
  c.opcode = io_opcode::dataset_management;
  c.nsid = nsid;
  c.cdw10 = static_cast<std::uint32_t>(ranges - 1);
  c.cdw11 = command_detail::bit(a.integral_read, 0) | command_detail::bit(a.integral_write, 1) |
            command_detail::bit(a.deallocate, 2);
  return c;
}

/// One range of a Dataset Management command (NVM Command Set 1.0, figure "Dataset Management –
/// Range Definition").
struct dsm_range {
  std::uint64_t slba = 0;                ///< bytes 15:08 Starting LBA
  std::uint32_t blocks = 0;              ///< bytes 07:04 Length in logical blocks (not 0's based)
  std::uint32_t context_attributes = 0;  ///< bytes 03:00
};

/// Writes `ranges` as 16-byte little-endian range definitions into `out` and returns the number
/// of bytes written (the command's data length). nullopt, writing nothing, when there are no
/// ranges, more than 256, or `out` is too small.
constexpr std::optional<std::size_t> encode_dsm_ranges(std::span<const dsm_range> ranges, std::span<std::uint8_t> out) noexcept {
  if (ranges.empty() || ranges.size() > max_dsm_ranges || out.size() / dsm_range_size < ranges.size()) return std::nullopt;
  std::uint8_t* p = out.data();
  for (const dsm_range& r : ranges) {
    put_le<4>(p, r.context_attributes);
    put_le<4>(p + 4, r.blocks);
    put_le<8>(p + 8, r.slba);
    p += dsm_range_size;
  }
  return ranges.size() * dsm_range_size;
}

}  // namespace uringcmd::nvme
