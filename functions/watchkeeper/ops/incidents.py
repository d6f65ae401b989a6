"""Incidents as an operator reads them: from a deployed stack's tables and executions, or the local state.

`DeployedIncidents` reads the state table (incidents and approval requests), the audit
table and the incident's Step Functions execution (its state document: diagnosis,
evidence, plan, actions) with the caller's credentials: dynamodb:Scan/GetItem/Query on the
two tables, states:DescribeExecution/GetExecutionHistory on the incident state machine.
`LocalIncidents` reads what a demo or a replay left in `.watchkeeper/`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from ..adapters.dynamodb_audit import DynamoDBAuditLog
from ..adapters.dynamodb_state import DynamoDBIncidentStore, _incident
from ..local.state import local_audit, local_incidents
from ..models import AuditRecord

OPEN_STATUSES = ("open", "awaiting_approval")


@dataclass
class IncidentFilter:
    open_only: bool = False
    awaiting_approval: bool = False
    since: timedelta | None = None

    def keep(self, row: dict[str, Any], now: datetime) -> bool:
        if self.open_only and row["status"] not in OPEN_STATUSES:
            return False
        if self.awaiting_approval and row["status"] != "awaiting_approval":
            return False
        if self.since is not None and row["opened_at"] is not None and row["opened_at"] < now - self.since:
            return False
        return True


def parse_since(text: str) -> timedelta:
    """`90m`, `24h`, `7d`, `2w` (or a bare number of hours)."""
    text = text.strip().lower()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    try:
        if text and text[-1] in units:
            return timedelta(seconds=float(text[:-1]) * units[text[-1]])
        return timedelta(hours=float(text))
    except ValueError:
        raise ValueError(f"--since {text!r}: use a duration like 90m, 24h or 7d") from None


def _row(incident: dict[str, Any], approval: dict[str, Any] | None, report: str | None, origin: str) -> dict[str, Any]:
    status = incident.get("status", "open")
    if approval and approval.get("status") == "pending" and status == "open":
        status = "awaiting_approval"
    opened = incident.get("opened_at")
    return {"id": incident["id"], "service": incident.get("service"), "status": status,
            "severity": incident.get("severity"), "category": incident.get("category"), "title": incident.get("title"),
            "opened_at": datetime.fromisoformat(str(opened).replace("Z", "+00:00")) if opened else None,
            "deliveries": incident.get("deliveries"), "approval": (approval or {}).get("status"),
            "report": report, "origin": origin}


def _match(ids: list[str], wanted: str) -> str:
    if wanted in ids:
        return wanted
    found = [i for i in ids if wanted in i]
    if len(found) == 1:
        return found[0]
    if not found:
        raise KeyError(f"no incident {wanted}")
    raise KeyError(f"{wanted} matches {len(found)} incidents: " + ", ".join(found[:5]))


def detail(incident: dict[str, Any], state: dict[str, Any], audit: list[AuditRecord], approval: dict[str, Any] | None,
           report: dict[str, Any], origin: str) -> dict[str, Any]:
    """What `show` prints (and `--json` returns): one document per incident."""
    evidence = {i["id"]: i for i in (state.get("evidence") or {}).get("items", [])}
    diagnosis = state.get("diagnosis")
    return {
        "incident": {k: incident.get(k) for k in ("id", "service", "status", "severity", "category", "title",
                                                  "opened_at", "last_alert_at", "deliveries", "suspects")},
        "alerts": [{"title": a.get("title"), "source": a.get("source"), "received_at": a.get("received_at"),
                    "count": a.get("count", 1)} for a in incident.get("alerts") or []],
        "diagnosis": diagnosis,
        "evidence": [evidence[e] for e in (diagnosis or {}).get("evidence", []) if e in evidence],
        "plan": state.get("plan"),
        "approval": ({k: approval.get(k) for k in ("request_id", "status", "expires_at", "decided_by", "decided_at",
                                                   "channel")} if approval else None) or state.get("approval"),
        "decisions": [r.model_dump(mode="json") for r in audit if r.kind in ("decision", "escalation")],
        "actions": (state.get("execution") or {}).get("results", []),
        "verification": state.get("verification"),
        "escalation": state.get("escalation"),
        "report": report,
        "audit_records": len(audit),
        "origin": origin,
    }


class DeployedIncidents:
    def __init__(self, session: Any, state_table: str, audit_table: str, state_machine_arn: str = ""):
        self._ddb = session.client("dynamodb")
        self._sfn = session.client("stepfunctions") if state_machine_arn else None
        self.store = DynamoDBIncidentStore(state_table, self._ddb)
        self.audit = DynamoDBAuditLog(audit_table, self._ddb) if audit_table else None
        self.table, self.state_machine_arn = state_table, state_machine_arn
        self.where = f"DynamoDB table {state_table}"

    def _metas(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": self.table, "FilterExpression": "begins_with(pk, :p) AND sk = :m",
                                  "ExpressionAttributeValues": {":p": {"S": "INCIDENT#"}, ":m": {"S": "META"}}}
        while True:
            resp = self._ddb.scan(**kwargs)
            items += resp.get("Items", [])
            if "LastEvaluatedKey" not in resp:
                return items
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def rows(self) -> list[dict[str, Any]]:
        out = []
        for item in self._metas():
            incident = _incident(item).model_dump(mode="json")
            approval = self.store.latest_approval(incident["id"]) if incident.get("status") == "open" else None
            out.append(_row(incident, approval, None, "aws"))
        return out

    def show(self, wanted: str) -> dict[str, Any]:
        try:
            incident_id, incident = wanted, self.store.load(wanted).model_dump(mode="json")
        except KeyError:                 # a part of an id: `show c8eb1f`
            incident_id = _match([r["id"] for r in self.rows()], wanted)
            incident = self.store.load(incident_id).model_dump(mode="json")
        audit = self.audit.records(incident_id) if self.audit else []
        state = self._state(incident_id)
        report = dict(state.get("report") or {})
        return detail(incident, state, audit, self.store.latest_approval(incident_id), report, "aws")

    def _state(self, incident_id: str) -> dict[str, Any]:
        """The execution's state document: its output when it ended, else the newest state it entered or left."""
        if self._sfn is None:
            return {}
        arn = f"{self.state_machine_arn.replace(':stateMachine:', ':execution:')}:{incident_id}"
        try:
            desc = self._sfn.describe_execution(executionArn=arn)
            if desc.get("output"):
                return json.loads(desc["output"])
            events = self._sfn.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=100)["events"]
        except ClientError:
            return {}
        for e in sorted(events, key=lambda e: e.get("id", 0), reverse=True):    # newest first, whatever the order
            for key in ("stateExitedEventDetails", "stateEnteredEventDetails"):
                details = e.get(key) or {}
                text = details.get("output") or details.get("input")
                if text:
                    try:
                        return json.loads(text)
                    except ValueError:
                        continue
        return {}


class LocalIncidents:
    def __init__(self, home: Path):
        self.home = home
        self.where = f"local state in {home}"
        self._docs = {d["id"]: d for d in local_incidents(home)}

    def rows(self) -> list[dict[str, Any]]:
        out = []
        for doc in self._docs.values():
            state = doc.get("state") or {}
            incident = dict(state.get("incident") or {"id": doc["id"]})
            report = state.get("report") or {}
            incident["status"] = report.get("status") or incident.get("status", "open")
            if incident["status"] == "planned" and (state.get("plan") or {}).get("decision") == "approve":
                incident["status"] = "planned"
            out.append(_row(incident, None, (doc.get("report") or {}).get("html_uri"),
                            f"{doc.get('origin')} {doc.get('scenario')}"))
        return out

    def show(self, wanted: str) -> dict[str, Any]:
        incident_id = _match(list(self._docs), wanted)
        doc = self._docs[incident_id]
        state = doc.get("state") or {}
        incident = dict(state.get("incident") or {"id": incident_id})
        incident["status"] = (state.get("report") or {}).get("status") or incident.get("status")
        report = {**(state.get("report") or {}), **{f"local_{k}": v for k, v in (doc.get("report") or {}).items()}}
        return detail(incident, state, local_audit(self.home, incident_id), None, report,
                      f"{doc.get('origin')} of {doc.get('scenario')}")


def now_utc() -> datetime:
    return datetime.now(timezone.utc)
