"""`watchkeeper redrive`: a dead-letter queue replayed after a fix, with counts (moto)."""
from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws
from typer.testing import CliRunner

from watchkeeper import commands
from watchkeeper.adapters.redrive import dead_letter_queues, redrive

REGION = "us-east-1"
runner = CliRunner()


@pytest.fixture
def sqs(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield boto3.client("sqs", region_name=REGION)


def alert(n: int) -> str:
    return json.dumps({"Type": "Notification", "MessageId": f"m-{n}", "TopicArn": f"arn:aws:sns:{REGION}:123456789012:alerts",
                       "Message": json.dumps({"AlarmName": f"web-5xx-{n}", "NewStateValue": "ALARM"}),
                       "Timestamp": "2026-03-01T12:00:00.000Z"})


def bodies(sqs, url: str) -> list[str]:
    out = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            return sorted(out)
        out += [m["Body"] for m in got]
        sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                        for i, m in enumerate(got)])


def test_the_alert_dlq_goes_back_to_the_alert_queue_and_the_counts_say_so(sqs):
    dlq = sqs.create_queue(QueueName="alert-dlq")["QueueUrl"]
    alerts = sqs.create_queue(QueueName="alerts")["QueueUrl"]
    sent = [alert(n) for n in range(23)]
    for body in sent:
        sqs.send_message(QueueUrl=dlq, MessageBody=body)
    dry = runner.invoke(commands.app, ["redrive", "--from", dlq, "--to-queue", alerts, "--dry-run", "--json"])
    assert dry.exit_code == 0 and json.loads(dry.stdout)["queue"]["left"] == 23
    out = runner.invoke(commands.app, ["redrive", "--from", dlq, "--to-queue", alerts, "--json"])
    assert out.exit_code == 0, out.stdout
    counts = json.loads(out.stdout)["queue"]
    assert (counts["moved"], counts["failed"], counts["left"]) == (23, 0, 0)
    assert bodies(sqs, alerts) == sorted(sent)                   # exactly the messages, once each


def test_a_message_that_fails_again_stays_in_the_dlq_and_the_exit_status_says_so(sqs, monkeypatch):
    dlq = sqs.create_queue(QueueName="change-feed-dlq")["QueueUrl"]
    for detail_type in ("ECS Deployment State Change", "broken"):
        sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps({"source": "aws.ecs", "detail-type": detail_type}))

    class Lambda:
        invoked: list[dict] = []

        def invoke(self, FunctionName, InvocationType, Payload):
            event = json.loads(Payload)
            self.invoked.append(event)
            if event["detail-type"] == "broken":
                return {"FunctionError": "Unhandled", "Payload": _Body(b'{"errorType": "KeyError", "errorMessage": "detail"}')}
            return {"Payload": _Body(b"{}")}

    result = redrive(sqs, dlq, {"function": "RecordChange"}, lambda_client=Lambda())
    assert (result.moved, result.failed, result.left) == (1, 1, 1)
    assert "KeyError" in result.errors[0] and len(Lambda.invoked) == 2


def test_an_undelivered_page_is_published_again_to_its_topic(sqs):
    sns = boto3.client("sns", region_name=REGION)
    topic = sns.create_topic(Name="page")["TopicArn"]
    inbox = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn, Attributes={"RawMessageDelivery": "true"})
    dlq = sqs.create_queue(QueueName="notification-dlq")["QueueUrl"]
    sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps({"Type": "Notification", "TopicArn": topic,
                                                           "Subject": "checkout-api: availability", "Message": "page!"}))
    sqs.send_message(QueueUrl=dlq, MessageBody="not a notification")
    result = redrive(sqs, dlq, {"topic": "from the message"}, sns=sns)
    assert (result.moved, result.failed) == (1, 1) and "TopicArn" in result.errors[0]
    assert bodies(sqs, inbox) == ["page!"]


def test_the_stack_output_names_every_dlq_and_where_it_redrives_to():
    value = {"Alert": {"url": "https://sqs/alert-dlq", "redrive_to": {"queue": "https://sqs/alerts"}},
             "ChangeFeed": {"url": "https://sqs/cf-dlq", "redrive_to": {"function": "RecordChange"}}}
    plan = dead_letter_queues([{"OutputKey": "StateMachineArn", "OutputValue": "arn"},
                               {"OutputKey": "DeadLetterQueues", "OutputValue": json.dumps(value)}])
    assert plan == value
    with pytest.raises(LookupError):
        dead_letter_queues([])


def test_without_a_source_the_command_says_what_it_needs():
    out = runner.invoke(commands.app, ["redrive"])
    assert out.exit_code == 2 and "--stack" in out.stderr


class _Body:
    def __init__(self, data: bytes):
        self._data = data

    def read(self) -> bytes:
        return self._data
