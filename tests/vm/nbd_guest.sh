# shellcheck shell=bash
# What the vm.nbd* scripts share (sourced): a work directory with the server's log, and on exit
# the file system unmounted, /dev/nbd0 detached, the server killed and its log printed.
export PATH=$PATH:/usr/sbin:/sbin  # nbd-client, mkfs.ext4, e2fsck, blkdiscard
work=$(mktemp -d)
log=$work/server.log
pid=
nbd_cleanup() {
  umount "$work/mnt" 2>/dev/null || true
  nbd-client -d /dev/nbd0 >/dev/null 2>&1 || true
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
  echo "-- server log:"
  cat "$log" 2>/dev/null || true
}
trap nbd_cleanup EXIT
