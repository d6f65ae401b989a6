"""The deterministic analyzer: scores every root-cause kind from the evidence.

Each hypothesis collects points from independent signals (a change shortly before the
onset, log templates that are new since that change, the shape of the metrics, errors
that name a dependency, authentication-failure patterns, pods killed for memory) and
cites the evidence items behind every point. Metric and log wording differs from estate
to estate, so metrics are read by role (errors, load, latency, memory, disk, auth), found
from their names and units, never by exact name. The best hypothesis wins only when it is
strong and clearly ahead; otherwise the analyzer abstains with `unknown`, and the plan
pages a human. Confidence grows with the score, the margin over the runner-up and the
number of independent kinds of evidence that agree.
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import timedelta

from ..models import ChangeEvent, Evidence, EvidenceItem, Hypothesis, Incident, MetricSummary, RootCause, ServiceCatalog

ABSTAIN_BELOW = 0.45
MIN_MARGIN = 0.08

# metric roles, by name (and unit where names say little)
_MEMORY = re.compile(r"mem|heap|rss|oom|swap", re.I)
_REQUESTS = re.compile(r"request|\bqps\b|\brps\b|\btps\b|qps|rps|throughput|invocation|hits|calls|traffic|"
                       r"per_?min|per_?sec|connections?_?(count|rate)|networkin|"
                       r"concurren|ingress|received", re.I)
_LATENCY = re.compile(r"latency|duration|p9\d|p50|response_?time|elapsed|seconds|_ms\b|millis", re.I)
_CPU = re.compile(r"cpu", re.I)
_ERRORS = re.compile(r"5xx|5\d\d|error|fault|fail|exception|unhealthy", re.I)
_AUTH_METRIC = re.compile(r"4xx|401|403|unauthori|forbidden|auth\w*_?fail|login_?fail|logins?failed|denied|"
                          r"blocked|waf|credential", re.I)
_DISK = re.compile(r"disk|filesystem|storage|inode|volume|\bfs\b", re.I)
_RESTARTS = re.compile(r"restart", re.I)
# log wording
_AUTH_FAIL = re.compile(r"authenticat\w* fail|invalid credential|unauthori[sz]ed|\b401\b|forbidden|\b403\b|"
                        r"too many (login )?attempts|brute|blocked by waf|invalid token|signature|login fail|"
                        r"bad_password|wrong password|unknown_user|rate limit", re.I)
_MEMORY_LOG = re.compile(r"heap|memory|\brss\b|oom|out of memory|gc overhead|allocation fail|memory pressure", re.I)
_DISK_LOG = re.compile(r"no space left|disk (is )?full|enospc|errno 28|disk usage|filesystem .* full|quota exceeded|"
                       r"could not extend file|is full", re.I)
_DEPENDENCY_ERROR = re.compile(r"fail|error|timed? ?out|timeout|refused|unavailable|5\d\d|reset|unreachable|retry|"
                               r"circuit|exception|fatal|reject|not available", re.I)


@dataclass
class _Score:
    kind: str
    culprit: str | None = None
    points: float = 0.0
    evidence: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    families: set[str] = field(default_factory=set)     # independent kinds of support: change, logs, metrics, ...

    def add(self, points: float, reason: str, items: Iterable[EvidenceItem] = (), family: str | None = None) -> None:
        self.points += points
        self.reasons.append(reason)
        if family and points > 0:
            self.families.add(family)
        for item in items:
            if item.id not in self.evidence:
                self.evidence.append(item.id)

    def penalize(self, points: float, reason: str) -> None:
        self.points -= points
        self.reasons.append(reason)


class DeterministicAnalyzer:
    """The embedded default: no model, same answer for the same evidence."""

    name = "deterministic"

    def __init__(self, catalog: ServiceCatalog):
        self._catalog = catalog

    def diagnose(self, incident: Incident, evidence: Evidence) -> RootCause:
        scores = [s for s in self._score(incident, evidence) if s.points > 0]
        scores.sort(key=lambda s: -s.points)
        hypotheses = [Hypothesis(kind=s.kind, culprit=s.culprit, score=round(min(s.points, 1.0), 3),
                                 evidence=s.evidence, reasons=s.reasons) for s in scores[:5]]
        best = scores[0] if scores else None
        runner_up = scores[1].points if len(scores) > 1 else 0.0
        if best is None or best.points < ABSTAIN_BELOW or best.points - runner_up < MIN_MARGIN:
            evidence_ids = best.evidence if best else [i.id for i in evidence.items if i.type == "alert"][:3]
            return RootCause(kind="unknown", culprit=None, confidence=_abstain_confidence(best, runner_up),
                             summary=_abstain_summary(incident, best, runner_up), evidence=evidence_ids,
                             hypotheses=hypotheses)
        return RootCause(kind=best.kind, culprit=best.culprit, confidence=_confidence(best, runner_up),
                         summary=_summary(incident, best), evidence=best.evidence, hypotheses=hypotheses)

    # --- scoring -----------------------------------------------------------------------
    def _score(self, incident: Incident, ev: Evidence) -> list[_Score]:
        items = ev.items
        service = incident.service
        own_metric_items = {i.ref: i for i in items if i.type == "metric" and i.service == service}
        summaries = {f"{m.namespace}/{m.name}": m for m in ev.metrics if m.service == service}
        templates = [i for i in items if i.type == "log_template"]
        own_templates = [i for i in templates if i.service == service]
        alerts = [i for i in items if i.type == "alert"]
        own_alerts = [a for a in alerts if a.service == service]
        cluster = [i for i in items if i.type == "cluster" and i.service == service]
        changes = {c.id: c for c in ev.changes}
        scores: list[_Score] = []

        def moved(pattern: re.Pattern[str], shapes: tuple[str, ...] = ("step", "ramp", "spike"), min_ratio: float = 0.0,
                  exclude: re.Pattern[str] | None = None) -> list[tuple[EvidenceItem, MetricSummary]]:
            out = []
            for ref, item in own_metric_items.items():
                m = summaries.get(ref)
                if m is None or not pattern.search(m.name) or (exclude is not None and exclude.search(m.name)):
                    continue
                if m.shape in shapes and (m.change_ratio >= min_ratio if m.shape != "drop" else True):
                    out.append((item, m))
            return out

        latency_metrics = moved(_LATENCY, min_ratio=1.3)
        cpu_metrics = moved(_CPU, min_ratio=1.3)
        not_load = re.compile(f"{_AUTH_METRIC.pattern}|{_ERRORS.pattern}|{_LATENCY.pattern}", re.I)
        load_metrics = moved(_REQUESTS, shapes=("step", "ramp", "spike"), min_ratio=1.5, exclude=not_load)
        bursting = [t for t in own_templates if "burst" in t.signals]

        # security event --------------------------------------------------------------
        sec = _Score("security_event")
        security_alerts = [a for a in alerts if "security" in a.signals]
        deliveries = max(incident.deliveries, 1)
        share = sum(a.count for a in incident.alerts if a.category == "security") / deliveries
        if share >= 0.5:
            sec.add(0.45, "most alerts are security alerts", security_alerts, "alerts")
        elif security_alerts:
            sec.add(0.2, "a security alert fired", security_alerts, "alerts")
        auth_metrics = moved(_AUTH_METRIC, min_ratio=2.0)
        if auth_metrics:
            sec.add(0.2, "blocked requests / authentication failures / 4xx climbed", [i for i, _ in auth_metrics],
                    "metrics")
        auth = [t for t in bursting if _AUTH_FAIL.search(t.detail)]
        if auth:
            sec.add(0.25, "authentication failures surged in the logs", auth, "logs")
        scores.append(sec)
        security_strong = sec.points >= 0.6

        # dependencies: declared, alerting with us, or named by our bursting errors
        info = self._catalog.get(service)
        declared = [*incident.suspects, *(info.depends_on if info else [])]
        named_in_errors = [o.name for o in self._catalog.services if o.name != service and o.name not in declared
                           and any(_names_any(t.detail, self._names_of(o.name)) and _DEPENDENCY_ERROR.search(t.detail)
                                   for t in bursting)]
        dependencies = list(dict.fromkeys([*declared, *named_in_errors]))
        failing_deps = [d for d in dependencies
                        if any(a.service == d for a in alerts) or any(i.type == "metric" and i.service == d for i in items)]
        failing_names = [n for d in failing_deps for n in self._names_of(d)]

        # changes: bad deploys and config changes ------------------------------------------
        onset = ev.onset
        own_changes = [i for i in items if i.type == "change" and i.service == service
                       and i.ref in changes and changes[i.ref].kind in ("deploy", "config")]
        memory_ramps = moved(_MEMORY, shapes=("ramp", "step"), min_ratio=1.15)
        if onset is not None:
            for change_item in own_changes:
                change = changes[change_item.ref]
                lead = (onset - change.at).total_seconds() / 60
                if lead < -10 or lead > 360:
                    continue
                s = _Score("bad_deploy" if change.kind == "deploy" else "config_change", culprit=change.id)
                s.add(_timing_points(lead), f"{change.kind} {change.id} {max(lead, 0):.0f} min before the onset",
                      [change_item], "change")
                new = [t for t in templates if t.service == service and f"new_since:{change.id}" in t.signals
                       and "recurring" not in t.signals  # around for days: the change did not bring it
                       and ("burst" in t.signals or "new" in t.signals) and not _names_any(t.detail, failing_names)]
                if new:
                    s.add(0.35, "error log templates that did not exist before the change", new, "logs")
                if change.kind == "config":
                    named = [t for t in own_templates if _names_setting(t.detail, change)]
                    if named:
                        s.add(0.2, "errors name the changed setting", named, "logs")
                following = [i for i in own_metric_items.values()
                             if i.at and timedelta(minutes=-5) <= i.at - change.at <= timedelta(minutes=45)]
                if following:
                    s.add(0.15, "metrics started to deviate after the change", following, "metrics")
                if security_strong:
                    s.penalize(0.45, "but the failures look like an attack, not a defect")
                later = [c for c in own_changes if changes[c.ref].at > change.at and changes[c.ref].at <= onset
                         + timedelta(minutes=5)]
                if later:
                    s.penalize(0.1 * len(later), "a later change is closer to the onset")
                scores.append(s)

        # memory leak ---------------------------------------------------------------------
        mem = _Score("memory_leak")
        if memory_ramps:
            mem.add(0.5, "memory climbs steadily", [i for i, _ in memory_ramps], "metrics")
        oom = [c for c in cluster if any(s in ("terminated:OOMKilled",) for s in c.signals)]
        if oom:
            mem.add(0.5, "pods were OOMKilled and restarted", oom, "cluster")
        restart_metrics = moved(_RESTARTS, shapes=("step", "ramp", "spike"))
        if restart_metrics and mem.points:
            mem.add(0.05, "container restarts climb", [i for i, _ in restart_metrics], "metrics")
        if mem.points:
            mem_logs = [t for t in own_templates if _MEMORY_LOG.search(t.detail)]
            if mem_logs:
                mem.add(0.15, "memory warnings in the logs", mem_logs, "logs")
            oom_alerts = [a for a in own_alerts if re.search(r"oom|memory|heap", a.detail, re.I)]
            if oom_alerts:
                mem.add(0.1, "the alerts are about memory", oom_alerts, "alerts")
            mem_onset = min((i.at for i, _ in memory_ramps if i.at), default=None)
            if mem_onset is not None:
                recent = [changes[c.ref] for c in own_changes if changes[c.ref].kind == "deploy"
                          and timedelta(minutes=-10) <= mem_onset - changes[c.ref].at <= timedelta(minutes=60)]
                if recent:
                    mem.penalize(0.4, f"but the climb began right after {recent[-1].id}")
        scores.append(mem)

        # traffic surge -------------------------------------------------------------------
        surge = _Score("traffic_surge")
        if load_metrics:
            surge.add(0.5, "request volume rose well above its baseline", [i for i, _ in load_metrics], "metrics")
            strain = latency_metrics + cpu_metrics
            if strain:
                surge.add(0.15, "latency / CPU rose with it", [i for i, _ in strain], "saturation")
            if security_strong:
                surge.penalize(0.45, "but the traffic looks hostile")
        scores.append(surge)

        # dependency failure --------------------------------------------------------------
        for dep in dependencies:
            s = _Score("dependency_failure", culprit=dep)
            names = self._names_of(dep)
            dep_alerts = [a for a in alerts if a.service == dep]
            if dep_alerts:
                s.add(0.35, f"{dep} alerted in the same window", dep_alerts, "alerts")
            naming = [t for t in own_templates if ("burst" in t.signals or "new" in t.signals)
                      and _names_any(t.detail, names) and _DEPENDENCY_ERROR.search(t.detail)]
            if naming:
                s.add(0.4, f"errors calling {dep} surged", naming, "logs")
                if sum(_count(t) for t in naming) >= 30 or len(naming) >= 2:
                    s.add(0.1, f"many errors name {dep}", [], "logs")
            dep_metrics = [i for i in items if i.type == "metric" and i.service == dep]
            if dep_metrics and s.points:
                s.add(0.1, f"{dep}'s own metrics deviate", dep_metrics, "dependency")
            dep_logs = [t for t in templates if t.service == dep and "burst" in t.signals]
            if dep_logs and s.points:
                s.add(0.05, f"{dep}'s own logs show errors", dep_logs[:3], "dependency")
            if s.points and not naming and not dep_metrics and not dep_logs:
                s.penalize(0.1, f"nothing but its alert ties {dep} to the symptoms")
            scores.append(s)

        # disk full -----------------------------------------------------------------------
        disk = _Score("disk_full")
        disk_logs = [t for t in templates if t.service == service and _DISK_LOG.search(t.detail)]
        if disk_logs:
            disk.add(0.5, "the logs say the disk is full", disk_logs, "logs")
        disk_metrics = moved(_DISK, shapes=("ramp", "step", "spike", "drop"))
        if disk_metrics:
            disk.add(0.35, "disk usage / free space moved sharply", [i for i, _ in disk_metrics], "metrics")
        disk_alerts = [a for a in own_alerts if re.search(r"disk|storage|filesystem|volume|inode", a.detail, re.I)]
        if disk_alerts and disk.points:
            disk.add(0.15, "the alerts are about disk space", disk_alerts, "alerts")
        scores.append(disk)

        return scores

    def _names_of(self, service: str) -> list[str]:
        info = self._catalog.get(service)
        names = [service, *(info.aliases if info else [])]
        if info and info.workload:
            names.append(info.workload)
        out = []
        for n in names:
            out += [n, n.replace("-", "_"), n.replace("-", "")]
        return [n for n in dict.fromkeys(out) if len(n) >= 3]


def _timing_points(lead_minutes: float) -> float:
    """A change just before the onset is suspect; one hours before is barely so."""
    if lead_minutes <= 30:
        return 0.35
    return 0.35 * math.exp(-(lead_minutes - 30) / 40)


def _count(item: EvidenceItem) -> int:
    m = re.search(r"\" x(\d+) ", item.detail)
    return int(m.group(1)) if m else 0


def _names_any(text: str, names: list[str]) -> bool:
    return any(_name_pattern(n).search(text) for n in names)


@lru_cache(maxsize=4096)
def _name_pattern(name: str) -> re.Pattern[str]:
    """A service name as a whole word (compiled once: an estate has more names than re's cache holds)."""
    return re.compile(r"(?<![\w-])" + re.escape(name) + r"(?![\w-])", re.I)


_SETTING = re.compile(r"(?:parameter\s+)?(/[\w.\-/]+|[A-Za-z][\w.\-]*[._][\w.\-]+)")


def _names_setting(text: str, change: ChangeEvent) -> bool:
    """Do the errors mention the key the change touched (a parameter name, a dotted setting)?"""
    keys = set()
    for m in _SETTING.finditer(change.description):
        key = m.group(1).rstrip(":.")
        keys.add(key.rsplit("/", 1)[-1])
    keys = {k for k in keys if len(k) >= 6 and not re.fullmatch(r"v?\d+(\.\d+)*", k)}
    return any(re.search(r"(?<![\w.\-])" + re.escape(k) + r"(?![\w\-])", text, re.I) for k in keys)


def _confidence(best: _Score, runner_up: float) -> float:
    """How likely the named cause is right: strength, margin and independent corroboration."""
    strength = min(best.points, 1.0)
    margin = max(best.points - runner_up, 0.0)
    corroboration = min(len(best.families), 3)
    raw = 0.25 + 0.35 * strength + 0.35 * min(margin, 0.5) / 0.5 * 0.7 + 0.06 * corroboration
    if corroboration < 2:
        raw = min(raw, 0.75)
    return round(min(raw, 0.95), 2)


def _abstain_confidence(best: _Score | None, runner_up: float) -> float:
    """How likely "unknown" is the right answer: high when nothing explains the symptoms."""
    top = best.points if best else 0.0
    if best is not None and top >= ABSTAIN_BELOW:      # abstained on a tie between strong hypotheses
        return 0.35
    return round(max(0.3, min(0.7, 0.75 - 0.9 * top)), 2)


def _summary(incident: Incident, s: _Score) -> str:
    what = {
        "bad_deploy": f"The deploy {s.culprit} of {incident.service} is the likely cause",
        "config_change": f"The configuration change {s.culprit} of {incident.service} is the likely cause",
        "memory_leak": f"{incident.service} is leaking memory",
        "traffic_surge": f"{incident.service} is overloaded by a surge of traffic",
        "dependency_failure": f"{incident.service} fails because its dependency {s.culprit} is failing",
        "disk_full": f"A disk of {incident.service} is full",
        "security_event": f"{incident.service} is under a security event",
    }[s.kind]
    return f"{what}: " + "; ".join(r for r in s.reasons) + "."


def _abstain_summary(incident: Incident, best: _Score | None, runner_up: float = 0.0) -> str:
    if best is None:
        return f"No hypothesis about {incident.service} is supported by the evidence; a human should look."
    if best.points >= ABSTAIN_BELOW:
        return (f"Two causes of {incident.service} are about equally supported (best {best.kind}"
                f"{' ' + best.culprit if best.culprit else ''} {best.points:.2f}, runner-up {runner_up:.2f}); "
                "a human should decide.")
    return (f"The evidence is too weak to name a cause for {incident.service} (best guess {best.kind}"
            f"{' ' + best.culprit if best.culprit else ''}, {best.points:.2f}); a human should look.")
