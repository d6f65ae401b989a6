"""Runbooks are data: YAML validated against a schema, loaded by one loader.

An action in a runbook names a registered action type with typed parameters; no runbook
can run arbitrary code, and the language model can only rank what a runbook offers.
A runbook has a trigger, default steps, decisions that pick other steps when their
condition holds ("a recent deploy and an error spike -> roll back"), an approval policy,
a verification spec and, per write, how it is reverted when the service does not recover.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from ..models.alerts import Category
from ..models.base import StrictConfig
from ..models.catalog import Platform, Service, ServiceKind
from ..models.diagnosis import RootCause, RootCauseKind
from ..models.evidence import Evidence
from ..models.incident import Incident
from ..models.remediation import WRITE_ACTIONS, Action, ActionType, RemediationPlan
from .guardrails import GuardrailPolicy

# Root causes whose fix belongs to people: a runbook for them may page, never write.
HANDS_OFF: frozenset[str] = frozenset({"dependency_failure", "security_event", "unknown"})
# Writes whose before-state cannot be put back (a deleted pod, deleted files).
IRREVERSIBLE: frozenset[str] = frozenset({"restart_pods", "free_disk_space"})


class RunbookError(ValueError):
    """A runbook file that does not fit the schema: names the file, line and field."""


def _regexes(patterns: list[str]) -> list[str]:
    for p in patterns:
        try:
            re.compile(p)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression {p!r}: {exc}") from None
    return patterns


@dataclass(frozen=True)
class Facts:
    """What decisions and error-pattern triggers look at, computed once per plan."""

    recent_deploy: bool = False           # a deploy of the service within the window before the onset
    error_spike: bool = False             # an error metric rose, or error log templates are new since the onset
    culprit_is_deploy: bool = False       # the diagnosis names a deploy as the culprit
    confidence: float = 0.0
    text: str = ""                        # alert titles, error templates and the diagnosis summary, for patterns


def facts_of(cause: RootCause, incident: Incident, evidence: Evidence | None,
             recent: timedelta = timedelta(minutes=60)) -> Facts:
    texts = [a.title for a in incident.alerts] + [cause.summary]
    recent_deploy = error_spike = culprit_is_deploy = False
    if evidence is not None:
        onset = evidence.onset or incident.opened_at
        deploys = [c for c in evidence.changes if c.kind == "deploy" and c.service == incident.service]
        recent_deploy = any(onset - recent <= c.at <= onset + timedelta(minutes=5) for c in deploys)
        culprit_is_deploy = any(c.id == cause.culprit for c in deploys)
        errors = [t for t in evidence.templates if t.service == incident.service
                  and t.level in ("error", "fatal", "critical")]
        texts += [t.template for t in errors]
        error_spike = any(t.after_onset > 0 and t.before_onset == 0 for t in errors) or any(
            m.service == incident.service and re.search(r"5xx|error|fault|exception", m.name, re.I)
            and m.shape in ("step", "spike", "ramp") and m.change_ratio >= 2 for m in evidence.metrics)
    return Facts(recent_deploy=recent_deploy, error_spike=error_spike, culprit_is_deploy=culprit_is_deploy,
                 confidence=cause.confidence, text="\n".join(t for t in texts if t))


class Trigger(StrictConfig):
    root_causes: list[RootCauseKind] = Field(default_factory=list)
    categories: list[Category] = Field(default_factory=list)
    platforms: list[Platform] = Field(default_factory=list)
    service_kinds: list[ServiceKind] = Field(default_factory=list)
    error_patterns: list[str] = Field(default_factory=list)   # regexes; one must match an alert or error template

    @field_validator("error_patterns")
    @classmethod
    def _check_patterns(cls, v: list[str]) -> list[str]:
        return _regexes(v)

    def matches(self, cause: RootCause, incident: Incident, service: Service | None, facts: Facts | None = None) -> bool:
        if self.root_causes and cause.kind not in self.root_causes:
            return False
        if self.categories and incident.category not in self.categories:
            return False
        if self.platforms and (service is None or service.platform not in self.platforms):
            return False
        if self.service_kinds and (service is None or service.kind not in self.service_kinds):
            return False
        if self.error_patterns:
            text = facts.text if facts else "\n".join([a.title for a in incident.alerts] + [cause.summary])
            if not any(re.search(p, text, re.I) for p in self.error_patterns):
                return False
        return True

    @property
    def specificity(self) -> int:
        return sum(bool(x) for x in (self.root_causes, self.categories, self.platforms, self.service_kinds,
                                     self.error_patterns))


class Step(StrictConfig):
    action: ActionType
    params: dict[str, Any] = Field(default_factory=dict)
    approval: Literal["required", "auto"] | None = None      # None: the runbook's approval policy decides
    reason: str = ""
    revert: Literal["restore_before", "none"] | None = None  # None: restore_before where the write can be undone

    @model_validator(mode="after")
    def _revert_fits_the_action(self) -> "Step":
        if self.action not in WRITE_ACTIONS:
            if self.revert == "restore_before":
                raise ValueError(f"{self.action} writes nothing, so there is nothing to revert")
            return self
        if self.revert == "restore_before" and self.action in IRREVERSIBLE:
            raise ValueError(f"{self.action} cannot be reverted (its before-state cannot be restored); use revert: none")
        return self

    @property
    def revert_mode(self) -> str:
        if self.revert is not None:
            return self.revert
        return "restore_before" if self.action in WRITE_ACTIONS and self.action not in IRREVERSIBLE else "none"


class Condition(StrictConfig):
    """Every field that is set must hold."""

    recent_deploy: bool | None = None
    error_spike: bool | None = None
    culprit_is_deploy: bool | None = None
    min_confidence: float | None = Field(default=None, ge=0, le=1)
    platforms: list[Platform] = Field(default_factory=list)
    error_patterns: list[str] = Field(default_factory=list)

    @field_validator("error_patterns")
    @classmethod
    def _check_patterns(cls, v: list[str]) -> list[str]:
        return _regexes(v)

    def holds(self, facts: Facts, service: Service | None) -> bool:
        for name in ("recent_deploy", "error_spike", "culprit_is_deploy"):
            want = getattr(self, name)
            if want is not None and getattr(facts, name) != want:
                return False
        if self.min_confidence is not None and facts.confidence < self.min_confidence:
            return False
        if self.platforms and (service is None or service.platform not in self.platforms):
            return False
        if self.error_patterns and not any(re.search(p, facts.text, re.I) for p in self.error_patterns):
            return False
        return True


class Decision(StrictConfig):
    name: str
    when: Condition
    steps: list[Step] = Field(min_length=1)


class ApprovalPolicy(StrictConfig):
    default: Literal["required", "auto"] = "required"    # for steps that do not say
    autonomous: bool = False        # a known, safe runbook: may run without approval at act_on_known_runbooks


class Verify(StrictConfig):
    within_minutes: int = Field(default=10, ge=1, le=120)
    alarms: Literal["incident", "none"] = "incident"
    metrics: list[str] = Field(default_factory=list)
    on_failure: Literal["revert_and_escalate", "escalate"] = "revert_and_escalate"


class Runbook(StrictConfig):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str
    description: str = ""
    trigger: Trigger
    steps: list[Step] = Field(min_length=1)
    decisions: list[Decision] = Field(default_factory=list)
    approval: ApprovalPolicy = Field(default_factory=ApprovalPolicy)
    verify: Verify = Field(default_factory=Verify)

    @model_validator(mode="after")
    def _hands_off_causes_never_write(self) -> "Runbook":
        causes = set(self.trigger.root_causes)
        if causes and causes <= HANDS_OFF:
            for step in self.all_steps():
                if step.action in WRITE_ACTIONS:
                    raise ValueError(f"a runbook for {', '.join(sorted(causes))} must not write ({step.action})")
        return self

    def all_steps(self) -> list[Step]:
        return list(self.steps) + [s for d in self.decisions for s in d.steps]

    def steps_for(self, facts: Facts, service: Service | None) -> tuple[list[Step], str | None]:
        for decision in self.decisions:
            if decision.when.holds(facts, service):
                return decision.steps, decision.name
        return self.steps, None


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
    """Every runbook of the directory; all files' problems are reported together."""
    directory = directory or default_dir()
    books, problems = [], []
    for p in sorted(directory.glob("*.yaml")):
        try:
            books.append(load_runbook(p))
        except RunbookError as exc:
            problems.append(str(exc))
    if problems:
        raise RunbookError("\n".join(problems))
    names = [b.name for b in books]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise RunbookError(f"{directory}: runbook names must be unique: {sorted(duplicates)}")
    return books


def select(runbooks: list[Runbook], cause: RootCause, incident: Incident, service: Service | None,
           facts: Facts | None = None) -> Runbook | None:
    """The most specific runbook whose trigger matches (file order breaks ties)."""
    matching = [r for r in runbooks if r.trigger.matches(cause, incident, service, facts)]
    return max(matching, key=lambda r: r.trigger.specificity, default=None)


def plan(runbook: Runbook | None, cause: RootCause, incident: Incident, service: Service | None,
         *, dry_run: bool = False, policy: GuardrailPolicy | None = None, facts: Facts | None = None) -> RemediationPlan:
    """Turn the selected runbook into concrete actions on the incident's workload.

    The decision follows the service's autonomy level: observe plans and dry-runs without
    asking anyone; advise pages with the proposal; act_with_approval asks before every
    write; act_on_known_runbooks lets an autonomous runbook's writes run unless the policy
    always wants approval for that action.
    """
    policy = policy or GuardrailPolicy()
    facts = facts or facts_of(cause, incident, None)
    dry_run = dry_run or policy.dry_run
    if runbook is None:
        return RemediationPlan(decision="escalate", dry_run=dry_run, reason=f"no runbook handles {cause.kind}",
                               autonomy=policy.autonomy,
                               actions=[Action(id="a1", type="page_human", target=incident.service,
                                               requires_approval=False, reason="no runbook applies")])
    autonomy = policy.autonomy_for(runbook.name)
    steps, decided_by = runbook.steps_for(facts, service)
    if cause.kind in HANDS_OFF:     # belt and braces: whatever a runbook says, these never write
        steps = [s for s in steps if s.action not in WRITE_ACTIONS] or [
            Step(action="page_human", reason=f"{cause.kind}: a human must decide")]
    target = service.target if service else incident.service
    actions = []
    for i, step in enumerate(steps, start=1):
        params = dict(step.params)
        if step.action in ("rollback_deployment", "revert_config") and cause.culprit:
            params.setdefault("change_id", cause.culprit)
        write = step.action in WRITE_ACTIONS
        approval = step.approval or runbook.approval.default
        if not write:
            needs = False
        elif autonomy == "act_on_known_runbooks":
            needs = approval == "required" or not runbook.approval.autonomous or step.action in policy.always_approve
        else:
            needs = autonomy == "act_with_approval"
        actions.append(Action(id=f"a{i}", type=step.action, target=target if step.action != "page_human" else incident.service,
                              params=params, requires_approval=needs, reason=step.reason or runbook.title,
                              revert=step.revert_mode if write else "none"))
    writes = [a for a in actions if a.is_write]
    reason = runbook.title + (f" (decision: {decided_by})" if decided_by else "")
    if not writes:
        decision = "escalate"
    elif autonomy == "observe":
        decision, dry_run = "execute", True
        reason = f"observe mode: {reason}; planned and dry-run only"
    elif autonomy == "advise":
        decision = "escalate"
        reason = (f"advise mode: Watchkeeper proposes {', '.join(f'{a.type} on {a.target}' for a in writes)} "
                  f"({runbook.name}); a human decides and acts")
    elif any(a.requires_approval for a in writes):
        decision = "approve"
    else:
        decision = "execute"
    verify = runbook.verify.model_dump()
    return RemediationPlan(runbook=runbook.name, decision=decision, actions=actions, dry_run=dry_run,
                           reason=reason, verify=verify, autonomy=autonomy, decided_by=decided_by)
