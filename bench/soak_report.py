#!/usr/bin/env python3
"""bench/soak_report.py RUN.jsonl [--warmup-min M] [--max-slope-kib K] [--max-p99-spread X]
[--summary-tag 'JSON FIELDS,']

Reads one soak run (bench/soak.sh writes it: "sample", "interval", "result" and "config" lines),
prints the verdict and its figures, appends one "summary" line to RUN.jsonl, and exits 0 (PASS)
or 1 (FAIL). Over the samples after the warm-up:

  RSS       every server process' RSS slope, least squares, in KiB/min, at most --max-slope-kib
            (also reported: its growth after the warm-up and over the whole run);
  loss      nothing lost, refused, dropped, duplicated or unrecovered by any load, and every load
            exited 0 (belfry-bench and belfry-soak-load check their own deliveries);
  p99       each interval's delivery p99 of the fan-out, many-channel and whisper loads at most
            --max-p99-spread x the median of that load's intervals (the reconnect load's latency
            includes replayed messages and is reported only).
"""
import argparse
import json
import os
import statistics
import sys


def slope_per_min(points):
    """Least-squares slope of (t_s, v) points, per minute."""
    n = len(points)
    if n < 2:
        return 0.0
    mt = sum(t for t, _ in points) / n
    mv = sum(v for _, v in points) / n
    den = sum((t - mt) ** 2 for t, _ in points)
    if den == 0:
        return 0.0
    return 60.0 * sum((t - mt) * (v - mv) for t, v in points) / den


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("--warmup-min", type=float, default=5)
    ap.add_argument("--max-slope-kib", type=float, default=128)
    ap.add_argument("--max-p99-spread", type=float, default=3)
    ap.add_argument("--summary-tag", default="")
    a = ap.parse_args()

    lines = [json.loads(x) for x in open(a.run) if x.strip()]
    samples = [x for x in lines if x.get("kind") == "sample"]
    intervals = [x for x in lines if x.get("kind") == "interval"]
    results = [x for x in lines if x.get("kind") == "result"]
    config = next((x for x in lines if x.get("kind") == "config"), {})
    warm_s = a.warmup_min * 60
    fails = []

    # ---- RSS and CPU per server process
    print("\n== soak: %s min at %s %% of the maximum (warm-up %.1f min excluded)"
          % (config.get("minutes"), config.get("pct"), a.warmup_min))
    procs = {}
    for s in samples:
        for p in s["servers"]:
            if p["rss_kib"] >= 0:
                procs.setdefault(p["name"], []).append((s["t_s"], p["rss_kib"], p["cpu_s"]))
    rss_out = []
    print("%-10s %10s %10s %12s %12s %12s %8s" % ("process", "rss start", "rss end", "slope KiB/min",
                                                   "after warm-up", "whole run", "cpu %"))
    for name, pts in sorted(procs.items()):
        post = [(t, r) for t, r, _ in pts if t >= warm_s]
        if len(post) < 3:
            fails.append("%s: fewer than 3 samples after the warm-up" % name)
            post = [(t, r) for t, r, _ in pts]
        sl = slope_per_min(post)
        growth_post = post[-1][1] - post[0][1] if post else 0
        growth_all = pts[-1][1] - pts[0][1]
        dt = pts[-1][0] - pts[0][0]
        cpu = 100.0 * (pts[-1][2] - pts[0][2]) / dt if dt > 0 else 0
        rss_out.append({"name": name, "rss_kib_first": pts[0][1], "rss_kib_last": pts[-1][1],
                        "slope_kib_per_min": round(sl, 1), "growth_after_warmup_kib": growth_post,
                        "growth_kib": growth_all, "cpu_pct": round(cpu, 1),
                        "samples_after_warmup": len(post)})
        flag = ""
        if sl > a.max_slope_kib:
            fails.append("%s: RSS slope %.1f KiB/min > %g" % (name, sl, a.max_slope_kib))
            flag = "  <-- FAIL"
        print("%-10s %10d %10d %12.1f %+12d %+12d %8.1f%s" % (name, pts[0][1], pts[-1][1], sl,
                                                              growth_post, growth_all, cpu, flag))
    if not procs:
        fails.append("no samples")
    # Redis' allocated memory and key count (reported only): RSS growth with flat used memory is
    # the allocator's, growth of both is data
    redis_used = [(x["t_s"], x["redis_used_kib"]) for x in samples
                  if x.get("redis_used_kib", -1) >= 0 and x["t_s"] >= warm_s]
    redis_keys = [x["redis_keys"] for x in samples
                  if x.get("redis_keys", -1) >= 0 and x["t_s"] >= warm_s]
    redis_info = {}
    if redis_used:
        redis_info = {"used_kib_first": redis_used[0][1], "used_kib_last": redis_used[-1][1],
                      "used_slope_kib_per_min": round(slope_per_min(redis_used), 1),
                      "keys_first": redis_keys[0] if redis_keys else -1,
                      "keys_last": redis_keys[-1] if redis_keys else -1}
        print("redis used_memory after the warm-up: %d -> %d KiB, slope %.1f KiB/min (reported "
              "only); keys %d -> %d" % (redis_used[0][1], redis_used[-1][1],
                                       redis_info["used_slope_kib_per_min"],
                                       redis_info["keys_first"], redis_info["keys_last"]))

    # ---- the machine's load average per interval (other processes' load shows here)
    load_by_min = {}
    for smp in samples:
        if "loadavg" in smp:
            load_by_min.setdefault(int(smp["t_s"] // 60), float(str(smp["loadavg"]).split()[0]))
    if load_by_min:
        print("\nload average (1 min) at the start of each minute: %s"
              % " ".join("%.1f" % v for _, v in sorted(load_by_min.items())))
    # CPU per minute, in % of one core: the Belfry servers, the load generators, everything else
    # on the machine (other builds and tests: this machine is shared)
    cpu_by_min = []
    by_min = {}
    for smp in samples:
        if "machine_busy_s" in smp:
            by_min.setdefault(int(smp["t_s"] // 60), smp)
    mins = sorted(by_min)
    for m0, m1 in zip(mins, mins[1:]):
        x, y = by_min[m0], by_min[m1]
        wall = (y["machine_total_s"] - x["machine_total_s"]) / max(1, os.cpu_count() or 1)
        if wall <= 0:
            continue
        srv = sum(q["cpu_s"] for q in y["servers"]) - sum(q["cpu_s"] for q in x["servers"])
        lds = y["loads_cpu_s"] - x["loads_cpu_s"]
        busy = y["machine_busy_s"] - x["machine_busy_s"]
        cpu_by_min.append({"minute": m0, "servers_pct": round(100 * srv / wall),
                           "loads_pct": round(100 * lds / wall),
                           "others_pct": round(100 * max(0.0, busy - srv - lds) / wall)})
    if cpu_by_min:
        print("CPU per minute, %% of one core, servers/load generators/other processes: %s"
              % " ".join("%d/%d/%d" % (c["servers_pct"], c["loads_pct"], c["others_pct"])
                         for c in cpu_by_min))

    # ---- latency per interval
    series = {}
    for x in intervals:
        key = x.get("label", x.get("load"))
        series.setdefault(key, []).append(x)
    lat_out = {}
    print("\nper-interval delivery latency (p50 / p99 ms) after the warm-up:")
    for key, xs in sorted(series.items()):
        step = xs[1]["t_s"] - xs[0]["t_s"] if len(xs) > 1 else xs[0]["t_s"]
        post = [x for x in xs if x["t_s"] - step >= warm_s - 1] or xs
        p99 = [x["latency_us"]["p99"] / 1e3 for x in post if x["latency_us"]["n"]]
        p50 = [x["latency_us"]["p50"] / 1e3 for x in post if x["latency_us"]["n"]]
        med = statistics.median(p99) if p99 else 0
        spread = max(p99) / med if med else 0
        per = []  # per interval: sent, delivered, refused (the lines' counts are cumulative)
        prev = {}
        for x in xs:
            per.append({k: x.get(src, 0) - prev.get(src, 0)
                        for k, src in (("sent", "sent"), ("delivered", "received"),
                                       ("refused", "pub_failed" if "pub_failed" in x else "refused"))})
            prev = x
        lat_out[key] = {"p99_ms": [round(v, 2) for v in p99], "p50_ms": [round(v, 2) for v in p50],
                        "p99_median_ms": round(med, 2), "p99_spread": round(spread, 2),
                        "counts_per_interval": per}
        checked = key != "reconnect"
        flag = ""
        if checked and p99 and spread > a.max_p99_spread:
            fails.append("%s: p99 spread %.2f > %g" % (key, spread, a.max_p99_spread))
            flag = "  <-- FAIL"
        if checked and not p99:
            fails.append("%s: no latency intervals" % key)
        print("  %-14s p99 %s  (median %.2f, max/median %.2f%s)%s"
              % (key, " ".join("%.1f" % v for v in p99), med, spread,
                 "" if checked else ", reported only", flag))
        print("  %-14s p50 %s" % ("", " ".join("%.1f" % v for v in p50)))
        print("  %-14s sent/delivered/refused per interval: %s" % (
            "", " ".join("%d/%d/%d" % (c["sent"], c["delivered"], c["refused"]) for c in per)))

    # ---- loss, per load, from the final RESULT lines
    print("\ncounts over the whole soak:")
    totals = {"sent": 0, "delivered": 0, "lost": 0, "refused": 0, "dropped": 0}
    loads = {}
    expected = {"fanout", "many", "presence", "load"}
    for r in results:
        name = r["load"]
        expected.discard(name)
        if r.get("exit", 0) != 0:
            fails.append("load %s exited with status %s" % (name, r.get("exit")))
        if name in ("fanout", "many"):
            d = {"sent": r["published"] + r["pub_failed"], "delivered": r["received"],
                 "lost": r["lost"], "refused": r["pub_failed"],
                 "dropped": r["closed_by_server"] + r["conn_errors"] + r["connect"]["failed"],
                 "misrouted": r["misrouted"], "reordered": r["reordered"],
                 "latency_us": r["latency_us"]}
        elif name == "presence":
            d = {"sent": r["cycles"], "delivered": r["joins_seen"] + r["leaves_seen"],
                 "lost": r["lost"], "refused": 0,
                 "dropped": r["users_dropped"] + r["connect"]["failed"]}
        else:
            d = {"sent": 0, "delivered": 0, "lost": 0, "refused": 0, "dropped": 0}
            for part in ("whisper", "reconnect"):
                p = r[part]
                d["sent"] += p["sent"]
                d["delivered"] += p["received"]
                d["lost"] += max(p["lost"], p["unaccounted"])  # a gap is also unaccounted
                d["refused"] += p["refused"]
                d["dropped"] += p["drops"] + p["recovery_failed"] + p["duplicates"]
            d["reconnects"] = r["reconnect"]["reconnects"]
            d["recovery_failed"] = r["reconnect"]["recovery_failed"]
        loads[name] = d
        for k in totals:
            totals[k] += d[k]
        print("  %-9s sent %9d  delivered %11d  lost %d  refused %d  dropped %d%s"
              % (name, d["sent"], d["delivered"], d["lost"], d["refused"], d["dropped"],
                 "  reconnects %d, failed recoveries %d" % (d["reconnects"], d["recovery_failed"])
                 if "reconnects" in d else ""))
    for name in sorted(expected):
        fails.append("load %s reported no result" % name)
    for k in ("lost", "refused", "dropped"):
        if totals[k]:
            fails.append("%s: %d" % (k, totals[k]))

    verdict = "FAIL" if fails else "PASS"
    print("\nthresholds: RSS slope <= %g KiB/min per process after %.1f min; lost = refused = "
          "dropped = 0; per-interval p99 <= %g x its median"
          % (a.max_slope_kib, a.warmup_min, a.max_p99_spread))
    print("verdict: %s%s" % (verdict, "".join("\n  - " + f for f in fails)))
    summary = {"kind": "summary", "verdict": verdict, "failures": fails,
               "thresholds": {"max_slope_kib_per_min": a.max_slope_kib,
                              "warmup_min": a.warmup_min, "max_p99_spread": a.max_p99_spread},
               "rss": rss_out, "redis_memory": redis_info, "latency": lat_out,
               "loadavg_per_min": [v for _, v in sorted(load_by_min.items())], "cpu_per_min": cpu_by_min, "totals": totals, "loads": loads}
    with open(a.run, "a") as f:
        f.write("{" + a.summary_tag + json.dumps(summary)[1:] + "\n")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
