"""Plans, actions and what came of them."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from .base import Contract

WriteAction = Literal[
    "rollback_deployment", "revert_config", "restart_pods", "increase_memory_limit",
    "scale_service", "free_disk_space",
]
WRITE_ACTIONS: frozenset[str] = frozenset(
    {"rollback_deployment", "revert_config", "restart_pods", "increase_memory_limit",
     "scale_service", "free_disk_space"}
)
ActionType = Literal[
    "rollback_deployment", "revert_config", "restart_pods", "increase_memory_limit",
    "scale_service", "free_disk_space", "capture_diagnostics", "page_human",
]
ActionStatus = Literal["planned", "executed", "blocked", "skipped", "failed", "reverted"]
Decision = Literal["execute", "approve", "escalate"]


class Action(Contract):
    id: str
    type: ActionType
    target: str                          # platform/cluster/namespace/workload, or a config key
    params: dict[str, Any] = Field(default_factory=dict)
    requires_approval: bool = True
    reason: str = ""
    revert: Literal["restore_before", "none"] = "none"   # how verification undoes it when the service does not recover

    @property
    def is_write(self) -> bool:
        return self.type in WRITE_ACTIONS


class RemediationPlan(Contract):
    runbook: str | None = None
    decision: Decision
    actions: list[Action] = Field(default_factory=list)
    reason: str = ""
    dry_run: bool = False
    verify: dict[str, Any] = Field(default_factory=dict)
    autonomy: str | None = None          # observe | advise | act_with_approval | act_on_known_runbooks
    decided_by: str | None = None        # the runbook decision that chose these steps, if any

    @property
    def requires_approval(self) -> bool:
        return any(a.requires_approval for a in self.actions if a.is_write)


class ActionResult(Contract):
    action_id: str
    type: ActionType
    target: str
    status: ActionStatus
    api_call: str = ""
    diff: str = ""
    before: dict[str, Any] = Field(default_factory=dict)
    after: dict[str, Any] = Field(default_factory=dict)
    blocked_by: str | None = None
    error: str | None = None


class ExecutionResult(Contract):
    status: Literal["executed", "planned", "blocked", "failed"]
    results: list[ActionResult] = Field(default_factory=list)


class Verification(Contract):
    status: Literal["recovered", "pending", "not_recovered", "skipped"]
    attempts: int = 0
    wait_seconds: int = 0
    checks: list[str] = Field(default_factory=list)
    reverted: list[ActionResult] = Field(default_factory=list)   # writes undone because the service did not recover


class Escalation(Contract):
    reason: str
    paged: bool = True
    message_id: str | None = None
