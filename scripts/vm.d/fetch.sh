# shellcheck shell=bash
# `scripts/vm fetch`: host tools (apt, from the host's own release) and guest kernels (Debian
# packages downloaded through a private apt configuration and unpacked, never installed).

# ---------------------------------------------------------------------------------------------
# Host tools
# ---------------------------------------------------------------------------------------------

# Debian package -> file that proves it is installed and usable.
UCVM_HOST_TOOLS=(
  "qemu-system-x86:qemu-system-x86_64"   # the emulator (TCG; no KVM needed)
  "busybox-static:"                      # /init of the guest (checked by find_busybox)
  "fio:fio"                              # block I/O with verification, in the guest
  "sg3-utils:sg_inq"                     # SCSI commands through /dev/sg* and /dev/bsg/*
  "nvme-cli:nvme"                        # NVMe admin commands
  "util-linux:lsblk"
  "e2fsprogs:mkfs.ext4"
  "xz-utils:xz"                          # Debian's modules are .ko.xz
  "zstd:zstd"                            # Debian 7.x kernels are zstd-compressed (PVH fast boot)
  "binutils:objcopy"                     # reads module dependencies from .modinfo
  "debian-archive-keyring:/usr/share/keyrings/debian-archive-keyring.gpg"
)

pkg_installed() {
  [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null)" = "ii " ]
}

tool_present() {  # tool_present PROBE: a command name, an absolute path, or "" (busybox)
  case "$1" in
    "") find_busybox >/dev/null ;;
    /*) [ -e "$1" ] ;;
    *) have "$1" ;;
  esac
}

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif have sudo && sudo -n true 2>/dev/null; then sudo "$@"
  else die "root is needed to run: $*  (run it yourself, then run 'scripts/vm fetch' again)"
  fi
}

# Install what is missing and nothing else: naming an installed package would let apt "upgrade" it.
ensure_host_tools() {
  local entry pkg probe missing=()
  for entry in "${UCVM_HOST_TOOLS[@]}"; do
    pkg=${entry%%:*} probe=${entry#*:}
    if have dpkg-query; then
      pkg_installed "$pkg" && tool_present "$probe" && continue
      # busybox (dynamic) and busybox-static conflict: never swap the host's busybox behind its back.
      if [ "$pkg" = busybox-static ] && pkg_installed busybox && ! find_busybox >/dev/null; then
        die "a static busybox is needed, but the dynamic 'busybox' package is installed and" \
            "busybox-static would replace it. Install busybox-static yourself, or set UC_VM_BUSYBOX" \
            "to a statically linked busybox."
      fi
    else
      tool_present "$probe" && continue
    fi
    missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  have apt-get || die "missing host tools (${missing[*]}) and no apt-get here: install them with your" \
                      "distribution's package manager"
  say "installing host packages: ${missing[*]}"
  local codename target=()
  codename=$(. /etc/os-release 2>/dev/null && printf '%s' "${VERSION_CODENAME:-}")
  # Pin to the host's own release: a machine with extra suites configured must not pull a newer
  # libc in through these packages.
  [ -n "$codename" ] && target=(-t "$codename")
  as_root apt-get update -q >/dev/null
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    "${target[@]}" "${missing[@]}"
}

# ---------------------------------------------------------------------------------------------
# Private apt configuration (one per suite) for downloading kernel packages
# ---------------------------------------------------------------------------------------------

# The Debian mirror this machine already uses: UC_VM_DEBIAN_MIRROR, else the first non-security
# URI of the host's apt sources (deb822 *.sources first, then one-line *.list files).
debian_mirror() {
  if [ -n "${UC_VM_DEBIAN_MIRROR:-}" ]; then printf '%s\n' "$UC_VM_DEBIAN_MIRROR"; return; fi
  local uri f
  shopt -s nullglob
  for f in /etc/apt/sources.list.d/*.sources; do
    uri=$(awk '
      BEGIN { RS = ""; FS = "\n" }        # one deb822 stanza per record
      {
        uris = ""; suites = ""; types = ""; enabled = "yes"
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^#/) continue
          if ($i ~ /^URIs:/)    { uris = $i;   sub(/^URIs:[ \t]*/, "", uris) }
          if ($i ~ /^Suites:/)  { suites = $i; sub(/^Suites:[ \t]*/, "", suites) }
          if ($i ~ /^Types:/)   { types = $i }
          if ($i ~ /^Enabled:[ \t]*no/) enabled = "no"
        }
        if (enabled == "no" || types !~ /[ \t]deb([ \t]|$)/ || suites ~ /-security/) next
        split(uris, u, /[ \t]+/)
        if (u[1] != "" && u[1] !~ /^cdrom:/) { print u[1]; exit }
      }' "$f")
    [ -n "$uri" ] && { printf '%s\n' "$uri"; shopt -u nullglob; return; }
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    uri=$(awk '$1 == "deb" {
             i = 2; if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
             if ($(i + 1) ~ /-security/ || $i ~ /^cdrom:/) next
             print $i; exit }' "$f")
    [ -n "$uri" ] && { printf '%s\n' "$uri"; shopt -u nullglob; return; }
  done
  shopt -u nullglob
  die "no Debian mirror found in /etc/apt/sources.list{,.d/*}: set UC_VM_DEBIAN_MIRROR to the URI of" \
      "a Debian archive mirror (the part before /dists/)"
}

apt_dir() { printf '%s/apt/%s' "$UCVM_CACHE" "$1"; }

# apt_private SUITE CMD...: run an apt command that sees only SUITE and none of the host's apt state
# (own sources, lists, archives, empty dpkg status and no preferences), so it can never touch
# the host's packages.
apt_private() {
  local d; d=$(apt_dir "$1"); shift
  local sandbox=()
  # As root, apt drops to user _apt for downloads, which cannot write under /root/.cache.
  [ "$(id -u)" = 0 ] && sandbox=(-o APT::Sandbox::User=root)
  "$@" -o "Dir::Etc::SourceList=$d/sources.list" -o "Dir::Etc::SourceParts=$d/empty" \
       -o "Dir::State::Lists=$d/lists" -o "Dir::State::status=$d/status" -o "Dir::Cache=$d/cache" \
       -o Dir::Etc::Preferences=/dev/null -o "Dir::Etc::PreferencesParts=$d/empty" \
       -o Acquire::Languages=none "${sandbox[@]}"
}

apt_private_update() {  # apt_private_update SUITE
  local suite=$1 d mirror keyring out
  d=$(apt_dir "$suite")
  mirror=$(debian_mirror)
  keyring=${UC_VM_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}
  [ -r "$keyring" ] || die "apt keyring $keyring not found: apt-get install debian-archive-keyring" \
                           "(or set UC_VM_KEYRING)"
  mkdir -p "$d/lists/partial" "$d/cache/archives/partial" "$d/empty"
  : > "$d/status"
  printf 'deb [signed-by=%s] %s %s main\n' "$keyring" "$mirror" "$suite" > "$d/sources.list"
  if ! out=$(apt_private "$suite" apt-get update -q 2>&1) || grep -q '^[WE]:' <<<"$out"; then
    printf '%s\n' "$out" >&2
    die "apt-get update of suite '$suite' from $mirror failed (private config in $d). A mirror that" \
        "is not a Debian archive (e.g. Ubuntu) does not have it: set UC_VM_DEBIAN_MIRROR. A key error" \
        "means the debian-archive-keyring package is older than the suite's signing key."
  fi
}

pkg_field() {  # pkg_field SUITE PACKAGE FIELD -> value of the candidate version, empty if none
  apt_private "$1" apt-cache show --no-all-versions "$2" 2>/dev/null | sed -n "s/^$3: //p" | head -1
}

# ---------------------------------------------------------------------------------------------
# Kernels
# ---------------------------------------------------------------------------------------------

# A kernel SPEC is a Debian suite (sid, trixie-backports, trixie, bookworm, ...): the kernel that
# suite's linux-image-amd64 points to.  `kernels/<spec>` is a symlink to `kernels/<release>`.
kernel_dir_for() {  # kernel_dir_for SPEC -> directory (may not exist)
  local spec=$1
  if [[ $spec == */* || $spec == .* ]]; then local_kernel_dir "$spec"; return; fi
  printf '%s/kernels/%s' "$UCVM_CACHE" "$spec"
}

kernel_ready() { [ -f "$1/.complete" ] && [ "$(cat "$1/.complete")" = "$(prep_stamp)" ]; }

# Changes to what gets prepared (the module list, this file's layout) invalidate cached kernels.
prep_stamp() {
  { printf 'layout 3\n'; grep -v '^#' "$UCVM_LIBDIR/modules.list"; } | sha256sum | cut -c1-16
}

fetch_kernel() {  # fetch_kernel SPEC UPDATE(0|1)
  local spec=$1 update=$2 link
  if [[ $spec == */* || $spec == .* ]]; then prepare_local_kernel "$spec"; return; fi
  [[ $spec =~ ^[a-z][a-z0-9-]*$ ]] || die "kernel spec '$spec' is neither a Debian suite name nor a path"
  link=$(kernel_dir_for "$spec")
  if [ "$update" = 0 ] && kernel_ready "$link"; then
    say "kernel $spec: cached ($(cat "$link/release"))"
    return 0
  fi
  local t0; t0=$(now)
  say "kernel $spec: resolving through the private apt configuration in $(apt_dir "$spec")"
  apt_private_update "$spec"
  local abi version
  abi=$(pkg_field "$spec" linux-image-amd64 Depends | grep -o 'linux-image-[0-9][^ ,]*' | head -1)
  abi=${abi#linux-image-}
  version=$(pkg_field "$spec" linux-image-amd64 Version)
  [ -n "$abi" ] || die "suite '$spec' has no linux-image-amd64 (is it a Debian suite?)"
  # Another spec (or an earlier fetch) may already have this exact kernel.
  kernel_ready "$UCVM_CACHE/kernels/$abi" || download_and_prepare "$spec" "$abi" "$version"
  ln -sfn "$abi" "$link"
  # The suite's package lists (~20 MB) are only needed to resolve the next `fetch --update`.
  rm -rf "$(apt_dir "$spec")/lists" "$(apt_dir "$spec")/cache"
  prune_kernels
  say "kernel $spec: $abi ($version) ready in $(since "$t0") s"
  case $spec in sid|experimental)
    version_at_least "$abi" 7.2 || warn "$spec's kernel $abi is older than 7.2: no BSG io_uring" ;;
  esac
}

version_at_least() {  # version_at_least 7.2.13+deb14-amd64 7.2
  local v=${1%%[-+]*} maj min wmaj=${2%%.*} wmin=${2#*.}
  maj=${v%%.*}; min=${v#*.}; min=${min%%.*}
  [ "$maj" -gt "$wmaj" ] || { [ "$maj" -eq "$wmaj" ] && [ "$min" -ge "$wmin" ]; }
}

# Debian 7.x splits the kernel into linux-binary-unsigned-<abi> (vmlinuz), linux-modules-<abi> and
# linux-base-<abi> (config, modules.builtin); older releases ship one linux-image-<abi> package.
download_and_prepare() {  # SPEC ABI VERSION
  local spec=$1 abi=$2 version=$3 pkgs=() debs unpacked binary
  if [ -n "$(pkg_field "$spec" "linux-modules-$abi" Package)" ]; then
    # The unsigned image is the same kernel without the Secure Boot signature, which QEMU ignores.
    binary="linux-binary-unsigned-$abi"
    [ -n "$(pkg_field "$spec" "$binary" Package)" ] || binary="linux-binary-$abi"
    pkgs=("$binary" "linux-modules-$abi" "linux-base-$abi")
  elif [ -n "$(pkg_field "$spec" "linux-image-$abi-unsigned" Package)" ]; then
    pkgs=("linux-image-$abi-unsigned")
  else
    pkgs=("linux-image-$abi")
  fi
  debs="$UCVM_CACHE/debs/$abi"
  rm -rf "$debs" && mkdir -p "$debs"
  local t0; t0=$(now)
  say "kernel $spec: downloading ${pkgs[*]}"
  (cd "$debs" && apt_private "$spec" apt-get download -q "${pkgs[@]}" >/dev/null) ||
    die "apt-get download of ${pkgs[*]} from suite $spec failed"
  say "kernel $spec: downloaded $(du -sm "$debs" | cut -f1) MB in $(since "$t0") s; unpacking"
  unpacked=$(mktemp -d "$UCVM_CACHE/.unpack.XXXXXX")
  local f
  for f in "$debs"/*.deb; do dpkg-deb -x "$f" "$unpacked"; done
  prepare_kernel "$unpacked" "$UCVM_CACHE/kernels/$abi" \
    "spec=$spec" "suite=$spec" "version=$version" "packages=${pkgs[*]}" \
    "download_mb=$(du -sm "$debs" | cut -f1)"
  rm -rf "$unpacked"
  # The debs are ~100 MB and everything needed is now unpacked; UC_VM_KEEP_DEBS=1 keeps them.
  [ "${UC_VM_KEEP_DEBS:-0}" = 1 ] || rm -rf "$debs"
}

# Drop kernel directories no spec points to any more (after `fetch --update` moved a link).
prune_kernels() {
  local d used=" " l
  for l in "$UCVM_CACHE"/kernels/*; do
    [ -L "$l" ] && used+="$(readlink "$l") "
  done
  for d in "$UCVM_CACHE"/kernels/*; do
    [ -L "$d" ] || [ ! -d "$d" ] && continue
    case $(basename "$d") in local-*) continue ;; esac
    [[ $used == *" $(basename "$d") "* ]] || { say "removing unused kernel $(basename "$d")"; rm -rf "$d"; }
  done
}

# --kernel PATH: an unpacked kernel package tree (boot/vmlinuz-* + lib/modules/<release>/), or a
# `make install/modules_install` output with the same layout.  Prepared once into the cache.
local_kernel_dir() {
  local src
  src=$(cd "$1" 2>/dev/null && pwd -P) || { printf '%s/kernels/local-missing' "$UCVM_CACHE"; return; }
  printf '%s/kernels/local-%s' "$UCVM_CACHE" "$(printf '%s' "$src" | sha256sum | cut -c1-12)"
}

prepare_local_kernel() {
  local src dest
  src=$(cd "$1" 2>/dev/null && pwd -P) || die "kernel directory $1 does not exist"
  dest=$(local_kernel_dir "$src")
  # Re-prepare when anything in the source tree is newer than the prepared copy.
  if kernel_ready "$dest" && [ -z "$(find "$src" -newer "$dest/.complete" -print -quit 2>/dev/null)" ]; then
    return 0
  fi
  say "kernel $src: preparing into $dest"
  prepare_kernel "$src" "$dest" "spec=$src" "suite=local" "version=local" "packages=$src"
}

# prepare_kernel SRC DEST KEY=VALUE...: from an unpacked kernel tree, keep what the VM needs:
#   vmlinuz, vmlinux (uncompressed ELF: QEMU boots it directly via PVH, ~1 s faster under TCG),
#   config, release, info, modules/*.ko (decompressed: busybox insmod cannot read .ko.xz),
#   modules.boot and modules.load (load order, dependencies first).
prepare_kernel() {
  local src=$1 dest=$2; shift 2
  local moddir release vmlinuz config tmp d
  moddir=""
  for d in "$src"/usr/lib/modules/*/kernel "$src"/lib/modules/*/kernel; do
    [ -d "$d" ] && { moddir=${d%/kernel}; break; }
  done
  [ -n "$moddir" ] || die "no lib/modules/<release>/kernel under $src"
  release=$(basename "$moddir")
  for vmlinuz in "$moddir/vmlinuz.unsigned" "$moddir/vmlinuz" "$src/boot/vmlinuz-$release" "$src/boot/vmlinuz"; do
    [ -f "$vmlinuz" ] && break
  done
  [ -f "$vmlinuz" ] || die "no vmlinuz for $release under $src"
  for config in "$moddir/config" "$src/boot/config-$release" "$src/boot/config" ""; do
    [ -z "$config" ] || [ -f "$config" ] && break
  done

  tmp="$dest.new.$$"
  rm -rf "$tmp" && mkdir -p "$tmp/modules"
  cp "$vmlinuz" "$tmp/vmlinuz"
  [ -n "$config" ] && cp "$config" "$tmp/config"
  printf '%s\n' "$release" > "$tmp/release"
  { printf '%s\n' "$@"; printf 'release=%s\nprepared=%s\n' "$release" "$(date -u +%Y-%m-%dT%H:%MZ)"; } > "$tmp/info"
  select_modules "$moddir" "$tmp"
  extract_vmlinux "$tmp/vmlinuz" "$tmp/vmlinux" || rm -f "$tmp/vmlinux"
  prep_stamp > "$tmp/.complete"
  rm -rf "$dest" && mv "$tmp" "$dest"
}

# Resolve the modules of modules.list plus their dependencies (.modinfo depends= and softdep pre:)
# without depmod: Debian ships no modules.dep, and the host may have no kmod.
select_modules() {  # MODDIR DEST
  local moddir=$1 dest=$2 f n name stage
  declare -A path_of=() seen=()
  local order=()
  while IFS= read -r f; do
    n=${f##*/}; n=${n%%.ko*}; path_of[${n//-/_}]=$f
  done < <(find "$moddir/kernel" -name '*.ko*')

  add_module() {  # add_module NAME REQUIRED(0|1)
    local m=${1//-/_} f ko dep deps
    [ -n "${seen[$m]:-}" ] && return 0
    seen[$m]=1
    f=${path_of[$m]:-}
    if [ -z "$f" ]; then
      grep -qE "/${m//_/[-_]}\.ko" "$moddir/modules.builtin" 2>/dev/null && return 0  # built in
      [ "$2" = 1 ] && die "module $m is needed but not in kernel $(basename "$moddir")"
      [ "$2" = 0 ] && say "  module $m: not in this kernel, skipped"
      return 0
    fi
    ko="$dest/modules/$m.ko"
    case $f in
      *.xz) xz -dc "$f" > "$ko" ;; *.zst) zstd -qdc "$f" > "$ko" ;; *.gz) gzip -dc "$f" > "$ko" ;;
      *) cp "$f" "$ko" ;;
    esac
    deps=$(objcopy -O binary --only-section=.modinfo "$ko" /dev/stdout 2>/dev/null | tr '\0' '\n' |
           sed -n -e 's/^depends=//p' -e 's/^softdep=.*pre: *\([^:]*\)\( post:.*\)\{0,1\}$/\1/p' | tr ',' '\n')
    for dep in $deps; do
      # softdeps name aliases or optional helpers: best effort (2 = silent if absent)
      add_module "$dep" 2
    done
    order+=("$m")
  }

  : > "$dest/modules.boot"
  while read -r name stage _; do
    [[ -z $name || $name == \#* ]] && continue
    order=()
    add_module "$name" "$([ "$stage" = boot ] && echo 1 || echo 0)"
    if [ "$stage" = boot ]; then
      printf '%s\n' "${order[@]}" >> "$dest/modules.boot"
    else
      [ ${#order[@]} -gt 0 ] && printf '%s\n' "${order[@]}" >> "$dest/modules.load"
    fi
  done < "$UCVM_LIBDIR/modules.list"
  touch "$dest/modules.load"
}

# The bzImage's payload is the compressed vmlinux ELF; its offset and length are in the boot
# protocol header (setup_sects at 0x1f1, payload_offset/payload_length at 0x248/0x24c).
extract_vmlinux() {  # BZIMAGE OUT
  local bz=$1 out=$2 setup off len magic
  setup=$(od -An -tu1 -j $((0x1f1)) -N1 "$bz" | tr -d ' ')
  [ "$setup" = 0 ] && setup=4
  off=$(od -An -tu4 -j $((0x248)) -N4 "$bz" | tr -d ' ')
  len=$(od -An -tu4 -j $((0x24c)) -N4 "$bz" | tr -d ' ')
  [ -n "$off" ] && [ -n "$len" ] && [ "$len" -gt 0 ] || return 1
  off=$(( (setup + 1) * 512 + off ))
  magic=$(od -An -tx1 -j "$off" -N4 "$bz" | tr -d ' ')
  local decomp
  case $magic in
    28b52ffd) decomp="zstd -qdc" ;;
    fd377a58) decomp="xz -dc" ;;
    1f8b*)    decomp="gzip -dc" ;;
    *) return 1 ;;   # lz4/lzo/bzip2 kernels: boot the bzImage instead
  esac
  have "${decomp%% *}" || return 1
  # xz and gzip complain about the padding after the stream; the ELF check below is what counts.
  tail -c +$((off + 1)) "$bz" | head -c "$len" | $decomp > "$out" 2>/dev/null || true
  # QEMU boots an ELF kernel only through its PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY = 18).
  LC_ALL=C readelf -n "$out" 2>/dev/null | grep -qE 'Xen[[:space:]].*0x00000012' || return 1
}
