"""The audit trail: append-only records per incident, hash-chained so a change or a gap shows.

Each record's `hash` covers its content and the previous record's hash; `seq` is written
with a condition so two writers cannot both claim the same place in the chain.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import Any

from botocore.exceptions import ClientError

from ..models import AuditRecord
from ..ports import ConflictError
from .aws_errors import translate
from .aws_session import default_client


def record_hash(record: AuditRecord) -> str:
    body = record.model_dump(mode="json", exclude={"hash"})
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def verify_chain(records: list[AuditRecord]) -> list[str]:
    """Problems found in a trail: gaps in `seq`, edited records, broken links. Empty when intact."""
    problems = []
    prev = ""
    for expected_seq, r in enumerate(records, start=1):
        if r.seq != expected_seq:
            problems.append(f"gap: expected record {expected_seq}, found {r.seq}")
        if r.prev_hash != prev:
            problems.append(f"record {r.seq}: link to previous record broken")
        if record_hash(r) != r.hash:
            problems.append(f"record {r.seq}: content does not match its hash")
        prev = r.hash
    return problems


class DynamoDBAuditLog:
    def __init__(self, table_name: str, client: Any = None, clock: Any = None):
        self._table = table_name
        self._ddb = client or default_client("dynamodb")
        self._clock = clock or (lambda: datetime.now(timezone.utc))   # the scenario's clock in replay (clock.py)

    def append(self, incident_id: str, step: str, kind: str, summary: str, detail: dict[str, Any] | None = None,
               actor: str = "watchkeeper") -> AuditRecord:
        for _ in range(5):
            last = self._last(incident_id)
            record = AuditRecord(incident_id=incident_id, seq=(last.seq + 1 if last else 1),
                                 at=self._clock(), step=step, kind=kind, actor=actor, summary=summary,
                                 detail=detail or {}, prev_hash=last.hash if last else "")
            record.hash = record_hash(record)
            try:
                self._ddb.put_item(TableName=self._table, Item=_item(record),
                                   ConditionExpression="attribute_not_exists(incident_id)")
                return record
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise translate(exc, f"audit {incident_id}") from exc
        raise ConflictError(f"audit {incident_id}: could not claim the next record after 5 tries")

    def records(self, incident_id: str) -> list[AuditRecord]:
        out: list[AuditRecord] = []
        kwargs: dict[str, Any] = {"TableName": self._table, "KeyConditionExpression": "incident_id = :i",
                                  "ExpressionAttributeValues": {":i": {"S": incident_id}}, "ConsistentRead": True}
        try:
            while True:
                resp = self._ddb.query(**kwargs)
                out += [AuditRecord.model_validate_json(i["doc"]["S"]) for i in resp.get("Items", [])]
                if "LastEvaluatedKey" not in resp:
                    return out
                kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
        except ClientError as exc:
            raise translate(exc, f"read audit of {incident_id}") from exc

    def _last(self, incident_id: str) -> AuditRecord | None:
        try:
            resp = self._ddb.query(TableName=self._table, KeyConditionExpression="incident_id = :i",
                                   ExpressionAttributeValues={":i": {"S": incident_id}}, ScanIndexForward=False,
                                   Limit=1, ConsistentRead=True)
        except ClientError as exc:
            raise translate(exc, f"read audit of {incident_id}") from exc
        items = resp.get("Items", [])
        return AuditRecord.model_validate_json(items[0]["doc"]["S"]) if items else None


def _item(record: AuditRecord) -> dict[str, Any]:
    return {"incident_id": {"S": record.incident_id}, "seq": {"S": f"{record.seq:08d}"},
            "doc": {"S": record.model_dump_json()}, "hash": {"S": record.hash},
            "expires_at": {"N": str(int(record.at.timestamp()) + 400 * 86400)}}
