"""Guardrails: the policy every write passes before it touches anything."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time
from zoneinfo import ZoneInfo

from ..models import Action
from ..models.base import StrictConfig


class FreezeWindow(StrictConfig):
    start: time
    end: time
    timezone: str = "UTC"
    weekdays: list[int] = [0, 1, 2, 3, 4, 5, 6]

    def active(self, at: datetime) -> bool:
        local = at.astimezone(ZoneInfo(self.timezone))
        if local.weekday() not in self.weekdays:
            return False
        t = local.time()
        return self.start <= t < self.end if self.start <= self.end else (t >= self.start or t < self.end)


class GuardrailPolicy(StrictConfig):
    max_scale_factor: float = 2.0
    max_restarts_per_hour: int = 5
    max_pods_per_action: int = 3
    always_approve: list[str] = ["rollback_deployment", "revert_config", "increase_memory_limit", "scale_service",
                                 "restart_pods", "free_disk_space"]
    freeze_windows: list[FreezeWindow] = []


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    guardrail: str | None = None
    reason: str = ""


@dataclass
class GuardrailContext:
    now: datetime
    kill_switch: bool = False
    restarts_last_hour: int = 0
    writes_in_flight: int = 0
    current_replicas: int | None = None
    extra: dict = field(default_factory=dict)


def check(action: Action, policy: GuardrailPolicy, ctx: GuardrailContext) -> Verdict:
    """The first guardrail that refuses the action, or an allowing verdict."""
    if not action.is_write:
        return Verdict(True)
    if ctx.kill_switch:
        return Verdict(False, "kill_switch", "the kill switch is on: every write is stopped")
    for window in policy.freeze_windows:
        if window.active(ctx.now):
            return Verdict(False, "change_freeze", f"change freeze {window.start}-{window.end} {window.timezone}")
    if ctx.writes_in_flight > 0:
        return Verdict(False, "one_write_in_flight", "another write on this service has not finished")
    if action.type == "scale_service":
        replicas = action.params.get("replicas")
        if ctx.current_replicas and replicas and replicas > ctx.current_replicas * policy.max_scale_factor:
            return Verdict(False, "max_scale_factor",
                           f"scaling {ctx.current_replicas} -> {replicas} exceeds x{policy.max_scale_factor:g}")
    if action.type == "restart_pods":
        if ctx.restarts_last_hour >= policy.max_restarts_per_hour:
            return Verdict(False, "restart_rate_limit",
                           f"{ctx.restarts_last_hour} restarts in the last hour (limit {policy.max_restarts_per_hour})")
        pods = action.params.get("max_pods")
        if pods and pods > policy.max_pods_per_action:
            return Verdict(False, "blast_radius", f"{pods} pods in one action (limit {policy.max_pods_per_action})")
    return Verdict(True)
