"""The post-incident report: Markdown for people, with an SVG timeline chart.

The chart is drawn as plain SVG (a few dozen lines) rather than with matplotlib, so the
report step needs no 60 MB plotting stack in its Lambda bundle.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any

from ..models import AuditRecord, Evidence, Incident, RemediationPlan, RootCause


@dataclass(frozen=True)
class TimelineEvent:
    at: datetime
    lane: str            # alert | change | onset | action | decision
    label: str


def timeline(incident: Incident, evidence: Evidence | None, audit: list[AuditRecord]) -> list[TimelineEvent]:
    events: list[TimelineEvent] = []
    seen: set[str] = set()
    for a in incident.alerts:
        if a.fingerprint not in seen:
            seen.add(a.fingerprint)
            events.append(TimelineEvent(a.received_at, "alert", f"{a.title} ({a.source})"))
    if evidence:
        involved = {incident.service, *incident.suspects}
        for c in evidence.changes:
            if c.service in involved:
                events.append(TimelineEvent(c.at, "change", f"{c.kind} {c.id}"))
        if evidence.onset:
            events.append(TimelineEvent(evidence.onset, "onset", "onset of the deviation"))
    for r in audit:
        if r.kind in ("intent", "outcome", "decision", "escalation"):
            events.append(TimelineEvent(r.at, "action" if r.kind in ("intent", "outcome") else "decision", r.summary))
    return sorted(events, key=lambda e: e.at)


_LANES = ["change", "onset", "alert", "decision", "action"]
_COLORS = {"change": "#7b4fd6", "onset": "#d62728", "alert": "#ff7f0e", "decision": "#1f77b4", "action": "#2ca02c"}


def timeline_svg(events: list[TimelineEvent], width: int = 900) -> str:
    """A lane per kind of event on one time axis; labels on hover and beside each mark."""
    if not events:
        return '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>'
    # incident-time events and wall-clock actions may be far apart: give each its own segment
    segments = _segments(events)
    lane_h, left, top = 56, 90, 40
    height = top + lane_h * len(_LANES) + 40
    seg_w = (width - left - 20) / len(segments)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">',
             f'<text x="{left}" y="18" font-size="13" font-weight="bold">Incident timeline (UTC)</text>']
    for i, lane in enumerate(_LANES):
        y = top + lane_h * i + lane_h / 2
        parts.append(f'<text x="8" y="{y + 4}" fill="#333">{lane}</text>')
        parts.append(f'<line x1="{left}" y1="{y}" x2="{width - 20}" y2="{y}" stroke="#ddd"/>')
    for s, (start, end) in enumerate(segments):
        x0 = left + s * seg_w
        span = max((end - start).total_seconds(), 60.0)
        parts.append(f'<text x="{x0 + 2}" y="{height - 10}" fill="#666">{start:%H:%M}</text>')
        parts.append(f'<text x="{x0 + seg_w - 36}" y="{height - 10}" fill="#666">{end:%H:%M}</text>')
        if s:
            parts.append(f'<line x1="{x0}" y1="{top}" x2="{x0}" y2="{height - 30}" stroke="#999" stroke-dasharray="4 3"/>')
        for n, e in enumerate(ev for ev in events if start <= ev.at <= end):
            x = x0 + 8 + (seg_w - 16) * (e.at - start).total_seconds() / span
            y = top + lane_h * _LANES.index(e.lane) + lane_h / 2
            color = _COLORS[e.lane]
            parts.append(f'<circle cx="{x:.1f}" cy="{y}" r="5" fill="{color}"><title>{e.at:%H:%M:%S} {escape(e.label)}</title></circle>')
            parts.append(f'<text x="{x + 7:.1f}" y="{y - 6 - (n % 3) * 10}" fill="{color}">{escape(e.label[:34])}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def _segments(events: list[TimelineEvent]) -> list[tuple[datetime, datetime]]:
    segments: list[list[datetime]] = []
    for e in events:
        if segments and (e.at - segments[-1][1]).total_seconds() <= 6 * 3600:
            segments[-1][1] = e.at
        else:
            segments.append([e.at, e.at])
    return [(a, b) for a, b in segments]


def render_markdown(incident: Incident, evidence: Evidence | None, cause: RootCause | None,
                    plan: RemediationPlan | None, outcome: dict[str, Any], audit: list[AuditRecord],
                    chart_name: str | None) -> str:
    lines = [f"# Post-incident report: {incident.title or incident.service}", ""]
    lines += [f"- **Incident:** `{incident.id}`",
              f"- **Service:** {incident.service} ({incident.category}, {incident.severity})",
              f"- **Opened:** {incident.opened_at:%Y-%m-%d %H:%M:%S} UTC, {incident.deliveries} alert deliveries",
              f"- **Outcome:** {outcome.get('status', 'unknown')} — {outcome.get('summary', '')}", ""]
    if chart_name:
        lines += [f"![Timeline]({chart_name})", ""]
    lines += ["## Root cause", ""]
    if cause:
        lines += [f"**{cause.kind}**" + (f" — culprit `{cause.culprit}`" if cause.culprit else "")
                  + f" (confidence {cause.confidence:.2f}, {cause.analyzer})", "", cause.summary, ""]
        if evidence:
            cited = [i for i in evidence.items if i.id in cause.evidence]
            if cited:
                lines += ["| evidence | what it shows |", "|---|---|"]
                lines += [f"| {i.id} ({i.type}) | {i.detail.replace('|', '/')} |" for i in cited]
                lines.append("")
        if len(cause.hypotheses) > 1:
            lines += ["Other hypotheses considered: " + ", ".join(
                f"{h.kind}{' ' + h.culprit if h.culprit else ''} ({h.score:.2f})" for h in cause.hypotheses[1:]), ""]
    else:
        lines += ["Not diagnosed.", ""]
    lines += ["## Remediation", ""]
    if plan:
        lines += [f"Runbook: `{plan.runbook or 'none'}` — {plan.reason}", ""]
        for a in plan.actions:
            lines.append(f"- `{a.type}` on `{a.target}`" + (" (approval required)" if a.requires_approval else ""))
        lines.append("")
    for r in outcome.get("results", []):
        lines.append(f"- {r.get('type')}: **{r.get('status')}** {r.get('api_call', '')}"
                     + (f" — blocked by `{r['blocked_by']}`" if r.get("blocked_by") else "")
                     + (f" — {r['error']}" if r.get("error") else ""))
        if r.get("diff"):
            lines += ["", "```diff", r["diff"], "```"]
    lines += ["", "## Timeline", "", "| time (UTC) | what |", "|---|---|"]
    for e in timeline(incident, evidence, audit):
        lines.append(f"| {e.at:%Y-%m-%d %H:%M:%S} | {e.lane}: {e.label.replace('|', '/')} |")
    lines += ["", "## Audit trail", ""]
    for r in audit:
        lines.append(f"{r.seq}. {r.at:%H:%M:%S} [{r.step}] {r.kind}: {r.summary} (by {r.actor})")
    lines.append("")
    return "\n".join(lines)
