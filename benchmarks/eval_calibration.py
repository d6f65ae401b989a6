#!/usr/bin/env python3
"""Does the diagnosis' confidence mean something? Brier score and confident-wrong count.

Runs the shared scorer (score.py) on one or more suites, or reads reports it already wrote
(`--report FILE`, from `score.py --json-out`), and pairs each expected incident's outcome
(fully right: root cause, culprit, remediation, nothing forbidden) with the confidence of
the produced diagnosis. Prints one line per incident, then

    calibration: incidents N  brier B  confident(>=0.8) C  confident-wrong W  mean-confidence M

Exit 1 when the Brier score is above --max-brier or any confident diagnosis is wrong.

    python benchmarks/eval_calibration.py tests/scenarios/examples tests/scenarios/suite
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCORE = ROOT.parent / "shared" / "scenarios" / "score.py"
CMD = f"{ROOT / '.venv' / 'bin' / 'watchkeeper'} replay {{dir}} --json"


def run_suite(suite: str, jobs: int) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run([sys.executable, str(SCORE), suite, "--cmd", CMD, "--jobs", str(jobs), "--json-out", out.name],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        return json.loads(Path(out.name).read_text())


def outcomes(report: dict) -> list[tuple[str, float, bool, str]]:
    """(scenario, confidence, fully right, what was concluded) per expected incident."""
    rows = []
    for s in report["scenarios"]:
        for inc in s["incidents"]:
            produced = inc.get("produced") or {}
            rc = produced.get("root_cause") or {}
            conf = rc.get("confidence") if isinstance(rc, dict) else None
            got = f"{rc.get('kind')}:{rc.get('culprit')}" if isinstance(rc, dict) and rc else "-"
            rows.append((s["scenario"], float(conf) if conf is not None else 0.0, bool(inc["correct"]), got))
    return rows


def calibration(rows: list[tuple[str, float, bool, str]], confident: float = 0.8) -> dict:
    n = len(rows)
    brier = sum((c - (1.0 if ok else 0.0)) ** 2 for _, c, ok, _ in rows) / n if n else 0.0
    sure = [r for r in rows if r[1] >= confident]
    return {"incidents": n, "correct": sum(1 for r in rows if r[2]), "brier": round(brier, 4),
            "confident": len(sure), "confident_wrong": sum(1 for r in sure if not r[2]),
            "mean_confidence": round(sum(r[1] for r in rows) / n, 3) if n else 0.0}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("suites", nargs="*", help="suite folders to replay")
    ap.add_argument("--report", action="append", default=[], help="a score.py --json-out report to read instead")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--max-brier", type=float, default=0.08)
    args = ap.parse_args()
    reports = [json.loads(Path(r).read_text()) for r in args.report] + [run_suite(s, args.jobs) for s in args.suites]
    rows = [row for rep in reports for row in outcomes(rep)]
    for scenario, conf, ok, got in rows:
        print(f"{scenario:42s} {conf:5.2f} {'right' if ok else 'WRONG':5s} {got}")
    c = calibration(rows)
    print(f"calibration: incidents {c['incidents']}  correct {c['correct']}  brier {c['brier']:.4f}  "
          f"confident(>=0.8) {c['confident']}  confident-wrong {c['confident_wrong']}  "
          f"mean-confidence {c['mean_confidence']:.3f}")
    return 0 if c["brier"] <= args.max_brier and c["confident_wrong"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
