#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""summarize.py OUTDIR - the tables of benchmarks/ublk/run from OUTDIR/<boot>/results.tsv
(variant, case, qd, rep, read IOPS, mean latency in us, device flags or mode, the server's user
and system CPU microseconds per I/O).

Per config: the median IOPS of each variant over all boots with min-max and the sample count; the
ratio ours/kublk paired within each boot (median of that boot's samples / the same for kublk),
then the median over boots with min-max and the number of boots; an ASCII bar chart of the
medians; and the server's CPU time per I/O."""
import os
import statistics
import sys
from collections import defaultdict

out = sys.argv[1]
VARIANTS = ["kublk", "kublk-best", "ours", "ours-best"]
PAIRS = [("ours", "kublk"), ("ours", "kublk-best"), ("ours-best", "kublk-best")]
SHAPE = {"null1": "null, 1 queue, 1 job", "null2": "null, 2 queues, 2 jobs", "loop": "loop (tmpfs file), 1 queue"}

samples = defaultdict(list)  # (case, qd, variant) -> [(iops, boot)]
cpu = defaultdict(list)  # (case, qd, variant) -> [(user us/IO, sys us/IO)]
flags = {}
boots = sorted(d for d in os.listdir(out) if os.path.isfile(os.path.join(out, d, "results.tsv")))
for b in boots:
    with open(os.path.join(out, b, "results.tsv")) as f:
        for line in f:
            v, c, qd, _rep, iops, _lat, fl, *usr_sys = line.rstrip("\n").split("\t")
            if iops == "ERR":
                continue
            samples[(c, int(qd), v)].append((float(iops), b))
            flags.setdefault(v, set()).add(fl)
            if len(usr_sys) == 2 and "ERR" not in usr_sys:
                cpu[(c, int(qd), v)].append(tuple(map(float, usr_sys)))

configs = sorted({(c, qd) for c, qd, _ in samples}, key=lambda k: (list(SHAPE).index(k[0]) if k[0] in SHAPE else 9, k[1]))
present = [v for v in VARIANTS if any(v == k[2] for k in samples)]
pairs = [p for p in PAIRS if p[0] in present and p[1] in present]


def k(x):
    return f"{x / 1000:.1f}k"


def paired(c, qd, a, ref):
    rs = []
    for b in boots:
        xa = [x for x, bb in samples[(c, qd, a)] if bb == b]
        xr = [x for x, bb in samples[(c, qd, ref)] if bb == b]
        if xa and xr:
            rs.append(statistics.median(xa) / statistics.median(xr))
    return rs


print(f"boots: {len(boots)} ({', '.join(boots)}); flags / mode: "
      + "; ".join(f"{v} {', '.join(sorted(flags[v]))}" for v in present if v in flags))
print()
print("| config | QD | " + " | ".join(present + [f"{a} / {r}" for a, r in pairs]) + " |")
print("|---|---:|" + "---:|" * (len(present) + len(pairs)))
for c, qd in configs:
    cells = []
    for v in present:
        xs = [x for x, _ in samples[(c, qd, v)]]
        cells.append(f"**{k(statistics.median(xs))}** ({k(min(xs))}–{k(max(xs))}) [{len(xs)}]" if xs else "–")
    for a, r in pairs:
        rs = paired(c, qd, a, r)
        cells.append(f"**{statistics.median(rs):.2f}** ({min(rs):.2f}–{max(rs):.2f}) [{len(rs)}]" if rs else "–")
    print(f"| {SHAPE.get(c, c)} | {qd} | " + " | ".join(cells) + " |")

print("\nmedian IOPS, each bar scaled to the largest median of its config:\n")
print("```")
width = 40
for c, qd in configs:
    meds = {v: statistics.median([x for x, _ in samples[(c, qd, v)]]) for v in present if samples[(c, qd, v)]}
    top = max(meds.values())
    print(f"{SHAPE.get(c, c)}, QD {qd}")
    for v, m in meds.items():
        print(f"  {v:<11} {'#' * max(1, round(width * m / top)):<{width}} {k(m)}")
print("```")

if cpu:
    print("\nserver CPU time per I/O in microseconds, user + system, median over runs "
          "(/proc/PID/stat, all the server's threads; TCG: compare rows, not with hardware):\n")
    print("| config | QD | " + " | ".join(present) + " |")
    print("|---|---:|" + "---:|" * len(present))
    for c, qd in configs:
        cells = []
        for v in present:
            xs = cpu.get((c, qd, v))
            cells.append(f"{statistics.median(u for u, _ in xs):.1f} + {statistics.median(s for _, s in xs):.1f}" if xs else "–")
        print(f"| {SHAPE.get(c, c)} | {qd} | " + " | ".join(cells) + " |")

