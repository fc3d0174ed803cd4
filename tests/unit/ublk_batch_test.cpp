// SPDX-License-Identifier: MIT
// ublk BATCH_IO without a kernel: the layout of a batch queue's buffers, the elements PREP_IO_CMDS
// and COMMIT_IO_CMDS carry, how FETCH CQEs are read out of one incrementally consumed tag buffer,
// and which FETCH results end the stream.
#include <array>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include <doctest/doctest.h>

#include <uringcmd/ublk/batch_queue.hpp>
#include <uringcmd/ublk/mode.hpp>

using namespace uringcmd::ublk;
using namespace uringcmd::ublk::batch_detail;

TEST_CASE("a batch queue's ring, tag buffer and two commit buffers lie on separate pages") {
  const batch_layout l = layout_for(128, 16, 4096);
  CHECK(l.ring == 0);
  CHECK(l.tags == 4096);
  CHECK(l.tags_bytes == 4096);   // 128 tags x 2 bytes, a page
  CHECK(l.commit[0] == 8192);
  CHECK(l.commit_bytes == 4096);  // 128 elements x 16 bytes = 2 KiB, a page
  CHECK(l.commit[1] == 12288);
  CHECK(l.total == 16384);
  const batch_layout deep = layout_for(4096, 16, 4096);
  CHECK(deep.tags_bytes == 8192);
  CHECK(deep.commit_bytes == 65536);
  CHECK(deep.total == 4096 + 8192 + 2 * 65536);
}

TEST_CASE("copy-mode elements carry tag, result and the tag's buffer in 16 bytes each") {
  std::vector<std::byte> buf(3 * 16, std::byte{0xee});
  elem_list l(buf.data(), 3, batch_flag::has_buf_addr);
  CHECK(l.empty());
  REQUIRE(l.add(7, 4096, 0x1000));
  REQUIRE(l.add(2, -EIO, 0x2000));
  CHECK(l.size() == 2);
  CHECK(l.bytes() == 32);
  batch_elem_header h;
  std::uint64_t addr = 0;
  std::memcpy(&h, buf.data() + 16, sizeof h);
  std::memcpy(&addr, buf.data() + 24, sizeof addr);
  CHECK(h.tag == 2);
  CHECK(h.buf_index == 0);
  CHECK(h.result == -EIO);
  CHECK(addr == 0x2000);
  const batch_io b = l.header(3);
  CHECK(b.q_id == 3);
  CHECK(b.flags == batch_flag::has_buf_addr);
  CHECK(b.nr_elem == 2);
  CHECK(b.elem_bytes == 16);
  CHECK(l.options().addr == reinterpret_cast<std::uintptr_t>(buf.data()));
  CHECK(l.options().len == 32);
  REQUIRE(l.add(0, 0, 0x3000));
  CHECK_FALSE(l.add(1, 0, 0x4000));  // full: at most one element per tag
  l.clear();
  CHECK(l.empty());
  CHECK(l.header(0).nr_elem == 0);
}

TEST_CASE("zero-copy elements are the 8-byte header only, with the slot the next request is registered at") {
  std::vector<std::byte> buf(2 * 8);
  elem_list l(buf.data(), 2, 0);
  REQUIRE(l.add(1, 512, 0xdead, 1));
  REQUIRE(l.add(5, -5, 0xbeef, 5));
  CHECK(l.bytes() == 16);
  CHECK(l.header(2).elem_bytes == 8);
  CHECK(l.header(2).flags == 0);  // no buffer address, no fallback
  batch_elem_header h;
  std::memcpy(&h, buf.data() + 8, sizeof h);
  CHECK(h.tag == 5);
  CHECK(h.buf_index == 5);
  CHECK(h.result == -5);
  // The address went nowhere: the element is the header alone.
  const std::array<std::byte, 8> want{std::byte{5}, std::byte{0}, std::byte{5}, std::byte{0},
                                      std::byte{0xfb}, std::byte{0xff}, std::byte{0xff}, std::byte{0xff}};
  CHECK(std::memcmp(buf.data() + 8, want.data(), 8) == 0);
}

TEST_CASE("FETCH results are read at a running offset until the tag buffer is used up") {
  const std::uint16_t tags[] = {3, 1, 4, 1, 5, 9};  // as the kernel writes them
  tag_cursor c(reinterpret_cast<const std::byte*>(tags), sizeof tags);
  auto first = c.take(4);
  REQUIRE(first.size() == 2);
  CHECK(first[0] == 3);
  CHECK(first[1] == 1);
  CHECK_FALSE(c.used_up());
  CHECK(c.take(0).empty());
  CHECK(c.take(-ENOBUFS).empty());
  CHECK(c.take(3).empty());   // half a tag: never from the kernel, never read
  CHECK(c.take(10).empty());  // past the buffer
  CHECK(c.offset() == 4);
  auto rest = c.take(8);
  REQUIRE(rest.size() == 4);
  CHECK(rest[0] == 4);
  CHECK(rest[3] == 9);
  CHECK(c.used_up());
  c.rewind();
  CHECK(c.offset() == 0);
  CHECK(c.take(2)[0] == 3);
}

TEST_CASE("a FETCH ends for good on anything but tags and an empty tag buffer") {
  CHECK(classify_fetch(6) == fetch_event::tags);
  CHECK(classify_fetch(0) == fetch_event::tags);
  CHECK(classify_fetch(-ENOBUFS) == fetch_event::out_of_buffer);
  CHECK(classify_fetch(-ENODEV) == fetch_event::end);
  CHECK(classify_fetch(-ECANCELED) == fetch_event::end);
  CHECK(classify_fetch(-EINVAL) == fetch_event::end);
}

TEST_CASE("batch modes are served when forced on a kernel with BATCH_IO, and best never picks them") {
  constexpr std::uint64_t linux_7_2 = 0xfffff;
  CHECK(*select_mode(data_mode::batch, linux_7_2, false) == data_mode::batch);
  CHECK(*select_mode(data_mode::batch_zero_copy, linux_7_2, true) == data_mode::batch_zero_copy);
  CHECK(*select_mode(data_mode::best, linux_7_2, true) == data_mode::zero_copy);
  CHECK(*select_mode(data_mode::best, feature::batch_io, false) == data_mode::copy);
  CHECK(mode_flags(data_mode::batch) == feature::batch_io);  // copy mode: no zero-copy flags
  CHECK(mode_flags(data_mode::batch_zero_copy) == (feature::batch_io | feature::auto_buf_reg));
  CHECK(is_batch(data_mode::batch_zero_copy));
  CHECK_FALSE(is_batch(data_mode::zero_copy));
}

TEST_CASE("batch zero copy needs a target with handle_fixed, and a kernel with AUTO_BUF_REG as well as BATCH_IO") {
  constexpr std::uint64_t linux_7_2 = 0xfffff;
  CHECK(select_mode(data_mode::batch_zero_copy, linux_7_2, false).error() == std::errc::operation_not_supported);
  auto no_abr = select_mode(data_mode::batch_zero_copy, linux_7_2 & ~feature::auto_buf_reg, true);
  REQUIRE_FALSE(no_abr);
  CHECK(no_abr.error().message() == "ublk ADD_DEV: UBLK_F_AUTO_BUF_REG not supported by this kernel (needs 6.16)");
  auto no_batch = select_mode(data_mode::batch_zero_copy, linux_7_2 & ~feature::batch_io, true);
  REQUIRE_FALSE(no_batch);
  CHECK(no_batch.error().message() == "ublk ADD_DEV: UBLK_F_BATCH_IO not supported by this kernel (needs 7.0)");
}
