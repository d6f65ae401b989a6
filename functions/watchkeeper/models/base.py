"""Shared pydantic base classes for the contracts."""
from __future__ import annotations

from datetime import datetime, timezone

from pydantic import BaseModel, ConfigDict


class Contract(BaseModel):
    """A payload that crosses a state boundary: tolerant of keys added by later states."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class StrictConfig(BaseModel):
    """Configuration and runbooks: a typo is an error, not a silent default."""

    model_config = ConfigDict(extra="forbid")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)
