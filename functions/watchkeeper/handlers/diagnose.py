"""Diagnose: the root cause with the evidence behind it (deterministic, Bedrock when configured)."""
from __future__ import annotations

from typing import Any

from ..models import Evidence, Incident
from ._runtime import agent_metrics, logger, steps, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    incident = Incident.model_validate(event["incident"])
    logger.append_keys(incident_id=incident.id)
    cause = steps().diagnose(incident, Evidence.model_validate(event["evidence"]))
    agent_metrics().diagnosed(incident, cause)
    return cause.model_dump(mode="json")
