#!/usr/bin/env python3
"""Report benchmark: the Write report step's rendering on a storm-shaped incident.

300 alarms (50 deliveries each), 8 metric series of 370 one-minute points, a full audit
trail: the chart (SVG), the HTML page and the Markdown, timed over repeated runs, with the
size of each output (the report function has 512 MB and 60 s).

    .venv/bin/python benchmarks/report.py [--runs 20]
"""
from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.unit.test_report_chart import T0, _incident_report  # noqa: E402  (the unit tests' incident, made big)
from watchkeeper.domain.report import render_html, render_markdown  # noqa: E402
from watchkeeper.models import AlertRef  # noqa: E402
from watchkeeper.ports import MetricSeries  # noqa: E402


def storm_report():
    report = _incident_report()
    report.incident.alerts = [AlertRef(delivery_id=f"d{i}", fingerprint=f"f{i}", source="cloudwatch-sns", status="firing",
                                       title=f"alarm-{i}", received_at=T0 + timedelta(seconds=i), service="web", count=50)
                              for i in range(300)]
    report.series = [MetricSeries("web", "App", f"metric_{k}", None,
                                  [(T0 - timedelta(minutes=360 - m), float(m % 17)) for m in range(370)])
                     for k in range(8)]
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    report = storm_report()
    started = time.perf_counter()
    for _ in range(args.runs):
        svg = report.chart()
        html = render_html(report, svg)
        md = render_markdown(report)
    elapsed = (time.perf_counter() - started) / args.runs
    tracemalloc.start()                      # memory in a run of its own: tracing slows everything down
    render_html(report, report.chart())
    render_markdown(report)
    _, peak = tracemalloc.get_traced_memory()
    print(f"report of 300 alarms, 8 series x 370 points: {elapsed * 1000:.1f} ms per report "
          f"(chart + HTML + Markdown, {args.runs} runs), peak {peak / 1e6:.1f} MB allocated; "
          f"svg {len(svg) / 1024:.0f} KB, html {len(html) / 1024:.0f} KB, md {len(md) / 1024:.0f} KB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
