"""Ingest: SNS alarm notifications, EventBridge alarm state changes and HTTP webhooks.

Every delivery is parsed on its own: a malformed one is quarantined with its reason and
counted, and never fails the rest of the batch.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from ..composition import container
from ..domain.ingest import IngestOutcome
from ._runtime import logger, tracer


def _deliveries(event: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    now = datetime.now(timezone.utc).isoformat()
    if "Records" in event:                                   # SNS subscription
        return [("cloudwatch-sns", r.get("Sns", r), r.get("Sns", {}).get("Timestamp") or now) for r in event["Records"]]
    if event.get("detail-type") == "CloudWatch Alarm State Change":  # EventBridge rule
        return [("cloudwatch-eventbridge", event, now)]
    if "routeKey" in event or "requestContext" in event:    # HTTP API webhook
        source = (event.get("pathParameters") or {}).get("source", "")
        return [(source, event.get("body") or "", now)]
    if "deliveries" in event:                                # direct / replay: recorded deliveries in order
        return [(d["source"], d["payload"], d.get("received_at") or now) for d in event["deliveries"]]
    return [(event.get("source", "unknown"), event.get("payload", event), event.get("received_at") or now)]


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    ingestor = container().ingestor()
    total = IngestOutcome()
    for source, payload, received_at in _deliveries(event):
        total.add(ingestor.ingest(source, payload, received_at))
    logger.info("ingested", extra={"received": total.received, "invalid": total.invalid, "opened": total.opened})
    result = {"received": total.received, "invalid": total.invalid, "resolved": total.resolved,
              "opened": total.opened, "started": total.started, "errors": total.errors}
    if "routeKey" in event:
        return {"statusCode": 202 if not total.invalid else 400, "body": __import__("json").dumps(result)}
    return result
