"""Human approval of risky writes."""
from __future__ import annotations

from datetime import datetime

from .base import Contract


class ApprovalRequest(Contract):
    incident_id: str
    request_id: str
    summary: str
    actions: list[str]
    expires_at: datetime
    url: str | None = None


class ApprovalDecision(Contract):
    approved: bool
    decided_by: str = ""
    reason: str = ""
    channel: str = ""                     # terminal, web, slack, email, replay
    decided_at: datetime | None = None
