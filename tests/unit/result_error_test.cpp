// SPDX-License-Identifier: MIT
// result<T>, the uringcmd error category, describe() and to_errno(): pure logic, no ring.
#include <cerrno>
#include <future>
#include <string>
#include <system_error>

#include <doctest/doctest.h>

#include <uringcmd/error.hpp>
#include <uringcmd/result.hpp>

using namespace uringcmd;

TEST_CASE("result<T> holds a value or an error_code") {
  result<int> ok = 42;
  CHECK(ok.has_value());
  CHECK(static_cast<bool>(ok));
  CHECK(*ok == 42);
  CHECK(ok.value() == 42);
  CHECK_FALSE(ok.error());
  CHECK(ok.value_or(7) == 42);

  result<int> bad = fail_errno(-ENOENT);  // the kernel's negative res
  CHECK_FALSE(bad.has_value());
  CHECK(bad.error().value() == ENOENT);
  CHECK(bad.error().category() == std::system_category());
  CHECK(bad.error() == std::errc::no_such_file_or_directory);
  CHECK(bad.value_or(7) == 7);
}

TEST_CASE("result::value() throws a system_error that names the errno") {
  result<int> bad = fail(errno_code(EBADF));
  try {
    (void)bad.value();
    FAIL("value() of an error did not throw");
  } catch (const std::system_error& e) {
    CHECK(e.code() == std::errc::bad_file_descriptor);
    CHECK(std::string(e.what()).find("EBADF") != std::string::npos);
  }
  result<void> v = fail(errc::sqe128_required);
  CHECK_THROWS_AS(v.value(), std::system_error);
  result<void> fine;
  CHECK(fine.has_value());
  CHECK_NOTHROW(fine.value());
}

TEST_CASE("error messages name the error once: no repeated strerror text") {
  CHECK(std::string(uringcmd::system_error(errno_code(EEXIST), "io_uring_enter").what()) ==
        "io_uring_enter: EEXIST: File exists");
  result<int> bad = fail(errno_code(ENOENT));
  try {
    (void)bad.value();
    FAIL("no throw");
  } catch (const std::system_error& e) {
    CHECK(std::string(e.what()) == "ENOENT: No such file or directory");
  }
  result<void> refused = fail(errc::not_owner_thread);
  try {
    refused.value();
    FAIL("no throw");
  } catch (const std::system_error& e) {
    const std::string what = e.what();
    CHECK(what.rfind("uringcmd: ", 0) == 0);
    CHECK(what.find("SINGLE_ISSUER") != std::string::npos);
    CHECK(what.find("SINGLE_ISSUER", what.find("SINGLE_ISSUER") + 1) == std::string::npos);
  }
}

TEST_CASE("result<T> moves its value out") {
  result<std::string> r = std::string(100, 'x');  // long enough to live on the heap
  std::string s = std::move(r).value();
  CHECK(s == std::string(100, 'x'));
}

TEST_CASE("describe names errno values and uringcmd errors") {
  CHECK(describe(errno_code(ENOENT)) == "ENOENT: No such file or directory");
  CHECK(describe(errno_code(ECANCELED)).rfind("ECANCELED: ", 0) == 0);
  CHECK(describe(std::make_error_code(std::errc::timed_out)).rfind("ETIMEDOUT: ", 0) == 0);
  CHECK(describe(std::error_code{}) == "success");
  const std::string s = describe(make_error_code(errc::sqe128_required));
  CHECK(s.rfind("uringcmd: ", 0) == 0);
  CHECK(s.find("SQE128") != std::string::npos);
  CHECK(describe(make_error_code(errc::cqe32_required)).find("CQE32") != std::string::npos);
  CHECK(errno_name(EAGAIN) == "EAGAIN");
  CHECK(errno_name(99999) == "E?99999");
}

TEST_CASE("errc is an error_code enum in its own category") {
  std::error_code ec = errc::payload_too_large;  // implicit through is_error_code_enum
  CHECK(ec.category().name() == std::string("uringcmd"));
  CHECK(ec.value() == static_cast<int>(errc::payload_too_large));
  CHECK(ec != errno_code(static_cast<int>(errc::payload_too_large)));
  CHECK(error_category().message(12345).find("12345") != std::string::npos);
}

TEST_CASE("to_errno gives the kernel a negative errno for every error") {
  CHECK(to_errno(std::error_code{}) == 0);
  CHECK(to_errno(errno_code(EIO)) == -EIO);
  CHECK(to_errno(std::make_error_code(std::errc::no_such_device)) == -ENODEV);
  CHECK(to_errno(make_error_code(errc::no_executor)) == -EINVAL);
  CHECK(to_errno(make_error_code(errc::sqe128_required)) == -EOPNOTSUPP);
  CHECK(to_errno(make_error_code(errc::cqe32_required)) == -EOPNOTSUPP);
  CHECK(to_errno(make_error_code(errc::payload_too_large)) == -E2BIG);
  CHECK(to_errno(make_error_code(errc::executor_stopping)) == -ECANCELED);
  CHECK(to_errno(make_error_code(errc::invalid_ring_options)) == -EINVAL);
  CHECK(to_errno(make_error_code(errc::not_owner_thread)) == -EEXIST);
  CHECK(to_errno(make_error_code(errc::completions_lost)) == -EBADR);
  CHECK(to_errno(make_error_code(errc::submission_refused)) == -EBUSY);
  CHECK(to_errno(make_error_code(errc::no_memory)) == -ENOMEM);
  // Every errc has its own message, none falls through to "unknown".
  for (int e = 1; e <= static_cast<int>(errc::no_memory); ++e)
    CHECK(make_error_code(static_cast<errc>(e)).message().find("unknown") == std::string::npos);
  // A foreign category whose values collide with errc's must not be read as errc.
  CHECK(to_errno(std::make_error_code(std::future_errc::promise_already_satisfied)) == -EIO);
  CHECK(to_errno(std::make_error_code(std::future_errc::future_already_retrieved)) == -EIO);
}
