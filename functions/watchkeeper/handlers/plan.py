"""Plan remediation: select the runbook and turn it into concrete actions."""
from __future__ import annotations

from typing import Any

from ..models import Evidence, Incident, RootCause
from ._runtime import logger, steps, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    incident = Incident.model_validate(event["incident"])
    logger.append_keys(incident_id=incident.id)
    evidence = Evidence.model_validate(event["evidence"]) if event.get("evidence") else None
    return steps().plan(incident, RootCause.model_validate(event["diagnosis"]), evidence).model_dump(mode="json")
