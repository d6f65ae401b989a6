"""The `watchkeeper` command as a user types it."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from typer.testing import CliRunner

from watchkeeper import commands
from watchkeeper.adapters.dynamodb_audit import record_hash
from watchkeeper.models import AuditRecord

from ..conftest import EXAMPLES

runner = CliRunner()


def _trail(home, incident_id="inc-x", n=3):
    prev, lines = "", []
    for i in range(1, n + 1):
        r = AuditRecord(incident_id=incident_id, seq=i, at=datetime(2026, 1, 1, tzinfo=timezone.utc), step="Execute actions",
                        kind="intent" if i == 2 else "step", summary=f"record {i}", prev_hash=prev)
        r.hash = record_hash(r)
        prev = r.hash
        lines.append(r.model_dump_json())
    (home / "audit").mkdir(parents=True)
    path = home / "audit" / f"{incident_id}.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_audit_prints_the_trail_and_verify_checks_the_chain(tmp_path, monkeypatch):
    monkeypatch.setattr(commands, "LOCAL_STATE", tmp_path)
    path = _trail(tmp_path)
    shown = runner.invoke(commands.app, ["audit", "inc-x"])
    assert shown.exit_code == 0 and "record 2" in shown.output and "Execute actions" in shown.output
    assert runner.invoke(commands.app, ["audit", "verify", "inc-x"]).exit_code == 0
    path.write_text(path.read_text().replace("record 2", "nothing to see"))
    tampered = runner.invoke(commands.app, ["audit", "verify", "inc-x"])
    assert tampered.exit_code == 1 and "does not match its hash" in tampered.output


def test_audit_of_an_unknown_incident_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setattr(commands, "LOCAL_STATE", tmp_path)
    result = runner.invoke(commands.app, ["audit", "inc-missing"])
    assert result.exit_code == 1 and "no local audit trail" in result.output


def test_runbooks_validate_passes_on_the_repository():
    result = runner.invoke(commands.app, ["runbooks", "validate"])
    assert result.exit_code == 0 and "runbooks valid" in result.output


@pytest.mark.statemachine
def test_replay_json_prints_only_the_document_on_stdout(tmp_path):
    result = runner.invoke(commands.app, ["replay", str(EXAMPLES / "search-api-memory-leak"), "--json"])
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["scenario"] == "search-api-memory-leak" and doc["incidents"][0]["service"] == "search-api"


def test_replay_of_an_invalid_bundle_exits_2_naming_the_field(tmp_path):
    (tmp_path / "scenario.yaml").write_text("name: broken\nnow: not-a-time\nservices: []\nalerts: []\n")
    result = runner.invoke(commands.app, ["replay", str(tmp_path), "--json"])
    assert result.exit_code == 2 and "now" in result.output
