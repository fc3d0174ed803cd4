# shellcheck shell=bash
# The guest's initramfs: static busybox + guest-init + the kernel's prepared modules.  7.6-10 MB
# (9.6 MB for sid's 7.2 kernel; the uncompressed modules are most of it), cached next to the kernel
# and rebuilt only when one of its inputs changes.

initramfs_inputs_hash() {  # KERNEL_DIR BUSYBOX
  cat "$UCVM_LIBDIR/guest-init" "$2" "$1/modules.boot" "$1/modules.load" "$1/release" | sha256sum | cut -c1-16
}

# ensure_initramfs KERNEL_DIR -> prints the path of the (cached) initramfs, built under the cache
# lock (run and fetch both come here; cache_lock is re-entrant for fetch, which holds it already).
ensure_initramfs() {
  local kdir=$1 bb hash out
  bb=$(find_busybox) || return 1
  hash=$(initramfs_inputs_hash "$kdir" "$bb")
  out="$kdir/initramfs-$hash.cpio"
  if [ ! -f "$out" ]; then
    (
      cache_lock
      [ -f "$out" ] || build_initramfs "$kdir" "$bb" "$out"
    ) || return 1
  fi
  printf '%s\n' "$out"
}

build_initramfs() {  # KERNEL_DIR BUSYBOX OUT
  local kdir=$1 bb=$2 out=$3 st
  st=$(mktemp -d "${TMPDIR:-/tmp}/uc-vm-initramfs.XXXXXX")
  mkdir -p "$st"/{bin,etc,proc,sys,dev,newroot,lib/modules}
  cp "$bb" "$st/bin/busybox"
  cp "$UCVM_LIBDIR/guest-init" "$st/init"
  chmod 755 "$st/init" "$st/bin/busybox"
  cp "$kdir"/modules/*.ko "$st/lib/modules/" 2>/dev/null || true
  cp "$kdir/modules.boot" "$kdir/modules.load" "$st/etc/"
  # Uncompressed: QEMU hands it over in one piece, and gunzip under TCG would cost more than it saves.
  (cd "$st" && find . | LC_ALL=C sort | "$bb" cpio -o -H newc -R 0:0 2>/dev/null) > "$out.tmp.$$"
  mv "$out.tmp.$$" "$out"
  rm -rf "$st"
  # Older initramfs builds of this kernel are stale now.
  find "$kdir/" -maxdepth 1 -name 'initramfs-*.cpio' ! -name "${out##*/}" -delete
}
