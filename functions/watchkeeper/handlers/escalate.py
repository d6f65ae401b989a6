"""Page on-call (and Record failure and page): tell a human why Watchkeeper stopped."""
from __future__ import annotations

from typing import Any

from ..models import Incident
from ._runtime import agent_metrics, logger, steps, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    incident = Incident.model_validate(event["incident"]) if event.get("incident") else None
    logger.append_keys(incident_id=event.get("incident_id"))
    escalation = steps().escalate(incident, event["incident_id"], event)
    agent_metrics().failed((event.get("incident") or {}).get("service"), event)
    return escalation.model_dump(mode="json")
