"""Each handler with in-memory fakes behind the ports: parse input, call the domain, return the model."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from watchkeeper.composition import container
from watchkeeper.domain import runbooks
from watchkeeper.domain.evidence import EvidenceGatherer
from watchkeeper.handlers import classify, diagnose, escalate, execute, gather, plan, report, request_approval, verify
from watchkeeper.local.runtime import LambdaContext
from watchkeeper.models import AlertRef, ChangeEvent, Incident, Service, ServiceCatalog
from watchkeeper.ports import LogEvent, MetricSeries
from watchkeeper.steps import Steps

from .fakes import (FakeAlarms, FakeAudit, FakeChanges, FakeExecutor, FakeKillSwitch, FakeLogs, FakeMetrics,
                    FakePager, FakeReports, FakeStore)

NOW = datetime(2026, 9, 20, 21, 4, tzinfo=timezone.utc)
DEPLOY = NOW - timedelta(minutes=14)
CTX = LambdaContext(function_name="test")
CATALOG = ServiceCatalog(services=[Service(name="web", platform="eks", cluster="prod", namespace="shop", workload="web",
                                           log_group="/eks/web")])


def _incident():
    alerts = [AlertRef(delivery_id=f"d{i}", fingerprint="cloudwatch:web-5xx", source="cloudwatch-sns", status="firing",
                       title="web-5xx", received_at=NOW + timedelta(seconds=i), service="web", category="availability",
                       alarm_name="web-5xx") for i in range(2)]
    return Incident(id="inc-web-1", service="web", opened_at=NOW, last_alert_at=NOW, alerts=alerts)


def _world():
    points = [(NOW - timedelta(minutes=180 - i), 0.2 if NOW - timedelta(minutes=180 - i) < DEPLOY + timedelta(minutes=2)
               else 8.0) for i in range(180)]
    logs = [LogEvent(at=NOW - timedelta(minutes=180 - i), message="INFO request completed status=200", log_group="/eks/web")
            for i in range(0, 180, 2)]
    logs += [LogEvent(at=DEPLOY + timedelta(minutes=3, seconds=i * 20), message=f"ERROR NullPointerException in CartMapper line {i}",
                      log_group="/eks/web") for i in range(30)]
    change = ChangeEvent(id="deploy-web-42", kind="deploy", service="web", at=DEPLOY, revision="42", previous_revision="41")
    return FakeLogs(logs), FakeMetrics([MetricSeries("web", "App", "error_rate_5xx", None, points)]), FakeChanges([change])


@pytest.fixture
def world(monkeypatch):
    logs, metrics, changes = _world()
    store, audit, executor, pager, reports = FakeStore([_incident()]), FakeAudit(), FakeExecutor(), FakePager(), FakeReports()
    steps = Steps(catalog=CATALOG, store=store, audit=audit, gatherer=EvidenceGatherer(CATALOG, logs, metrics, changes),
                  executor=executor, pager=pager, reports=reports, alarms=FakeAlarms({"web-5xx": "OK"}),
                  kill_switch=FakeKillSwitch(), approvals=store, runbooks=runbooks.load_runbooks(
                      Path(__file__).resolve().parents[2] / "runbooks"), metrics=metrics, signing_key=b"k" * 32,
                  approval_url="https://approvals.example.com")
    c = container()
    monkeypatch.setattr(c, "_steps", steps, raising=False)
    return steps


def test_the_whole_chain_of_handlers(world):
    state = {"incident_id": "inc-web-1", "settle_seconds": 0}
    state["incident"] = classify.handler(state, CTX)
    assert state["incident"]["category"] == "availability" and state["incident"]["status"] == "open"
    state["evidence"] = gather.handler(state, CTX)
    assert any(i["type"] == "log_template" and "new_since:deploy-web-42" in i["signals"] for i in state["evidence"]["items"])
    state["diagnosis"] = diagnose.handler(state, CTX)
    assert (state["diagnosis"]["kind"], state["diagnosis"]["culprit"]) == ("bad_deploy", "deploy-web-42")
    state["plan"] = plan.handler(state, CTX)
    assert state["plan"]["decision"] == "approve" and state["plan"]["actions"][0]["type"] == "rollback_deployment"
    request = request_approval.handler({**state, "task_token": "tok-1"}, CTX)
    pending = world.approvals.get_approval(request["request_id"])
    assert pending["task_token"] == "tok-1" and pending["status"] == "pending"
    assert pending["summary"]["proposed"][0]["pin"]["summary"]          # the approvers see the exact target
    world.approvals.decide_approval(request["request_id"], "approved")
    state["approval"] = {"approved": True, "decided_by": "oncall@example.com"}
    state["execution"] = execute.handler(state, CTX)
    assert state["execution"]["status"] == "executed"
    # the approval request previewed the rollback as a dry run; only the execute step wrote
    assert world.executor.calls == [("rollback_deployment", "eks/prod/shop/web", True),
                                    ("rollback_deployment", "eks/prod/shop/web", False)]
    state["verification"] = verify.handler(state, CTX)
    assert state["verification"]["status"] == "recovered"
    state["report"] = report.handler(state, CTX)
    assert state["report"]["status"] == "mitigated"
    markdown = world.reports.objects["reports/inc-web-1/report.md"].decode()
    assert "deploy-web-42" in markdown and "timeline.svg" in markdown
    kinds = [r.kind for r in world.audit.records("inc-web-1")]
    assert kinds.index("intent") < kinds.index("outcome")


def test_execute_without_approval_blocks_every_write(world):
    state = {"incident_id": "inc-web-1", "settle_seconds": 0}
    state["incident"] = classify.handler(state, CTX)
    state["evidence"] = gather.handler(state, CTX)
    state["diagnosis"] = diagnose.handler(state, CTX)
    state["plan"] = plan.handler(state, CTX)
    out = execute.handler({**state, "approval": {"approved": False}}, CTX)
    assert out["status"] == "blocked" and out["results"][0]["blocked_by"] == "approval"
    assert world.executor.calls == []


def test_kill_switch_blocks_and_is_audited(world):
    world.kill_switch.on = True
    state = {"incident_id": "inc-web-1", "settle_seconds": 0}
    state["incident"] = classify.handler(state, CTX)
    state["evidence"] = gather.handler(state, CTX)
    state["diagnosis"] = diagnose.handler(state, CTX)
    state["plan"] = plan.handler(state, CTX)
    out = execute.handler({**state, "approval": {"approved": True}}, CTX)
    assert out["results"][0]["blocked_by"] == "kill_switch" and world.executor.calls == []
    assert any("kill_switch" in r.summary for r in world.audit.records("inc-web-1"))


def test_escalate_pages_with_the_reason(world):
    out = escalate.handler({"incident_id": "inc-web-1", "error": {"Error": "RuntimeError", "Cause": "disk on fire"}}, CTX)
    assert out["paged"] and "disk on fire" in out["reason"]
    assert world.pager.pages and "disk on fire" in world.pager.pages[0][2]


def test_verify_keeps_waiting_while_the_alarm_is_still_firing(world):
    world.alarms.values["web-5xx"] = "ALARM"
    state = {"incident": _incident().model_dump(mode="json"), "plan": {"decision": "execute", "actions": [],
                                                                        "verify": {"within_minutes": 10}}}
    first = verify.handler(state, CTX)
    assert first["status"] == "pending" and first["wait_seconds"] >= 1
