"""The incident memory: what each handled incident was, what was done, and what people said of it."""
from __future__ import annotations

from datetime import datetime

from pydantic import Field

from .base import Contract


class ApproverDecision(Contract):
    approved: bool
    by: str | None = None
    at: datetime | None = None
    reason: str = ""


class PastIncident(Contract):
    """One handled incident, as the next similar one should see it."""

    incident_id: str
    service: str
    opened_at: datetime
    fingerprint: list[str] = Field(default_factory=list)   # template and metric-role signatures
    root_cause: str = "unknown"
    culprit: str | None = None
    confidence: float = 0.0
    actions: list[str] = Field(default_factory=list)       # write action types that ran (or were planned)
    outcome: str = "open"                                    # mitigated | escalated | planned | ...
    decisions: list[ApproverDecision] = Field(default_factory=list)
    corrected_root_cause: str | None = None                  # an approver's correction, when there was one
    corrected_culprit: str | None = None
    corrected_by: str | None = None
    correction_reason: str = ""

    @property
    def true_root_cause(self) -> str:
        return self.corrected_root_cause or self.root_cause
