"""Ingest: every delivery parsed, classified and placed in an incident; nothing lost."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..models import AlertRef, QuarantinedAlert, ServiceCatalog
from ..models.alerts import Alert
from ..ports import IncidentHead, IncidentStore, WorkflowStarter
from .classify import ServiceResolver, alert_category
from .correlate import DEFAULT_WINDOW_SECONDS, place
from .intake import InvalidAlert, parse_delivery

logger = logging.getLogger(__name__)


@dataclass
class IngestOutcome:
    received: int = 0
    invalid: int = 0
    resolved: int = 0
    placed: int = 0
    opened: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def add(self, other: "IngestOutcome") -> None:
        self.received += other.received
        self.invalid += other.invalid
        self.resolved += other.resolved
        self.placed += other.placed
        self.opened += other.opened
        self.started += other.started
        self.errors += other.errors


def alert_ref(alert: Alert, service: str | None) -> AlertRef:
    return AlertRef(
        delivery_id=alert.delivery_id, fingerprint=alert.fingerprint, source=alert.source, status=alert.status,
        title=alert.title, received_at=alert.received_at, service=service, category=alert_category(alert),
        metric_namespace=alert.metric_namespace, metric_name=alert.metric_name,
        alarm_name=alert.labels.get("alarm_name"), priority=alert.priority,
    )


class Ingestor:
    """Turns raw deliveries into incidents through the incident store, then starts workflows."""

    def __init__(self, store: IncidentStore, starter: WorkflowStarter, catalog: ServiceCatalog, *,
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
        out = IngestOutcome(received=1)
        received_at = received_at or datetime.now(timezone.utc)
        try:
            alerts = parse_delivery(source, payload, received_at)
        except InvalidAlert as exc:
            out.invalid = 1
            self._store.quarantine(QuarantinedAlert(
                source=str(source), received_at=_as_datetime(received_at), reason=str(exc), excerpt=_excerpt(payload)))
            logger.warning("quarantined alert from %s: %s", source, exc)
            return out
        if alerts and all(a.status == "resolved" for a in alerts):
            out.resolved = 1
        for alert in alerts:
            self._place(alert, out)
        return out

    def _place(self, alert: Alert, out: IngestOutcome) -> None:
        service = self._resolver.resolve(alert) or "unknown"
        ref = alert_ref(alert, service)
        for _ in range(3):  # a lost conditional write means another invocation placed first: decide again
            p = place(service, alert.status, alert.received_at, alert.fingerprint, self._catalog,
                      self._store.head_for_service, self._window)
            if p.action == "ignore":
                return
            if p.action == "annotate":
                self._store.annotate_resolved(p.incident_id, ref)
                return
            if p.action == "attach":
                self._store.attach(p.incident_id, ref, p.suspect)
                out.placed += 1
                return
            head = IncidentHead(id=p.incident_id, service=service, opened_at=alert.received_at,
                                last_alert_at=alert.received_at)
            if not self._store.open(head, ref, self._window):
                continue
            for absorbed in p.absorb:
                self._store.merge(absorbed, p.incident_id)
            out.placed += 1
            out.opened.append(p.incident_id)
            if self._start and self._starter.start(p.incident_id, {"incident_id": p.incident_id,
                                                                   "settle_seconds": self._settle}):
                out.started.append(p.incident_id)
            return
        out.errors.append(f"could not place {alert.delivery_id}: incident store kept changing")


def _as_datetime(value: datetime | str) -> datetime | None:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _excerpt(payload: Any, limit: int = 2000) -> str:
    text = payload if isinstance(payload, str) else json.dumps(payload, default=str)
    return text[:limit]
