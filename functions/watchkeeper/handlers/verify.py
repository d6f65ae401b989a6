"""Verify recovery: did the incident's alarms return to OK? If not in time, revert the writes."""
from __future__ import annotations

from typing import Any

from ..models import Evidence, ExecutionResult, Incident, RemediationPlan, Verification
from ._errors import retried_as_transient
from ._runtime import agent_metrics, logger, steps, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    incident = Incident.model_validate(event["incident"])
    logger.append_keys(incident_id=incident.id)
    previous = Verification.model_validate(event["verification"]) if event.get("verification") else None
    evidence = Evidence.model_validate(event["evidence"]) if event.get("evidence") else None
    execution = ExecutionResult.model_validate(event["execution"]) if event.get("execution") else None
    with retried_as_transient("Verify recovery"):
        verification = steps().verify(incident, RemediationPlan.model_validate(event["plan"]), evidence, previous,
                                      execution)
    agent_metrics().verified(incident, verification)
    return verification.model_dump(mode="json")
