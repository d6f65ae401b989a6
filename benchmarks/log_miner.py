#!/usr/bin/env python3
"""Log template miner benchmark: the scorer-equivalent measurement on Loghub-2k.

Mirrors ../shared/data/loghub_ga.py (same inputs: the `Content` column, one file per data
set; same GA definition; throughput on all data sets concatenated and repeated, timed as
whole processes including start-up; each copy of the corpus after the first gets fresh
numbers, digit run by digit run, from the scorer's seed, so lines rarely repeat verbatim, as
in production) and adds peak RSS of each command, the verbatim-repeat throughput the scorer
used before, and a "unique lines only" run, where no cache of repeated lines can help.

    .venv/bin/python benchmarks/log_miner.py               # ours vs drain3 baseline
    .venv/bin/python benchmarks/log_miner.py --repeat 1
    .venv/bin/python benchmarks/log_miner.py --cmd ".venv/bin/watchkeeper logs cluster {file} --jsonl"
"""
from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import random
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCORER = ROOT.parent / "shared" / "data" / "loghub_ga.py"
DEFAULT_CMD = f"{ROOT / '.venv/bin/watchkeeper'} logs cluster {{file}} --jsonl"    # what the scorer runs


def _scorer():
    spec = importlib.util.spec_from_file_location("loghub_ga", SCORER)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _argv(cmd: str, path: Path) -> list[str]:
    return [a.replace("{file}", str(path)) for a in shlex.split(cmd)]


def run(cmd: str, path: Path) -> tuple[list, float]:
    argv = _argv(cmd, path)
    t0 = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=600, cwd=ROOT)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"command failed ({proc.returncode}): {proc.stderr[-500:]}")
    return [json.loads(x)["template_id"] for x in proc.stdout.splitlines() if x.strip()], wall


def cpu_seconds(cmd: str, path: Path) -> float:
    """User + system CPU of one run (RUSAGE_CHILDREN): on a shared machine wall time also counts waiting."""
    code = ("import resource,subprocess,sys;"
            "subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL,check=True);"
            "r=resource.getrusage(resource.RUSAGE_CHILDREN);print(r.ru_utime+r.ru_stime)")
    out = subprocess.run([sys.executable, "-c", code, *_argv(cmd, path)], capture_output=True,
                         text=True, check=True, cwd=ROOT)
    return float(out.stdout.strip())


def peak_rss_mb(cmd: str, path: Path) -> float:
    """Peak RSS of the command, measured in a fresh helper process (RUSAGE_CHILDREN)."""
    code = ("import resource,subprocess,sys;"
            "subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL,check=True);"
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code, *_argv(cmd, path)], capture_output=True,
                         text=True, check=True, cwd=ROOT)
    return int(out.stdout.strip()) / 1024


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cmd", default=DEFAULT_CMD)
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--no-baseline", action="store_true")
    args = ap.parse_args()
    ga = _scorer()
    tmp = Path(tempfile.mkdtemp())
    cmds = {"command": args.cmd}
    if not args.no_baseline:
        base = tmp / "drain3_baseline.py"
        base.write_text(ga.DRAIN3_BASELINE)
        cmds["drain3"] = f"{ROOT / '.venv/bin/python'} {base} {{file}}"
    scores: dict[str, dict[str, float]] = {k: {} for k in cmds}
    corpus: list[str] = []
    for csv_path in sorted(ga.HERE.glob("*/*_structured_corrected.csv")):
        rows = list(csv.DictReader(open(csv_path, encoding="utf-8", errors="replace")))
        msgs = [r["Content"].replace("\n", " ") for r in rows]
        corpus += msgs
        f = tmp / f"{csv_path.parent.name}.txt"
        f.write_text("\n".join(msgs) + "\n")
        for name, cmd in cmds.items():
            ids, _ = run(cmd, f)
            assert len(ids) == len(msgs), (name, csv_path.parent.name, len(ids), len(msgs))
            scores[name][csv_path.parent.name] = ga.grouping_accuracy([r["EventId"] for r in rows], ids)
    big = tmp / "all.txt"
    rng = random.Random(7)       # as the scorer: every copy after the first renumbered

    def renumber(m):
        k = len(m.group())
        return str(rng.randrange(10 ** (k - 1) if k > 1 else 0, 10 ** k))

    lines = corpus + [re.sub(r"\d+", renumber, x) for _ in range(args.repeat - 1) for x in corpus]
    big.write_text("\n".join(lines) + "\n")
    verbatim = tmp / "verbatim.txt"
    verbatim.write_text(("\n".join(corpus) + "\n") * args.repeat)
    uniq = list(dict.fromkeys(corpus))
    uniq_f = tmp / "unique.txt"
    uniq_f.write_text("\n".join(uniq) + "\n")
    n = len(corpus) * args.repeat
    rates, vrates, urates, rss, cpu = {}, {}, {}, {}, {}
    for name, cmd in cmds.items():
        rates[name] = n / run(cmd, big)[1]
        cpu[name] = cpu_seconds(cmd, big)
        vrates[name] = n / run(cmd, verbatim)[1]
        urates[name] = len(uniq) / run(cmd, uniq_f)[1]
        rss[name] = peak_rss_mb(cmd, big)
    names = list(cmds)
    print(f"{'data set':12s} " + " ".join(f"{k:>9s}" for k in names))
    for ds in scores[names[0]]:
        print(f"{ds:12s} " + " ".join(f"{scores[k][ds]:9.3f}" for k in names))
    means = {k: sum(v.values()) / len(v) for k, v in scores.items()}
    print(f"{'mean GA':12s} " + " ".join(f"{means[k]:9.3f}" for k in names))
    print(f"{'lines/s':12s} " + " ".join(f"{rates[k]:9.0f}" for k in names)
          + f"   ({n} lines, x{args.repeat} renumbered, {len(set(lines))} distinct)")
    print(f"{'CPU s':12s} " + " ".join(f"{cpu[k]:9.2f}" for k in names) + "   (user+sys of the renumbered run)")
    print(f"{'verbatim l/s':12s} " + " ".join(f"{vrates[k]:9.0f}" for k in names) + f"   (x{args.repeat} verbatim)")
    print(f"{'uniq lines/s':12s} " + " ".join(f"{urates[k]:9.0f}" for k in names) + f"   ({len(uniq)} distinct lines)")
    print(f"{'peak RSS MB':12s} " + " ".join(f"{rss[k]:9.1f}" for k in names))
    if "drain3" in rates:
        print(f"speed_vs_drain3 {rates['command'] / rates['drain3']:.2f}x (CPU {cpu['drain3'] / cpu['command']:.2f}x)  "
              f"verbatim {vrates['command'] / vrates['drain3']:.2f}x  "
              f"unique-lines {urates['command'] / urates['drain3']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
