"""The reconciler and the change feed as deployed: the synthesized functions, invoked through Lambda
on the embedded AWS, each call checked against its own role."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import open_session

pytestmark = pytest.mark.statemachine
EVENTS = Path(__file__).resolve().parents[1] / "functional" / "events" / "change_feed"


def invoke(session, handler: str, event: dict) -> dict:
    lam = session.aws.client("lambda")
    resp = lam.invoke(FunctionName=session.aws.function_for(f"handlers.{handler}.handler"), Payload=json.dumps(event))
    body = json.loads(resp["Payload"].read())
    assert not resp.get("FunctionError"), body
    return body


def test_the_reconciler_starts_every_stored_incident_without_a_workflow_once():
    with open_session("checkout-api-dependency-failure") as session:   # replay's ingest starts nothing itself
        session.ingest()
        sfn = session.aws.client("stepfunctions")
        assert sfn.list_executions(stateMachineArn=session.aws.state_machine_arn)["executions"] == []
        first = invoke(session, "reconcile", {"source": "aws.events", "detail-type": "Scheduled Event"})
        assert first["started"] and not first["errors"]
        again = invoke(session, "reconcile", {})
        assert again["pending"] == 0 and again["started"] == []
        names = [e["name"] for e in sfn.list_executions(stateMachineArn=session.aws.state_machine_arn)["executions"]]
        assert sorted(names) == sorted(first["started"])
        assert session.aws.iam_report["denied"] == [], "the reconciler's role allows each of its calls"


def test_the_change_feed_records_a_parameter_change_with_its_own_role():
    with open_session("cart-api-config-change") as session:
        ssm = session.aws.client("ssm")
        ssm.put_parameter(Name="/prod/cart-api/discount-rate", Value="0.1", Type="String", Overwrite=True)
        ssm.put_parameter(Name="/prod/cart-api/discount-rate", Value="9", Type="String", Overwrite=True)
        event = json.loads((EVENTS / "ssm-parameter-store-change.json").read_text())
        event["detail"]["name"] = "/prod/cart-api/discount-rate"
        out = invoke(session, "change_feed", event)
        assert out["recorded"].startswith("ssm-cart-api-discount-rate-v")
        codedeploy = json.loads((EVENTS / "codedeploy-deployment-start.json").read_text())
        assert invoke(session, "change_feed", codedeploy)["recorded"] is None       # not an application of the estate
        assert session.aws.iam_report["denied"] == [], "the change feed's role allows each of its calls"


def test_replay_never_reports_an_execution_that_did_not_finish():
    from watchkeeper.local.replay import ReplayIncomplete

    session = open_session(timeout_seconds=0)
    session.options.approve = lambda approval: None          # nobody decides: the workflow waits for approval
    with session, pytest.raises(ReplayIncomplete) as unfinished:
        session.run()
    assert len(unfinished.value.incident_ids) == 1 and "did not finish" in str(unfinished.value)
