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
# an incident still takes alerts while its workflow runs; merged and closed ones do not
LIVE_STATUSES = frozenset({"open", "escalated", "awaiting_approval", "planned"})


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
    """Decide where an alert on `service` goes, given the open incidents `head_for` returns.

    The window slides: it is measured from the incident's last alert, so a long outage stays
    one incident. A dependency's alert joins an incident of a service that calls it; a
    dependent's new incident absorbs only incidents *about* its dependencies, never another
    dependent's incident that happens to hold a shared dependency's alerts.
    """

    def live(name: str) -> IncidentHead | None:
        head = head_for(name)
        if head is None or head.status not in LIVE_STATUSES:
            return None
        if (at - head.last_alert_at).total_seconds() > window_seconds:
            return None
        return head

    own = live(service)
    if status != "firing":
        return Placement("annotate", own.id) if own else Placement("ignore")
    if own:
        return Placement("attach", own.id, suspect=None if own.service == service else service)
    dependents, by_name = _index(catalog)
    callers = [h for d in dependents.get(service, ()) if (h := live(d))]
    if callers:
        head = max(callers, key=lambda h: h.last_alert_at)
        return Placement("attach", head.id, suspect=service)
    info = by_name.get(service)
    absorbed = tuple(dict.fromkeys(h.id for d in (info.depends_on if info else []) if (h := live(d)) and h.service == d))
    new_id = incident_id_for(service, at, fingerprint)
    if absorbed:
        return Placement("open_and_absorb", new_id, absorb=absorbed)
    return Placement("open", new_id)


_INDEXES: dict[int, tuple[ServiceCatalog, dict[str, tuple[str, ...]], dict[str, object]]] = {}


def _index(catalog: ServiceCatalog) -> tuple[dict[str, tuple[str, ...]], dict]:
    """Who calls whom, computed once per catalog (a storm asks for it on every alert)."""
    hit = _INDEXES.get(id(catalog))
    if hit is None or hit[0] is not catalog:
        dependents: dict[str, list[str]] = {}
        for s in catalog.services:
            for d in s.depends_on:
                dependents.setdefault(d, []).append(s.name)
        hit = (catalog, {k: tuple(v) for k, v in dependents.items()}, {s.name: s for s in catalog.services})
        if len(_INDEXES) > 8:
            _INDEXES.clear()
        _INDEXES[id(catalog)] = hit
    return hit[1], hit[2]
