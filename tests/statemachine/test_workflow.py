"""Whole incidents through the synthesized state machine on moto, with the real handlers."""
from __future__ import annotations

import inspect
import json

import pytest

from watchkeeper.adapters.dynamodb_audit import DynamoDBAuditLog, verify_chain
from watchkeeper.ports import TransientError
from watchkeeper.steps import Steps

from .conftest import open_session, run_incident, send_decision, states_entered

pytestmark = pytest.mark.statemachine


def audit_of(session, incident_id):
    return DynamoDBAuditLog(session.aws.env("AUDIT_TABLE"), session.aws.client("dynamodb")).records(incident_id)


def test_the_moto_lambda_hook_the_runtime_replaces_still_exists():
    from moto.awslambda_simple.models import LambdaSimpleBackend

    params = list(inspect.signature(LambdaSimpleBackend.invoke).parameters)
    assert params == ["self", "function_name", "qualifier", "body", "headers", "response_headers"]


def test_approve_path_rolls_back_the_cluster_verifies_and_reports():
    session = open_session(dry_run=False)
    session.options.approve = lambda approval: send_decision(session, approval, True)
    with session:
        rollouts = []
        session.kube.on_write(lambda verb, kind, ns, name, body: rollouts.append(
            session.kube.deployment("shop", "storefront-bff")["spec"]["template"]["spec"]["containers"][0]["image"])
            if kind == "deployments" else None)
        deployment = session.kube.deployment("shop", "storefront-bff")
        before = deployment["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
        bad_image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
        incident_id, result = run_incident(session)
        out = result["output"]
        assert result["status"] == "SUCCEEDED"
        assert out["execution"]["status"] == "executed"
        assert rollouts and rollouts[0] != bad_image          # rolled back to the previous image first
        # the replay world never recovers: verification runs out; putting the rollback back would
        # redeploy the diagnosed culprit, so it stays and on-call is paged saying so
        assert out["verification"]["status"] == "not_recovered"
        assert [r["status"] for r in out["verification"]["reverted"]] == ["skipped"]
        assert "redeploy the diagnosed culprit deploy-storefront-bff-357" in out["escalation"]["reason"]
        after = session.kube.deployment("shop", "storefront-bff")
        assert int(after["metadata"]["annotations"]["deployment.kubernetes.io/revision"]) == int(before) + 1
        assert after["spec"]["template"]["spec"]["containers"][0]["image"] != bad_image
        assert len(rollouts) == 1                               # exactly one write reached the cluster
        states = states_entered(session, incident_id)
        assert states[:7] == ["Wait for related alerts", "Classify alert", "Merged into another incident?",
                              "Gather evidence", "Diagnose", "Plan remediation", "Needs approval?"]
        assert "Wait for approval" in states and "Execute actions" in states and "Verify recovery" in states
        assert states[-2:] == ["Write report", "Incident handled"]
        records = audit_of(session, incident_id)
        kinds = [r.kind for r in records]
        assert kinds.index("decision") < kinds.index("intent") < kinds.index("outcome")
        assert [r.step for r in records if r.kind in ("intent", "outcome")] == ["Execute actions", "Execute actions"]
        intent = next(r for r in records if r.kind == "intent")
        assert intent.detail["pin"]["summary"].startswith("restore revision 356")       # what was approved
        assert verify_chain(records) == []
        bucket, _, key = out["report"]["uri"].removeprefix("s3://").partition("/")
        report = session.aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        assert "deploy-storefront-bff-357" in report and "rollback_deployment" in report


def test_reject_path_writes_nothing_and_reports_the_rejection():
    session = open_session(dry_run=False)
    session.options.approve = lambda approval: send_decision(session, approval, False, who="arn:aws:iam::123456789012:user/lead")
    with session:
        incident_id, result = run_incident(session)
        out = result["output"]
        assert result["status"] == "SUCCEEDED"
        assert "execution" not in out
        # the approval request's preview is a server-side dry run (dryRun=All): it persists nothing
        assert not [e for e in session.kube.events if e["verb"] != "get" and not e.get("dry_run")]
        assert out["report"]["status"] == "escalated" and "user/lead" in out["report"]["summary"]
        assert "Execute actions" not in states_entered(session, incident_id)


def test_approval_timeout_escalates_and_the_audit_says_so():
    session = open_session(dry_run=False, template_account="test")   # cdk.json: 3 s approval timeout
    session.options.approve = lambda approval: None                  # nobody answers
    with session:
        incident_id, result = run_incident(session)
        out = result["output"]
        assert result["status"] == "SUCCEEDED"
        assert "Approval timed out" in states_entered(session, incident_id)
        assert out["escalation"]["reason"] == "the approval request timed out"
        assert any(r.kind == "escalation" and "timed out" in r.summary for r in audit_of(session, incident_id))
        # the approval request's preview is a server-side dry run (dryRun=All): it persists nothing
        assert not [e for e in session.kube.events if e["verb"] != "get" and not e.get("dry_run")]


def test_a_failing_step_is_caught_recorded_and_paged(monkeypatch):
    def broken(self, incident):
        raise RuntimeError("CloudWatch Logs is unreachable")

    monkeypatch.setattr(Steps, "gather", broken)
    with open_session() as session:
        incident_id, result = run_incident(session)
        out = result["output"]
        assert result["status"] == "SUCCEEDED"
        states = states_entered(session, incident_id)
        assert states[-2:] == ["Record failure and page", "Escalated after failure"]
        assert out["error"]["Error"] == "RuntimeError"
        assert "CloudWatch Logs is unreachable" in out["escalation"]["reason"]
        assert any(r.kind == "escalation" for r in audit_of(session, incident_id))


def test_a_transient_error_is_retried_with_backoff(monkeypatch):
    calls = {"n": 0}
    original = Steps.diagnose

    def flaky(self, incident, evidence):
        calls["n"] += 1
        if calls["n"] == 1:
            raise TransientError("Bedrock is throttling")
        return original(self, incident, evidence)

    monkeypatch.setattr(Steps, "diagnose", flaky)
    with open_session() as session:
        incident_id, result = run_incident(session)
        assert result["status"] == "SUCCEEDED" and calls["n"] == 2
        assert result["output"]["diagnosis"]["kind"] == "bad_deploy"
        assert states_entered(session, incident_id).count("Diagnose") == 1


def test_the_same_alert_delivered_twice_starts_one_execution():
    session = open_session("search-api-memory-leak", extra_env={"START_EXECUTIONS": "true"})
    with session:
        lam, sfn = session.aws.client("lambda"), session.aws.client("stepfunctions")
        alert = session.bundle.alerts[0]
        event = {"Records": [{"EventSource": "aws:sns", "Sns": alert.payload}]}
        for _ in range(2):
            resp = lam.invoke(FunctionName=session.aws.function_for("handlers.ingest.handler"), Payload=json.dumps(event))
            assert "FunctionError" not in resp
        executions = sfn.list_executions(stateMachineArn=session.aws.state_machine_arn)["executions"]
        assert len(executions) == 1
        assert executions[0]["name"].startswith("inc-search-api-")


def test_a_malformed_alert_is_quarantined_and_the_batch_goes_on():
    with open_session("checkout-api-dependency-failure") as session:
        session.bundle.alerts.insert(2, session.bundle.alerts[0].model_copy(update={"payload": {"detail-type": "oops"}}))
        totals = session.ingest()
        assert totals["invalid"] == 1 and totals["received"] == 9
        from watchkeeper.adapters.dynamodb_state import DynamoDBIncidentStore
        store = DynamoDBIncidentStore(session.aws.env("STATE_TABLE"), session.aws.client("dynamodb"))
        (quarantined,) = store.quarantined()
        assert "cloudwatch-eventbridge" in quarantined.reason
        incidents = [i for i in store.incidents() if i.status == "open"]
        assert [(i.service, i.deliveries) for i in incidents] == [("checkout-api", 7)]
