#!/usr/bin/env bash
# vm.scsi.tool: uringcmd-scsi against sg3_utils and dd on both guest targets (QEMU's virtio-scsi
# disk and scsi_debug).  Runs INSIDE the test VM:
#   scripts/vm run -- tests/vm/scsi/tool.sh ./build/dev/src/uringcmd-scsi
set -uo pipefail
[ "${UC_VM_GUEST:-}" = 1 ] || { echo "tool.sh runs inside the VM: scripts/vm run -- $0 TOOL" >&2; exit 2; }
if [ $# -ne 1 ] || [ ! -x "$1" ]; then echo "usage: $0 PATH/TO/uringcmd-scsi" >&2; exit 2; fi
TOOL=$(realpath "$1")
# The system's python: a pyenv shim re-executes itself through bash, which costs seconds in the guest.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

passed=0 failed=0
pass() { passed=$((passed + 1)); printf 'PASS  %-50s %s\n' "$1" "${2:0:70}"; }
fail() {
  failed=$((failed + 1))
  printf 'FAIL  %-50s %s\n' "$1" "$2"
  # shellcheck disable=SC2001  # prefixes every line; ${out//} cannot anchor at line starts
  [ -n "${3:-}" ] && sed 's/^/      | /' <<<"$3" | tail -n 30
}
# check_rc NAME RC EXPECT CMD...: CMD must exit with RC and its stdout+stderr match the regex EXPECT.
check_rc() {
  local name=$1 want=$2 expect=$3 out rc t0=$SECONDS
  shift 3
  out=$("$@" 2>&1); rc=$?
  name+=" [$((SECONDS - t0))s]"
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
# json KEY [KEY2]: a field of the JSON object on stdin (KEY2: a field of each element of list KEY).
json() {
  "$PY" -c 'import json, sys
d = json.load(sys.stdin)
if len(sys.argv) == 2: print(d[sys.argv[1]])
else: print("\n".join(str(e[sys.argv[2]]) for e in d[sys.argv[1]]))' "$@"
}

# shellcheck source=tests/vm/scsi_node.sh
source "$(dirname "$0")/../scsi_node.sh"

# json_out NAME CMD...: keeps CMD's --json output, checked with the others at the end (python
# starts slowly in the guest).
njson=0
json_out() {
  njson=$((njson + 1))
  echo "$1" >"$TMP/json.$njson.name"
  shift
  "$@" >"$TMP/json.$njson" 2>/dev/null
}
for model in "QEMU HARDDISK" scsi_debug; do
  BSG=$(scsi_node "$model" bsg) SG=$(scsi_node "$model" sg) BLK=$(scsi_node "$model" block)
  echo "== $model: $BSG $SG $BLK"

  inq=$("$TOOL" inquiry "$SG" --json)
  same "inquiry vendor = sg_inq ($SG)" "$(json vendor <<<"$inq")" \
       "$(sg_inq "$SG" | sed -n 's/^ *Vendor identification: *//p' | sed 's/ *$//')"
  same "inquiry product = sg_inq ($SG)" "$(json product <<<"$inq")" \
       "$(sg_inq "$SG" | sed -n 's/^ *Product identification: *//p' | sed 's/ *$//')"
  check "inquiry $BLK (block node)" "product: +$model" "$TOOL" inquiry "$BLK"

  cap=$("$TOOL" readcap "$BSG" --json)
  last=$(json last_lba <<<"$cap") bs=$(json block_size <<<"$cap")
  same "readcap last LBA = sg_readcap ($BSG)" "$last" "$(sg_readcap "$BSG" | sed -n 's/.*Last LBA=\([0-9]*\).*/\1/p')"
  same "readcap block size = sg_readcap ($BSG)" "$bs" \
       "$(sg_readcap "$BSG" | sed -n 's/.*Logical block length=\([0-9]*\).*/\1/p')"

  naa_ours=$("$TOOL" inquiry "$BSG" --vpd 0x83 --json | "$PY" -c 'import json, sys
print(" ".join(sorted(d["value"] for d in json.load(sys.stdin)["designators"] if d["type"] == "NAA")))')
  naa_theirs=$(sg_vpd -p di "$BSG" | grep -A2 'designator type: NAA' | grep -oE '0x[0-9a-f]+' | sort | xargs)
  if [ -z "$naa_theirs" ] && [ -z "$naa_ours" ]; then pass "vpd 0x83 NAA = sg_vpd -p di ($BSG)" "(no NAA designator)"
  else same "vpd 0x83 NAA = sg_vpd -p di ($BSG)" "$naa_ours" "$naa_theirs"; fi

  same "luns = sg_luns ($BSG)" "$("$TOOL" luns "$BSG" --json | json luns address | sed 's/^0x//' | xargs)" \
       "$(sg_luns "$BSG" | grep -oE '^ +[0-9a-f]{16}' | xargs)"

  check "tur $BSG" 'ready: +yes' "$TOOL" tur "$BSG"
  check "sync $BSG" 'synchronized: +yes' "$TOOL" sync "$BSG"
  check "raw INQUIRY $BSG" 'transferred: +96' "$TOOL" raw "$BSG" "12 00 00 00 60 00" --len 96
  check "inquiry --vpd 0x00 $BSG" 'page=0x83' "$TOOL" inquiry "$BSG" --vpd 0

  # Round trips: 8 blocks at 100, and 9 MiB (more than one 8 MiB buffer) at 2048.
  for spec in "100 8" "2048 18432"; do
    read -r lba count <<<"$spec"
    head -c $((count * bs)) /dev/urandom >"$TMP/in"
    check "write --lba $lba ($count blocks) $BSG" "blocks: +$count" "$TOOL" write "$BSG" --lba "$lba" --in "$TMP/in"
    check "read --out --lba $lba $SG" "bytes: +$((count * bs))" "$TOOL" read "$SG" --lba "$lba" --count "$count" --out "$TMP/out"
    check "read back = written ($count blocks)" '^$' cmp "$TMP/in" "$TMP/out"
    check "dd $BLK = written ($count blocks)" '^$' sh -c "dd if=$BLK bs=1M skip=$((lba * bs)) count=$((count * bs)) iflag=direct,skip_bytes,count_bytes status=none | cmp - $TMP/in"
  done
  check "read hex dump $BSG" '^00000000 ' "$TOOL" read "$BSG" --lba 100 --count 1

  check_rc "read past the end exits 5 ($BSG)" 5 'Illegal Request' "$TOOL" read "$BSG" --lba $((last + 1)) --count 1
  head -c $((bs + 1)) /dev/zero >"$TMP/partial"
  check_rc "write refuses a partial block" 1 'whole' "$TOOL" write "$BSG" --lba 0 --in "$TMP/partial"

  # UNMAP must work where READ CAPACITY(16) says the unit is thin provisioned (scsi_debug takes
  # it either way, so nothing is asserted without LBPME).
  if [ "$(json lbpme <<<"$cap")" = True ]; then
    check "unmap $BSG (LBPME)" 'unmapped: +yes' "$TOOL" unmap "$BSG" --lba 0 --count 8
  fi

  for args in "inquiry $BSG" "inquiry $BSG --vpd 0x80" "inquiry $BSG --vpd 0x83" "inquiry $BSG --vpd 0xb0" \
              "inquiry $BSG --vpd 0xb1" "readcap $BSG" "luns $BSG" "tur $BSG" "read $BSG --lba 0 --count 2" \
              "raw $BSG 120000006000 --len 96" "read $BSG --lba $((last + 1)) --count 1"; do
    # shellcheck disable=SC2086  # $args is split into words on purpose
    json_out "$args" "$TOOL" $args --json
  done
done

DBSG=$(scsi_node scsi_debug bsg)
check "opcodes $DBSG" 'READ\(10\)' "$TOOL" opcodes "$DBSG"
json_out "opcodes $DBSG" "$TOOL" opcodes "$DBSG" --json

check "decode-sense fixed ILLEGAL REQUEST" 'Illegal Request: Invalid field in CDB' \
      "$TOOL" decode-sense 70 00 05 00 00 00 00 0a 00 00 00 00 24 00 00 00 00 00
json_out "decode-sense" "$TOOL" decode-sense --json '70 00 05 00 00 00 00 0a 00 00 00 00 24 00 00 00 00 00'
# Each output must be one JSON object (errors too: {"error": ...}).
while read -r verdict n; do
  if [ "$verdict" = ok ]; then pass "--json parses: $(<"$TMP/json.$n.name")" "$(head -c 70 "$TMP/json.$n")"
  else fail "--json parses: $(<"$TMP/json.$n.name")" "not one JSON object" "$(<"$TMP/json.$n")"; fi
done <<<"$("$PY" -c 'import json, sys
for n in range(1, int(sys.argv[2]) + 1):
    try: ok = isinstance(json.load(open(f"{sys.argv[1]}/json.{n}")), dict)
    except ValueError: ok = False
    print("ok" if ok else "bad", n)' "$TMP" "$njson")"
check_rc "decode-sense of non-sense bytes exits 97" 97 'not sense data' "$TOOL" decode-sense 12 34
check_rc "missing device exits 15" 15 'ENODEV' "$TOOL" inquiry /dev/sdzz
check_rc "read without --lba exits 1" 1 'needs --lba' "$TOOL" read "$DBSG"
check_rc "unknown option exits 1" 1 'not an option' "$TOOL" tur "$DBSG" --lba 1
for cmd in "" inquiry readcap luns tur read write sync unmap opcodes raw decode-sense; do
  # shellcheck disable=SC2086  # "" stands for no command: the top-level --help
  check "--help $cmd" 'Exit status' "$TOOL" $cmd --help
done

echo "SUMMARY: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
