"""Reconcile (every few minutes, an EventBridge schedule): start the workflow of every stored
incident that is not known to have one. StartExecution is named after the incident, so nothing
starts twice; an incident that could not be started stays pending and this run fails, which
pages (its Errors alarm) while the next run tries again."""
from __future__ import annotations

from typing import Any

from ..composition import container
from ..domain.ingest import reconcile
from ._runtime import logger, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    c = container()
    out = reconcile(c.store(), c.starter(), c.cfg.settle_seconds)
    result = {"pending": out.pending, "started": out.started, "confirmed": out.confirmed, "dropped": out.dropped,
              "errors": out.errors}
    logger.info("reconciled", extra=result)
    if out.errors:
        raise RuntimeError(f"{len(out.errors)} incident(s) still without a workflow: {'; '.join(out.errors[:5])}")
    return result
