"""Audit records: an append-only, hash-chained trail per incident."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from .base import Contract

AuditKind = Literal["step", "intent", "outcome", "decision", "escalation", "report", "failure"]


class AuditRecord(Contract):
    incident_id: str
    seq: int
    at: datetime
    step: str
    kind: AuditKind
    actor: str = "watchkeeper"
    summary: str
    detail: dict[str, Any] = Field(default_factory=dict)
    prev_hash: str = ""
    hash: str = ""
