#!/usr/bin/env bash
# vm.nvme.tool: uringcmd-nvme against nvme-cli and dd on the guest's three NVMe namespaces (512-byte
# LBAs, 4096-byte LBAs, 512 + 8 bytes of separate metadata).  Runs INSIDE the test VM:
#   scripts/vm run -- tests/vm/nvme/tool.sh ./build/dev/src/uringcmd-nvme
set -uo pipefail
[ "${UC_VM_GUEST:-}" = 1 ] || { echo "tool.sh runs inside the VM: scripts/vm run -- $0 TOOL" >&2; exit 2; }
if [ $# -ne 1 ] || [ ! -x "$1" ]; then echo "usage: $0 PATH/TO/uringcmd-nvme" >&2; exit 2; fi
TOOL=$(realpath "$1")
command -v jq >/dev/null || { echo "tool.sh needs jq" >&2; exit 77; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

passed=0 failed=0
pass() { passed=$((passed + 1)); printf 'PASS  %-56s %s\n' "$1" "${2:0:64}"; }
fail() {
  failed=$((failed + 1))
  printf 'FAIL  %-56s %s\n' "$1" "$2"
  # shellcheck disable=SC2001  # prefixes every line; ${out//} cannot anchor at line starts
  [ -n "${3:-}" ] && sed 's/^/      | /' <<<"$3" | tail -n 30
}
# check_rc NAME RC EXPECT CMD...: CMD must exit with RC and its stdout+stderr match the regex EXPECT.
check_rc() {
  local name=$1 want=$2 expect=$3 out rc
  shift 3
  out=$("$@" 2>&1); rc=$?
  if [ "$rc" -eq "$want" ] && grep -qiE -- "$expect" <<<"$out"; then
    pass "$name" "$(grep -iE -m1 -- "$expect" <<<"$out" | sed 's/^ *//')"
  else
    fail "$name" "rc=$rc (want $want), expected /$expect/ in: $*" "$out"
  fi
}
check() { local name=$1; shift; check_rc "$name" 0 "$@"; }
# same NAME OURS THEIRS: the two values must be equal and not empty.
same() {
  if [ -n "$2" ] && [ "$2" = "$3" ]; then pass "$1" "$2"; else fail "$1" "ours '$2' != theirs '$3'"; fi
}
# compare WHAT OURS THEIRS KEY...: each KEY of two JSON objects must be equal (strings with their
# trailing blanks trimmed: nvme-cli pads sn/mn/fr to their widths). One jq run per file: jq
# starts slowly in the guest.
values() {
  jq -r '. as $d | $ARGS.positional[] | "\(.) \($d[.] | if type == "string" then sub(" +$"; "") else tostring end)"' \
     "$1" --args "${@:2}"
}
compare() {
  local what=$1 ours=$2 theirs=$3 k v
  shift 3
  local -A o=() t=()
  # Here-strings, not <(...): the guest has no /dev/fd.
  while read -r k v; do o[$k]=$v; done <<<"$(values "$ours" "$@")"
  while read -r k v; do t[$k]=$v; done <<<"$(values "$theirs" "$@")"
  for k in "$@"; do same "$what $k = nvme-cli" "${o[$k]:-}" "${t[$k]:-}"; done
}

# --- the controller: id-ctrl, smart-log, list-ns, error-log, get-feature --------------------------
"$TOOL" id-ctrl /dev/nvme0 --json >"$TMP/ours.ctrl"
nvme id-ctrl /dev/nvme0 -o json >"$TMP/theirs.ctrl"
compare id-ctrl "$TMP/ours.ctrl" "$TMP/theirs.ctrl" vid ssvid sn mn fr rab ieee cmic mdts cntlid ver oacs acl aerl \
        frmw lpa elpe npss wctemp cctemp sqes cqes nn oncs fuses fna vwc awun awupf ocfs sgls subnqn
check "id-ctrl (text) /dev/nvme0" 'mn: +QEMU NVMe Ctrl' "$TOOL" id-ctrl /dev/nvme0
check "id-ctrl via a namespace node (/dev/ng0n2)" '"sn":"UCVM' "$TOOL" id-ctrl /dev/ng0n2 --json

"$TOOL" smart-log /dev/nvme0 --json >"$TMP/ours.smart"
nvme smart-log /dev/nvme0 -o json >"$TMP/theirs.smart"
compare smart-log "$TMP/ours.smart" "$TMP/theirs.smart" critical_warning avail_spare spare_thresh percent_used \
        power_cycles media_errors num_err_log_entries warning_temp_time critical_comp_time
temp=$(jq .temperature "$TMP/ours.smart")  # kelvin; the two reads may be a degree apart
if [ "$temp" -gt 250 ] && [ "$temp" -lt 400 ]; then pass "smart-log temperature (K)" "$temp"
else fail "smart-log temperature (K)" "'$temp'"; fi

same "list-ns = nvme-cli" "$("$TOOL" list-ns /dev/nvme0 --json | jq -c '[.nsid_list[].nsid]')" \
     "$(nvme list-ns /dev/nvme0 -o json | jq -c '[.nsid_list[].nsid]')"
check "list-ns (text)" 'nsid=3' "$TOOL" list-ns /dev/nvme0
same "error-log entries = nvme-cli" "$("$TOOL" error-log /dev/nvme0 --json | jq -c '[.errors[] | [.error_count, .status_field]]')" \
     "$(nvme error-log /dev/nvme0 -o json | jq -c '[.errors[] | [.error_count, .status_field]]')"
same "get-feature 7 = nvme-cli" "$("$TOOL" get-feature /dev/nvme0 -f 7 --json | jq -r '.value')" \
     "$(($(nvme get-feature /dev/nvme0 -f 7 | sed -n 's/.*Current value:\(0x[0-9a-f]*\).*/\1/p')))"
check "get-feature 6 --sel 3 (text)" 'changeable: +(yes|no)' "$TOOL" get-feature /dev/nvme0 -f 6 --sel 3

# --- each namespace: list, id-ns, round trips, write-zeroes, dsm, out of range ------------------
"$TOOL" list --json >"$TMP/ours.list"
nvme list -o json >"$TMP/theirs.list"
# The namespaces' instance numbers (nvme0nY) need not follow their nsids: no node is assumed to
# have a given format, only that one of them has 8 bytes of metadata.
check "list (text)" '/dev/ng0n[0-9] .*512 B \+ 8 B' "$TOOL" list
for node in /dev/ng0n1 /dev/ng0n2 /dev/ng0n3; do
  blk=/dev/nvme${node#/dev/ng}
  echo "== $node ($blk)"
  "$TOOL" id-ns "$node" --json >"$TMP/ours.ns"
  nvme id-ns "$blk" -o json >"$TMP/theirs.ns"
  compare "id-ns $node" "$TMP/ours.ns" "$TMP/theirs.ns" nsze ncap nuse nsfeat nlbaf flbas mc dpc dps dlfeat
  same "id-ns $node lbafs (ds, ms) = nvme-cli" "$(jq -c '[.lbafs[] | [.ds, .ms]]' "$TMP/ours.ns")" \
       "$(jq -c '[.lbafs[] | [.ds, .ms]]' "$TMP/theirs.ns")"
  read -r nsid bs nsze dlfeat <<<"$(jq -r '"\(.nsid) \(.block_size) \(.nsze) \(.dlfeat)"' "$TMP/ours.ns")"
  same "id-ns $node block size = the block layer's" "$bs" "$(cat "/sys/block/${blk#/dev/}/queue/logical_block_size")"
  same "id-ns -n $nsid on the controller = on $node" "$("$TOOL" id-ns /dev/nvme0 -n "$nsid" --json | jq -c .lbafs)" \
       "$(jq -c .lbafs "$TMP/ours.ns")"
  same "list $node: nsid, size, block size = nvme list" \
       "$(jq -c --arg b "$blk" '[.Devices[] | select(.DevicePath == $b) | .NameSpace, .MaximumLBA, .SectorSize, .UsedBytes]' "$TMP/ours.list")" \
       "$(jq -c --arg b "$blk" '[.Devices[] | select(.DevicePath == $b) | .NameSpace, .MaximumLBA, .SectorSize, .UsedBytes]' "$TMP/theirs.list")"

  # Round trips: 8 blocks at 100, and 9 MiB (more than one 8 MiB buffer) at 2048; ours writes,
  # ours and dd read back (and the other way round for the small one).
  for spec in "100 8" "2048 $((9 * 1024 * 1024 / bs))"; do
    read -r lba count <<<"$spec"
    head -c $((count * bs)) /dev/urandom >"$TMP/in"
    sum=$(md5sum <"$TMP/in")
    check "write --lba $lba ($count blocks) $node" "blocks: +$count" "$TOOL" write "$node" --lba "$lba" --in "$TMP/in"
    check "read --out ($count blocks) $blk" "bytes: +$((count * bs))" \
          "$TOOL" read "$blk" --lba "$lba" --count "$count" --out "$TMP/out"
    same "read back = written ($count blocks, md5)" "$(md5sum <"$TMP/out")" "$sum"
    same "dd $blk = written ($count blocks, md5)" \
         "$(dd if="$blk" bs=1M skip=$((lba * bs)) count=$((count * bs)) iflag=direct,skip_bytes,count_bytes status=none |
            md5sum)" "$sum"
  done
  head -c $((4 * bs)) /dev/urandom >"$TMP/dd"
  dd if="$TMP/dd" of="$blk" bs="$bs" seek=300 oflag=direct conv=notrunc status=none
  same "dd wrote, we read (4 blocks, md5)" "$("$TOOL" read "$node" --lba 300 --count 4 --out "$TMP/out" >/dev/null &&
                                             md5sum <"$TMP/out")" "$(md5sum <"$TMP/dd")"
  check "write from stdin $node" "blocks: +4" sh -c "\"$TOOL\" write $node --lba 310 <$TMP/dd"
  check "flush $node" 'flushed: +yes' "$TOOL" flush "$node"

  head -c $((16 * bs)) /dev/zero >"$TMP/zeros"
  check "write-zeroes --lba 100 --count 8 $node" 'zeroed: +yes' "$TOOL" write-zeroes "$node" --lba 100 --count 8
  "$TOOL" read "$node" --lba 100 --count 8 --out "$TMP/out" >/dev/null
  same "write-zeroes reads back as zeros" "$(md5sum <"$TMP/out")" "$(head -c $((8 * bs)) "$TMP/zeros" | md5sum)"
  check "write-zeroes --deallocate $node" 'zeroed: +yes' "$TOOL" write-zeroes "$node" --lba 300 --count 4 --deallocate
  "$TOOL" read "$node" --lba 300 --count 4 --out "$TMP/out" >/dev/null
  same "write-zeroes --deallocate reads back as zeros" "$(md5sum <"$TMP/out")" "$(head -c $((4 * bs)) "$TMP/zeros" | md5sum)"
  # DLFEAT 1: deallocated blocks read as zeros (QEMU's), so a trim reads back as zeros too.
  check "dsm --deallocate $node" 'deallocated: +yes' "$TOOL" dsm "$node" --deallocate --lba 2048 --count 16
  same "dsm'd blocks read back as zeros (DLFEAT $dlfeat)" \
       "$("$TOOL" read "$node" --lba 2048 --count 16 --out "$TMP/out" >/dev/null && md5sum <"$TMP/out")" \
       "$(md5sum <"$TMP/zeros")"

  check_rc "read past the end exits 1, LBA Out of Range ($node)" 1 'NVMe status LBA Out of Range \(SCT 0h SC 80h, DNR\)' \
           "$TOOL" read "$node" --lba "$nsze" --count 1
  out=$("$TOOL" read "$node" --lba "$nsze" --count 1 --json 2>/dev/null)
  same "read past the end --json: the status" "$(jq -c '[.exit_status, .nvme_status.name, .nvme_status.sc]' <<<"$out")" \
       '[1,"LBA Out of Range",128]'
done

check "read hex dump" '^00000000 ' "$TOOL" read /dev/ng0n1 --lba 100 --count 1
check "read --json data" '"data":"' "$TOOL" read /dev/ng0n2 --lba 0 --count 1 --json
EXAMPLE=$(dirname "$TOOL")/../examples/nvme_read  # vm.nvme.example runs it too; here when it was built
if [ -x "$EXAMPLE" ]; then
  check "nvme_read example" 'read 4096 bytes from /dev/ng0n1 \(nsid [1-3], (512|4096)-byte blocks\)' "$EXAMPLE" /dev/ng0n1
fi
head -c 513 /dev/zero >"$TMP/partial"
check_rc "write refuses a partial block (exit 2)" 2 'whole' "$TOOL" write /dev/ng0n1 --lba 0 --in "$TMP/partial"
check_rc "missing namespace exits 1 (errno)" 1 'errno ENODEV' "$TOOL" read /dev/ng9n9 --lba 0 --count 1
check_rc "I/O on the controller node is a usage error (exit 2)" 2 'is a controller' "$TOOL" read /dev/nvme0 --lba 0 --count 1
check_rc "read without --count exits 2" 2 'needs --lba and --count' "$TOOL" read /dev/ng0n1 --lba 0
check_rc "unknown option exits 2" 2 'not an option' "$TOOL" flush /dev/ng0n1 --lba 1
check_rc "unknown command exits 2" 2 'unknown command' "$TOOL" frobnicate
check_rc "dsm without --deallocate exits 2" 2 'needs --deallocate' "$TOOL" dsm /dev/ng0n1 --lba 0 --count 1
for cmd in "" list id-ctrl id-ns list-ns smart-log error-log get-feature read write flush write-zeroes dsm; do
  # shellcheck disable=SC2086  # "" stands for no command: the top-level --help
  check "--help $cmd" 'Exit status' "$TOOL" $cmd --help
done

echo "SUMMARY: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
