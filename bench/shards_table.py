#!/usr/bin/env python3
"""bench/shards_table.py RESULTS.jsonl... : scenario 10 (Redis Cluster shards) as a Markdown table.

Reads the RESULT lines bench/run.sh appended (bench/results/<date>[-<round>]-10-shards.jsonl) and
prints, per number of publisher connections and target, the median publishes/s with its range, the median of the same-run ratios to
belfry-redis (one redis-server) and to belfry-cluster1, and the CPU each process spent per
publish (medians): router, gateway, all Redis nodes together and the busiest node, with the
busiest node's share of the Redis total (1/N when the slots spread the channels evenly).
Quick runs are ignored.
"""
import json
import statistics
import sys

ORDER = ["belfry-redis", "belfry-cluster1", "belfry-cluster2", "belfry-cluster3", "nchan"]


def load(paths):
    runs = []
    for p in paths:
        with open(p) as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                d = json.loads(line)
                if d.get("scenario") == "10-shards" and not d.get("quick"):
                    runs.append(d)
    return runs


def per_publish(d):
    """µs of CPU per publish: router, gateway, Redis total, busiest Redis node, everything."""
    n = d.get("published") or 0
    if not n:
        return None
    cpu = {s["name"]: s["cpu_s"] for s in d.get("servers", [])}
    redis = [v for k, v in cpu.items() if k.startswith("redis")]
    us = lambda s: 1e6 * s / n  # noqa: E731
    return {
        "router": us(cpu.get("router", 0)),
        "gateway": us(sum(v for k, v in cpu.items() if k.startswith("gateway"))),
        "redis": us(sum(redis)),
        "redis_max": us(max(redis)) if redis else 0,
        "share": max(redis) / sum(redis) if redis and sum(redis) else 0,
        "all": us(sum(cpu.values())),
    }


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    runs = load(argv[1:])
    if not runs:
        print("shards_table: no scenario-10 results in " + " ".join(argv[1:]), file=sys.stderr)
        return 1
    for pubc in sorted({d.get("pub_conns", 0) for d in runs}, reverse=True):
        print(f"\n{pubc} publisher connections\n")
        table([d for d in runs if d.get("pub_conns", 0) == pubc])
    return 0


def table(runs):
    by_run = {}  # (date, run) -> target -> result: the same-run ratios
    for d in runs:
        by_run.setdefault((d["date"], d["run"]), {})[d["target"]] = d
    print("| target | runs | publishes/s (median, range) | / belfry-redis | / belfry-cluster1 "
          "| router µs/pub | gateway µs/pub | Redis µs/pub (all nodes) | busiest node µs/pub "
          "(share) | server µs/pub | lost | busy before % |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    targets = sorted({d["target"] for d in runs},
                     key=lambda t: ORDER.index(t) if t in ORDER else len(ORDER))
    for t in targets:
        rs = [d for d in runs if d["target"] == t]
        pps = [d["pub_per_s"] for d in rs]
        ratios = {}
        for base in ("belfry-redis", "belfry-cluster1"):
            ratios[base] = [g[t]["pub_per_s"] / g[base]["pub_per_s"] for g in by_run.values()
                            if t in g and base in g and g[base]["pub_per_s"]]
        cpu = [c for c in map(per_publish, rs) if c]
        col = lambda k: med([c[k] for c in cpu])  # noqa: E731
        ratio = lambda k: f"{med(ratios[k]):.2f} ×" if ratios[k] else "–"  # noqa: E731
        redis = f"{col('redis'):.1f}" if t != "nchan" else "–"
        busiest = f"{col('redis_max'):.1f} ({col('share'):.2f})" if t != "nchan" else "–"
        print(f"| {t} | {len(rs)} | {med(pps):,.0f} ({min(pps):,.0f}–{max(pps):,.0f}) "
              f"| {ratio('belfry-redis')} | {ratio('belfry-cluster1')} "
              f"| {col('router'):.1f} | {col('gateway'):.1f} | {redis} | {busiest} "
              f"| {col('all'):.1f} | {sum(d.get('lost', 0) for d in rs)} "
              f"| {', '.join(str(d.get('busy_before_pct', '?')) for d in rs)} |")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
