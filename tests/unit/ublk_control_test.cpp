// SPDX-License-Identifier: MIT
// ublk: the UAPI numbers, the control-command encoding, flag negotiation, descriptor decoding and
// the named errors, without a kernel.
#include <cerrno>
#include <cstdint>
#include <string>
#include <system_error>

#include <doctest/doctest.h>

#include <uringcmd/ublk/control.hpp>
#include <uringcmd/ublk/error.hpp>
#include <uringcmd/ublk/target.hpp>
#include <uringcmd/ublk/targets/ram.hpp>
#include <uringcmd/ublk/uapi.hpp>

using namespace uringcmd::ublk;

TEST_CASE("ublk opcodes are the kernel's ioctl encodings") {
  CHECK(cmd::get_queue_affinity == 0x80207501u);
  CHECK(cmd::get_dev_info == 0x80207502u);
  CHECK(cmd::add_dev == 0xc0207504u);
  CHECK(cmd::del_dev == 0xc0207505u);
  CHECK(cmd::start_dev == 0xc0207506u);
  CHECK(cmd::stop_dev == 0xc0207507u);
  CHECK(cmd::set_params == 0xc0207508u);
  CHECK(cmd::get_params == 0x80207509u);
  CHECK(cmd::start_user_recovery == 0xc0207510u);
  CHECK(cmd::end_user_recovery == 0xc0207511u);
  CHECK(cmd::get_dev_info2 == 0x80207512u);
  CHECK(cmd::get_features == 0x80207513u);
  CHECK(cmd::del_dev_async == 0x80207514u);
  CHECK(cmd::update_size == 0xc0207515u);
  CHECK(cmd::quiesce_dev == 0xc0207516u);
  CHECK(cmd::try_stop_dev == 0xc0207517u);
  CHECK(io_cmd_op::fetch_req == 0xc0107520u);
  CHECK(io_cmd_op::commit_and_fetch_req == 0xc0107521u);
  CHECK(io_cmd_op::need_get_data == 0xc0107522u);
  CHECK(io_res_abort == -ENODEV);
}

TEST_CASE("ublk descriptor array offsets follow the kernel's per-queue stride") {
  // 4096 descriptors of 24 bytes = 96 KiB per queue, already page-aligned.
  CHECK(max_cmd_buf_size(4096) == 98304);
  CHECK(desc_offset(0, 4096) == 0);
  CHECK(desc_offset(3, 4096) == 3 * 98304);
  CHECK(desc_map_size(64, 4096) == 4096);
  CHECK(desc_map_size(200, 4096) == 8192);
}

TEST_CASE("ublk control commands carry the device, the buffer and data[0]") {
  std::uint64_t mask = 0;
  const ctrl_cmd c = make_ctrl_cmd(7, &mask, features_len, 42);
  CHECK(c.dev_id == 7);
  CHECK(c.queue_id == 0xffff);
  CHECK(c.addr == reinterpret_cast<std::uintptr_t>(&mask));
  CHECK(c.len == 8);
  CHECK(c.data[0] == 42);
  CHECK(c.dev_path_len == 0);
}

TEST_CASE("ublk ADD_DEV requests always ask for ioctl encoding and keep the caller's limits") {
  ctrl_dev_info want;
  want.nr_hw_queues = 2;
  want.queue_depth = 64;
  want.max_io_buf_bytes = 1 << 20;
  want.ublksrv_pid = 99;
  const ctrl_dev_info sent = add_request(want);
  CHECK(sent.flags == feature::cmd_ioctl_encode);
  CHECK(sent.nr_hw_queues == 2);
  CHECK(sent.queue_depth == 64);
  CHECK(sent.dev_id == ~0u);
  CHECK(sent.ublksrv_pid == 0);
}

TEST_CASE("ublk flag negotiation names the lowest requested flag the kernel did not grant") {
  CHECK(missing_flag(feature::user_copy, feature::user_copy | feature::cmd_ioctl_encode) == -1);
  CHECK(missing_flag(feature::user_copy | feature::zoned, feature::user_copy) == 8);
  // Dropped by the kernel without consequence.
  CHECK(missing_flag(feature::uring_cmd_comp_in_task, 0) == -1);
  CHECK(missing_flag(feature::user_copy | feature::need_get_data, feature::user_copy) == -1);
  CHECK(missing_flag(feature::need_get_data, 0) == 2);
}

TEST_CASE("ublk parameters: basic limits from the size and request size, discard on top") {
  params p = basic_params(64ull << 20, 512 << 10);
  CHECK(p.len == sizeof(params));
  CHECK(p.types == param_type::basic);
  CHECK(p.basic.dev_sectors == (64ull << 20) / 512);
  CHECK(p.basic.max_sectors == 1024);
  CHECK(p.basic.logical_bs_shift == 9);
  CHECK(p.basic.physical_bs_shift == 12);
  ram_target ram(4096);
  ram.tune(p);
  CHECK(p.types == (param_type::basic | param_type::discard));
  CHECK(p.discard.max_discard_segments == 1);
  CHECK(p.discard.discard_granularity == 4096);
  CHECK((p.basic.attrs & (attr::volatile_cache | attr::fua)) == (attr::volatile_cache | attr::fua));
}

TEST_CASE("ublk descriptors decode to byte offsets, op and flags") {
  io_desc d;
  d.op_flags = io_op::write | io_flag::fua;
  d.nr_sectors = 8;
  d.start_sector = 100;
  const io_request r = decode(d, 1, 5);
  CHECK(r.q_id == 1);
  CHECK(r.tag == 5);
  CHECK(r.op == io_op::write);
  CHECK(r.fua());
  CHECK(r.offset == 51200);
  CHECK(r.bytes == 4096);
  CHECK(r.has_data());
  d.op_flags = io_op::flush;
  CHECK_FALSE(decode(d, 0, 0).has_data());
}

TEST_CASE("ublk ram target: writes read back, discard and write-zeroes zero, out of range is EIO") {
  ram_target ram(8192);
  std::byte w[512];
  for (auto& b : w) b = std::byte{0xab};
  io_request req;
  req.op = io_op::write;
  req.offset = 512;
  req.bytes = 512;
  CHECK(ram.handle(req, w) == 512);
  std::byte rd[512] = {};
  req.op = io_op::read;
  CHECK(ram.handle(req, rd) == 512);
  CHECK(rd[511] == std::byte{0xab});
  req.op = io_op::discard;
  CHECK(ram.handle(req, {}) == 0);
  CHECK(ram.data()[600] == std::byte{0});
  req.op = io_op::write_zeroes;
  CHECK(ram.handle(req, {}) == 0);
  req.op = io_op::read;
  req.offset = 8192;
  CHECK(ram.handle(req, rd) == -EIO);
  req.offset = 0;
  req.op = io_op::zone_open;
  CHECK(ram.handle(req, {}) == -EOPNOTSUPP);
}

TEST_CASE("ublk errors name the command, the errno and a missing feature") {
  const std::error_code e = command_error(cmd::del_dev, ENODEV);
  CHECK(e.message() == "ublk DEL_DEV: ENODEV: No such device");
  CHECK(e == std::errc::no_such_device);
  CHECK(command_errno(e) == ENODEV);
  const std::error_code f = feature_error(cmd::add_dev, 7);
  CHECK(f.message() == "ublk ADD_DEV: UBLK_F_USER_COPY not supported by this kernel (needs 6.5)");
  CHECK(f == std::errc::operation_not_supported);
  const auto past = static_cast<unsigned>(feature_names.size());  // a flag of a kernel newer than the table
  CHECK(feature_error(cmd::add_dev, past).message() ==
        "ublk ADD_DEV: ublk feature bit " + std::to_string(past) + " (newer than uringcmd's list) not supported by this kernel");
  CHECK(command_error(cmd::add_dev, EEXIST).message() == "ublk ADD_DEV: EEXIST: File exists");
  CHECK(feature_report{}.describe() == "unknown, kernel predates GET_FEATURES (6.5)");
  CHECK(feature_report{feature::user_copy | feature::zoned}.describe() == "USER_COPY ZONED");
  CHECK(feature_report{feature::user_copy}.has(feature::user_copy));
  CHECK_FALSE(feature_report{}.has(feature::user_copy));
}
