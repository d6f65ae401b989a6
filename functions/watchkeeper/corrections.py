"""An approver corrects a diagnosis: recorded in the audit trail and in the incident memory,
so the next similar incident leans towards what people said (see `domain.memory`)."""
from __future__ import annotations

from typing import Any

from .models.diagnosis import ROOT_CAUSE_KINDS

STEP = "Correct root cause"


class InvalidCorrection(ValueError):
    pass


def record_correction(audit: Any, memory: Any, incident_id: str, service: str, root_cause: str,
                      culprit: str | None, by: str, channel: str, was: str | None = None, reason: str = "") -> None:
    """Audit first (who, what, from which channel), then memory; an unknown kind changes nothing."""
    if root_cause not in ROOT_CAUSE_KINDS:
        raise InvalidCorrection(f"unknown root cause {root_cause!r}; one of {', '.join(ROOT_CAUSE_KINDS)}")
    culprit = (culprit or "").strip()[:200] or None
    audit.append(incident_id, STEP, "decision",
                 f"{by} via {channel} corrected the root cause" + (f" from {was}" if was else "")
                 + f" to {root_cause}" + (f" ({culprit})" if culprit else "") + (f": {reason}" if reason else ""),
                 {"root_cause": root_cause, "culprit": culprit, "was": was, "channel": channel}, actor=by)
    if memory is not None:
        memory.correct(service, incident_id, root_cause, culprit, by, reason)
