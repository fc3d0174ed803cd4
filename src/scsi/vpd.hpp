// SPDX-License-Identifier: MIT
// uringcmd-scsi inquiry --vpd: the VPD pages people ask for, decoded into fields.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <uringcmd/scsi/inquiry.hpp>

#include "../common/output.hpp"

namespace scsi_tool {

using namespace cli;
namespace sc = uringcmd::scsi;

inline std::string_view vpd_page_name(std::uint8_t page) {
  switch (page) {
    case 0x00: return "Supported VPD pages";
    case 0x80: return "Unit serial number";
    case 0x83: return "Device identification";
    case 0x86: return "Extended INQUIRY data";
    case 0x87: return "Mode page policy";
    case 0x88: return "SCSI ports";
    case 0x89: return "ATA information";
    case 0x8a: return "Power condition";
    case 0xb0: return "Block limits";
    case 0xb1: return "Block device characteristics";
    case 0xb2: return "Logical block provisioning";
    case 0xb6: return "Zoned block device characteristics";
    default: return "";
  }
}

/// 4 + PAGE LENGTH: the page's whole size by its own header (0 without one).
inline std::size_t vpd_size(std::span<const std::uint8_t> page) {
  return page.size() < 4 ? 0 : 4 + (std::size_t{page[2]} << 8 | page[3]);
}

template <class T>
void put(fields& f, std::string key, const std::optional<T>& v) {
  if (v) f.emplace_back(std::move(key), *v);
}

inline node designator_fields(const sc::designator& d) {
  fields f{{"association", sc::designator_association_name(d.association)},
           {"type", sc::designator_type_name(d.type)}};
  if (auto t = d.text()) f.emplace_back("value", *t);
  else f.emplace_back("value", "0x" + hex_string(d.bytes));  // NAA, EUI-64, ...: as sg_vpd prints them
  return f;
}

/// The page's fields; false when `page` has no decoder here (the caller shows the bytes instead).
inline bool decode_vpd(std::uint8_t page, std::span<const std::uint8_t> bytes, fields& f) {
  switch (page) {
    case 0x00:
      if (auto p = sc::parse_supported_vpd_pages(bytes)) {
        list pages;
        for (auto code : p->codes) pages.push_back(fields{{"page", hex(code)}, {"name", vpd_page_name(code)}});
        f.emplace_back("pages", std::move(pages));
        return true;
      }
      return false;
    case 0x80:
      if (auto p = sc::parse_unit_serial_number(bytes)) {
        f.emplace_back("serial", p->serial);
        return true;
      }
      return false;
    case 0x83:
      if (auto p = sc::parse_device_identification(bytes)) {
        list ds;
        for (const sc::designator& d : p->designators()) ds.push_back(designator_fields(d));
        f.emplace_back("designators", std::move(ds));
        return true;
      }
      return false;
    case 0xb0:
      if (auto b = sc::parse_block_limits(bytes)) {
        put(f, "wsnz", b->wsnz);
        put(f, "max_compare_and_write_length", b->maximum_compare_and_write_length);
        put(f, "optimal_transfer_length_granularity", b->optimal_transfer_length_granularity);
        put(f, "max_transfer_length", b->maximum_transfer_length);
        put(f, "optimal_transfer_length", b->optimal_transfer_length);
        put(f, "max_prefetch_length", b->maximum_prefetch_length);
        put(f, "max_unmap_lba_count", b->maximum_unmap_lba_count);
        put(f, "max_unmap_block_descriptor_count", b->maximum_unmap_block_descriptor_count);
        put(f, "optimal_unmap_granularity", b->optimal_unmap_granularity);
        put(f, "unmap_granularity_alignment", b->unmap_granularity_alignment);
        put(f, "max_write_same_length", b->maximum_write_same_length);
        put(f, "max_atomic_transfer_length", b->maximum_atomic_transfer_length);
        return true;
      }
      return false;
    case 0xb1:
      if (auto c = sc::parse_block_device_characteristics(bytes)) {
        put(f, "medium_rotation_rate", c->medium_rotation_rate);
        f.emplace_back("non_rotating", c->non_rotating());
        put(f, "product_type", c->product_type);
        put(f, "nominal_form_factor", c->nominal_form_factor);
        put(f, "zoned", c->zoned);
        put(f, "fuab", c->fuab);
        put(f, "vbuls", c->vbuls);
        return true;
      }
      return false;
    case 0xb2:
      if (auto l = sc::parse_logical_block_provisioning(bytes)) {
        put(f, "threshold_exponent", l->threshold_exponent);
        put(f, "lbpu", l->lbpu);
        put(f, "lbpws", l->lbpws);
        put(f, "lbpws10", l->lbpws10);
        put(f, "lbprz", l->lbprz);
        put(f, "anc_sup", l->anc_sup);
        put(f, "dp", l->dp);
        put(f, "provisioning_type", l->provisioning_type);
        return true;
      }
      return false;
    default: return false;
  }
}

}  // namespace scsi_tool
