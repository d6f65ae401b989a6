"""Execute actions: every write exactly once, exactly as approved, with a write-ahead audit record.

The same function also runs "Preview actions" (`{"mode": "preview"}`): the dry run of each
proposed write for the approvers (its exact call, diff and pinned target), nothing written."""
from __future__ import annotations

from typing import Any

from ..models import ApprovalDecision, Incident, RemediationPlan
from ._errors import retried_as_transient
from ._runtime import agent_metrics, logger, steps, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    incident = Incident.model_validate(event["incident"])
    logger.append_keys(incident_id=incident.id)
    with retried_as_transient("Execute actions"):
        if event.get("mode") == "preview":
            return steps().preview(incident, RemediationPlan.model_validate(event["plan"]))
        approval = ApprovalDecision.model_validate(event["approval"]) if event.get("approval") else None
        preview = event.get("preview") if isinstance(event.get("preview"), dict) else {}
        result = steps().execute(incident, RemediationPlan.model_validate(event["plan"]), approval,
                                 preview=preview.get("actions"))
    agent_metrics().executed(incident, result)
    return result.model_dump(mode="json")
