#!/usr/bin/env python3
"""Turns belfry-bench RESULT lines (bench/results/*.jsonl) into docs/benchmarks.png.

    python3 bench/plot.py [FILES...] [-o docs/benchmarks.png] [--markdown]

Without FILES it reads every bench/results/*.jsonl. Repeated runs of the same scenario and
target are reduced to their median. --markdown also prints the summary tables used in
docs/benchmarks.md (medians, run counts and Belfry/nchan ratios).

Needs matplotlib: if it is missing, Debian's python3-matplotlib is installed (apt-get) and the
script re-runs itself under /usr/bin/python3.
"""
import argparse
import glob
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def ensure_matplotlib():
    try:
        import matplotlib  # noqa: F401

        return
    except ImportError:
        pass
    if os.environ.get("BELFRY_PLOT_REEXEC"):
        sys.exit("plot.py: matplotlib is still missing after installing python3-matplotlib")
    if not os.path.exists("/usr/lib/python3/dist-packages/matplotlib"):
        print("plot.py: installing python3-matplotlib (Debian)", file=sys.stderr)
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        cmd = sudo + ["apt-get", "install", "-y", "-qq", "--no-install-recommends",
                      "python3-matplotlib"]
        if subprocess.call(cmd, env=env, stdout=subprocess.DEVNULL) != 0:
            subprocess.call(sudo + ["apt-get", "update", "-qq"], env=env)
            subprocess.check_call(cmd, env=env, stdout=subprocess.DEVNULL)
    os.environ["BELFRY_PLOT_REEXEC"] = "1"
    os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)


def load(files):
    rows = []
    for f in files:
        with open(f) as fh:
            for line in fh:
                line = line.strip()
                if line.startswith("RESULT "):
                    line = line[7:]
                if not line.startswith("{"):
                    continue
                d = json.loads(line)
                if d.get("quick"):
                    continue
                rows.append(d)
    return rows


def get(d, path):
    for k in path.split("."):
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def median_of(rows, scenario, target, path):
    sel = [r for r in rows if r["scenario"] == scenario and r["target"] == target]
    hist = path.split(".")[0]
    if hist.endswith("_us"):  # a run that delivered nothing has no latency to contribute
        sel = [r for r in sel if (get(r, hist + ".n") or 0) > 0]
    vals = [get(r, path) for r in sel]
    vals = [v for v in vals if isinstance(v, (int, float)) and v >= 0]
    return (statistics.median(vals), len(vals)) if vals else (None, 0)


def scenarios(rows, prefix):
    seen = []
    for r in rows:
        if r["scenario"].startswith(prefix) and r["scenario"] not in seen:
            seen.append(r["scenario"])
    return seen


def fmt(v, digits=1):
    if v is None:
        return "–"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{digits}f}"


TARGETS = ("belfry", "nchan", "floor")


def ratio(a, b):
    return "–" if a is None or b in (None, 0) else f"{a / b:.2f}"


def markdown(rows):
    out = []

    def table(title, header, lines):
        out.append(f"\n#### {title}\n")
        out.append("| " + " | ".join(header) + " |")
        out.append("|" + "|".join("---" for _ in header) + "|")
        out.extend("| " + " | ".join(str(c) for c in l) + " |" for l in lines)

    lines = []
    for s in scenarios(rows, "1-fanout") + scenarios(rows, "6-scaleout"):
        b = {k: median_of(rows, s, "belfry", k) for k in
             ("delivered_per_s", "server_cpu_us_per_msg", "bench_cpu_pct", "lost")}
        n = {k: median_of(rows, s, "nchan", k) for k in
             ("delivered_per_s", "server_cpu_us_per_msg", "bench_cpu_pct", "lost")}
        lines.append([s, b["delivered_per_s"][1], fmt(b["delivered_per_s"][0]),
                      fmt(n["delivered_per_s"][0]),
                      ratio(b["delivered_per_s"][0], n["delivered_per_s"][0]),
                      fmt(b["server_cpu_us_per_msg"][0], 2),
                      fmt(n["server_cpu_us_per_msg"][0], 2),
                      ratio(b["server_cpu_us_per_msg"][0], n["server_cpu_us_per_msg"][0]),
                      fmt(b["lost"][0], 0) + " / " + fmt(n["lost"][0], 0),
                      fmt(b["bench_cpu_pct"][0], 0) + " / " + fmt(n["bench_cpu_pct"][0], 0)])
    table("Fan-out throughput and server CPU (medians)",
          ["scenario", "runs", "Belfry msgs/s", "nchan msgs/s", "ratio B/n",
           "Belfry CPU µs/msg", "nchan CPU µs/msg", "ratio B/n", "lost B / n",
           "bench CPU % B / n"], lines)

    lines = []
    for s in scenarios(rows, "2-many") + scenarios(rows, "3-latency"):
        row = [s]
        for t in ("belfry", "nchan"):
            row.append(fmt(median_of(rows, s, t, "pub_per_s")[0], 0))
        for p in ("p50", "p99", "p999"):
            b = median_of(rows, s, "belfry", "latency_us." + p)[0]
            n = median_of(rows, s, "nchan", "latency_us." + p)[0]
            row += [fmt(b and b / 1000, 2), fmt(n and n / 1000, 2), ratio(b, n)]
        row.append(fmt(median_of(rows, s, "belfry", "lost")[0], 0) + " / " +
                   fmt(median_of(rows, s, "nchan", "lost")[0], 0))
        lines.append(row)
    table("Latency publish → receive, ms (medians)",
          ["scenario", "B msgs/s", "n msgs/s", "B p50", "n p50", "B/n", "B p99", "n p99", "B/n",
           "B p99.9", "n p99.9", "B/n", "lost B / n"], lines)

    # the floor (bench/floor.c) where it ran: how far each server is from the kernel's share
    lines = []
    for s in scenarios(rows, "1-fanout") + scenarios(rows, "3-latency"):
        if median_of(rows, s, "floor", "delivered_per_s")[0] is None:
            continue
        row = [s, median_of(rows, s, "floor", "delivered_per_s")[1]]
        row += [fmt(median_of(rows, s, t, "delivered_per_s")[0]) for t in TARGETS]
        cpu = {t: median_of(rows, s, t, "server_cpu_us_per_msg")[0] for t in TARGETS}
        row += [fmt(cpu[t], 2) for t in TARGETS] + [ratio(cpu["belfry"], cpu["floor"])]
        fixed_rate = median_of(rows, s, "floor", "rate_target")[0]
        for key in ("latency_us.p99", "arrival_latency_us.p99"):
            # flat out, latency is the window's queue, not a latency: left out
            v = {t: median_of(rows, s, t, key)[0] if fixed_rate else None for t in TARGETS}
            row += [fmt(v[t] and v[t] / 1000, 2) for t in TARGETS]
            row.append(ratio(v["belfry"], v["floor"]))
        lines.append(row)
    if lines:
        table("Against the floor (bench/floor.c; medians)",
              ["scenario", "runs", "msgs/s B", "n", "floor", "CPU µs/msg B", "n", "floor",
               "B/floor", "p99 ms B", "n", "floor", "B/floor", "arrival p99 ms B", "n", "floor",
               "B/floor"], lines)

    lines = []
    for s in scenarios(rows, "4-idle"):
        b = median_of(rows, s, "belfry", "rss_per_conn_bytes_all")
        n = median_of(rows, s, "nchan", "rss_per_conn_bytes_all")
        bc = median_of(rows, s, "belfry", "connect.per_s")[0]
        nc = median_of(rows, s, "nchan", "connect.per_s")[0]
        lines.append([s, b[1], fmt(b[0], 0), fmt(n[0], 0), ratio(b[0], n[0]), fmt(bc, 0),
                      fmt(nc, 0), ratio(bc, nc)])
    table("Idle connections (medians)",
          ["scenario", "runs", "Belfry bytes/conn", "nchan bytes/conn", "ratio B/n",
           "Belfry connects/s", "nchan connects/s", "ratio B/n"], lines)

    lines = []
    for s in scenarios(rows, "5-presence"):
        e = median_of(rows, s, "belfry", "events_per_s")

        def ms(key):
            v = median_of(rows, s, "belfry", key)[0]
            return fmt(v / 1000 if v is not None else None, 2)

        lines.append([s, e[1], fmt(e[0], 0),
                      ms("members_join_latency_us.p50"), ms("members_join_latency_us.p99"),
                      ms("members_leave_latency_us.p50"), ms("members_leave_latency_us.p99"),
                      ms("join_latency_us.p99"), ms("leave_latency_us.p99"),
                      fmt(median_of(rows, s, "belfry", "server_cpu_us_per_event")[0], 0),
                      fmt(median_of(rows, s, "belfry", "lost")[0], 0)])
    table("Presence churn, 1,000 users (Belfry only; medians; latencies in ms)",
          ["scenario", "runs", "joins+leaves/s", "join p50 (members)", "join p99 (members)",
           "leave p50 (members)", "leave p99 (members)", "join p99 (observer)",
           "leave p99 (observer)", "server CPU µs/event", "lost"], lines)
    print("\n".join(out))


def plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"belfry": "#2b6cb0", "nchan": "#c05621", "floor": "#718096"}
    fig, axes = plt.subplots(2, 2, figsize=(14, 10))
    fig.suptitle("Belfry vs nginx+nchan (and the floor, bench/floor.c) — medians of the runs in bench/results (2-core machine, "
                 "servers on CPU 0, load generator on CPU 1)", fontsize=11)

    def bars(ax, labels, series, ylabel, title, log=False):
        import numpy as np

        x = np.arange(len(labels))
        w = 0.8 / max(1, len(series))
        for i, (name, vals, color) in enumerate(series):
            vals = [v if v is not None else 0 for v in vals]
            b = ax.bar(x + (i - (len(series) - 1) / 2) * w, vals, w, label=name, color=color)
            for rect, v in zip(b, vals):
                if v:
                    ax.annotate(fmt(v, 1), (rect.get_x() + rect.get_width() / 2, rect.get_height()),
                                ha="center", va="bottom", fontsize=7)
        ax.set_xticks(x)
        ax.set_xticklabels(labels, rotation=20, ha="right", fontsize=8)
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=10)
        if log:
            ax.set_yscale("log")
        ax.legend(fontsize=8)
        ax.grid(axis="y", alpha=0.3)

    # throughput
    ss = scenarios(rows, "1-fanout") + scenarios(rows, "6-scaleout")
    present = [t for t in TARGETS
               if any(median_of(rows, s, t, "delivered_per_s")[0] is not None for s in ss)]
    bars(axes[0][0], ss,
         [(t, [median_of(rows, s, t, "delivered_per_s")[0] for s in ss], colors[t])
          for t in present],
         "delivered messages / s", "Fan-out throughput (flat out, 100-byte messages)")

    # server CPU per message
    bars(axes[0][1], ss,
         [(t, [median_of(rows, s, t, "server_cpu_us_per_msg")[0] for s in ss], colors[t])
          for t in present],
         "server CPU µs per delivered message",
         "Server CPU per delivered message (Belfry: gateway+router+redis)")

    # latency percentiles
    ls = scenarios(rows, "3-latency") + [s for s in scenarios(rows, "2-many") if "max" not in s]
    ax = axes[1][0]
    series = []
    for t in TARGETS:
        if all(median_of(rows, s, t, "latency_us.p50")[0] is None for s in ls):
            continue
        for p, alpha in (("p50", 1.0), ("p99", 0.6), ("p999", 0.35)):
            vals = [median_of(rows, s, t, "latency_us." + p)[0] for s in ls]
            series.append((f"{t} {p}", [v / 1000 if v else None for v in vals], colors[t], alpha))
    import numpy as np

    x = np.arange(len(ls))
    w = 0.8 / max(1, len(series))
    for i, (name, vals, color, alpha) in enumerate(series):
        ax.bar(x + (i - (len(series) - 1) / 2) * w, [v or 0 for v in vals], w, label=name,
               color=color, alpha=alpha)
    ax.set_xticks(x)
    labels = []
    for s in ls:  # say where a bar is missing or a median run lost messages
        notes = []
        for t, short in (("belfry", "B"), ("nchan", "n")):
            lost = median_of(rows, s, t, "lost")[0]
            if median_of(rows, s, t, "latency_us.p50")[0] is None:
                notes.append(f"{short}: nothing delivered")
            elif lost:
                notes.append(f"{short}: lost {fmt(lost, 0)}")
        labels.append(s + ("\n" + "; ".join(notes) if notes else ""))
    ax.set_xticklabels(labels, rotation=20, ha="right", fontsize=7)
    ax.set_yscale("log")
    ax.set_ylabel("ms (log scale)")
    ax.set_title("Publish → receive latency percentiles at fixed rates", fontsize=10)
    ax.axhline(5, color="grey", linestyle="--", linewidth=0.8)
    ax.text(-0.4, 5, "5 ms target", fontsize=7, va="bottom", ha="left")
    ax.legend(fontsize=7, ncol=2)
    ax.grid(axis="y", alpha=0.3)

    # idle memory
    is_ = scenarios(rows, "4-idle")
    bars(axes[1][1], is_,
         [(t, [median_of(rows, s, t, "rss_per_conn_bytes_all")[0] for s in is_], colors[t])
          for t in ("belfry", "nchan")],
         "server RSS bytes per idle connection", "Idle WebSocket memory (fresh processes)")
    axes[1][1].axhline(4096, color="grey", linestyle="--", linewidth=0.8)
    axes[1][1].text(-0.4, 4096, "4 KiB target", fontsize=7, va="bottom", ha="left")

    fig.tight_layout(rect=(0, 0, 1, 0.96))
    fig.savefig(path, dpi=110)
    print(f"plot.py: wrote {path}", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="*")
    ap.add_argument("-o", "--output", default=os.path.join(ROOT, "docs", "benchmarks.png"))
    ap.add_argument("--markdown", action="store_true", help="print the summary tables")
    a = ap.parse_args()
    files = a.files or sorted(glob.glob(os.path.join(ROOT, "bench", "results", "*.jsonl")))
    rows = load(files)
    if not rows:
        sys.exit("plot.py: no RESULT lines found")
    ensure_matplotlib()  # may re-run this script under /usr/bin/python3
    if a.markdown:
        markdown(rows)
    plot(rows, a.output)


if __name__ == "__main__":
    main()
