"""The deterministic analyzer: scores every root-cause kind from the evidence.

Each hypothesis collects points from independent signals (a change shortly before the
onset, log templates that are new since that change, the shape of the metrics, errors
that name a dependency, authentication-failure patterns, pods killed for memory) and
cites the evidence items behind every point. Metric and log wording differs from estate
to estate, so metrics are read by role (errors, load, latency, memory, disk, auth), found
from their names and units, never by exact name.

Three rules come before the scores:

* Security first: any security signal (a GuardDuty or Security Hub finding, a WAF or
  401/403 alarm, authentication failures climbing in the metrics or the logs) makes the
  incident a security triage, whatever traffic and latency do; every other hypothesis is
  pushed down, and no hypothesis that would write can win.
* Follow the chain: a failing dependency is followed down to the deepest service that
  fails with its own evidence (its alerts, metrics, logs); when that service changed just
  before its own trouble began, its change is the culprit.
* Evidence that was there before is not evidence: templates that recurred long before the
  onset do not count as new even when they rise, and a change made after the trouble
  began cannot have caused it.

The best hypothesis wins only when it is strong and clearly ahead; otherwise the analyzer
abstains with `unknown`, and the plan pages a human. Confidence is the probability that
kind and culprit are both right: it grows with the score, the margin over the runner-up
and the number of independent kinds of evidence that agree, and is held below the
autonomy floor when evidence is missing or a close call decided it.
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache

from .memory import past_verdict
from ..models import ChangeEvent, Evidence, EvidenceItem, Hypothesis, Incident, MetricSummary, RootCause, ServiceCatalog

ABSTAIN_BELOW = 0.45
MIN_MARGIN = 0.08
SURE = 0.8                  # at or above this, a diagnosis may act on its own: keep only sure ones there
CLOSE_CALL_CAP = 0.74
MISSING_DATA_CAP = 0.76
SURGE_CAP = 0.78            # hostile traffic whose auth signals we cannot read looks like demand from outside
MAX_CONFIDENCE = 0.95

# metric roles, by name (and unit where names say little)
_MEMORY = re.compile(r"mem|heap|rss|oom|swap", re.I)
_REQUESTS = re.compile(r"request|\bqps\b|\brps\b|\btps\b|qps|rps|throughput|invocation|hits|calls|traffic|"
                       r"per_?min|per_?sec|connections?_?(count|rate)|networkin|sessions|"
                       r"concurren|ingress|received|count$|processed|incoming|ingest|enqueue|published|arrivals", re.I)
_LATENCY = re.compile(r"latency|duration|p9\d|p50|response_?time|elapsed|seconds|_ms\b|millis", re.I)
_CPU = re.compile(r"cpu", re.I)
_ERRORS = re.compile(r"5xx|5\d\d|error|fault|fail|exception|unhealthy|timeout|reject", re.I)
_AUTH_METRIC = re.compile(
    r"401|403|unauthori[sz]|unauthenticated|forbidden|denied|waf|brute|stuffing|captcha|bot_?(detect|score|block)|"
    r"(auth\w*|log_?ins?|sign_?ins?|credentials?|passwords?|tokens?|jwt|api_?keys?)[._\- ]?(fail|error|reject|denied|invalid|bad|"
    r"wrong|unknown|revoked)|"
    r"(fail|error|reject|denied|invalid|bad|wrong|unsuccessful|unknown|revoked)\w*?[._\- ]?(auth\w*|log_?ins?|sign_?ins?|"
    r"credentials?|passwords?|api_?keys?)|(token|jwt|signature)\w*?[._\- ]?(validation|verification)\w*?[._\- ]?(fail|error|reject)|"
    r"(?<!thread_)(?<!threads_)(?<!thread)blocked(?!\w*thread)", re.I)
_CLIENT_ERRORS = re.compile(r"4xx|4\d\d", re.I)
_DISK = re.compile(r"disk|filesystem|storage|inode|volume|\bfs\b|ebs", re.I)
_DISK_LEVEL = re.compile(r"used|usage|util|percent|pct|full|space|capacity|inode|free|avail", re.I)
_RESTARTS = re.compile(r"restart", re.I)
_FREE = re.compile(r"free|avail", re.I)
_THROTTLED = re.compile(r"throttl", re.I)
# log wording
_AUTH_FAIL = re.compile(
    r"authenticat\w* (fail|reject|denied|error)|fail\w* (to )?authenticat|authenticat\w* attempt\w* (fail|reject)|"
    r"invalid (credential|password|token|api ?key|login|user ?name|grant|client|otp|mfa|session)|"
    r"invalid_(grant|client|token)|(bad|wrong|incorrect|invalid) (user ?name or )?(credential|password|passcode|pin)|"
    r"(username|user name|login|email) or password (is )?(incorrect|invalid|wrong)|"
    r"unauthori[sz]ed|forbidden|access denied|"
    r"(http|status|code|returned|response|responded|got|error)\W{0,3}(code\W{0,3})?40[13]\b|"   # a status, not an id
    r"HTTP/\d(\.\d)?\"?\s+40[13]\b|\b40[13] (unauthori|forbidden)|"
    r"(?<![:\]] )permission denied(?!:\s*['\"]?/)|"      # not a file's permissions ("open /x: permission denied")
    r"too many (failed )?(login|sign-?in|auth)|brute|blocked by (the )?waf|waf block|"
    r"(login|log-in|sign-?in|logon) (attempt )?(fail|reject|denied|error)|(failed|unsuccessful|rejected) "
    r"(login|log-in|sign-?in|logon)|bad_password|unknown_user|unknown user|no such user|user not found|"
    r"token (rejected|expired|invalid|revoked)|(jwt|signature) (verification )?(fail|mismatch|invalid|expired)|"
    r"invalid signature|credential stuffing|account (is )?locked|locked out|captcha|bot detect|suspicious|"
    r"mfa (challenge )?fail|otp (mismatch|invalid|fail)|"
    # ASP.NET / IdentityModel and API gateways say it their own way
    r"\bnot authenticated|(scheme\W{0,3}\w+ )?was (challenged|forbidden)|"
    r"(signature|token|audience|issuer|lifetime) validation fail|token is (expired|invalid|revoked|not (yet )?valid)|"
    r"api[ _-]?key\W{0,3}(\S+\W{0,3})?(is )?(invalid|not valid|unknown|revoked|expired|rejected|disabled|"
    r"not (recogni[sz]ed|found|known))|(invalid|unknown|revoked|expired) api[ _-]?key", re.I)
_MEMORY_LOG = re.compile(r"heap|memory|\brss\b|oom|out of memory|\bgc\b|garbage collect|allocation fail|memory pressure|"
                        r"working set", re.I)
_DISK_LOG = re.compile(r"no space left|enospc|errno 28|disk (is )?full|out of disk|disk quota|"
                       r"(file ?system|disk|volume|partition|device|inode|/dev/\S+|mount(point)?)s?\b[^.;]{0,40}?"
                       r"\b(full|exhausted|out of space|100 ?%|no free)|could not extend file|"
                       r"insufficient (disk|storage) space|not enough (disk )?space", re.I)
_DEPENDENCY_ERROR = re.compile(r"fail|error|timed? ?out|timeout|refused|unavailable|5\d\d|reset|unreachable|retry|"
                               r"circuit|exception|fatal|reject|not available|too many connections|exhausted|"
                               r"deadlock|overload|throttl|saturat|slow", re.I)


@dataclass
class _Score:
    kind: str
    culprit: str | None = None
    points: float = 0.0
    evidence: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    families: set[str] = field(default_factory=set)     # independent kinds of support: change, logs, metrics, ...
    close_call: bool = False                             # decided between near-equal readings of the evidence
    writes: bool = True                                   # would its runbook write? (security/unknown/dependency do not)
    target: str | None = None                             # the service the cause is in, when not the incident's own

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


@dataclass
class _Failure:
    """What one service's own evidence says about it failing."""

    service: str
    points: float = 0.0
    alerts: list[EvidenceItem] = field(default_factory=list)
    metrics: list[EvidenceItem] = field(default_factory=list)
    logs: list[EvidenceItem] = field(default_factory=list)
    onset: datetime | None = None

    @property
    def own_evidence(self) -> bool:
        """Metrics or logs of its own, not only an alarm."""
        return bool(self.metrics or self.logs)


class _View:
    """The evidence, indexed by service and role, shared by every hypothesis."""

    def __init__(self, incident: Incident, ev: Evidence, catalog: ServiceCatalog):
        self.incident, self.ev, self.catalog = incident, ev, catalog
        self.service = incident.service
        self.items = ev.items
        self.by_id = {i.id: i for i in ev.items}
        self.summaries = {(m.service, f"{m.namespace}/{m.name}"): m for m in ev.metrics}
        self.changes = {c.id: c for c in ev.changes}
        self.alerts = [i for i in ev.items if i.type == "alert"]
        self.templates = [i for i in ev.items if i.type == "log_template"]
        self.metric_items = [i for i in ev.items if i.type == "metric"]
        self.services_with_metrics = {m.service for m in ev.metrics}
        self.onset = ev.onset

    def alerts_of(self, service: str) -> list[EvidenceItem]:
        return [a for a in self.alerts if a.service == service]

    def templates_of(self, service: str) -> list[EvidenceItem]:
        return [t for t in self.templates if t.service == service]

    def fresh(self, service: str) -> list[EvidenceItem]:
        """Error templates that are new or burst since the onset and were not around long before it."""
        return [t for t in self.templates_of(service) if _fresh(t)]

    def moved(self, service: str, pattern: re.Pattern[str], shapes: tuple[str, ...] = ("step", "ramp", "spike"),
              min_ratio: float = 0.0, exclude: re.Pattern[str] | None = None
              ) -> list[tuple[EvidenceItem, MetricSummary]]:
        out = []
        for item in self.metric_items:
            if item.service != service:
                continue
            m = self.summaries.get((service, item.ref))
            if m is None or not pattern.search(m.name) or (exclude is not None and exclude.search(m.name)):
                continue
            if m.shape in shapes and (m.change_ratio >= min_ratio if m.shape != "drop" else True):
                out.append((item, m))
        return out

    def own_changes(self, service: str) -> list[ChangeEvent]:
        return sorted((c for c in self.ev.changes if c.service == service and c.kind in ("deploy", "config")),
                      key=lambda c: c.at)

    def onset_of(self, service: str) -> datetime | None:
        return self.ev.onsets.get(service) or (self.onset if service == self.service else None)


def _whole_window(v: "_View", m: MetricSummary) -> bool:
    """The metric moved from the start of what was read (a steady climb or fall has no flat baseline)."""
    return m.onset is not None and abs((m.onset - v.ev.window_start).total_seconds()) <= 600


def _fresh(t: EvidenceItem) -> bool:
    if not ("burst" in t.signals or "new" in t.signals):
        return False
    if "recurring" in t.signals:      # it was there long before: only an order-of-magnitude jump still counts
        return _rate(t) >= 8
    return True


def _rate(t: EvidenceItem) -> float:
    for s in t.signals:
        if s.startswith("rate_x"):
            try:
                return float(s[6:])
            except ValueError:
                return 0.0
    return 0.0


class DeterministicAnalyzer:
    """The embedded default: no model, same answer for the same evidence."""

    name = "deterministic"

    def __init__(self, catalog: ServiceCatalog):
        self._catalog = catalog

    def diagnose(self, incident: Incident, evidence: Evidence) -> RootCause:
        view = _View(incident, evidence, self._catalog)
        best: dict[tuple[str, str | None], _Score] = {}
        for s in self._score(view):        # the same cause reached along two paths counts once, at its best
            key = (s.kind, s.culprit, s.target)
            if s.points > 0 and (key not in best or s.points > best[key].points):
                best[key] = s
        scores = list(best.values())
        scores.sort(key=lambda s: -s.points)
        hypotheses = [Hypothesis(kind=s.kind, culprit=s.culprit, score=round(min(s.points, 1.0), 3),
                                 evidence=s.evidence, reasons=s.reasons) for s in scores[:5]]
        return decide(incident, evidence, scores, hypotheses)

    # --- scoring -----------------------------------------------------------------------
    def _score(self, v: _View) -> list[_Score]:
        scores: list[_Score] = []

        sec = self._security(v)
        scores.append(sec)
        security = sec.points >= 0.4

        failures = {name: self._failure(v, name) for name in self._chain_services(v)}
        chains = self._dependency_chains(v, failures)
        failing_names = [n for d, f in failures.items() if f.points >= 0.3 and d != v.service
                         for n in self._names_of(d)]
        scores += self._own_changes(v, failing_names, chains)
        for chain in chains:
            scores += self._chain_hypotheses(v, chain, failures)
        for own in (self._memory_leak(v), self._disk_full(v)):
            # errors that only relay a dependency's disk or memory trouble ("No space left on device" from the
            # database) are evidence of that dependency's failure, not of one of our own
            deep = max((d for d in scores if d.kind == own.kind and d.target), key=lambda d: d.points, default=None)
            if deep is not None and own.points > 0 and own.families <= {"logs"}:
                deep.add(0.15, f"{v.service}'s errors report it", [v.by_id[e] for e in own.evidence if e in v.by_id],
                         "logs")
                own.penalize(own.points, f"its errors relay {deep.target}'s trouble")
            scores.append(own)
        scores.append(self._traffic_surge(v))

        self._apply_corrections(v, scores)
        if security:   # security first: nothing that writes may beat a security triage
            for s in scores:
                if s is not sec and s.points > 0:
                    s.penalize(0.6, "but there are security signals: this is a security triage first")
        return scores

    def _apply_corrections(self, v: _View, scores: list[_Score]) -> None:
        """Approvers corrected similar incidents before: lean towards what they said, away from what they undid."""
        history = next((i for i in v.items if i.type == "history" and i.service == v.service), None)
        if history is None:
            return
        for signal in history.signals:
            parts = signal.split(":")
            if parts[0] != "corrected" or len(parts) != 3:
                continue
            wrong, right = parts[1], parts[2]
            for s in scores:
                if s.kind == right and s.points > 0:
                    s.add(0.1, f"approvers corrected a similar incident to {right}", [history], "memory")
                elif s.kind == wrong and s.points > 0:
                    s.penalize(0.1, f"approvers corrected a similar incident away from {wrong}")

    # --- security ------------------------------------------------------------------------
    def _security(self, v: _View) -> _Score:
        sec = _Score("security_event", writes=False)
        security_alerts = [a for a in v.alerts if "security" in a.signals]
        deliveries = max(v.incident.deliveries, 1)
        share = sum(a.count for a in v.incident.alerts if a.category == "security") / deliveries
        findings = [a for a in v.incident.alerts if a.source in ("guardduty", "securityhub")]
        if findings:
            sec.add(0.6, "GuardDuty / Security Hub reported a finding",
                    [a for a in security_alerts if a.detail.startswith(("guardduty", "securityhub"))], "finding")
        if share >= 0.5:
            sec.add(0.5, "most alerts are security alerts (authentication, WAF, 401/403)", security_alerts, "alerts")
        elif security_alerts:
            sec.add(0.4, "a security alert fired", security_alerts, "alerts")
        auth_metrics = v.moved(v.service, _AUTH_METRIC, min_ratio=2.0)
        client_errors = [x for x in v.moved(v.service, _CLIENT_ERRORS, min_ratio=3.0) if x not in auth_metrics]
        if auth_metrics:
            sec.add(0.5, "authentication failures / denied or blocked requests climbed",
                    [i for i, _ in auth_metrics], "metrics")
        elif client_errors:
            sec.add(0.2, "client errors (4xx) climbed", [i for i, _ in client_errors], "metrics")
        auth_logs = [t for t in v.fresh(v.service) if _AUTH_FAIL.search(_template_text(t))
                     and ("burst" in t.signals or _count(t) >= 10)]
        if auth_logs:
            many = sum(_count(t) for t in auth_logs) >= 10
            sec.add(0.45 if many else 0.25, "authentication failures surged in the logs", auth_logs, "logs")
        if sec.points and len(sec.families) >= 2:
            sec.add(0.1, "independent security signals agree")
        load = v.moved(v.service, _REQUESTS, min_ratio=1.5, exclude=_NOT_LOAD)
        if sec.points >= 0.4 and load:     # what an attack looks like from outside: one more kind of support
            sec.add(0.05, "request volume rose with it: hostile traffic, not demand", [i for i, _ in load], "traffic")
        elif sec.points and load:
            sec.add(0.0, "request volume rose with it", [i for i, _ in load])
        return sec

    # --- the dependency chain ------------------------------------------------------------------
    def _chain_services(self, v: _View) -> list[str]:
        out = [v.service, *v.incident.suspects]
        frontier = [v.service, *v.incident.suspects]
        for _ in range(4):
            nxt = []
            for name in frontier:
                info = self._catalog.get(name)
                for d in (info.depends_on if info else []):
                    if d not in out:
                        out.append(d)
                        nxt.append(d)
            frontier = nxt
        named = [o.name for o in self._catalog.services if o.name not in out
                 and any(_names_any(_template_text(t), self._names_of(o.name)) and _DEPENDENCY_ERROR.search(_template_text(t))
                         for t in v.fresh(v.service))]
        return list(dict.fromkeys([*out, *named]))

    def _failure(self, v: _View, service: str) -> _Failure:
        f = _Failure(service, onset=v.onset_of(service))
        f.alerts = [a for a in v.alerts_of(service) if "security" not in a.signals]
        if f.alerts:
            f.points += 0.35
        f.metrics = [i for i in v.metric_items if i.service == service and "up" in i.signals]
        if f.metrics:
            f.points += 0.25
        f.logs = [t for t in v.fresh(service) if "burst" in t.signals or _count(t) >= 5]
        if f.logs:
            f.points += 0.25
        return f

    def _failing_on_its_own(self, v: _View, service: str) -> bool:
        f = self._failure(v, service)
        return f.own_evidence or bool(f.alerts)

    def _deps_of(self, v: _View, service: str) -> list[str]:
        info = self._catalog.get(service)
        deps = list(info.depends_on if info else [])
        if service == v.service:
            deps = [*v.incident.suspects, *deps]
            deps += [o.name for o in self._catalog.services if o.name != service and o.name not in deps
                     and any(_names_any(_template_text(t), self._names_of(o.name))
                             and _DEPENDENCY_ERROR.search(_template_text(t)) for t in v.fresh(service))]
        return [d for d in dict.fromkeys(deps) if d != service]

    def _blames(self, v: _View, caller: str, dep: str) -> list[EvidenceItem]:
        """The caller's new errors that name the dependency."""
        names = self._names_of(dep)
        return [t for t in v.fresh(caller) if _names_any(_template_text(t), names)
                and _DEPENDENCY_ERROR.search(_template_text(t))]

    def _dependency_chains(self, v: _View, failures: dict[str, _Failure]) -> list[list[str]]:
        """Paths from the incident's service down to the deepest failing dependency, one per first hop."""
        chains = []
        for dep in self._deps_of(v, v.service):
            f = failures.get(dep) or self._failure(v, dep)
            failures.setdefault(dep, f)
            if f.points <= 0 and not self._blames(v, v.service, dep):
                continue
            path = [v.service, dep]
            while len(path) < 6:
                here = path[-1]
                deeper = []
                for nxt in self._deps_of(v, here):
                    if nxt in path:
                        continue
                    g = failures.get(nxt) or self._failure(v, nxt)
                    failures.setdefault(nxt, g)
                    if not g.own_evidence and not g.alerts:
                        continue
                    blamed = bool(self._blames(v, here, nxt))
                    first = (g.onset is not None and failures[here].onset is not None
                             and g.onset <= failures[here].onset + timedelta(minutes=2))
                    # descend when the deeper service fails on its own evidence and the hop above blames it,
                    # or its trouble began no later than the hop above's
                    if (g.own_evidence or g.alerts) and (blamed or first or not failures[here].own_evidence) \
                            and (g.own_evidence or blamed):
                        deeper.append((blamed, g.points, nxt))
                if not deeper:
                    break
                path.append(max(deeper)[2])
            chains.append(path)
        return chains

    def _chain_hypotheses(self, v: _View, chain: list[str], failures: dict[str, _Failure]) -> list[_Score]:
        """A dependency failure named at the deepest failing service, or that service's own bad change."""
        deepest = chain[-1]
        f = failures[deepest]
        dep = _Score("dependency_failure", culprit=deepest, writes=False)
        first_hop = chain[1]
        blame = self._blames(v, v.service, first_hop)
        hops = " -> ".join(chain)
        if blame:
            dep.add(0.4, f"errors of {v.service} calling {first_hop} surged", blame, "logs")
            if sum(_count(t) for t in blame) >= 30 or len(blame) >= 2:
                dep.add(0.1, f"many errors name {first_hop}")
        for upper, lower in zip(chain[1:], chain[2:]):
            named = self._blames(v, upper, lower)
            if named:
                dep.add(0.1, f"{upper}'s errors name {lower}", named[:2], "chain")
        if f.alerts:
            dep.add(0.3, f"{deepest} alerted in the same window", f.alerts, "alerts")
        if f.metrics:
            dep.add(0.2, f"{deepest}'s own metrics deviate", f.metrics[:4], "dependency")
        if f.logs:
            dep.add(0.15, f"{deepest}'s own logs show new errors", f.logs[:3], "dependency")
        if len(chain) > 2:
            dep.reasons.append(f"followed the failure down the chain {hops}")
            above = [failures[s] for s in chain[1:-1]]
            for a in above:
                dep.evidence += [i.id for i in (a.alerts[:1] + a.metrics[:1]) if i.id not in dep.evidence]
        if dep.points and not blame and not f.own_evidence:
            dep.penalize(0.15, f"nothing but its alert ties {deepest} to the symptoms")
        observed = [m for m in (f"metrics:{deepest}", f"logs:{deepest}") if m not in v.ev.missing]
        if dep.points and observed and not f.own_evidence and not f.alerts:
            dep.penalize(0.2 * len(observed), f"{deepest}'s own {' and '.join(m.split(':')[0] for m in observed)} "
                         "look healthy")
        own = v.fresh(v.service)
        unexplained = [t for t in own if not any(_names_any(_template_text(t), self._names_of(s)) for s in chain[1:])]
        if dep.points and len(unexplained) > len(blame) and not f.alerts:
            dep.penalize(0.1, f"{v.service} also has new errors that do not name {first_hop}")
        out = [dep]

        # the deepest failing service changed just before its own trouble began: that change is the culprit.
        # A service that crash-loops writes a few lines and may have no metric that moves: its trouble then
        # dates from when the hop above it began to fail
        onset = _chain_onset(chain, failures)
        for change in v.own_changes(deepest):
            if onset is None:
                break
            lead = (onset - change.at).total_seconds() / 60
            if lead < -3 or lead > 120:
                continue
            s = _Score("bad_deploy" if change.kind == "deploy" else "config_change", culprit=change.id)
            s.add(0.9 * _timing_points(lead), f"{change.kind} {change.id} of {deepest} {max(lead, 0):.0f} min before "
                  f"{deepest}'s trouble began", [_change_item(v, change)], "change")
            new = [t for t in v.templates_of(deepest) if f"new_since:{change.id}" in t.signals and _fresh(t)]
            if new:
                s.add(0.3, f"new error templates in {deepest} since the change", new, "logs")
            named = [t for t in v.templates_of(deepest) if _names_change(_template_text(t), change, deepest)]
            if named:
                s.add(0.15, "errors name what the change touched", named, "naming")
            after = [i for i in f.metrics if i.at and timedelta(minutes=-3) <= i.at - change.at <= timedelta(minutes=45)]
            if after:
                s.add(0.15, f"{deepest}'s metrics turned after the change", after, "metrics")
            if not new and not after and not named:
                s.penalize(0.2, "but nothing ties the change to the failure beyond its timing")
            s.add(min(dep.points, 0.5) * 0.6, f"{v.service}'s failure leads down to {deepest}: {hops}",
                  [v.by_id[e] for e in dep.evidence[:4] if e in v.by_id], "chain")
            later = [c for c in v.own_changes(deepest) if change.at < c.at <= onset + timedelta(minutes=3)]
            if later and not new:
                s.penalize(0.15, f"a later change of {deepest} is closer to its onset")
            if s.points > 0 and (new or after or named):
                dep.penalize(min(0.5, s.points * 0.5), f"but {deepest} itself changed just before ({change.id})")
            out.append(s)

        # the deepest failing service is out of disk or leaking memory by its own evidence: that is the cause,
        # and the remedy is applied there
        for own in (self._disk_full(v, deepest), self._memory_leak(v, deepest)):
            if own.points < 0.5:
                continue
            own.add(min(dep.points, 0.5) * 0.6, f"{v.service}'s failure leads down to {deepest}: {hops}",
                    [v.by_id[e] for e in dep.evidence[:4] if e in v.by_id], "chain")
            dep.penalize(min(0.5, own.points * 0.5), f"but {deepest} itself is short of "
                         f"{'disk' if own.kind == 'disk_full' else 'memory'}")
            out.append(own)
        return out

    # --- changes of the incident's own service ----------------------------------------------------
    def _own_changes(self, v: _View, failing_names: list[str], chains: list[list[str]]) -> list[_Score]:
        onset = v.onset_of(v.service)
        if onset is None:
            return []
        changes = v.own_changes(v.service)
        blamed_chain = any(self._blames(v, v.service, c[1]) and self._failing_on_its_own(v, c[-1]) for c in chains)
        out = []
        new_by_change = _new_templates_by_change(v, changes, failing_names)
        for change in changes:
            lead = (onset - change.at).total_seconds() / 60
            if lead < -3 or lead > 360:
                continue
            s = _Score("bad_deploy" if change.kind == "deploy" else "config_change", culprit=change.id)
            s.add(_timing_points(lead), f"{change.kind} {change.id} {max(lead, 0):.0f} min before the onset",
                  [_change_item(v, change)], "change")
            new = new_by_change[change.id]
            if new:
                s.add(0.35, "error log templates that did not exist before the change", new, "logs")
            named = [t for t in v.templates_of(v.service) if _names_change(_template_text(t), change, v.service)
                     and ("new" in t.signals or "burst" in t.signals)]
            if named:
                s.add(0.2, "errors name what the change touched (setting, feature, version)", named, "naming")
            following = [i for i in v.metric_items if i.service == v.service and i.at
                         and timedelta(minutes=-3) <= i.at - change.at <= timedelta(minutes=45)]
            if following:
                s.add(0.15, "metrics started to deviate after the change", following, "metrics")
            others = [c for c in changes if c.id != change.id and abs((c.at - change.at).total_seconds()) <= 90 * 60
                      and (onset - c.at).total_seconds() / 60 >= -3]
            if others:
                mine = len(new) + len(named)
                theirs = max(len(new_by_change[c.id]) + sum(1 for t in v.templates_of(v.service)
                                                            if _names_change(_template_text(t), c, v.service))
                             for c in others)
                if mine <= theirs:
                    s.penalize(0.2 if mine < theirs else 0.1,
                               "another change near the onset explains the new errors as well or better")
                s.close_call = mine - theirs < 2 and not named
            if blamed_chain and not new:
                s.penalize(0.25, "the errors blame a failing dependency, not this change")
            out.append(s)
        return out

    # --- memory leak, traffic surge, disk full --------------------------------------------------------
    def _memory_leak(self, v: _View, service: str | None = None) -> _Score:
        service = service or v.service
        mem = _Score("memory_leak", target=None if service == v.service else service)
        memory_ramps = [(i, m) for i, m in v.moved(service, _MEMORY, shapes=("ramp", "step"), min_ratio=1.15)
                        if not _FREE.search(m.name)]
        # free / available memory falling is the same climb seen from the other side
        memory_ramps += [(i, m) for i, m in v.moved(service, _MEMORY, shapes=("drop",))
                         if _FREE.search(m.name) and m.change_ratio <= 0.85]
        if memory_ramps:
            ramp = any(m.shape == "ramp" or m.shape == "drop" and _whole_window(v, m) for _, m in memory_ramps)
            mem.add(0.5 if ramp else 0.35, "memory climbs steadily" if ramp else "memory stepped up",
                    [i for i, _ in memory_ramps], "metrics")
        oom = [c for c in v.items if c.type == "cluster" and c.service == service and "terminated:OOMKilled" in c.signals]
        if oom:
            mem.add(0.5, "pods were OOMKilled and restarted", oom, "cluster")
        restart_metrics = v.moved(service, _RESTARTS, shapes=("step", "ramp", "spike"))
        if restart_metrics and mem.points:
            mem.add(0.05, "container restarts climb", [i for i, _ in restart_metrics], "restarts")
        if mem.points:
            mem_logs = [t for t in v.templates_of(service) if _MEMORY_LOG.search(_template_text(t))]
            if mem_logs:
                mem.add(0.15, "memory warnings in the logs", mem_logs, "logs")
            oom_alerts = [a for a in v.alerts_of(service) if re.search(r"oom|memory|heap", a.detail, re.I)]
            if oom_alerts:
                mem.add(0.1, "the alerts are about memory", oom_alerts, "alerts")
            mem_onset = min((i.at for i, _ in memory_ramps if i.at), default=None)
            if mem_onset is not None:
                recent = [c for c in v.own_changes(service) if c.kind == "deploy"
                          and timedelta(minutes=-10) <= mem_onset - c.at <= timedelta(minutes=60)]
                if recent:
                    mem.penalize(0.4, f"but the climb began right after {recent[-1].id}")
        return mem

    def _traffic_surge(self, v: _View) -> _Score:
        surge = _Score("traffic_surge")
        load = v.moved(v.service, _REQUESTS, min_ratio=1.5, exclude=_NOT_LOAD)
        if load:
            surge.add(0.5, "request volume rose well above its baseline", [i for i, _ in load], "metrics")
            strain = v.moved(v.service, _LATENCY, min_ratio=1.3) + v.moved(v.service, _CPU, min_ratio=1.3)
            if strain:
                surge.add(0.15, "latency / CPU rose with it", [i for i, _ in strain], "saturation")
            throttled = v.moved(v.service, _THROTTLED, shapes=("step", "ramp"), min_ratio=2.0)
            if throttled:
                surge.add(0.1, "requests are throttled: capacity is short of demand", [i for i, _ in throttled],
                          "throttling")
            load_onset = min((i.at for i, _ in load if i.at), default=None)
            changed = [c for c in v.own_changes(v.service) if load_onset
                       and timedelta(minutes=-3) <= load_onset - c.at <= timedelta(minutes=30)]
            if changed:
                surge.penalize(0.15, f"but the rise began right after {changed[-1].id}")
        return surge

    def _disk_full(self, v: _View, service: str | None = None) -> _Score:
        """Disk full needs disk evidence: a disk metric, or a log template about a filesystem or device."""
        service = service or v.service
        disk = _Score("disk_full", target=None if service == v.service else service)
        disk_logs = [t for t in v.templates_of(service) if _DISK_LOG.search(_template_text(t))]
        if disk_logs:
            disk.add(0.5, "the logs say a filesystem / device is out of space", disk_logs, "logs")
        # how full a disk is: usage climbing or free space falling (not its I/O, queue or throughput)
        disk_metrics = [(i, m) for i, m in v.moved(service, _DISK, shapes=("ramp", "step", "spike", "drop"))
                        if _DISK_LEVEL.search(m.name) and (m.shape == "drop") == bool(_FREE.search(m.name))]
        if disk_metrics:
            disk.add(0.35, "disk usage / free space moved sharply", [i for i, _ in disk_metrics], "metrics")
        disk_alerts = [a for a in v.alerts_of(service)
                       if re.search(r"disk|storage|filesystem|volume|inode", a.detail, re.I)]
        if disk_alerts and disk.points:
            disk.add(0.15, "the alerts are about disk space", disk_alerts, "alerts")
        return disk

    def _names_of(self, service: str) -> list[str]:
        info = self._catalog.get(service)
        names = [service, *(info.aliases if info else [])]
        if info and info.workload:
            names.append(info.workload)
        out = []
        for n in names:
            out += [n, n.replace("-", "_"), n.replace("-", "")]
        return [n for n in dict.fromkeys(out) if len(n) >= 3]


_NOT_LOAD = re.compile(f"{_AUTH_METRIC.pattern}|{_CLIENT_ERRORS.pattern}|{_ERRORS.pattern}|{_LATENCY.pattern}|"
                       r"cpu|mem|disk|connection_?errors|queue|backlog|(?<!f)lag(?![a-z])|"
                       r"oldest|age_?of|iterator_?age|(?<![a-z])age(?![a-z])|"        # the age of a message, not "messages"
                       r"thread|goroutine|\bpods?\b|pod_|replica|hosts?\b|host_?count|instances?\b|instance_?count|"
                       r"tasks?_?count|running_?tasks?|process(es|_?count)\b|open_?files|file_?descriptors|\bfds?\b|"
                       r"\bgc\b|gc_|heap", re.I)


# --- the decision ---------------------------------------------------------------------------------
def decide(incident: Incident, evidence: Evidence, scores: list[_Score], hypotheses: list[Hypothesis]) -> RootCause:
    """The winner if it is strong and clearly ahead, else `unknown`; confidence calibrated to be right."""
    best = scores[0] if scores else None
    runner_up = scores[1].points if len(scores) > 1 else 0.0
    if best is None or best.points < ABSTAIN_BELOW or best.points - runner_up < MIN_MARGIN:
        evidence_ids = best.evidence if best else [i.id for i in evidence.items if i.type == "alert"][:3]
        return RootCause(kind="unknown", culprit=None, confidence=_abstain_confidence(best, runner_up),
                         summary=_abstain_summary(incident, best, runner_up), evidence=evidence_ids,
                         hypotheses=hypotheses)
    confidence = _confidence(best, runner_up, evidence, incident.service)
    confidence = _remembered(best, confidence, evidence, incident.service)
    return RootCause(kind=best.kind, culprit=best.culprit, service=best.target, confidence=confidence,
                     summary=_summary(incident, best), evidence=best.evidence, hypotheses=hypotheses)


def _confidence(best: _Score, runner_up: float, evidence: Evidence, service: str) -> float:
    """How likely the named cause is right: strength, margin and independent corroboration."""
    strength = min(best.points, 1.2) / 1.2
    margin = max(best.points - runner_up, 0.0)
    corroboration = min(len(best.families), 4)
    raw = 0.3 + 0.3 * strength + 0.25 * min(margin, 0.6) / 0.6 + 0.05 * corroboration
    if corroboration < 2:
        raw = min(raw, 0.72)
    if best.close_call or margin < 0.25:
        raw = min(raw, CLOSE_CALL_CAP)
    if any(m in evidence.missing for m in (f"metrics:{service}", f"logs:{service}")) and best.kind != "security_event":
        raw = min(raw, MISSING_DATA_CAP)
    if best.kind == "traffic_surge":
        # a surge is named from load and strain alone, and an attack in words we do not know (or with no
        # log to read) brings the same: sure enough to plan a scale-out, never sure enough to skip a person
        raw = min(raw, SURGE_CAP)
    return round(min(raw, MAX_CONFIDENCE), 2)


def _remembered(best: _Score, confidence: float, evidence: Evidence, service: str) -> float:
    """Similar past incidents: confirmed causes firm the confidence up a little; a cause approvers corrected
    away from before is held below the autonomy floor, so a person looks again."""
    history = next((i for i in evidence.items if i.type == "history" and i.service == service), None)
    total, same, away = past_verdict(history, best.kind)
    if history is None or total == 0:
        return confidence
    if history.id not in best.evidence:
        best.evidence.append(history.id)
    if away:
        best.reasons.append(f"approvers corrected {away} similar incident(s) away from {best.kind}")
        return round(min(confidence - 0.1, CLOSE_CALL_CAP), 2)
    if same >= 2 and same == total:
        best.reasons.append(f"{same} similar incidents had the same root cause")
        return round(min(confidence + 0.03, MAX_CONFIDENCE), 2)
    return confidence


def _abstain_confidence(best: _Score | None, runner_up: float) -> float:
    """How likely "unknown" is the right answer: high when nothing explains the symptoms."""
    top = best.points if best else 0.0
    if best is not None and top >= ABSTAIN_BELOW:      # abstained on a tie between strong hypotheses
        return 0.25
    return round(max(0.25, min(0.7, 0.75 - 0.9 * top)), 2)


# --- helpers --------------------------------------------------------------------------------------
def _new_templates_by_change(v: _View, changes: list[ChangeEvent], failing_names: list[str]
                             ) -> dict[str, list[EvidenceItem]]:
    """The service's new error templates, each given to the change it came with. By time, a template belongs to
    the last change before it appeared; but when it (or its stack trace) names what exactly one earlier change
    touched (a library, a setting, a version), it belongs to that change: of a deploy and a flag flip a minute
    before the errors, the errors that quote the deploy's new library are the deploy's."""
    out: dict[str, list[EvidenceItem]] = {c.id: [] for c in changes}
    for t in v.templates_of(v.service):
        since = next((s[len("new_since:"):] for s in t.signals if s.startswith("new_since:")), None)
        if since is None or not _fresh(t) or _names_any(_template_text(t), failing_names):
            continue
        namers = [c for c in changes if t.at and timedelta(0) <= t.at - c.at <= timedelta(minutes=90)
                  and _names_change(_template_text(t), c, v.service)]
        owner = namers[0].id if len(namers) == 1 else since
        if owner in out:
            out[owner].append(t)
    return out


def _chain_onset(chain: list[str], failures: dict[str, _Failure]) -> datetime | None:
    """When the deepest service of a chain began to fail: its own onset, else that of the nearest hop above."""
    for name in reversed(chain):
        f = failures.get(name)
        if f is not None and f.onset is not None:
            return f.onset
    return None


def _timing_points(lead_minutes: float) -> float:
    """A change just before the onset is suspect; one hours before is barely so."""
    if lead_minutes <= 30:
        return 0.35
    return 0.35 * math.exp(-(lead_minutes - 30) / 40)


def _count(item: EvidenceItem) -> int:
    m = re.search(r"\" x(\d+) ", item.detail)
    return int(m.group(1)) if m else 0


def _template_text(item: EvidenceItem) -> str:
    return item.detail


def _names_any(text: str, names: list[str]) -> bool:
    return any(_name_pattern(n).search(text) for n in names)


@lru_cache(maxsize=4096)
def _name_pattern(name: str) -> re.Pattern[str]:
    """A service name as a whole word (compiled once: an estate has more names than re's cache holds)."""
    return re.compile(r"(?<![\w-])" + re.escape(name) + r"(?![\w-])", re.I)


def _change_item(v: _View, change: ChangeEvent) -> EvidenceItem:
    found = next((i for i in v.items if i.type == "change" and i.ref == change.id), None)
    return found or EvidenceItem(id=f"change:{change.id}", type="change", ref=change.id, detail=change.id)


_KEY = re.compile(r"[A-Za-z][\w.\-/:]*[\w]")
_STOP = {"deploy", "deployment", "config", "configuration", "change", "changes", "image", "update", "updated",
         "release", "revision", "version", "task", "definition", "profile", "parameter", "enable", "enabled",
         "disable", "disabled", "feature", "flag", "setting", "settings", "bump", "from", "with", "into",
         "prod", "production", "staging", "the", "and", "for", "new", "add", "remove", "fix", "rollout"}


def _change_keys(change: ChangeEvent, service: str) -> set[str]:
    """Distinctive words of a change: setting keys, feature flags, versions (not the service's own name)."""
    keys: set[str] = set()
    for m in _KEY.finditer(change.description or ""):
        word = m.group(0).strip(".:/-")
        parts = {word, word.rsplit("/", 1)[-1], word.rsplit(":", 1)[-1]}
        for p in list(parts):
            if "__" in p:      # an environment variable's hierarchy (.NET, Spring): Section__Key is Section:Key
                parts |= {p.replace("__", ":"), p.replace("__", "."), p.rsplit("__", 1)[-1]}
        for part in parts:
            part = part.strip(".:/-")
            if len(part) < 6 or part.lower() in _STOP or part.lower() == service.lower():
                continue
            if service.lower() in part.lower() and not re.search(r"\d", part.replace(service, "")):
                continue
            if re.fullmatch(r"v?\d+", part) or not re.search(r"[_.\-/]|\d|[a-z][A-Z]", part):
                continue           # a plain word names nothing; keys have separators, digits or camelCase
            keys.add(part)
    if change.revision and change.kind == "deploy" and re.search(r"[.\-]", change.revision):
        keys.add(change.revision)
    if change.sha and len(change.sha) >= 7:
        keys.add(change.sha[:7])
    return keys


def _names_change(text: str, change: ChangeEvent, service: str) -> bool:
    """Do the errors mention what the change touched (a parameter, a feature flag, a version, the commit)?"""
    keys = _change_keys(change, service)
    return any(re.search(r"(?<![\w.\-])" + re.escape(k) + r"(?![\w\-])", text, re.I) for k in keys)


def _summary(incident: Incident, s: _Score) -> str:
    what = {
        "bad_deploy": f"The deploy {s.culprit} is the likely cause of {incident.service}'s trouble",
        "config_change": f"The configuration change {s.culprit} is the likely cause of {incident.service}'s trouble",
        "memory_leak": f"{s.target or incident.service} is leaking memory",
        "traffic_surge": f"{incident.service} is overloaded by a surge of traffic",
        "dependency_failure": f"{incident.service} fails because its dependency {s.culprit} is failing",
        "disk_full": f"A disk of {s.target or incident.service} is full",
        "security_event": f"{incident.service} is under a security event: a human must triage it; nothing is "
                          "changed automatically",
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
