#!/usr/bin/env bash
# vm.harness: the contract of `scripts/vm run`, checked from the HOST with one guest boot:
#   - CMD's exit status is ours; its stdout and stderr arrive on ours, separately and without CRs
#   - CMD runs in the caller's directory (here under /tmp, which the guest must see too)
#   - UC_* variables reach the guest intact (quoting), unrelated ones do not; UC_VM_GUEST=1
#   - /tmp and /dev/shm are writable, the device nodes exist
#   - a missing kernel skips (77), but fails (125) with CI=true
# usage: tests/vm/harness-selftest.sh path/to/scripts/vm [scripts/vm run options...]
set -euo pipefail
VM=${1:?usage: $0 path/to/scripts/vm [run options]}
shift

work=$(mktemp -d "${TMPDIR:-/tmp}/uc-vm-selftest.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
failed=0
expect() {  # expect NAME CONDITION...
  local name=$1; shift
  if "$@"; then echo "PASS  $name"; else echo "FAIL  $name"; failed=1; fi
}

# Without a boot: the skip semantics.
rc=0; env -u CI UC_VM_REQUIRED=0 "$VM" run --kernel no-such-kernel-suite -- true 2>/dev/null || rc=$?
expect "missing kernel: skip (77) outside CI" [ "$rc" = 77 ]
rc=0; CI=true "$VM" run --kernel no-such-kernel-suite -- true 2>/dev/null || rc=$?
expect "missing kernel: failure (125) with CI=true" [ "$rc" = 125 ]

export UC_VM_SELFTEST_TOKEN="a b 'c' \$d"
export UNRELATED_VARIABLE=must-not-pass
rc=0
# shellcheck disable=SC2016  # the guest's bash expands these
"$VM" run "$@" -- bash -c '
  echo "pwd=$PWD"
  echo "token=$UC_VM_SELFTEST_TOKEN"
  echo "unrelated=${UNRELATED_VARIABLE-unset}"
  echo "guest=$UC_VM_GUEST"
  echo to-stderr >&2
  echo data > written && mktemp /tmp/selftest.XXXXXX > /dev/null && echo tmp=ok
  [ "$(stat -f -c %T /dev/shm)" = tmpfs ] && echo shm=ok
  for d in /dev/sda /dev/sg0 /dev/sdb /dev/sg1 /dev/nvme0 /dev/nvme0n1 /dev/ng0n1 /dev/ublk-control; do
    [ -e "$d" ] || echo "missing=$d"
  done
  exit 42' > "$work/out" 2> "$work/err" || rc=$?
if [ "$rc" = 77 ]; then cat "$work/err" >&2; exit 77; fi
echo "--- stdout of the guest command"; cat "$work/out"
echo "--- stderr"; cat "$work/err"
echo "---"
expect "exit status passes through (42)" [ "$rc" = 42 ]
expect "runs in the caller's directory" grep -qxF "pwd=$work" "$work/out"
expect "UC_* variables pass, quoting intact" grep -qxF "token=$UC_VM_SELFTEST_TOKEN" "$work/out"
expect "other variables do not pass" grep -qxF "unrelated=unset" "$work/out"
expect "UC_VM_GUEST=1 in the guest" grep -qxF "guest=1" "$work/out"
expect "stderr arrives on stderr" grep -qxF "to-stderr" "$work/err"
expect "stdout has no stderr lines" bash -c "! grep -q to-stderr '$work/out'"
expect "no CR characters in the output" bash -c "! grep -q $'\r' '$work/out' '$work/err'"
expect "/tmp and /dev/shm writable" bash -c "grep -qx tmp=ok '$work/out' && grep -qx shm=ok '$work/out'"
expect "device nodes present" bash -c "! grep -q '^missing=' '$work/out'"
expect "guest writes do not reach the host" [ ! -e "$work/written" ]
exit "$failed"
