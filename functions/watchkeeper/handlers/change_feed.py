"""Change feed (EventBridge rules, asynchronous): one deploy or configuration change into the journal.

ECS and CodeDeploy deployments, Lambda code, version, alias and configuration updates (CloudTrail
through EventBridge), Parameter Store changes and AppConfig deployments are recorded as they happen,
named the way Gather's platform sources name them; an event about something outside the catalog is
skipped with its reason. A failure raises: EventBridge and Lambda retry, then the dead-letter queue."""
from __future__ import annotations

from typing import Any

from ..adapters.changes import ChangeJournal, PlatformLookups
from ..composition import container
from ..domain.change_feed import change_from_event
from ._runtime import logger, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    c = container()
    lookups = PlatformLookups(ecs=c.client("ecs") if event.get("source") == "aws.ecs" else None,
                              ssm=c.client("ssm") if event.get("source") == "aws.ssm" else None)
    result = change_from_event(event, c.catalog, c.cfg.config_parameter_paths, lookups)
    if result.change is None:
        logger.info("not a change of the estate", extra={"reason": result.skipped, "event_id": event.get("id")})
        return {"recorded": None, "skipped": result.skipped}
    ChangeJournal(c.cfg.state_table, c.client("dynamodb")).record(result.change)
    logger.info("change recorded", extra={"change": result.change.id, "service": result.change.service})
    return {"recorded": result.change.id, "service": result.change.service}
