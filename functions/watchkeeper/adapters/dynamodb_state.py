"""The incident store on the DynamoDB state table (single-table, conditional writes).

Items (pk / sk):
  INCIDENT#<id> / META                    the incident without its alerts: `doc` (JSON, written by the
                                          workflow) and `ing` (JSON: what ingest owns — last alert,
                                          suspects, absorbed incidents, merge, resolved count) with a
                                          `version` every conditional write checks
  INCIDENT#<id> / ALERTS#<batch>#<n>      the deliveries one ingest batch placed in it (JSON list of
                                          [key, alert]); a retried batch rewrites the same items
  SERVICE#<name> / OPEN                   the incident a service's alerts go to
  PENDING#START / <incident id>           an incident whose workflow is not known to have started
                                          (written with the incident, removed once StartExecution landed)
  QUARANTINE#<yyyy-mm-dd> / <at>#<hash>   a payload that could not be parsed, with its reason
  APPROVAL#<request id> / META            a pending approval and its task token
  INCIDENT#<id> / APPROVAL                the incident's latest approval request (and its Slack thread)
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ..models import AlertRef, Incident, QuarantinedAlert
from .aws_errors import translate
from .aws_session import default_client

if TYPE_CHECKING:      # ingest's domain (parsers, correlation) is loaded where ingest runs, not by every store user
    from ..domain.ingest import GroupCommit, HeadState, IncidentView

_BUCKET_BYTES = 300_000          # an item holds at most 400 KB
PENDING_START = "PENDING#START"


def _s(value: str) -> dict[str, str]:
    return {"S": value}


class DynamoDBIncidentStore:
    def __init__(self, table_name: str, client: Any = None, ttl_days: int = 90):
        self._table = table_name
        self._ddb = client or default_client("dynamodb")
        self._ttl = timedelta(days=ttl_days)

    # --- reads ---------------------------------------------------------------------------
    def load(self, incident_id: str) -> Incident:
        meta = self._get(f"INCIDENT#{incident_id}", "META")
        if meta is None:
            raise KeyError(f"incident {incident_id} not found")
        incident = _incident(meta)
        ing = json.loads(meta["ing"]["S"]) if "ing" in meta else {}
        alerts: dict[str, AlertRef] = {}
        for source_id in [incident_id, *ing.get("absorbed", [])]:
            for item in self._query(f"INCIDENT#{source_id}", sk_prefix="ALERTS#"):
                for key, doc in json.loads(item["doc"]["S"]):
                    if key not in alerts:            # a redelivered batch wrote the same delivery again
                        alerts[key] = AlertRef.model_validate(doc)
        firing = [a for a in alerts.values() if a.status == "firing"]
        incident.alerts = sorted(firing, key=lambda a: a.received_at)
        incident.deliveries = sum(a.count for a in incident.alerts)
        incident.resolved_alerts = len(alerts) - len(firing)
        return incident

    def incidents(self) -> list[Incident]:
        return sorted((self.load(i) for i in self.incident_ids()), key=lambda i: i.opened_at)

    def incident_ids(self, status: str | None = None) -> list[str]:
        """Every incident's id (of one status) in the order they opened, without reading their alerts."""
        found = []
        for item in self._scan(filter_sk="META", prefix="INCIDENT#"):
            incident = _incident(item)
            if status is None or incident.status == status:
                found.append((incident.opened_at, incident.id))
        return [i for _, i in sorted(found)]

    def quarantined(self) -> list[QuarantinedAlert]:
        return [QuarantinedAlert.model_validate_json(i["doc"]["S"]) for i in self._scan(prefix="QUARANTINE#")]

    def read_view(self, services: Any, view: IncidentView) -> None:
        """Pointers of `services` missing from `view`, and every head they lead to (batched reads)."""
        missing = [s for s in dict.fromkeys(services) if s not in view.stored]
        for item in self._batch_get([(f"SERVICE#{s}", "OPEN") for s in missing]):
            service = item["pk"]["S"].split("#", 1)[1]
            view.pointers[service] = view.stored[service] = item["incident_id"]["S"]
        for s in missing:
            view.pointers.setdefault(s, None)
            view.stored.setdefault(s, None)
        while True:
            wanted = {i for i in view.pointers.values() if i and i not in view.heads}
            wanted |= {h.merged_into for h in view.heads.values() if h.merged_into and h.merged_into not in view.heads}
            if not wanted:
                return
            found = {item["pk"]["S"].split("#", 1)[1]: item for item in self._batch_get([(f"INCIDENT#{i}", "META") for i in wanted])}
            for incident_id in wanted:
                item = found.get(incident_id)
                if item is None:     # a pointer to an incident that is gone leads nowhere (and is repaired)
                    view.pointers.update({s: None for s, i in view.pointers.items() if i == incident_id})
                    continue
                view.heads[incident_id] = _head_state(item)

    # --- writes --------------------------------------------------------------------------
    def commit(self, group: GroupCommit) -> bool:
        items: list[dict[str, Any]] = []
        for state in group.heads:
            ing = _s(json.dumps(_ing(state)))
            if state.version == 0:
                incident = Incident(id=state.id, service=state.service, opened_at=state.opened_at,
                                    last_alert_at=state.last_alert_at, title=state.title)
                items.append({"Put": {"TableName": self._table, "ConditionExpression": "attribute_not_exists(pk)",
                                      "Item": {**self._meta(incident), "ing": ing, "version": {"N": "1"}}}})
            else:
                items.append({"Update": {
                    "TableName": self._table, "Key": {"pk": _s(f"INCIDENT#{state.id}"), "sk": _s("META")},
                    "UpdateExpression": "SET ing = :ing, version = :next", "ConditionExpression": "version = :seen",
                    "ExpressionAttributeValues": {":ing": ing, ":next": {"N": str(state.version + 1)},
                                                  ":seen": {"N": str(state.version)}}}})
        in_group = {h.id for h in group.heads}
        for incident_id, version in group.checks:
            if incident_id not in in_group:
                in_group.add(incident_id)           # a transaction names an item once
                items.append({"ConditionCheck": {
                    "TableName": self._table, "Key": {"pk": _s(f"INCIDENT#{incident_id}"), "sk": _s("META")},
                    "ConditionExpression": "version = :seen", "ExpressionAttributeValues": {":seen": {"N": str(version)}}}})
        for incident_id in group.new_incidents:    # until its workflow has started (the reconciler reads these)
            items.append({"Put": {"TableName": self._table, "Item": {
                "pk": _s(PENDING_START), "sk": _s(incident_id), **self._expiry()}}})
        last = {h.id: h.last_alert_at for h in group.heads}
        for service, (incident_id, seen) in group.pointers.items():
            put: dict[str, Any] = {"TableName": self._table,
                                   "Item": self._pointer(service, incident_id, last.get(incident_id, _EPOCH))}
            if seen is None:
                put["ConditionExpression"] = "attribute_not_exists(pk)"
            else:
                put["ConditionExpression"] = "incident_id = :seen"
                put["ExpressionAttributeValues"] = {":seen": _s(seen)}
            items.append({"Put": put})
        try:
            self._ddb.transact_write_items(TransactItems=items)     # ingest keeps a group within 100 items
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("TransactionCanceledException", "ConditionalCheckFailedException"):
                return False
            raise translate(exc, "place alerts") from exc
        return True

    def write_alerts(self, batch_key: str, alerts: dict[str, list[tuple[str, AlertRef]]]) -> None:
        requests = []
        for incident_id, pairs in alerts.items():
            bucket: list[str] = []
            size, n = 0, 0
            for key, ref in pairs:
                doc = json.dumps([key, ref.model_dump(mode="json", exclude_none=True)])
                if bucket and size + len(doc) > _BUCKET_BYTES:
                    requests.append(self._bucket(incident_id, batch_key, n, bucket))
                    bucket, size, n = [], 0, n + 1
                bucket.append(doc)
                size += len(doc)
            if bucket:
                requests.append(self._bucket(incident_id, batch_key, n, bucket))
        self._batch_write(requests)

    # --- workflow starts ------------------------------------------------------------------
    def mark_started(self, incident_id: str) -> None:
        """The incident's workflow exists: note it on the incident and drop its pending-start marker, in
        one transaction (never one without the other: no incident is ever neither started nor pending)."""
        try:
            self._ddb.transact_write_items(TransactItems=[
                {"Update": {"TableName": self._table, "Key": {"pk": _s(f"INCIDENT#{incident_id}"), "sk": _s("META")},
                            "UpdateExpression": "SET started_at = if_not_exists(started_at, :now)",
                            "ConditionExpression": "attribute_exists(pk)",
                            "ExpressionAttributeValues": {":now": _s(datetime.now(timezone.utc).isoformat())}}},
                {"Delete": {"TableName": self._table, "Key": {"pk": _s(PENDING_START), "sk": _s(incident_id)}}},
            ])
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "TransactionCanceledException":
                raise translate(exc, f"note the workflow of {incident_id}") from exc
            self.drop_pending(incident_id)          # the incident is gone: nothing to note

    def drop_pending(self, incident_id: str) -> None:
        try:
            self._ddb.delete_item(TableName=self._table, Key={"pk": _s(PENDING_START), "sk": _s(incident_id)})
        except ClientError as exc:
            raise translate(exc, f"clear the pending start of {incident_id}") from exc

    def pending_starts(self, limit: int = 500) -> list[str]:
        """Incidents whose workflow is not known to have started (oldest id first)."""
        return [i["sk"]["S"] for i in self._query(PENDING_START, limit=limit)]

    def heads(self, incident_ids: list[str]) -> dict[str, HeadState]:
        return {item["pk"]["S"].split("#", 1)[1]: _head_state(item)
                for item in self._batch_get([(f"INCIDENT#{i}", "META") for i in incident_ids])}

    def quarantine_many(self, items: list[QuarantinedAlert]) -> None:
        """Every quarantined delivery is kept, even identical ones delivered at the same moment."""
        records, seen = [], {}
        for item in items:
            record = self._quarantine_item(item)
            key = record["sk"]["S"]
            seen[key] = seen.get(key, 0) + 1
            if seen[key] > 1:
                record["sk"] = _s(f"{key}#{seen[key]}")
            records.append(record)
        self._batch_write(records)

    def save(self, incident: Incident) -> None:
        """The workflow's view of an incident; what ingest owns (`ing`) is left alone."""
        doc = incident.model_dump(mode="json", exclude={"alerts"})
        try:
            self._ddb.update_item(TableName=self._table, Key={"pk": _s(f"INCIDENT#{incident.id}"), "sk": _s("META")},
                                  UpdateExpression="SET doc = :doc, expires_at = :exp ADD version :one",
                                  ExpressionAttributeValues={":doc": _s(json.dumps(doc)), ":one": {"N": "1"},
                                                             ":exp": self._expiry()["expires_at"]})
        except ClientError as exc:
            raise translate(exc, f"write incident {incident.id}") from exc

    def quarantine(self, item: QuarantinedAlert) -> None:
        self._put(self._quarantine_item(item))

    def _quarantine_item(self, item: QuarantinedAlert) -> dict[str, Any]:
        at = (item.received_at.isoformat() if item.received_at else "unknown")
        digest = hashlib.sha256((item.reason + item.excerpt + at).encode()).hexdigest()[:12]
        day = at[:10]
        return {"pk": _s(f"QUARANTINE#{day}"), "sk": _s(f"{at}#{digest}"), "doc": _s(item.model_dump_json()),
                **self._expiry()}

    # --- approvals -----------------------------------------------------------------------
    def save_pending(self, request_id: str, incident_id: str, task_token: str, expires_at: datetime,
                     summary: dict[str, Any]) -> None:
        self._put({"pk": _s(f"APPROVAL#{request_id}"), "sk": _s("META"), "incident_id": _s(incident_id),
                   "task_token": _s(task_token), "expires_at_iso": _s(expires_at.isoformat()),
                   "status": _s("pending"), "doc": _s(json.dumps(summary, default=str)), **self._expiry()})
        self._put({"pk": _s(f"INCIDENT#{incident_id}"), "sk": _s("APPROVAL"), "request_id": _s(request_id),
                   **self._expiry()})

    def pending_for(self, incident_ids: list[str], answered: set[str] = frozenset()) -> list[dict[str, Any]]:
        """The pending approval requests of these incidents (one BatchGetItem per 100 incidents)."""
        out = []
        for i in range(0, len(incident_ids), 100):
            keys = [{"pk": _s(f"INCIDENT#{iid}"), "sk": _s("APPROVAL")} for iid in incident_ids[i:i + 100]]
            request: dict[str, Any] = {self._table: {"Keys": keys, "ConsistentRead": True}}
            while request:
                try:
                    resp = self._ddb.batch_get_item(RequestItems=request)
                except ClientError as exc:
                    raise translate(exc, "read approval requests") from exc
                for item in resp.get("Responses", {}).get(self._table, []):
                    request_id = item["request_id"]["S"]
                    if request_id in answered:
                        continue
                    approval = self.get_approval(request_id)
                    if approval and approval["status"] == "pending":
                        out.append(approval)
                request = resp.get("UnprocessedKeys") or {}
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

    def _bucket(self, incident_id: str, batch_key: str, n: int, docs: list[str]) -> dict[str, Any]:
        return {"pk": _s(f"INCIDENT#{incident_id}"), "sk": _s(f"ALERTS#{batch_key}#{n:04d}"),
                "doc": _s("[" + ",".join(docs) + "]"), **self._expiry()}

    def _pointer(self, service: str, incident_id: str, last_alert_at: datetime) -> dict[str, Any]:
        return {"pk": _s(f"SERVICE#{service}"), "sk": _s("OPEN"), "incident_id": _s(incident_id),
                "last_alert_at": _s(last_alert_at.isoformat()), **self._expiry()}

    def _batch_get(self, keys: list[tuple[str, str]]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        keys = list(dict.fromkeys(keys))
        for i in range(0, len(keys), 100):
            request = {self._table: {"Keys": [{"pk": _s(pk), "sk": _s(sk)} for pk, sk in keys[i:i + 100]],
                                     "ConsistentRead": True}}
            for _ in range(8):
                try:
                    resp = self._ddb.batch_get_item(RequestItems=request)
                except ClientError as exc:
                    raise translate(exc, "read incidents") from exc
                out += resp.get("Responses", {}).get(self._table, [])
                request = resp.get("UnprocessedKeys") or {}
                if not request:
                    break
        return out

    def _batch_write(self, items: list[dict[str, Any]]) -> None:
        # one BatchWriteItem may not name a key twice: the last write of a key wins, as with PutItem
        items = list({(i["pk"]["S"], i["sk"]["S"]): i for i in items}.values())
        for i in range(0, len(items), 25):
            request = {self._table: [{"PutRequest": {"Item": item}} for item in items[i:i + 25]]}
            for _ in range(8):
                try:
                    resp = self._ddb.batch_write_item(RequestItems=request)
                except ClientError as exc:
                    raise translate(exc, "write alerts") from exc
                request = resp.get("UnprocessedItems") or {}
                if not request:
                    break
            else:
                raise translate(ClientError({"Error": {"Code": "ProvisionedThroughputExceededException",
                                                       "Message": "unprocessed items after retries"}}, "BatchWriteItem"),
                                "write alerts")

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

    def _query(self, pk: str, sk_prefix: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": self._table, "KeyConditionExpression": "pk = :pk",
                                  "ExpressionAttributeValues": {":pk": _s(pk)}, "ConsistentRead": True}
        if sk_prefix:
            kwargs["KeyConditionExpression"] += " AND begins_with(sk, :sk)"
            kwargs["ExpressionAttributeValues"][":sk"] = _s(sk_prefix)
        while True:
            try:
                resp = self._ddb.query(**kwargs)
            except ClientError as exc:
                raise translate(exc, f"read {pk}") from exc
            items += resp.get("Items", [])
            if "LastEvaluatedKey" not in resp or (limit is not None and len(items) >= limit):
                return items[:limit] if limit is not None else items
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


_EPOCH = datetime(1970, 1, 1)


def _ing(state: HeadState) -> dict[str, Any]:
    return {"last_alert_at": state.last_alert_at.isoformat(), "opened_at": state.opened_at.isoformat(),
            "suspects": state.suspects, "absorbed": state.absorbed, "merged_into": state.merged_into,
            "resolved_alerts": state.resolved_alerts}


def _incident(item: dict[str, Any]) -> Incident:
    """The incident of a META item: the workflow's document with what ingest owns on top."""
    incident = Incident.model_validate_json(item["doc"]["S"])
    if "ing" in item:
        ing = json.loads(item["ing"]["S"])
        incident.last_alert_at = _dt(ing["last_alert_at"])
        incident.opened_at = _dt(ing["opened_at"])
        incident.suspects = list(dict.fromkeys([*incident.suspects, *ing["suspects"]]))
        incident.resolved_alerts = ing["resolved_alerts"]
        if ing.get("merged_into"):
            incident.status, incident.merged_into = "merged", ing["merged_into"]
    return incident


def _head_state(item: dict[str, Any]) -> HeadState:
    incident = _incident(item)
    ing = json.loads(item["ing"]["S"]) if "ing" in item else {}
    from ..domain.ingest import HeadState

    return HeadState(id=incident.id, service=incident.service, opened_at=incident.opened_at,
                     last_alert_at=incident.last_alert_at, title=incident.title, status=incident.status,
                     merged_into=incident.merged_into, suspects=list(incident.suspects),
                     absorbed=list(ing.get("absorbed", [])), resolved_alerts=incident.resolved_alerts,
                     version=int(item.get("version", {}).get("N", "1")), started="started_at" in item)
