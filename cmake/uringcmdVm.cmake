# uringcmdVm.cmake - CTest tests that run inside the test VM (scripts/vm run, see docs/testing.md).
#
#   uringcmd_add_vm_test(NAME <name> COMMAND <cmd> [<arg>...]
#                        [LABELS <label>...] [KERNEL <spec>] [TIMEOUT <seconds>]
#                        [REQUIRES <target>...] [SCSI_DEBUG <args>] [ENV <NAME[=VALUE]>...]
#                        [VM_ARGS <scripts/vm run option>...] [WORKING_DIRECTORY <dir>])
#
# Registers a CTest test that boots the guest and runs <cmd> in it (generator expressions such as
# $<TARGET_FILE:foo> work).  Labels: "vm" plus LABELS.  The test skips (exit code 77) when QEMU or
# the kernel is missing, except with CI=true in the environment, where that is a failure.
# REQUIRES: targets the command needs; the test is only added when they exist, looked up at the end
# of the project's top directory, so targets defined after this call (e.g. in src/) count.
# The serial log of each run is written to <build>/vm-logs/<name>.log.
include_guard(GLOBAL)

get_filename_component(_UC_VM_SCRIPT "${CMAKE_CURRENT_LIST_DIR}/../scripts/vm" ABSOLUTE)
set_property(GLOBAL PROPERTY UC_VM_SCRIPT "${_UC_VM_SCRIPT}")

set(UC_VM_KERNEL "" CACHE STRING
    "Guest kernel of VM tests without KERNEL (empty: the scripts/vm default, Debian sid = newest)")
set(UC_VM_TIMEOUT 300 CACHE STRING "Default timeout in seconds of one VM test (boot included)")

function(uringcmd_add_vm_test)
  cmake_parse_arguments(PARSE_ARGV 0 arg "_DEFERRED" "NAME;KERNEL;TIMEOUT;SCSI_DEBUG;WORKING_DIRECTORY"
                        "COMMAND;LABELS;REQUIRES;ENV;VM_ARGS")
  if(NOT arg_NAME OR NOT arg_COMMAND)
    message(FATAL_ERROR "uringcmd_add_vm_test: NAME and COMMAND are required")
  endif()
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "uringcmd_add_vm_test(${arg_NAME}): unexpected arguments ${arg_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT arg_WORKING_DIRECTORY)
    set(arg_WORKING_DIRECTORY "${CMAKE_CURRENT_BINARY_DIR}")
  endif()

  set(missing "")
  foreach(t IN LISTS arg_REQUIRES)
    if(NOT TARGET "${t}")
      list(APPEND missing "${t}")
    endif()
  endforeach()
  if(missing)
    if(arg__DEFERRED)
      message(STATUS "VM test ${arg_NAME} not added: target(s) ${missing} not defined")
      return()
    endif()
    # Look again once the whole project is configured; keep the directory the test belongs to.
    get_property(count GLOBAL PROPERTY _UC_VM_DEFERRED_COUNT)
    if(NOT count)
      set(count 0)
      cmake_language(DEFER DIRECTORY "${PROJECT_SOURCE_DIR}" CALL _uringcmd_vm_add_deferred)
    endif()
    set_property(GLOBAL PROPERTY _UC_VM_DEFERRED_${count} "${ARGV};WORKING_DIRECTORY;${arg_WORKING_DIRECTORY}")
    math(EXPR count "${count} + 1")
    set_property(GLOBAL PROPERTY _UC_VM_DEFERRED_COUNT ${count})
    return()
  endif()

  get_property(script GLOBAL PROPERTY UC_VM_SCRIPT)
  if(NOT arg_TIMEOUT)
    set(arg_TIMEOUT ${UC_VM_TIMEOUT})
  endif()
  if(NOT arg_KERNEL)
    set(arg_KERNEL "${UC_VM_KERNEL}")
  endif()
  set(vm_args run --timeout ${arg_TIMEOUT} --keep-log "${CMAKE_BINARY_DIR}/vm-logs/${arg_NAME}.log")
  if(arg_KERNEL)
    list(APPEND vm_args --kernel "${arg_KERNEL}")
  endif()
  if(DEFINED arg_SCSI_DEBUG)
    list(APPEND vm_args --scsi-debug "${arg_SCSI_DEBUG}")
  endif()
  foreach(e IN LISTS arg_ENV)
    list(APPEND vm_args --env "${e}")
  endforeach()
  list(APPEND vm_args ${arg_VM_ARGS})

  add_test(NAME "${arg_NAME}" COMMAND "${script}" ${vm_args} -- ${arg_COMMAND}
           WORKING_DIRECTORY "${arg_WORKING_DIRECTORY}")
  # CTest's own timeout is only the backstop: scripts/vm times out first and keeps the serial log.
  math(EXPR ctest_timeout "${arg_TIMEOUT} + 60")
  # PROCESSORS 2: each guest runs two vCPU threads; `ctest -jN` should count them.
  set(labels vm ${arg_LABELS})
  set_tests_properties("${arg_NAME}" PROPERTIES
    LABELS "${labels}"
    TIMEOUT ${ctest_timeout}
    SKIP_RETURN_CODE 77
    PROCESSORS 2)
endfunction()

function(_uringcmd_vm_add_deferred)
  get_property(count GLOBAL PROPERTY _UC_VM_DEFERRED_COUNT)
  math(EXPR last "${count} - 1")
  foreach(i RANGE ${last})
    get_property(args GLOBAL PROPERTY _UC_VM_DEFERRED_${i})
    uringcmd_add_vm_test(_DEFERRED ${args})
  endforeach()
endfunction()
