"""Normalized alerts: every source is parsed into one `Alert`."""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from .base import Contract

AlertSource = Literal["cloudwatch-sns", "cloudwatch-eventbridge", "pagerduty", "grafana", "datadog", "guardduty",
                      "securityhub"]
ALERT_SOURCES: tuple[str, ...] = ("cloudwatch-sns", "cloudwatch-eventbridge", "pagerduty", "grafana", "datadog",
                                  "guardduty", "securityhub")
SECURITY_SOURCES: frozenset[str] = frozenset({"guardduty", "securityhub"})   # every finding is a security signal
AlertStatus = Literal["firing", "resolved"]
Category = Literal["performance", "availability", "resource", "deployment", "security", "unknown"]
Severity = Literal["critical", "high", "warning", "info"]


class Alert(Contract):
    """One delivery of one alert, in the words every source shares."""

    delivery_id: str                     # unique per delivery attempt (SNS MessageId, event id, ...)
    fingerprint: str                     # identity of the alarm: the same alarm firing again shares it
    source: AlertSource
    status: AlertStatus
    title: str
    description: str = ""
    received_at: datetime
    started_at: datetime | None = None
    service_hints: list[str] = Field(default_factory=list)   # raw names, best first
    metric_namespace: str | None = None
    metric_name: str | None = None
    dimensions: dict[str, str] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)
    priority: str | None = None          # the source's own priority words (P1, critical, high, ...)
    link: str | None = None


class QuarantinedAlert(Contract):
    """A payload that could not be understood as its source: kept with its reason, never dropped."""

    source: str
    received_at: datetime | None = None
    reason: str
    excerpt: str = ""
