#!/usr/bin/env bash
# vm.nbd.passthrough: uringcmd-nbd exporting the guest's NVMe namespace 1 (--nvme, passthrough on
# /dev/ng0nN) and the scsi_debug LU (--scsi, BSG io_uring or sg) to the kernel's own NBD client.
# Runs INSIDE the test VM:  scripts/vm run --scsi-debug "dev_size_mb=64 lbpu=1" -- \
#                             tests/vm/nbd_passthrough.sh build/dev/src/uringcmd-nbd
# For each: ext4 is made, mounted, filled with files whose checksums must survive a remount; the
# same ranges read and written through NBD and on the raw block device (O_DIRECT) must match; a
# TRIM must succeed, and read back zeroes where the device says deallocated blocks do; a request
# past the end and a misaligned one must be refused (EINVAL) on a raw socket; SIGTERM exits 0.
# Last: a node that does not exist is refused by name with exit status 1.
set -euo pipefail
[ "${UC_VM_GUEST:-}" = 1 ] || { echo "nbd_passthrough.sh runs inside the VM: scripts/vm run -- $0 SERVER" >&2; exit 2; }
server=${1:?usage: nbd_passthrough.sh path/to/uringcmd-nbd}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/vm/nvme_node.sh
. "$here/nvme_node.sh"
# shellcheck source=tests/vm/scsi_node.sh
. "$here/scsi_node.sh"
# shellcheck source=tests/vm/nbd_guest.sh
. "$here/nbd_guest.sh"
step() { printf '== [%s s] %s\n' "$SECONDS" "$*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

stop_server() {
  if [ -n "$pid" ]; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" || fail "the server did not exit 0 on SIGTERM"
    pid=
  fi
}
[ -e /dev/nbd0 ] || fail "no /dev/nbd0: add nbd to scripts/vm.d/modules.list"
mkdir -p "$work/mnt"

attach() {
  nbd-client -N default 127.0.0.1 10809 /dev/nbd0 -b 4096 ||
    nbd-client -N default 127.0.0.1 10809 /dev/nbd0 -b 4096 -L
  for _ in $(seq 50); do [ "$(cat /sys/block/nbd0/size)" != 0 ] && return 0; sleep 0.1; done
  fail "/dev/nbd0 never got a size"
}

# NBD reads on a raw socket after NBD_OPT_GO (one Python start: slow in the guest); prints each
# reply's error number.
raw_reads() {  # OFFSET:LENGTH... ("end" as OFFSET: the export's size)
  /usr/bin/python3 - "$@" <<'EOF'
import socket, struct, sys
s = socket.create_connection(("127.0.0.1", 10809))
def recv(n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c: sys.exit("server closed the connection")
        b += c
    return b
assert recv(18)[:16] == b"NBDMAGICIHAVEOPT"
s.sendall(struct.pack(">I", 3))
s.sendall(struct.pack(">QII", 0x49484156454F5054, 7, 6) + struct.pack(">IH", 0, 0))  # GO "", no infos
size = None
while True:
    _, _, rtype, rlen = struct.unpack(">QIII", recv(20))
    data = recv(rlen)
    if rtype == 3 and struct.unpack(">H", data[:2])[0] == 0: size = struct.unpack(">Q", data[2:10])[0]
    if rtype == 1: break
    if rtype & 0x80000000: sys.exit("GO refused")
errors = []
for handle, arg in enumerate(sys.argv[1:]):
    off, length = arg.split(":")
    off, length = size if off == "end" else int(off), int(length)
    s.sendall(struct.pack(">IHHQQI", 0x25609513, 0, 0, handle, off, length))
    magic, err, h = struct.unpack(">IIQ", recv(16))
    assert magic == 0x67446698 and h == handle
    if err == 0: recv(length)
    errors.append(str(err))
print(" ".join(errors))
s.sendall(struct.pack(">IHHQQI", 0x25609513, 0, 2, 99, 0, 0))  # DISC
EOF
}

# check_export NAME RAW_BLOCK_DEVICE TRIM_READS_ZERO(yes|no) SERVER_ARGS...
check_export() {
  local name=$1 raw=$2 zeroes=$3
  shift 3
  step "$name: uringcmd-nbd $*"
  : >"$log"
  "$server" --port 10809 --threads 2 --verbose "$@" 2>"$log" &
  pid=$!
  for _ in $(seq 100); do grep -q ' port ' "$log" && break; kill -0 "$pid" || fail "server exited"; sleep 0.1; done
  grep ' port ' "$log"

  step "$name: mkfs.ext4, mount, files with checksums, remount"
  attach
  mkfs.ext4 -q -F /dev/nbd0
  mount /dev/nbd0 "$work/mnt"
  for i in 1 2 3; do head -c $((i * 512 * 1024 + 12345)) /dev/urandom >"$work/mnt/file$i"; done
  (cd "$work/mnt" && sha256sum file* >"$work/sums")
  umount "$work/mnt"
  mount /dev/nbd0 "$work/mnt"
  (cd "$work/mnt" && sha256sum -c --quiet "$work/sums")
  umount "$work/mnt"

  step "$name: NBD and the raw device ($raw, O_DIRECT) agree: the filesystem's first 4 MiB, and 4 MiB written each way"
  blockdev --flushbufs /dev/nbd0
  a=$(dd if=/dev/nbd0 bs=1M count=4 iflag=direct status=none | sha256sum)
  b=$(dd if="$raw" bs=1M count=4 iflag=direct status=none | sha256sum)
  [ "$a" = "$b" ] || fail "$name: NBD and $raw differ"
  head -c 4M /dev/urandom >"$work/pattern"
  dd if="$work/pattern" of=/dev/nbd0 bs=1M seek=48 oflag=direct status=none
  dd if="$raw" bs=1M skip=48 count=4 iflag=direct status=none | cmp - "$work/pattern" ||
    fail "$name: written through NBD, $raw reads something else"
  head -c 4M /dev/urandom >"$work/pattern"
  dd if="$work/pattern" of="$raw" bs=1M seek=52 oflag=direct status=none
  dd if=/dev/nbd0 bs=1M skip=52 count=4 iflag=direct status=none | cmp - "$work/pattern" ||
    fail "$name: written to $raw, NBD reads something else"

  step "$name: TRIM of 1 MiB at 40 MiB (zeroes afterwards: $zeroes)"
  dd if=/dev/urandom of=/dev/nbd0 bs=1M count=1 seek=40 oflag=direct status=none
  if grep -q 'no deallocat' "$log"; then
    echo "the device cannot deallocate: TRIM is not offered"
  else
    blkdiscard -f -o $((40 << 20)) -l $((1 << 20)) /dev/nbd0
    if [ "$zeroes" = yes ]; then
      [ "$(dd if=/dev/nbd0 bs=1M count=1 skip=40 iflag=direct status=none | tr -d '\0' | wc -c)" = 0 ] ||
        fail "$name: a deallocated range does not read as zeroes"
      [ "$(dd if="$raw" bs=1M count=1 skip=40 iflag=direct status=none | tr -d '\0' | wc -c)" = 0 ] ||
        fail "$name: the raw device does not read zeroes where NBD trimmed"
    fi
  fi
  nbd-client -d /dev/nbd0

  step "$name: a read past the end and a misaligned read are refused with EINVAL"
  errors=$(raw_reads end:4096 1:4096 4096:4096)
  [ "$errors" = "22 22 0" ] || fail "$name: past the end, misaligned, aligned read: errors $errors, not 22 22 0"
  stop_server
}

ns=$(nvme_node 1 block)
# QEMU's nvme-ns with discard=unmap: DLFEAT says deallocated blocks read as zeroes.
nvme_zeroes=no
nvme id-ns "$ns" 2>/dev/null | grep -Eq '^dlfeat +: *(1|9|17|25)$' && nvme_zeroes=yes
check_export nvme "$ns" "$nvme_zeroes" --nvme "$(nvme_node 1 generic)"

sdb=$(scsi_node scsi_debug block)
[ "$(($(blockdev --getsize64 "$sdb") >> 20))" -ge 48 ] || fail "$sdb is too small for this test"
scsi_zeroes=no
sg_readcap --long "$sdb" 2>/dev/null | grep -q 'lbprz=1' && scsi_zeroes=yes
check_export scsi "$sdb" "$scsi_zeroes" --scsi "$(scsi_node scsi_debug sg)"

step "a node that does not exist: named error, exit 1"
rc=0
"$server" --nvme /dev/ng9n9 2>"$log" || rc=$?
cat "$log"
if [ "$rc" != 1 ] || ! grep -q 'ng9n9.*No such device' "$log"; then fail "--nvme /dev/ng9n9: exit $rc"; fi
rc=0
"$server" --scsi /dev/sg99 2>"$log" || rc=$?
cat "$log"
if [ "$rc" != 1 ] || ! grep -q 'sg99.*No such device' "$log"; then fail "--scsi /dev/sg99: exit $rc"; fi
: >"$log"
echo "vm.nbd.passthrough: PASS"
