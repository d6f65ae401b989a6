"""The change journal: deploys and config changes, recorded as they happen.

In AWS the change feed (EventBridge rules -> `handlers/change_feed.py`) records ECS and
CodeDeploy deployments, Lambda code and alias updates, SSM Parameter Store changes and
AppConfig deployments into the state table as they happen; Gather evidence adds the changes it
found by asking the platforms (so a revert can find them by id); locally a scenario's `changes`
are loaded the same way.

Items (pk / sk):
  CHANGE#<service> / <at>#<change id>     the change, read by service and time window
  CHANGEID#<change id> / CHANGE           the same change, read by id (what a revert looks up)
"""
from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from ..models import ChangeEvent
from ..ports import TransientError
from .aws_errors import translate
from .aws_session import default_client

_log = logging.getLogger(__name__)


class ChangeJournal:
    def __init__(self, table_name: str, client: Any = None, ttl_days: int = 90):
        self._table = table_name
        self._ddb = client or default_client("dynamodb")
        self._ttl_seconds = ttl_days * 86400

    def record(self, change: ChangeEvent) -> None:
        """Idempotent: the same change recorded twice is one change (its id names it)."""
        doc = {"S": change.model_dump_json()}
        expires = {"N": str(int(change.at.timestamp()) + self._ttl_seconds)}
        request: dict[str, Any] = {self._table: [
            {"PutRequest": {"Item": {"pk": {"S": f"CHANGE#{change.service}"},
                                     "sk": {"S": f"{change.at.isoformat()}#{change.id}"},
                                     "doc": doc, "expires_at": expires}}},
            {"PutRequest": {"Item": {"pk": {"S": f"CHANGEID#{change.id}"}, "sk": {"S": "CHANGE"},
                                     "doc": doc, "expires_at": expires}}},
        ]}
        for _ in range(5):
            try:
                request = self._ddb.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
            except ClientError as exc:
                raise translate(exc, f"record change {change.id}") from exc
            if not request:
                return
        raise TransientError(f"record change {change.id}: items left unprocessed after retries")

    def get(self, change_id: str) -> ChangeEvent | None:
        """One change by its id, or None."""
        if not change_id:
            return None
        try:
            item = self._ddb.get_item(TableName=self._table, Key={"pk": {"S": f"CHANGEID#{change_id}"},
                                                                  "sk": {"S": "CHANGE"}}).get("Item")
        except ClientError as exc:
            raise translate(exc, f"read change {change_id}") from exc
        return ChangeEvent.model_validate_json(item["doc"]["S"]) if item else None

    def changes(self, services: Iterable[str], start: datetime, end: datetime) -> list[ChangeEvent]:
        out: list[ChangeEvent] = []
        for service in dict.fromkeys(services):
            kwargs: dict[str, Any] = {
                "TableName": self._table,
                "KeyConditionExpression": "pk = :pk AND sk BETWEEN :a AND :b",
                "ExpressionAttributeValues": {":pk": {"S": f"CHANGE#{service}"}, ":a": {"S": start.isoformat()},
                                              ":b": {"S": end.isoformat() + "~"}}}
            try:
                while True:
                    resp = self._ddb.query(**kwargs)
                    out += [ChangeEvent.model_validate_json(i["doc"]["S"]) for i in resp.get("Items", [])]
                    if "LastEvaluatedKey" not in resp:
                        break
                    kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
            except ClientError as exc:
                raise translate(exc, f"read changes of {service}") from exc
        return sorted(out, key=lambda c: c.at)


class PlatformLookups:
    """What the change feed asks the platforms about an event: the task definition an ECS deployment
    rolls out (DescribeServices) and a parameter's version (GetParameter, never its decrypted value).
    A failed lookup is logged and leaves the field empty: the change is recorded anyway."""

    def __init__(self, ecs: Any = None, ssm: Any = None):
        self._ecs, self._ssm = ecs, ssm

    def ecs_task_definition(self, cluster: str, service: str, deployment_id: str) -> str | None:
        if self._ecs is None:
            return None
        try:
            found = self._ecs.describe_services(cluster=cluster, services=[service]).get("services", [])
        except ClientError as exc:
            _log.warning("DescribeServices %s/%s: %s", cluster, service, exc)
            return None
        for svc in found:
            for d in svc.get("deployments", []):
                if d.get("id") == deployment_id or not deployment_id and d.get("status") == "PRIMARY":
                    return str(d.get("taskDefinition", "")).rsplit("/", 1)[-1] or None
        return None

    def parameter_version(self, name: str) -> int | None:
        if self._ssm is None:
            return None
        try:
            return int(self._ssm.get_parameter(Name=name)["Parameter"]["Version"])
        except (ClientError, KeyError, ValueError) as exc:
            _log.warning("GetParameter %s: %s", name, exc)
            return None
