#!/usr/bin/env bash
# vm.nbd: the kernel's own NBD client against uringcmd-nbd in the guest, over loopback. Runs INSIDE
# the test VM:  scripts/vm run -- tests/vm/nbd.sh build/dev/src/uringcmd-nbd
# nbd-client attaches /dev/nbd0; ext4 is made, mounted, filled with files whose checksums must
# survive a disconnect, a reconnect and a fsck of the export's backing file; then SIGTERM must
# stop the server cleanly.
set -euo pipefail
[ "${UC_VM_GUEST:-}" = 1 ] || { echo "nbd.sh runs inside the VM: scripts/vm run -- $0 SERVER" >&2; exit 2; }
server=${1:?usage: nbd.sh path/to/uringcmd-nbd}
# shellcheck source=tests/vm/nbd_guest.sh
. "$(cd "$(dirname "$0")" && pwd)/nbd_guest.sh"
step() { printf '== %s\n' "$*"; }

# The guest has no modprobe: scripts/vm.d/modules.list loads nbd at boot.
[ -e /dev/nbd0 ] || { echo "no /dev/nbd0: add nbd to scripts/vm.d/modules.list" >&2; exit 1; }
truncate -s 256M "$work/export.img"
"$server" --port 10809 --threads 2 --verbose "$work/export.img" 2>"$log" &
pid=$!
for _ in $(seq 50); do grep -q ' port ' "$log" && break; sleep 0.1; done

attach() {
  # netlink first (the kernel's current interface), the ioctl interface where it is missing
  nbd-client -N default 127.0.0.1 10809 /dev/nbd0 -b 4096 ||
    nbd-client -N default 127.0.0.1 10809 /dev/nbd0 -b 4096 -L
  for _ in $(seq 50); do [ "$(cat /sys/block/nbd0/size)" != 0 ] && return 0; sleep 0.1; done
  echo "/dev/nbd0 never got a size" >&2
  return 1
}

step "nbd-client attaches /dev/nbd0; mkfs.ext4; mount; files with checksums"
attach
mkfs.ext4 -q -F /dev/nbd0
mkdir -p "$work/mnt"
mount /dev/nbd0 "$work/mnt"
for i in 1 2 3 4; do head -c $((i * 3 * 1024 * 1024 + 12345)) /dev/urandom >"$work/mnt/file$i"; done
(cd "$work/mnt" && sha256sum file* >"$work/sums")
umount "$work/mnt"
nbd-client -d /dev/nbd0

step "the export's backing file is a clean ext4"
e2fsck -fn "$work/export.img"

step "reconnect: every checksum matches"
attach
mount /dev/nbd0 "$work/mnt"
(cd "$work/mnt" && sha256sum -c "$work/sums")
rm "$work/mnt/file2"  # TRIM (discard) through the kernel client
fstrim -v "$work/mnt" || true
umount "$work/mnt"
nbd-client -d /dev/nbd0

step "SIGTERM: the server exits 0"
kill -TERM "$pid"
wait "$pid"
pid=
echo "vm.nbd: PASS"
