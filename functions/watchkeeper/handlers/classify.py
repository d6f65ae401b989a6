"""Classify alert: the incident's service, category and severity from its alerts."""
from __future__ import annotations

from typing import Any

from ..models import StartInput
from ._runtime import agent_metrics, logger, steps, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    start = StartInput.model_validate(event)
    logger.append_keys(incident_id=start.incident_id)
    incident = steps().classify(start.incident_id)
    agent_metrics().classified(incident)
    return incident.model_dump(mode="json")
