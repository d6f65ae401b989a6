"""Guardrail counters on the DynamoDB state table, so concurrent executions agree.

Items (pk / sk), each with a numeric `expires_at` (the table's TTL attribute; a condition on
it makes an expired item free even before DynamoDB's TTL sweeper deletes it):
  LOCK#<service> / WRITE            the one write in flight on a service, held by an incident
  RATE#<service>#<kind> / SLOT#<n>  one of `limit` slots of a sliding window: a write of that
                                    kind (e.g. restart_pods) holds a slot for `window` seconds
A slot is taken with a conditional put, so `limit` writes per window is exact under races.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

import boto3
from botocore.exceptions import ClientError

from .aws_errors import translate

_LOST_RACE = {"ConditionalCheckFailedException"}


class DynamoDBRateLimits:
    def __init__(self, table_name: str, client: Any = None):
        self._table = table_name
        self._ddb = client or boto3.client("dynamodb")

    # --- one write in flight per service --------------------------------------------------
    def acquire_write_lock(self, service: str, holder: str, ttl_seconds: int, now: datetime) -> bool:
        """Take the service's write lock (or keep it, when `holder` has it already)."""
        epoch = int(now.timestamp())
        try:
            self._ddb.put_item(
                TableName=self._table,
                Item={"pk": {"S": f"LOCK#{service}"}, "sk": {"S": "WRITE"}, "holder": {"S": holder},
                      "acquired_at": {"S": now.isoformat()}, "expires_at": {"N": str(epoch + ttl_seconds)}},
                ConditionExpression="attribute_not_exists(pk) OR expires_at < :now OR holder = :holder",
                ExpressionAttributeValues={":now": {"N": str(epoch)}, ":holder": {"S": holder}})
        except ClientError as exc:
            if exc.response["Error"]["Code"] in _LOST_RACE:
                return False
            raise translate(exc, f"acquire the write lock of {service}") from exc
        return True

    def release_write_lock(self, service: str, holder: str) -> None:
        try:
            self._ddb.delete_item(TableName=self._table, Key={"pk": {"S": f"LOCK#{service}"}, "sk": {"S": "WRITE"}},
                                  ConditionExpression="holder = :holder",
                                  ExpressionAttributeValues={":holder": {"S": holder}})
        except ClientError as exc:
            if exc.response["Error"]["Code"] in _LOST_RACE:
                return            # someone else's lock, or already gone
            raise translate(exc, f"release the write lock of {service}") from exc

    def lock_holder(self, service: str, now: datetime) -> str | None:
        item = self._ddb.get_item(TableName=self._table, Key={"pk": {"S": f"LOCK#{service}"}, "sk": {"S": "WRITE"}},
                                  ConsistentRead=True).get("Item")
        if not item or int(item["expires_at"]["N"]) < int(now.timestamp()):
            return None
        return item["holder"]["S"]

    # --- sliding-window rate limits ---------------------------------------------------------
    def count(self, service: str, kind: str, now: datetime) -> int:
        """How many slots are held right now (writes of `kind` within their window)."""
        epoch = int(now.timestamp())
        try:
            items = self._ddb.query(TableName=self._table, KeyConditionExpression="pk = :pk",
                                    ExpressionAttributeValues={":pk": {"S": f"RATE#{service}#{kind}"}},
                                    ConsistentRead=True).get("Items", [])
        except ClientError as exc:
            raise translate(exc, f"count {kind} on {service}") from exc
        return sum(1 for i in items if int(i["expires_at"]["N"]) >= epoch)

    def reserve(self, service: str, kind: str, limit: int, window_seconds: int, holder: str, now: datetime) -> bool:
        """Take a free slot for one write of `kind`; False when all `limit` slots are held."""
        epoch = int(now.timestamp())
        for n in range(limit):
            try:
                self._ddb.put_item(
                    TableName=self._table,
                    Item={"pk": {"S": f"RATE#{service}#{kind}"}, "sk": {"S": f"SLOT#{n}"}, "holder": {"S": holder},
                          "at": {"S": now.isoformat()}, "expires_at": {"N": str(epoch + window_seconds)}},
                    ConditionExpression="attribute_not_exists(pk) OR expires_at < :now",
                    ExpressionAttributeValues={":now": {"N": str(epoch)}})
            except ClientError as exc:
                if exc.response["Error"]["Code"] in _LOST_RACE:
                    continue
                raise translate(exc, f"reserve {kind} on {service}") from exc
            return True
        return False
