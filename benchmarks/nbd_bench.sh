#!/usr/bin/env bash
# uringcmd-nbd vs nbdkit (file plugin) exporting the same file to the same client (fio's nbd
# engine, libnbd), interleaved: sequential 1 MiB and random 4 KiB reads and writes, over 1 and 4
# connections (iodepth 32 each). Prints MiB/s per server and the ratio (docs/benchmarks.md).
# Usage: benchmarks/nbd_bench.sh [path/to/uringcmd-nbd]
#   NBD_BENCH_DIR (default /dev/shm: the page cache, so the servers are measured, not the disk),
#   NBD_BENCH_SIZE (default 512M), NBD_BENCH_RUNTIME (seconds per run, default 3),
#   NBD_BENCH_THREADS (uringcmd-nbd --threads, default 2).
set -euo pipefail
server=${1:-build/release/src/uringcmd-nbd}
dir=${NBD_BENCH_DIR:-/dev/shm}
size=${NBD_BENCH_SIZE:-512M}
runtime=${NBD_BENCH_RUNTIME:-3}
threads=${NBD_BENCH_THREADS:-2}
for tool in fio nbdkit python3; do
  command -v "$tool" >/dev/null || { echo "nbd_bench: $tool not installed (scripts/setup-deps)" >&2; exit 1; }
done
[[ -x $server ]] || { echo "nbd_bench: no $server (build the release preset)" >&2; exit 1; }

file=$(mktemp -p "$dir" nbd-bench-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -f "$file"
}
trap cleanup EXIT
head -c "$size" /dev/urandom >"$file"

ours=10821 theirs=10822
"$server" --port $ours --threads "$threads" "$file" 2>/dev/null &
pids+=($!)
nbdkit --foreground --port $theirs file "$file" &
pids+=($!)
sleep 1

# KiB/s of read + write, summed over the jobs (one NBD connection each, each on its own slice).
bytes=$(numfmt --from=iec "$size")
run_fio() {  # uri rw bs jobs
  local uri=$1 rw=$2 bs=$3 jobs=$4
  fio --name=nbd --ioengine=nbd --uri="$uri" --rw="$rw" --bs="$bs" --iodepth=32 --numjobs="$jobs" \
      --size=$((bytes / jobs)) --offset_increment=$((bytes / jobs)) --time_based --runtime="$runtime" \
      --group_reporting --output-format=json 2>/dev/null |
    python3 -c 'import json,sys; t=sys.stdin.read(); j=json.loads(t[t.index("{"):])["jobs"][0]; print(j["read"]["bw"] + j["write"]["bw"])'
}

printf '%-10s %-5s %-5s %14s %14s %8s\n' workload bs conns "uringcmd-nbd" nbdkit ratio
for wl in "read 1M" "randread 4k" "write 1M" "randwrite 4k"; do
  read -r rw bs <<<"$wl"
  for jobs in 1 4; do
    a=$(run_fio "nbd://127.0.0.1:$ours/" "$rw" "$bs" "$jobs")
    b=$(run_fio "nbd://127.0.0.1:$theirs/" "$rw" "$bs" "$jobs")
    python3 -c "import sys; a,b=$a,$b; print('%-10s %-5s %-5s %9.0f MiB/s %9.0f MiB/s %7.2fx' % ('$rw','$bs','$jobs',a/1024,b/1024,a/b))"
  done
done
