#!/usr/bin/env python3
"""Alert-storm benchmark: a storm bundle through the real ingest handler on the emulator.

Generates (or reads) a storm bundle (benchmarks/storm_bundle.py), starts the embedded AWS
the way `watchkeeper replay` does, feeds every delivery to the ingest Lambda in the replay's
invocations, then reads the incident store and reports: incidents produced, compression,
pair precision and recall of the grouping against the generator's per-delivery truth,
invalid payloads counted, alerts per second of the ingest and peak memory (max RSS).
With `--replay` it also times a whole `watchkeeper replay BUNDLE --json` in a subprocess
(bundle loading, ingest and the state machine executions included) and scores that output.

    .venv/bin/python benchmarks/storm.py                       # 10,000 deliveries, 50 incidents
    .venv/bin/python benchmarks/storm.py --broken 20 --replay
    .venv/bin/python benchmarks/storm.py --bundle /tmp/storm   # an existing bundle (truth.json beside it)
    .venv/bin/python benchmarks/storm.py --world --replay      # 27 MB: 260 services' logs, metrics, changes
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import storm_bundle  # noqa: E402


def pair_scores(truth: list[int | None], produced: list[str | None]) -> tuple[float, float]:
    """Pair precision and recall over firing deliveries (resolved and invalid ones belong to none)."""
    def pairs(counter: Counter) -> int:
        return sum(n * (n - 1) // 2 for n in counter.values())

    both = Counter((t, p) for t, p in zip(truth, produced) if t is not None and p is not None)
    same_truth = pairs(Counter(t for t in truth if t is not None))
    same_produced = pairs(Counter(p for p in produced if p is not None))
    agree = pairs(both)
    return (agree / same_produced if same_produced else 1.0), (agree / same_truth if same_truth else 1.0)


def run_ingest(directory: Path) -> dict:
    from watchkeeper.adapters.dynamodb_state import DynamoDBIncidentStore
    from watchkeeper.local.replay import ReplayOptions, ReplaySession
    from watchkeeper.local.scenario import load_bundle

    t0 = time.perf_counter()
    bundle, root = load_bundle(directory)
    t_load = time.perf_counter() - t0
    truth = json.loads((directory / "truth.json").read_text())
    with ReplaySession(bundle, root, ReplayOptions()) as session:
        t1 = time.perf_counter()
        totals = session.ingest()
        t_ingest = time.perf_counter() - t1
        store = DynamoDBIncidentStore(session.aws.env("STATE_TABLE"), session.aws.client("dynamodb"))
        incidents = [i for i in store.incidents() if i.status != "merged"]
    # map each delivery (received_at, delivery id, occurrence) back to its position in the bundle
    owner: dict[tuple[str, str], list[str]] = {}
    for inc in incidents:
        for a in inc.alerts:
            owner.setdefault((a.received_at.isoformat(), a.delivery_id), []).append(inc.id)
    from watchkeeper.domain.intake import InvalidAlert, parse_delivery
    produced: list[str | None] = []
    for a in bundle.alerts:
        try:
            alerts = parse_delivery(a.source, a.payload, a.received_at)
        except InvalidAlert:
            produced.append(None)
            continue
        key = (alerts[0].received_at.isoformat(), alerts[0].delivery_id)
        ids = owner.get(key)
        produced.append(ids.pop(0) if ids else None)
    precision, recall = pair_scores(truth, produced)
    expected = bundle.expected["incidents"]
    by_service = {i.service: i for i in incidents}
    exact = sum(1 for e in expected if (i := by_service.get(e["service"])) and len(i.alerts) == e["alerts"])
    return {"deliveries": len(bundle.alerts), "invalid": totals["invalid"], "resolved": totals["resolved"],
            "errors": len(totals["errors"]), "incidents": len(incidents), "expected_incidents": len(expected),
            "grouping_exact": exact, "compression": 1 - len(incidents) / max(1, len(bundle.alerts)),
            "pair_precision": round(precision, 4), "pair_recall": round(recall, 4),
            "load_seconds": round(t_load, 2), "ingest_seconds": round(t_ingest, 2),
            "alerts_per_second": round(len(bundle.alerts) / t_ingest, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def run_replay(directory: Path) -> dict:
    t0 = time.perf_counter()
    p = subprocess.run([str(ROOT / ".venv/bin/watchkeeper"), "replay", str(directory), "--json"],
                       capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - t0
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        return {"error": p.stderr[-2000:], "exit": p.returncode}
    out = json.loads(p.stdout)
    import yaml
    doc = yaml.load((directory / "scenario.yaml").read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    expected = doc["expected"]["incidents"]
    produced = {i["service"]: i for i in out["incidents"]}
    n = len(doc["alerts"])
    return {"seconds": round(seconds, 2), "alerts_per_second": round(n / seconds, 1),
            "cpu_seconds": round(children.ru_utime + children.ru_stime, 1),
            "peak_rss_mb": round(children.ru_maxrss / 1024, 1),
            "incidents": len(out["incidents"]), "alerts": out["alerts"],
            "grouping_exact": sum(1 for e in expected if produced.get(e["service"], {}).get("alerts") == e["alerts"]),
            "executions": dict(Counter(i.get("execution") for i in out["incidents"]))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", help="an existing storm bundle (with truth.json); default: generate one")
    ap.add_argument("--out", default=str(ROOT / ".cache" / "storm"), help="where a generated bundle goes")
    ap.add_argument("--deliveries", type=int, default=10_000)
    ap.add_argument("--incidents", type=int, default=50)
    ap.add_argument("--broken", type=int, default=0)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--replay", action="store_true", help="also time a whole `watchkeeper replay` of the bundle")
    ap.add_argument("--world", action="store_true",
                    help="a storm as large as the held-out one: logs, metrics and changes for 260 services (~27 MB)")
    args = ap.parse_args()
    if args.bundle:
        directory = Path(args.bundle)
    else:
        doc, truth = storm_bundle.generate(args.deliveries, args.incidents, broken=args.broken, seed=args.seed,
                                           world=args.world)
        directory = storm_bundle.write(Path(args.out), doc, truth)
    size = sum(f.stat().st_size for f in directory.rglob("*") if f.is_file() and f.name != "truth.json")
    report = {"bundle": str(directory), "megabytes": round(size / 1e6, 1), "ingest": run_ingest(directory)}
    if args.replay:
        report["replay"] = run_replay(directory)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
