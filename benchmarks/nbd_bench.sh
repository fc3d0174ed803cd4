#!/usr/bin/env bash
# uringcmd-nbd vs nbdkit (file plugin) exporting the same file to the same client (fio's nbd
# engine, libnbd), interleaved: sequential 1 MiB and random 4 KiB reads and writes, over 1 and 4
# connections (iodepth 32 each). Prints MiB/s per server, the ratio, and each server's CPU time
# (utime + stime from /proc) per request, which a loaded host disturbs less than throughput
# (docs/benchmarks.md). With several rounds, the median of each.
# Usage: benchmarks/nbd_bench.sh [path/to/uringcmd-nbd]
#   NBD_BENCH_DIR (default /dev/shm: the page cache, so the servers are measured, not the disk),
#   NBD_BENCH_SIZE (default 512M), NBD_BENCH_RUNTIME (seconds per run, default 3),
#   NBD_BENCH_ROUNDS (default 1), NBD_BENCH_THREADS (uringcmd-nbd --threads; default: its own).
set -euo pipefail
server=${1:-build/release/src/uringcmd-nbd}
dir=${NBD_BENCH_DIR:-/dev/shm}
size=${NBD_BENCH_SIZE:-512M}
runtime=${NBD_BENCH_RUNTIME:-3}
rounds=${NBD_BENCH_ROUNDS:-1}
threads=()
[[ -n ${NBD_BENCH_THREADS:-} ]] && threads=(--threads "$NBD_BENCH_THREADS")
for tool in fio nbdkit python3; do
  command -v "$tool" >/dev/null || { echo "nbd_bench: $tool not installed (scripts/setup-deps)" >&2; exit 1; }
done
[[ -x $server ]] || { echo "nbd_bench: no $server (build the release preset)" >&2; exit 1; }

file=$(mktemp -p "$dir" nbd-bench-XXXXXX)
results=$(mktemp)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -f "$file" "$results"
}
trap cleanup EXIT
head -c "$size" /dev/urandom >"$file"

ours=10821 theirs=10822
"$server" --port $ours "${threads[@]}" "$file" 2>/dev/null &
pids+=($!)
nbdkit --foreground --port $theirs file "$file" &
pids+=($!)
sleep 1

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # utime + stime, every thread
# "KiB/s requests" of read + write, summed over the jobs (one NBD connection each, each on its own slice).
bytes=$(numfmt --from=iec "$size")
run_fio() {  # uri rw bs jobs
  local uri=$1 rw=$2 bs=$3 jobs=$4
  fio --name=nbd --ioengine=nbd --uri="$uri" --rw="$rw" --bs="$bs" --iodepth=32 --numjobs="$jobs" \
      --size=$((bytes / jobs)) --offset_increment=$((bytes / jobs)) --time_based --runtime="$runtime" \
      --group_reporting --output-format=json 2>/dev/null |
    python3 -c 'import json,sys; t=sys.stdin.read(); j=json.loads(t[t.index("{"):])["jobs"][0]; r,w=j["read"],j["write"]; print(r["bw"] + w["bw"], r["total_ios"] + w["total_ios"])'
}
measure() {  # server-pid uri rw bs jobs -> "KiB/s us-per-request"
  local before after bw ios
  before=$(cpu_ticks "$1")
  read -r bw ios < <(run_fio "$2" "$3" "$4" "$5")
  after=$(cpu_ticks "$1")
  python3 -c "print($bw, ($after - $before) * 1e6 / $(getconf CLK_TCK) / max($ios, 1))"
}

for ((round = 1; round <= rounds; round++)); do
  for wl in "read 1M" "randread 4k" "write 1M" "randwrite 4k"; do
    read -r rw bs <<<"$wl"
    for jobs in 1 4; do
      echo "$rw $bs $jobs $(measure "${pids[0]}" "nbd://127.0.0.1:$ours/" "$rw" "$bs" "$jobs")" \
        "$(measure "${pids[1]}" "nbd://127.0.0.1:$theirs/" "$rw" "$bs" "$jobs")" >>"$results"
    done
  done
done

echo "uringcmd-nbd ${threads[*]:-(default threads)}, $rounds round(s), load average $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$results" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    rw, bs, jobs, a, acpu, b, bcpu = line.split()
    rows.setdefault((rw, bs, jobs), []).append(tuple(map(float, (a, acpu, b, bcpu))))
print('%-10s %-5s %-5s %14s %14s %8s %15s %15s' % ('workload', 'bs', 'conns', 'uringcmd-nbd', 'nbdkit', 'ratio', 'us/req ours', 'us/req nbdkit'))
for (rw, bs, jobs), runs in rows.items():
    a, acpu, b, bcpu = (statistics.median(col) for col in zip(*runs))
    print('%-10s %-5s %-5s %9.0f MiB/s %9.0f MiB/s %7.2fx %15.1f %15.1f' % (rw, bs, jobs, a / 1024, b / 1024, a / b, acpu, bcpu))
EOF
