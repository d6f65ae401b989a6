"""The deterministic analyzer: scores every root-cause kind from the evidence.

Each hypothesis collects points from independent signals (a change shortly before the
onset, log templates that are new since that change, the shape of the metrics, errors
that name a dependency, authentication-failure patterns) and cites the evidence items
behind every point. The best hypothesis wins only when it is strong and clearly ahead;
otherwise the analyzer abstains with `unknown`, and the plan pages a human.
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from ..models import Evidence, EvidenceItem, Hypothesis, Incident, MetricSummary, RootCause, ServiceCatalog

ABSTAIN_BELOW = 0.4

_MEMORY = re.compile(r"mem|heap|rss|oom", re.I)
_REQUESTS = re.compile(r"request_?count|requests|requestcount|invocations|rps|throughput|hits", re.I)
_LATENCY = re.compile(r"latency|duration|p99|p95|response_?time", re.I)
_CPU = re.compile(r"cpu", re.I)
_ERRORS_4XX = re.compile(r"4xx|401|403|unauthori", re.I)
_WAF = re.compile(r"blocked|waf", re.I)
_DISK = re.compile(r"disk|filesystem|storage|inode|volume", re.I)
_AUTH_FAIL = re.compile(r"authenticat\w* fail|invalid credential|unauthori[sz]ed|\b401\b|forbidden|\b403\b|"
                        r"too many (login )?attempts|brute|blocked by waf|invalid token|signature", re.I)
_MEMORY_LOG = re.compile(r"heap|memory|\brss\b|oom|out of memory|gc overhead|allocation fail", re.I)
_DISK_LOG = re.compile(r"no space left|disk (is )?full|enospc|disk usage|filesystem .* full|quota exceeded", re.I)
_DEPENDENCY_ERROR = re.compile(r"fail|error|timed? ?out|refused|unavailable|5\d\d|reset|unreachable|retry|circuit", re.I)


@dataclass
class _Score:
    kind: str
    culprit: str | None = None
    points: float = 0.0
    evidence: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    def add(self, points: float, reason: str, items: Iterable[EvidenceItem] = ()) -> None:
        self.points += points
        self.reasons.append(reason)
        for item in items:
            if item.id not in self.evidence:
                self.evidence.append(item.id)


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
        if best is None or best.points < ABSTAIN_BELOW:
            return RootCause(kind="unknown", culprit=None, confidence=round(1 - (best.points if best else 0.0), 2) * 0.5,
                             summary=_abstain_summary(incident, best), evidence=best.evidence if best else [],
                             hypotheses=hypotheses)
        confidence = _confidence(best.points, runner_up)
        return RootCause(kind=best.kind, culprit=best.culprit, confidence=confidence,
                         summary=_summary(incident, best), evidence=best.evidence, hypotheses=hypotheses)

    # --- scoring -----------------------------------------------------------------------
    def _score(self, incident: Incident, ev: Evidence) -> list[_Score]:
        items = ev.items
        own_metrics = {i.ref: i for i in items if i.type == "metric" and i.service == incident.service}
        summaries = {f"{m.namespace}/{m.name}": m for m in ev.metrics if m.service == incident.service}
        templates = [i for i in items if i.type == "log_template"]
        own_templates = [i for i in templates if i.service == incident.service]
        alerts = [i for i in items if i.type == "alert"]
        scores: list[_Score] = []

        def metric_items(pattern: re.Pattern[str], shapes: tuple[str, ...] = ("step", "ramp", "spike"),
                         min_ratio: float = 1.0) -> list[tuple[EvidenceItem, MetricSummary]]:
            out = []
            for ref, item in own_metrics.items():
                m = summaries.get(ref)
                if m and pattern.search(m.name) and m.shape in shapes and m.change_ratio >= min_ratio:
                    out.append((item, m))
            return out

        # security event
        sec = _Score("security_event")
        security_alerts = [a for a in alerts if "security" in a.signals]
        deliveries = max(incident.deliveries, 1)
        share = sum(1 for a in incident.alerts if a.category == "security") / deliveries
        if share >= 0.5:
            sec.add(0.45, "most alerts are security alerts", security_alerts)
        elif security_alerts:
            sec.add(0.2, "a security alert fired", security_alerts)
        waf = metric_items(_WAF) + metric_items(_ERRORS_4XX)
        if waf:
            sec.add(0.2, "blocked requests / 4xx responses climbed", [i for i, _ in waf])
        auth = [t for t in own_templates if _AUTH_FAIL.search(t.detail) and "burst" in t.signals]
        if auth:
            sec.add(0.2, "authentication failures surged in the logs", auth)
        scores.append(sec)
        security_strong = sec.points >= 0.6

        # changes: bad deploys and config changes
        onset = ev.onset
        if onset is not None:
            for change_item in (i for i in items if i.type == "change" and i.service == incident.service):
                change = next(c for c in ev.changes if c.id == change_item.ref)
                if change.kind not in ("deploy", "config"):
                    continue
                lead = (onset - change.at).total_seconds() / 60
                if lead < -5 or lead > 360:
                    continue
                s = _Score("bad_deploy" if change.kind == "deploy" else "config_change", culprit=change.id)
                s.add(0.35 * math.exp(-max(lead, 0) / 60), f"{change.kind} {change.id} {max(lead, 0):.0f} min before the onset",
                      [change_item])
                new = [t for t in templates if f"new_since:{change.id}" in t.signals and "burst" in t.signals]
                if new:
                    s.add(0.35, "error log templates that did not exist before the change", new)
                following = [i for i in own_metrics.values()
                             if i.at and timedelta(0) <= i.at - change.at <= timedelta(minutes=45)]
                if following:
                    s.add(0.15, "metrics started to deviate after the change", following)
                if security_strong:
                    s.points -= 0.3
                scores.append(s)

        # memory leak
        mem = _Score("memory_leak")
        ramps = metric_items(_MEMORY, shapes=("ramp", "step"))
        if ramps:
            mem.add(0.55, "memory climbs steadily", [i for i, _ in ramps])
            mem_logs = [t for t in own_templates if _MEMORY_LOG.search(t.detail)]
            if mem_logs:
                mem.add(0.15, "memory warnings in the logs", mem_logs)
            ramp_onset = min(i.at for i, _ in ramps if i.at)
            recent_deploy = [c for c in ev.changes if c.service == incident.service and c.kind == "deploy"
                             and timedelta(0) <= ramp_onset - c.at <= timedelta(minutes=60)]
            if recent_deploy:
                mem.points -= 0.3
                mem.reasons.append(f"but the climb began right after {recent_deploy[-1].id}")
        scores.append(mem)

        # traffic surge
        surge = _Score("traffic_surge")
        load = metric_items(_REQUESTS, min_ratio=1.4)
        if load:
            surge.add(0.5, "request volume rose well above its baseline", [i for i, _ in load])
            strain = metric_items(_LATENCY) + metric_items(_CPU)
            if strain:
                surge.add(0.1, "latency / CPU rose with it", [i for i, _ in strain])
            if security_strong:
                surge.points -= 0.35
                surge.reasons.append("but the traffic looks hostile")
        scores.append(surge)

        # dependency failure
        info = self._catalog.get(incident.service)
        for dep in dict.fromkeys([*incident.suspects, *(info.depends_on if info else [])]):
            s = _Score("dependency_failure", culprit=dep)
            dep_alerts = [a for a in alerts if a.service == dep]
            if dep in incident.suspects and dep_alerts:
                s.add(0.4, f"{dep} alerted in the same window", dep_alerts)
            naming = [t for t in own_templates if "burst" in t.signals and _names(t.detail, dep)
                      and _DEPENDENCY_ERROR.search(t.detail)]
            if naming:
                s.add(0.35, f"errors calling {dep} surged", naming)
            dep_metrics = [i for i in items if i.type == "metric" and i.service == dep]
            if dep_metrics and s.points:
                s.add(0.1, f"{dep}'s own metrics deviate", dep_metrics)
            scores.append(s)

        # disk full
        disk = _Score("disk_full")
        disk_logs = [t for t in templates if _DISK_LOG.search(t.detail)]
        if disk_logs:
            disk.add(0.5, "the logs say the disk is full", disk_logs)
        disk_metrics = metric_items(_DISK, shapes=("ramp", "step", "spike", "drop"))
        if disk_metrics:
            disk.add(0.3, "disk usage / free space moved sharply", [i for i, _ in disk_metrics])
        scores.append(disk)
        return scores


def _names(text: str, service: str) -> bool:
    return re.search(r"(?<![\w-])" + re.escape(service) + r"(?![\w-])", text, re.I) is not None


def _confidence(best: float, runner_up: float) -> float:
    margin = max(best - runner_up, 0.0)
    raw = 0.35 + 0.45 * min(best, 1.0) + 0.35 * min(margin, 0.5)
    return round(min(raw, 0.97), 2)


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


def _abstain_summary(incident: Incident, best: _Score | None) -> str:
    if best is None:
        return f"No hypothesis about {incident.service} is supported by the evidence; a human should look."
    return (f"The evidence is too weak to name a cause for {incident.service} (best guess {best.kind}"
            f"{' ' + best.culprit if best.culprit else ''}, {best.points:.2f}); a human should look.")
