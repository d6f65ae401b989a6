"""In-memory fakes of the ports: prefer fakes over mocks."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from watchkeeper.adapters.dynamodb_audit import record_hash
from watchkeeper.domain.pinning import make_pin
from watchkeeper.models import ActionResult, AuditRecord, Incident, QuarantinedAlert


class FakeStore:
    def __init__(self, incidents: list[Incident] = ()):
        self.items = {i.id: i for i in incidents}
        self.approvals: dict[str, dict[str, Any]] = {}
        self.quarantine_items: list[QuarantinedAlert] = []

    def load(self, incident_id):
        return self.items[incident_id].model_copy(deep=True)

    def save(self, incident):
        self.items[incident.id] = incident.model_copy(deep=True)

    def quarantine(self, item):
        self.quarantine_items.append(item)

    def save_pending(self, request_id, incident_id, task_token, expires_at, summary):
        self.approvals[request_id] = {"request_id": request_id, "incident_id": incident_id, "task_token": task_token,
                                      "expires_at": expires_at.isoformat(), "status": "pending", "summary": summary}

    def get_approval(self, request_id):
        return self.approvals.get(request_id)

    def decide_approval(self, request_id, status, **details):
        if self.approvals[request_id]["status"] != "pending":
            return False
        self.approvals[request_id].update(status=status, **details)
        return True

    def latest_approval(self, incident_id):
        mine = [a for a in self.approvals.values() if a["incident_id"] == incident_id]
        return dict(mine[-1]) if mine else None


class FakeAudit:
    def __init__(self):
        self.trail: dict[str, list[AuditRecord]] = {}

    def append(self, incident_id, step, kind, summary, detail=None, actor="watchkeeper"):
        trail = self.trail.setdefault(incident_id, [])
        r = AuditRecord(incident_id=incident_id, seq=len(trail) + 1, at=datetime.now(timezone.utc), step=step,
                        kind=kind, actor=actor, summary=summary, detail=detail or {},
                        prev_hash=trail[-1].hash if trail else "")
        r.hash = record_hash(r)
        trail.append(r)
        return r

    def records(self, incident_id):
        return list(self.trail.get(incident_id, []))


class FakeLogs:
    def __init__(self, events=()):
        self.events = list(events)

    def fetch(self, log_group, start, end, *, max_events, max_bytes):
        return [e for e in self.events if e.log_group == log_group and start <= e.at <= end][:max_events]


class FakeMetrics:
    def __init__(self, series=()):
        self.series = list(series)

    def series_for(self, service, start, end):
        return [s for s in self.series if s.service == service]


class FakeChanges:
    def __init__(self, changes=()):
        self.items = list(changes)

    def changes(self, services, start, end):
        services = set(services)
        return [c for c in self.items if c.service in services and start <= c.at <= end]


class FakeExecutor:
    """Every action flips one flag per target; pinned like the real executors."""

    def __init__(self, fail: bool = False):
        self.calls = []
        self.fail = fail
        self.done: dict[str, bool] = {}

    def execute(self, action, *, dry_run, pin=None, guard=None):
        self.calls.append((action.type, action.target, dry_run))
        pin = pin or make_pin({"done": True}, {"done": self.done.get(action.target, False)},
                              summary=f"{action.type} on {action.target}")
        status = "failed" if self.fail else ("planned" if dry_run else "executed")
        if status == "executed":
            self.done[action.target] = pin.target["done"]
        return ActionResult(action_id=action.id, type=action.type, target=action.target, status=status,
                            api_call=f"{action.type} {action.target}", error="boom" if self.fail else None, pin=pin,
                            before=pin.before, after=pin.target)

    def observe(self, action, pin):
        return {"done": self.done.get(action.target, False)}

    def inverse(self, action, pin):
        return make_pin(dict(pin.before), dict(pin.target)), ""


class FakePager:
    def __init__(self):
        self.pages = []

    def page(self, incident, subject, message):
        self.pages.append((incident.id, subject, message))
        return f"msg-{len(self.pages)}"


class FakeReports:
    def __init__(self):
        self.objects: dict[str, bytes] = {}

    def put(self, key, body, content_type):
        self.objects[key] = body
        return f"mem://{key}"


class FakeAlarms:
    def __init__(self, states=None):
        self.values = states or {}

    def states(self, names):
        return {n: self.values[n] for n in names if n in self.values}


class FakeKillSwitch:
    def __init__(self, on: bool = False):
        self.on = on

    def kill_switch_on(self):
        return self.on
