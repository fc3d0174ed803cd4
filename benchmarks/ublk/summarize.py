#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""summarize.py OUTDIR - the tables of benchmarks/ublk/run from OUTDIR/<boot>/results.tsv
(variant, case, qd, rep, read IOPS, mean latency in us, device flags or mode, the server's user
and system CPU microseconds per I/O, and in newer runs fio's usr+sys CPU % and the server's
voluntary context switches per I/O).

Per config: the median IOPS of each variant over all boots with min-max and the sample count; the
ratio ours/kublk paired within each boot (median of that boot's samples / the same for kublk),
then the median over boots with min-max and the number of boots; an ASCII bar chart of the
medians; the server's CPU time per I/O; and how busy the client was."""
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
client = defaultdict(list)  # (case, qd, variant) -> [(fio usr+sys CPU %, server sleeps per I/O)]
flags = {}
boots = sorted(d for d in os.listdir(out) if os.path.isfile(os.path.join(out, d, "results.tsv")))
for b in boots:
    with open(os.path.join(out, b, "results.tsv")) as f:
        for line in f:
            v, c, qd, _rep, iops, _lat, fl, *rest = line.rstrip("\n").split("\t")
            usr_sys, pace = rest[:2], rest[2:]
            if iops == "ERR":
                continue
            samples[(c, int(qd), v)].append((float(iops), b))
            flags.setdefault(v, set()).add(fl)
            if len(usr_sys) == 2 and "ERR" not in usr_sys:
                cpu[(c, int(qd), v)].append(tuple(map(float, usr_sys)))
            if len(pace) == 2 and "ERR" not in pace:
                client[(c, int(qd), v)].append(tuple(map(float, pace)))

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


def pair_table(title, data, fmt):
    """One row per config, one cell per variant: fmt(median of the firsts, median of the seconds)."""
    print(title)
    print("| config | QD | " + " | ".join(present) + " |")
    print("|---|---:|" + "---:|" * len(present))
    for c, qd in configs:
        cells = []
        for v in present:
            xs = data.get((c, qd, v))
            cells.append(fmt(statistics.median(a for a, _ in xs), statistics.median(b for _, b in xs)) if xs else "–")
        print(f"| {SHAPE.get(c, c)} | {qd} | " + " | ".join(cells) + " |")


if cpu:
    pair_table("\nserver CPU time per I/O in microseconds, user + system, median over runs "
               "(/proc/PID/stat, all the server's threads; TCG: compare rows, not with hardware):\n",
               cpu, lambda u, s: f"{u:.1f} + {s:.1f}")
if client:
    pair_table("\nwho set the pace: fio's usr+sys CPU % (as its JSON reports it for the job group; near 100 "
               "on a 1-job case means the client, not the server, was the limit) / the server's sleeps "
               "(voluntary context switches, all threads) per I/O, medians over runs:\n",
               client, lambda p, w: f"{p:.0f} % / {w:.2f}")
