"""Runbooks load and validate; approval links resist tampering; audit chains show edits."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from watchkeeper.adapters.dynamodb_audit import record_hash, verify_chain
from watchkeeper.domain import runbooks
from watchkeeper.domain.approval_tokens import InvalidToken, email_subject, sign, verify
from watchkeeper.models import AuditRecord, Incident, RootCause, Service

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 25, 3, 0, tzinfo=timezone.utc)


def test_every_runbook_in_the_repo_loads():
    books = runbooks.load_runbooks(REPO / "runbooks")
    names = {b.name for b in books}
    assert {"high-latency-api", "oom-kill", "deployment-rollback"} <= names


def test_an_unknown_field_is_an_error_naming_file_line_and_field(tmp_path):
    (tmp_path / "bad.yaml").write_text("name: x\ntitle: t\ntrigger:\n  root_cause: [bad_deploy]\nsteps:\n  - action: rollback_deployment\n")
    with pytest.raises(runbooks.RunbookError) as info:
        runbooks.load_runbooks(tmp_path)
    assert "bad.yaml:4" in str(info.value) and "root_cause" in str(info.value)


def test_an_unknown_action_is_refused(tmp_path):
    (tmp_path / "x.yaml").write_text("name: x\ntitle: t\ntrigger: {}\nsteps:\n  - action: run_shell\n")
    with pytest.raises(runbooks.RunbookError, match="steps.0.action"):
        runbooks.load_runbooks(tmp_path)


@pytest.mark.parametrize("kind,first_write,decision", [
    ("bad_deploy", "rollback_deployment", "approve"),
    ("config_change", "revert_config", "approve"),
    ("memory_leak", "restart_pods", "approve"),
    ("traffic_surge", "scale_service", "approve"),
    ("dependency_failure", None, "escalate"),
    ("security_event", None, "escalate"),
    ("unknown", None, "escalate"),
])
def test_plans_follow_the_root_cause(kind, first_write, decision):
    books = runbooks.load_runbooks(REPO / "runbooks")
    service = Service(name="web", platform="eks", cluster="c", namespace="ns", workload="web")
    incident = Incident(id="inc-1", service="web", opened_at=NOW, last_alert_at=NOW)
    cause = RootCause(kind=kind, culprit="deploy-web-2" if kind == "bad_deploy" else None, confidence=0.9, summary="")
    plan = runbooks.plan(runbooks.select(books, cause, incident, service), cause, incident, service)
    writes = [a for a in plan.actions if a.is_write]
    assert (writes[0].type if writes else None) == first_write
    assert plan.decision == decision
    if writes:
        assert writes[0].target == "eks/c/ns/web"


def test_approval_links_verify_and_refuse_tampering_and_expiry():
    key = b"k" * 32
    subject = email_subject("oncall@example.com")
    token = sign(key, "req1", subject, NOW + timedelta(minutes=10))
    parsed = verify(key, token, now=NOW)
    assert (parsed.request_id, parsed.subject, parsed.channel) == ("req1", subject, "web")
    with pytest.raises(InvalidToken, match="not genuine"):
        verify(key, token.replace("req1", "req2"), now=NOW)
    with pytest.raises(InvalidToken, match="not genuine"):                 # another approver's link
        verify(key, token.replace(subject, email_subject("mallory@example.com")), now=NOW)
    with pytest.raises(InvalidToken, match="not genuine"):
        verify(b"other" * 8, token, now=NOW)
    with pytest.raises(InvalidToken, match="expired"):
        verify(key, token, now=NOW + timedelta(minutes=11))
    for garbage in ("garbage", "a.b.c.d", token + "é", "r.e-0123456789abcdef.²³.x", "r.e-0123456789abcdef." + "9" * 30 + ".x",
                    token.replace(".", "\u2024"), "x" * 5000):
        with pytest.raises(InvalidToken):
            verify(key, garbage, now=NOW)


def test_two_keys_are_valid_during_a_rotation():
    old, new = b"o" * 32, b"n" * 32
    token = sign(old, "req1", "s-U0123ABCD", NOW + timedelta(minutes=10))
    assert verify((new, old), token, now=NOW).subject == "s-U0123ABCD"
    assert verify((new, old), sign((new, old), "req1", "c-slack", NOW + timedelta(minutes=5)), now=NOW)
    with pytest.raises(InvalidToken):
        verify((new,), token, now=NOW)


def _chain(n):
    records, prev = [], ""
    for i in range(1, n + 1):
        r = AuditRecord(incident_id="inc", seq=i, at=NOW, step="s", kind="step", summary=f"r{i}", prev_hash=prev)
        r.hash = record_hash(r)
        records.append(r)
        prev = r.hash
    return records


def test_audit_chain_detects_edits_and_gaps():
    records = _chain(4)
    assert verify_chain(records) == []
    edited = [r.model_copy() for r in records]
    edited[1].summary = "nothing happened"
    assert any("does not match" in p for p in verify_chain(edited))
    assert any("gap" in p for p in verify_chain(records[:1] + records[2:]))
