"""Intake in the synthesized template: nothing dead-lettered in silence, the change feed's rules,
the reconciler's schedule, and the grants each of their calls needs."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.app import synth_template
from infra.config import LIVE_CHANGE_SOURCES, AccountConfig

pytestmark = pytest.mark.infra


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return synth_template("local", bundling=False)


def _of_type(raw: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in raw["Resources"].items() if v["Type"] == type_}


def _function(raw: dict[str, Any], handler: str) -> str:
    (found,) = [k for k, v in _of_type(raw, "AWS::Lambda::Function").items()
                if v["Properties"]["Handler"] == f"watchkeeper.handlers.{handler}.handler"]
    return found


def _statements(raw: dict[str, Any], function: str) -> list[dict[str, Any]]:
    role = raw["Resources"][function]["Properties"]["Role"]["Fn::GetAtt"][0]
    return [st for p in _of_type(raw, "AWS::IAM::Policy").values() if {"Ref": role} in p["Properties"]["Roles"]
            for st in p["Properties"]["PolicyDocument"]["Statement"]]


def _actions(statements: list[dict[str, Any]]) -> set[str]:
    return {a for st in statements for a in ([st["Action"]] if isinstance(st["Action"], str) else st["Action"])}


def _alarmed_queues(raw: dict[str, Any]) -> dict[str, dict[str, Any]]:
    page_topic = next(k for k in _of_type(raw, "AWS::SNS::Topic") if "PageTopic" in k)
    out = {}
    for alarm in _of_type(raw, "AWS::CloudWatch::Alarm").values():
        p = alarm["Properties"]
        if p.get("MetricName") == "ApproximateNumberOfMessagesVisible":
            assert p["AlarmActions"] == [{"Ref": page_topic}] and p["Threshold"] == 1
            queue = p["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
            out[queue] = p
    return out


def test_every_asynchronous_edge_has_a_dead_letter_queue_with_an_alarm_to_the_page_topic(raw):
    queues = _of_type(raw, "AWS::SQS::Queue")
    dlqs = set()
    for rule in _of_type(raw, "AWS::Events::Rule").values():                      # EventBridge targets
        for target in rule["Properties"]["Targets"]:
            dlqs.add(target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0])
            assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 2
    for sub in _of_type(raw, "AWS::SNS::Subscription").values():                  # SNS subscriptions
        dlqs.add(sub["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0])
    for q in queues.values():                                                      # the alert queue
        if "RedrivePolicy" in q["Properties"]:
            assert q["Properties"]["RedrivePolicy"]["maxReceiveCount"] == 5
            dlqs.add(q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0])
    for fn in _of_type(raw, "AWS::Lambda::Function").values():                     # asynchronous invocations
        if "DeadLetterConfig" in fn["Properties"]:
            dlqs.add(fn["Properties"]["DeadLetterConfig"]["TargetArn"]["Fn::GetAtt"][0])
    assert len(dlqs) == 5
    assert dlqs <= set(queues) and dlqs <= set(_alarmed_queues(raw))
    outputs = json.dumps(raw["Outputs"]["DeadLetterQueues"]["Value"])
    assert all(q in outputs for q in dlqs)                                         # `watchkeeper redrive` finds them


def test_the_targets_may_send_to_their_dead_letter_queues(raw):
    policies = [p["Properties"] for p in _of_type(raw, "AWS::SQS::QueuePolicy").values()]
    for principal in ("events.amazonaws.com", "sns.amazonaws.com"):
        assert any(st.get("Principal", {}).get("Service") == principal and st["Action"] == "sqs:SendMessage"
                   for p in policies for st in p["PolicyDocument"]["Statement"]), principal


def test_records_failed_through_partial_batch_responses_page(raw):
    (alarm,) = [a["Properties"] for a in _of_type(raw, "AWS::CloudWatch::Alarm").values()
                if a["Properties"].get("MetricName") == "IngestRecordsFailed"]
    assert alarm["Namespace"] == "Watchkeeper" and alarm["Statistic"] == "Sum" and alarm["Threshold"] == 1
    assert alarm["Dimensions"] == [{"Name": "service", "Value": "watchkeeper"}]


def test_the_change_feed_rules_match_each_kind_of_change_and_feed_the_journal(raw):
    feed = _function(raw, "change_feed")
    patterns = {}
    for rule in _of_type(raw, "AWS::Events::Rule").values():
        p = rule["Properties"]
        if any(t["Arn"] == {"Fn::GetAtt": [feed, "Arn"]} for t in p["Targets"]):
            patterns[p["EventPattern"]["source"][0]] = p["EventPattern"]
    assert set(patterns) == {"aws.ecs", "aws.codedeploy", "aws.lambda", "aws.ssm", "aws.appconfig"}
    assert patterns["aws.ecs"]["detail"] == {"eventName": ["SERVICE_DEPLOYMENT_IN_PROGRESS"]}
    assert patterns["aws.codedeploy"]["detail"] == {"state": ["START"]}
    assert patterns["aws.lambda"]["detail-type"] == ["AWS API Call via CloudTrail"]
    assert "UpdateAlias20150331" in patterns["aws.lambda"]["detail"]["eventName"]
    assert patterns["aws.ssm"]["detail"]["name"] == [{"prefix": "/prod/"}]
    assert patterns["aws.appconfig"]["detail-type"] == ["On Deployment Start", "On Deployment Rollback"]
    actions = _actions(_statements(raw, feed))
    assert {"dynamodb:BatchWriteItem", "ssm:GetParameter", "kms:GenerateDataKey"} <= actions
    assert not actions & {"ssm:PutParameter", "ssm:GetParametersByPath"}      # reads versions, writes nothing
    ssm = [st for st in _statements(raw, feed) if st["Action"] == "ssm:GetParameter"]
    assert json.dumps(ssm).count("parameter/prod/*") == 1


def test_the_reconciler_runs_every_five_minutes_and_may_start_workflows(raw):
    reconcile = _function(raw, "reconcile")
    (rule,) = [r["Properties"] for r in _of_type(raw, "AWS::Events::Rule").values()
               if r["Properties"].get("ScheduleExpression")]
    assert rule["ScheduleExpression"] == "rate(5 minutes)"
    assert rule["Targets"][0]["Arn"] == {"Fn::GetAtt": [reconcile, "Arn"]}
    statements = _statements(raw, reconcile)
    machine = next(iter(_of_type(raw, "AWS::StepFunctions::StateMachine")))
    assert any(st["Action"] == "states:StartExecution" and st["Resource"] == {"Ref": machine} for st in statements)
    assert {"dynamodb:Query", "dynamodb:BatchGetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"} <= _actions(statements)


def test_a_deployed_account_asks_the_live_change_sources_by_default():
    config = AccountConfig.model_validate({
        "account_id": "111111111111", "region": "us-east-1", "approvers": ["a@example.com"], "slack_channel": "#x",
        "catalog": "config/catalog.example.yaml", "dry_run": False, "approval_timeout_seconds": 900,
        "settle_seconds": 60, "retry_interval_seconds": 2, "verify_wait_seconds": 60, "verify_max_attempts": 10})
    assert config.change_sources == list(LIVE_CHANGE_SOURCES)
    assert {"journal", "kubernetes", "ecs", "lambda", "codedeploy", "ssm", "appconfig"} == set(LIVE_CHANGE_SOURCES)
