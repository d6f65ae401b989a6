"""The operator's view against the embedded AWS: one clock in replay, the metrics a replay emits, and
`watchkeeper incidents | show | doctor` reading the stack's tables and executions with the caller's credentials."""
from __future__ import annotations

import io
import json
import time
import zipfile
from datetime import timedelta

import pytest
from typer.testing import CliRunner

from watchkeeper import commands
from watchkeeper.adapters.dynamodb_audit import DynamoDBAuditLog
from watchkeeper.adapters.dynamodb_state import DynamoDBIncidentStore

from .conftest import open_session, run_incident, send_decision

pytestmark = pytest.mark.statemachine
runner = CliRunner()
# the CLI reads the stack's outputs, not the functions' environment the embedded runtime set in this process
AWS_CLI = {"STATE_TABLE": None, "AUDIT_TABLE": None}
NARROW = {"COLUMNS": "80", "TERM": "dumb", **AWS_CLI}   # CliRunner's output is not a terminal: piped, 80 columns


def _deploy_stack_outputs(session) -> dict[str, str]:
    """The stack as `cdk deploy` leaves it: a CloudFormation stack whose outputs name the local resources."""
    template = session.aws.template
    outputs = {k: str(session.aws.resolver.resolve(v["Value"])) for k, v in template["Outputs"].items()}
    cfn = session.aws.client("cloudformation")
    cfn.create_stack(StackName="Watchkeeper-local", TemplateBody=json.dumps({
        "Resources": {"Marker": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {k: {"Value": v} for k, v in outputs.items()}}))
    return outputs


def test_replay_runs_on_the_scenario_clock_so_the_report_has_no_jump():
    with open_session() as session:
        incident_id, result = run_incident(session)
        out = result["output"]
        last_alert = max(a.received_at for a in session.bundle.alerts)
        records = DynamoDBAuditLog(session.aws.env("AUDIT_TABLE"), session.aws.client("dynamodb")).records(incident_id)
        for r in records:              # every step, the approval and the report: minutes after the last alert
            assert timedelta(0) <= r.at - last_alert < timedelta(minutes=5), (r.step, r.at)
        bucket, _, key = out["report"]["uri"].removeprefix("s3://").partition("/")
        report = session.aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        stamps = [line.split(" | ")[0].strip("| ") for line in report.split("## Timeline")[1].split("## Audit")[0]
                  .splitlines() if line.startswith("| 2")]
        assert stamps and all(s.startswith("2026-09-20") for s in stamps)
        assert "| detection (onset → first alert) |" in report and "## Impact" in report
        html = session.aws.client("s3").get_object(Bucket=bucket, Key=key.replace("report.md", "report.html"))
        assert html["ContentType"].startswith("text/html") and b"<svg" in html["Body"].read()
        # the metrics this replay emitted: the facts of each step, in the scenario's time
        metrics = {m["name"]: m for m in session.agent_metrics() if "service" in m["dimensions"]}
        assert metrics["IncidentsOpened"]["dimensions"] == {"account": "local", "service": "storefront-bff"}
        first_alert = min(a.received_at for a in session.bundle.alerts)
        assert (last_alert - first_alert).total_seconds() < metrics["TimeToDiagnosis"]["value"] < \
            (last_alert - first_alert).total_seconds() + 120
        assert metrics["ApprovalsApproved"]["value"] == 1 and metrics["ActionsExecuted"]["value"] == 0
        assert {m["name"] for m in session.agent_metrics() if "service" not in m["dimensions"]} >= {"AlertsReceived"}


def test_incidents_and_show_read_the_deployed_stack_while_an_approval_waits():
    session = open_session(dry_run=False)
    session.options.approve = lambda approval: None            # nobody decides yet
    with session:
        _deploy_stack_outputs(session)
        session.ingest()
        (incident_id,) = session.start_incidents()
        store = DynamoDBIncidentStore(session.aws.env("STATE_TABLE"), session.aws.client("dynamodb"))
        deadline = time.monotonic() + 60
        while not store.pending_for([incident_id]) and time.monotonic() < deadline:
            time.sleep(0.2)
        (pending,) = store.pending_for([incident_id])

        listed = runner.invoke(commands.app, ["incidents", "-c", "account=local", "--awaiting-approval", "--json"], env=AWS_CLI)
        assert listed.exit_code == 0, listed.output
        doc = json.loads(listed.stdout)
        assert [(i["id"], i["status"], i["service"]) for i in doc["incidents"]] == [
            (incident_id, "awaiting_approval", "storefront-bff")]
        assert "DynamoDB table" in doc["source"]

        narrow = runner.invoke(commands.app, ["incidents", "-c", "account=local"], env=NARROW)
        assert narrow.exit_code == 0 and incident_id in narrow.output and "…" not in narrow.output
        assert all(len(line) <= 80 for line in narrow.output.splitlines())

        shown = runner.invoke(commands.app, ["show", incident_id.rsplit("-", 1)[1], "-c", "account=local", "--json"], env=AWS_CLI)
        assert shown.exit_code == 0, shown.output
        detail = json.loads(shown.stdout)
        assert detail["diagnosis"]["kind"] == "bad_deploy" and detail["plan"]["runbook"] == "deployment-rollback"
        assert detail["approval"]["status"] == "pending" and detail["evidence"]
        readable = runner.invoke(commands.app, ["show", incident_id, "-c", "account=local"], env=NARROW)
        assert readable.exit_code == 0 and "deploy-storefront-bff-357" in readable.output and "…" not in readable.output
        assert "Decisions and actions" in readable.output and "pending" in readable.output

        send_decision(session, pending, False, who="oncall@example.com")       # finish the incident cleanly
        session.wait([incident_id])
        handled = json.loads(runner.invoke(commands.app, ["incidents", "-c", "account=local", "--json"], env=AWS_CLI).stdout)
        assert handled["incidents"][0]["status"] == "escalated"
        assert json.loads(runner.invoke(commands.app, ["incidents", "-c", "account=local", "--open", "--json"],
                                        env=AWS_CLI).stdout)["incidents"] == []


def test_incidents_without_a_stack_read_the_local_state(tmp_path, monkeypatch):
    from watchkeeper.local.state import export_incident

    monkeypatch.setattr(commands, "LOCAL_STATE", tmp_path)
    with open_session() as session:
        incident_id, result = run_incident(session)
        paths = export_incident(session, incident_id, result, tmp_path, origin="replay")
    assert paths["html_uri"].read_text().startswith("<!doctype html>")
    listed = runner.invoke(commands.app, ["incidents", "--since", "3650d"], env=NARROW)
    assert listed.exit_code == 0 and incident_id in listed.output
    assert f"local state in {tmp_path}" in listed.output.replace("\n", "")
    shown = runner.invoke(commands.app, ["show", incident_id, "--json"])
    assert json.loads(shown.stdout)["report"]["local_html_uri"].endswith("report.html")
    assert runner.invoke(commands.app, ["show", "no-such-incident"]).exit_code == 1


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("index.py", "def handler(e, c):\n    return e\n")
    return buf.getvalue()


def test_doctor_names_each_problem_with_its_fix_and_passes_once_they_are_fixed():
    with open_session() as session:
        outputs = _deploy_stack_outputs(session)
        first = runner.invoke(commands.app, ["doctor", "-c", "account=local", "--json"])
        assert first.exit_code == 1
        found = {f["check"]: f for f in json.loads(first.stdout)["findings"]}
        assert found["checkout-api (eks) cluster"]["status"] == "problem"
        assert "config/catalog.example.yaml" in found["checkout-api (eks) cluster"]["fix"]
        assert found["payments-api (lambda) workload"]["status"] == "problem"
        assert found["orders-worker logs"]["fix"].startswith("correct `log_group` of orders-worker")
        assert found["slack"]["status"] == "problem" and outputs["WebhookSecretArn"] in found["slack"]["fix"]
        assert found["kill switch"]["status"] == "ok" and found["stack"]["status"] == "ok"

        aws = session.aws
        role = aws.client("iam").create_role(RoleName="svc", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        aws.client("eks").create_cluster(name="prod-eks", roleArn=role, resourcesVpcConfig={"subnetIds": ["subnet-1"]})
        aws.client("lambda").create_function(FunctionName="payments-api", Runtime="python3.12", Role=role,
                                             Handler="index.handler", Code={"ZipFile": _zip()})
        aws.client("ecs").create_cluster(clusterName="prod-ecs")
        aws.client("ecs").register_task_definition(family="orders-worker", containerDefinitions=[
            {"name": "w", "image": "w:1", "memory": 128}])
        aws.client("ecs").create_service(cluster="prod-ecs", serviceName="orders-worker", taskDefinition="orders-worker",
                                         desiredCount=1)
        aws.client("autoscaling").create_launch_configuration(LaunchConfigurationName="invoicing", ImageId="ami-12c6146b",
                                                              InstanceType="t3.micro")
        aws.client("autoscaling").create_auto_scaling_group(AutoScalingGroupName="invoicing-asg", MinSize=0, MaxSize=4,
                                                            DesiredCapacity=0, LaunchConfigurationName="invoicing",
                                                            AvailabilityZones=["us-east-1a"])
        for group in ("/eks/prod/shop/checkout-api", "/aws/lambda/payments-api", "/ecs/prod/orders-worker",
                      "/ec2/prod/invoicing/app"):
            aws.client("logs").create_log_group(logGroupName=group)
        aws.client("cloudwatch").put_metric_alarm(
            AlarmName="checkout-api-5xx", MetricName="error_rate_5xx", Namespace="Shop/Service", Statistic="Average",
            Period=60, EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold",
            Dimensions=[{"Name": "Service", "Value": "checkout-api"}], AlarmActions=[outputs["AlertTopicArn"]])
        aws.client("secretsmanager").put_secret_value(SecretId=outputs["WebhookSecretArn"], SecretString=json.dumps(
            {"slack_bot_token": "xoxb-1-2-3", "slack": "signing-secret", "pagerduty": "pd"}))
        aws.client("ssm").put_parameter(Name=outputs["KillSwitchParameterName"], Value="on", Type="String",
                                        Overwrite=True)

        second = runner.invoke(commands.app, ["doctor", "-c", "account=local"], env=NARROW)
        assert second.exit_code == 0, second.output
        assert "0 problem(s)" in second.output and "checkout-api (eks) deployment: shop/checkout-api: 4/4 ready" \
            in second.output
        assert "kill switch: /watchkeeper/local/kill-switch is ON" in second.output     # a warning, named
        assert "fix: `watchkeeper killswitch off" in second.output
        assert all(len(line) <= 80 for line in second.output.splitlines()) and "…" not in second.output
