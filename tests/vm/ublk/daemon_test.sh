#!/usr/bin/env bash
# vm.ublk.daemon: the uringcmd-ublk daemon on the guest's ublk_drv, driven as a person would:
# loop devices on tmpfs files carrying ext4, discard/write-zeroes/flush reaching the file, fio
# crc32c verification on loop and ram with 1 and 2 queues in every data mode the kernel has, del
# and SIGTERM under load, named errors with nothing leaked, EIO from a shrunk backing file, and
# SIGKILL + recover (twice) under fio verification. Runs INSIDE the test VM:
#   scripts/vm run -- tests/vm/ublk/daemon_test.sh ./build/dev/src/uringcmd-ublk
set -uo pipefail
[ "${UC_VM_GUEST:-}" = 1 ] || { echo "daemon_test.sh runs inside the VM: scripts/vm run -- $0 TOOL" >&2; exit 2; }
if [ $# -ne 1 ] || [ ! -x "$1" ]; then echo "usage: $0 PATH/TO/uringcmd-ublk" >&2; exit 2; fi
TOOL=$(realpath "$1")
[ -e /dev/ublk-control ] || { echo "UC-SKIP: no /dev/ublk-control (ublk_drv)"; exit 77; }
# tmpfs, as the issue asks (/tmp is an overlay of the host's).
TMP=$(mktemp -d /dev/shm/ublk-daemon.XXXXXX)
cleanup() {
  "$TOOL" del --all >/dev/null 2>&1
  umount "$TMP/mnt" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT

# UC_UBLK_CASES: the sections to run (default all), to rerun one while working on it.
CASES=${UC_UBLK_CASES:-fs zeros fio busy errors eio recovery}
want() { [[ " $CASES " == *" $1 "* ]]; }

passed=0 failed=0
pass() { passed=$((passed + 1)); printf 'PASS %4ss  %-64s %s\n' "$SECONDS" "$1" "${2:0:60}"; }
fail() {
  failed=$((failed + 1))
  printf 'FAIL %4ss  %-64s %s\n' "$SECONDS" "$1" "$2"
  # shellcheck disable=SC2001  # prefixes every line; ${out//} cannot anchor at line starts
  [ -n "${3:-}" ] && sed 's/^/      | /' <<<"$3" | tail -n 30
}
# ok NAME CMD...: CMD must succeed (its output is shown when it does not).
ok() {
  local name=$1 out
  shift
  if out=$("$@" 2>&1); then pass "$name" "$(tail -n1 <<<"$out")"; else fail "$name" "rc=$? from: $*" "$out"; fi
}
# refused NAME REGEX CMD...: CMD must exit 2 with REGEX in its output.
refused() {
  local name=$1 expect=$2 out rc
  shift 2
  out=$("$@" 2>&1); rc=$?
  if [ "$rc" -eq 2 ] && grep -qE -- "$expect" <<<"$out"; then pass "$name" "$(grep -E -m1 -- "$expect" <<<"$out")"
  else fail "$name" "rc=$rc (want 2), expected /$expect/ from: $*" "$out"; fi
}
# nothing_left NAME: no device, no node, no state file.
nothing_left() {
  local nodes
  nodes=$(ls /dev/ublkc* /dev/ublkb* 2>/dev/null)
  if [ -z "$nodes" ] && "$TOOL" list | grep -q '^no ublk devices' && [ -z "$(ls /run/uringcmd-ublk 2>/dev/null)" ]; then
    pass "$1: nothing left" "no /dev/ublk[bc]*, list empty, no state file"
  else
    fail "$1: nothing left" "nodes: $nodes" "$("$TOOL" list 2>&1; ls -l /run/uringcmd-ublk 2>&1)"
  fi
}

# add ARGS...: adds a device; sets DEV (/dev/ublkbN), ID and PID from the line it prints.
add() {
  local out
  DEV='' ID='' PID=
  out=$("$TOOL" add "$@" 2>&1) || { fail "add $*" "rc=$?" "$out"; return 1; }
  DEV=$(grep -o '/dev/ublkb[0-9]*' <<<"$out" | head -n1)
  ID=${DEV#/dev/ublkb}
  PID=$(grep -o 'pid=[0-9]*' <<<"$out" | head -n1 | cut -d= -f2)
  if [ -b "$DEV" ] && [ -n "$PID" ]; then return 0; fi
  fail "add $*" "no block device or pid in its output" "$out"
  return 1
}
del() { ok "del -n $1" "$TOOL" del -n "$1"; }
# gone PID: the daemon exited (within 10 s).
gone() {
  local tries=100
  while [ $((tries -= 1)) -ge 0 ]; do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  return 1
}
# fio_verify NAME DEV [ARGS]: random writes of 4k-128k at QD 32, O_DIRECT, every block verified.
fio_verify() {
  local name=$1 dev=$2
  shift 2
  ok "$name" fio --name=verify --filename="$dev" --ioengine=io_uring --direct=1 --rw=randwrite --bsrange=4k-128k \
    --iodepth=32 --size=8M --verify=crc32c --do_verify=1 --verify_fatal=1 --output-format=terse "$@"
}

# --- features: which data modes this kernel has --------------------------------------------------
# From the text: "  copy       yes".
modes=$("$TOOL" features | awk '/^data modes/ { m = 1; next } m && $2 == "yes" { printf "%s ", $1 }')
if grep -qw copy <<<"$modes"; then pass "features: modes $modes" "$(uname -r)"
else fail "features: copy mode among the modes" "$("$TOOL" features 2>&1)"; fi
ok "features --json names the kernel's features" grep -q '"features":\["' <<<"$("$TOOL" features --json)"

# --- loop on a tmpfs file: ext4, a tree, remount, checksums; the file holds the file system -----
# The kernel mounts the file system where it can. The 6.12 guest cannot mount any ext2/3/4 (its
# ext4 needs a crc32c crypto module the guest lacks, and there is no other disk file system), so
# there e2fsprogs does it in user space: mkfs.ext4 -d writes the tree through the device, e2fsck
# checks it and debugfs reads it back.
if want fs; then
  img=$TMP/loop.img
  mkdir -p "$TMP/mnt" "$TMP/src/tree/a/b" "$TMP/src/tree/c" "$TMP/out"
  # A generated tree of ~500 files (reading the host's files over 9p is slow under emulation).
  head -c 6M /dev/urandom | split -b 37k - "$TMP/src/tree/a/b/p"
  head -c 1M /dev/urandom | split -b 3k - "$TMP/src/tree/c/q"
  (cd "$TMP/src/tree" && find . -type f -print0 | sort -z | xargs -0 sha256sum) >"$TMP/sums"
  check_sums() { (cd "$1" && sha256sum --quiet -c "$TMP/sums") && [ "$(wc -l <"$TMP/sums")" -gt 400 ]; }
  if add -t loop -f "$img" --size 64M -q 2; then
    list=$("$TOOL" list --json)
    # jq, not python3: python takes ~30 s to start in the emulated guest.
    # shellcheck disable=SC2016  # $id and $f are jq variables
    ok "list --json parses and shows dev $ID as a LIVE loop on $img" jq -e --argjson id "$ID" --arg f "$img" \
      '.devices[] | select(.id == $id) | .state == "LIVE" and .target == "loop" and .file == $f and .queues == 2 and
       .size == 64 * 1048576' <<<"$list"
    ok "mkfs.ext4 on $DEV" mkfs.ext4 -q -F "$DEV"
    if mount "$DEV" "$TMP/mnt" 2>/dev/null; then
      ok "mount, copy a tree of ~500 files" cp -a "$TMP/src/tree" "$TMP/mnt/tree"
      ok "unmount, remount, checksums match" sh -c "umount '$TMP/mnt' && mount '$DEV' '$TMP/mnt'"
      ok "... checksums match" check_sums "$TMP/mnt/tree"
      ok "unmount; the device and its backing file are identical" sh -c "umount '$TMP/mnt' && cmp '$DEV' '$img'"
      del "$ID"
      ok "after del the backing file holds the file system (e2fsck, mounted by the kernel's loop)" sh -c "
        e2fsck -fn '$img' && mount -o loop,ro '$img' '$TMP/mnt'"
      ok "... checksums match there" check_sums "$TMP/mnt/tree"
      umount "$TMP/mnt"
    elif dmesg | grep -q 'EXT4-fs .*Cannot load crc32c'; then
      pass "this kernel cannot mount ext4: e2fsprogs in user space instead" "$(dmesg | grep -m1 EXT4-fs)"
      ok "mkfs.ext4 -d writes the tree through $DEV" mkfs.ext4 -q -F -d "$TMP/src" "$DEV"
      ok "e2fsck finds it clean" e2fsck -fn "$DEV"
      ok "debugfs reads it back" debugfs -R "rdump /tree $TMP/out" "$DEV"
      ok "... checksums match" check_sums "$TMP/out/tree"
      ok "the device and its backing file are identical" cmp "$DEV" "$img"
      del "$ID"
      ok "after del the backing file holds the file system (e2fsck)" e2fsck -fn "$img"
    else
      fail "mount $DEV" "the kernel refused the file system" "$(dmesg | tail -n 5)"
      del "$ID"
    fi
  fi
  nothing_left "loop with ext4"
fi

# --- discard and write-zeroes read back as zeros; flush and FUA reach the file -------------------
if want zeros; then
  # zeros_after NAME DEV OFFSET LEN HOW: random data there, then HOW (blkdiscard flags), then zeros.
  zeros_after() {
    local name=$1 dev=$2 off=$3 len=$4 how=$5
    dd if=/dev/urandom of="$dev" bs=64K seek=$((off / 65536)) count=$((len / 65536)) oflag=direct status=none
    if cmp -s -i "$off:0" -n "$len" "$dev" /dev/zero; then fail "$name" "the random data read back as zeros"; return; fi
    ok "$name" sh -c "blkdiscard $how -o $off -l $len '$dev' && cmp -i $off:0 -n $len '$dev' /dev/zero"
  }
  for tgt in loop ram; do
    args=(-t ram --size 32M)
    [ "$tgt" = loop ] && args=(-t loop -f "$TMP/zero.img" --size 32M)
    add "${args[@]}" || continue
    zeros_after "$tgt: blkdiscard reads back zeros" "$DEV" $((1 << 20)) $((1 << 20)) ""
    zeros_after "$tgt: blkdiscard -z (write zeroes) reads back zeros" "$DEV" $((4 << 20)) $((512 << 10)) "-z"
    if [ "$tgt" = loop ]; then
      ok "loop: the discarded and zeroed ranges are zeros in the backing file" sh -c "
        cmp -i $((1 << 20)):0 -n $((1 << 20)) '$TMP/zero.img' /dev/zero && cmp -i $((4 << 20)):0 -n $((512 << 10)) '$TMP/zero.img' /dev/zero"
      ok "loop: announces a volatile cache and FUA" sh -c "
        grep -q 'write back' /sys/block/ublkb$ID/queue/write_cache && grep -q 1 /sys/block/ublkb$ID/queue/fua"
      dd if=/dev/urandom of="$TMP/pattern" bs=4K count=16 status=none
      ok "loop: FUA writes (oflag=direct,dsync) and a FLUSH (conv=fsync) succeed" \
        dd if="$TMP/pattern" of="$DEV" bs=4K seek=2048 oflag=direct,dsync conv=fsync status=none
      ok "loop: ... and the data is in the backing file, read through another fd" \
        cmp -i 0:$((2048 * 4096)) -n 65536 "$TMP/pattern" "$TMP/zero.img"
    fi
    del "$ID"
  done
  nothing_left "discard, write zeroes, flush"
fi

# --- fio crc32c verification: loop and ram, 1 and 2 queues, every mode the kernel has ------------
if want fio; then
  for mode in $modes; do
    for tgt in loop ram; do
      for q in 1 2; do
        args=(-t ram --size 64M)
        [ "$tgt" = loop ] && args=(-t loop -f "$TMP/fio.img" --size 64M)
        poll=(); [ "$tgt$q" = ram2 ] && poll=(--poll-us 0)   # queues that sleep at once (default: poll 20 us, growing to 250)
        add "${args[@]}" -q "$q" --mode "$mode" "${poll[@]}" || continue
        fio_verify "fio verify: $tgt, $q queue(s), mode $mode${poll:+, ${poll[*]}}" "$DEV"
        ok "list shows mode $mode" grep -q "mode=$mode" <<<"$("$TOOL" list -n "$ID")"
        want_poll=20-250; [ -n "${poll[*]}" ] && want_poll=0
        ok "list shows poll=${want_poll}us" grep -q "poll=${want_poll}us" <<<"$("$TOOL" list -n "$ID")"
        del "$ID"
        rm -f "$TMP/fio.img"
      done
    done
  done
  nothing_left "fio verification"
fi

# --- del and SIGTERM while fio runs: fio may fail, the daemon exits cleanly, nothing leaked -------
if want busy; then
  for how in del SIGTERM; do
    add -t loop -f "$TMP/busy.img" --size 64M -q 2 || continue
    fio --name=busy --filename="$DEV" --ioengine=io_uring --direct=1 --rw=randrw --bs=4k --iodepth=32 \
        --time_based --runtime=60 --output=/dev/null >/dev/null 2>&1 &
    fio_pid=$!
    sleep 2
    if [ "$how" = del ]; then ok "del -n $ID while fio runs" "$TOOL" del -n "$ID"
    else kill -TERM "$PID"; fi
    if gone "$PID"; then pass "$how under fio: the daemon exited" "pid $PID"; else fail "$how under fio: the daemon exited" "pid $PID still runs"; fi
    if timeout 30 tail --pid="$fio_pid" -f /dev/null; then pass "$how under fio: fio ended" ""
    else fail "$how under fio: fio ended" "fio still runs"; kill -9 "$fio_pid"; fi
    wait "$fio_pid" 2>/dev/null
    nothing_left "$how under fio"
    rm -f "$TMP/busy.img"
  done
fi

# --- named errors, nothing leaked -----------------------------------------------------------------
if want errors; then
  refused "del of a device that does not exist names ENODEV" 'ENODEV' "$TOOL" del -n 977
  refused "list -n of a device that does not exist names ENODEV" 'ENODEV' "$TOOL" list -n 977
  if add -t null -n 7 --size 16M; then
    refused "add -n 7 twice names EEXIST" 'EEXIST' "$TOOL" add -t null -n 7 --size 16M
    ok "... and the first dev 7 still serves" dd if=/dev/ublkb7 of=/dev/null bs=4K count=16 iflag=direct status=none
    del 7
  fi
  for mode in user-copy zero-copy batch batch-zero-copy; do
    grep -qw "$mode" <<<"$modes" && continue
    refused "--mode $mode, which this kernel or uringcmd lacks, is named" 'UBLK_F_[A-Z_]+ not supported|not implemented' \
      "$TOOL" add -t loop -f "$TMP/mode.img" --size 16M --mode "$mode"
  done
  out=$("$TOOL" add -t null --size 16M --mode fast 2>&1); rc=$?   # a syntax error: exit status 1
  want_text="is not one of copy, user-copy, zero-copy, batch, batch-zero-copy"
  if [ "$rc" -eq 1 ] && grep -q -- "$want_text" <<<"$out"; then pass "an unknown --mode lists the modes there are" "$want_text"
  else fail "an unknown --mode lists the modes there are" "rc=$rc (want 1), expected /$want_text/" "$out"; fi
  refused "a loop file that cannot be opened is named" 'ENOENT|No such file' "$TOOL" add -t loop -f /nonexistent/dir/x.img
  refused "--cpus with a CPU this process may not use is named" 'queue 1: CPU 1000 is not one this process may run on' \
    "$TOOL" add -t null --size 16M -q 2 --cpus 0,1000
  if add -t null --size 16M -q 2 --cpus 1,1; then
    ok "--cpus 1,1 pins both queue threads (ublk${ID}q0, q1) to CPU 1" sh -c "
      for t in /proc/$PID/task/*; do grep -q '^ublk${ID}q' \$t/comm && grep Cpus_allowed_list \$t/status; done |
        grep -c '[[:space:]]1\$' | grep -qx 2"
    del "$ID"
  fi
  nothing_left "refused commands"
fi

# --- a target that fails: reads past the end of a backing file truncated after add are EIO -------
if want eio; then
  if add -t loop -f "$TMP/short.img" --size 16M; then
    truncate -s 1M "$TMP/short.img"
    out=$(timeout 30 dd if="$DEV" of=/dev/null bs=4K skip=1024 count=1 iflag=direct 2>&1); rc=$?
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && grep -q 'Input/output error' <<<"$out"; then pass "shrunk backing file: EIO in dd, no hang" "$out"
    else fail "shrunk backing file: EIO in dd, no hang" "rc=$rc" "$out"; fi
    ok "... while the part still backed reads" dd if="$DEV" of=/dev/null bs=4K count=16 iflag=direct status=none
    del "$ID"
  fi
  nothing_left "failing target"
fi

# --- recovery: SIGKILL the daemon under fio verification, recover, twice ------------------------
if want recovery; then
  if "$TOOL" features --json | grep -q '"USER_RECOVERY_REISSUE"\|"get_features":false'; then
    if add -t loop -f "$TMP/rec.img" --size 64M -q 2 -r 1; then
      rec_fio=(fio --name=rec --filename="$DEV" --ioengine=io_uring --direct=1 --rw=randwrite --bsrange=4k-128k
               --iodepth=32 --size=32M --verify=crc32c --verify_fatal=1 --output-format=terse)
      "${rec_fio[@]}" --do_verify=1 >"$TMP/rec.out" 2>&1 &
      fio_pid=$!
      sleep 1
      kill -9 "$PID"
      gone "$PID"
      ok "recover -n $ID after SIGKILL (fio running)" "$TOOL" recover -n "$ID"
      if wait "$fio_pid"; then pass "fio verify across the SIGKILL and recover" ""
      else fail "fio verify across the SIGKILL and recover" "" "$(cat "$TMP/rec.out")"; fi
      pid2=$("$TOOL" list -n "$ID" | grep -o 'pid=[0-9]*' | cut -d= -f2)
      kill -9 "$pid2"
      gone "$pid2"
      ok "the same /dev/ublkb$ID QUIESCED with no daemon" grep -q QUIESCED <<<"$("$TOOL" list -n "$ID")"
      ok "recover -n $ID again (double kill)" "$TOOL" recover -n "$ID"
      ok "everything fio wrote verifies after the second recover" "${rec_fio[@]}" --verify_only
      del "$ID"
    fi
    nothing_left "recovery"
  fi
fi

echo "daemon_test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
