"""Ingest: SNS alarm notifications, EventBridge alarm state changes, HTTP webhooks, SQS.

All the deliveries of one invocation are placed as one batch: a malformed one is quarantined
with its reason and counted, and never fails the rest. Webhooks are authenticated first
(PagerDuty's signature, a shared secret or HMAC for Grafana and Datadog); a refused request
is logged without its body. Direct invocations (`{"deliveries": [...]}`, replay) are internal.
"""
from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime, timezone
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from ..composition import container
from ..domain.ingest import IngestOutcome
from ..domain.webhook_auth import WebhookRefused, authenticate, parse_secrets
from ._runtime import logger, tracer

MAX_WEBHOOK_BYTES = 1024 * 1024      # PagerDuty, Grafana and Datadog send well under this


def webhook_secrets() -> dict[str, tuple[str, ...]]:
    """The webhook secrets, read from Secrets Manager once per container."""
    c = container()
    if not hasattr(c, "_webhook_secrets"):
        arn = c.cfg.webhook_secret_arn
        c._webhook_secrets = (parse_secrets(c.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"])
                              if arn else {})
    return c._webhook_secrets


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


_FINDING_SOURCES = {"aws.guardduty": "guardduty", "aws.securityhub": "securityhub"}


def _from_record(record: dict[str, Any]) -> tuple[str, Any, Any]:
    """One SQS record: an SNS envelope (raw delivery off), an EventBridge event, or a direct delivery."""
    body = json.loads(record.get("body") or "null")
    if isinstance(body, dict) and body.get("Type") == "Notification" and "Message" in body:
        return "cloudwatch-sns", body, body.get("Timestamp") or _now()
    if isinstance(body, dict) and body.get("detail-type") == "CloudWatch Alarm State Change":
        return "cloudwatch-eventbridge", body, body.get("time") or _now()
    finding_source = _FINDING_SOURCES.get(body.get("source")) if isinstance(body, dict) else None
    if finding_source and "detail" in body:                            # GuardDuty / Security Hub findings rule
        return finding_source, body, body.get("time") or _now()
    if isinstance(body, dict) and "source" in body and "payload" in body:
        return body["source"], body["payload"], body.get("received_at") or _now()
    return "unknown", record.get("body"), _now()


def _deliveries(event: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    now = _now()
    records = event.get("Records")
    if records and records[0].get("eventSource") == "aws:sqs":        # SQS queue in front of ingest
        out = []
        for r in records:
            try:
                out.append(_from_record(r))
            except ValueError:
                out.append(("unknown", r.get("body"), now))             # quarantined by ingest
        return out
    if records is not None:                                           # SNS subscription
        return [("cloudwatch-sns", r.get("Sns", r), r.get("Sns", {}).get("Timestamp") or now) for r in records]
    if event.get("detail-type") == "CloudWatch Alarm State Change":   # EventBridge rule
        return [("cloudwatch-eventbridge", event, event.get("time") or now)]
    if "deliveries" in event:                                         # direct / replay: recorded deliveries in order
        return [(d.get("source", "unknown"), d.get("payload"), d.get("received_at") or now) for d in event["deliveries"]]
    return [(event.get("source", "unknown"), event.get("payload", event), event.get("received_at") or now)]


def _webhook(event: dict[str, Any]) -> dict[str, Any]:
    source = str((event.get("pathParameters") or {}).get("source", ""))[:40]
    body = event.get("body") or ""
    if len(body) > MAX_WEBHOOK_BYTES * 4 // 3 + 4:
        return {"statusCode": 413, "body": json.dumps({"error": f"body larger than {MAX_WEBHOOK_BYTES // 1024} KB"})}
    try:
        raw = base64.b64decode(body, validate=True) if event.get("isBase64Encoded") else body.encode("utf-8", "surrogatepass")
    except (binascii.Error, ValueError):
        return {"statusCode": 400, "body": json.dumps({"error": "body is not valid base64"})}
    if len(raw) > MAX_WEBHOOK_BYTES:
        return {"statusCode": 413, "body": json.dumps({"error": f"body larger than {MAX_WEBHOOK_BYTES // 1024} KB"})}
    try:
        authenticate(source, event.get("headers") or {}, raw, webhook_secrets())
    except WebhookRefused as exc:
        # never log the body of an unauthenticated request
        logger.warning("webhook refused", extra={"source": source, "reason": str(exc)})
        return {"statusCode": 401, "body": json.dumps({"error": "unauthorized"})}
    total = container().ingestor().ingest_batch([(source, raw.decode("utf-8", errors="replace"), _now())])
    container().agent_metrics().alerts_ingested(total.received, total.invalid, total.resolved)
    if total.failed:            # not placed (the store kept changing): 503 so the sender retries
        return {"statusCode": 503, "headers": {"Retry-After": "5"}, "body": json.dumps(_result(total))}
    return {"statusCode": 202 if not total.invalid else 400, "body": json.dumps(_result(total))}


def _result(total: IngestOutcome) -> dict[str, Any]:
    return {"received": total.received, "invalid": total.invalid, "resolved": total.resolved,
            "opened": total.opened, "started": total.started, "errors": total.errors}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if "routeKey" in event or "requestContext" in event:
        return _webhook(event)
    deliveries = _deliveries(event)
    total = container().ingestor().ingest_batch(deliveries)
    container().agent_metrics().alerts_ingested(total.received, total.invalid, total.resolved)
    logger.info("ingested", extra={"received": total.received, "invalid": total.invalid, "opened": total.opened})
    if (event.get("Records") or [{}])[0].get("eventSource") == "aws:sqs":
        return _partial_response(event, total, context)
    return _result(total)


def _partial_response(event: dict[str, Any], total: IngestOutcome, context: Any) -> dict[str, Any]:
    """Report back only the records that failed for a transient reason (placement kept losing races),
    so SQS redelivers just those; malformed records were quarantined and count as processed."""
    failed = {event["Records"][i]["messageId"] for i in total.failed}

    def record_handler(record: Any) -> None:
        if record.message_id in failed:
            raise RuntimeError("alert could not be placed: the incident store kept changing")

    return process_partial_response(event=event, record_handler=record_handler,
                                    processor=BatchProcessor(event_type=EventType.SQS), context=context)
