"""Metric series: baseline, onset (change point) and shape of a deviation."""
from __future__ import annotations

import statistics
from collections.abc import Sequence
from datetime import datetime

from ..models import MetricSummary
from ..ports import MetricSeries

_MIN_POINTS = 12


def summarize(series: MetricSeries, until: datetime | None = None) -> MetricSummary:
    pts = [(t, v) for t, v in series.points if until is None or t <= until]
    summary = MetricSummary(service=series.service, namespace=series.namespace, name=series.name, unit=series.unit)
    if len(pts) < _MIN_POINTS:
        if pts:
            summary.latest = pts[-1][1]
        return summary
    values = [v for _, v in pts]
    ref = values[: max(_MIN_POINTS, len(values) // 2)]
    base = statistics.median(ref)
    mad = statistics.median(abs(v - base) for v in ref)
    scale = max(1.4826 * mad, 0.05 * abs(base), 1e-6)
    latest = statistics.mean(values[-3:])
    summary.baseline, summary.latest, summary.peak = round(base, 3), round(latest, 3), round(max(values), 3)
    summary.change_ratio = round(latest / base, 3) if base else (float("inf") if latest > 0 else 1.0)
    direction = 1 if latest >= base else -1
    deviation = [(v - base) * direction / scale for v in values]
    smooth = [statistics.median(deviation[max(0, i - 1): i + 2]) for i in range(len(deviation))]
    if smooth[-1] < 4 or abs(latest - base) < 0.15 * max(abs(base), 1e-6) and abs(latest - base) < 4 * scale:
        return summary
    # the trailing run of anomalous points, tolerating a few dips
    i, dips = len(smooth) - 1, 0
    while i > 0:
        if smooth[i - 1] >= 3:
            dips = 0
        else:
            dips += 1
            if dips > 2:
                break
        i -= 1
    onset_idx = i + dips if dips else i
    onset_idx = min(onset_idx, len(values) - 1)
    # walk back to where the deviation began (a ramp starts below the threshold)
    j = onset_idx
    while j > 0 and smooth[j - 1] >= 1.5 and smooth[j - 1] < smooth[j] + 0.5:
        j -= 1
    summary.onset = pts[j][0]
    run = deviation[j:]
    final = statistics.mean(run[-3:]) if len(run) >= 3 else run[-1]
    if direction < 0:
        summary.shape = "drop"
    elif len(run) <= 3:
        summary.shape = "spike"
    else:
        early = statistics.mean(run[1:4])
        summary.shape = "step" if early >= 0.7 * final else "ramp"
    return summary


def anomalous(summary: MetricSummary) -> bool:
    return summary.onset is not None


def earliest(times: Sequence[datetime | None]) -> datetime | None:
    found = [t for t in times if t is not None]
    return min(found) if found else None
