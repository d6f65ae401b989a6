#!/usr/bin/env python3
"""The same replay, again and again, with CPU-bound processes beside it: every run must give the
same result (and finish), whatever the load.

A callback task's decision that arrived before its heartbeat endpoint existed used to be noticed
only at the next heartbeat, so under load one execution in a few stalled until replay's deadline
and came back TIMED_OUT (local/emulator.py fixes it). This runs `watchkeeper replay --json` N times
with `--hogs` busy processes beside it and reports each run's time and whether its incidents
(service, root cause, culprit, actions, execution status) are the first run's.

    .venv/bin/python benchmarks/replay_repeat.py tests/scenarios/suite/twin-unrelated-incidents --runs 5 --hogs 2
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def outcome(doc: dict) -> list:
    return sorted((i["service"], (i.get("root_cause") or {}).get("kind"), (i.get("root_cause") or {}).get("culprit"),
                   tuple(a["type"] for a in i["actions"]), i.get("execution"), i["status"]) for i in doc["incidents"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bundle")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--hogs", type=int, default=2, help="CPU-bound processes running beside the replays")
    args = ap.parse_args()
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.hogs)]
    runs, first = [], None
    try:
        for n in range(args.runs):
            t0 = time.perf_counter()
            p = subprocess.run([str(ROOT / ".venv/bin/watchkeeper"), "replay", args.bundle, "--json"],
                               capture_output=True, text=True, cwd=ROOT)
            seconds = time.perf_counter() - t0
            got = outcome(json.loads(p.stdout)) if p.returncode == 0 else None
            first = first if first is not None else got
            runs.append({"run": n + 1, "seconds": round(seconds, 2), "exit": p.returncode, "same": got == first,
                         "executions": sorted(str(o[4]) for o in got or [])})
            print(json.dumps(runs[-1]), flush=True)
    finally:
        for h in hogs:
            h.kill()
    times = [r["seconds"] for r in runs]
    print(json.dumps({"bundle": args.bundle, "runs": len(runs), "hogs": args.hogs,
                      "all_same_and_finished": all(r["same"] and r["exit"] == 0 for r in runs),
                      "median_seconds": statistics.median(times), "max_seconds": max(times)}))


if __name__ == "__main__":
    main()
