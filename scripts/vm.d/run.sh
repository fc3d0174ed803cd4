# shellcheck shell=bash
# `scripts/vm run` and `scripts/vm shell`: boot the guest, run one command in it, return its status.
#
# Channels between host and guest:
#   ttyS0 -> serial log (kernel console, init messages)     ttyS1 -> our stdout (the command's stdout)
#   ttyS2 -> our stderr (the command's stderr)               9p "ucvm" -> a per-run temp dir with
#   9p "hostroot" -> the host's "/" (read-only)                config, env.sh, cmd.sh, and rc (exit status)

# Variables of the caller's environment that reach the command in the guest.  Everything else is
# dropped, so that a test sees the same environment on every machine.  Add more with --env NAME or
# UC_VM_ENV="NAME1 NAME2".
UCVM_ENV_PATTERNS=(PATH HOME USER LOGNAME TERM TZ LANG LANGUAGE 'LC_*' CI 'UC_*' 'CTEST_*'
                   'DOCTEST_*' 'GTEST_*' ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS TSAN_OPTIONS MSAN_OPTIONS
                   LD_LIBRARY_PATH)

run_usage() {
  cat <<'EOF'
usage: scripts/vm run [OPTIONS] -- CMD [ARG...]
       scripts/vm shell [OPTIONS]

Boot the test VM (QEMU, Debian kernel from the cache) and run CMD in it, as root, in the current
directory.  The guest's root filesystem is the host's own "/" (read-only over 9p, with a tmpfs
overlay: writes succeed but are discarded at power-off), so the build tree and host tools (fio,
sg3-utils, nvme-cli, e2fsprogs) work unchanged.  CMD's stdout/stderr are ours; its exit status is
ours.  `shell` gives an interactive bash in the guest instead (Ctrl-A X quits QEMU).

Guest devices: /dev/sda + /dev/sg0 + /dev/bsg/0:0:0:0 (virtio-scsi disk, 64 MiB, fresh per run),
/dev/sdb + /dev/sg1 + /dev/bsg/1:0:0:0 (scsi_debug), /dev/nvme0 (QEMU NVMe controller) with three
64 MiB namespaces, /dev/nvme0nN + /dev/ng0nN: nsid 1 (512-byte LBAs), 2 (4096), 3 (512 + 8 bytes of
separate metadata); which N is which nsid varies by boot, /dev/ublk-control, /dev/loop-control.  The run waits for them (bounded) before CMD starts.

Options:
  --kernel SPEC        sid (default, or $UC_VM_KERNEL), trixie-backports, trixie, bookworm, any
                       other fetched suite, or a directory with an unpacked kernel (see --help of fetch)
  --scsi-debug ARGS    scsi_debug module parameters (default "dev_size_mb=64"); "none" = not loaded
  --param MOD.KEY=VAL  extra module parameter, e.g. --param nvme.poll_queues=1 (repeatable)
  --timeout SECONDS    whole run, boot included (default 300, or $UC_VM_TIMEOUT)
  --mem SIZE           guest memory (default 2G)       --smp N   guest CPUs (default 2)
  --share DIR          mount host DIR read-write at the same path in the guest (repeatable);
                       everything else written in the guest is discarded
  --env NAME[=VALUE]   pass NAME (or set it) in the guest (repeatable); see "Environment" below
  --keep-log FILE      always copy the serial log (kernel console) to FILE
  --append ARGS        extra kernel command line
  --wait SECONDS       how long to wait for the device nodes (default 20)
  -v, --verbose        also print the serial console on stderr while the guest runs

Environment passed to CMD: PATH HOME USER LOGNAME TERM TZ LANG LANGUAGE LC_* CI UC_* CTEST_* DOCTEST_*
GTEST_* *SAN_OPTIONS LD_LIBRARY_PATH, and UC_VM_GUEST=1.

Exit status: CMD's own, or
   77  a prerequisite is missing (QEMU, busybox, the kernel): skipped.  With CI=true or
       UC_VM_REQUIRED=1 this is an error (125) instead
  123  the guest kernel panicked / oopsed, or QEMU died (serial log kept, path printed)
  124  timeout; 10 s before it, the guest logs the kernel stacks of CMD's processes and kills
       them (serial log kept, path printed)
  125  the harness failed (usage, guest set-up)
EOF
}

run_vm() {  # run_vm INTERACTIVE(0|1) ARGS...
  local interactive=$1; shift
  local kernel=$UCVM_DEFAULT_KERNEL scsi_debug="dev_size_mb=64" timeout=${UC_VM_TIMEOUT:-300}
  local mem=${UC_VM_MEM:-2G} smp=${UC_VM_SMP:-2} keep_log="" append="" wait_s=20 verbose=0
  local shares=() envs=() params=()
  while [ $# -gt 0 ]; do
    case $1 in
      --kernel) kernel=${2:?--kernel needs a SPEC}; shift 2 ;;
      --scsi-debug) scsi_debug=${2?--scsi-debug needs ARGS}; shift 2 ;;
      --param) params+=("${2:?--param needs MOD.KEY=VALUE}"); shift 2 ;;
      --timeout) timeout=${2:?--timeout needs SECONDS}; shift 2 ;;
      --mem) mem=${2:?--mem needs a SIZE}; shift 2 ;;
      --smp) smp=${2:?--smp needs N}; shift 2 ;;
      --share) shares+=("${2:?--share needs a DIR}"); shift 2 ;;
      --env) envs+=("${2:?--env needs NAME[=VALUE]}"); shift 2 ;;
      --keep-log) keep_log=${2:?--keep-log needs a FILE}; shift 2 ;;
      --append) append=${2?--append needs ARGS}; shift 2 ;;
      --wait) wait_s=${2:?--wait needs SECONDS}; shift 2 ;;
      -v|--verbose) verbose=1; shift ;;
      -h|--help) run_usage; exit 0 ;;
      --) shift; break ;;
      -*) run_usage >&2; die "unknown option $1" ;;
      *) break ;;
    esac
  done
  [ "$interactive" = 1 ] || [ $# -gt 0 ] || { run_usage >&2; die "no command given (scripts/vm run -- CMD ...)"; }
  [[ $timeout =~ ^[0-9]+$ ]] || die "--timeout must be a number of seconds"
  [[ $scsi_debug =~ ^[A-Za-z0-9_=,.:\ -]*$ ]] || die "--scsi-debug: unexpected characters in '$scsi_debug'"

  local qemu kdir initrd boot
  qemu=$(find_qemu) || missing "qemu-system-x86_64 not found: run 'scripts/vm fetch' (installs qemu-system-x86)"
  find_busybox >/dev/null || missing "no static busybox: run 'scripts/vm fetch' (installs busybox-static)"
  kdir=$(cached_kernel "$kernel")
  initrd=$(ensure_initramfs "$kdir") || die "could not build the initramfs for $kdir"
  boot="$kdir/vmlinuz"
  [ "${UC_VM_PVH:-1}" = 1 ] && [ -f "$kdir/vmlinux" ] && boot="$kdir/vmlinux"

  # The run's work dir: share (config, env, command; rc and dmesg come back), disks, serial FIFOs.
  UCVM_WORK=$(mktemp -d "${TMPDIR:-/tmp}/uc-vm.XXXXXX")
  local work=$UCVM_WORK share=$UCVM_WORK/share
  trap 'run_cleanup' EXIT
  trap 'run_interrupted 130' INT
  trap 'run_interrupted 143' TERM
  trap 'run_interrupted 129' HUP
  mkdir -p "$share"
  write_guest_config "$share/config" "$interactive" "$scsi_debug" "$wait_s" "$timeout" "${params[@]}" -- "${shares[@]}"
  write_guest_env "$share/env.sh" "${envs[@]}"
  write_guest_cmd "$share/cmd.sh" "$interactive" "$@"

  # shellcheck disable=SC2054  # QEMU's sub-options are comma-separated
  local args=(
    -machine q35 -accel tcg,thread=multi -cpu max -smp "$smp" -m "$mem"
    -nodefaults -no-user-config -display none -no-reboot
    -kernel "$boot" -initrd "$initrd"
    -append "console=ttyS0 panic=-1 oops=panic loglevel=4 $append"
    -fsdev local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap
    -device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot
    -fsdev "local,id=ucvm,path=$share,security_model=none,multidevs=remap"
    -device virtio-9p-pci,fsdev=ucvm,mount_tag=ucvm
    -device virtio-scsi-pci,id=scsi0
    -drive "file=$work/scsi0.img,format=raw,if=none,id=sd0,cache=unsafe"
    -device scsi-hd,drive=sd0,bus=scsi0.0,channel=0,scsi-id=0,lun=0
    -device nvme,id=nvme0,serial=UCVM0001
    -drive "file=$work/nvme0.img,format=raw,if=none,id=nv0,cache=unsafe,discard=unmap"
    -device nvme-ns,drive=nv0,bus=nvme0,nsid=1
    -drive "file=$work/nvme1.img,format=raw,if=none,id=nv1,cache=unsafe,discard=unmap"
    -device nvme-ns,drive=nv1,bus=nvme0,nsid=2,logical_block_size=4096,physical_block_size=4096
    -drive "file=$work/nvme2.img,format=raw,if=none,id=nv2,cache=unsafe,discard=unmap"
    -device nvme-ns,drive=nv2,bus=nvme0,nsid=3,ms=8
  )
  local i=0 s
  for s in "${shares[@]}"; do
    args+=(-fsdev "local,id=share$i,path=$(cd "$s" && pwd -P),security_model=none,multidevs=remap"
           -device "virtio-9p-pci,fsdev=share$i,mount_tag=share$i")
    i=$((i + 1))
  done

  local t0 qrc rc attempt
  # A guest kernel that crashes while booting, before the command started, is a QEMU TCG flake
  # (seen: an int3 oops in patched kernel text under multi-threaded TCG), not a test result: it
  # is reported, its serial log kept, and the VM booted again, up to three boots in all (CI boots
  # the VM about 30 times; two crashed boots in a row were seen once in ~150 boots). A crash once
  # the command has started is always the verdict.
  for attempt in 1 2 3; do
    qrc=0
    rm -f "$work/scsi0.img" "$work"/nvme?.img "$share/rc" "$share/dmesg" "$share/timed-out" "$work/serial.log"
    truncate -s 64M "$work/scsi0.img" "$work/nvme0.img" "$work/nvme1.img" "$work/nvme2.img"   # sparse: costs nothing until written
    t0=$(now)
    if [ "$interactive" = 1 ]; then
      "$qemu" "${args[@]}" -serial mon:stdio -serial null -serial null || qrc=$?
    else
      rm -f "$work/console" "$work/out" "$work/err"
      mkfifo "$work/console" "$work/out" "$work/err"
      start_relays "$verbose"
      # timeout(1) is the backstop for a hung guest; a panic ends QEMU at once (panic=-1 + -no-reboot).
      timeout -k 5 "$timeout" "$qemu" "${args[@]}" \
        -chardev "file,id=con,path=$work/console" -serial chardev:con \
        -chardev "file,id=out,path=$work/out" -serial chardev:out \
        -chardev "file,id=err,path=$work/err" -serial chardev:err < /dev/null &
      UCVM_QEMU_PID=$!
      wait "$UCVM_QEMU_PID" || qrc=$?
      UCVM_QEMU_PID=
      stop_relays
    fi
    [ "$verbose" = 1 ] && say "VM run took $(since "$t0") s"
    rc=$(run_verdict "$qrc" "$timeout" "$(since "$t0")")
    if [ "$interactive" = 0 ] && [ "$attempt" -lt 3 ] && [ "$rc" = "$UCVM_EXIT_CRASH" ] &&
       ! grep -q 'uc-vm-init: command start' "$work/serial.log" 2>/dev/null; then
      keep_serial_log "$rc" ""
      say "the guest kernel crashed while booting, before the command started: booting again"
      continue
    fi
    break
  done
  keep_serial_log "$rc" "$keep_log"
  return "$rc"
}

# cached_kernel SPEC -> the prepared kernel directory, or a skip (77; an error in CI) when missing.
cached_kernel() {
  local spec=$1 kdir
  if [[ $spec == */* || $spec == .* ]]; then
    [ -d "$spec" ] || missing "kernel directory $spec does not exist"
    (cache_lock && prepare_local_kernel "$spec") >&2
  fi
  kdir=$(kernel_dir_for "$spec")
  if ! kernel_ready "$kdir"; then
    [ -e "$kdir/release" ] && missing "the cached kernel '$spec' is outdated (scripts/vm.d/modules.list" \
                                      "changed): run 'scripts/vm fetch --kernel $spec'"
    missing "kernel '$spec' is not in the cache $UCVM_CACHE: run 'scripts/vm fetch --kernel $spec'"
  fi
  printf '%s\n' "$kdir"
}

write_guest_config() {  # FILE INTERACTIVE SCSI_DEBUG WAIT TIMEOUT PARAM... -- SHARE...
  local f=$1 interactive=$2 scsi_debug=$3 wait_s=$4 timeout=$5 p mod i=0 s margin
  shift 5
  # The guest's watchdog fires this much before the host's timeout (guest uptime ~ host time since
  # QEMU started), leaving time to dump stacks and power off.
  margin=$(( timeout >= 40 ? 10 : timeout / 4 ))
  {
    echo "# written by scripts/vm on the host, sourced by the guest's /init"
    echo "UCVM_INTERACTIVE=$interactive"
    echo "UCVM_DEADLINE=$(( interactive == 1 ? 0 : timeout - margin ))"
    echo "UCVM_TERM='${TERM:-linux}'"
    echo "UCVM_WAIT_S=$wait_s"
    if [ "$scsi_debug" = none ]; then echo "UCVM_NO_MODULES='scsi_debug'"
    else echo "UCVM_PARAMS_scsi_debug='$scsi_debug'"; fi
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
      p=$1; shift
      [[ $p =~ ^([A-Za-z0-9_]+)\.([A-Za-z0-9_]+=[A-Za-z0-9_,.:-]*)$ ]] || die "--param $p: expected MOD.KEY=VALUE"
      mod=${BASH_REMATCH[1]//-/_}
      echo "UCVM_PARAMS_$mod=\"\${UCVM_PARAMS_$mod:-} ${BASH_REMATCH[2]}\""
    done
    [ "${1:-}" = -- ] && shift
    printf 'UCVM_SHARES="'
    for s in "$@"; do
      [ -d "$s" ] || die "--share $s: not a directory"
      s=$(cd "$s" && pwd -P)
      [[ $s =~ ^[A-Za-z0-9_/.,+@-]+$ ]] || die "--share $s: only plain path names are supported"
      printf 'share%d=%s ' "$i" "$s"; i=$((i + 1))
    done
    printf '"\n'
  } > "$f"
}

write_guest_env() {  # FILE EXTRA...  (EXTRA: NAME or NAME=VALUE)
  local f=$1 name pat e; shift
  {
    echo "# environment of the command in the guest (written by scripts/vm)"
    for name in $(compgen -e); do
      for pat in "${UCVM_ENV_PATTERNS[@]}" ${UC_VM_ENV:-}; do
        # shellcheck disable=SC2053  # glob match on purpose
        [[ $name == $pat ]] && { printf 'export %s=%q\n' "$name" "${!name}"; break; }
      done
    done
    for e in "$@"; do
      if [[ $e == *=* ]]; then printf 'export %s=%q\n' "${e%%=*}" "${e#*=}"
      elif [ -n "${!e+x}" ]; then printf 'export %s=%q\n' "$e" "${!e}"
      fi
    done
    echo "export UC_VM_GUEST=1"
  } > "$f"
}

write_guest_cmd() {  # FILE INTERACTIVE CMD...
  local f=$1 interactive=$2; shift 2
  {
    echo "# the command, run by /bin/bash in the guest (written by scripts/vm)"
    echo ". /run/uc-vm/env.sh"
    printf 'cd -- %q 2>/dev/null || { echo "uc-vm (guest): directory %q is not visible in the guest" >&2; exit 125; }\n' \
      "$PWD" "$PWD"
    if [ "$interactive" = 1 ]; then
      # shellcheck disable=SC2016  # $(uname -r) is for the guest's shell to expand
      echo 'echo "uc-vm: interactive shell in the guest ($(uname -r)); exit or Ctrl-A X to leave"'
      echo 'exec /bin/bash -i'
    else
      printf 'exec'; printf ' %q' "$@"; printf '\n'
    fi
  } > "$f"
}

# Relays from the FIFOs that QEMU's serial ports write into.  They are started first: QEMU's
# open of a FIFO blocks until its reader is there.
start_relays() {  # VERBOSE
  local w=$UCVM_WORK
  cat "$w/out" & UCVM_RELAYS=$!
  cat "$w/err" >&2 & UCVM_RELAYS+=" $!"
  # Line-buffered, so that `tail -f $UCVM_WORK/serial.log` follows a long run.
  if [ "$1" = 1 ]; then
    stdbuf -oL tr -d '\r' < "$w/console" | tee "$w/serial.log" | sed -u 's/^/[guest] /' >&2 &
  else
    stdbuf -oL tr -d '\r' < "$w/console" > "$w/serial.log" &
  fi
  UCVM_RELAYS+=" $!"
}

stop_relays() {
  local f fd
  # If QEMU died before opening a FIFO, its relay still waits in open(): an O_RDWR open never
  # blocks, gives the relay a writer, and closing it again gives the relay its EOF.
  for f in out err console; do
    exec {fd}<>"$UCVM_WORK/$f"
    exec {fd}>&-
  done
  # shellcheck disable=SC2086
  wait $UCVM_RELAYS 2>/dev/null || true
  UCVM_RELAYS=
}

run_interrupted() {  # STATUS
  if [ -n "${UCVM_QEMU_PID:-}" ]; then
    # timeout(1) passes the signal on to QEMU; give QEMU a moment to exit by itself.
    kill -TERM "$UCVM_QEMU_PID" 2>/dev/null
    wait "$UCVM_QEMU_PID" 2>/dev/null
    UCVM_QEMU_PID=
  fi
  say "interrupted"
  exit "$1"
}

run_cleanup() {
  [ -n "${UCVM_QEMU_PID:-}" ] && kill -KILL "$UCVM_QEMU_PID" 2>/dev/null
  [ -n "${UCVM_WORK:-}" ] && rm -rf "$UCVM_WORK"
}

# Exit status of the run, from the guest's rc file or, failing that, from how QEMU ended.
run_verdict() {  # QEMU_STATUS TIMEOUT ELAPSED -> prints the status
  local qrc=$1 timeout=$2 elapsed=$3 log=$UCVM_WORK/serial.log rc
  rc=$(cat "$UCVM_WORK/share/rc" 2>/dev/null || true)
  if [ -n "$rc" ]; then
    [ -f "$UCVM_WORK/share/timed-out" ] &&
      say "FAILED: timeout: the command did not finish within ${timeout}s (--timeout); the guest killed" \
          "it and logged where its processes were stuck (kernel stacks) in the serial log"
    # The console shows errors and worse only; the guest's dmesg has the warnings too.
    if cat "$log" "$UCVM_WORK/share/dmesg" 2>/dev/null | grep -qE 'Kernel panic|BUG:|Oops|WARNING: CPU'; then
      warn "the guest kernel logged a BUG/WARNING during the run (see the serial log):"
      cat "$log" "$UCVM_WORK/share/dmesg" 2>/dev/null | grep -E -m3 'BUG:|Oops|WARNING: CPU' | sed 's/^/  | /' >&2
      echo "$UCVM_EXIT_CRASH" > "$UCVM_WORK/kernel-trouble"
    fi
    echo "$rc"; return
  fi
  if grep -q 'Kernel panic' "$log" 2>/dev/null; then
    say "FAILED: the guest kernel panicked after ${elapsed}s:"
    sed -n '/\(BUG:\|Oops\|WARNING: CPU\|Kernel panic\)/,$p' "$log" | head -n 60 | sed 's/^/  | /' >&2
    echo "$UCVM_EXIT_CRASH"
  elif [ "$qrc" != 0 ] && ! grep -q 'uc-vm-init' "$log" 2>/dev/null && [ "$qrc" != 124 ] && [ "$qrc" != 137 ]; then
    say "FAILED: QEMU did not start the guest (status $qrc, its message is above)"
    echo "$UCVM_EXIT_SETUP"
  elif [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
    say "FAILED: timeout: the guest did not finish within ${timeout}s (--timeout). Last console lines:"
    tail -n 15 "$log" | sed 's/^/  | /' >&2
    echo "$UCVM_EXIT_TIMEOUT"
  else
    say "FAILED: QEMU ended (status $qrc) after ${elapsed}s without an exit status from the guest." \
        "Last console lines:"
    tail -n 15 "$log" 2>/dev/null | sed 's/^/  | /' >&2
    echo "$UCVM_EXIT_CRASH"
  fi
}

# The serial log (kernel console) is kept when asked for, and on any failure.
keep_serial_log() {  # STATUS KEEP_LOG_FILE
  local rc=$1 keep=$2 log=$UCVM_WORK/serial.log dest
  [ -s "$log" ] || [ -s "$UCVM_WORK/share/dmesg" ] || return 0
  if [ -s "$UCVM_WORK/share/dmesg" ]; then
    printf '\n----- full kernel log of the guest (dmesg, all levels) -----\n' >> "$log"
    cat "$UCVM_WORK/share/dmesg" >> "$log"
  fi
  if [ -n "$keep" ]; then
    mkdir -p "$(dirname "$keep")" && cp "$log" "$keep"
    if [ "$rc" != 0 ] || [ -f "$UCVM_WORK/kernel-trouble" ]; then say "serial log: $keep"; fi
    return 0
  fi
  [ "$rc" = 0 ] && [ ! -f "$UCVM_WORK/kernel-trouble" ] && return 0
  dest="${UC_VM_LOG_DIR:-$UCVM_CACHE/logs}/$(date +%Y%m%d-%H%M%S)-$$.log"
  mkdir -p "$(dirname "$dest")" && cp "$log" "$dest" && say "serial log: $dest"
  # keep the 50 newest
  # shellcheck disable=SC2012  # our own names (date-pid.log), and ls -t is the simple sort by age
  ls -1t "$(dirname "$dest")"/*.log 2>/dev/null | tail -n +51 | xargs -r rm -f
}
