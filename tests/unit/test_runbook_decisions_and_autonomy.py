"""Runbook decisions, error-pattern triggers, schema safety rules; guardrail policy per
service and autonomy levels as the plan's decision shows them."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from watchkeeper.domain import runbooks
from watchkeeper.domain.guardrails import GuardrailConfig, GuardrailContext, GuardrailPolicy, check
from watchkeeper.models import Action, AlertRef, ChangeEvent, Evidence, Hypothesis, Incident, RootCause, Service
from watchkeeper.models.evidence import LogTemplateStat

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 25, 3, 0, tzinfo=timezone.utc)
SERVICE = Service(name="web", kind="api", platform="eks", cluster="c", namespace="ns", workload="web")
BOOKS = runbooks.load_runbooks(REPO / "runbooks")


def incident(category="performance", title="web p99 latency") -> Incident:
    alert = AlertRef(delivery_id="d1", fingerprint="f", source="cloudwatch-sns", status="firing", title=title,
                     received_at=NOW, service="web", category=category)
    return Incident(id="inc-1", service="web", opened_at=NOW, last_alert_at=NOW, category=category, alerts=[alert])


def evidence(deploy_at=NOW - timedelta(minutes=10), new_errors=True) -> Evidence:
    return Evidence(window_start=NOW - timedelta(hours=3), window_end=NOW, onset=NOW - timedelta(minutes=5),
                    changes=[ChangeEvent(id="deploy-web-9", kind="deploy", service="web", at=deploy_at)],
                    templates=[LogTemplateStat(template_id="t1", template="ERROR NullPointerException in <*>",
                                               service="web", level="error", after_onset=40 if new_errors else 0)])


def plan_for(kind, *, culprit=None, ev=None, policy=None, inc=None):
    inc = inc or incident()
    cause = RootCause(kind=kind, culprit=culprit, confidence=0.8, summary="",
                      hypotheses=[Hypothesis(kind=kind, culprit=culprit, score=0.9)] if kind != "unknown" else [])
    facts = runbooks.facts_of(cause, inc, ev)
    return runbooks.plan(runbooks.select(BOOKS, cause, inc, SERVICE, facts), cause, inc, SERVICE,
                         policy=policy, facts=facts)


def first_write(plan):
    return next((a.type for a in plan.actions if a.is_write), None)


def test_every_runbook_loads_including_the_new_traffic_surge_one():
    assert {"deployment-rollback", "config-revert", "oom-kill", "high-latency-api", "dependency-failure",
            "security-event", "disk-full", "traffic-surge-scale-out"} <= {b.name for b in BOOKS}


def test_traffic_surge_scales_out_even_after_an_unrelated_deploy_with_errors():
    plan = plan_for("traffic_surge", ev=evidence())
    assert plan.runbook == "high-latency-api" and first_write(plan) == "scale_service" and plan.decided_by is None


def test_a_deploy_the_analyzer_blames_with_an_error_spike_is_rolled_back_instead():
    plan = plan_for("traffic_surge", culprit="deploy-web-9", ev=evidence())
    assert first_write(plan) == "rollback_deployment" and plan.decided_by == "recent-deploy-and-error-spike"
    quiet = plan_for("traffic_surge", culprit="deploy-web-9", ev=evidence(new_errors=False))
    assert first_write(quiet) == "scale_service"
    old = plan_for("traffic_surge", culprit="deploy-web-9", ev=evidence(deploy_at=NOW - timedelta(hours=5)))
    assert first_write(old) == "scale_service"


def test_a_surge_on_a_worker_uses_the_generic_scale_out_runbook():
    worker = SERVICE.model_copy(update={"kind": "worker"})
    cause = RootCause(kind="traffic_surge", confidence=0.8, summary="")
    assert runbooks.select(BOOKS, cause, incident(), worker).name == "traffic-surge-scale-out"


@pytest.mark.parametrize("kind", ["security_event", "dependency_failure", "unknown"])
@pytest.mark.parametrize("autonomy", ["observe", "advise", "act_with_approval", "act_on_known_runbooks"])
def test_hands_off_incidents_never_plan_a_write_at_any_autonomy(kind, autonomy):
    plan = plan_for(kind, ev=evidence(), policy=GuardrailPolicy(autonomy=autonomy))
    assert first_write(plan) is None and plan.decision == "escalate"
    assert any(a.type == "page_human" for a in plan.actions)


def test_the_loader_refuses_a_write_in_a_security_runbook(tmp_path):
    (tmp_path / "s.yaml").write_text("name: s\ntitle: t\ntrigger: {root_causes: [security_event]}\n"
                                     "steps:\n  - action: page_human\n  - action: restart_pods\n")
    with pytest.raises(runbooks.RunbookError, match="s.yaml:1.*must not write"):
        runbooks.load_runbooks(tmp_path)


def test_an_irreversible_write_cannot_claim_a_revert(tmp_path):
    (tmp_path / "r.yaml").write_text("name: r\ntitle: t\ntrigger: {}\nsteps:\n"
                                     "  - action: restart_pods\n    revert: restore_before\n")
    with pytest.raises(runbooks.RunbookError, match=r"r.yaml:5: steps.0: .*cannot be reverted"):
        runbooks.load_runbooks(tmp_path)


def test_a_bad_error_pattern_and_a_bad_decision_field_name_their_line(tmp_path):
    (tmp_path / "p.yaml").write_text("name: p\ntitle: t\ntrigger:\n  error_patterns: ['(unclosed']\n"
                                     "steps:\n  - action: scale_service\ndecisions:\n  - name: d\n"
                                     "    when: {recent_deploys: true}\n    steps: [{action: scale_service}]\n")
    with pytest.raises(runbooks.RunbookError) as info:
        runbooks.load_runbooks(tmp_path)
    text = str(info.value)
    assert "p.yaml:4: trigger.error_patterns" in text and "p.yaml:9: decisions.0.when.recent_deploys" in text


def test_error_patterns_select_a_more_specific_runbook(tmp_path):
    (tmp_path / "generic.yaml").write_text("name: generic\ntitle: g\ntrigger: {root_causes: [disk_full]}\n"
                                           "steps: [{action: free_disk_space, params: {paths: [/tmp/*]}}]\n")
    (tmp_path / "inodes.yaml").write_text("name: inodes\ntitle: i\ntrigger: {root_causes: [disk_full], "
                                          "error_patterns: ['no space left on device|inode']}\n"
                                          "steps: [{action: page_human}]\n")
    books = runbooks.load_runbooks(tmp_path)
    cause = RootCause(kind="disk_full", confidence=0.9, summary="")
    assert runbooks.select(books, cause, incident(title="ENOSPC: No space left on device"), SERVICE).name == "inodes"
    assert runbooks.select(books, cause, incident(title="disk 95% used"), SERVICE).name == "generic"


# --- autonomy ------------------------------------------------------------------------------

def test_observe_plans_and_dry_runs_without_asking_anyone():
    plan = plan_for("bad_deploy", culprit="deploy-web-9", policy=GuardrailPolicy(autonomy="observe"))
    assert (plan.decision, plan.dry_run, plan.autonomy) == ("execute", True, "observe")
    assert first_write(plan) == "rollback_deployment" and not plan.requires_approval


def test_advise_pages_with_the_proposal():
    plan = plan_for("bad_deploy", culprit="deploy-web-9", policy=GuardrailPolicy(autonomy="advise"))
    assert plan.decision == "escalate" and "proposes rollback_deployment on eks/c/ns/web" in plan.reason


def test_act_with_approval_asks_before_every_write():
    plan = plan_for("traffic_surge", policy=GuardrailPolicy(autonomy="act_with_approval"))
    assert plan.decision == "approve" and all(a.requires_approval for a in plan.actions if a.is_write)


def test_act_on_known_runbooks_runs_autonomous_runbooks_unless_the_action_always_needs_approval():
    policy = GuardrailPolicy(autonomy="act_on_known_runbooks")
    assert plan_for("traffic_surge", policy=policy).decision == "execute"           # autonomous runbook
    assert plan_for("bad_deploy", culprit="deploy-web-9", policy=policy).decision == "approve"   # not autonomous
    strict = GuardrailPolicy(autonomy="act_on_known_runbooks", always_approve=["scale_service"])
    assert plan_for("traffic_surge", policy=strict).decision == "approve"


def test_autonomy_per_service_and_per_runbook_from_the_account_config():
    config = GuardrailConfig.parse('{"defaults": {"autonomy": "act_with_approval", "max_restarts_per_hour": 5},'
                                   ' "services": {"web": {"autonomy": "observe",'
                                   ' "runbook_autonomy": {"high-latency-api": "act_on_known_runbooks"}},'
                                   ' "cart": {"max_restarts_per_hour": 2}}}')
    web = config.for_service("web")
    assert web.autonomy_for("deployment-rollback") == "observe"
    assert web.autonomy_for("high-latency-api") == "act_on_known_runbooks"
    assert config.for_service("cart").max_restarts_per_hour == 2 and config.for_service("cart").autonomy == "act_with_approval"
    assert config.for_service("other") == config.defaults
    assert plan_for("traffic_surge", policy=web).decision == "execute"
    assert plan_for("bad_deploy", culprit="deploy-web-9", policy=web).dry_run


def test_a_typo_in_a_service_override_is_an_error_naming_the_service():
    with pytest.raises(ValueError, match="guardrails.services.web"):
        GuardrailConfig.parse('{"services": {"web": {"max_restart_per_hour": 1}}}')
    with pytest.raises(ValueError, match="autonomy"):
        GuardrailConfig.parse('{"defaults": {"autonomy": "yolo"}}')
    with pytest.raises(ValueError, match="unknown time zone"):
        GuardrailConfig.parse('{"defaults": {"freeze_windows": [{"start": "18:00", "end": "23:00", "timezone": "Mars/Base"}]}}')


def test_global_dry_run_in_the_policy_makes_every_plan_a_dry_run():
    assert plan_for("bad_deploy", culprit="deploy-web-9", policy=GuardrailPolicy(dry_run=True)).dry_run


# --- guardrail verdicts on the exact change -------------------------------------------------

def test_scale_factor_and_blast_radius_use_the_previewed_change():
    policy = GuardrailPolicy()
    scale = Action(id="a1", type="scale_service", target="t", params={"factor": 1.5})
    assert check(scale, policy, GuardrailContext(now=NOW, current_replicas=4, target_replicas=6)).allowed
    assert check(scale, policy, GuardrailContext(now=NOW, current_replicas=4, target_replicas=9)).guardrail == "max_scale_factor"
    assert check(Action(id="a", type="scale_service", target="t", params={"factor": 3}), policy,
                 GuardrailContext(now=NOW)).guardrail == "max_scale_factor"
    restart = Action(id="a2", type="restart_pods", target="t", params={"max_pods": 2})
    assert check(restart, policy, GuardrailContext(now=NOW, pods_affected=4)).guardrail == "blast_radius"
