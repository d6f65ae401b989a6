"""Dead-letter queues on every asynchronous edge, and where each redrives to (`watchkeeper redrive`).

Synchronous invocations (Step Functions tasks, the SQS event source, the HTTP API) return their
errors to the caller; only asynchronous edges lose what fails: the alert queue (after five
receives), the alert topic's subscription and the alarm rule's target (delivery into the queue),
the change feed and the reconciler (EventBridge targets and their asynchronous invocations) and
the page and approval topics' email subscriptions (every SNS subscription without a DLQ of its
own gets the notification DLQ). Each is alarmed by Observability.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import jsii
from aws_cdk import Duration, aws_iam as iam, aws_lambda as lambda_, aws_sns as sns, aws_sqs as sqs
from constructs import Construct, IConstruct

from infra.nag import acknowledge


def dead_letter_queue(scope: Construct, id: str, whose: str) -> sqs.Queue:
    """A dead-letter queue: encrypted, TLS only, 14 days to redrive, alarmed."""
    queue = sqs.Queue(scope, id, retention_period=Duration.days(14), encryption=sqs.QueueEncryption.SQS_MANAGED,
                      enforce_ssl=True)
    acknowledge(queue, "AwsSolutions-SQS3", f"This queue is itself a dead-letter queue: {whose}.")
    return queue


@jsii.implements(cdk.IAspect)
class _SubscriptionsWithoutDeadLetters:
    def __init__(self, queue: sqs.Queue):
        self._queue = queue
        self._topics: list[Any] = []

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, sns.CfnSubscription) and node.redrive_policy is None:
            node.redrive_policy = {"deadLetterTargetArn": self._queue.queue_arn}
            self._topics.append(node.topic_arn)
            self._queue.add_to_resource_policy(iam.PolicyStatement(
                sid=f"SnsDeadLetters{len(self._topics)}", principals=[iam.ServicePrincipal("sns.amazonaws.com")],
                actions=["sqs:SendMessage"], resources=[self._queue.queue_arn],
                conditions={"ArnEquals": {"aws:SourceArn": node.topic_arn}}))


def subscription_dead_letters(stack: cdk.Stack) -> sqs.Queue:
    """The dead-letter queue of every SNS subscription in the stack that has none of its own."""
    queue = dead_letter_queue(stack, "NotificationDeadLetterQueue", "the page and approval topics' subscriptions'")
    cdk.Aspects.of(stack).add(_SubscriptionsWithoutDeadLetters(queue))
    return queue


def redrive_target(target: sqs.Queue | lambda_.Function | None) -> dict[str, str]:
    """Where a DLQ's messages go back to once the cause is fixed."""
    if isinstance(target, sqs.Queue):
        return {"queue": target.queue_url}
    if isinstance(target, lambda_.Function):
        return {"function": target.function_name}
    return {"topic": "the TopicArn in each message"}
