"""What AWS services deliver on the stack's behalf, checked against its resource and key policies.

moto never delivers a CloudWatch alarm action, an SNS message to an SQS subscription or an
EventBridge event to its target with the policies applied, so these edges are checked on the
synthesized template with the local runtime's IAM evaluator."""
from __future__ import annotations

from typing import Any

import pytest

from infra.app import synth_template
from watchkeeper.local.iam import check_delivery, encryption_keys, policies_from_template
from watchkeeper.local.runtime import LOCAL_ACCOUNT, LOCAL_REGION, Resolver

pytestmark = pytest.mark.infra


@pytest.fixture(scope="module")
def stack() -> tuple[dict[str, Any], Resolver, Any, dict[str, dict[str, str]]]:
    template = synth_template("local")
    resolver = Resolver(template, LOCAL_ACCOUNT, LOCAL_REGION)
    policies, _ = policies_from_template(template, resolver.resolve, LOCAL_ACCOUNT)
    return template, resolver, policies, encryption_keys(template, resolver.resolve)


def _of_type(template: dict[str, Any], type_name: str) -> dict[str, dict[str, Any]]:
    return {lid: r for lid, r in template["Resources"].items() if r["Type"] == type_name}


def test_every_alarm_can_page_through_its_topic(stack):
    template, resolver, policies, keys = stack
    alarms = _of_type(template, "AWS::CloudWatch::Alarm")
    assert alarms
    for lid, alarm in alarms.items():
        actions = resolver.resolve(alarm["Properties"].get("AlarmActions", []))
        assert actions, f"{lid} pages nobody"
        for topic in actions:
            why = check_delivery(policies, "cloudwatch.amazonaws.com", "sns:Publish", topic, LOCAL_ACCOUNT,
                                 keys["topics"].get(topic), ("kms:GenerateDataKey", "kms:Decrypt"))
            assert why is None, f"alarm {lid} cannot publish to {topic}: {why}"


def test_every_queue_subscription_and_rule_target_can_deliver(stack):
    template, resolver, policies, keys = stack
    edges = []
    for lid, sub in _of_type(template, "AWS::SNS::Subscription").items():
        p = sub["Properties"]
        if p.get("Protocol") == "sqs":
            edges.append(("sns.amazonaws.com", resolver.resolve(p["Endpoint"]), resolver.resolve(p["TopicArn"])))
    for lid, rule in _of_type(template, "AWS::Events::Rule").items():
        rule_arn = f"arn:aws:events:{LOCAL_REGION}:{LOCAL_ACCOUNT}:rule/{lid}"
        for target in rule["Properties"].get("Targets", []):
            arn = resolver.resolve(target["Arn"])
            if ":sqs:" in arn:
                edges.append(("events.amazonaws.com", arn, rule_arn))
    assert edges
    for service, queue, source in edges:
        why = check_delivery(policies, service, "sqs:SendMessage", queue, LOCAL_ACCOUNT, keys["queues"].get(queue),
                             ("kms:GenerateDataKey", "kms:Decrypt"), source_arn=source)
        assert why is None, f"{service} cannot deliver from {source} to {queue}: {why}"


def test_each_queue_poller_may_receive_and_delete_its_messages(stack):
    """Lambda polls an event source queue with the function's own role."""
    from watchkeeper.local.iam import Access

    template, resolver, policies, keys = stack
    mappings = _of_type(template, "AWS::Lambda::EventSourceMapping")
    assert mappings
    for lid, mapping in mappings.items():
        queue = resolver.resolve(mapping["Properties"]["EventSourceArn"])
        function = mapping["Properties"]["FunctionName"]["Ref"]
        principal = policies.principals[function]
        for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"):
            why = policies.decide(principal, Access(action, queue, kms_key=keys["queues"].get(queue),
                                                    kms_actions=("kms:Decrypt",)), {"aws:SecureTransport": "true"})
            assert why is None, f"{function} cannot {action} on {queue}: {why}"


def test_every_http_route_may_invoke_its_function(stack):
    template, resolver, _, _ = stack
    permitted = {resolver.resolve(p["Properties"]["FunctionName"])
                 for p in _of_type(template, "AWS::Lambda::Permission").values()
                 if p["Properties"]["Principal"] == "apigateway.amazonaws.com"}
    integrations = _of_type(template, "AWS::ApiGatewayV2::Integration")
    assert integrations
    for lid, integration in integrations.items():
        assert resolver.resolve(integration["Properties"]["IntegrationUri"]) in permitted, lid
