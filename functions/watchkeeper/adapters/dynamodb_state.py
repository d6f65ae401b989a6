"""The incident store on the DynamoDB state table (single-table, conditional writes).

Items (pk / sk):
  INCIDENT#<id> / META                    the incident without its alerts (JSON in `doc`)
  INCIDENT#<id> / ALERT#<received>#<id>   one delivery that belongs to it
  SERVICE#<name> / OPEN                   the open incident a service's alerts go to
  QUARANTINE#<yyyy-mm-dd> / <at>#<hash>   a payload that could not be parsed, with its reason
  APPROVAL#<request id> / META            a pending approval and its task token
  INCIDENT#<id> / APPROVAL                the incident's latest approval request (and its Slack thread)
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

import boto3
from botocore.exceptions import ClientError

from ..models import AlertRef, Incident, QuarantinedAlert
from ..ports import IncidentHead
from .aws_errors import translate


def _s(value: str) -> dict[str, str]:
    return {"S": value}


class DynamoDBIncidentStore:
    def __init__(self, table_name: str, client: Any = None, ttl_days: int = 90):
        self._table = table_name
        self._ddb = client or boto3.client("dynamodb")
        self._ttl = timedelta(days=ttl_days)

    # --- reads ---------------------------------------------------------------------------
    def head_for_service(self, service: str) -> IncidentHead | None:
        ptr = self._get(f"SERVICE#{service}", "OPEN")
        if ptr is None:
            return None
        meta = self._get(f"INCIDENT#{ptr['incident_id']['S']}", "META")
        if meta is None:
            return None
        doc = json.loads(meta["doc"]["S"])
        return IncidentHead(id=doc["id"], service=doc["service"], opened_at=_dt(doc["opened_at"]),
                            last_alert_at=_dt(doc["last_alert_at"]), status=doc.get("status", "open"),
                            merged_into=doc.get("merged_into"))

    def load(self, incident_id: str) -> Incident:
        items = self._query(f"INCIDENT#{incident_id}")
        meta = next((i for i in items if i["sk"]["S"] == "META"), None)
        if meta is None:
            raise KeyError(f"incident {incident_id} not found")
        incident = Incident.model_validate_json(meta["doc"]["S"])
        incident.alerts = [AlertRef.model_validate_json(i["doc"]["S"]) for i in items if i["sk"]["S"].startswith("ALERT#")]
        return incident

    def incidents(self) -> list[Incident]:
        out = []
        for item in self._scan(filter_sk="META", prefix="INCIDENT#"):
            out.append(self.load(json.loads(item["doc"]["S"])["id"]))
        return sorted(out, key=lambda i: i.opened_at)

    def quarantined(self) -> list[QuarantinedAlert]:
        return [QuarantinedAlert.model_validate_json(i["doc"]["S"]) for i in self._scan(prefix="QUARANTINE#")]

    # --- writes --------------------------------------------------------------------------
    def open(self, head: IncidentHead, alert: AlertRef, window_seconds: int) -> bool:
        incident = Incident(id=head.id, service=head.service, opened_at=head.opened_at,
                            last_alert_at=head.last_alert_at, title=alert.title)
        stale = (head.last_alert_at - timedelta(seconds=window_seconds)).isoformat()
        try:
            self._ddb.transact_write_items(TransactItems=[
                {"Put": {"TableName": self._table, "Item": self._pointer(head.service, head.id, head.last_alert_at),
                         "ConditionExpression": "attribute_not_exists(pk) OR last_alert_at < :stale OR incident_id = :id",
                         "ExpressionAttributeValues": {":stale": _s(stale), ":id": _s(head.id)}}},
                {"Put": {"TableName": self._table, "Item": self._meta(incident),
                         "ConditionExpression": "attribute_not_exists(pk)"}},
                {"Put": {"TableName": self._table, "Item": self._alert_item(head.id, alert)}},
            ])
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("TransactionCanceledException", "ConditionalCheckFailedException"):
                return False
            raise translate(exc, "open incident") from exc
        return True

    def attach(self, incident_id: str, alert: AlertRef, suspect: str | None = None) -> None:
        incident = self._load_meta(incident_id)
        if alert.received_at > incident.last_alert_at:
            incident.last_alert_at = alert.received_at
        if suspect and suspect != incident.service and suspect not in incident.suspects:
            incident.suspects.append(suspect)
        self._put(self._alert_item(incident_id, alert))
        self._put(self._meta(incident))
        for service in {incident.service, alert.service or incident.service}:
            self._put(self._pointer(service, incident_id, incident.last_alert_at))

    def annotate_resolved(self, incident_id: str, alert: AlertRef) -> None:
        incident = self._load_meta(incident_id)
        incident.resolved_alerts += 1
        self._put(self._meta(incident))

    def merge(self, source_id: str, target_id: str) -> None:
        source = self.load(source_id)
        target = self._load_meta(target_id)
        for alert in source.alerts:
            self._put(self._alert_item(target_id, alert))
            if alert.received_at > target.last_alert_at:
                target.last_alert_at = alert.received_at
        for suspect in [source.service, *source.suspects]:
            if suspect != target.service and suspect not in target.suspects:
                target.suspects.append(suspect)
            self._put(self._pointer(suspect, target_id, target.last_alert_at))
        if source.opened_at < target.opened_at:
            target.opened_at = source.opened_at
        source.status, source.merged_into, source.alerts = "merged", target_id, []
        self._put(self._meta(source))
        self._put(self._meta(target))

    def save(self, incident: Incident) -> None:
        self._put(self._meta(incident))

    def quarantine(self, item: QuarantinedAlert) -> None:
        at = (item.received_at.isoformat() if item.received_at else "unknown")
        digest = hashlib.sha256((item.reason + item.excerpt + at).encode()).hexdigest()[:12]
        day = at[:10]
        self._put({"pk": _s(f"QUARANTINE#{day}"), "sk": _s(f"{at}#{digest}"), "doc": _s(item.model_dump_json()),
                   **self._expiry()})

    # --- approvals -----------------------------------------------------------------------
    def save_pending(self, request_id: str, incident_id: str, task_token: str, expires_at: datetime,
                     summary: dict[str, Any]) -> None:
        self._put({"pk": _s(f"APPROVAL#{request_id}"), "sk": _s("META"), "incident_id": _s(incident_id),
                   "task_token": _s(task_token), "expires_at_iso": _s(expires_at.isoformat()),
                   "status": _s("pending"), "doc": _s(json.dumps(summary, default=str)), **self._expiry()})
        self._put({"pk": _s(f"INCIDENT#{incident_id}"), "sk": _s("APPROVAL"), "request_id": _s(request_id),
                   **self._expiry()})

    def pending_approvals(self) -> list[dict[str, Any]]:
        out = []
        for item in self._scan(prefix="APPROVAL#"):
            if item.get("status", {}).get("S") == "pending":
                out.append({"request_id": item["pk"]["S"].split("#", 1)[1], "incident_id": item["incident_id"]["S"],
                            "task_token": item["task_token"]["S"], "expires_at": item["expires_at_iso"]["S"],
                            "summary": json.loads(item["doc"]["S"])})
        return out

    def get_approval(self, request_id: str) -> dict[str, Any] | None:
        item = self._get(f"APPROVAL#{request_id}", "META")
        if item is None:
            return None
        out = {"request_id": request_id, "incident_id": item["incident_id"]["S"], "task_token": item["task_token"]["S"],
               "expires_at": item["expires_at_iso"]["S"], "status": item["status"]["S"],
               "summary": json.loads(item["doc"]["S"])}
        for key in ("decided_by", "decided_at", "channel", "source_ip", "slack_ts"):
            if key in item:
                out[key] = item[key]["S"]
        return out

    def decide_approval(self, request_id: str, status: str, **details: str | None) -> bool:
        """Mark a pending approval decided (who, when, channel, source IP); False when it
        was already decided (single use)."""
        names, values, sets = {"#s": "status"}, {":new": _s(status), ":pending": _s("pending")}, ["#s = :new"]
        for i, (key, value) in enumerate(sorted((k, v) for k, v in details.items() if v)):
            names[f"#d{i}"], values[f":d{i}"] = key, _s(str(value))
            sets.append(f"#d{i} = :d{i}")
        try:
            self._ddb.update_item(
                TableName=self._table, Key={"pk": _s(f"APPROVAL#{request_id}"), "sk": _s("META")},
                UpdateExpression="SET " + ", ".join(sets), ConditionExpression="#s = :pending",
                ExpressionAttributeNames=names, ExpressionAttributeValues=values)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise translate(exc, "decide approval") from exc
        return True

    def close_approval(self, request_id: str, status: str) -> None:
        """Record how a request ended when no decision resumed the workflow (timed out, stopped)."""
        try:
            self._ddb.update_item(
                TableName=self._table, Key={"pk": _s(f"APPROVAL#{request_id}"), "sk": _s("META")},
                UpdateExpression="SET #s = :new", ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":new": _s(status)})
        except ClientError as exc:
            raise translate(exc, "close approval") from exc

    def save_approval_thread(self, request_id: str, incident_id: str, slack_ts: str) -> None:
        """The Slack thread of an approval request, so later steps post their updates to it."""
        try:
            self._ddb.update_item(
                TableName=self._table, Key={"pk": _s(f"APPROVAL#{request_id}"), "sk": _s("META")},
                UpdateExpression="SET slack_ts = :ts", ExpressionAttributeValues={":ts": _s(slack_ts)})
        except ClientError as exc:
            raise translate(exc, "save approval thread") from exc
        self._put({"pk": _s(f"INCIDENT#{incident_id}"), "sk": _s("APPROVAL"), "request_id": _s(request_id),
                   "slack_ts": _s(slack_ts), **self._expiry()})

    def latest_approval(self, incident_id: str) -> dict[str, Any] | None:
        """The incident's most recent approval request (with its Slack thread), if any."""
        ptr = self._get(f"INCIDENT#{incident_id}", "APPROVAL")
        return self.get_approval(ptr["request_id"]["S"]) if ptr else None

    # --- helpers -------------------------------------------------------------------------
    def _expiry(self) -> dict[str, dict[str, str]]:
        return {"expires_at": {"N": str(int((datetime.now().timestamp() + self._ttl.total_seconds())))}}

    def _meta(self, incident: Incident) -> dict[str, Any]:
        doc = incident.model_dump(mode="json", exclude={"alerts"})
        return {"pk": _s(f"INCIDENT#{incident.id}"), "sk": _s("META"), "doc": _s(json.dumps(doc)), **self._expiry()}

    def _alert_item(self, incident_id: str, alert: AlertRef) -> dict[str, Any]:
        return {"pk": _s(f"INCIDENT#{incident_id}"), "sk": _s(f"ALERT#{alert.received_at.isoformat()}#{alert.delivery_id}"),
                "doc": _s(alert.model_dump_json()), **self._expiry()}

    def _pointer(self, service: str, incident_id: str, last_alert_at: datetime) -> dict[str, Any]:
        return {"pk": _s(f"SERVICE#{service}"), "sk": _s("OPEN"), "incident_id": _s(incident_id),
                "last_alert_at": _s(last_alert_at.isoformat()), **self._expiry()}

    def _load_meta(self, incident_id: str) -> Incident:
        item = self._get(f"INCIDENT#{incident_id}", "META")
        if item is None:
            raise KeyError(f"incident {incident_id} not found")
        return Incident.model_validate_json(item["doc"]["S"])

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        try:
            return self._ddb.get_item(TableName=self._table, Key={"pk": _s(pk), "sk": _s(sk)}, ConsistentRead=True).get("Item")
        except ClientError as exc:
            raise translate(exc, f"read {pk}") from exc

    def _put(self, item: dict[str, Any]) -> None:
        try:
            self._ddb.put_item(TableName=self._table, Item=item)
        except ClientError as exc:
            raise translate(exc, f"write {item['pk']['S']}") from exc

    def _query(self, pk: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": self._table, "KeyConditionExpression": "pk = :pk",
                                  "ExpressionAttributeValues": {":pk": _s(pk)}, "ConsistentRead": True}
        while True:
            resp = self._ddb.query(**kwargs)
            items += resp.get("Items", [])
            if "LastEvaluatedKey" not in resp:
                return items
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def _scan(self, prefix: str, filter_sk: str | None = None) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": self._table, "FilterExpression": "begins_with(pk, :p)",
                                  "ExpressionAttributeValues": {":p": _s(prefix)}}
        if filter_sk:
            kwargs["FilterExpression"] += " AND sk = :sk"
            kwargs["ExpressionAttributeValues"][":sk"] = _s(filter_sk)
        while True:
            resp = self._ddb.scan(**kwargs)
            items += resp.get("Items", [])
            if "LastEvaluatedKey" not in resp:
                return items
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]


def _dt(value: str) -> datetime:
    return datetime.fromisoformat(value)
