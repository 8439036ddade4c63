#!/usr/bin/env python3
"""Checks bench/soak_report.py's verdict on synthetic soak runs (seconds; part of the bench smoke).

A flat run passes; a leaking process, a loss, a refused publish, a load that exited non-zero, a
p99 spike and a missing load each fail it."""
import copy
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def run_lines(rss_growth_kib_per_min=0.0, lost=0, refused=0, exit_code=0, spike=1.0, drop=None):
    lines = [{"kind": "config", "minutes": 10, "pct": 70}]
    for k in range(61):  # 10 minutes, every 10 s
        t = k * 10
        noise = (k % 3 - 1) * 40  # +-40 KiB of jitter, as allocators show
        servers = [{"name": "gateway1", "pid": 1, "rss_kib": 20000 + noise, "cpu_s": t * 0.3},
                   {"name": "redis", "pid": 2,
                    "rss_kib": int(30000 + noise + rss_growth_kib_per_min * t / 60), "cpu_s": t * 0.1}]
        lines.append({"kind": "sample", "t_s": t, "servers": servers})
    for label in ("soak-fanout", "soak-many", "whisper", "reconnect"):
        for m in range(1, 11):
            p99 = 50.0 * (spike if (label == "soak-many" and m == 8) else 1.0)
            lines.append({"kind": "interval", "label": label, "t_s": 60.0 * m, "sent": 100 * m,
                          "received": 500 * m, "pub_failed": 0,
                          "latency_us": {"n": 500, "p50": 5000.0, "p99": p99 * 1000}})
    bc = {"published": 1000, "pub_failed": refused, "received": 5000, "lost": lost,
          "closed_by_server": 0, "conn_errors": 0, "connect": {"failed": 0}, "misrouted": 0,
          "reordered": 0, "latency_us": {}}
    part = {"sent": 10, "received": 30, "lost": 0, "unaccounted": 0, "refused": 0, "drops": 0,
            "recovery_failed": 0, "duplicates": 0, "reconnects": 5}
    lines += [dict(bc, kind="result", load="fanout", exit=exit_code),
              dict(bc, kind="result", load="many", exit=0),
              {"kind": "result", "load": "presence", "exit": 0, "cycles": 10, "joins_seen": 10,
               "leaves_seen": 10, "lost": 0, "users_dropped": 0, "connect": {"failed": 0}},
              {"kind": "result", "load": "load", "exit": 0, "whisper": copy.deepcopy(part),
               "reconnect": copy.deepcopy(part)}]
    if drop:
        lines = [x for x in lines if x.get("load") != drop]
    return lines


def verdict(lines):
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        for x in lines:
            f.write(json.dumps(x) + "\n")
        path = f.name
    try:
        r = subprocess.run([sys.executable, os.path.join(HERE, "soak_report.py"), path,
                            "--warmup-min", "2", "--max-slope-kib", "128",
                            "--max-p99-spread", "3"], capture_output=True, text=True, timeout=30)
        summary = json.loads(open(path).read().splitlines()[-1])
        assert summary["kind"] == "summary", summary
        assert (r.returncode == 0) == (summary["verdict"] == "PASS"), (r.returncode, summary)
        return summary
    finally:
        os.unlink(path)


def main():
    cases = [
        ("flat", {}, "PASS", None),
        ("leak of 200 KiB/min in redis", {"rss_growth_kib_per_min": 200}, "FAIL", "redis"),
        ("growth of 60 KiB/min (under the threshold)", {"rss_growth_kib_per_min": 60}, "PASS", None),
        ("one lost delivery", {"lost": 1}, "FAIL", "lost"),
        ("one refused publish", {"refused": 1}, "FAIL", "refused"),
        ("a load exited 1", {"exit_code": 1}, "FAIL", "exited"),
        ("a p99 spike of 4 x", {"spike": 4.0}, "FAIL", "spread"),
        ("a p99 bump of 2 x", {"spike": 2.0}, "PASS", None),
        ("no presence result", {"drop": "presence"}, "FAIL", "presence"),
    ]
    bad = 0
    for name, kw, want, why in cases:
        s = verdict(run_lines(**kw))
        ok = s["verdict"] == want and (why is None or any(why in f for f in s["failures"]))
        bad += not ok
        print("%s  %-45s %s %s" % ("ok  " if ok else "FAIL", name, s["verdict"], s["failures"]))
    print("soak_report_test: %d of %d cases as expected" % (len(cases) - bad, len(cases)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
