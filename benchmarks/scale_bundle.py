#!/usr/bin/env python3
"""Scale a scenario bundle up to a held-out bundle's size: more log history and longer metric series.

The held-out suite's bundles are about 600 KB, 2.6 times the team's. This writes a copy of a bundle
whose logs hold `factor` times the lines (the same lines again, earlier: the day before the
incident, so what happens around the incident is unchanged) and whose metric series reach `factor`
times further back. The alerts, changes, cluster and ground truth are the bundle's own.

    .venv/bin/python benchmarks/scale_bundle.py tests/scenarios/suite /tmp/suite-600k --factor 2.6
"""
from __future__ import annotations

import argparse
import shutil
import sys
from datetime import datetime, timedelta
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "functions"))

from watchkeeper.local.scenario import load_yaml  # noqa: E402

_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def scale(src: Path, dst: Path, factor: float) -> int:
    doc = load_yaml((src / "scenario.yaml").read_text())
    now = _at(doc["now"]) if isinstance(doc["now"], str) else doc["now"]
    dst.mkdir(parents=True, exist_ok=True)
    (dst / "logs").mkdir(exist_ok=True)
    for log in doc.get("logs", []):
        lines = (src / log["file"]).read_text().splitlines()
        out = list(lines)
        copies = max(0, round(len(lines) * (factor - 1)))
        shift = 0
        while copies > 0 and lines:
            shift += 1
            for line in lines[:copies]:
                stamp, _, message = line.partition(" ")
                try:
                    at = _at(stamp) - timedelta(hours=3 * shift)
                except ValueError:
                    continue
                if now - at < timedelta(hours=24):
                    out.append(f"{at.strftime('%Y-%m-%dT%H:%M:%S.')}{at.microsecond // 1000:03d}Z {message}")
            copies -= len(lines)
        out.sort(key=lambda x: x.split(" ", 1)[0])
        (dst / log["file"]).write_text("\n".join(out) + "\n")
    for m in doc.get("metrics", []):
        points = m["points"]
        if len(points) < 2:
            continue
        first = _at(points[0][0]) if isinstance(points[0][0], str) else points[0][0]
        step = (_at(points[1][0]) if isinstance(points[1][0], str) else points[1][0]) - first
        extra = round(len(points) * (factor - 1))
        earlier = [[(first - step * (i + 1)).strftime("%Y-%m-%dT%H:%M:%SZ"), points[i % len(points)][1]]
                   for i in range(extra)][::-1]
        m["points"] = earlier + [[p[0] if isinstance(p[0], str) else p[0].strftime("%Y-%m-%dT%H:%M:%SZ"), p[1]]
                                 for p in points]
    with (dst / "scenario.yaml").open("w") as fh:
        yaml.dump(doc, fh, Dumper=_Dumper, sort_keys=False, width=100000, allow_unicode=True)
    return sum(f.stat().st_size for f in dst.rglob("*") if f.is_file())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", help="a bundle, or a directory of bundles")
    ap.add_argument("out")
    ap.add_argument("--factor", type=float, default=2.6)
    args = ap.parse_args()
    src, out = Path(args.source), Path(args.out)
    bundles = [src] if (src / "scenario.yaml").is_file() else sorted(p for p in src.iterdir() if (p / "scenario.yaml").is_file())
    for b in bundles:
        dst = out / b.name if len(bundles) > 1 or out.exists() and any(out.iterdir()) else out
        if dst.exists():
            shutil.rmtree(dst)
        size = scale(b, dst, args.factor)
        print(f"{dst}: {size / 1000:.0f} KB")


if __name__ == "__main__":
    main()
