"""Evidence: what a senior SRE would look at, each item citable by id."""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from .base import Contract

EvidenceType = Literal["alert", "change", "log_template", "metric", "cluster", "dependency", "history"]


class EvidenceItem(Contract):
    id: str                      # stable within the incident: "ev-3"
    type: EvidenceType
    ref: str                     # what it points at: change id, template id, metric name, pod name
    detail: str                  # one line a responder can read
    at: datetime | None = None
    service: str | None = None
    signals: list[str] = Field(default_factory=list)   # analyzer tags: "new_since_change", "ramp", ...


class ChangeEvent(Contract):
    id: str
    kind: Literal["deploy", "config", "infra"]
    service: str
    at: datetime
    revision: str | None = None
    previous_revision: str | None = None
    sha: str | None = None
    author: str | None = None
    description: str = ""
    source: str = ""


class LogTemplateStat(Contract):
    template_id: str
    template: str
    service: str
    level: str = "info"
    count: int = 0
    before_onset: int = 0
    after_onset: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None


class MetricSummary(Contract):
    service: str
    namespace: str
    name: str
    unit: str | None = None
    baseline: float | None = None
    latest: float | None = None
    peak: float | None = None
    onset: datetime | None = None
    shape: Literal["flat", "step", "ramp", "spike", "drop"] = "flat"
    change_ratio: float = 1.0


class Evidence(Contract):
    window_start: datetime
    window_end: datetime
    onset: datetime | None = None
    items: list[EvidenceItem] = Field(default_factory=list)
    changes: list[ChangeEvent] = Field(default_factory=list)
    templates: list[LogTemplateStat] = Field(default_factory=list)
    metrics: list[MetricSummary] = Field(default_factory=list)
    log_lines_read: int = 0
    notes: list[str] = Field(default_factory=list)
    onsets: dict[str, datetime] = Field(default_factory=dict)       # per service: when its own signals turned
    missing: list[str] = Field(default_factory=list)                # "metrics:<service>", "logs:<service>"
    fingerprint: list[str] = Field(default_factory=list)            # what the incident looks like (memory)
