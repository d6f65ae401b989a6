"""The diagnosis: a root cause with the evidence behind it."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import Contract

RootCauseKind = Literal[
    "bad_deploy", "config_change", "memory_leak", "traffic_surge",
    "dependency_failure", "disk_full", "security_event", "unknown",
]
ROOT_CAUSE_KINDS: tuple[str, ...] = (
    "bad_deploy", "config_change", "memory_leak", "traffic_surge",
    "dependency_failure", "disk_full", "security_event", "unknown",
)


class Hypothesis(Contract):
    kind: RootCauseKind
    culprit: str | None = None
    score: float
    evidence: list[str] = Field(default_factory=list)     # evidence item ids
    reasons: list[str] = Field(default_factory=list)


class RootCause(Contract):
    kind: RootCauseKind
    culprit: str | None = None
    service: str | None = None      # where the cause is, when down the chain from the incident's service
    confidence: float
    summary: str
    evidence: list[str] = Field(default_factory=list)     # evidence item ids that exist
    hypotheses: list[Hypothesis] = Field(default_factory=list)
    analyzer: str = "deterministic"
    model_usage: dict[str, float] = Field(default_factory=dict)
