"""Runbooks are data: YAML validated against a schema, loaded by one loader.

An action in a runbook names a registered action type with typed parameters; no runbook
can run arbitrary code, and the language model can only rank what a runbook offers.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError

from ..models.alerts import Category
from ..models.base import StrictConfig
from ..models.catalog import Platform, Service, ServiceKind
from ..models.diagnosis import RootCause, RootCauseKind
from ..models.incident import Incident
from ..models.remediation import Action, ActionType, RemediationPlan


class RunbookError(ValueError):
    """A runbook file that does not fit the schema: names the file, line and field."""


class Trigger(StrictConfig):
    root_causes: list[RootCauseKind] = Field(default_factory=list)
    categories: list[Category] = Field(default_factory=list)
    platforms: list[Platform] = Field(default_factory=list)
    service_kinds: list[ServiceKind] = Field(default_factory=list)

    def matches(self, cause: RootCause, incident: Incident, service: Service | None) -> bool:
        if self.root_causes and cause.kind not in self.root_causes:
            return False
        if self.categories and incident.category not in self.categories:
            return False
        if self.platforms and (service is None or service.platform not in self.platforms):
            return False
        if self.service_kinds and (service is None or service.kind not in self.service_kinds):
            return False
        return True

    @property
    def specificity(self) -> int:
        return sum(bool(x) for x in (self.root_causes, self.categories, self.platforms, self.service_kinds))


class Step(StrictConfig):
    action: ActionType
    params: dict[str, Any] = Field(default_factory=dict)
    approval: Literal["required", "auto"] = "required"
    reason: str = ""


class Verify(StrictConfig):
    within_minutes: int = Field(default=10, ge=1, le=120)
    alarms: Literal["incident", "none"] = "incident"
    metrics: list[str] = Field(default_factory=list)


class Runbook(StrictConfig):
    name: str
    title: str
    description: str = ""
    trigger: Trigger
    steps: list[Step] = Field(min_length=1)
    verify: Verify = Field(default_factory=Verify)


def default_dir() -> Path:
    env = os.environ.get("RUNBOOKS_DIR")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for candidate in (here.parents[3] / "runbooks", here.parents[2] / "runbooks"):  # the repo, then /var/task
        if candidate.is_dir():
            return candidate
    return Path("runbooks")


def load_runbook(path: Path) -> Runbook:
    text = path.read_text()
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RunbookError(f"{path}: not valid YAML: {exc}") from None
    try:
        return Runbook.model_validate(doc)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = [str(p) for p in err["loc"]]
            problems.append(f"{path}:{_line_of(text, err['loc'])}: {'.'.join(loc) or '(top)'}: {err['msg']}")
        raise RunbookError("\n".join(problems)) from None


def _line_of(text: str, loc: tuple[Any, ...]) -> int:
    """The line of the YAML node at `loc`, or of its nearest existing parent."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return 1
    line = 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = next((v for k, v in node.value if k.value == part), None)
            if nxt is None:
                key_node = node
                return key_node.start_mark.line + 1
            node = nxt
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            break
        line = node.start_mark.line + 1
    return line


def load_runbooks(directory: Path | None = None) -> list[Runbook]:
    directory = directory or default_dir()
    books = [load_runbook(p) for p in sorted(directory.glob("*.yaml"))]
    names = [b.name for b in books]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise RunbookError(f"{directory}: runbook names must be unique: {sorted(duplicates)}")
    return books


def select(runbooks: list[Runbook], cause: RootCause, incident: Incident, service: Service | None) -> Runbook | None:
    """The most specific runbook whose trigger matches."""
    matching = [r for r in runbooks if r.trigger.matches(cause, incident, service)]
    return max(matching, key=lambda r: r.trigger.specificity, default=None)


def plan(runbook: Runbook | None, cause: RootCause, incident: Incident, service: Service | None,
         *, dry_run: bool = False) -> RemediationPlan:
    """Turn the selected runbook into concrete actions on the incident's workload."""
    if runbook is None:
        return RemediationPlan(decision="escalate", dry_run=dry_run, reason=f"no runbook handles {cause.kind}",
                               actions=[Action(id="a1", type="page_human", target=incident.service,
                                               requires_approval=False, reason="no runbook applies")])
    target = service.target if service else incident.service
    actions = []
    for i, step in enumerate(runbook.steps, start=1):
        params = dict(step.params)
        if step.action in ("rollback_deployment", "revert_config") and cause.culprit:
            params.setdefault("change_id", cause.culprit)
        actions.append(Action(id=f"a{i}", type=step.action, target=target if step.action != "page_human" else incident.service,
                              params=params, requires_approval=step.approval == "required" and step.action != "page_human",
                              reason=step.reason or runbook.title))
    writes = [a for a in actions if a.is_write]
    if not writes:
        decision = "escalate"
    elif any(a.requires_approval for a in writes):
        decision = "approve"
    else:
        decision = "execute"
    return RemediationPlan(runbook=runbook.name, decision=decision, actions=actions, dry_run=dry_run,
                           reason=runbook.title, verify=runbook.verify.model_dump())
