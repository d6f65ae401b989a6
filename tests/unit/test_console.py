"""Terminal output a person reads: whole words and ids at 80 columns, piped (no terminal) or wide."""
from __future__ import annotations

import io
from datetime import datetime, timezone

import pytest
from rich.console import Console

from watchkeeper.local.console import audit_table, incidents_view, metrics_view, replay_view
from watchkeeper.models import AuditRecord

NOW = datetime(2026, 9, 21, tzinfo=timezone.utc)
ID = "inc-storefront-bff-20260920T210420-c8eb1f"
RESULT = {"scenario": "s", "alerts": {"received": 4, "invalid": 0, "resolved": 1}, "incidents": [
    {"id": ID, "service": "storefront-bff", "alerts": 3, "category": "availability", "severity": "critical",
     "root_cause": {"kind": "bad_deploy", "culprit": "deploy-storefront-bff-357", "confidence": 0.95},
     "runbook": "deployment-rollback", "status": "awaiting_approval", "report": None,
     "actions": [{"type": "rollback_deployment", "target": "eks/prod-eks/shop/storefront-bff", "status": "planned",
                  "blocked_by": None}]}]}


def render(renderable, width: int) -> str:
    out = io.StringIO()
    Console(file=out, width=width, force_terminal=False, color_system=None).print(renderable)
    return out.getvalue()


@pytest.mark.parametrize("width", [80, 100, 130, 200])
def test_replay_and_incidents_never_cut_a_cell(width):
    for text in (render(replay_view(RESULT, width), width),
                 render(incidents_view([{"id": ID, "service": "storefront-bff", "status": "awaiting_approval",
                                         "severity": "critical", "category": "availability", "opened_at": NOW,
                                         "deliveries": 3, "title": "storefront-bff: availability (2 alerts)",
                                         "report": None}], width, NOW, "local state"), width)):
        assert "…" not in text and ID in text and "awaiting_approval" in text
        assert all(len(line.rstrip()) <= width for line in text.splitlines())
    assert "deploy-storefront-bff-357" in render(replay_view(RESULT, width), width).replace("\n", "")


def test_the_audit_trail_at_80_columns_keeps_each_short_column_on_one_line():
    records = [AuditRecord(incident_id=ID, seq=n, at=NOW, step="Wait for approval", kind="decision",
                           summary="approved by oncall@example.com via web from 127.0.0.1", actor="oncall@example.com")
               for n in range(1, 12)]
    text = render(audit_table(records, ID, 80), 80)
    rows = [line for line in text.splitlines() if "00:00:00" in line]
    assert len(rows) == 11 and all("Wait for approval" in r for r in rows)     # time and step never wrap
    assert "(by oncall@example.com)" not in text                                # the summary names the approver
    assert all(len(line.rstrip()) <= 80 for line in text.splitlines())


def test_metrics_read_as_values_with_units():
    text = render(metrics_view([{"name": "TimeToDiagnosis", "value": 85.7, "unit": "Seconds",
                                 "dimensions": {"account": "local", "service": "web"}}]), 80)
    assert "TimeToDiagnosis" in text and "85.7 s" in text and "web" in text
