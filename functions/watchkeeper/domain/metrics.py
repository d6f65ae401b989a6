"""Metric series: baseline, onset (change point) and shape of a deviation."""
from __future__ import annotations

import math
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
    if all(float(v).is_integer() for v in ref) and abs(base) < 50:
        scale = max(scale, math.sqrt(max(abs(base), 1.0)))   # small counts: a few events more is Poisson noise
    latest = statistics.mean(values[-3:])
    summary.baseline, summary.latest, summary.peak = round(base, 3), round(latest, 3), round(max(values), 3)
    summary.change_ratio = round(latest / base, 3) if base else (float("inf") if latest > 0 else 1.0)
    trend = _steady_climb(pts)
    if trend is not None:      # a slow leak: the whole window climbs, so its first half is no baseline
        first, onset = trend
        summary.baseline = round(first, 3)
        summary.change_ratio = round(latest / first, 3) if first else summary.change_ratio
        summary.onset, summary.shape = onset, "ramp"
        return summary
    fall = _steady_climb([(t, -v) for t, v in pts], falling=True)
    if fall is not None:       # a disk filling for hours: free space falls over the whole window
        first, onset = fall
        summary.baseline = round(-first, 3)
        summary.change_ratio = round(latest / -first, 3) if first else summary.change_ratio
        summary.onset, summary.shape = onset, "drop"
        return summary
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


def _steady_climb(pts: list[tuple[datetime, float]], falling: bool = False) -> tuple[float, datetime] | None:
    """(fitted start value, start) when the series climbs steadily over the whole window: a straight-line fit
    explains it well, it rose by a fifth or more, and far more than its noise. `falling`: the series is a
    positive one negated (its fall is the climb), so its start value is below zero."""
    n = len(pts)
    if n < 30:
        return None
    xs = list(range(n))
    ys = [v for _, v in pts]
    mx, my = (n - 1) / 2, statistics.mean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    slope = sxy / sxx
    if slope <= 0:
        return None
    intercept = my - slope * mx
    residuals = [y - (intercept + slope * x) for x, y in zip(xs, ys)]
    ss_res = sum(r * r for r in residuals)
    ss_tot = sum((y - my) ** 2 for y in ys) or 1e-12
    r2 = 1 - ss_res / ss_tot
    rise = slope * (n - 1)
    noise = math.sqrt(ss_res / n)
    # halves must climb alike: a step or a late spike is not a steady climb
    half = n // 2
    first_half = ys[half - 1] - ys[0] if half > 1 else 0
    second_half = ys[-1] - ys[half]
    start = -intercept if falling else intercept
    if r2 >= 0.85 and start > 0 and rise >= 0.2 * start and rise >= 8 * noise \
            and first_half > 0.25 * rise and second_half > 0.25 * rise:
        return intercept, pts[0][0]
    return None


def anomalous(summary: MetricSummary) -> bool:
    return summary.onset is not None


def earliest(times: Sequence[datetime | None]) -> datetime | None:
    found = [t for t in times if t is not None]
    return min(found) if found else None
