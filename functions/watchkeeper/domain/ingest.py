"""Ingest: every delivery parsed, classified and placed in an incident; nothing lost, nothing orphaned.

A batch of deliveries is decided in memory over a view of the incidents its services may
join (read once), then committed per group of linked incidents with conditional writes:
a group whose incidents or service pointers changed since they were read (another
invocation placed first) is read again and decided again. A group never exceeds one
transaction: a batch whose decisions would need more is placed in consecutive halves.
The deliveries themselves are written next, in a few bucket items per incident,
idempotently (a retried batch rewrites the same items; an incident counts each delivery once).

Every incident a batch touches that has no workflow yet gets one: StartExecution is named
after the incident (idempotent), retried on every later delivery into the incident until it
lands, and the incident carries a pending-start marker from its first write until then, which
the scheduled reconciler (`reconcile`) works through. A delivery whose workflow could not be
started is reported failed, so its queue delivers it again.
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
    started: bool = False          # its workflow is known to have started

    def head(self) -> IncidentHead:
        return IncidentHead(id=self.id, service=self.service, opened_at=self.opened_at,
                            last_alert_at=self.last_alert_at, status=self.status, merged_into=self.merged_into)

    def copy(self) -> "HeadState":
        return replace(self, suspects=list(self.suspects), absorbed=list(self.absorbed))


@dataclass
class IncidentView:
    """Service pointers (service -> incident id, None when none) and the heads they lead to.

    `stored` is each pointer as it is stored: a pointer to an incident that is gone (deleted,
    expired before its pointer) leads nowhere (`pointers` None) but is what a write that
    repairs it must find."""

    pointers: dict[str, str | None] = field(default_factory=dict)
    heads: dict[str, HeadState] = field(default_factory=dict)
    stored: dict[str, str | None] = field(default_factory=dict)

    def forget(self, service: str) -> None:
        self.pointers.pop(service, None)
        self.stored.pop(service, None)

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

    @property
    def new_incidents(self) -> list[str]:
        """Incidents this commit creates that need a workflow (each gets a pending-start marker)."""
        return [h.id for h in self.heads if h.version == 0 and not h.merged_into]

    def size(self) -> int:
        """Items of the transaction: heads, checks, pointers and pending-start markers."""
        in_group = {h.id for h in self.heads}
        return (len(self.heads) + sum(1 for i, _ in self.checks if i not in in_group) + len(self.pointers)
                + len(self.new_incidents))


MAX_TRANSACTION_ITEMS = 100


class PlacementStore(Protocol):
    def read_view(self, services: Iterable[str], view: IncidentView) -> None:
        """Add the pointers of `services` (and the heads they lead to) that `view` lacks."""
        ...

    def commit(self, group: GroupCommit) -> bool:
        """Write a group atomically (with a pending-start marker per new incident); False when
        something read has changed since."""
        ...

    def write_alerts(self, batch_key: str, alerts: dict[str, list[tuple[str, AlertRef]]]) -> None:
        """Store (key, alert) pairs per incident; the same batch key rewrites the same items."""
        ...

    def mark_started(self, incident_id: str) -> None:
        """The incident's workflow exists: note it on the incident and drop its pending-start marker."""
        ...

    def quarantine_many(self, items: list[QuarantinedAlert]) -> None: ...


class PendingStarts(Protocol):
    """What the reconciler reads and writes: incidents whose workflow is not known to have started."""

    def pending_starts(self, limit: int = 500) -> list[str]: ...

    def heads(self, incident_ids: list[str]) -> dict[str, HeadState]: ...

    def mark_started(self, incident_id: str) -> None: ...

    def drop_pending(self, incident_id: str) -> None: ...


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
        where: dict[str, list[int]] = {}                  # incident -> deliveries (by position) placed in it
        opened: list[str] = []
        unplaced: list[tuple[_Pending, str]] = []
        self._place_all(pending, view, placed, where, opened, unplaced)
        for p, reason in unplaced:
            out.errors.append(f"could not place {p.alert.delivery_id}: {reason}")
        failed = {p.index for p, _ in unplaced}
        if placed:
            try:
                self._store.write_alerts(batch_key, placed)
            except Exception as exc:  # the placements stand; the redelivered deliveries are placed again
                logger.exception("could not store the deliveries of %d incidents", len(placed))
                out.errors.append(f"could not store the deliveries: {type(exc).__name__}: {exc}")
                out.failed += sorted(failed | {i for ids in where.values() for i in ids})
                return
        out.placed += sum(1 for pairs in placed.values() for _, ref in pairs if ref.status == "firing")
        opened = [i for i in dict.fromkeys(opened) if not view.heads[i].merged_into]
        out.opened += opened
        if self._start:
            failed |= self._start_workflows([*opened, *placed], view, where, out)
        out.failed += sorted(failed)

    def _place_all(self, pending: list[_Pending], view: IncidentView, placed: dict, where: dict, opened: list,
                   unplaced: list) -> None:
        """Decide and commit; a batch whose groups would not fit in one transaction is placed in halves."""
        for _attempt in range(MAX_ATTEMPTS):
            self._store.read_view(self._services_to_read(pending), view)
            groups = self._decide(pending, view)
            unread = {service for g, _, _ in groups for service in g.pointers} - view.stored.keys()
            if unread:      # an absorbed incident's suspects: their pointers move too, read them first
                self._store.read_view(unread, view)
                groups = self._decide(pending, view)
            if len(pending) > 1 and any(g.size() > MAX_TRANSACTION_ITEMS for g, _, _ in groups):
                half = len(pending) // 2
                self._place_all(pending[:half], view, placed, where, opened, unplaced)
                self._place_all(pending[half:], view, placed, where, opened, unplaced)
                return
            retry: list[_Pending] = []
            for group, members, new_ids in groups:
                if group.size() > MAX_TRANSACTION_ITEMS:      # one alert linking more than a transaction holds
                    unplaced += [(m, f"it links {group.size()} items, more than one transaction holds")
                                 for _, m in members]
                    continue
                if self._store.commit(group):
                    for state in group.heads:
                        state.version += 1
                        view.heads[state.id] = state
                    for service, (incident_id, _) in group.pointers.items():
                        view.pointers[service] = view.stored[service] = incident_id
                    for incident_id, p in members:
                        placed.setdefault(incident_id, []).append((p.key, p.ref))   # resolved ones annotate
                        where.setdefault(incident_id, []).append(p.index)
                    opened += [i for i in new_ids if not view.heads[i].merged_into]
                else:   # another invocation got there first: forget what was read, decide again
                    for state in group.heads:
                        view.heads.pop(state.id, None)
                    for incident_id, _ in group.checks:
                        view.heads.pop(incident_id, None)
                    for service in group.pointers:
                        view.forget(service)
                    for p in (m for _, m in members):
                        view.forget(p.service)
                    retry += [m for _, m in members]
            pending = sorted(retry, key=lambda p: p.alert.received_at)
            if not pending:
                return
        unplaced += [(p, "the incident store kept changing") for p in pending]

    def _start_workflows(self, incident_ids: list[str], view: IncidentView, where: dict[str, list[int]],
                         out: IngestOutcome) -> set[int]:
        """Start the workflow of every touched incident that has none yet; the deliveries of an
        incident whose start failed are reported failed (their queue delivers them again)."""
        def owner(incident_id: str) -> str:
            seen = set()
            while incident_id not in seen and (h := view.heads.get(incident_id)) is not None and h.merged_into:
                seen.add(incident_id)
                incident_id = h.merged_into
            return incident_id

        deliveries: dict[str, set[int]] = {}
        for incident_id, indexes in where.items():
            deliveries.setdefault(owner(incident_id), set()).update(indexes)
        failed: set[int] = set()
        for incident_id in dict.fromkeys(owner(i) for i in incident_ids):
            head = view.heads.get(incident_id)
            if head is None or head.merged_into or head.started:
                continue
            try:
                if self._starter.start(incident_id, {"incident_id": incident_id, "settle_seconds": self._settle}):
                    out.started.append(incident_id)
                self._store.mark_started(incident_id)
                head.started = True
            except Exception as exc:  # retried on the redelivery and by the reconciler
                logger.warning("could not start the workflow of %s: %s", incident_id, exc)
                out.errors.append(f"could not start the workflow of {incident_id}: {type(exc).__name__}: {exc}")
                failed |= deliveries.get(incident_id, set())
        return failed

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
        work = IncidentView(dict(committed.pointers), {}, committed.stored)
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
        checks: list[tuple[str, str, int]] = []          # (incident of the group, incident read, its version)
        new_ids: list[str] = []
        for p in pending:
            alert = p.alert
            decision = place(p.service, alert.status, alert.received_at, alert.fingerprint, self._catalog,
                             work.head_for, self._window)
            if decision.action == "ignore":
                continue
            if decision.action == "annotate":     # stored with the incident, which must still be the one read
                incident_id = decision.incident_id
                if incident_id not in touched:
                    checks.append((incident_id, incident_id, committed.heads[incident_id].version))
                members.append((incident_id, p))
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
                    checks.append((s.id, old.id, old.version))
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

        def group_of(key: str) -> tuple[list[HeadState], dict, list, list, list]:
            return groups.setdefault(find(key), ([], {}, [], [], []))

        for incident_id, s in touched.items():
            g = group_of("inc:" + incident_id)
            s_out = s.copy()
            s_out.version = seen_versions[incident_id]
            g[0].append(s_out)
            if incident_id in new_ids:
                g[4].append(incident_id)
        for anchor, incident_id, version in dict.fromkeys(checks):      # one check per incident read
            if incident_id not in touched or anchor != incident_id:
                group_of("inc:" + anchor)[2].append((incident_id, version))
        for service, value in pointers.items():
            group_of("svc:" + service)[1][service] = value
        for incident_id, p in members:
            group_of("inc:" + incident_id)[3].append((incident_id, p))
        return [(GroupCommit(heads, ptrs, chk), mem, new) for heads, ptrs, chk, mem, new in groups.values()]

    @staticmethod
    def _point(service: str, incident_id: str, committed: IncidentView, pointers: dict, work: IncidentView,
               union: Any) -> None:
        if work.pointers.get(service) == incident_id and service in pointers:
            union("svc:" + service, "inc:" + incident_id)
            return
        # one pointer write per service and batch: every incident it pointed to in between
        # joins the same group (the union below), so the write is atomic with all of them. The
        # write expects the pointer as stored: a dangling one is repaired, not obeyed.
        seen = pointers[service][1] if service in pointers else committed.stored.get(service)
        pointers[service] = (incident_id, seen)
        work.pointers[service] = incident_id
        union("svc:" + service, "inc:" + incident_id)


@dataclass
class ReconcileOutcome:
    pending: int = 0
    started: list[str] = field(default_factory=list)      # workflows this run started
    confirmed: list[str] = field(default_factory=list)    # already running or finished: only the marker was left
    dropped: list[str] = field(default_factory=list)      # merged or gone: no workflow of their own
    errors: list[str] = field(default_factory=list)


def reconcile(store: PendingStarts, starter: WorkflowStarter, settle_seconds: int, limit: int = 500) -> ReconcileOutcome:
    """Start the workflow of every stored incident that is not known to have one.

    StartExecution is named after the incident, so a workflow that already exists is not
    started again (it is only noted); a merged incident is handled by its absorber's workflow.
    One incident's failure does not stop the others; it stays pending for the next run."""
    out = ReconcileOutcome()
    pending = store.pending_starts(limit)
    out.pending = len(pending)
    heads = store.heads(pending) if pending else {}
    for incident_id in pending:
        head = heads.get(incident_id)
        try:
            if head is None or head.merged_into:
                store.drop_pending(incident_id)
                out.dropped.append(incident_id)
                continue
            if head.started or not starter.start(incident_id, {"incident_id": incident_id,
                                                                "settle_seconds": settle_seconds}):
                out.confirmed.append(incident_id)
            else:
                out.started.append(incident_id)
            store.mark_started(incident_id)
        except Exception as exc:  # stays pending: the next run tries again
            logger.warning("could not start the workflow of %s: %s", incident_id, exc)
            out.errors.append(f"{incident_id}: {type(exc).__name__}: {exc}")
    return out


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
