# shellcheck shell=bash disable=SC2034  # the variables are used by the other vm.d files
# Shared settings and helpers for scripts/vm (sourced, not run).

# Exit codes of `scripts/vm run` besides the command's own status (documented in docs/testing.md).
readonly UCVM_EXIT_SKIP=77      # a prerequisite is missing (CTest: SKIP_RETURN_CODE); never in CI
readonly UCVM_EXIT_CRASH=123    # the guest kernel panicked/oopsed, or QEMU died
readonly UCVM_EXIT_TIMEOUT=124  # the guest did not finish within --timeout
readonly UCVM_EXIT_SETUP=125    # the harness itself failed (bad usage, guest set-up, missing prerequisite in CI)

UCVM_CACHE=${UC_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/uringcmd/vm}
UCVM_DEFAULT_KERNEL=${UC_VM_KERNEL:-sid}

say()  { printf 'uc-vm: %s\n' "$*" >&2; }
warn() { printf 'uc-vm: warning: %s\n' "$*" >&2; }
die()  { printf 'uc-vm: error: %s\n' "$*" >&2; exit "$UCVM_EXIT_SETUP"; }

# Running in CI: CI is set and, lower-cased, not "", 0, false, no or off.  The same rule as
# uc_test::in_ci() (tests/support/ci.hpp); tests/unit/ci_rule_test.cpp checks that they agree.
ucvm_in_ci() {
  local ci=${CI:-}
  case ${ci,,} in ""|0|false|no|off) return 1 ;; esac
}

# In CI or with UC_VM_REQUIRED=1, a missing prerequisite fails the run instead of skipping it, so
# that a CI machine that lost QEMU or its kernel cannot go green by skipping.
ucvm_strict() {
  ucvm_in_ci || [ "${UC_VM_REQUIRED:-0}" = 1 ]
}

# Missing prerequisite: skip (exit 77) on a developer machine, fail in CI.
missing() {
  if ucvm_strict; then
    printf 'uc-vm: error: %s\n' "$*" >&2
    printf 'uc-vm: (CI=%s: a missing prerequisite is a failure here, not a skip)\n' "${CI:-}" >&2
    exit "$UCVM_EXIT_SETUP"
  fi
  printf 'uc-vm: SKIP: %s\n' "$*" >&2
  exit "$UCVM_EXIT_SKIP"
}

have() { command -v "$1" >/dev/null 2>&1; }

# Seconds since the epoch with decimals, and "elapsed since $1" (for the timing lines).
now() { printf '%s' "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

# Serialise writers of the cache (two `fetch` at once, or builds of the same initramfs).
# The lock is released when the calling shell exits.  Re-entrant: a subshell of the holder (fetch
# building the initramfs) must not open the file again, because a second flock on it would wait for
# the lock this very process holds.
cache_lock() {
  [ -n "${UCVM_LOCK_FD:-}" ] && return 0
  mkdir -p "$UCVM_CACHE"
  exec {UCVM_LOCK_FD}>"$UCVM_CACHE/.lock"
  flock "$UCVM_LOCK_FD"
}

# A static busybox for the initramfs: UC_VM_BUSYBOX, else busybox-static's /bin/busybox.
find_busybox() {
  local bb
  for bb in "${UC_VM_BUSYBOX:-}" /usr/bin/busybox /bin/busybox "$(command -v busybox 2>/dev/null || true)"; do
    [ -x "$bb" ] || continue   # also skips the empty entries
    # The initramfs has no libc: a dynamically linked busybox would not start there.
    LC_ALL=C readelf -l "$bb" 2>/dev/null | grep -q 'program interpreter' && continue
    printf '%s\n' "$bb"
    return 0
  done
  return 1
}

find_qemu() {
  local q=${UC_VM_QEMU:-qemu-system-x86_64}
  command -v "$q" 2>/dev/null
}
