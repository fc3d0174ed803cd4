// SPDX-License-Identifier: MIT
// nvme/status.hpp and nvme/error.hpp: the status field as the kernel returns it in cqe->res, the
// spec's names, the "nvme" error category and the errnos the block layer would report.
#include <cerrno>
#include <cstdint>
#include <ostream>
#include <string>
#include <system_error>

#include <doctest/doctest.h>

#include <uringcmd/nvme/error.hpp>
#include <uringcmd/nvme/status.hpp>

using namespace uringcmd;
using nvme::status_field;

TEST_CASE("the out-of-range read the VM saw, 0x4080, is DNR with SCT 0 SC 80h") {
  const status_field s(0x4080);
  CHECK(s.sc() == 0x80);
  CHECK(s.sct() == nvme::status_code_type::generic);
  CHECK(s.dnr());
  CHECK_FALSE(s.more());
  CHECK(s.crd() == 0);
  CHECK(s.code() == 0x080);
  CHECK_FALSE(s.success());
  CHECK(nvme::describe(s) == "LBA Out of Range (SCT 0h SC 80h, DNR)");
}

TEST_CASE("each bit of the field lands in its own accessor: SC 7:0, SCT 10:8, CRD 12:11, More 13, DNR 14") {
  CHECK(status_field(0x00FF).sc() == 0xFF);
  CHECK(status_field(0x0700).sct() == nvme::status_code_type::vendor_specific);
  CHECK(status_field(0x0200).sct() == nvme::status_code_type::media_error);
  CHECK(status_field(0x0800).crd() == 1);
  CHECK(status_field(0x1800).crd() == 3);
  CHECK(status_field(0x2000).more());
  CHECK(status_field(0x4000).dnr());
  // CRD, More and DNR are not part of the code, so a success with them set is still a success.
  CHECK(status_field(0x7800).code() == 0);
  CHECK(status_field(0x7800).success());
  CHECK(status_field(0x0000).success());
}

TEST_CASE("describe names the code, SCT and SC in hex, and the DNR, CRD and More bits") {
  CHECK(nvme::describe(status_field(0)) == "Successful Completion (SCT 0h SC 00h)");
  CHECK(nvme::describe(status_field(0x0002)) == "Invalid Field in Command (SCT 0h SC 02h)");
  CHECK(nvme::describe(status_field(0x4281)) == "Unrecovered Read Error (SCT 2h SC 81h, DNR)");
  CHECK(nvme::describe(status_field(0x6285)) == "Compare Failure (SCT 2h SC 85h, DNR, More)");
  CHECK(nvme::describe(status_field(0x0882)) == "Namespace Not Ready (SCT 0h SC 82h, CRD 1)");
  CHECK(nvme::describe(status_field(0x0109)) == "Invalid Log Page (SCT 1h SC 09h)");
  CHECK(nvme::describe(status_field(0x0370)) == "Host Pathing Error (SCT 3h SC 70h)");
  CHECK(nvme::describe(status_field(0x0104)) == "Unknown Status (SCT 1h SC 04h)");  // reserved
  CHECK(nvme::describe(status_field(0x07C2)) == "Vendor Specific (SCT 7h SC C2h)");
  CHECK(nvme::describe(status_field(0x0401)) == "Unknown Status (SCT 4h SC 01h)");  // reserved SCT
}

TEST_CASE("status names come from all four status code types") {
  CHECK(nvme::status_name(0x001) == "Invalid Command Opcode");
  CHECK(nvme::status_name(0x081) == "Capacity Exceeded");
  CHECK(nvme::status_name(0x10D) == "Feature Identifier Not Saveable");
  CHECK(nvme::status_name(0x182) == "Attempted Write to Read Only Range");
  CHECK(nvme::status_name(0x1B9) == "Zone Is Full");
  CHECK(nvme::status_name(0x286) == "Access Denied");
  CHECK(nvme::status_name(0x287) == "Deallocated or Unwritten Logical Block");
  CHECK(nvme::status_name(0x302) == "Asymmetric Access Inaccessible");
  CHECK(nvme::status_name(0x017).empty());  // reserved
  CHECK(nvme::status_code_type_name(nvme::status_code_type::path) == "Path Related Status");
  CHECK(nvme::status_code_type_name(static_cast<nvme::status_code_type>(5)) == "Reserved");
}

TEST_CASE("errc values are (SCT << 8) | SC, the kernel's NVME_SC_* numbers") {
  CHECK(static_cast<int>(nvme::errc::invalid_opcode) == 0x001);
  CHECK(static_cast<int>(nvme::errc::invalid_field) == 0x002);
  CHECK(static_cast<int>(nvme::errc::lba_out_of_range) == 0x080);        // NVME_SC_LBA_RANGE
  CHECK(static_cast<int>(nvme::errc::capacity_exceeded) == 0x081);       // NVME_SC_CAP_EXCEEDED
  CHECK(static_cast<int>(nvme::errc::namespace_not_ready) == 0x082);     // NVME_SC_NS_NOT_READY
  CHECK(static_cast<int>(nvme::errc::write_fault) == 0x280);             // NVME_SC_WRITE_FAULT
  CHECK(static_cast<int>(nvme::errc::unrecovered_read_error) == 0x281);  // NVME_SC_READ_ERROR
  CHECK(static_cast<int>(nvme::errc::compare_failure) == 0x285);         // NVME_SC_COMPARE_FAILED
  CHECK(static_cast<int>(nvme::errc::access_denied) == 0x286);           // NVME_SC_ACCESS_DENIED
  CHECK(static_cast<int>(nvme::errc::deallocated_or_unwritten) == 0x287);  // NVME_SC_UNWRITTEN_BLOCK
  CHECK(static_cast<int>(nvme::errc::host_pathing_error) == 0x370);      // NVME_SC_HOST_PATH_ERROR
}

TEST_CASE("a positive res becomes an nvme error_code a caller can compare with nvme::errc") {
  const std::error_code ec = nvme::error_of(0x4080);
  CHECK(ec);
  CHECK(ec.category() == nvme::error_category());
  CHECK(std::string(ec.category().name()) == "nvme");
  CHECK(ec == nvme::errc::lba_out_of_range);
  CHECK(ec != nvme::errc::capacity_exceeded);
  CHECK(ec.value() == 0x080);  // DNR is in the status, not in the code
  CHECK(ec.message() == "LBA Out of Range");
  CHECK(describe(ec) == "nvme: LBA Out of Range");
  // An unnamed status is still a distinct code with a readable message.
  const std::error_code odd = nvme::error_of(0x0104);
  CHECK(odd.value() == 0x104);
  CHECK(odd.message() == "status SCT 1h SC 04h");
}

TEST_CASE("a negative res stays a system errno, distinct from any NVMe status of the same number") {
  const std::error_code ec = nvme::error_of(-EINTR);
  CHECK(ec.category() == std::system_category());
  CHECK(ec.value() == EINTR);
  CHECK(ec == std::errc::interrupted);
  // EINVAL is 22 = 0x16, which is also an NVMe code (SGL Offset Invalid): the categories keep them apart.
  CHECK(nvme::error_of(-EINVAL) != nvme::error_of(EINVAL));
  CHECK(nvme::error_of(EINVAL).category() == nvme::error_category());
  CHECK_FALSE(nvme::error_of(0));
}

TEST_CASE("to_errno follows the block layer: nvme_error_status and blk_status_to_errno") {
  using nvme::errc;
  CHECK(nvme::to_errno(status_field(0)) == 0);
  CHECK(nvme::to_errno(errc::capacity_exceeded) == -ENOSPC);
  CHECK(nvme::to_errno(errc::lba_out_of_range) == -EREMOTEIO);
  CHECK(nvme::to_errno(errc::namespace_not_ready) == -EREMOTEIO);
  CHECK(nvme::to_errno(errc::invalid_opcode) == -EOPNOTSUPP);
  CHECK(nvme::to_errno(errc::invalid_field) == -EOPNOTSUPP);
  CHECK(nvme::to_errno(errc::unrecovered_read_error) == -ENODATA);
  CHECK(nvme::to_errno(errc::write_fault) == -ENODATA);
  CHECK(nvme::to_errno(errc::compare_failure) == -ENODATA);
  CHECK(nvme::to_errno(errc::guard_check_error) == -EILSEQ);
  CHECK(nvme::to_errno(errc::reservation_conflict) == -EBADE);
  CHECK(nvme::to_errno(errc::host_pathing_error) == -ENOLINK);
  CHECK(nvme::to_errno(errc::too_many_open_zones) == -ETOOMANYREFS);
  CHECK(nvme::to_errno(errc::internal_error) == -EIO);
  CHECK(nvme::to_errno(status_field(0x4281)) == -ENODATA);  // DNR does not change the mapping
}

TEST_CASE("an nvme error_code compares equal to its errno condition and converts back to it") {
  const std::error_code ec = nvme::error_of(0x281);
  CHECK(ec == std::errc::no_message_available);  // ENODATA
  CHECK(nvme::to_errno(ec) == -ENODATA);
  CHECK(nvme::to_errno(std::error_code(ETIMEDOUT, std::system_category())) == -ETIMEDOUT);
  CHECK(nvme::to_errno(make_error_code(uringcmd::errc::sqe128_required)) == -EOPNOTSUPP);
  CHECK(nvme::to_errno(std::error_code{}) == 0);
}
