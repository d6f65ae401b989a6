"""Correlation: which incident an alert belongs to.

The same alarm firing again is one more delivery of one alert; alerts on one service in a
window are one incident; alerts on a service and on a dependency it calls, in the same
window, form one incident about the service that shows the symptoms, with the dependency
as the suspect. Resolved alerts never open an incident.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Literal

from ..models.catalog import ServiceCatalog
from ..ports import IncidentHead

DEFAULT_WINDOW_SECONDS = 15 * 60


@dataclass(frozen=True)
class Placement:
    action: Literal["attach", "open", "open_and_absorb", "annotate", "ignore"]
    incident_id: str | None = None
    suspect: str | None = None
    absorb: tuple[str, ...] = ()          # incidents of dependencies merged into the new one


def incident_id_for(service: str, at: datetime, fingerprint: str) -> str:
    """A deterministic incident key, also the execution name (<= 80 chars, [A-Za-z0-9-_])."""
    slug = re.sub(r"[^a-z0-9-]+", "-", service.lower()).strip("-")[:40] or "unknown"
    digest = hashlib.sha256(fingerprint.encode()).hexdigest()[:6]
    return f"inc-{slug}-{at.strftime('%Y%m%dT%H%M%S')}-{digest}"


def place(service: str, status: str, at: datetime, fingerprint: str, catalog: ServiceCatalog,
          head_for: Callable[[str], IncidentHead | None], window_seconds: int = DEFAULT_WINDOW_SECONDS) -> Placement:
    """Decide where an alert on `service` goes, given the open incidents `head_for` returns."""

    def live(name: str) -> IncidentHead | None:
        head = head_for(name)
        if head is None or head.status != "open":
            return None
        if (at - head.last_alert_at).total_seconds() > window_seconds:
            return None
        return head

    own = live(service)
    if status != "firing":
        return Placement("annotate", own.id) if own else Placement("ignore")
    if own:
        return Placement("attach", own.id, suspect=None if own.service == service else service)
    for dependent in catalog.dependents_of(service):
        head = live(dependent.name)
        if head:
            return Placement("attach", head.id, suspect=service)
    info = catalog.get(service)
    absorbed = tuple(dict.fromkeys(h.id for d in (info.depends_on if info else []) if (h := live(d))))
    new_id = incident_id_for(service, at, fingerprint)
    if absorbed:
        return Placement("open_and_absorb", new_id, absorb=absorbed)
    return Placement("open", new_id)
