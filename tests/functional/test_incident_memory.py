"""The incident memory (MEMORY# items on the state table, moto): remembered by the report step,
surfaced as evidence by Gather, used in confidence, and corrected by approvers."""
from __future__ import annotations

from datetime import timedelta

from watchkeeper.adapters.dynamodb_audit import DynamoDBAuditLog  # noqa: F401  (the audit port the API uses)
from watchkeeper.adapters.dynamodb_memory import DynamoDBIncidentMemory
from watchkeeper.corrections import InvalidCorrection, record_correction
from watchkeeper.domain.diagnose import DeterministicAnalyzer
from watchkeeper.domain.evidence import EvidenceGatherer
from watchkeeper.models import ChangeEvent, PastIncident
from watchkeeper.steps import _remember_past

import pytest

from .fakes import FakeChanges, FakeLogs, FakeMetrics
from .test_template_history import CATALOG, DAY1, DAY2, _incident, _window, ddb  # noqa: F401  (fixture)


class _Audit:
    def __init__(self):
        self.records = []

    def append(self, incident_id, step, kind, summary, detail=None, actor="watchkeeper"):
        self.records.append((incident_id, step, kind, summary, detail, actor))


def _gather(ddb, n, end, memory):
    incident = _incident(n, end)
    deploy = end - timedelta(minutes=14)
    logs, series = _window(end, deploy, extra="ERROR NullPointerException in CartMapper line")
    change = ChangeEvent(id=f"deploy-web-{n}", kind="deploy", service="web", at=deploy, revision="42",
                         previous_revision="41")
    gatherer = EvidenceGatherer(CATALOG, FakeLogs(logs), FakeMetrics([series]), FakeChanges([change]), memory=memory)
    evidence = gatherer.gather(incident)
    return incident, evidence, DeterministicAnalyzer(CATALOG).diagnose(incident, evidence)


def _report(memory, incident, evidence, cause, outcome="mitigated", actions=("rollback_deployment",)):
    state = {"approval": {"approved": True, "decided_by": "dana@example.com", "reason": "looks right"}}
    past = _remember_past(state, incident, evidence, cause, None,
                          {"status": outcome, "results": [{"type": a, "status": "executed"} for a in actions]})
    memory.remember(past)
    return past


def test_a_handled_incident_is_remembered_with_its_fingerprint_cause_actions_and_decisions(ddb):
    memory = DynamoDBIncidentMemory("state", ddb)
    incident, evidence, cause = _gather(ddb, 1, DAY1, memory)
    _report(memory, incident, evidence, cause)

    (past,) = memory.recall("web")
    assert past.incident_id == incident.id and past.root_cause == "bad_deploy"
    assert past.fingerprint and any(f.startswith("log:") for f in past.fingerprint)
    assert past.actions == ["rollback_deployment"] and past.outcome == "mitigated"
    assert past.decisions[0].by == "dana@example.com" and past.decisions[0].approved


def test_similar_past_incidents_are_evidence_and_firm_up_the_confidence(ddb):
    memory = DynamoDBIncidentMemory("state", ddb)
    for n in (1, 2):
        incident, evidence, cause = _gather(ddb, n, DAY1 + timedelta(days=n), memory)
        _report(memory, incident, evidence, cause)
    before = cause.confidence

    incident, evidence, cause = _gather(ddb, 3, DAY2 + timedelta(days=3), memory)

    history = next(i for i in evidence.items if i.type == "history")
    assert history.detail.startswith("2 similar incidents of web since")
    assert "rollback_deployment fixed 2" in history.detail
    assert history.id in cause.evidence
    assert cause.confidence >= before


def test_a_correction_is_audited_remembered_and_used_next_time(ddb):
    memory = DynamoDBIncidentMemory("state", ddb)
    audit = _Audit()
    incident, evidence, cause = _gather(ddb, 1, DAY1, memory)
    assert cause.kind == "bad_deploy" and cause.confidence >= 0.8
    _report(memory, incident, evidence, cause, outcome="escalated", actions=())

    record_correction(audit, memory, incident.id, "web", "dependency_failure", "cart-db", "dana@example.com", "web",
                      was="bad_deploy", reason="the pool timeouts were the database")
    # a retried report step does not erase the correction
    _report(memory, incident, evidence, cause, outcome="escalated", actions=())

    (past,) = memory.recall("web")
    assert (past.corrected_root_cause, past.corrected_culprit, past.corrected_by) == \
        ("dependency_failure", "cart-db", "dana@example.com")
    assert audit.records[0][1] == "Correct root cause" and audit.records[0][5] == "dana@example.com"

    incident, evidence, again = _gather(ddb, 2, DAY2, memory)
    history = next(i for i in evidence.items if i.type == "history")
    assert "approvers corrected 1: bad_deploy -> dependency_failure" in history.detail
    # the same reading again is no longer sure enough to act alone
    assert again.kind != "bad_deploy" or again.confidence < 0.8


def test_an_unknown_kind_is_refused_and_changes_nothing(ddb):
    memory = DynamoDBIncidentMemory("state", ddb)
    audit = _Audit()
    with pytest.raises(InvalidCorrection):
        record_correction(audit, memory, "inc-1", "web", "gremlins", None, "dana@example.com", "web")
    assert not audit.records and memory.recall("web") == []


def test_memory_that_cannot_be_read_leaves_the_diagnosis_to_todays_evidence(ddb):
    class Broken:
        def recall(self, service, limit=50):
            raise RuntimeError("throttled")

    incident, evidence, cause = _gather(ddb, 1, DAY1, Broken())
    assert not [i for i in evidence.items if i.type == "history"]
    assert any("incident memory of web unavailable" in n for n in evidence.notes)
    assert cause.kind == "bad_deploy"


def test_past_incident_round_trips():
    p = PastIncident(incident_id="i", service="s", opened_at=DAY1, corrected_root_cause="disk_full")
    assert p.true_root_cause == "disk_full"
