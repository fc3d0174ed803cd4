#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# User-space instructions per op, uringcmd vs baseline, from callgrind (deterministic: immune to
# machine noise; kernel work is invisible to it). Ir/op = (Ir(N2) - Ir(N1)) / (N2 - N1), which
# cancels start-up and ring setup.
#
#   benchmarks/callgrind_ops.sh [BENCH_BINARY] [NAME...]
#   e.g. benchmarks/callgrind_ops.sh build/release/benchmarks/uringcmd-bench nop/d32 sock_siocinq/d32
set -euo pipefail
bin=${1:-build/release/benchmarks/uringcmd-bench}
shift || true
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(nop/d1 nop/d32 nop/d128 nop_nested/d32 sock_siocinq/d1 sock_siocinq/d32)
n1=${N1:-100000}
n2=${N2:-300000}
command -v valgrind >/dev/null || { echo "valgrind not found" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ir() {  # ir NAME SIDE N -> total Ir
  valgrind --tool=callgrind --callgrind-out-file="$tmp/out" "$bin" --only "$1/$2" --ops "$3" >/dev/null 2>"$tmp/log" ||
    { cat "$tmp/log" >&2; exit 1; }
  awk '/^summary:/ {print $2; exit}' "$tmp/out"
}

printf '%-18s %14s %14s %10s\n' benchmark "uringcmd Ir/op" "baseline Ir/op" "extra"
for name in "${names[@]}"; do
  u1=$(ir "$name" uringcmd "$n1"); u2=$(ir "$name" uringcmd "$n2")
  b1=$(ir "$name" baseline "$n1"); b2=$(ir "$name" baseline "$n2")
  awk -v n="$name" -v u1="$u1" -v u2="$u2" -v b1="$b1" -v b2="$b2" -v d="$((n2 - n1))" \
    'BEGIN { u = (u2 - u1) / d; b = (b2 - b1) / d; printf "%-18s %14.1f %14.1f %+10.1f\n", n, u, b, u - b }'
done
