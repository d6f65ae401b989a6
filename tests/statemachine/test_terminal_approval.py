"""`watchkeeper approve INCIDENT` against the running demo's approval server: the decision is
SigV4-signed as the embedded AWS's local IAM user, the server plays API Gateway's IAM
authorizer, and the approvals function checks the ARN against approver_arns."""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from typer.testing import CliRunner

from watchkeeper import commands
from watchkeeper.terminal import find_target, send

from .conftest import open_session, run_incident


def test_the_terminal_approves_as_the_local_iam_user_and_strangers_are_refused(tmp_path, monkeypatch):
    session = open_session(dry_run=False, approval_server=True)
    seen: dict[str, Any] = {}
    monkeypatch.setattr(commands, "LOCAL_STATE", tmp_path)

    def approve_at_the_terminal(approval: dict[str, Any]) -> None:
        target = find_target(None, tmp_path)
        url = f"{target.url}/terminal/decisions"
        body = json.dumps({"incident_id": approval["incident_id"], "decision": "approve"}).encode()
        try:                                                       # unsigned: the authorizer refuses
            urllib.request.urlopen(urllib.request.Request(url, data=body, method="POST"), timeout=10)
        except urllib.error.HTTPError as exc:
            seen["unsigned"] = exc.code
        forged = find_target(None, tmp_path)                       # signed with a key that is not the user's
        import boto3
        forged.session = boto3.session.Session(aws_access_key_id="AKIAFORGED0000000000", aws_secret_access_key="x" * 40,
                                               region_name=forged.region)
        seen["forged"] = send(forged, approval["incident_id"], True, "")[0]
        result = CliRunner().invoke(commands.app, ["approve", approval["incident_id"], "--reason", "from my laptop"])
        seen["cli"] = result.output
        seen["exit"] = result.exit_code

    session.options.approve = approve_at_the_terminal
    with session:
        session.approval_server.advertise(tmp_path)
        incident_id, result = run_incident(session)
        from watchkeeper.adapters.dynamodb_audit import DynamoDBAuditLog
        records = DynamoDBAuditLog(session.aws.env("AUDIT_TABLE"), session.aws.client("dynamodb")).records(incident_id)

    assert seen["unsigned"] == 403 and seen["forged"] == 403
    assert seen["exit"] == 0, seen["cli"]
    assert "arn:aws:iam::123456789012:user/local-approver" in seen["cli"] and "approved" in seen["cli"]
    out = result["output"]
    assert out["approval"]["channel"] == "terminal" and out["approval"]["decided_by"].endswith("user/local-approver")
    assert out["execution"]["status"] == "executed"
    (decision,) = [r for r in records if r.kind == "decision" and r.step == "Wait for approval"]
    assert "from my laptop" in decision.summary and decision.actor.endswith("user/local-approver")
    assert not (tmp_path / "approval-server.json").exists()            # the server cleaned up
