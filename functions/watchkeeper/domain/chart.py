"""The incident chart an SRE would draw: the alarmed metrics' curves on one time axis, with
the change, the onset, the alerts, the decision, the action and the recovery marked on them.

Plain SVG (no plotting stack in the Lambda bundle). Labels are never shortened: each is
placed in the first row of the label band where it overlaps no other label, left of its
mark when it would run past the right edge, and joined to its mark by a leader line.
Text widths are estimated on the wide side, so an estimate error only adds space.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape

FONT = "DejaVu Sans, Verdana, Arial, sans-serif"
CHAR_W = 6.9            # px per character at 11 px, on the wide side for DejaVu Sans / Verdana
LABEL_H = 16
COLORS = {"change": "#7b4fd6", "onset": "#d62728", "alert": "#ff7f0e", "diagnosis": "#6b6b6b", "decision": "#1f77b4",
          "action": "#2ca02c", "recovery": "#17becf", "escalation": "#8c1d18"}
CURVE = "#333333"


@dataclass(frozen=True)
class Mark:
    at: datetime
    kind: str             # a key of COLORS
    label: str            # shown in full; empty: a tick on the axis only


@dataclass(frozen=True)
class Curve:
    title: str            # "error_rate_5xx (Shop/Service)"
    points: list[tuple[datetime, float]]
    baseline: float | None = None
    unit: str = ""


def text_width(text: str, size: float = 11) -> float:
    wide = sum(1 for c in text if c.isupper() or c in "mwMW@%")
    return (len(text) + 0.35 * wide) * CHAR_W * size / 11


def place_labels(items: list[tuple[float, float]], left: float, right: float, gap: float = 10) -> list[tuple[int, float]]:
    """(row, x of the label's left edge) for labels given as (x of the mark, width), in order.

    Row 0 is nearest the plot; a label's leader line runs down from its row to the plot. A
    label starts just right of its mark, or ends just left of it when it would run past
    `right`; it takes the first row where it overlaps no other label, no leader line crosses
    it, and its own leader crosses no label below it."""
    placed: list[tuple[int, float, float, float]] = []      # row, left edge, right edge, mark x
    out = []
    for x, w in items:
        right_of = x + 4 if x + 4 + w <= right else None
        left_of = max(left, x - 4 - w) if x - 4 - w >= left or right_of is None else None
        anchors = [a for a in (right_of, left_of) if a is not None]

        def free(row: int, a: float, leaders: bool) -> bool:
            b = a + w
            return not any((r == row and a < pb + gap and pa < b + gap)
                           or (leaders and r > row and a - 3 <= px <= b + 3)
                           or (leaders and r < row and pa - 3 <= x <= pb + 3) for r, pa, pb, px in placed)
        # the lowest row (either side of the mark) where no leader crosses a label, else the lowest it fits in
        choice = next(((r, a) for r in range(len(placed) + 1) for a in anchors if free(r, a, True)), None)
        if choice is None:
            choice = next((r, a) for r in range(len(placed) + 1) for a in anchors if free(r, a, False))
        row, a = choice
        placed.append((row, a, a + w, x))
        out.append((row, a))
    return out


def _nice_step(span_s: float, max_ticks: int = 8) -> timedelta:
    for minutes in (1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440):
        if span_s / (minutes * 60) <= max_ticks:
            return timedelta(minutes=minutes)
    return timedelta(days=math.ceil(span_s / 86400 / max_ticks))


def _nice_range(lo: float, hi: float) -> tuple[float, float, float]:
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / 3
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    return math.floor(lo / step) * step, math.ceil(hi / step) * step, step


def _fmt(v: float) -> str:
    if abs(v) >= 1e6:
        return f"{v / 1e6:g}M"
    if abs(v) >= 1e4:
        return f"{v / 1e3:g}k"
    return f"{v:.4g}"


def timeline_chart(curves: list[Curve], marks: list[Mark], start: datetime, end: datetime, *, title: str,
                   shade: tuple[datetime, datetime] | None = None, width: int = 960) -> str:
    left, right = 70, width - 20
    plot_w = right - left
    span = max((end - start).total_seconds(), 60.0)

    def x_of(t: datetime) -> float:
        return left + plot_w * min(max((t - start).total_seconds() / span, 0.0), 1.0)

    labelled = [m for m in sorted(marks, key=lambda m: m.at) if m.label]
    placed = place_labels([(x_of(m.at), text_width(m.label)) for m in labelled], left - 60, width - 4)
    rows = 1 + max((r for r, _ in placed), default=-1)
    band_top = 46
    plot_top = band_top + rows * LABEL_H + 14
    panel_h, panel_gap = 118, 30
    panels = curves or [Curve(title="no metric data for this window", points=[])]
    plot_bottom = plot_top + len(panels) * (panel_h + panel_gap) - panel_gap
    height = plot_bottom + 62
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
           f'font-family="{FONT}" font-size="11" role="img" aria-label="{escape(title)}">',
           f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
           f'<text x="{left}" y="20" font-size="14" font-weight="bold">{escape(title)}</text>',
           f'<text x="{left}" y="37" fill="#555">{start:%Y-%m-%d %H:%M} – {end:%H:%M} UTC'
           + (f' (to {end:%Y-%m-%d})' if end.date() != start.date() else "") + '</text>']
    if shade:
        a, b = x_of(shade[0]), x_of(shade[1])
        out.append(f'<rect x="{a:.1f}" y="{plot_top}" width="{max(b - a, 1):.1f}" height="{plot_bottom - plot_top}" '
                   f'fill="#d62728" fill-opacity="0.07"><title>impact: {shade[0]:%H:%M:%S} – {shade[1]:%H:%M:%S}</title></rect>')
    # time grid and axis
    step = _nice_step(span)
    tick = datetime.fromtimestamp(math.ceil(start.timestamp() / step.total_seconds()) * step.total_seconds(), start.tzinfo)
    while tick <= end:
        x = x_of(tick)
        out.append(f'<line x1="{x:.1f}" y1="{plot_top}" x2="{x:.1f}" y2="{plot_bottom}" stroke="#eeeeee"/>')
        out.append(f'<text x="{x:.1f}" y="{plot_bottom + 16}" text-anchor="middle" fill="#555">{tick:%H:%M}</text>')
        tick += step
    # panels
    for i, curve in enumerate(panels):
        top = plot_top + i * (panel_h + panel_gap)
        out.append(f'<rect x="{left}" y="{top}" width="{plot_w}" height="{panel_h}" fill="none" stroke="#cccccc"/>')
        out.append(f'<text x="{left + 6}" y="{top + 14}" font-weight="bold" fill="#222">{escape(curve.title)}</text>')
        pts = [(t, v) for t, v in curve.points if start <= t <= end]
        if not pts:
            continue
        values = [v for _, v in pts] + ([curve.baseline] if curve.baseline is not None else [])
        lo, hi, ystep = _nice_range(min(values), max(values))

        def y_of(v: float, top: float = top, lo: float = lo, hi: float = hi) -> float:
            return top + 22 + (panel_h - 30) * (1 - (v - lo) / (hi - lo))
        v = lo
        while v <= hi + ystep / 2:
            y = y_of(v)
            out.append(f'<line x1="{left - 4}" y1="{y:.1f}" x2="{left}" y2="{y:.1f}" stroke="#999"/>')
            out.append(f'<text x="{left - 7}" y="{y + 4:.1f}" text-anchor="end" fill="#555">{_fmt(v)}</text>')
            v += ystep
        if curve.baseline is not None:
            y = y_of(curve.baseline)
            out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="#888" stroke-dasharray="5 4">'
                       f'<title>baseline {_fmt(curve.baseline)}{escape(curve.unit)}</title></line>')
        steps = sorted((b[0] - a[0]).total_seconds() for a, b in zip(pts, pts[1:]))
        gap_s = 2.5 * (steps[len(steps) // 2] if steps else 60)     # no data for longer than that: no line
        path = " ".join(f"{'M' if n == 0 or (t - pts[n - 1][0]).total_seconds() > gap_s else 'L'}"
                        f"{x_of(t):.1f},{y_of(v):.1f}" for n, (t, v) in enumerate(pts))
        out.append(f'<path d="{path}" fill="none" stroke="{CURVE}" stroke-width="1.6"/>')
        for t, v in pts[-1:]:
            out.append(f'<circle cx="{x_of(t):.1f}" cy="{y_of(v):.1f}" r="2.5" fill="{CURVE}"/>')
    # marks: a line through every panel, a tick below the axis, the label in its row
    for m in sorted(marks, key=lambda m: m.at):
        x, color = x_of(m.at), COLORS.get(m.kind, "#444")
        dash = "" if m.kind in ("action", "decision", "recovery") else ' stroke-dasharray="3 3"'
        out.append(f'<line x1="{x:.1f}" y1="{plot_top}" x2="{x:.1f}" y2="{plot_bottom}" stroke="{color}" '
                   f'stroke-width="1.3"{dash}><title>{m.at:%H:%M:%S} {escape(m.label or m.kind)}</title></line>')
        out.append(f'<path d="M{x - 4:.1f},{plot_bottom + 26} L{x + 4:.1f},{plot_bottom + 26} L{x:.1f},{plot_bottom + 20} Z" '
                   f'fill="{color}"/>')
    for (row, x0), m in zip(placed, labelled):
        x, color = x_of(m.at), COLORS.get(m.kind, "#444")
        y = band_top + (rows - 1 - row) * LABEL_H + 11
        out.append(f'<line x1="{x:.1f}" y1="{y + 3}" x2="{x:.1f}" y2="{plot_top}" stroke="{color}" stroke-width="0.8" '
                   f'stroke-opacity="0.6"/>')
        # a label left of its mark ends exactly at it (the width estimate only decides the room it takes)
        anchor = f'x="{x - 4:.1f}" text-anchor="end"' if x0 < x else f'x="{x0:.1f}"'
        out.append(f'<text {anchor} y="{y}" fill="{color}" stroke="#ffffff" stroke-width="3" paint-order="stroke">{escape(m.label)}<title>{m.at:%Y-%m-%d %H:%M:%S} UTC</title></text>')
    # legend
    lx, ly = left, plot_bottom + 46
    for kind in [k for k in COLORS if any(m.kind == k for m in marks)]:
        out.append(f'<rect x="{lx}" y="{ly - 9}" width="10" height="10" fill="{COLORS[kind]}"/>')
        out.append(f'<text x="{lx + 14}" y="{ly}" fill="#333">{kind}</text>')
        lx += 24 + text_width(kind)
    if shade:
        out.append(f'<rect x="{lx}" y="{ly - 9}" width="10" height="10" fill="#d62728" fill-opacity="0.2"/>')
        out.append(f'<text x="{lx + 14}" y="{ly}" fill="#333">impact window</text>')
    out.append("</svg>")
    return "\n".join(out)
