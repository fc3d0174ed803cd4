// SPDX-License-Identifier: MIT
// ublk data and recovery modes without a kernel: which mode "best" picks from the kernel's feature
// bits and the target, the named error for a forced mode the kernel lacks, and the encodings the
// modes put on the wire (auto_buf_reg in io_cmd::addr, the user-copy file offsets).
#include <cerrno>
#include <cstdint>
#include <optional>
#include <string>
#include <system_error>

#include <doctest/doctest.h>

#include <uringcmd/ublk/mode.hpp>
#include <uringcmd/ublk/target.hpp>
#include <uringcmd/ublk/targets/loop.hpp>
#include <uringcmd/ublk/targets/null.hpp>
#include <uringcmd/ublk/targets/ram.hpp>
#include <uringcmd/ublk/uapi.hpp>

using namespace uringcmd::ublk;

namespace {
constexpr std::uint64_t linux_7_2 = 0xfffff;  // GET_FEATURES in the 7.2 guest: all 20 bits
constexpr std::uint64_t linux_6_12 = 0x1fe;   // ... and in the 6.12 guest: no zero copy, no FAIL_IO
}  // namespace

TEST_CASE("mode names round-trip through the daemon's spelling") {
  CHECK(parse_data_mode("best") == data_mode::best);
  for (data_mode m : forced_modes) CHECK(parse_data_mode(to_string(m)) == m);
  CHECK(parse_data_mode("user-copy") == data_mode::user_copy);
  CHECK(parse_data_mode("zero-copy") == data_mode::zero_copy);
  CHECK(parse_data_mode("batch-zero-copy") == data_mode::batch_zero_copy);
  CHECK_FALSE(parse_data_mode("user_copy").has_value());
  CHECK_FALSE(parse_data_mode("").has_value());
  CHECK(to_string(recovery_mode::fail_io) == "fail-io");
}

TEST_CASE("best is zero copy only for a zero-copy target on a kernel with AUTO_BUF_REG") {
  CHECK(*select_mode(data_mode::best, linux_7_2, true) == data_mode::zero_copy);
  CHECK(*select_mode(data_mode::best, linux_7_2, false) == data_mode::copy);
  CHECK(*select_mode(data_mode::best, linux_6_12, true) == data_mode::copy);
  CHECK(*select_mode(data_mode::best, std::nullopt, true) == data_mode::copy);
  // SUPPORT_ZERO_COPY alone (6.15) is not enough: the queue relies on automatic registration.
  CHECK(*select_mode(data_mode::best, feature::support_zero_copy | feature::user_copy, true) == data_mode::copy);
}

TEST_CASE("the targets that can serve zero copy say so") {
  CHECK(zero_copy_target<null_target>);
  CHECK(zero_copy_target<ram_target>);
}

TEST_CASE("ublk targets with files of their own offer them for each queue's file table, after /dev/ublkcN") {
  CHECK(file_target<ram_target>);
  CHECK(file_target<loop_target>);
  CHECK_FALSE(file_target<null_target>);
  ram_target ram(4096);
  REQUIRE(ram.files().size() == 1);
  CHECK(ram.files()[0] >= 0);
  CHECK(first_target_file == char_file_index + 1);
}

TEST_CASE("a forced mode the kernel lacks is an error naming the missing flag and its kernel") {
  auto zc = select_mode(data_mode::zero_copy, linux_6_12, true);
  REQUIRE_FALSE(zc);
  CHECK(zc.error() == std::errc::operation_not_supported);
  CHECK(zc.error().message() == "ublk ADD_DEV: UBLK_F_SUPPORT_ZERO_COPY not supported by this kernel (needs 6.15)");
  auto abr = select_mode(data_mode::zero_copy, linux_6_12 | feature::support_zero_copy, true);
  REQUIRE_FALSE(abr);
  CHECK(abr.error().message() == "ublk ADD_DEV: UBLK_F_AUTO_BUF_REG not supported by this kernel (needs 6.16)");
  auto uc = select_mode(data_mode::user_copy, std::nullopt, false);
  REQUIRE_FALSE(uc);
  CHECK(uc.error().message() == "ublk ADD_DEV: UBLK_F_USER_COPY not supported by this kernel (needs 6.5)");
  auto batch = select_mode(data_mode::batch, linux_6_12, false);
  REQUIRE_FALSE(batch);
  CHECK(batch.error().message() == "ublk ADD_DEV: UBLK_F_BATCH_IO not supported by this kernel (needs 7.0)");
}

TEST_CASE("modes the kernel has are granted as asked, except what the library cannot do") {
  CHECK(*select_mode(data_mode::user_copy, linux_6_12, false) == data_mode::user_copy);
  CHECK(*select_mode(data_mode::copy, std::nullopt, false) == data_mode::copy);
  CHECK(*select_mode(data_mode::zero_copy, linux_7_2, true) == data_mode::zero_copy);
  CHECK(select_mode(data_mode::zero_copy, linux_7_2, false).error() == std::errc::operation_not_supported);
  CHECK(*select_mode(data_mode::batch, linux_7_2, true) == data_mode::batch);
}

TEST_CASE("each mode requests its flags, and the granted flags say the mode back") {
  for (data_mode m : forced_modes) CHECK(mode_of(mode_flags(m) | feature::cmd_ioctl_encode | feature::per_io_daemon) == m);
  CHECK(mode_flags(data_mode::zero_copy) == (feature::support_zero_copy | feature::auto_buf_reg));
  CHECK(mode_flags(data_mode::copy) == 0);
}

TEST_CASE("recovery modes request USER_RECOVERY plus their variant, and FAIL_IO needs 6.13") {
  CHECK(recovery_flags(recovery_mode::none) == 0);
  CHECK(recovery_flags(recovery_mode::reissue) == (feature::user_recovery | feature::user_recovery_reissue));
  CHECK(recovery_flags(recovery_mode::fail_io) == (feature::user_recovery | feature::user_recovery_fail_io));
  for (recovery_mode m : {recovery_mode::none, recovery_mode::reissue, recovery_mode::fail_io})
    CHECK(recovery_of(recovery_flags(m)) == m);
  CHECK(check_recovery(recovery_mode::reissue, linux_6_12));
  auto fail_io = check_recovery(recovery_mode::fail_io, linux_6_12);
  REQUIRE_FALSE(fail_io);
  CHECK(fail_io.error().message() == "ublk ADD_DEV: UBLK_F_USER_RECOVERY_FAIL_IO not supported by this kernel (needs 6.13)");
  CHECK(check_recovery(recovery_mode::fail_io, linux_7_2));
}

TEST_CASE("auto_buf_reg travels in io_cmd::addr as the kernel's ublk_auto_buf_reg_to_sqe_addr packs it") {
  CHECK(encode(auto_buf_reg{0, 0}) == 0);
  CHECK(encode(auto_buf_reg{63, 0}) == 63);
  CHECK(encode(auto_buf_reg{0xabcd, auto_buf_reg_fallback}) == 0x1abcdu);
  CHECK((encode(auto_buf_reg{4095, auto_buf_reg_fallback}) >> 24) == 0);  // reserved bits stay zero
  CHECK(io_cmd_op::register_io_buf == 0xc0107523u);
  CHECK(io_cmd_op::unregister_io_buf == 0xc0107524u);
  CHECK(io_flag::need_reg_buf == 1u << 17);
}

TEST_CASE("user-copy offsets put the queue at bit 41 and the tag at bit 25 above UBLKSRV_IO_BUF_OFFSET") {
  CHECK(user_copy_offset(0, 0) == 0x80000000ull);
  CHECK(user_copy_offset(0, 1) == 0x80000000ull + (1ull << 25));
  CHECK(user_copy_offset(1, 0) == 0x80000000ull + (1ull << 41));
  CHECK(user_copy_offset(3, 7, 512) == 0x80000000ull + (3ull << 41) + (7ull << 25) + 512);
  // The largest tag's window ends below the next queue's.
  CHECK(user_copy_offset(0, 0xffff, (1u << 25) - 1) < user_copy_offset(1, 0));
}

TEST_CASE("batch commands carry a 16-byte ublk_batch_io and elements sized by their flags") {
  CHECK(io_cmd_op::prep_io_cmds == 0xc0107525u);
  CHECK(io_cmd_op::commit_io_cmds == 0xc0107526u);
  CHECK(io_cmd_op::fetch_io_cmds == 0xc0107527u);
  CHECK(batch_elem_bytes(0) == 8);
  CHECK(batch_elem_bytes(batch_flag::has_buf_addr) == 16);
  CHECK(batch_elem_bytes(batch_flag::has_buf_addr | batch_flag::has_zone_lba) == 24);
  CHECK(batch_elem_bytes(batch_flag::auto_buf_reg_fallback) == 8);  // a flag, not a field
  CHECK(command_name(io_cmd_op::fetch_io_cmds) == "FETCH_IO_CMDS");
}
