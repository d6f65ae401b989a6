"""Guardrails: the policy every write passes before it touches anything.

One policy per account (the `guardrails` block of the account in cdk.json, delivered to the
functions as the `GUARDRAILS` environment JSON) with per-service overrides. Pure: the rate
counters and the in-flight lock live in DynamoDB behind `RateLimits`; this module only
decides.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any, Literal, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from ..models import Action
from ..models.base import StrictConfig

# The original roadmap, from least to most trusted.
Autonomy = Literal["observe", "advise", "act_with_approval", "act_on_known_runbooks"]
AUTONOMY_LEVELS: tuple[str, ...] = ("observe", "advise", "act_with_approval", "act_on_known_runbooks")


class FreezeWindow(StrictConfig):
    """A change freeze in wall-clock time of its zone: from `start` on each of `weekdays` (0 is
    Monday) to `end`, which is the next day when `end` is not after `start` (Friday 17:00 to
    09:00 covers Saturday until 09:00). DST moves the UTC instants, never the wall-clock ones."""

    start: time
    end: time
    timezone: str = "UTC"
    weekdays: list[int] = [0, 1, 2, 3, 4, 5, 6]

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}") from None
        return v

    @field_validator("weekdays")
    @classmethod
    def _days(cls, v: list[int]) -> list[int]:
        if any(d not in range(7) for d in v):
            raise ValueError("weekdays are 0 (Monday) to 6 (Sunday)")
        return v

    def active(self, at: datetime) -> bool:
        if at.tzinfo is None:
            raise ValueError("freeze windows need an aware datetime")
        local = at.astimezone(ZoneInfo(self.timezone))
        t = local.time().replace(tzinfo=None)
        if self.start < self.end:                                   # within one day
            return local.weekday() in self.weekdays and self.start <= t < self.end
        if t >= self.start:                                         # the evening it starts
            return local.weekday() in self.weekdays
        started = (local.date() - timedelta(days=1)).weekday()      # the morning after the day it started
        return t < self.end and started in self.weekdays


class GuardrailPolicy(StrictConfig):
    """The limits of one service (the account's defaults with the service's overrides)."""

    autonomy: Autonomy = "act_with_approval"
    runbook_autonomy: dict[str, Autonomy] = Field(default_factory=dict)   # per runbook, overrides `autonomy`
    dry_run: bool = False                                                 # plan and dry-run every write, never write
    max_scale_factor: float = Field(default=2.0, gt=1.0, le=10.0)
    max_restarts_per_hour: int = Field(default=5, ge=0)                   # pods restarted per service, sliding hour
    max_pods_per_action: int = Field(default=3, ge=1)
    # below this (checked) diagnosis confidence every write needs approval, whatever the autonomy level
    confidence_floor: float = Field(default=0.8, ge=0.0, le=1.0)
    one_write_in_flight: bool = True
    always_approve: list[str] = ["rollback_deployment", "revert_config", "increase_memory_limit"]
    freeze_windows: list[FreezeWindow] = []

    def autonomy_for(self, runbook: str | None) -> str:
        return self.runbook_autonomy.get(runbook or "", self.autonomy)


class GuardrailConfig(StrictConfig):
    """An account's guardrails: `defaults` for every service, `services` overriding some fields."""

    defaults: GuardrailPolicy = Field(default_factory=GuardrailPolicy)
    services: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _overrides_are_valid(self) -> "GuardrailConfig":
        for name in self.services:
            self.for_service(name)   # a typo or a bad value in an override fails here, naming the service
        return self

    def for_service(self, service: str) -> GuardrailPolicy:
        override = self.services.get(service)
        if not override:
            return self.defaults
        try:
            return GuardrailPolicy.model_validate({**self.defaults.model_dump(), **override})
        except ValueError as exc:
            raise ValueError(f"guardrails.services.{service}: {exc}") from None

    @classmethod
    def parse(cls, document: str | dict | None) -> "GuardrailConfig":
        """From the `GUARDRAILS` JSON (or an already-parsed dict); empty means the defaults."""
        if not document:
            return cls()
        data = json.loads(document) if isinstance(document, str) else document
        return cls.model_validate(data)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    guardrail: str | None = None
    reason: str = ""


@dataclass
class GuardrailContext:
    now: datetime
    kill_switch: bool = False
    restarts_last_hour: int = 0                 # pods of the service restarted in the last hour
    writes_in_flight: int = 0
    current_replicas: int | None = None
    target_replicas: int | None = None
    pods_affected: int | None = None
    extra: dict = field(default_factory=dict)


class RateLimits(Protocol):
    """Shared counters, so concurrent executions agree (DynamoDB on the state table)."""

    def acquire_write_lock(self, service: str, holder: str, ttl_seconds: int, now: datetime) -> bool: ...
    def release_write_lock(self, service: str, holder: str) -> None: ...
    def count(self, service: str, kind: str, now: datetime) -> int: ...
    def reserve(self, service: str, kind: str, limit: int, window_seconds: int, holder: str, now: datetime) -> bool: ...


def check(action: Action, policy: GuardrailPolicy, ctx: GuardrailContext) -> Verdict:
    """The first guardrail that refuses the action, or an allowing verdict."""
    if not action.is_write:
        return Verdict(True)
    if ctx.kill_switch:
        return Verdict(False, "kill_switch", "the kill switch is on: every write is stopped")
    for window in policy.freeze_windows:
        if window.active(ctx.now):
            return Verdict(False, "change_freeze", f"change freeze {window.start}-{window.end} {window.timezone}")
    if policy.one_write_in_flight and ctx.writes_in_flight > 0:
        return Verdict(False, "one_write_in_flight", "another write on this service has not finished")
    if action.type == "scale_service":
        factor = action.params.get("factor")
        if factor is not None and float(factor) > policy.max_scale_factor:
            return Verdict(False, "max_scale_factor", f"factor x{float(factor):g} exceeds x{policy.max_scale_factor:g}")
        current = ctx.current_replicas
        target = ctx.target_replicas or action.params.get("replicas")
        if current and target and target > current * policy.max_scale_factor:
            return Verdict(False, "max_scale_factor",
                           f"scaling {current} -> {target} exceeds x{policy.max_scale_factor:g}")
    if action.type == "restart_pods":
        pods = ctx.pods_affected or action.params.get("max_pods")
        if pods and pods > policy.max_pods_per_action:
            return Verdict(False, "blast_radius", f"{pods} pods in one action (limit {policy.max_pods_per_action})")
        if ctx.restarts_last_hour + (pods or 1) > policy.max_restarts_per_hour:
            return Verdict(False, "restart_rate_limit",
                           f"{ctx.restarts_last_hour} pod restarts in the last hour and {pods or 1} more asked "
                           f"(limit {policy.max_restarts_per_hour} pods per hour)")
    return Verdict(True)
