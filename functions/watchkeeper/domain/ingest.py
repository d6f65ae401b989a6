"""Ingest: every delivery parsed, classified and placed in an incident; nothing lost.

A batch of deliveries is decided in memory over a view of the incidents its services may
join (read once), then committed per group of linked incidents with conditional writes:
a group whose incidents or service pointers changed since they were read (another
invocation placed first) is read again and decided again. The alerts themselves are
written last, in a few bucket items per incident, idempotently (a retried batch rewrites
the same items).
"""
from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Protocol

from ..models import AlertRef, QuarantinedAlert, ServiceCatalog
from ..models.alerts import Alert
from ..ports import IncidentHead, WorkflowStarter
from .classify import ServiceResolver, alert_category
from .correlate import DEFAULT_WINDOW_SECONDS, _index, place
from .intake import InvalidAlert, parse_delivery

logger = logging.getLogger(__name__)
MAX_ATTEMPTS = 4


@dataclass
class IngestOutcome:
    received: int = 0
    invalid: int = 0
    resolved: int = 0
    placed: int = 0
    opened: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)      # deliveries (by position) with an alert not placed

    def add(self, other: "IngestOutcome") -> None:
        self.received += other.received
        self.invalid += other.invalid
        self.resolved += other.resolved
        self.placed += other.placed
        self.opened += other.opened
        self.started += other.started
        self.errors += other.errors
        self.failed += [self.received - other.received + i for i in other.failed]


# --- what ingest reads and writes ------------------------------------------------------------

@dataclass
class HeadState:
    """What correlation knows and changes of one incident; `version` 0 means not yet stored."""

    id: str
    service: str
    opened_at: datetime
    last_alert_at: datetime
    title: str = ""
    status: str = "open"
    merged_into: str | None = None
    suspects: list[str] = field(default_factory=list)
    absorbed: list[str] = field(default_factory=list)
    resolved_alerts: int = 0
    version: int = 0

    def head(self) -> IncidentHead:
        return IncidentHead(id=self.id, service=self.service, opened_at=self.opened_at,
                            last_alert_at=self.last_alert_at, status=self.status, merged_into=self.merged_into)

    def copy(self) -> "HeadState":
        return replace(self, suspects=list(self.suspects), absorbed=list(self.absorbed))


@dataclass
class IncidentView:
    """Service pointers (service -> incident id, None when none) and the heads they lead to."""

    pointers: dict[str, str | None] = field(default_factory=dict)
    heads: dict[str, HeadState] = field(default_factory=dict)

    def head_for(self, service: str) -> IncidentHead | None:
        state = self.state_for(service)
        return state.head() if state else None

    def state_for(self, service: str) -> HeadState | None:
        incident_id = self.pointers.get(service)
        seen = set()
        while incident_id and incident_id not in seen:
            seen.add(incident_id)
            state = self.heads.get(incident_id)
            if state is None:
                return None
            if state.merged_into:
                incident_id = state.merged_into
                continue
            return state
        return None


@dataclass
class GroupCommit:
    """One atomic write: incidents linked in this batch and the pointers that lead to them.

    `heads` are the new states (their `version` is the one read; 0 for a new incident),
    `pointers` maps a service to (new incident id, incident id read or None), `checks`
    names stored incidents (id, version) that must not have changed (a stale incident a
    pointer is moved away from).
    """

    heads: list[HeadState]
    pointers: dict[str, tuple[str, str | None]]
    checks: list[tuple[str, int]] = field(default_factory=list)


class PlacementStore(Protocol):
    def read_view(self, services: Iterable[str], view: IncidentView) -> None:
        """Add the pointers of `services` (and the heads they lead to) that `view` lacks."""
        ...

    def commit(self, group: GroupCommit) -> bool:
        """Write a group atomically; False when something read has changed since."""
        ...

    def write_alerts(self, batch_key: str, alerts: dict[str, list[tuple[str, AlertRef]]]) -> None:
        """Store (key, alert) pairs per incident; the same batch key rewrites the same items."""
        ...

    def quarantine_many(self, items: list[QuarantinedAlert]) -> None: ...


def alert_ref(alert: Alert, service: str | None) -> AlertRef:
    return AlertRef(
        delivery_id=alert.delivery_id, fingerprint=alert.fingerprint, source=alert.source, status=alert.status,
        title=alert.title, received_at=alert.received_at, service=service, category=alert_category(alert),
        metric_namespace=alert.metric_namespace, metric_name=alert.metric_name,
        alarm_name=alert.labels.get("alarm_name"), priority=alert.priority,
    )


@dataclass
class _Pending:
    index: int               # position of its delivery in the batch
    key: str                 # identity of this delivery of this alert: received_at#delivery_id#occurrence
    alert: Alert
    service: str
    ref: AlertRef


class Ingestor:
    """Turns raw deliveries into incidents through the incident store, then starts workflows."""

    def __init__(self, store: PlacementStore, starter: WorkflowStarter, catalog: ServiceCatalog, *,
                 settle_seconds: int = 60, start_executions: bool = True,
                 window_seconds: int = DEFAULT_WINDOW_SECONDS):
        self._store = store
        self._starter = starter
        self._catalog = catalog
        self._resolver = ServiceResolver(catalog)
        self._settle = settle_seconds
        self._start = start_executions
        self._window = window_seconds

    def ingest(self, source: str, payload: Any, received_at: datetime | str | None = None) -> IngestOutcome:
        return self.ingest_batch([(source, payload, received_at)])

    def ingest_batch(self, deliveries: Iterable[tuple[str, Any, datetime | str | None]]) -> IngestOutcome:
        """Parse, classify and place a batch; a bad delivery is quarantined, never fails the rest."""
        out = IngestOutcome()
        pending: list[_Pending] = []
        quarantined: list[QuarantinedAlert] = []
        occurrences: dict[tuple[str, str], int] = {}
        for index, (source, payload, received_at) in enumerate(deliveries):
            out.received += 1
            received_at = received_at or datetime.now(timezone.utc)
            try:
                alerts = parse_delivery(source, payload, received_at)
            except InvalidAlert as exc:
                reason = str(exc)
            except Exception as exc:  # a parser bug must not lose the rest of the batch either
                logger.exception("parser failed on a %s delivery", source)
                reason = f"{source}: could not be parsed ({type(exc).__name__})"
            else:
                if alerts and all(a.status == "resolved" for a in alerts):
                    out.resolved += 1
                for alert in alerts:
                    service = self._resolver.resolve(alert) or "unknown"
                    base = (alert.received_at.isoformat(), alert.delivery_id)
                    n = occurrences[base] = occurrences.get(base, -1) + 1
                    pending.append(_Pending(index, f"{base[0]}#{base[1]}#{n}", alert, service, alert_ref(alert, service)))
                continue
            out.invalid += 1
            quarantined.append(QuarantinedAlert(source=str(source), received_at=_as_datetime(received_at),
                                                reason=reason, excerpt=_excerpt(payload)))
            logger.warning("quarantined alert from %s: %s", source, reason)
        if quarantined:
            self._store.quarantine_many(quarantined)
        if pending:
            self._place(pending, out)
        return out

    # --- placement -----------------------------------------------------------------------
    def _place(self, pending: list[_Pending], out: IngestOutcome) -> None:
        pending.sort(key=lambda p: p.alert.received_at)   # stable: delivery order within a second
        batch_key = hashlib.sha256("\n".join(p.key for p in pending).encode()).hexdigest()[:16]
        view = IncidentView()
        placed: dict[str, list[tuple[str, AlertRef]]] = {}
        opened: list[str] = []
        for _attempt in range(MAX_ATTEMPTS):
            self._store.read_view(self._services_to_read(pending), view)
            groups = self._decide(pending, view)
            retry: list[_Pending] = []
            for group, members, new_ids in groups:
                if self._store.commit(group):
                    for state in group.heads:
                        state.version += 1
                        view.heads[state.id] = state
                    for service, (incident_id, _) in group.pointers.items():
                        view.pointers[service] = incident_id
                    for incident_id, p in members:
                        if p.ref.status == "firing":     # a resolved alert only annotates
                            placed.setdefault(incident_id, []).append((p.key, p.ref))
                    opened += [i for i in new_ids if not view.heads[i].merged_into]
                else:   # another invocation got there first: forget what was read, decide again
                    for state in group.heads:
                        view.heads.pop(state.id, None)
                    for service in group.pointers:
                        view.pointers.pop(service, None)
                    for p in (m for _, m in members):
                        view.pointers.pop(p.service, None)
                    retry += [m for _, m in members]
            pending = sorted(retry, key=lambda p: p.alert.received_at)
            if not pending:
                break
        for p in pending:
            out.errors.append(f"could not place {p.alert.delivery_id}: incident store kept changing")
        out.failed += sorted({p.index for p in pending})
        if placed:
            self._store.write_alerts(batch_key, placed)
        out.placed += sum(len(v) for v in placed.values())
        opened = [i for i in dict.fromkeys(opened) if not view.heads[i].merged_into]
        out.opened += opened
        if self._start:
            for incident_id in opened:
                if self._starter.start(incident_id, {"incident_id": incident_id, "settle_seconds": self._settle}):
                    out.started.append(incident_id)

    def _services_to_read(self, pending: list[_Pending]) -> set[str]:
        dependents, by_name = _index(self._catalog)
        services: set[str] = set()
        for p in pending:
            if p.service in services:
                continue
            services.add(p.service)
            services.update(dependents.get(p.service, ()))
            info = by_name.get(p.service)
            if info is not None:
                services.update(info.depends_on)
        return services

    def _decide(self, pending: list[_Pending], committed: IncidentView
                ) -> list[tuple[GroupCommit, list[tuple[str, _Pending]], list[str]]]:
        """Place every alert on a working copy of the view; return the commits, one per group."""
        work = IncidentView(dict(committed.pointers), {})
        touched: dict[str, HeadState] = {}
        seen_versions: dict[str, int] = {}

        def state(incident_id: str) -> HeadState:
            if incident_id not in touched:
                base = work.heads.get(incident_id) or committed.heads[incident_id]
                touched[incident_id] = base.copy()
                seen_versions[incident_id] = base.version
            return touched[incident_id]

        class _Heads(dict):
            def get(self, key, default=None):   # reads see this batch's changes first
                return touched.get(key) or committed.heads.get(key, default)

        work.heads = _Heads()
        parent: dict[str, str] = {}

        def find(x: str) -> str:
            while parent.setdefault(x, x) != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        def union(a: str, b: str) -> None:
            parent[find(a)] = find(b)

        members: list[tuple[str, _Pending]] = []
        pointers: dict[str, tuple[str, str | None]] = {}
        checks: dict[str, tuple[str, int]] = {}
        new_ids: list[str] = []
        for p in pending:
            alert = p.alert
            decision = place(p.service, alert.status, alert.received_at, alert.fingerprint, self._catalog,
                             work.head_for, self._window)
            if decision.action == "ignore":
                continue
            if decision.action == "annotate":
                s = state(decision.incident_id)
                s.resolved_alerts += 1
                members.append((s.id, p))
                continue
            if decision.action == "attach":
                s = state(decision.incident_id)
                if alert.received_at > s.last_alert_at:
                    s.last_alert_at = alert.received_at
                if decision.suspect and decision.suspect != s.service and decision.suspect not in s.suspects:
                    s.suspects.append(decision.suspect)
            else:   # open, maybe absorbing the dependencies' incidents
                old = work.state_for(p.service)
                s = HeadState(id=decision.incident_id, service=p.service, opened_at=alert.received_at,
                              last_alert_at=alert.received_at, title=alert.title)
                touched[s.id] = s
                seen_versions[s.id] = 0
                new_ids.append(s.id)
                if old is not None and old.id not in touched and old.version:
                    checks[s.id] = (old.id, old.version)
                for absorbed_id in decision.absorb:
                    a = state(absorbed_id)
                    a.merged_into, a.status = s.id, "merged"
                    s.absorbed += [absorbed_id, *a.absorbed]
                    if a.opened_at < s.opened_at:
                        s.opened_at = a.opened_at
                    if a.last_alert_at > s.last_alert_at:
                        s.last_alert_at = a.last_alert_at
                    for suspect in [a.service, *a.suspects]:
                        if suspect != s.service and suspect not in s.suspects:
                            s.suspects.append(suspect)
                    union("inc:" + absorbed_id, "inc:" + s.id)
                    for service, (target, _) in list(pointers.items()):
                        if target == absorbed_id:
                            pointers[service] = (s.id, pointers[service][1])
                    for service in [a.service, *a.suspects]:
                        self._point(service, s.id, committed, pointers, work, union)
            members.append((s.id, p))
            self._point(p.service, s.id, committed, pointers, work, union)
            if s.service != p.service:
                self._point(s.service, s.id, committed, pointers, work, union)

        groups: dict[str, tuple[list[HeadState], dict, list, list, list]] = {}
        for incident_id, s in touched.items():
            g = groups.setdefault(find("inc:" + incident_id), ([], {}, [], [], []))
            s_out = s.copy()
            s_out.version = seen_versions[incident_id]
            g[0].append(s_out)
            if incident_id in checks:
                g[2].append(checks[incident_id])
            if incident_id in new_ids:
                g[4].append(incident_id)
        for service, value in pointers.items():
            groups[find("svc:" + service)][1][service] = value
        for incident_id, p in members:
            groups[find("inc:" + incident_id)][3].append((incident_id, p))
        return [(GroupCommit(heads, ptrs, chk), mem, new) for heads, ptrs, chk, mem, new in groups.values()]

    @staticmethod
    def _point(service: str, incident_id: str, committed: IncidentView, pointers: dict, work: IncidentView,
               union: Any) -> None:
        if work.pointers.get(service) == incident_id and service in pointers:
            union("svc:" + service, "inc:" + incident_id)
            return
        # one pointer write per service and batch: every incident it pointed to in between
        # joins the same group (the union below), so the write is atomic with all of them
        seen = pointers[service][1] if service in pointers else committed.pointers.get(service)
        pointers[service] = (incident_id, seen)
        work.pointers[service] = incident_id
        union("svc:" + service, "inc:" + incident_id)


def _as_datetime(value: datetime | str) -> datetime | None:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _excerpt(payload: Any, limit: int = 2000) -> str:
    try:
        text = payload if isinstance(payload, str) else json.dumps(payload, default=str)
    except (TypeError, ValueError):
        text = repr(payload)
    return text[:limit]
