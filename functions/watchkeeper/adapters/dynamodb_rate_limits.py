"""Guardrail counters on the DynamoDB state table, so concurrent executions agree.

Items (pk / sk), each with a numeric `expires_at` (the table's TTL attribute; a condition on
it makes an expired item free even before DynamoDB's TTL sweeper deletes it):
  LOCK#<service> / WRITE            the one write in flight on a service, held by an incident
  RATE#<service>#<kind> / SLOT#<n>  one of `limit` slots of a sliding window: one pod of a restart
                                    holds a slot for `window` seconds
  WRITE#<execution> / <action>      a write's idempotency record: intent (with its pin), then
                                    its outcome; a retried step reads it instead of writing again
A slot is taken with a conditional put, so `limit` per window is exact under races; a holder
that asks again (a retried step) keeps the slots it already has.
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from .aws_errors import translate
from .aws_session import default_client

_LOST_RACE = {"ConditionalCheckFailedException"}


class DynamoDBRateLimits:
    def __init__(self, table_name: str, client: Any = None):
        self._table = table_name
        self._ddb = client or default_client("dynamodb")

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
    def _slots(self, service: str, kind: str) -> list[dict[str, Any]]:
        try:
            return self._ddb.query(TableName=self._table, KeyConditionExpression="pk = :pk",
                                   ExpressionAttributeValues={":pk": {"S": f"RATE#{service}#{kind}"}},
                                   ConsistentRead=True).get("Items", [])
        except ClientError as exc:
            raise translate(exc, f"count {kind} on {service}") from exc

    def count(self, service: str, kind: str, now: datetime, exclude_holder: str | None = None) -> int:
        """How many slots are held right now (e.g. pods restarted within the window), not counting
        `exclude_holder`'s own (a retried step must not be refused by its own reservation)."""
        epoch = int(now.timestamp())
        return sum(1 for i in self._slots(service, kind)
                   if int(i["expires_at"]["N"]) >= epoch and i.get("holder", {}).get("S") != exclude_holder)

    def reserve(self, service: str, kind: str, limit: int, window_seconds: int, holder: str, now: datetime,
                slots: int = 1) -> bool:
        """Take `slots` free slots for `holder` (one per pod of a restart); False, taking none, when
        fewer are free. A holder that already has its slots keeps them (True)."""
        epoch = int(now.timestamp())
        items = self._slots(service, kind)
        held = [i for i in items if i.get("holder", {}).get("S") == holder and int(i["expires_at"]["N"]) >= epoch]
        need = slots - len(held)
        if need <= 0:
            return True
        taken: list[str] = []
        busy = {i["sk"]["S"] for i in items if int(i["expires_at"]["N"]) >= epoch}
        for n in range(limit):
            if len(taken) == need:
                break
            sk = f"SLOT#{n}"
            if sk in busy:
                continue
            try:
                self._ddb.put_item(
                    TableName=self._table,
                    Item={"pk": {"S": f"RATE#{service}#{kind}"}, "sk": {"S": sk}, "holder": {"S": holder},
                          "at": {"S": now.isoformat()}, "expires_at": {"N": str(epoch + window_seconds)}},
                    ConditionExpression="attribute_not_exists(pk) OR expires_at < :now OR holder = :holder",
                    ExpressionAttributeValues={":now": {"N": str(epoch)}, ":holder": {"S": holder}})
            except ClientError as exc:
                if exc.response["Error"]["Code"] in _LOST_RACE:
                    continue
                raise translate(exc, f"reserve {kind} on {service}") from exc
            taken.append(sk)
        if len(taken) < need:
            for sk in taken:      # all or nothing: give back what this call took
                try:
                    self._ddb.delete_item(TableName=self._table, Key={"pk": {"S": f"RATE#{service}#{kind}"},
                                                                      "sk": {"S": sk}},
                                          ConditionExpression="holder = :holder",
                                          ExpressionAttributeValues={":holder": {"S": holder}})
                except ClientError as exc:
                    if exc.response["Error"]["Code"] not in _LOST_RACE:
                        raise translate(exc, f"release {kind} on {service}") from exc
            return False
        return True


FINAL = frozenset({"executed", "failed", "blocked", "skipped", "reverted", "planned"})


class DynamoDBWriteLedger:
    """Each write's idempotency record on the state table (`WRITE#<execution>` / action key).

    `begin` records the intent and the pin before the write (conditional: never over a final
    outcome) and counts attempts; `finish` records the outcome. An intent with no outcome is
    an unknown outcome: the write path reconciles it from the live state."""

    def __init__(self, table_name: str, client: Any = None, ttl_days: int = 90):
        self._table = table_name
        self._ddb = client or default_client("dynamodb")
        self._ttl = ttl_days * 86400

    def _key(self, execution: str, key: str) -> dict[str, Any]:
        return {"pk": {"S": f"WRITE#{execution}"}, "sk": {"S": key}}

    def get(self, execution: str, key: str) -> dict[str, Any] | None:
        try:
            item = self._ddb.get_item(TableName=self._table, Key=self._key(execution, key),
                                      ConsistentRead=True).get("Item")
        except ClientError as exc:
            raise translate(exc, f"read write record {execution}/{key}") from exc
        return _entry(item) if item else None

    def begin(self, execution: str, key: str, pin: dict[str, Any], now: datetime) -> int:
        """Record the intent (keeping the first pin); the attempt number. ConflictError when the
        write already has a final outcome."""
        try:
            out = self._ddb.update_item(
                TableName=self._table, Key=self._key(execution, key),
                UpdateExpression="SET #s = :intent, pin = if_not_exists(pin, :pin), started_at = "
                                 "if_not_exists(started_at, :now), updated_at = :now, expires_at = :exp "
                                 "ADD attempts :one",
                ConditionExpression="attribute_not_exists(pk) OR #s IN (:intent, :not_applied)",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":intent": {"S": "intent"}, ":not_applied": {"S": "not_applied"},
                                           ":pin": {"S": json.dumps(pin, default=str)},
                                           ":now": {"S": now.isoformat()}, ":one": {"N": "1"},
                                           ":exp": {"N": str(int(now.timestamp()) + self._ttl)}},
                ReturnValues="ALL_NEW")
        except ClientError as exc:
            raise translate(exc, f"record the intent of {execution}/{key}") from exc
        return int(out["Attributes"]["attempts"]["N"])

    def finish(self, execution: str, key: str, status: str, result: dict[str, Any]) -> None:
        try:
            self._ddb.update_item(
                TableName=self._table, Key=self._key(execution, key),
                UpdateExpression="SET #s = :s, #r = :r, updated_at = :now",
                ExpressionAttributeNames={"#s": "status", "#r": "result"},
                ExpressionAttributeValues={":s": {"S": status}, ":r": {"S": json.dumps(result, default=str)},
                                           ":now": {"S": datetime.now().astimezone().isoformat()}})
        except ClientError as exc:
            raise translate(exc, f"record the outcome of {execution}/{key}") from exc

    def entries(self, execution: str) -> list[dict[str, Any]]:
        try:
            items = self._ddb.query(TableName=self._table, KeyConditionExpression="pk = :pk",
                                    ExpressionAttributeValues={":pk": {"S": f"WRITE#{execution}"}},
                                    ConsistentRead=True).get("Items", [])
        except ClientError as exc:
            raise translate(exc, f"read the write records of {execution}") from exc
        return [_entry(i) for i in items]


def _entry(item: dict[str, Any]) -> dict[str, Any]:
    return {"key": item["sk"]["S"], "status": item.get("status", {}).get("S", "intent"),
            "pin": json.loads(item["pin"]["S"]) if "pin" in item else None,
            "result": json.loads(item["result"]["S"]) if "result" in item else None,
            "attempts": int(item.get("attempts", {}).get("N", "0")),
            "started_at": item.get("started_at", {}).get("S")}


class InProcessWriteLedger:
    """The same records in memory, for a `Steps` built without a state table (tests, fakes):
    exactly once within one process only."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}

    def get(self, execution: str, key: str) -> dict[str, Any] | None:
        item = self.items.get((execution, key))
        return json.loads(json.dumps(item)) if item else None

    def begin(self, execution: str, key: str, pin: dict[str, Any], now: datetime) -> int:
        from ..ports import ConflictError
        item = self.items.setdefault((execution, key), {"key": key, "status": "intent", "pin": pin, "result": None,
                                                        "attempts": 0, "started_at": now.isoformat()})
        if item["status"] not in ("intent", "not_applied"):
            raise ConflictError(f"{execution}/{key} already has an outcome ({item['status']})")
        item["status"] = "intent"
        item["attempts"] += 1
        return item["attempts"]

    def finish(self, execution: str, key: str, status: str, result: dict[str, Any]) -> None:
        item = self.items.setdefault((execution, key), {"key": key, "pin": None, "attempts": 0, "started_at": None})
        item.update(status=status, result=json.loads(json.dumps(result, default=str)))

    def entries(self, execution: str) -> list[dict[str, Any]]:
        return [dict(v) for (e, _), v in self.items.items() if e == execution]
