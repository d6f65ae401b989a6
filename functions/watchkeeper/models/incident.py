"""Incidents: a group of alerts about one service."""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from .alerts import Category, Severity
from .base import Contract
from .catalog import Service

IncidentStatus = Literal["open", "merged", "resolved", "escalated", "awaiting_approval", "mitigated", "planned"]


class AlertRef(Contract):
    delivery_id: str
    fingerprint: str
    source: str
    status: str
    title: str
    received_at: datetime
    service: str | None = None
    category: Category = "unknown"
    metric_namespace: str | None = None
    metric_name: str | None = None
    alarm_name: str | None = None
    priority: str | None = None
    count: int = 1                          # deliveries of this alarm (redeliveries, re-notifications)
    last_received_at: datetime | None = None


class Incident(Contract):
    id: str
    service: str
    status: IncidentStatus = "open"
    opened_at: datetime
    last_alert_at: datetime
    category: Category = "unknown"
    severity: Severity = "warning"
    title: str = ""
    alerts: list[AlertRef] = Field(default_factory=list)
    deliveries: int = 0                                 # every delivery of a firing alert in the incident
    resolved_alerts: int = 0
    suspects: list[str] = Field(default_factory=list)   # dependencies that alerted in the same window
    merged_into: str | None = None
    service_info: Service | None = None

    def compacted(self) -> "Incident":
        """One AlertRef per alarm, with its delivery count: what travels through the state machine.

        A storm incident has thousands of deliveries; carrying each one through every state
        would approach Step Functions' 256 KB payload limit. The store keeps every delivery.
        """
        by_alarm: dict[str, AlertRef] = {}
        for a in sorted(self.alerts, key=lambda x: x.received_at):
            seen = by_alarm.get(a.fingerprint)
            if seen is None:
                by_alarm[a.fingerprint] = a.model_copy(update={"last_received_at": a.last_received_at or a.received_at})
            else:
                seen.count += a.count
                seen.last_received_at = max(seen.last_received_at or seen.received_at, a.last_received_at or a.received_at)
        deliveries = sum(a.count for a in self.alerts)
        return self.model_copy(update={"alerts": list(by_alarm.values()), "deliveries": deliveries})


class StartInput(Contract):
    """The input of one execution of the incident state machine."""

    incident_id: str
    settle_seconds: int = 0
