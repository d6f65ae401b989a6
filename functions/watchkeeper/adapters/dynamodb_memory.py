"""The incident memory on the account's DynamoDB state table.

Item: pk=MEMORY#<service>, sk=<opened_at ISO>#<incident id>, `doc` (String: the
`PastIncident` as JSON), `incident_id`. `recall` queries one partition, newest first; a
correction is an UpdateItem found by the incident id (a Query on the partition). The report
step writes the item (PutItem), Gather evidence reads it (Query), the approval API corrects it.
"""
from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from ..models import PastIncident
from .aws_errors import translate
from .aws_session import default_client


class DynamoDBIncidentMemory:
    def __init__(self, table_name: str, client: Any = None):
        self._table = table_name
        self._ddb = client or default_client("dynamodb")

    @staticmethod
    def _pk(service: str) -> dict[str, str]:
        return {"S": f"MEMORY#{service}"}

    def recall(self, service: str, limit: int = 50) -> list[PastIncident]:
        try:
            items = self._ddb.query(TableName=self._table, KeyConditionExpression="pk = :pk",
                                    ExpressionAttributeValues={":pk": self._pk(service)},
                                    ScanIndexForward=False, Limit=limit).get("Items", [])
        except ClientError as exc:
            raise translate(exc, f"read the incident memory of {service}") from exc
        return [PastIncident.model_validate_json(i["doc"]["S"]) for i in items if "doc" in i]

    def _find(self, service: str, incident_id: str) -> dict[str, Any] | None:
        try:
            items = self._ddb.query(TableName=self._table, KeyConditionExpression="pk = :pk",
                                    FilterExpression="incident_id = :id",
                                    ExpressionAttributeValues={":pk": self._pk(service), ":id": {"S": incident_id}}
                                    ).get("Items", [])
        except ClientError as exc:
            raise translate(exc, f"find {incident_id} in the incident memory") from exc
        return items[0] if items else None

    def remember(self, past: PastIncident) -> None:
        """Write the incident; a correction recorded earlier (a retried report step) is kept."""
        existing = self._find(past.service, past.incident_id)
        if existing is not None:
            before = PastIncident.model_validate_json(existing["doc"]["S"])
            if before.corrected_root_cause:
                past = past.model_copy(update={k: getattr(before, k) for k in (
                    "corrected_root_cause", "corrected_culprit", "corrected_by", "correction_reason")})
        item = {"pk": self._pk(past.service), "sk": {"S": f"{past.opened_at.isoformat()}#{past.incident_id}"},
                "incident_id": {"S": past.incident_id}, "doc": {"S": past.model_dump_json()}}
        try:
            self._ddb.put_item(TableName=self._table, Item=item)
        except ClientError as exc:
            raise translate(exc, f"remember {past.incident_id}") from exc

    def correct(self, service: str, incident_id: str, root_cause: str, culprit: str | None, by: str,
                reason: str = "") -> None:
        existing = self._find(service, incident_id)
        if existing is None:          # corrected before the report step wrote it: the report keeps this
            from datetime import datetime, timezone
            past = PastIncident(incident_id=incident_id, service=service, opened_at=datetime.now(timezone.utc))
            key = {"pk": self._pk(service), "sk": {"S": f"{past.opened_at.isoformat()}#{incident_id}"}}
        else:
            past = PastIncident.model_validate_json(existing["doc"]["S"])
            key = {"pk": existing["pk"], "sk": existing["sk"]}
        past = past.model_copy(update={"corrected_root_cause": root_cause, "corrected_culprit": culprit,
                                       "corrected_by": by, "correction_reason": reason[:500]})
        try:
            self._ddb.put_item(TableName=self._table, Item={**key, "incident_id": {"S": incident_id},
                                                             "doc": {"S": past.model_dump_json()}})
        except ClientError as exc:
            raise translate(exc, f"record the correction of {incident_id}") from exc
