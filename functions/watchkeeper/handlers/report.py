"""Write report: the post-incident report (Markdown, and HTML with its timeline chart), in S3."""
from __future__ import annotations

from typing import Any

from ._runtime import agent_metrics, logger, steps, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    logger.append_keys(incident_id=event.get("incident_id"))
    ref = steps().report(event)
    agent_metrics().reported(ref, event)
    return ref.model_dump(mode="json")
