"""One clock for every function: the wall clock in AWS, the scenario's clock in replay and the demo.

A replayed incident happened months ago: its alerts, changes and metrics carry the
scenario's timestamps. If the workflow stamped its approvals, actions and audit records
with today's time, the report's timeline would jump by months between the alerts and the
actions. The local runtime therefore passes `CLOCK_OFFSET_SECONDS` (scenario time minus
wall time when the replay starts) to every function; the composition root reads it and
hands the same clock to the steps, the audit trail and the approval service. Deployed
functions have no offset, so nothing changes in AWS.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Callable

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(timezone.utc)


class OffsetClock:
    """The wall clock shifted by a fixed offset: it ticks at the real rate, from the scenario's `now`."""

    def __init__(self, offset_seconds: float):
        self.offset = timedelta(seconds=offset_seconds)

    def __call__(self) -> datetime:
        return datetime.now(timezone.utc) + self.offset

    def __repr__(self) -> str:
        return f"OffsetClock({self.offset.total_seconds():+.0f}s)"


def clock_with_offset(offset_seconds: float) -> Clock:
    return OffsetClock(offset_seconds) if offset_seconds else system_clock


def offset_to(scenario_now: datetime) -> float:
    """The offset that makes the clock read `scenario_now` at this moment."""
    return (scenario_now - system_clock()).total_seconds()
