"""The write path's pure rules: freeze windows at their edges (midnight, DST), pods counted,
the capability table, the confidence floor, abstention re-applied at planning, targets from
evidence, and pins (drift, outcomes, inverses)."""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from pathlib import Path

import pytest

from watchkeeper.domain import runbooks
from watchkeeper.domain.guardrails import FreezeWindow, GuardrailContext, GuardrailPolicy, check
from watchkeeper.domain.pinning import drift, inverse, make_pin, outcome
from watchkeeper.models import Action, AlertRef, ChangeEvent, Evidence, Hypothesis, Incident, RootCause, Service
from watchkeeper.models.catalog import ServiceCatalog

REPO = Path(__file__).resolve().parents[2]
BOOKS = runbooks.load_runbooks(REPO / "runbooks")
NOW = datetime(2026, 11, 25, 3, 0, tzinfo=timezone.utc)
UTC = timezone.utc


def write(kind="rollback_deployment", **params):
    return Action(id="a1", type=kind, target="eks/c/ns/app", params=params)


# --- freeze windows ------------------------------------------------------------------------

FRIDAY_NIGHT = FreezeWindow(start=time(17), end=time(9), timezone="America/New_York", weekdays=[4])


@pytest.mark.parametrize("local,frozen", [
    ("2026-03-06T16:59", False),   # Friday before the window
    ("2026-03-06T17:00", True),    # Friday 17:00: it starts
    ("2026-03-06T23:59", True),
    ("2026-03-07T00:00", True),    # Saturday after midnight: still Friday's window
    ("2026-03-07T08:59", True),
    ("2026-03-07T09:00", False),   # Saturday 09:00: over
    ("2026-03-07T17:30", False),   # Saturday evening: only Fridays are listed
    ("2026-03-08T00:30", False),   # Sunday after midnight: Saturday's window is not listed
    ("2026-03-05T23:00", False),   # Thursday night
])
def test_a_window_across_midnight_belongs_to_the_day_it_starts(local, frozen):
    from zoneinfo import ZoneInfo
    at = datetime.fromisoformat(local).replace(tzinfo=ZoneInfo("America/New_York"))
    assert FRIDAY_NIGHT.active(at) is frozen
    assert FRIDAY_NIGHT.active(at.astimezone(UTC)) is frozen      # the same instant in UTC


def test_dst_ending_moves_the_utc_end_of_a_wall_clock_window():
    """Saturday 22:00 to Sunday 09:00 New York, across the 2026-11-01 fall-back (EDT -4 -> EST -5)."""
    window = FreezeWindow(start=time(22), end=time(9), timezone="America/New_York", weekdays=[5])
    assert window.active(datetime(2026, 11, 1, 13, 30, tzinfo=UTC))        # 08:30 EST (09:30 if still EDT)
    assert not window.active(datetime(2026, 11, 1, 14, 0, tzinfo=UTC))     # 09:00 EST
    assert window.active(datetime(2026, 11, 1, 2, 0, tzinfo=UTC))          # Saturday 22:00 EDT


def test_dst_starting_a_window_inside_the_skipped_hour_starts_when_the_clock_jumps():
    """2026-03-08 New York: 02:00 EST jumps to 03:00 EDT; a 02:30-03:30 window covers 03:00-03:30 EDT."""
    window = FreezeWindow(start=time(2, 30), end=time(3, 30), timezone="America/New_York")
    assert not window.active(datetime(2026, 3, 8, 6, 59, tzinfo=UTC))      # 01:59 EST
    assert window.active(datetime(2026, 3, 8, 7, 0, tzinfo=UTC))           # 03:00 EDT
    assert not window.active(datetime(2026, 3, 8, 7, 30, tzinfo=UTC))      # 03:30 EDT


def test_dst_the_repeated_hour_is_inside_a_window_both_times():
    window = FreezeWindow(start=time(1), end=time(2), timezone="America/New_York")
    assert window.active(datetime(2026, 11, 1, 5, 30, tzinfo=UTC))         # 01:30 EDT
    assert window.active(datetime(2026, 11, 1, 6, 30, tzinfo=UTC))         # 01:30 EST, an hour later


def test_freeze_blocks_a_write_and_a_bad_weekday_is_refused():
    policy = GuardrailPolicy(freeze_windows=[FRIDAY_NIGHT])
    saturday_0200 = datetime(2026, 3, 7, 7, 0, tzinfo=UTC)                 # Saturday 02:00 EST
    assert check(write(), policy, GuardrailContext(now=saturday_0200)).guardrail == "change_freeze"
    with pytest.raises(ValueError):
        FreezeWindow(start=time(1), end=time(2), weekdays=[7])


# --- restarts count pods -------------------------------------------------------------------

def test_restart_limits_count_pods():
    policy = GuardrailPolicy(max_restarts_per_hour=5, max_pods_per_action=3)
    ok = GuardrailContext(now=NOW, restarts_last_hour=2, pods_affected=3)
    assert check(write("restart_pods"), policy, ok).allowed                      # 2 + 3 = 5
    over = GuardrailContext(now=NOW, restarts_last_hour=3, pods_affected=3)
    verdict = check(write("restart_pods"), policy, over)
    assert verdict.guardrail == "restart_rate_limit" and "pods per hour" in verdict.reason


# --- the capability table at planning ------------------------------------------------------

def incident(service="web", title="web 5xx") -> Incident:
    alert = AlertRef(delivery_id="d1", fingerprint="f", source="cloudwatch-sns", status="firing", title=title,
                     received_at=NOW, service=service, category="availability")
    return Incident(id="inc-1", service=service, opened_at=NOW, last_alert_at=NOW, category="availability",
                    alerts=[alert])


def cause(kind, culprit=None, confidence=0.9, hypotheses=None) -> RootCause:
    if hypotheses is None:
        hypotheses = [Hypothesis(kind=kind, culprit=culprit, score=0.9)] if kind != "unknown" else []
    return RootCause(kind=kind, culprit=culprit, confidence=confidence, summary="", hypotheses=hypotheses)


def plan_for(rc, service, evidence=None, policy=None, catalog=None):
    inc = incident(service.name)
    facts = runbooks.facts_of(rc, inc, evidence)
    return runbooks.plan(runbooks.select(BOOKS, rc, inc, service, facts), rc, inc, service, policy=policy,
                         facts=facts, catalog=catalog)


def writes(plan):
    return [a for a in plan.actions if a.is_write]


@pytest.mark.parametrize("kind,platform,culprit", [
    ("bad_deploy", "rds", "deploy-catalog-db-1"),        # no RDS rollback executor
    ("disk_full", "rds", None),                          # Run Command cannot reach an RDS disk
    ("memory_leak", "lambda", None),                     # no pods, no memory limit on a Lambda alias
    ("traffic_surge", "rds", None),
])
def test_an_unsupported_pair_is_never_planned_it_pages(kind, platform, culprit):
    service = Service(name="svc", platform=platform, kind="api", cluster="c" if platform == "ecs" else None)
    plan = plan_for(cause(kind, culprit), service)
    assert writes(plan) == [] and plan.decision == "escalate"
    assert any(a.type == "page_human" for a in plan.actions) and "not supported on" in plan.reason


def test_a_config_revert_of_a_change_no_executor_can_undo_is_not_planned():
    change = ChangeEvent(id="infra-1", kind="config", service="web", at=NOW - timedelta(minutes=5), source="github",
                         description="terraform apply")
    ev = Evidence(window_start=NOW - timedelta(hours=1), window_end=NOW, changes=[change])
    plan = plan_for(cause("config_change", "infra-1"), Service(name="web", platform="eks", namespace="n", cluster="c"), ev)
    assert writes(plan) == [] and "not a github change" in plan.reason


def test_the_capability_table_and_the_runbook_validator_agree(tmp_path):
    (tmp_path / "rds.yaml").write_text("name: rds-rollback\ntitle: t\ntrigger:\n  root_causes: [bad_deploy]\n"
                                       "  platforms: [ec2, rds]\nsteps:\n  - action: rollback_deployment\n")
    (problem,) = runbooks.unsupported_steps(runbooks.load_runbooks(tmp_path)[0])
    assert "rollback_deployment is not supported on rds" in problem
    assert all(not runbooks.unsupported_steps(b) for b in BOOKS)
    assert runbooks.coverage(next(b for b in BOOKS if b.name == "disk-full")) == {"free_disk_space": ["ec2"]}
    assert runbooks.coverage(next(b for b in BOOKS if b.name == "deployment-rollback")) == {
        "rollback_deployment": ["eks", "ecs", "lambda", "ec2"]}


# --- confidence gates autonomy, abstention is applied again ----------------------------------

EKS = Service(name="web", platform="eks", kind="api", namespace="n", cluster="c")
AUTO = GuardrailPolicy(autonomy="act_on_known_runbooks")


def test_below_the_confidence_floor_every_write_needs_approval_even_on_known_runbooks():
    assert plan_for(cause("traffic_surge", confidence=0.9), EKS, policy=AUTO).decision == "execute"
    low = plan_for(cause("traffic_surge", confidence=0.6), EKS, policy=AUTO)
    assert low.decision == "approve" and all(a.requires_approval for a in writes(low))
    assert "below the floor 0.80" in low.reason
    lenient = GuardrailPolicy(autonomy="act_on_known_runbooks", confidence_floor=0.5)
    assert plan_for(cause("traffic_surge", confidence=0.6), EKS, policy=lenient).decision == "execute"


def test_an_unchecked_confidence_counts_as_zero():
    rc = cause("traffic_surge", confidence=0.99, hypotheses=[])     # nothing to check it against
    assert plan_for(rc, EKS, policy=AUTO).decision == "approve"


@pytest.mark.parametrize("hypotheses,why", [
    ([Hypothesis(kind="traffic_surge", score=0.3)], "below the abstention line"),
    ([Hypothesis(kind="traffic_surge", score=0.6), Hypothesis(kind="memory_leak", score=0.57)], "margin"),
    ([Hypothesis(kind="memory_leak", score=0.9), Hypothesis(kind="traffic_surge", score=0.6)], "margin"),
    ([Hypothesis(kind="memory_leak", score=0.9)], "no scored hypothesis supports"),
])
def test_a_model_cannot_turn_an_abstention_into_a_write(hypotheses, why):
    """The analyzer abstained (or ranked something else first); a model says traffic_surge at 0.95."""
    rc = cause("traffic_surge", confidence=0.95, hypotheses=hypotheses)
    for policy in (AUTO, GuardrailPolicy()):
        plan = plan_for(rc, EKS, policy=policy)
        assert writes(plan) == [] and plan.decision == "escalate" and why in plan.reason


def test_unknown_never_writes_even_through_a_runbook_that_would(tmp_path):
    (tmp_path / "bad.yaml").write_text("name: catch-all\ntitle: t\ntrigger:\n  categories: [availability]\n"
                                       "steps:\n  - action: scale_service\n    params: {factor: 1.5}\n")
    books = runbooks.load_runbooks(tmp_path)
    rc = cause("unknown", confidence=0.9)
    inc = incident()
    facts = runbooks.facts_of(rc, inc, None)
    plan = runbooks.plan(runbooks.select(books, rc, inc, EKS, facts), rc, inc, EKS, policy=AUTO, facts=facts)
    assert writes(plan) == [] and plan.decision == "escalate"


# --- targets from evidence ---------------------------------------------------------------------

def test_a_rollback_carries_the_culprit_change_and_targets_the_service_whose_deploy_it_is():
    deploy = ChangeEvent(id="deploy-api-7", kind="deploy", service="api", at=NOW - timedelta(minutes=10),
                         revision="7", previous_revision="6", source="ecs")
    ev = Evidence(window_start=NOW - timedelta(hours=1), window_end=NOW, changes=[deploy])
    catalog = ServiceCatalog(services=[EKS, Service(name="api", platform="ecs", cluster="prod")])
    plan = plan_for(cause("bad_deploy", "deploy-api-7"), EKS, ev, catalog=catalog)
    (rollback,) = writes(plan)
    assert rollback.target == "ecs/prod/api" and rollback.params["change"]["previous_revision"] == "6"
    assert rollback.params["to"] == "previous_revision"


# --- pins -------------------------------------------------------------------------------------

def test_pins_fingerprint_drift_outcome_and_inverse():
    pin = make_pin({"replicas": 6, "hpa_min": 6}, {"replicas": 4, "hpa_min": 2, "hpa_max": 10})
    assert drift(pin, {"replicas": 4, "hpa_min": 2, "hpa_max": 10, "unrelated": 1}) == []
    assert drift(pin, {"replicas": 5, "hpa_min": 2, "hpa_max": 10}) == ["replicas: 4 -> 5"]
    assert outcome(pin, {"replicas": 6, "hpa_min": 6}) == "applied"
    assert outcome(pin, {"replicas": 4, "hpa_min": 2}) == "not_applied"
    assert outcome(pin, {"replicas": 9, "hpa_min": 2}) == "diverged"
    back = inverse(pin)
    assert back.target == {"replicas": 4, "hpa_min": 2} and back.before == {"replicas": 6, "hpa_min": 6}
    restart = make_pin({"pods": {"a": None, "b": None}}, {"pods": {"a": "u1", "b": "u2"}})
    assert outcome(restart, {"pods": {"a": None, "b": "u2"}}) == "partial"
    assert outcome(restart, {"pods": {"a": None, "b": None}}) == "applied"


def _ec2_deploy(source: str) -> Evidence:
    change = ChangeEvent(id="codedeploy-invoicing-d-3XY9ABCDE", kind="deploy", service="invoicing",
                         at=NOW - timedelta(minutes=20), revision="d-3XY9ABCDE", source=source,
                         description="CodeDeploy d-3XY9ABCDE of invoicing (invoicing-asg, START)")
    return Evidence(window_start=NOW - timedelta(hours=1), window_end=NOW, changes=[change])


def test_a_codedeploy_bad_deploy_on_ec2_is_rolled_back_through_codedeploy():
    service = Service(name="invoicing", platform="ec2", kind="worker", workload="invoicing-asg")
    plan = plan_for(cause("bad_deploy", "codedeploy-invoicing-d-3XY9ABCDE"), service, _ec2_deploy("codedeploy"))
    (write,) = writes(plan)
    assert (write.type, write.target, write.requires_approval) == ("rollback_deployment", "ec2/invoicing-asg", True)
    assert write.params["change"]["source"] == "codedeploy"
    ok, how = runbooks.capability("rollback_deployment", "ec2")
    assert ok and "codedeploy:CreateDeployment" in how


def test_an_ec2_deploy_that_codedeploy_did_not_make_is_not_rolled_back_it_pages():
    service = Service(name="invoicing", platform="ec2", kind="worker", workload="invoicing-asg")
    plan = plan_for(cause("bad_deploy", "codedeploy-invoicing-d-3XY9ABCDE"), service, _ec2_deploy("github"))
    assert writes(plan) == [] and plan.decision == "escalate" and "not a github change" in plan.reason
