"""Mined log templates per service on the DynamoDB state table, so template ids and
"seen before" survive from one incident to the next.

Item: pk=TEMPLATES#<service>, sk=STATE, `miner` (Binary: the miner's compressed state),
`seen` (String: JSON of per-template first_seen/last_seen/seen_incidents), `updated_at`.
A DynamoDB item holds at most 400 KB: the `seen` map is cut to the newest templates, and
a miner state that still does not fit is not written (the previous item stays), with a note.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from botocore.exceptions import ClientError

from ..ports import TemplateHistory
from .aws_errors import translate
from .aws_session import default_client

ITEM_LIMIT = 400 * 1024
_HEADROOM = 8 * 1024          # keys, attribute names and updated_at


class DynamoDBTemplateStates:
    def __init__(self, table_name: str, client: Any = None, *, max_seen: int = 2000, item_limit: int = ITEM_LIMIT):
        self._table = table_name
        self._ddb = client or default_client("dynamodb")
        self._max_seen = max_seen
        self._limit = item_limit

    @staticmethod
    def _key(service: str) -> dict[str, Any]:
        return {"pk": {"S": f"TEMPLATES#{service}"}, "sk": {"S": "STATE"}}

    def load(self, service: str) -> TemplateHistory | None:
        try:
            item = self._ddb.get_item(TableName=self._table, Key=self._key(service)).get("Item")
        except ClientError as exc:
            raise translate(exc, f"read the log templates of {service}") from exc
        if not item:
            return None
        miner = item.get("miner", {}).get("B")
        seen = json.loads(item["seen"]["S"]) if "seen" in item else {}
        return TemplateHistory(miner_state=bytes(miner) if miner is not None else None, seen=seen)

    def save(self, service: str, history: TemplateHistory) -> list[str]:
        notes: list[str] = []
        seen = dict(history.seen or {})
        if len(seen) > self._max_seen:
            newest = sorted(seen, key=lambda t: seen[t].get("last_seen", ""), reverse=True)[:self._max_seen]
            notes.append(f"template history of {service}: kept the newest {self._max_seen} of {len(seen)} templates")
            seen = {t: seen[t] for t in newest}
        doc = json.dumps(seen, separators=(",", ":"), sort_keys=True)
        state = history.miner_state or b""
        size = len(state) + len(doc.encode()) + _HEADROOM
        if size > self._limit:
            notes.append(f"template state of {service} is {size // 1024} KB, over DynamoDB's "
                         f"{self._limit // 1024} KB item limit: not saved")
            return notes
        item = {**self._key(service), "seen": {"S": doc},
                "updated_at": {"S": datetime.now(timezone.utc).isoformat()}}
        if state:
            item["miner"] = {"B": state}
        try:
            self._ddb.put_item(TableName=self._table, Item=item)
        except ClientError as exc:
            raise translate(exc, f"save the log templates of {service}") from exc
        return notes
