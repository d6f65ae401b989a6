"""Rich renderings shared by the CLI and the demo."""
from __future__ import annotations

from typing import Any

from rich.table import Table

from ..models import AuditRecord

_KIND_STYLE = {"intent": "yellow", "outcome": "green", "decision": "cyan", "escalation": "red", "failure": "red",
               "report": "magenta"}


def audit_table(records: list[AuditRecord], incident_id: str) -> Table:
    table = Table(title=f"Audit trail of {incident_id}", show_lines=False)
    for col in ("#", "time (UTC)", "step", "kind", "actor", "what"):
        table.add_column(col)
    for r in records:
        style = _KIND_STYLE.get(r.kind, "")
        table.add_row(str(r.seq), f"{r.at:%H:%M:%S}", r.step, f"[{style}]{r.kind}[/{style}]" if style else r.kind,
                      r.actor, r.summary)
    return table


def evidence_table(diagnosis: dict[str, Any], evidence: dict[str, Any]) -> Table:
    items = {i["id"]: i for i in evidence.get("items", [])}
    table = Table(title="Evidence behind the diagnosis")
    for col in ("id", "type", "what it shows"):
        table.add_column(col)
    for ev_id in diagnosis.get("evidence", []):
        item = items.get(ev_id)
        if item:
            table.add_row(ev_id, item["type"], item["detail"])
    return table
