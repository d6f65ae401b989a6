"""Redrive a dead-letter queue after the cause is fixed: every message back where it failed to go.

A target is the alert queue (`{"queue": url}`: alerts SQS, SNS or EventBridge could not deliver or
ingest could not place), a function (`{"function": name}`: an EventBridge event the change feed or
the reconciler could not handle, invoked again synchronously so a failure is seen), or the topic
named in the message (`{"topic": ...}`: a page or approval email SNS could not deliver). A message
is deleted from the DLQ only once its target took it; one that fails again stays (invisible for a
minute, so one run never loops on it) and is counted.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

VISIBILITY_SECONDS = 60


@dataclass
class RedriveResult:
    queue: str
    target: str
    moved: int = 0
    failed: int = 0
    left: int | None = None                     # messages still in the queue afterwards (approximate)
    errors: list[str] = field(default_factory=list)
    dry_run: bool = False


def dead_letter_queues(outputs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The stack's `DeadLetterQueues` output: name -> {"url", "redrive_to"}."""
    for output in outputs:
        if output.get("OutputKey") == "DeadLetterQueues":
            return json.loads(output["OutputValue"])
    raise LookupError("the stack has no DeadLetterQueues output (deployed before dead-letter queues were alarmed?)")


def describe(target: dict[str, str]) -> str:
    kind, value = next(iter(target.items()))
    return f"{kind} {value.rsplit('/', 1)[-1] if kind == 'queue' else value}"


def redrive(sqs: Any, queue_url: str, target: dict[str, str], *, lambda_client: Any = None, sns: Any = None,
            max_messages: int | None = None, dry_run: bool = False) -> RedriveResult:
    result = RedriveResult(queue=queue_url, target=describe(target), dry_run=dry_run)
    if dry_run:
        result.left = _depth(sqs, queue_url)
        return result
    empty = 0
    while max_messages is None or result.moved + result.failed < max_messages:
        want = 10 if max_messages is None else max(1, min(10, max_messages - result.moved - result.failed))
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=want, WaitTimeSeconds=1,
                                       VisibilityTimeout=VISIBILITY_SECONDS).get("Messages", [])
        if not messages:
            empty += 1
            if empty >= 2:                       # short polls can miss a message: two empty receives in a row
                break
            continue
        empty = 0
        delivered = []
        for m in messages:
            error = _deliver(m["Body"], target, sqs, lambda_client, sns)
            if error is None:
                delivered.append(m)
                result.moved += 1
            else:
                result.failed += 1
                result.errors.append(f"{m['MessageId']}: {error}"[:300])
        for i in range(0, len(delivered), 10):
            sqs.delete_message_batch(QueueUrl=queue_url, Entries=[
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(delivered[i:i + 10])])
    result.left = _depth(sqs, queue_url)
    return result


def _deliver(body: str, target: dict[str, str], sqs: Any, lambda_client: Any, sns: Any) -> str | None:
    """None when the target took the message, else why not."""
    try:
        if "queue" in target:
            sqs.send_message(QueueUrl=target["queue"], MessageBody=body)
            return None
        if "function" in target:
            resp = lambda_client.invoke(FunctionName=target["function"], InvocationType="RequestResponse",
                                        Payload=body.encode())
            if resp.get("FunctionError"):
                payload = json.loads(resp["Payload"].read() or b"{}")
                return f"{payload.get('errorType', 'error')}: {payload.get('errorMessage', '')}"
            return None
        try:
            envelope = json.loads(body)
        except ValueError:
            envelope = None
        if not isinstance(envelope, dict) or "TopicArn" not in envelope or "Message" not in envelope:
            return "not an SNS notification: no TopicArn to publish to"
        kwargs = {"TopicArn": envelope["TopicArn"], "Message": envelope["Message"]}
        if envelope.get("Subject"):
            kwargs["Subject"] = envelope["Subject"]
        sns.publish(**kwargs)
        return None
    except (ClientError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"


def _depth(sqs: Any, queue_url: str) -> int:
    attrs = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return int(attrs.get("ApproximateNumberOfMessages", 0)) + int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0))
