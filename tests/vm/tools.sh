#!/usr/bin/env bash
# vm.tools: the host's storage tools against the guest's devices.  Runs INSIDE the test VM:
#   scripts/vm run -- tests/vm/tools.sh
# Proves the harness end to end without any project code: SCSI through sg and bsg (both targets:
# QEMU's virtio-scsi disk and scsi_debug), NVMe admin commands, NVMe passthrough I/O through
# io_uring (fio's io_uring_cmd engine on namespace 1), block I/O with data verification.
set -uo pipefail
[ "${UC_VM_GUEST:-}" = 1 ] || { echo "tools.sh runs inside the VM: scripts/vm run -- $0" >&2; exit 2; }

passed=0 failed=0
# check NAME EXPECT CMD...: CMD must succeed and its output must match the regex EXPECT.
check() {
  local name=$1 expect=$2 out rc t0=$EPOCHREALTIME
  shift 2
  out=$("$@" 2>&1); rc=$?
  local dt; dt=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1fs", b - a }')
  if [ $rc -eq 0 ] && grep -qE -- "$expect" <<<"$out"; then
    passed=$((passed + 1))
    printf 'PASS  %-45s [%s]  %s\n' "$name" "$dt" "$(grep -E -m1 -- "$expect" <<<"$out" | sed 's/^ *//' | cut -c1-70)"
  else
    failed=$((failed + 1))
    printf 'FAIL  %-45s [%s] rc=%d, expected /%s/ in the output of: %s\n' "$name" "$dt" "$rc" "$expect" "$*"
    # shellcheck disable=SC2001  # prefixes every line; ${out//} cannot anchor at line starts
    sed 's/^/      | /' <<<"$out" | tail -n 30
  fi
}

# shellcheck source=tests/vm/scsi_node.sh
source "$(dirname "$0")/scsi_node.sh"
# shellcheck source=tests/vm/nvme_node.sh
source "$(dirname "$0")/nvme_node.sh"
NS1=$(nvme_node 1 block) NG1=$(nvme_node 1 generic)  # 512-byte LBAs, no metadata

echo "kernel $(uname -r), $(nproc) CPUs; devices: $(cd /dev && echo bsg/* sd? sg? nvme* ng* ublk-control)"
QBSG=$(scsi_node "QEMU HARDDISK" bsg) QSG=$(scsi_node "QEMU HARDDISK" sg) QBLK=$(scsi_node "QEMU HARDDISK" block)
DBSG=$(scsi_node scsi_debug bsg) DSG=$(scsi_node scsi_debug sg) DBLK=$(scsi_node scsi_debug block)

check "sg_inq $QBSG (virtio-scsi, bsg)"   'QEMU HARDDISK'  sg_inq "$QBSG"
check "sg_inq $DBSG (scsi_debug, bsg)"    'scsi_debug'     sg_inq "$DBSG"
check "sg_inq $QSG (virtio-scsi, sg)"     'QEMU HARDDISK'  sg_inq "$QSG"
check "sg_inq $DSG (scsi_debug, sg)"      'scsi_debug'     sg_inq "$DSG"
check "sg_readcap $QBSG"                  'Device size: 67108864 bytes' sg_readcap "$QBSG"
check "sg_vpd -p di $DSG"                 'designator'     sg_vpd -p di "$DSG"
check "sg_raw INQUIRY $DBSG"              'Received 96 bytes' sg_raw -r 96 "$DBSG" 12 00 00 00 60 00

check "nvme id-ctrl /dev/nvme0"           'QEMU NVMe Ctrl' nvme id-ctrl /dev/nvme0
check "nvme id-ns $NS1"                    'nsze'           nvme id-ns "$NS1" -n 1

FIO=(fio --name=verify --rw=randwrite --bs=4k --size=8M --verify=crc32c --iodepth=8)
check "fio io_uring $QBLK (virtio-scsi)"  'err= 0'  "${FIO[@]}" --direct=1 --ioengine=io_uring --filename="$QBLK"
check "fio io_uring $DBLK (scsi_debug)"   'err= 0'  "${FIO[@]}" --direct=1 --ioengine=io_uring --filename="$DBLK"
check "fio io_uring $NS1"                  'err= 0'  "${FIO[@]}" --direct=1 --ioengine=io_uring --filename="$NS1"
# NVMe passthrough: IORING_OP_URING_CMD with NVME_URING_CMD_IO on the generic char device (always
# direct: the char device refuses O_DIRECT).
check "fio io_uring_cmd $NG1"              'err= 0'  "${FIO[@]}" --ioengine=io_uring_cmd --cmd_type=nvme \
                                                    --filename="$NG1"

echo "SUMMARY: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
