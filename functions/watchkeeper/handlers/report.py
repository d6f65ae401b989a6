"""Write report: the Markdown post-incident report and its timeline chart, in S3."""
from __future__ import annotations

from typing import Any

from ._runtime import logger, steps, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    logger.append_keys(incident_id=event.get("incident_id"))
    return steps().report(event).model_dump(mode="json")
