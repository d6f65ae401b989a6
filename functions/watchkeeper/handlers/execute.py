"""Execute actions: every write through the guardrails, with a write-ahead audit record.

The same function also runs "Preview actions" (`{"mode": "preview"}`): the dry run of each
proposed write for the approvers, with the executors' read rights and nothing written."""
from __future__ import annotations

from typing import Any

from ..models import ApprovalDecision, Incident, RemediationPlan
from ._runtime import agent_metrics, logger, steps, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    incident = Incident.model_validate(event["incident"])
    logger.append_keys(incident_id=incident.id)
    if event.get("mode") == "preview":
        return steps().preview(incident, RemediationPlan.model_validate(event["plan"]))
    approval = ApprovalDecision.model_validate(event["approval"]) if event.get("approval") else None
    result = steps().execute(incident, RemediationPlan.model_validate(event["plan"]), approval)
    agent_metrics().executed(incident, result)
    return result.model_dump(mode="json")
