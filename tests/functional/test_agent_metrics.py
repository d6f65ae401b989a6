"""Watchkeeper's own metrics: what each step emits, as Powertools writes it (EMF on stdout, the function's log)."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from watchkeeper.agent_metrics import AgentMetrics, read_emf
from watchkeeper.composition import container
from watchkeeper.handlers import classify, diagnose, escalate, execute, gather, plan, report, request_approval, verify
from watchkeeper.models import Incident, RootCause

from .test_handlers import CTX, NOW, world  # noqa: F401  (the fixture: handlers over fakes)


@pytest.fixture
def emitted(monkeypatch, capsys):
    """The EMF documents the handlers print, step by step; the clock runs 40 s per step from the first alert."""
    ticks = iter(range(1, 100))
    metrics = AgentMetrics("prod", clock=lambda: NOW + timedelta(seconds=40 * next(ticks)))
    monkeypatch.setattr(container(), "_agent_metrics", metrics, raising=False)

    def read() -> list[dict]:
        lines = capsys.readouterr().out.splitlines()
        docs = [json.loads(line) for line in lines if line.startswith('{"_aws"')]
        assert all(d["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Watchkeeper" for d in docs)
        return [m for m in read_emf(lines) if "service" in m["dimensions"] or m["name"].startswith("Alerts")]
    return read


def _by_name(metrics: list[dict]) -> dict[str, dict]:
    return {m["name"]: m for m in metrics}


def test_each_step_emits_its_facts_per_account_and_service(world, emitted):  # noqa: F811
    state = {"incident_id": "inc-web-1", "settle_seconds": 0}
    state["incident"] = classify.handler(state, CTX)
    assert _by_name(emitted())["IncidentsOpened"]["value"] == 1
    state["evidence"] = gather.handler(state, CTX)
    assert emitted() == []                                          # gathering is not a fact anyone counts
    state["diagnosis"] = diagnose.handler(state, CTX)
    got = _by_name(emitted())
    assert got["TimeToDiagnosis"]["unit"] == "Seconds" and got["TimeToDiagnosis"]["value"] > 0
    assert got["TimeToDiagnosis"]["dimensions"] == {"account": "prod", "service": "web"}
    assert got["Abstentions"]["value"] == 0 and "ModelCost" not in got      # no model: no model figures
    state["plan"] = plan.handler(state, CTX)
    request_approval.handler({**state, "task_token": "tok-1"}, CTX)
    emitted()
    state["approval"] = {"approved": True, "decided_by": "oncall@example.com", "decided_at": (NOW + timedelta(minutes=3)).isoformat()}
    state["execution"] = execute.handler(state, CTX)
    got = _by_name(emitted())
    assert got["ActionsExecuted"]["value"] == 1 and got["ActionsBlocked"]["value"] == 0
    state["verification"] = verify.handler(state, CTX)
    got = _by_name(emitted())
    assert got["TimeToMitigation"]["value"] > 0 and got["ActionsReverted"]["value"] == 0
    state["report"] = report.handler(state, CTX)
    got = _by_name(emitted())
    assert got["IncidentsResolved"]["value"] == 1 and got["ApprovalsApproved"]["value"] == 1
    assert got["TimeToApprovalDecision"]["unit"] == "Seconds"


def test_every_metric_is_published_per_account_too(capsys):
    AgentMetrics("prod").emit("web", {"IncidentsOpened": (1, "Count")})
    (doc,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["account", "service"], ["account"]]
    assert doc["account"] == "prod" and doc["service"] == "web" and doc["IncidentsOpened"] == [1.0]


def test_blocked_writes_are_counted_per_guardrail_and_model_cost_is_reported(capsys):
    from watchkeeper.models import ActionResult, ExecutionResult

    m = AgentMetrics("prod")
    incident = Incident(id="i", service="web", opened_at=NOW, last_alert_at=NOW)
    m.executed(incident, ExecutionResult(status="blocked", results=[
        ActionResult(action_id="a1", type="restart_pods", target="t", status="blocked", blocked_by="kill_switch")]))
    m.diagnosed(incident, RootCause(kind="unknown", confidence=0.2, summary="?", analyzer="bedrock:m",
                                    model_usage={"input_tokens": 1200, "output_tokens": 300, "cost_usd": 0.0081}))
    got = read_emf(capsys.readouterr().out.splitlines())
    by_guardrail = [g for g in got if g["name"] == "ActionsBlockedByGuardrail"]
    assert by_guardrail[0]["dimensions"] == {"account": "prod", "service": "web", "guardrail": "kill_switch"}
    names = {g["name"]: g["value"] for g in got}
    assert names["ActionsBlocked"] == 1 and names["Abstentions"] == 1
    assert names["ModelInputTokens"] == 1200 and names["ModelOutputTokens"] == 300 and names["ModelCost"] == 0.0081


def test_a_failed_workflow_counts_a_step_failure_but_a_timed_out_approval_does_not(capsys):
    m = AgentMetrics("prod")
    m.failed("web", {"error": {"Error": "States.Timeout"}})
    assert capsys.readouterr().out == ""
    m.failed("web", {"error": {"Error": "Lambda.Unknown", "Cause": "boom"}})
    names = {g["name"] for g in read_emf(capsys.readouterr().out.splitlines())}
    assert names == {"WorkflowStepFailures", "IncidentsEscalated"}


def test_a_metric_that_cannot_be_written_never_fails_the_step(caplog):
    def broken(line: str) -> None:
        raise OSError("log pipe closed")
    AgentMetrics("prod", sink=broken).emit("web", {"IncidentsOpened": (1, "Count")})
    assert "could not emit metrics" in caplog.text
