"""Wait for approval: invoked with a task token; stores it and asks the approvers.

The token stays in the state table; the approvers get a signed link to the approval page
(email) and a Block Kit message with Approve / Reject buttons (Slack). The evidence the
root cause cites is shown when the payload carries `evidence`.
"""
from __future__ import annotations

from typing import Any

from ..models import Evidence, Incident, RemediationPlan, RootCause
from ._runtime import logger, steps, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    incident = Incident.model_validate(event["incident"])
    logger.append_keys(incident_id=incident.id)
    request_id = steps().request_approval(event["task_token"], incident, RootCause.model_validate(event["diagnosis"]),
                                          RemediationPlan.model_validate(event["plan"]),
                                          evidence=Evidence.model_validate(event["evidence"]) if event.get("evidence") else None,
                                          preview=(event.get("preview") or {}).get("actions"),
                                          execution_arn=event.get("execution_arn") or "",
                                          entered_at=event.get("entered_at"))
    return {"request_id": request_id}
