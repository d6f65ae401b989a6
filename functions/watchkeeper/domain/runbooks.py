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
from ..models.catalog import Platform, Service, ServiceCatalog, ServiceKind
from ..models.diagnosis import RootCause, RootCauseKind
from ..models.evidence import ChangeEvent, Evidence
from ..models.incident import Incident
from ..models.remediation import WRITE_ACTIONS, Action, ActionType, RemediationPlan
from .guardrails import GuardrailPolicy

# Root causes whose fix belongs to people: a runbook for them may page, never write.
HANDS_OFF: frozenset[str] = frozenset({"dependency_failure", "security_event", "unknown"})
# Writes whose before-state cannot be put back (a deleted pod, deleted files).
IRREVERSIBLE: frozenset[str] = frozenset({"restart_pods", "free_disk_space"})
# Writes whose before-state is the diagnosed culprit: putting it back would redeploy the culprit.
RESTORES_CULPRIT: frozenset[str] = frozenset({"rollback_deployment", "revert_config"})

# What the executors can really do, action x platform: the planner never plans, the preview never
# shows and the executors never run a pair outside this table; `runbooks validate` reports it.
PLATFORMS: tuple[str, ...] = ("eks", "ecs", "lambda", "ec2", "rds")
CAPABILITIES: dict[str, dict[str, str]] = {
    "rollback_deployment": {
        "eks": "PATCH the Deployment's pod template back to the ReplicaSet revision before the culprit deploy",
        "ecs": "ecs:UpdateService to the task definition the service ran before the culprit deployment",
        "lambda": "lambda:UpdateAlias back to the version the alias pointed at before the culprit publish",
        "ec2": "codedeploy:CreateDeployment of the revision live before the culprit CodeDeploy deployment, to its "
               "application and deployment group, then its final status",
    },
    "scale_service": {
        "eks": "PATCH deployments/scale (and the HPA's minReplicas; its maximum is respected)",
        "ecs": "ecs:UpdateService desiredCount",
        "ec2": "autoscaling:SetDesiredCapacity (the group's MaxSize is respected)",
    },
    "restart_pods": {
        "eks": "DELETE the chosen pods one at a time (uid precondition); the ReplicaSet replaces them",
        "ecs": "ecs:StopTask on the chosen tasks one at a time; the service replaces them",
    },
    "increase_memory_limit": {
        "eks": "PATCH the container's memory limit (a new revision rolls out)",
    },
    "free_disk_space": {
        "ec2": "ssm:SendCommand AWS-RunShellScript (fixed clean-up script) on the instances tagged Service=<name>, "
               "then its final status",
    },
    "revert_config": {p: "ssm:PutParameter of the version before the culprit change, or appconfig:StartDeployment "
                         "of the configuration version deployed before it (StopDeployment while it still rolls out)"
                      for p in PLATFORMS},
    "capture_diagnostics": {"eks": "GET the Deployment, its ReplicaSets and pods (read-only)"},
}
CONFIG_CHANGE_SOURCES: frozenset[str] = frozenset({"ssm", "appconfig"})
# Rollbacks that need the culprit change to come from one deploy system: (action, platform) -> sources.
ROLLBACK_CHANGE_SOURCES: dict[str, frozenset[str]] = {"ec2": frozenset({"codedeploy"})}


def capability(action: str, platform: str | None, change: ChangeEvent | dict | None = None) -> tuple[bool, str]:
    """Can `action` run on `platform`? (True, how) or (False, why not). `page_human` always can."""
    if action == "page_human":
        return True, "page on-call"
    how = CAPABILITIES.get(action, {}).get(platform or "")
    if how is None:
        return False, f"{action} is not supported on {platform or 'an unknown platform'}"
    if action == "revert_config" and change is not None:
        source = change.get("source") if isinstance(change, dict) else change.source
        if source not in CONFIG_CHANGE_SOURCES:
            return False, (f"revert_config can undo SSM Parameter Store and AppConfig changes, not a "
                           f"{source or 'untyped'} change")
    sources = ROLLBACK_CHANGE_SOURCES.get(platform or "") if action == "rollback_deployment" else None
    if sources and change is not None:
        source = change.get("source") if isinstance(change, dict) else change.source
        if source not in sources:
            return False, (f"rollback_deployment on {platform} rolls back {' and '.join(sorted(sources))} "
                           f"deployments, not a {source or 'untyped'} change")
    return True, how


def platform_of(target: str) -> str:
    return target.split("/", 1)[0]


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
    confidence: float = 0.0               # the diagnosis' confidence as checked here (0 when it could not be)
    text: str = ""                        # alert titles, error templates and the diagnosis summary, for patterns
    supported: bool = True                # False: the hypotheses do not back the named cause; plan as unknown
    doubt: str = ""                       # why the confidence was lowered or the cause not trusted
    culprit_change: ChangeEvent | None = None   # the change the diagnosis blames, from the evidence


# The analyzer's abstention rules, applied again to whatever named the cause (the model included):
# the named hypothesis must score at least this, and this far ahead of any other.
ABSTAIN_BELOW = 0.45
MIN_MARGIN = 0.08


def checked_confidence(cause: RootCause, evidence: Evidence | None = None) -> tuple[float, bool, str]:
    """(confidence, supported, doubt): the confidence planning may rely on.

    `unknown` is never supported. A cause the scored hypotheses do not back (below the
    abstention line, or not clearly ahead of another) is not supported either, whoever named
    it; without hypotheses the confidence cannot be checked and counts as 0 (approval needed).
    A culprit that is not a change in the evidence is not trusted.
    """
    if cause.kind == "unknown":
        return 0.0, False, "the diagnosis abstained (unknown)"
    confidence = cause.confidence if 0.0 <= cause.confidence <= 1.0 else 0.0
    if not cause.hypotheses:
        return 0.0, True, "no scored hypotheses to check the confidence against"
    own = [h for h in cause.hypotheses if h.kind == cause.kind and (h.culprit == cause.culprit or not cause.culprit)]
    if not own:
        return 0.0, False, f"no scored hypothesis supports {cause.kind} {cause.culprit or ''}".rstrip()
    support = max(h.score for h in own)
    others = [h.score for h in cause.hypotheses if h not in own and h.kind != "unknown"]
    runner_up = max(others, default=0.0)
    if support < ABSTAIN_BELOW:
        return 0.0, False, f"{cause.kind} scores {support:.2f}, below the abstention line {ABSTAIN_BELOW}"
    if runner_up > support or (support - runner_up < MIN_MARGIN and support < 1.0):
        return 0.0, False, (f"{cause.kind} ({support:.2f}) is not clearly ahead of another hypothesis "
                            f"({runner_up:.2f}): the margin rule abstains")
    if evidence is not None and cause.kind in ("bad_deploy", "config_change"):
        if cause.culprit not in {c.id for c in evidence.changes}:
            return 0.0, True, f"the culprit {cause.culprit} is not a change in the evidence"
    return confidence, True, ""


def facts_of(cause: RootCause, incident: Incident, evidence: Evidence | None,
             recent: timedelta = timedelta(minutes=60)) -> Facts:
    texts = [a.title for a in incident.alerts] + [cause.summary]
    recent_deploy = error_spike = culprit_is_deploy = False
    culprit_change = None
    confidence, supported, doubt = checked_confidence(cause, evidence)
    if evidence is not None:
        culprit_change = next((c for c in evidence.changes if c.id == cause.culprit), None)
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
                 confidence=confidence, text="\n".join(t for t in texts if t), supported=supported, doubt=doubt,
                 culprit_change=culprit_change)


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
         *, dry_run: bool = False, policy: GuardrailPolicy | None = None, facts: Facts | None = None,
         catalog: ServiceCatalog | None = None) -> RemediationPlan:
    """Turn the selected runbook into concrete actions on the incident's workload.

    The decision follows the service's autonomy level: observe plans and dry-runs without
    asking anyone; advise pages with the proposal; act_with_approval asks before every
    write; act_on_known_runbooks lets an autonomous runbook's writes run unless the policy
    always wants approval for that action, or the checked confidence is below the policy's
    floor. A write the platform cannot do (the capability table) is never planned; a
    diagnosis the hypotheses do not back is planned as `unknown` (no writes). Rollbacks and
    config reverts carry the culprit change from the evidence: their target is the state
    before it, and a rollback goes to the workload whose deploy is the culprit.
    """
    policy = policy or GuardrailPolicy()
    facts = facts or facts_of(cause, incident, None)
    dry_run = dry_run or policy.dry_run
    if runbook is None:
        why = f"no runbook handles {cause.kind}" + (f" ({facts.doubt})" if facts.doubt and not facts.supported else "")
        return RemediationPlan(decision="escalate", dry_run=dry_run, reason=why, autonomy=policy.autonomy,
                               actions=[_page(incident, "no runbook applies")])
    autonomy = policy.autonomy_for(runbook.name)
    steps, decided_by = runbook.steps_for(facts, service)
    notes: list[str] = []
    if cause.kind in HANDS_OFF or not facts.supported:     # whatever a runbook says, these never write
        why = (f"{cause.kind}: a human must decide" if facts.supported else
               f"the diagnosis {cause.kind} is not backed by the evidence ({facts.doubt}): a human must decide")
        if not facts.supported:
            notes.append(why)
        steps = [s for s in steps if s.action not in WRITE_ACTIONS] or [Step(action="page_human", reason=why)]
    low_confidence = facts.confidence < policy.confidence_floor
    actions: list[Action] = []
    for step in steps:
        params = dict(step.params)
        workload = service
        if step.action in RESTORES_CULPRIT and cause.culprit:
            params.setdefault("change_id", cause.culprit)
            change = facts.culprit_change
            if change is not None:
                params.setdefault("change", change.model_dump(mode="json"))
                owner = catalog.get(change.service) if catalog is not None else None
                if step.action == "rollback_deployment" and owner is not None and change.service != incident.service:
                    workload = owner          # roll back the service whose deploy is the culprit
        if step.action != "page_human":
            ok, why = capability(step.action, workload.platform if workload else None, params.get("change"))
            if not ok:
                notes.append(f"{step.action} is not planned: {why}")
                continue
        write = step.action in WRITE_ACTIONS
        approval = step.approval or runbook.approval.default
        if not write:
            needs = False
        elif low_confidence and autonomy in ("act_with_approval", "act_on_known_runbooks"):
            needs = True                     # observe and advise never write at all
        elif autonomy == "act_on_known_runbooks":
            needs = approval == "required" or not runbook.approval.autonomous or step.action in policy.always_approve
        else:
            needs = autonomy == "act_with_approval"
        target = incident.service if step.action == "page_human" else (workload.target if workload else incident.service)
        actions.append(Action(id=f"a{len(actions) + 1}", type=step.action, target=target, params=params,
                              requires_approval=needs, reason=step.reason or runbook.title,
                              revert=step.revert_mode if write else "none"))
    writes = [a for a in actions if a.is_write]
    reason = runbook.title + (f" (decision: {decided_by})" if decided_by else "")
    if notes:
        reason += "; " + "; ".join(notes)
    if not writes:
        decision = "escalate"
        if not any(a.type == "page_human" for a in actions):
            actions.append(_page(incident, "; ".join(notes) or "the runbook hands this incident to a human",
                                 f"a{len(actions) + 1}"))
        if notes:
            reason = f"{runbook.title}: " + "; ".join(notes)
    elif autonomy == "observe":
        decision, dry_run = "execute", True
        reason = f"observe mode: {reason}; planned and dry-run only"
    elif autonomy == "advise":
        decision = "escalate"
        reason = (f"advise mode: Watchkeeper proposes {', '.join(f'{a.type} on {a.target}' for a in writes)} "
                  f"({runbook.name}); a human decides and acts")
    elif any(a.requires_approval for a in writes):
        decision = "approve"
        if low_confidence and autonomy == "act_on_known_runbooks":
            reason += (f"; confidence {facts.confidence:.2f} is below the floor {policy.confidence_floor:.2f}"
                       + (f" ({facts.doubt})" if facts.doubt else "") + ": every write needs approval")
    else:
        decision = "execute"
    verify = runbook.verify.model_dump()
    return RemediationPlan(runbook=runbook.name, decision=decision, actions=actions, dry_run=dry_run,
                           reason=reason, verify=verify, autonomy=autonomy, decided_by=decided_by)


def _page(incident: Incident, reason: str, action_id: str = "a1") -> Action:
    return Action(id=action_id, type="page_human", target=incident.service, requires_approval=False, reason=reason)


def unsupported_steps(runbook: Runbook) -> list[str]:
    """Problems `runbooks validate` reports: a write step that cannot run on a platform the runbook
    (or its decision) is explicitly for."""
    problems = []
    for where, steps, platforms in [("steps", runbook.steps, runbook.trigger.platforms)] + [
            (f"decisions.{d.name}", d.steps, d.when.platforms or runbook.trigger.platforms) for d in runbook.decisions]:
        for step in steps:
            if step.action == "page_human":
                continue
            for platform in platforms:
                ok, why = capability(step.action, platform)
                if not ok:
                    problems.append(f"{runbook.name}: {where}: {why}")
    return problems


def coverage(runbook: Runbook) -> dict[str, list[str]]:
    """For each write of the runbook, the platforms it can run on (the rest page a human instead)."""
    return {s.action: [p for p in PLATFORMS if capability(s.action, p)[0]]
            for s in runbook.all_steps() if s.action in WRITE_ACTIONS}
