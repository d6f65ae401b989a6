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


class Pin(Contract):
    """The exact write an approver sees and Execute performs.

    `target` is the state the write produces and `before` the live state it assumes, both
    in the executor's own terms (a Kubernetes template hash, a task definition ARN, a
    replica count...); `fingerprint` hashes `before`, so a change during the approval
    window is noticed (`state_drifted`). `call` holds what the write needs beyond its
    target (the revision to restore, the parameter version to copy)."""

    target: dict[str, Any] = Field(default_factory=dict)
    before: dict[str, Any] = Field(default_factory=dict)
    call: dict[str, Any] = Field(default_factory=dict)
    fingerprint: str = ""
    summary: str = ""                     # "restore revision 356 (shop/web:1f2e)", for people
    culprit: str | None = None            # the change id the diagnosis blamed, when `before` is that change's state
    before_is_culprit: bool = False       # putting `before` back would redeploy the culprit


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
    pin: Pin | None = None               # the exact target written (or previewed) and the before-state it assumed
    key: str | None = None               # idempotency key: execution + action (+ "#revert")
    reconciled: bool = False             # the outcome was read back from the live state after an unknown outcome
    notes: list[str] = Field(default_factory=list)


class ExecutionResult(Contract):
    status: Literal["executed", "planned", "blocked", "failed"]
    results: list[ActionResult] = Field(default_factory=list)
    reverted: list[ActionResult] = Field(default_factory=list)   # earlier writes undone after a later one failed


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
