"""Execute and Verify with the guardrails wired: shared rate limits and the write lock on
DynamoDB (moto), revert when the service does not recover, the kill switch and its CLI."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import boto3
import pytest
from moto import mock_aws
from typer.testing import CliRunner

from watchkeeper.adapters.dynamodb_rate_limits import DynamoDBRateLimits
from watchkeeper.domain.evidence import EvidenceGatherer
from watchkeeper.domain.guardrails import GuardrailConfig
from watchkeeper.models import (
    Action, ActionResult, AlertRef, ApprovalDecision, ExecutionResult, Incident, RemediationPlan, Service, ServiceCatalog,
)
from watchkeeper.steps import Steps, escalation_reason

from .fakes import FakeAlarms, FakeAudit, FakeChanges, FakeKillSwitch, FakeLogs, FakeMetrics, FakePager, FakeReports, FakeStore

NOW = datetime(2026, 11, 25, 3, 0, tzinfo=timezone.utc)
CATALOG = ServiceCatalog(services=[Service(name="web", platform="eks", cluster="prod", namespace="shop", workload="web")])
TARGET = "eks/prod/shop/web"
APPROVED = ApprovalDecision(approved=True, decided_by="oncall@example.com")


class RecordingExecutor:
    """A fake cluster of `replicas` pods: scale and rollback write, revert puts `before` back."""

    def __init__(self, replicas: int = 4):
        self.replicas, self.revision = replicas, 42
        self.calls: list[tuple[str, bool]] = []

    def execute(self, action, *, dry_run):
        self.calls.append((action.type, dry_run))
        status = "planned" if dry_run else "executed"
        if action.type == "scale_service":
            target = int(action.params.get("replicas") or self.replicas * action.params.get("factor", 1.5))
            before, after = {"replicas": self.replicas}, {"replicas": target}
            if not dry_run:
                self.replicas = target
        elif action.type == "rollback_deployment":
            before, after = {"revision": str(self.revision)}, {"revision": str(self.revision - 1)}
            if not dry_run:
                self.revision -= 1
        else:
            before, after = {}, {}
        return ActionResult(action_id=action.id, type=action.type, target=action.target, status=status,
                            api_call=f"{action.type} {action.target}", before=before, after=after,
                            diff="pod web-1: deleted (restarts 5)" if action.type == "restart_pods" else "")

    def revert(self, result, *, dry_run=False):
        self.calls.append((f"revert {result.type}", dry_run))
        if "replicas" in result.before:
            self.replicas = result.before["replicas"]
        if "revision" in result.before:
            self.revision = int(result.before["revision"])
        return ActionResult(action_id=f"{result.action_id}-revert", type=result.type, target=result.target,
                            status="reverted", before=result.after, after=result.before)


@pytest.fixture
def ddb(monkeypatch):
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(k, v)
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(TableName="state", BillingMode="PAY_PER_REQUEST",
                            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                                  {"AttributeName": "sk", "AttributeType": "S"}])
        yield DynamoDBRateLimits("state", client)


def incident(id_: str = "inc-1") -> Incident:
    alert = AlertRef(delivery_id="d1", fingerprint="cw:web-5xx", source="cloudwatch-sns", status="firing", title="web-5xx",
                     received_at=NOW, service="web", category="availability", alarm_name="web-5xx")
    return Incident(id=id_, service="web", opened_at=NOW, last_alert_at=NOW, alerts=[alert])


def steps(executor=None, *, limits=None, guardrails=None, alarm="ALARM", clock=NOW) -> Steps:
    store = FakeStore([incident()])
    return Steps(catalog=CATALOG, store=store, audit=FakeAudit(),
                 gatherer=EvidenceGatherer(CATALOG, FakeLogs(), FakeMetrics(), FakeChanges()),
                 executor=executor or RecordingExecutor(), pager=FakePager(), reports=FakeReports(),
                 alarms=FakeAlarms({"web-5xx": alarm}), kill_switch=FakeKillSwitch(), approvals=store,
                 guardrails=guardrails, rate_limits=limits, clock=lambda: clock,
                 verify_wait_seconds=60, verify_max_attempts=2)


def plan(*actions: Action, on_failure="revert_and_escalate") -> RemediationPlan:
    return RemediationPlan(runbook="rb", decision="approve", actions=list(actions),
                           verify={"within_minutes": 2, "on_failure": on_failure})


def rollback(id_="a1"):
    return Action(id=id_, type="rollback_deployment", target=TARGET, revert="restore_before")


def restart(id_="a1"):
    return Action(id=id_, type="restart_pods", target=TARGET, params={"max_pods": 1})


# --- rate limits and the write lock, shared through DynamoDB ----------------------------------

def test_restarts_are_limited_per_service_per_hour_across_executions(ddb):
    config = GuardrailConfig.parse({"services": {"web": {"max_restarts_per_hour": 2, "one_write_in_flight": False}}})
    outcomes = []
    for n in range(3):
        s = steps(limits=ddb, guardrails=config)
        outcomes.append(s.execute(incident(f"inc-{n}"), plan(restart()), APPROVED))
    assert [o.status for o in outcomes] == ["executed", "executed", "blocked"]
    refused = outcomes[2].results[0]
    assert refused.blocked_by == "restart_rate_limit" and "limit 2" in refused.error
    later = steps(limits=ddb, guardrails=config, clock=NOW + timedelta(minutes=61))
    assert later.execute(incident("inc-9"), plan(restart()), APPROVED).status == "executed"   # the window slid


def test_one_write_in_flight_per_service_until_verification_finishes(ddb):
    first, second = steps(limits=ddb), steps(limits=ddb)
    done = first.execute(incident("inc-1"), plan(rollback()), APPROVED)
    assert done.status == "executed"
    refused = second.execute(incident("inc-2"), plan(rollback()), APPROVED)
    assert refused.status == "blocked" and refused.results[0].blocked_by == "one_write_in_flight"
    assert any("one_write_in_flight" in r.summary for r in second.audit.records("inc-2"))
    first.alarms.values["web-5xx"] = "OK"
    assert first.verify(incident("inc-1"), plan(rollback()), None, None, done).status == "recovered"
    assert second.execute(incident("inc-2"), plan(rollback()), APPROVED).status == "executed"   # lock released


def test_a_stale_lock_expires(ddb):
    assert ddb.acquire_write_lock("web", "inc-old", 60, NOW)
    assert not ddb.acquire_write_lock("web", "inc-new", 60, NOW + timedelta(seconds=30))
    assert ddb.acquire_write_lock("web", "inc-new", 60, NOW + timedelta(seconds=61))
    assert ddb.lock_holder("web", NOW + timedelta(seconds=62)) == "inc-new"


# --- the guardrails on the exact change ---------------------------------------------------------

def test_scaling_beyond_the_factor_is_refused_from_the_previewed_replicas():
    s = steps(RecordingExecutor(replicas=4))
    out = s.execute(incident(), plan(Action(id="a1", type="scale_service", target=TARGET, params={"replicas": 12})),
                    APPROVED)
    assert out.status == "blocked" and out.results[0].blocked_by == "max_scale_factor"
    assert "4 -> 12" in out.results[0].error and s.executor.calls == [("scale_service", True)]   # only the preview


def test_after_a_refusal_the_later_writes_are_skipped_not_run():
    s = steps()
    s.kill_switch.on = False
    config = GuardrailConfig.parse({"defaults": {"max_restarts_per_hour": 0}})
    s.guardrails = config
    out = s.execute(incident(), plan(restart("a1"), rollback("a2")), APPROVED)
    assert [(r.status, r.blocked_by) for r in out.results] == [("blocked", "restart_rate_limit"), ("skipped", None)]
    assert s.executor.calls == []


def test_the_kill_switch_blocks_every_write_and_names_itself():
    s = steps()
    s.kill_switch.on = True
    out = s.execute(incident(), plan(rollback("a1"), restart("a2")), APPROVED)
    assert [(r.status, r.blocked_by) for r in out.results] == [("blocked", "kill_switch")] * 2
    assert s.executor.calls == []


def test_observe_mode_dry_runs_without_approval():
    s = steps(guardrails=GuardrailConfig.parse({"defaults": {"autonomy": "observe"}}))
    p = plan(rollback()).model_copy(update={"dry_run": True, "decision": "execute",
                                            "actions": [rollback().model_copy(update={"requires_approval": False})]})
    out = s.execute(incident(), p, None)
    assert out.status == "planned" and s.executor.calls == [("rollback_deployment", True)]


# --- verification: revert, then escalate -----------------------------------------------------------

def test_no_recovery_in_time_reverts_the_writes_with_audit_then_escalates(ddb):
    s = steps(limits=ddb)
    p = plan(rollback())
    done = s.execute(incident(), p, APPROVED)
    first = s.verify(incident(), p, None, None, done)
    assert first.status == "pending" and s.executor.revision == 41
    last = s.verify(incident(), p, None, first, done)
    assert last.status == "not_recovered" and [r.status for r in last.reverted] == ["reverted"]
    assert s.executor.revision == 42
    kinds = [(r.step, r.kind) for r in s.audit.records("inc-1")]
    assert ("Verify recovery", "intent") in kinds and ("Verify recovery", "outcome") in kinds
    assert kinds.index(("Verify recovery", "intent")) < kinds.index(("Verify recovery", "outcome"))
    reason = escalation_reason({"verification": last.model_dump(mode="json")})
    assert "reverted: rollback_deployment on eks/prod/shop/web (reverted)" in reason
    assert ddb.lock_holder("web", NOW) is None


def test_irreversible_writes_and_escalate_only_runbooks_are_not_reverted():
    s = steps()
    p = plan(restart("a1"), rollback("a2"), on_failure="escalate")
    done = s.execute(incident(), p, APPROVED)
    last = s.verify(incident(), p, None, after_checks(1), done)
    assert last.status == "not_recovered" and last.reverted == [] and s.executor.revision == 41
    s2 = steps()
    p2 = plan(restart("a1"), rollback("a2"))
    done2 = s2.execute(incident(), p2, APPROVED)
    last2 = s2.verify(incident(), p2, None, after_checks(1), done2)
    assert [r.type for r in last2.reverted] == ["rollback_deployment"]       # the restart cannot be undone
    assert any("restart_pods on eks/prod/shop/web is not reverted" in r.summary for r in s2.audit.records("inc-1"))


def test_a_revert_under_the_kill_switch_is_refused_and_said_so():
    s = steps()
    p = plan(rollback())
    done = s.execute(incident(), p, APPROVED)
    s.kill_switch.on = True
    last = s.verify(incident(), p, None, after_checks(1), done)
    assert [(r.status, r.blocked_by) for r in last.reverted] == [("blocked", "kill_switch")]
    assert s.executor.revision == 41


def after_checks(attempts: int):
    from watchkeeper.models import Verification
    return Verification(status="pending", attempts=attempts)


# --- `watchkeeper killswitch` ----------------------------------------------------------------

def test_killswitch_cli_on_the_local_switch(tmp_path, monkeypatch):
    from watchkeeper import commands

    monkeypatch.delenv("KILL_SWITCH_PARAMETER", raising=False)
    monkeypatch.setattr(commands, "LOCAL_STATE", tmp_path)
    runner = CliRunner()
    assert "off" in runner.invoke(commands.app, ["killswitch", "status"]).output
    assert runner.invoke(commands.app, ["killswitch", "on"]).exit_code == 0
    assert commands._local_kill_switch() and "ON" in runner.invoke(commands.app, ["killswitch", "status"]).output
    runner.invoke(commands.app, ["killswitch", "off"])
    assert not commands._local_kill_switch()


def test_killswitch_cli_on_the_ssm_parameter(monkeypatch):
    from watchkeeper import commands
    from watchkeeper.adapters.messaging import SsmSettings

    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(k, v)
    with mock_aws():
        monkeypatch.setattr(commands, "_ssm_client", lambda: boto3.client("ssm", region_name="us-east-1"))
        runner = CliRunner()
        out = runner.invoke(commands.app, ["killswitch", "on", "--parameter", "/watchkeeper/prod/kill-switch"])
        assert out.exit_code == 0, out.output
        assert SsmSettings(None, "/watchkeeper/prod/kill-switch", boto3.client("ssm", region_name="us-east-1")).kill_switch_on()
        monkeypatch.setenv("KILL_SWITCH_PARAMETER", "/watchkeeper/prod/kill-switch")
        assert "ON" in runner.invoke(commands.app, ["killswitch", "status"]).output
        runner.invoke(commands.app, ["killswitch", "off"])
        assert "off" in runner.invoke(commands.app, ["killswitch", "status"]).output
