"""The operator's view in the template: the dashboard of the agent's own metrics and the alarms that page."""
from __future__ import annotations

import json
from typing import Any

import pytest

from infra.app import synth_template

pytestmark = pytest.mark.infra


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return synth_template("local")


def _of_type(raw: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in raw["Resources"].items() if v["Type"] == type_}


def _dashboard_text(raw: dict[str, Any]) -> str:
    (board,) = _of_type(raw, "AWS::CloudWatch::Dashboard").values()
    assert board["Properties"]["DashboardName"] == "Watchkeeper-local"
    body = board["Properties"]["DashboardBody"]
    return "".join(p if isinstance(p, str) else json.dumps(p) for p in body["Fn::Join"][1]) if isinstance(body, dict) else body


def test_the_dashboard_graphs_the_agent_metrics_next_to_executions_and_function_errors(raw):
    text = _dashboard_text(raw)
    for metric in ("IncidentsOpened", "IncidentsMerged", "IncidentsResolved", "IncidentsEscalated", "AlertsReceived",
                   "AlertsInvalid", "TimeToDiagnosis", "TimeToApprovalDecision", "TimeToMitigation", "Abstentions",
                   "ActionsExecuted", "ActionsBlocked", "ActionsReverted", "ApprovalsApproved", "ApprovalsRejected",
                   "ApprovalsTimedOut", "ModelInputTokens", "ModelOutputTokens", "ModelCost"):
        assert f'"{metric}"' in text, metric
    assert '"Watchkeeper"' in text and '"account"' in text and '"local"' in text     # namespace and dimension
    assert '"ExecutionsFailed"' in text and '"ExecutionsStarted"' in text             # the state machine
    assert '"Errors"' in text and '"AWS/Lambda"' in text                              # the functions
    assert '"ApproximateNumberOfMessagesVisible"' in text                              # dead-letter depth
    assert '"p90"' in text                                                             # durations as percentiles


def test_alarms_page_on_failed_workflows_timed_out_approvals_and_dead_letters(raw):
    alarms = {a["Properties"]["AlarmName"]: a["Properties"] for a in _of_type(raw, "AWS::CloudWatch::Alarm").values()}
    steps = alarms["Watchkeeper-local-WorkflowStepFailures"]
    assert steps["Namespace"] == "Watchkeeper" and steps["MetricName"] == "WorkflowStepFailures"
    assert steps["Dimensions"] == [{"Name": "account", "Value": "local"}] and steps["Threshold"] == 1
    timeouts = alarms["Watchkeeper-local-ApprovalsTimedOut"]
    assert timeouts["MetricName"] == "ApprovalsTimedOut" and timeouts["Statistic"] == "Sum"
    assert alarms["Watchkeeper-local-IncidentWorkflowFailed"]["MetricName"] == "ExecutionsFailed"
    dead = [a for n, a in alarms.items() if n.endswith("DeadLetters")]
    assert dead and all(a["MetricName"] == "ApproximateNumberOfMessagesVisible" for a in dead)
    (page_topic,) = [k for k, v in _of_type(raw, "AWS::SNS::Topic").items()
                     if v["Properties"].get("DisplayName") == "Watchkeeper: page on-call"]
    for name in ("WorkflowStepFailures", "ApprovalsTimedOut", "IncidentWorkflowFailed"):
        assert alarms[f"Watchkeeper-local-{name}"]["AlarmActions"] == [{"Ref": page_topic}]


def test_the_stack_names_what_the_cli_reads_and_the_report_links_to(raw):
    outputs = raw["Outputs"]
    for name in ("StateTableName", "AuditTableName", "KillSwitchParameterName", "WebhookSecretArn", "DashboardName",
                 "DashboardUrl", "ReportBucketName", "StateMachineArn"):
        assert name in outputs, name
    report = next(v for v in _of_type(raw, "AWS::Lambda::Function").values()
                  if v["Properties"]["Handler"] == "watchkeeper.handlers.report.handler")
    env = report["Properties"]["Environment"]["Variables"]
    assert env["DASHBOARD_NAME"] == "Watchkeeper-local" and env["ACCOUNT_ID"] == {"Ref": "AWS::AccountId"}


def test_the_report_function_may_read_metrics_for_its_chart(raw):
    report_id = next(k for k, v in _of_type(raw, "AWS::Lambda::Function").items()
                     if v["Properties"]["Handler"] == "watchkeeper.handlers.report.handler")
    role = raw["Resources"][report_id]["Properties"]["Role"]["Fn::GetAtt"][0]
    actions = {a for p in _of_type(raw, "AWS::IAM::Policy").values() if {"Ref": role} in p["Properties"]["Roles"]
               for s in p["Properties"]["PolicyDocument"]["Statement"]
               for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
    assert {"cloudwatch:GetMetricData", "cloudwatch:ListMetrics"} <= actions
    assert not any(a.startswith("cloudwatch:Put") for a in actions)      # EMF through the logs: no PutMetricData
