"""Gathering evidence: logs mined into templates, metrics with onsets, recent changes.

Everything the analyzer may cite becomes an `EvidenceItem` with a stable id, so a
diagnosis (deterministic or from a model) can only point at evidence that exists.
"""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..models import ChangeEvent, Evidence, EvidenceItem, Incident, LogTemplateStat, MetricSummary, ServiceCatalog
from ..ports import ChangeSource, LogEvent, LogSource, MetricSource
from . import metrics as metric_analysis
from .logs.miner import TemplateMiner

_ERROR_LEVELS = {"ERROR", "CRITICAL", "FATAL", "WARN"}
_ERROR_WORDS = re.compile(r"exception|error|fail|timed? ?out|refused|denied|unavailable|rejected|traceback|panic|"
                          r"oom|out of memory|no space|too many|invalid|cannot|unable", re.I)


@dataclass
class EvidenceBudget:
    log_lookback: timedelta = timedelta(hours=3)
    change_lookback: timedelta = timedelta(hours=24)
    metric_lookback: timedelta = timedelta(hours=3)
    max_events_per_group: int = 20000
    max_bytes_per_group: int = 8_000_000
    max_template_items: int = 12


@dataclass
class _Mined:
    stats: dict[str, LogTemplateStat] = field(default_factory=dict)
    times: dict[str, list[datetime]] = field(default_factory=dict)
    first_event: datetime | None = None
    lines: int = 0


class EvidenceGatherer:
    def __init__(self, catalog: ServiceCatalog, logs: LogSource, metrics: MetricSource, changes: ChangeSource,
                 budget: EvidenceBudget | None = None):
        self._catalog = catalog
        self._logs = logs
        self._metrics = metrics
        self._changes = changes
        self._budget = budget or EvidenceBudget()

    def services_of(self, incident: Incident) -> list[str]:
        info = self._catalog.get(incident.service)
        deps = info.depends_on if info else []
        return list(dict.fromkeys([incident.service, *incident.suspects, *deps]))

    def gather(self, incident: Incident) -> Evidence:
        b = self._budget
        end = incident.opened_at
        services = self.services_of(incident)
        summaries: list[MetricSummary] = []
        for service in dict.fromkeys([incident.service, *incident.suspects]):
            for series in self._metrics.series_for(service, end - b.metric_lookback, end):
                summaries.append(metric_analysis.summarize(series, until=end))
        own = [s for s in summaries if s.service == incident.service]
        onset = metric_analysis.earliest([s.onset for s in own if metric_analysis.anomalous(s)])
        mined: dict[str, _Mined] = {}
        for service in services:
            info = self._catalog.get(service)
            if info and info.log_group:
                events = self._logs.fetch(info.log_group, end - b.log_lookback, end,
                                          max_events=b.max_events_per_group, max_bytes=b.max_bytes_per_group)
                mined[service] = _mine(service, events)
        if onset is None:
            onset = _log_onset(mined.get(incident.service)) or min((a.received_at for a in incident.alerts), default=end)
        for m in mined.values():
            _split_at(m, onset)
        changes = self._changes.changes(services, end - b.change_lookback, end + timedelta(minutes=1))
        evidence = Evidence(window_start=end - b.log_lookback, window_end=end, onset=onset, changes=changes,
                            metrics=summaries, log_lines_read=sum(m.lines for m in mined.values()))
        evidence.templates = [t for m in mined.values() for t in m.stats.values()]
        evidence.items = _items(incident, evidence, mined, b.max_template_items)
        if not mined:
            evidence.notes.append("no log group is known for the incident's services")
        return evidence


def _mine(service: str, events: list[LogEvent]) -> _Mined:
    miner = TemplateMiner()
    out = _Mined(lines=len(events))
    times: dict[str, list[datetime]] = defaultdict(list)
    levels: dict[str, str] = {}
    for e in events:
        line = miner.add(e.message)
        times[line.template_id].append(e.at)
        if line.level:
            levels.setdefault(line.template_id, line.level.upper())
    for tid, ts in times.items():
        template = miner.template(tid)
        out.stats[tid] = LogTemplateStat(template_id=f"{service}:{tid}", template=template, service=service,
                                         level=_level(levels.get(tid), template), count=len(ts),
                                         first_seen=min(ts), last_seen=max(ts))
        out.times[tid] = ts
    out.first_event = min((e.at for e in events), default=None)
    return out


def _level(level: str | None, template: str) -> str:
    if level in _ERROR_LEVELS:
        return "error" if level != "WARN" else "warn"
    if level is None and _ERROR_WORDS.search(template):
        return "error"
    return (level or "info").lower()


def _split_at(m: _Mined, onset: datetime) -> None:
    for tid, stat in m.stats.items():
        ts = m.times[tid]
        stat.before_onset = sum(1 for t in ts if t < onset)
        stat.after_onset = len(ts) - stat.before_onset


def _log_onset(m: _Mined | None) -> datetime | None:
    """When error lines started to come faster than before, if they did."""
    if m is None:
        return None
    errors = sorted(t for tid, s in m.stats.items() if s.level in ("error", "warn") for t in m.times[tid])
    if len(errors) < 10:
        return None
    # the start of the densest final stretch: the last 60 % of error lines
    return errors[int(len(errors) * 0.4)]


def is_bursting(stat: LogTemplateStat, onset: datetime, window_start: datetime, window_end: datetime) -> bool:
    before_minutes = max((onset - window_start).total_seconds() / 60, 1)
    after_minutes = max((window_end - onset).total_seconds() / 60, 1)
    rate_before = stat.before_onset / before_minutes
    rate_after = stat.after_onset / after_minutes
    return stat.after_onset >= 3 and rate_after >= 3 * rate_before + 0.05


def _items(incident: Incident, ev: Evidence, mined: dict[str, _Mined], max_templates: int) -> list[EvidenceItem]:
    items: list[EvidenceItem] = []

    def add(**kw) -> EvidenceItem:
        item = EvidenceItem(id=f"ev-{len(items) + 1}", **kw)
        items.append(item)
        return item

    by_fp: dict[str, list] = defaultdict(list)
    for a in incident.alerts:
        by_fp[a.fingerprint].append(a)
    for refs in by_fp.values():
        a = refs[0]
        add(type="alert", ref=a.alarm_name or a.fingerprint, service=a.service, at=a.received_at,
            detail=f"{a.source}: {a.title} ({a.category}, {len(refs)} deliveries)", signals=[a.category])
    for c in ev.changes:
        delta = (ev.onset - c.at).total_seconds() / 60 if ev.onset else None
        when = f"{abs(delta):.0f} min {'before' if delta >= 0 else 'after'} onset" if delta is not None else ""
        rev = f" rev {c.previous_revision} -> {c.revision}" if c.revision else ""
        add(type="change", ref=c.id, service=c.service, at=c.at,
            detail=f"{c.kind} of {c.service}{rev} by {c.author or 'unknown'} ({c.source}) {when}".strip(),
            signals=[c.kind])
    for s in ev.metrics:
        if not metric_analysis.anomalous(s):
            continue
        add(type="metric", ref=f"{s.namespace}/{s.name}", service=s.service, at=s.onset,
            detail=f"{s.name} of {s.service}: {s.shape} from {s.baseline:g} to {s.latest:g} (x{s.change_ratio:g})",
            signals=[s.shape, "up" if (s.latest or 0) >= (s.baseline or 0) else "down"])
    ranked = []
    for service, m in mined.items():
        for stat in m.stats.values():
            if stat.level not in ("error", "warn"):
                continue
            signals = []
            if ev.onset and is_bursting(stat, ev.onset, m.first_event or ev.window_start, ev.window_end):
                signals.append("burst")
            for c in ev.changes:
                if c.service == service and m.first_event and m.first_event < c.at - timedelta(minutes=10) \
                        and stat.first_seen and stat.first_seen >= c.at:
                    signals.append(f"new_since:{c.id}")
            if not signals:
                continue
            ranked.append((("burst" in signals) + len(signals) * 0.1 + stat.after_onset / 1000, service, stat, signals))
    ranked.sort(key=lambda r: -r[0])
    for _, service, stat, signals in ranked[:max_templates]:
        add(type="log_template", ref=stat.template_id, service=service, at=stat.first_seen,
            detail=f"{service}: \"{stat.template[:160]}\" x{stat.count} ({stat.before_onset} before onset, "
                   f"{stat.after_onset} after)", signals=signals)
    return items
