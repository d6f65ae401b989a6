"""Rich renderings shared by the CLI and the demo, readable at 80 columns and when piped.

A wide table only where it fits; below that, one block per row (a title line, then
`key  value` lines with a hanging indent), so no cell is ever cut to a few characters.
Piped output has no terminal width: rich assumes 80 columns, and so do these layouts.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from ..models import AuditRecord

_KIND_STYLE = {"intent": "yellow", "outcome": "green", "decision": "cyan", "escalation": "red", "failure": "red",
               "report": "magenta"}
_STATUS_STYLE = {"mitigated": "green", "resolved": "green", "escalated": "red", "failed": "red",
                 "awaiting_approval": "yellow", "open": "yellow", "planned": "cyan", "merged": "dim"}
WIDE = 130       # below this (and piped, where rich assumes 80 columns) one block per row


def width_of(console: Console | None) -> int:
    return console.width if console is not None else 80


def audit_table(records: list[AuditRecord], incident_id: str, width: int = 80) -> Table:
    """The trail as `#  time  step  what`: the summary wraps under itself, the short columns never do."""
    table = Table(title=f"Audit trail of {incident_id}", box=box.SIMPLE_HEAD, pad_edge=False, expand=False,
                  title_justify="left")
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("time", no_wrap=True)
    table.add_column("step", no_wrap=width >= 90, min_width=9, max_width=18 if width < 90 else None)
    table.add_column("what", overflow="fold", ratio=1, min_width=30)
    for r in records:
        style = _KIND_STYLE.get(r.kind, "")
        what = Text()
        if r.kind != "step":
            what.append(f"{r.kind}: ", style=style or None)
        what.append(r.summary)
        if r.actor != "watchkeeper" and r.actor not in r.summary:
            what.append(f" (by {r.actor})", style="dim")
        table.add_row(str(r.seq), f"{r.at:%H:%M:%S}", r.step, what)
    return table


def evidence_table(diagnosis: dict[str, Any], evidence: dict[str, Any], width: int = 80) -> Table:
    items = {i["id"]: i for i in evidence.get("items", [])}
    table = Table(title="Evidence behind the diagnosis", box=box.SIMPLE_HEAD, pad_edge=False, title_justify="left")
    table.add_column("id", no_wrap=True)
    table.add_column("type", no_wrap=True)
    table.add_column("what it shows", overflow="fold", ratio=1, min_width=30)
    for ev_id in diagnosis.get("evidence", []):
        item = items.get(ev_id)
        if item:
            table.add_row(ev_id, item["type"], item["detail"])
    return table


def records(title: str, rows: Iterable[tuple[str, list[tuple[str, str]], str]], width: int = 80) -> RenderableType:
    """One block per row: a bold heading (with a styled status at its end), then aligned `key  value` lines."""
    blocks: list[RenderableType] = [Text(title, style="bold")] if title else []
    for heading, fields, status in rows:
        head = Text(heading, style="bold")
        if status:
            head.append("  ")
            head.append(status, style=_STATUS_STYLE.get(status, ""))
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="dim", no_wrap=True)
        grid.add_column(overflow="fold")
        for key, value in fields:
            grid.add_row(key, value)
        blocks += [head, grid, Text("")]
    return Group(*blocks)


def replay_view(result: dict[str, Any], width: int) -> RenderableType:
    """`watchkeeper replay`: a table when the terminal is wide, blocks otherwise."""
    incidents = result["incidents"]
    if width >= WIDE + 30:            # eight columns, four of them never wrapped
        table = Table(box=box.SIMPLE_HEAD)
        for name in ("incident", "service", "alerts", "category"):
            table.add_column(name, no_wrap=True)
        table.add_column("root cause", overflow="fold", min_width=12)
        table.add_column("confidence", no_wrap=True)
        table.add_column("actions", overflow="fold", ratio=1, min_width=12)
        table.add_column("status", no_wrap=True)
        for inc in incidents:
            rc = inc.get("root_cause") or {}
            table.add_row(inc["id"], inc["service"] or "", str(inc["alerts"]), inc["category"] or "",
                          f"{rc.get('kind')} {rc.get('culprit') or ''}".strip(), f"{rc.get('confidence') or 0:.2f}",
                          ", ".join(f"{x['type']} ({x['status']})" for x in inc["actions"]) or "-",
                          Text(inc["status"], style=_STATUS_STYLE.get(inc["status"], "")))
        return table
    rows = []
    for inc in incidents:
        rc = inc.get("root_cause") or {}
        fields = [("service", f"{inc['service']} ({inc['category'] or '?'}, {inc.get('severity') or '?'}), "
                              f"{inc['alerts']} alert deliveries")]
        if rc:
            fields.append(("root cause", f"{rc.get('kind')} {rc.get('culprit') or ''}".strip()
                           + f" (confidence {rc.get('confidence') or 0:.2f})"))
        if inc.get("runbook"):
            fields.append(("runbook", inc["runbook"]))
        for a in inc["actions"]:
            fields.append(("action", f"{a['type']} on {a['target']}: {a['status']}"
                                     + (f" (blocked by {a['blocked_by']})" if a.get("blocked_by") else "")))
        if inc.get("report"):
            fields.append(("report", inc["report"]))
        rows.append((inc["id"], fields, inc["status"]))
    return records("", rows, width)


def metrics_view(metrics: list[dict[str, Any]]) -> RenderableType:
    """The agent's own metrics (per service where there is one), as `name  value unit` lines."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True)
    grid.add_column(no_wrap=True, justify="right")
    grid.add_column(overflow="fold")
    for m in metrics:
        value, unit = m["value"], m.get("unit") or ""
        shown = f"{value:.1f} s" if unit == "Seconds" else (f"{value:g}" if isinstance(value, (int, float)) else str(value))
        grid.add_row(m["name"], shown, m["dimensions"].get("service", "(account)"))
    return Group(Text("Watchkeeper's own metrics (CloudWatch EMF, namespace Watchkeeper)", style="bold"), grid)


def ago(at: datetime | None, now: datetime) -> str:
    if at is None:
        return "-"
    s = int((now - at).total_seconds())
    if s < 0:
        return f"{at:%Y-%m-%d %H:%M}"
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if s >= size:
            return f"{s // size} {unit} ago"
    return f"{s} s ago"


def incidents_view(rows: list[dict[str, Any]], width: int, now: datetime, where: str) -> RenderableType:
    """`watchkeeper incidents`: newest first; a table when wide, blocks otherwise."""
    rows = sorted(rows, key=lambda r: r["opened_at"] or now, reverse=True)
    footer = Text(f"{len(rows)} incident(s) · {where}", style="dim")
    if not rows:
        return Group(Text("no incidents match", style="bold"), footer)
    if width >= WIDE:
        table = Table(box=box.SIMPLE_HEAD)
        for name in ("incident", "service", "severity", "status", "opened", "alerts"):   # never cut: the title wraps
            table.add_column(name, no_wrap=True)
        table.add_column("title", overflow="fold", ratio=1, min_width=12)
        for r in rows:
            table.add_row(r["id"], r["service"] or "", r["severity"] or "",
                          Text(r["status"], style=_STATUS_STYLE.get(r["status"], "")), ago(r["opened_at"], now),
                          str(r["deliveries"] or ""), r["title"] or "")
        return Group(table, footer)
    blocks = [(r["id"], [("service", f"{r['service']} ({r['severity'] or '?'}, {r['category'] or '?'})"),
                         ("opened", f"{r['opened_at']:%Y-%m-%d %H:%M} UTC ({ago(r['opened_at'], now)})"
                          if r["opened_at"] else "-"),
                         ("title", r["title"] or "-")]
               + ([("report", r["report"])] if r.get("report") else []), r["status"]) for r in rows]
    return Group(records("", blocks, width), footer)


def incident_view(doc: dict[str, Any], width: int) -> RenderableType:
    """`watchkeeper show`: what happened, what Watchkeeper concluded and did, and where the report is."""
    inc = doc["incident"]
    parts: list[RenderableType] = []
    head = Text(inc["id"], style="bold")
    head.append("  ")
    head.append(str(inc.get("status")), style=_STATUS_STYLE.get(str(inc.get("status")), ""))
    parts.append(head)
    grid = _grid([("service", f"{inc.get('service')} ({inc.get('category')}, {inc.get('severity')})"),
                  ("title", inc.get("title") or "-"),
                  ("opened", f"{_when(inc.get('opened_at'))}, {inc.get('deliveries') or 0} alert deliveries"),
                  *[("alert", f"{_when(a['received_at'])[11:]} {a['title']} ({a['source']}"
                              + (f", {a['count']}×)" if a["count"] > 1 else ")")) for a in doc["alerts"]]])
    parts += [grid, Text("")]
    d = doc.get("diagnosis")
    parts.append(Text("Diagnosis", style="bold magenta"))
    if d:
        parts.append(_grid([("root cause", f"{d['kind']} {d.get('culprit') or ''}".strip()
                             + f" (confidence {d['confidence']:.2f}, {d.get('analyzer')})"),
                            ("summary", d.get("summary") or "")]
                           + [(e["id"], f"{e['type']}: {e['detail']}") for e in doc["evidence"]]))
    else:
        parts.append(Text("  not diagnosed yet", style="dim"))
    plan = doc.get("plan")
    parts += [Text(""), Text("Plan", style="bold")]
    if plan:
        parts.append(_grid([("runbook", f"{plan.get('runbook') or 'none'}: {plan.get('reason') or ''}"),
                            ("decision", f"{plan.get('decision')} (autonomy {plan.get('autonomy')}"
                                         + (", dry run)" if plan.get("dry_run") else ")"))]
                           + [("action", f"{a['type']} on {a['target']}"
                               + (" (approval required)" if a.get("requires_approval") else ""))
                              for a in plan.get("actions", [])]))
    else:
        parts.append(Text("  no plan yet", style="dim"))
    rows = []
    approval = doc.get("approval")
    if approval:
        verdict = approval.get("status") or ("approved" if approval.get("approved") else "rejected")
        rows.append(("approval", verdict + (f" by {approval['decided_by']}" if approval.get("decided_by") else "")
                     + (f" via {approval['channel']}" if approval.get("channel") else "")
                     + (f" at {_when(approval['decided_at'])[11:]}" if approval.get("decided_at") else "")
                     + (f", expires {_when(approval['expires_at'])[11:]}" if verdict == "pending" else "")))
    rows += [(r["kind"], f"{str(r['at'])[11:19]} {r['summary']}") for r in doc["decisions"]]
    rows += [("action", f"{a['type']} on {a['target']}: {a['status']}"
              + (f" (blocked by {a['blocked_by']})" if a.get("blocked_by") else "")
              + (f" — {a['api_call']}" if a.get("api_call") else "")) for a in doc["actions"]]
    v = doc.get("verification")
    if v:
        rows.append(("verification", f"{v['status']} after {v['attempts']} check(s)"))
    if doc.get("escalation"):
        rows.append(("paged", doc["escalation"].get("reason") or ""))
    parts += [Text(""), Text("Decisions and actions", style="bold")]
    parts.append(_grid(rows) if rows else Text("  none yet", style="dim"))
    report = doc.get("report") or {}
    parts += [Text(""), Text("Report", style="bold")]
    local = any(k.startswith("local_") for k in report)      # the emulator's S3 is gone: show the saved copies
    locations = [(k.replace("local_", "saved ").replace("_uri", "").replace("uri", "markdown"), v)
                 for k, v in report.items() if k.endswith(("uri", "url")) and v and (k.startswith("local_") or not local)]
    if report.get("status"):
        locations.insert(0, ("outcome", f"{report['status']}: {report.get('summary', '')}"))
    parts.append(_grid(locations) if locations else Text("  not written yet", style="dim"))
    parts.append(Text(f"\n{doc['audit_records']} audit records · {doc['origin']}", style="dim"))
    return Group(*parts)


def _when(value: Any) -> str:
    """`2026-09-20 21:04:20 UTC` from an ISO time (or what it was given)."""
    try:
        return f"{datetime.fromisoformat(str(value).replace('Z', '+00:00')):%Y-%m-%d %H:%M:%S} UTC"
    except ValueError:
        return str(value)


def _grid(rows: list[tuple[str, str]]) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column(overflow="fold")
    for key, value in rows:
        grid.add_row(f"  {key}", str(value))
    return grid


_MARK = {"ok": ("✓", "green"), "problem": ("✗", "bold red"), "warning": ("!", "yellow"), "skipped": ("-", "dim")}


def doctor_view(findings: list[Any], account: str) -> RenderableType:
    """One entry per check: mark, name and what was found, wrapping under itself; a problem's fix below it."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    for f in findings:
        mark, style = _MARK.get(f.status, ("?", ""))
        line = Text(f.check, style="bold")
        line.append(f": {f.detail}")
        grid.add_row(Text(mark, style=style), line)
        if f.fix and f.status in ("problem", "warning"):
            grid.add_row("", Text(f"fix: {f.fix}", style="cyan"))
    return Group(Text(f"Watchkeeper doctor: account {account}", style="bold"), grid, Text(""))
