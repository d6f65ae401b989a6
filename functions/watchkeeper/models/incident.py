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
    resolved_alerts: int = 0
    suspects: list[str] = Field(default_factory=list)   # dependencies that alerted in the same window
    merged_into: str | None = None
    service_info: Service | None = None

    @property
    def deliveries(self) -> int:
        return len(self.alerts)


class StartInput(Contract):
    """The input of one execution of the incident state machine."""

    incident_id: str
    settle_seconds: int = 0
