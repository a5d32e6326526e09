#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Host side of scripts/bench: the guest's "BENCH" lines made into ratios.

  report.py --json OUT.json --markdown OUT.md [--previous OLD.json]
            [--machine TEXT] [--check] MODE=OUTPUT...

MODE is how the guest ran (icount: instruction counting, where guest time
is instructions and ratios repeat to a few tenths of a percent; tcg: plain
TCG, the same picture with the host's noise), OUTPUT the guest's output
with its BENCH lines. For every group, medium and workload: the median of
each device's figure (IOPS for 4k, bytes a second for larger blocks,
seconds for what a row gives as "seconds") and, per ABBA pair of rounds,
the device's figure over its baseline's (pair_ratios); their median,
minimum and maximum. A ratio of seconds is a cost: above 1 is slower.
BENCH-VALUE lines are single figures (bytes per remap), reported as they
are. Against --previous, the change of each median ratio is printed and
written. --check fails (exit 1) when a figure or value the guest
announced (BENCH-INFO's "figures" and "values") is missing, a figure is
not positive or a value is negative: the smoke run in CI.
"""
import argparse
import json
import math
import statistics
import sys

# What each group must reach against its baseline (issue 20); absent:
# reported only.
TARGETS = {"fastpath": 0.995, "remaps-miss": 0.97, "remaps-hit": 0.90, "scan": 0.95, "commit": 1.5}


def metric(row):
    if "seconds" in row:
        return "seconds"
    return "iops" if row["workload"].startswith("4k") else "bytes_per_s"


def parse(path):
    info, rows, values = {}, [], []
    with open(path) as f:
        for line in f:
            if line.startswith("BENCH-INFO "):
                info = json.loads(line[len("BENCH-INFO "):])
            elif line.startswith("BENCH-VALUE "):
                values.append(json.loads(line[len("BENCH-VALUE "):]))
            elif line.startswith("BENCH "):
                rows.append(json.loads(line[len("BENCH "):]))
    return info, rows, values


def pair_ratios(per_round, dev, base):
    """The device's figure over the baseline's, one per ABBA pair of rounds
    (1 and 2, 3 and 4, ...): the geometric mean of the pair's two ratios.
    The device runs second in one round and first in the other, so what
    running first costs cancels: 1M sequential runs were 7% slower in
    whichever place came first. A lone last round is left out; a single
    round (the smoke run) is its own ratio."""
    rounds = sorted(r for r, v in per_round.items() if dev in v and v.get(base))
    ratio = {r: per_round[r][dev] / per_round[r][base] for r in rounds}
    pairs = [(r, r + 1) for r in rounds if r % 2 == 1 and r + 1 in ratio]
    if not pairs:
        return list(ratio.values())
    return [math.sqrt(ratio[a] * ratio[b]) for a, b in pairs]


def figures(rows):
    """One figure per (group, medium, workload, device other than the baseline)."""
    by = {}
    for r in rows:
        by.setdefault((r["group"], r["medium"], r["workload"]), []).append(r)
    out = []
    for (group, medium, workload), rs in sorted(by.items()):
        m = metric(rs[0])
        base = rs[0]["baseline"]
        per_round = {}
        for r in rs:
            per_round.setdefault(r["round"], {})[r["device"]] = r[m]
        for dev in sorted({r["device"] for r in rs} - {base}):
            ratios = pair_ratios(per_round, dev, base)
            if not ratios:
                continue
            out.append({"group": group, "medium": medium, "workload": workload, "device": dev, "baseline": base,
                        "metric": m, "samples": len(ratios),
                        "baseline_median": statistics.median(v[base] for v in per_round.values() if base in v),
                        "device_median": statistics.median(v[dev] for v in per_round.values() if dev in v),
                        "ratio_median": statistics.median(ratios), "ratio_min": min(ratios),
                        "ratio_max": max(ratios), "target": TARGETS.get(group)})
    return out


def key(f):
    return f"{f['group']}/{f['medium']}/{f['workload']}/{f['device']}"


def fmt_value(v, m):
    if m == "seconds":
        return f"{v * 1000:,.1f} ms"
    return f"{v:,.0f} IOPS" if m == "iops" else f"{v / 2**20:,.1f} MiB/s"


def fmt_ratio(f):
    """Throughput as a share of the baseline's; a time as a multiple of it."""
    if f["metric"] == "seconds":
        return f"x{f['ratio_median']:.2f} (x{f['ratio_min']:.2f}-x{f['ratio_max']:.2f})"
    return f"{f['ratio_median']:.2%} ({f['ratio_min']:.2%}-{f['ratio_max']:.2%})"


def markdown(result):
    lines = [f"Machine: {result['machine']}", ""]
    for mode, run in result["runs"].items():
        lines += [f"### {mode}: kernel {run['info'].get('kernel', '?')}, {run['info'].get('rounds', '?')} rounds of "
                  f"{run['info'].get('runtime_s', '?')} s", "",
                  "| group | medium | workload | baseline | device | ratio median (min-max) | target | change |",
                  "|---|---|---|---|---|---|---|---|"]
        for f in run["figures"]:
            target = "-"
            if f["target"] is not None and f["metric"] == "seconds":
                target = f"at most x{f['target']:.2f} " + ("met" if f["ratio_median"] <= f["target"] else "**missed**")
            elif f["target"] is not None:
                target = f"{f['target']:.1%} " + ("met" if f["ratio_median"] >= f["target"] else "**missed**")
            change = f.get("change")
            lines.append(f"| {f['group']} | {f['medium']} | {f['workload']} | "
                         f"{fmt_value(f['baseline_median'], f['metric'])} {f['baseline']} | "
                         f"{fmt_value(f['device_median'], f['metric'])} {f['device']} | "
                         f"{fmt_ratio(f)} | {target} | "
                         f"{'-' if change is None else f'{change * 100:+.2f} pt'} |")
        lines.append("")
        if run.get("values"):
            lines += ["| group | medium | figure | value |", "|---|---|---|---|"]
            lines += [f"| {v['group']} | {v['medium']} | {v['name']} | {v['value']:,} {v['unit']} |"
                      for v in run["values"]]
            lines.append("")
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--json", required=True)
    p.add_argument("--markdown", required=True)
    p.add_argument("--previous")
    p.add_argument("--machine", default="")
    p.add_argument("--check", action="store_true")
    p.add_argument("outputs", nargs="+", metavar="MODE=OUTPUT")
    a = p.parse_args()
    previous = {}
    if a.previous:
        try:
            with open(a.previous) as f:
                old = json.load(f)
            previous = {(mode, key(f)): f["ratio_median"] for mode, run in old["runs"].items() for f in run["figures"]}
        except (OSError, ValueError, KeyError) as e:
            print(f"report.py: no previous result to compare with ({a.previous}: {e})", file=sys.stderr)
    result = {"machine": a.machine, "runs": {}}
    bad = []
    for spec in a.outputs:
        mode, _, path = spec.partition("=")
        info, rows, values = parse(path)
        figs = figures(rows)
        if len(figs) != info.get("figures", -1):
            bad.append(f"{mode}: {len(figs)} figures in {path}, the guest announced {info.get('figures')}")
        if len(values) != info.get("values", 0):
            bad.append(f"{mode}: {len(values)} values in {path}, the guest announced {info.get('values')}")
        bad += [f"{mode}: {v['group']}/{v['medium']}: {v['name']} is negative" for v in values if
                not v["value"] >= 0]
        for f in figs:
            if (mode, key(f)) in previous:
                f["change"] = f["ratio_median"] - previous[(mode, key(f))]
            if not (f["baseline_median"] > 0 and f["device_median"] > 0):
                bad.append(f"{mode}: {key(f)}: a figure is not positive")
        result["runs"][mode] = {"info": info, "figures": figs, "values": values}
    with open(a.json, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    text = markdown(result)
    with open(a.markdown, "w") as f:
        f.write(text + "\n")
    print(text)
    for mode, run in result["runs"].items():
        for f in run["figures"]:
            if "change" in f:
                print(f"{mode} {key(f)}: {f['ratio_median']:.2%}, {f['change'] * 100:+.2f} pt against the previous")
    if a.check and bad:
        for b in bad:
            print("FAIL: " + b, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
