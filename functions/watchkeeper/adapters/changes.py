"""The change journal: deploys and config changes, recorded as they happen.

In AWS an EventBridge rule feeds deployment and configuration events (ECS, CodeDeploy,
Lambda, SSM Parameter Store, AppConfig, Kubernetes rollouts via the cluster's event
exporter) into the state table; locally a scenario's `changes` are loaded the same way.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import boto3
from botocore.exceptions import ClientError

from ..models import ChangeEvent
from .aws_errors import translate


class ChangeJournal:
    def __init__(self, table_name: str, client: Any = None):
        self._table = table_name
        self._ddb = client or boto3.client("dynamodb")

    def record(self, change: ChangeEvent) -> None:
        try:
            self._ddb.put_item(TableName=self._table, Item={
                "pk": {"S": f"CHANGE#{change.service}"}, "sk": {"S": f"{change.at.isoformat()}#{change.id}"},
                "doc": {"S": change.model_dump_json()}})
        except ClientError as exc:
            raise translate(exc, f"record change {change.id}") from exc

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
