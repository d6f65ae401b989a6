"""Execute and Verify with the guardrails wired: shared rate limits and the write lock on
DynamoDB (moto), revert when the service does not recover, the kill switch and its CLI."""
from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from typer.testing import CliRunner

from watchkeeper.adapters.dynamodb_rate_limits import DynamoDBRateLimits, DynamoDBWriteLedger
from watchkeeper.domain.evidence import EvidenceGatherer
from watchkeeper.domain.guardrails import GuardrailConfig
from watchkeeper.domain.pinning import inverse, make_pin
from watchkeeper.models import (
    Action, ActionResult, AlertRef, ApprovalDecision, Incident, RemediationPlan, Service, ServiceCatalog,
)
from watchkeeper.ports import OutcomeUnknown, TransientError
from watchkeeper.steps import Steps, escalation_reason

from .fakes import FakeAlarms, FakeAudit, FakeChanges, FakeKillSwitch, FakeLogs, FakeMetrics, FakePager, FakeReports, FakeStore

NOW = datetime(2026, 11, 25, 3, 0, tzinfo=timezone.utc)
CATALOG = ServiceCatalog(services=[Service(name="web", platform="eks", cluster="prod", namespace="shop", workload="web")])
TARGET = "eks/prod/shop/web"
APPROVED = ApprovalDecision(approved=True, decided_by="oncall@example.com")


class FakeWorkload:
    """One EKS-like workload (replicas, a pod template per revision, pods, a memory limit) behind
    the executor port, pinned like the real executors; `writes` lists every write performed."""

    def __init__(self, replicas: int = 4, pods: int = 3):
        self.replicas, self.revision, self.template, self.memory = replicas, 42, "bad", "512Mi"
        self.pods = {f"web-{i}": f"uid-{i}" for i in range(pods)}
        self.writes: list[tuple] = []
        self.calls: list[tuple[str, bool]] = []
        self.fail: set[str] = set()                # writes refused for good
        self.unknown_after: set[str] = set()       # writes that land, then time out (once)

    def pin_for(self, action):
        p = action.params
        if action.type == "scale_service":
            n = int(p.get("replicas") or math.ceil(self.replicas * float(p.get("factor", 1.5))))
            return make_pin({"replicas": n}, {"replicas": self.replicas}, summary=f"scale {self.replicas} -> {n}")
        if action.type == "rollback_deployment":
            return make_pin({"template": "good"}, {"revision": str(self.revision), "template": self.template},
                            call={"to_revision": "41"}, culprit="deploy-web-42",
                            before_is_culprit=self.template == "bad", summary="restore revision 41 (web:good)")
        if action.type == "restart_pods":
            chosen = dict(list(self.pods.items())[:int(p.get("max_pods", 3))])
            return make_pin({"pods": {n: None for n in chosen}}, {"revision": str(self.revision), "pods": chosen},
                            summary=f"delete {', '.join(chosen)}")
        if action.type == "increase_memory_limit":
            return make_pin({"memory_limit": "768Mi"}, {"memory_limit": self.memory}, summary="memory 512Mi -> 768Mi")
        raise AssertionError(action.type)

    def execute(self, action, *, dry_run, pin=None, guard=None):
        self.calls.append((action.type, dry_run))
        pin = pin or self.pin_for(action)
        out = dict(action_id=action.id, type=action.type, target=action.target, pin=pin, before=pin.before,
                   after=pin.target, api_call=f"{action.type} {action.target}")
        if dry_run:
            return ActionResult(status="planned", **out)
        if action.type in self.fail:
            return ActionResult(status="failed", error="the API refused it", **out)
        if action.type == "restart_pods":
            done = []
            for name, uid in pin.before["pods"].items():
                if self.pods.get(name) != uid:
                    continue
                reason = guard() if guard else None
                if reason:
                    return ActionResult(status="blocked", blocked_by="kill_switch",
                                        error=f"restart stopped after {len(done)} pod(s): {reason}",
                                        **{**out, "after": {"pods_deleted": done}})
                del self.pods[name]
                self.pods[f"{name}-new"] = f"{uid}-new"
                self.writes.append(("delete", name))
                done.append(name)
        else:
            if action.type == "scale_service":
                self.replicas = pin.target["replicas"]
            elif action.type == "rollback_deployment":
                self.template, self.revision = pin.target["template"], self.revision + 1
            elif action.type == "increase_memory_limit":
                self.memory = pin.target["memory_limit"]
            self.writes.append((action.type, tuple(sorted(pin.target.items()))))
        if action.type in self.unknown_after:
            self.unknown_after.discard(action.type)
            raise OutcomeUnknown(f"{action.type}: read timeout: outcome unknown")
        return ActionResult(status="executed", **out)

    def observe(self, action, pin):
        return {"replicas": self.replicas, "template": self.template, "revision": str(self.revision),
                "memory_limit": self.memory,
                "pods": {n: (uid if self.pods.get(n) == uid else None) for n, uid in (pin.before.get("pods") or {}).items()}}

    def inverse(self, action, pin):
        if action.type == "restart_pods":
            return None, "deleted pods cannot come back"
        return inverse(pin, call=dict(pin.call)), ""


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


def steps(executor=None, *, limits=None, guardrails=None, alarm="ALARM", clock=NOW, ledger=None) -> Steps:
    store = FakeStore([incident()])
    return Steps(catalog=CATALOG, store=store, audit=FakeAudit(),
                 gatherer=EvidenceGatherer(CATALOG, FakeLogs(), FakeMetrics(), FakeChanges()),
                 executor=executor or FakeWorkload(), pager=FakePager(), reports=FakeReports(),
                 alarms=FakeAlarms({"web-5xx": alarm}), kill_switch=FakeKillSwitch(), approvals=store,
                 guardrails=guardrails, rate_limits=limits, clock=lambda: clock, ledger=ledger,
                 verify_wait_seconds=60, verify_max_attempts=2)


def plan(*actions: Action, on_failure="revert_and_escalate") -> RemediationPlan:
    return RemediationPlan(runbook="rb", decision="approve", actions=list(actions),
                           verify={"within_minutes": 2, "on_failure": on_failure})


def approve(s: Steps, p: RemediationPlan, inc: Incident | None = None) -> None:
    """What the approval request stores (the preview with its pins), then an approver's decision."""
    inc = inc or incident()
    preview = s.preview(inc, p)["actions"]
    request_id = f"req-{len(s.approvals.approvals) + 1}"
    s.approvals.save_pending(request_id, inc.id, "tok", NOW + timedelta(hours=1), {"proposed": preview})
    s.approvals.decide_approval(request_id, "approved")


def run(s: Steps, p: RemediationPlan, inc: Incident | None = None):
    approve(s, p, inc)
    return s.execute(inc or incident(), p, APPROVED)


def rollback(id_="a1"):
    return Action(id=id_, type="rollback_deployment", target=TARGET, revert="restore_before",
                  params={"change_id": "deploy-web-42"})


def restart(id_="a1", pods=1):
    return Action(id=id_, type="restart_pods", target=TARGET, params={"max_pods": pods})


def scale(id_="a1", **params):
    return Action(id=id_, type="scale_service", target=TARGET, params=params or {"factor": 1.5},
                  revert="restore_before")


def memory(id_="a2"):
    return Action(id=id_, type="increase_memory_limit", target=TARGET, revert="restore_before")


# --- rate limits and the write lock, shared through DynamoDB ----------------------------------

def test_restarts_are_limited_per_service_per_hour_across_executions(ddb):
    config = GuardrailConfig.parse({"services": {"web": {"max_restarts_per_hour": 2, "one_write_in_flight": False}}})
    outcomes = []
    for n in range(3):
        s = steps(limits=ddb, guardrails=config)
        outcomes.append(run(s, plan(restart()), incident(f"inc-{n}")))
    assert [o.status for o in outcomes] == ["executed", "executed", "blocked"]
    refused = outcomes[2].results[0]
    assert refused.blocked_by == "restart_rate_limit" and "limit 2 pods per hour" in refused.error
    later = steps(limits=ddb, guardrails=config, clock=NOW + timedelta(minutes=61))
    assert run(later, plan(restart()), incident("inc-9")).status == "executed"   # the window slid


def test_restart_limits_count_pods_not_actions(ddb):
    """Five pod restarts an hour means five pods: two restarts of three pods are six."""
    config = GuardrailConfig.parse({"defaults": {"max_restarts_per_hour": 5, "one_write_in_flight": False}})
    first = steps(limits=ddb, guardrails=config)
    assert run(first, plan(restart(pods=3)), incident("inc-1")).status == "executed"
    assert len(first.executor.writes) == 3
    second = steps(limits=ddb, guardrails=config)
    out = run(second, plan(restart(pods=3)), incident("inc-2"))
    assert out.status == "blocked" and out.results[0].blocked_by == "restart_rate_limit"
    assert "3 pod restarts in the last hour and 3 more" in out.results[0].error and second.executor.writes == []
    assert ddb.count("web", "restart_pods", NOW) == 3


def test_one_write_in_flight_per_service_until_verification_finishes(ddb):
    first, second = steps(limits=ddb), steps(limits=ddb)
    done = run(first, plan(scale()), incident("inc-1"))
    assert done.status == "executed"
    refused = run(second, plan(scale()), incident("inc-2"))
    assert refused.status == "blocked" and refused.results[0].blocked_by == "one_write_in_flight"
    assert any("one_write_in_flight" in r.summary for r in second.audit.records("inc-2"))
    first.alarms.values["web-5xx"] = "OK"
    assert first.verify(incident("inc-1"), plan(scale()), None, None, done).status == "recovered"
    third = steps(limits=ddb)
    assert run(third, plan(scale()), incident("inc-3")).status == "executed"   # lock released


def test_a_stale_lock_expires(ddb):
    assert ddb.acquire_write_lock("web", "inc-old", 60, NOW)
    assert not ddb.acquire_write_lock("web", "inc-new", 60, NOW + timedelta(seconds=30))
    assert ddb.acquire_write_lock("web", "inc-new", 60, NOW + timedelta(seconds=61))
    assert ddb.lock_holder("web", NOW + timedelta(seconds=62)) == "inc-new"


# --- the guardrails on the exact change ---------------------------------------------------------

def test_scaling_beyond_the_factor_is_refused_from_the_pinned_replicas():
    s = steps(FakeWorkload(replicas=4))
    out = run(s, plan(scale(replicas=12)))
    assert out.status == "blocked" and out.results[0].blocked_by == "max_scale_factor"
    assert "4 -> 12" in out.results[0].error and s.executor.writes == []


def test_after_a_refusal_the_later_writes_are_skipped_not_run():
    s = steps(guardrails=GuardrailConfig.parse({"defaults": {"max_restarts_per_hour": 0}}))
    out = run(s, plan(restart("a1"), rollback("a2")))
    assert [(r.status, r.blocked_by) for r in out.results] == [("blocked", "restart_rate_limit"), ("skipped", None)]
    assert s.executor.writes == []


def test_the_kill_switch_blocks_every_write_and_names_itself():
    s = steps()
    approve(s, plan(rollback("a1"), restart("a2")))
    s.kill_switch.on = True
    out = s.execute(incident(), plan(rollback("a1"), restart("a2")), APPROVED)
    assert [(r.status, r.blocked_by) for r in out.results] == [("blocked", "kill_switch"), ("skipped", None)]
    assert s.executor.writes == []


def test_an_unreadable_kill_switch_stops_every_write():
    class Broken:
        def kill_switch_on(self):
            raise TransientError("ssm:GetParameter: ThrottlingException")

    s = steps()
    approve(s, plan(scale()))
    s.kill_switch = Broken()
    out = s.execute(incident(), plan(scale()), APPROVED)
    assert out.results[0].blocked_by == "kill_switch" and "could not be read" in out.results[0].error
    assert s.executor.writes == []


def test_the_kill_switch_is_read_again_before_each_pod_of_a_restart():
    s = steps(FakeWorkload(pods=3))
    p = plan(restart(pods=3))
    approve(s, p)
    reads = {"n": 0}

    def flips_after_the_first_pod():
        reads["n"] += 1
        return reads["n"] > 2          # off for the step's check and the first pod, then on

    s.kill_switch.kill_switch_on = flips_after_the_first_pod
    out = s.execute(incident(), p, APPROVED)
    assert s.executor.writes == [("delete", "web-0")]
    assert out.status == "blocked" and out.results[0].blocked_by == "kill_switch"
    reason = escalation_reason({"execution": out.model_dump(mode="json")})
    assert "kill_switch" in reason and "restart_pods on eks/prod/shop/web (partly" in reason


def test_observe_mode_dry_runs_without_approval():
    s = steps(guardrails=GuardrailConfig.parse({"defaults": {"autonomy": "observe"}}))
    p = plan(rollback()).model_copy(update={"dry_run": True, "decision": "execute",
                                            "actions": [rollback().model_copy(update={"requires_approval": False})]})
    out = s.execute(incident(), p, None)
    assert out.status == "planned" and s.executor.calls == [("rollback_deployment", True)] and s.executor.writes == []


def test_an_unsupported_pair_is_refused_at_execution_too():
    s = steps()
    rds = Action(id="a1", type="rollback_deployment", target="rds/catalog-db", requires_approval=False)
    out = s.execute(incident(), plan(rds), None)
    assert out.status == "blocked" and out.results[0].blocked_by == "capability" and s.executor.calls == []


# --- approved means executed ---------------------------------------------------------------------

def test_the_pinned_target_runs_not_whatever_is_previous_at_execution_time():
    s = steps(FakeWorkload(replicas=4))
    p = plan(scale())
    approve(s, p)                                   # approvers saw 4 -> 6
    out = s.execute(incident(), p, APPROVED)
    assert out.status == "executed" and s.executor.writes == [("scale_service", (("replicas", 6),))]
    intent = next(r for r in s.audit.records("inc-1") if r.kind == "intent")
    assert intent.detail["pin"]["target"] == {"replicas": 6} and intent.detail["fingerprint"]


def test_a_change_during_the_approval_window_blocks_with_state_drifted_and_says_what_changed():
    s = steps(FakeWorkload())
    p = plan(rollback())
    approve(s, p)                                   # "restore revision 41" while 42 runs
    s.executor.revision, s.executor.template = 43, "hotfix"      # a fix shipped during the wait
    out = s.execute(incident(), p, APPROVED)
    assert out.status == "blocked" and out.results[0].blocked_by == "state_drifted"
    assert "revision: 42 -> 43" in out.results[0].error and "template: bad -> hotfix" in out.results[0].error
    assert s.executor.writes == [] and s.executor.template == "hotfix"      # the fix was not rolled back
    reason = escalation_reason({"execution": out.model_dump(mode="json")})
    assert "state_drifted" in reason and "revision: 42 -> 43" in reason and "nothing was changed" in reason


def test_an_approved_write_whose_target_was_never_pinned_does_not_run():
    s = steps()
    p = plan(scale())
    s.approvals.save_pending("req-1", "inc-1", "tok", NOW, {"proposed": [{"id": "a1", "type": "scale_service",
                                                                          "target": TARGET, "preview_error": "x"}]})
    s.approvals.decide_approval("req-1", "approved")
    out = s.execute(incident(), p, APPROVED)
    assert out.results[0].blocked_by == "not_pinned" and s.executor.writes == []


# --- exactly once -------------------------------------------------------------------------------

def test_a_retried_execute_reads_the_recorded_outcomes_and_writes_nothing_again():
    s = steps()
    p = plan(scale("a1"), memory("a2"))
    first = run(s, p)
    again = s.execute(incident(), p, APPROVED)
    assert first.status == again.status == "executed"
    assert [r.model_dump() for r in again.results] == [r.model_dump() for r in first.results]
    assert len(s.executor.writes) == 2


def test_a_failure_after_the_write_is_retried_without_writing_twice(monkeypatch):
    """The write lands, then recording its outcome is throttled: the retry reconciles, never re-writes."""
    s = steps()
    p = plan(scale("a1"), memory("a2"))
    approve(s, p)
    real = s.audit.append

    def throttled_once(incident_id, step, kind, summary, detail=None, actor="watchkeeper"):
        if kind == "outcome" and "scale_service" in summary and not throttled_once.done:
            throttled_once.done = True
            raise TransientError("dynamodb:PutItem: ThrottlingException")
        return real(incident_id, step, kind, summary, detail, actor)

    throttled_once.done = False
    monkeypatch.setattr(s.audit, "append", throttled_once)
    with pytest.raises(TransientError):
        s.execute(incident(), p, APPROVED)
    out = s.execute(incident(), p, APPROVED)            # Step Functions' retry
    assert out.status == "executed" and out.results[0].reconciled
    assert [w[0] for w in s.executor.writes] == ["scale_service", "increase_memory_limit"]
    kinds = [(r.kind, r.summary.split(":")[0]) for r in s.audit.records("inc-1") if r.kind in ("intent", "outcome")]
    assert kinds[0][0] == "intent" and ("outcome", "scale_service on eks/prod/shop/web") in kinds


def test_a_timeout_mid_write_is_reconciled_from_the_live_state_and_recorded_as_such():
    s = steps()
    s.executor.unknown_after.add("scale_service")
    p = plan(scale())
    out = run(s, p)
    assert out.status == "executed" and out.results[0].reconciled and len(s.executor.writes) == 1
    outcome = [r for r in s.audit.records("inc-1") if r.kind == "outcome"][0]
    assert "read back from the live state" in outcome.summary and outcome.detail["reconciled"]


def test_the_ledger_on_dynamodb_keeps_the_first_pin_and_refuses_a_second_intent_after_an_outcome(ddb):
    from watchkeeper.ports import ConflictError
    ledger = DynamoDBWriteLedger("state", ddb._ddb)
    assert ledger.begin("inc-1", "a1", {"target": {"replicas": 6}}, NOW) == 1
    assert ledger.begin("inc-1", "a1", {"target": {"replicas": 9}}, NOW) == 2
    assert ledger.get("inc-1", "a1")["pin"] == {"target": {"replicas": 6}}
    ledger.finish("inc-1", "a1", "executed", {"status": "executed"})
    with pytest.raises(ConflictError):
        ledger.begin("inc-1", "a1", {}, NOW)
    assert [e["status"] for e in ledger.entries("inc-1")] == ["executed"]


def test_exactly_once_across_two_steps_objects_sharing_dynamodb(ddb):
    """A re-invoked Lambda (a new container) reads the same records."""
    ledger = DynamoDBWriteLedger("state", ddb._ddb)
    workload = FakeWorkload()
    first = steps(workload, limits=ddb, ledger=ledger)
    p = plan(scale())
    run(first, p)
    second = steps(workload, limits=ddb, ledger=ledger)
    second.approvals = first.approvals
    assert second.execute(incident(), p, APPROVED).status == "executed" and len(workload.writes) == 1


# --- partial failure ------------------------------------------------------------------------------

def test_a_later_failed_write_puts_the_earlier_ones_back_and_the_page_says_so():
    s = steps(FakeWorkload(replicas=4))
    s.executor.fail.add("increase_memory_limit")
    p = plan(scale("a1"), memory("a2"))
    out = run(s, p)
    assert out.status == "failed" and s.executor.replicas == 4
    assert [(r.type, r.status) for r in out.reverted] == [("scale_service", "reverted")]
    reason = escalation_reason({"execution": out.model_dump(mode="json")})
    assert "changed: scale_service on eks/prod/shop/web (scale 4 -> 6)" in reason
    assert "reverted: scale_service on eks/prod/shop/web (reverted)" in reason
    again = s.execute(incident(), p, APPROVED)             # a retry changes nothing more
    assert again.reverted[0].status == "reverted" and s.executor.writes.count(("scale_service", (("replicas", 4),))) == 1


def test_a_later_blocked_write_puts_the_earlier_ones_back():
    s = steps(FakeWorkload(replicas=4), guardrails=GuardrailConfig.parse({"defaults": {"max_restarts_per_hour": 0}}))
    out = run(s, plan(scale("a1"), restart("a2")))
    assert out.status == "blocked" and s.executor.replicas == 4 and out.reverted[0].status == "reverted"


# --- verification: revert, then escalate -----------------------------------------------------------

def test_no_recovery_in_time_reverts_the_writes_with_audit_then_escalates(ddb):
    s = steps(limits=ddb)
    p = plan(scale())
    done = run(s, p)
    first = s.verify(incident(), p, None, None, done)
    assert first.status == "pending" and s.executor.replicas == 6
    last = s.verify(incident(), p, None, first, done)
    assert last.status == "not_recovered" and [r.status for r in last.reverted] == ["reverted"]
    assert s.executor.replicas == 4
    kinds = [(r.step, r.kind) for r in s.audit.records("inc-1")]
    assert ("Verify recovery", "intent") in kinds and ("Verify recovery", "outcome") in kinds
    assert kinds.index(("Verify recovery", "intent")) < kinds.index(("Verify recovery", "outcome"))
    reason = escalation_reason({"execution": done.model_dump(mode="json"), "verification": last.model_dump(mode="json")})
    assert "reverted: scale_service on eks/prod/shop/web (reverted)" in reason
    assert ddb.lock_holder("web", NOW) is None
    again = s.verify(incident(), p, None, first, done)      # a retried Verify reverts nothing twice
    assert again.reverted[0].status == "reverted" and s.executor.writes.count(("scale_service", (("replicas", 4),))) == 1


def test_a_revert_never_redeploys_the_diagnosed_culprit_it_pages_instead():
    s = steps()
    p = plan(rollback())
    done = run(s, p)
    assert s.executor.template == "good"
    last = s.verify(incident(), p, None, after_checks(1), done)
    assert last.status == "not_recovered" and s.executor.template == "good"
    assert last.reverted[0].status == "skipped" and "redeploy the diagnosed culprit deploy-web-42" in last.reverted[0].error
    reason = escalation_reason({"execution": done.model_dump(mode="json"), "verification": last.model_dump(mode="json")})
    assert "redeploy the diagnosed culprit" in reason


def test_irreversible_writes_and_escalate_only_runbooks_are_not_reverted():
    s = steps()
    p = plan(restart("a1"), scale("a2"), on_failure="escalate")
    done = run(s, p)
    last = s.verify(incident(), p, None, after_checks(1), done)
    assert last.status == "not_recovered" and last.reverted == [] and s.executor.replicas == 6
    s2 = steps()
    p2 = plan(restart("a1"), scale("a2"))
    done2 = run(s2, p2)
    last2 = s2.verify(incident(), p2, None, after_checks(1), done2)
    assert [(r.type, r.status) for r in last2.reverted] == [("scale_service", "reverted"), ("restart_pods", "skipped")]
    assert any("restart_pods on eks/prod/shop/web is not reverted" in r.summary for r in s2.audit.records("inc-1"))


def test_a_revert_under_the_kill_switch_is_refused_and_said_so():
    s = steps()
    p = plan(scale())
    done = run(s, p)
    s.kill_switch.on = True
    last = s.verify(incident(), p, None, after_checks(1), done)
    assert [(r.status, r.blocked_by) for r in last.reverted] == [("blocked", "kill_switch")]
    assert s.executor.replicas == 6


def test_a_revert_of_something_changed_since_our_write_is_not_done():
    s = steps()
    p = plan(scale())
    done = run(s, p)
    s.executor.replicas = 9                         # someone scaled again after Watchkeeper
    last = s.verify(incident(), p, None, after_checks(1), done)
    assert last.reverted[0].blocked_by == "state_drifted" and s.executor.replicas == 9


def after_checks(attempts: int):
    from watchkeeper.models import Verification
    return Verification(status="pending", attempts=attempts)


# --- the kill switch parameter (fail closed) and `watchkeeper killswitch` -----------------------------

@pytest.mark.parametrize("value,on", [("off", False), ("on", True), ("yes", True), ("enabled", True), ("ON!", True),
                                      ("OFF", True), ("", True), ("false", True), ("0", True)])
def test_the_kill_switch_is_on_unless_the_parameter_says_exactly_off(monkeypatch, value, on):
    from watchkeeper.adapters.messaging import SsmSettings

    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(k, v)
    with mock_aws():
        ssm = boto3.client("ssm", region_name="us-east-1")
        if value:
            ssm.put_parameter(Name="/wk/kill", Value=value, Type="String")
        assert SsmSettings(None, "/wk/kill", ssm).kill_switch_on() is on


def test_a_kill_switch_that_cannot_be_read_is_on():
    from watchkeeper.adapters.messaging import SsmSettings

    class Denied:
        def get_parameter(self, **kw):
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "GetParameter")

    on, why = SsmSettings(None, "/wk/kill", Denied()).kill_switch_state()
    assert on and "could not be read" in why
    assert SsmSettings(None, "", Denied()).kill_switch_on()


def test_killswitch_cli_on_the_local_switch_says_no_account_changed(tmp_path, monkeypatch):
    from watchkeeper import commands

    monkeypatch.delenv("KILL_SWITCH_PARAMETER", raising=False)
    monkeypatch.setattr(commands, "LOCAL_STATE", tmp_path)
    runner = CliRunner()
    assert "off" in runner.invoke(commands.app, ["killswitch", "status"]).output
    out = runner.invoke(commands.app, ["killswitch", "on"])
    assert out.exit_code == 0 and "LOCAL kill switch ON" in out.output and "No AWS account was changed" in out.output
    assert commands._local_kill_switch() and "ON" in runner.invoke(commands.app, ["killswitch", "status"]).output
    runner.invoke(commands.app, ["killswitch", "off"])
    assert not commands._local_kill_switch()


def test_killswitch_cli_on_the_ssm_parameter_says_it_changed_the_account(monkeypatch):
    from watchkeeper import commands
    from watchkeeper.adapters.messaging import SsmSettings

    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(k, v)
    with mock_aws():
        monkeypatch.setattr(commands, "_ssm_client", lambda: boto3.client("ssm", region_name="us-east-1"))
        runner = CliRunner()
        out = runner.invoke(commands.app, ["killswitch", "on", "--parameter", "/watchkeeper/prod/kill-switch"])
        assert out.exit_code == 0, out.output
        assert "in the account" in out.output and "/watchkeeper/prod/kill-switch now says on" in out.output
        assert SsmSettings(None, "/watchkeeper/prod/kill-switch", boto3.client("ssm", region_name="us-east-1")).kill_switch_on()
        monkeypatch.setenv("KILL_SWITCH_PARAMETER", "/watchkeeper/prod/kill-switch")
        assert "ON" in runner.invoke(commands.app, ["killswitch", "status"]).output
        runner.invoke(commands.app, ["killswitch", "off"])
        assert "off" in runner.invoke(commands.app, ["killswitch", "status"]).output
