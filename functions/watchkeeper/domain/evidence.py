"""Gathering evidence: logs mined into templates, metrics with onsets, recent changes.

Everything the analyzer may cite becomes an `EvidenceItem` with a stable id, so a
diagnosis (deterministic or from a model) can only point at evidence that exists.
"""
from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..models import Evidence, EvidenceItem, Incident, LogTemplateStat, MetricSummary, ServiceCatalog
from ..ports import (
    ChangeSource, IncidentMemory, LogEvent, LogSource, MetricSource, TemplateHistory, TemplateStateStore,
)

try:  # the cluster port is optional: only Kubernetes workloads have pods to look at
    from ..ports import ClusterStateSource
except ImportError:  # pragma: no cover
    ClusterStateSource = object  # type: ignore[misc,assignment]
from . import memory as incident_memory
from . import metrics as metric_analysis
from .diagnose import _AUTH_FAIL
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
    max_template_items: int = 12            # templates of the incident's own service
    max_dependency_templates: int = 4       # templates of each other service
    max_chain_depth: int = 3                # dependencies of dependencies, this many hops down
    max_services: int = 10
    new_template_after_change: timedelta = timedelta(minutes=45)
    recurring_after: timedelta = timedelta(hours=24)


@dataclass
class _Mined:
    stats: dict[str, LogTemplateStat] = field(default_factory=dict)
    times: dict[str, list[datetime]] = field(default_factory=dict)
    samples: dict[str, str] = field(default_factory=dict)
    traces: dict[str, list[str]] = field(default_factory=dict)   # template id -> the stack trace that followed it
    first_event: datetime | None = None
    lines: int = 0
    miner: TemplateMiner | None = None
    history: dict[str, dict] | None = None    # template id -> what earlier incidents saw; None: no history


class EvidenceGatherer:
    def __init__(self, catalog: ServiceCatalog, logs: LogSource, metrics: MetricSource, changes: ChangeSource,
                 budget: EvidenceBudget | None = None, cluster: "ClusterStateSource | None" = None,
                 templates: TemplateStateStore | None = None, memory: "IncidentMemory | None" = None):
        self._catalog = catalog
        self._cluster = cluster
        self._logs = logs
        self._metrics = metrics
        self._changes = changes
        self._budget = budget or EvidenceBudget()
        self._templates = templates
        self._memory = memory

    def services_of(self, incident: Incident) -> list[str]:
        """The incident's service, its suspects, and its dependencies down the chain (breadth first, bounded):
        a failure two hops down is diagnosed from that service's own evidence."""
        out = list(dict.fromkeys([incident.service, *incident.suspects]))
        frontier = list(out)
        for _ in range(self._budget.max_chain_depth):
            nxt = []
            for name in frontier:
                info = self._catalog.get(name)
                for dep in (info.depends_on if info else []):
                    if dep not in out and len(out) < self._budget.max_services:
                        out.append(dep)
                        nxt.append(dep)
            frontier = nxt
        return out

    def gather(self, incident: Incident) -> Evidence:
        b = self._budget
        end = incident.opened_at
        services = self.services_of(incident)
        summaries: list[MetricSummary] = []
        missing: list[str] = []
        for service in services:
            found = self._metrics.series_for(service, end - b.metric_lookback, end)
            if not found:
                missing.append(f"metrics:{service}")
            for series in found:
                summaries.append(metric_analysis.summarize(series, until=end))
        own = [s for s in summaries if s.service == incident.service]
        onset = metric_analysis.earliest([s.onset for s in own if metric_analysis.anomalous(s)])
        mined: dict[str, _Mined] = {}
        notes: list[str] = []
        for service in services:
            info = self._catalog.get(service)
            if info and info.log_group:
                events = self._logs.fetch(info.log_group, end - b.log_lookback, end,
                                          max_events=b.max_events_per_group, max_bytes=b.max_bytes_per_group)
                if not events:
                    missing.append(f"logs:{service}")
                miner, history = self._load_templates(service, incident.id, notes)
                mined[service] = _mine(service, events, miner)
                mined[service].history = history
            else:
                missing.append(f"logs:{service}")
        if onset is None:
            onset = _log_onset(mined.get(incident.service)) or min((a.received_at for a in incident.alerts), default=end)
        for m in mined.values():
            _split_at(m, onset)
        changes = self._changes.changes(services, end - b.change_lookback, end + timedelta(minutes=1))
        evidence = Evidence(window_start=end - b.log_lookback, window_end=end, onset=onset, changes=changes,
                            metrics=summaries, log_lines_read=sum(m.lines for m in mined.values()), missing=missing)
        evidence.onsets = _service_onsets(services, summaries, mined)
        evidence.templates = [t for m in mined.values() for t in m.stats.values()]
        evidence.items = _items(incident, evidence, mined, b.max_template_items, b.new_template_after_change,
                                b.recurring_after, b.max_dependency_templates)
        evidence.items += self._cluster_items(incident, len(evidence.items))
        evidence.fingerprint = incident_memory.fingerprint(evidence, incident.service)
        evidence.items += self._history_items(incident, evidence, notes)
        self._save_templates(incident, mined, notes)
        evidence.notes += notes
        if not mined:
            evidence.notes.append("no log group is known for the incident's services")
        return evidence

    def _load_templates(self, service: str, incident_id: str, notes: list[str]
                        ) -> tuple[TemplateMiner, dict[str, dict] | None]:
        """The service's miner as earlier incidents left it (stable template ids), and what they saw."""
        if self._templates is None:
            return TemplateMiner(), None
        try:
            saved = self._templates.load(service)
            if saved is None:
                return TemplateMiner(), None
            miner = TemplateMiner.from_state(saved.miner_state) if saved.miner_state else None
        except Exception as exc:  # history is context: without it every template is simply unknown
            notes.append(f"template history of {service} unavailable: {type(exc).__name__}")
            return TemplateMiner(), None
        if miner is None:   # no miner state, so the ids in `seen` would not match this miner's
            return TemplateMiner(), None
        # a retry of this incident's step must not count its own first pass as an earlier incident
        return miner, {t: r for t, r in (saved.seen or {}).items()
                       if not (r.get("last_incident") == incident_id and int(r.get("seen_incidents", 0)) <= 1)}

    def _save_templates(self, incident: Incident, mined: dict[str, _Mined], notes: list[str]) -> None:
        if self._templates is None:
            return
        for service, m in mined.items():
            if m.miner is None:
                continue
            seen = dict(m.history or {})
            for tid, stat in m.stats.items():
                record = dict(seen.get(tid) or {})
                first, last = stat.first_seen.isoformat(), stat.last_seen.isoformat()
                record["first_seen"] = min(record.get("first_seen", first), first)
                record["last_seen"] = max(record.get("last_seen", last), last)
                if record.get("last_incident") != incident.id:
                    record["seen_incidents"] = int(record.get("seen_incidents", 0)) + 1
                    record["last_incident"] = incident.id
                seen[tid] = record
            try:
                notes += self._templates.save(service, TemplateHistory(miner_state=m.miner.state_bytes(), seen=seen))
            except Exception as exc:
                notes.append(f"template history of {service} not saved: {type(exc).__name__}")


    def _history_items(self, incident: Incident, evidence: Evidence, notes: list[str]) -> list[EvidenceItem]:
        """Similar incidents this account handled before, and what people said of them."""
        if self._memory is None:
            return []
        try:
            past = self._memory.recall(incident.service)
        except Exception as exc:  # memory is context: without it the diagnosis stands on today's evidence
            notes.append(f"incident memory of {incident.service} unavailable: {type(exc).__name__}")
            return []
        matches = incident_memory.similar(evidence.fingerprint, past, incident.id)
        item = incident_memory.history_item(f"ev-{len(evidence.items) + 1}", incident.service, matches)
        return [item] if item else []

    def _cluster_items(self, incident: Incident, numbered: int) -> list[EvidenceItem]:
        """Pods of the incident's workload that restarted, and why (OOMKilled, Error)."""
        info = self._catalog.get(incident.service)
        if self._cluster is None or info is None or info.platform != "eks":
            return []
        try:
            state = self._cluster.workload_state(info)
        except Exception as exc:  # the cluster is context, never a reason to fail the step
            return [EvidenceItem(id=f"ev-{numbered + 1}", type="cluster", ref=info.target, service=info.name,
                                 detail=f"cluster state unavailable: {type(exc).__name__}", signals=["unavailable"])]
        if not state:
            return []
        pods = state.get("pods") or []
        restarted = [p for p in pods if int(p.get("restarts") or 0) > 0]
        items = []
        if restarted:
            reasons = sorted({p.get("last_termination_reason") or "unknown" for p in restarted})
            restarts = sum(int(p.get("restarts") or 0) for p in restarted)
            signals = ["restarts"] + [f"terminated:{r}" for r in reasons]
            items.append(EvidenceItem(
                id=f"ev-{numbered + len(items) + 1}", type="cluster", ref=f"{info.target}/pods", service=info.name,
                detail=f"{len(restarted)}/{len(pods)} pods of {info.name} restarted ({restarts} restarts; last "
                       f"terminated: {', '.join(reasons)}); ready {state.get('ready')}/{state.get('replicas')}",
                signals=signals))
        return items


# access-log lines answered "who are you?" (401, 407) or "not you" (403): their own template, so a surge of them
# shows however the access log's format masks the status
_AUTH_STATUSES = {401: "unauthorized", 403: "forbidden", 407: "proxy authentication required"}


def _mine(service: str, events: list[LogEvent], miner: TemplateMiner | None = None) -> _Mined:
    miner = miner or TemplateMiner()
    out = _Mined(lines=len(events), miner=miner)
    times: dict[str, list[datetime]] = defaultdict(list)
    levels: dict[str, str] = {}
    base: dict[str, tuple[str, int | None]] = {}
    head: tuple[str, datetime] | None = None      # the event a stack trace's lines belong to
    trace: list[str] = []
    for e in events:
        line = miner.add(e.message)
        tid, level = line.template_id, line.level
        if line.status in _AUTH_STATUSES:
            tid = f"{tid}~{line.status}"
            level = level if level and level.upper() in _ERROR_LEVELS else "WARN"
        # a multi-line stack trace is one event per line with the same timestamp: its lines (no level of their
        # own) are kept as the context of the event that began it, so what the trace names is seen there
        if head is not None and e.at == head[1] and line.level is None and tid != head[0]:
            if len(trace) < 8:
                trace.append(" ".join(e.message.split())[:160])
        else:
            if head is not None and trace:
                out.traces[head[0]] = trace
            head, trace = (tid, e.at), []
        base.setdefault(tid, (line.template_id, line.status if line.status in _AUTH_STATUSES else None))
        times[tid].append(e.at)
        out.samples[tid] = e.message
        if level:
            levels.setdefault(tid, level.upper())
    if head is not None and trace:
        out.traces[head[0]] = trace
    for tid, ts in times.items():
        template_id, status = base[tid]
        template = miner.template(template_id)
        if status is not None:
            template = f"{template} [HTTP {status} {_AUTH_STATUSES[status]}]"
        out.stats[tid] = LogTemplateStat(template_id=f"{service}:{tid}", template=template, service=service,
                                         level=_level(levels.get(tid), template), count=len(ts),
                                         first_seen=min(ts), last_seen=max(ts))
        out.times[tid] = ts
    out.first_event = min((e.at for e in events), default=None)
    return out


def _level(level: str | None, template: str) -> str:
    if level in _ERROR_LEVELS:
        return "error" if level != "WARN" else "warn"
    if level in (None, "INFO", "NOTICE") and _AUTH_FAIL.search(template):
        return "warn"      # ASP.NET logs a rejected token at Information: a failed sign-in is a warning to us
    if level is None and _ERROR_WORDS.search(template):
        return "error"
    return (level or "info").lower()


def _split_at(m: _Mined, onset: datetime) -> None:
    for tid, stat in m.stats.items():
        ts = m.times[tid]
        stat.before_onset = sum(1 for t in ts if t < onset)
        stat.after_onset = len(ts) - stat.before_onset


def error_timeline(m: _Mined, bucket: timedelta = timedelta(minutes=1)) -> list[tuple[datetime, int]]:
    """Error and warning lines per minute, from the first event to the last."""
    errors = sorted(t for tid, s in m.stats.items() if s.level in ("error", "warn") for t in m.times[tid])
    if not errors or m.first_event is None:
        return []
    start = m.first_event.replace(second=0, microsecond=0)
    n = int((errors[-1] - start) / bucket) + 1
    counts = [0] * n
    for t in errors:
        counts[int((t - start) / bucket)] += 1
    return [(start + i * bucket, c) for i, c in enumerate(counts)]


def _log_onset(m: _Mined | None) -> datetime | None:
    """When error lines started to come faster than before (a Poisson change point), if they did."""
    if m is None:
        return None
    timeline = error_timeline(m)
    total = sum(c for _, c in timeline)
    if total < 10 or len(timeline) < 6:
        return None
    best, best_gain = None, 0.0
    prefix = 0
    for k in range(1, len(timeline)):
        prefix += timeline[k - 1][1]
        before_n, after_n = prefix, total - prefix
        before_t, after_t = k, len(timeline) - k
        r0, r1 = (before_n + 0.5) / before_t, after_n / after_t
        if r1 < 3 * r0 or after_n < 5:
            continue
        r = total / len(timeline)
        gain = (before_n * math.log((before_n + 1e-9) / before_t / r) if before_n else 0.0) + \
            after_n * math.log(after_n / after_t / r)
        if gain > best_gain:
            best, best_gain = timeline[k][0], gain
    return best if best_gain >= 8 else None


def is_bursting(stat: LogTemplateStat, onset: datetime, window_start: datetime, window_end: datetime) -> bool:
    before_minutes = max((onset - window_start).total_seconds() / 60, 1)
    after_minutes = max((window_end - onset).total_seconds() / 60, 1)
    rate_before = stat.before_onset / before_minutes
    rate_after = stat.after_onset / after_minutes
    return stat.after_onset >= 3 and rate_after >= 3 * rate_before + 0.05


def recurring_days(record: dict | None, window_start: datetime, window_end: datetime,
                   after: timedelta = timedelta(hours=24)) -> int | None:
    """Whole days a template has been around, when an earlier incident saw it more than `after`
    before this window; None when it is not recurring."""
    if not record or not record.get("first_seen"):
        return None
    first = datetime.fromisoformat(record["first_seen"])
    if first > window_start - after:
        return None
    return max(1, int((window_end - first) / timedelta(days=1)))


def _service_onsets(services: list[str], summaries: list[MetricSummary], mined: dict[str, _Mined]
                    ) -> dict[str, datetime]:
    """When each service's own trouble began: its earliest deviating metric, else its error logs' change point."""
    out: dict[str, datetime] = {}
    for service in services:
        found = metric_analysis.earliest([s.onset for s in summaries if s.service == service and metric_analysis.anomalous(s)
                                          and not _quiet_metric(s)])
        found = found or _log_onset(mined.get(service))
        if found is not None:
            out[service] = found
    return out


def _quiet_metric(s: MetricSummary) -> bool:
    """A metric that fell (traffic, throughput) says a service is starved, not that it failed on its own."""
    return s.shape == "drop"


def _rate_ratio(stat: LogTemplateStat, onset: datetime, window_start: datetime, window_end: datetime) -> float:
    before_minutes = max((onset - window_start).total_seconds() / 60, 1)
    after_minutes = max((window_end - onset).total_seconds() / 60, 1)
    return (stat.after_onset / after_minutes) / max(stat.before_onset / before_minutes, 0.02)


def _items(incident: Incident, ev: Evidence, mined: dict[str, _Mined], max_templates: int,
           new_after: timedelta = timedelta(minutes=45), recurring_after: timedelta = timedelta(hours=24),
           max_other_templates: int = 4) -> list[EvidenceItem]:
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
            detail=f"{a.source}: {a.title} ({a.category}, {sum(r.count for r in refs)} deliveries)", signals=[a.category])
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
        span_start = m.first_event or ev.window_start
        for tid, stat in m.stats.items():
            if stat.level not in ("error", "warn"):
                continue
            signals = []
            onset = ev.onsets.get(service) or ev.onset
            if onset and is_bursting(stat, onset, span_start, ev.window_end):
                signals.append("burst")
                signals.append(f"rate_x{min(_rate_ratio(stat, onset, span_start, ev.window_end), 999):.0f}")
            # new: never seen in the first fifth of what was read
            if stat.first_seen and stat.first_seen - span_start > (ev.window_end - span_start) / 5:
                signals.append("new")
            # new since a change: absent before it (with history to tell), first seen soon after it; of two
            # changes, the template belongs to the last one before it appeared
            since = [c for c in ev.changes if c.service == service and c.kind in ("deploy", "config")
                     and span_start < c.at - timedelta(minutes=10) and stat.first_seen
                     and c.at <= stat.first_seen <= c.at + new_after]
            if since:
                signals.append(f"new_since:{max(since, key=lambda c: c.at).id}")
            # around long before the trouble began: rising or not, it is not what changed
            if onset and stat.before_onset >= 3 and stat.first_seen and onset - stat.first_seen >= timedelta(minutes=30):
                signals = [s for s in signals if s != "new" and not s.startswith("new_since:")]
                if signals:
                    signals.append("recurring")
            if m.history is not None:
                days = recurring_days(m.history.get(tid), ev.window_start, ev.window_end, recurring_after)
                if days is not None:
                    # seen days ago: neither new in this window nor new since a change
                    signals = [s for s in signals if s != "new" and not s.startswith("new_since:")]
                    if signals:
                        signals = [s for s in signals if s != "recurring"] + ["recurring", f"recurring_for_days:{days}"]
                elif tid not in m.history and "new" not in signals:
                    signals.append("new")        # never seen in any earlier incident
            if not signals or signals == ["new"] and stat.count < 3:
                continue
            ranked.append((("burst" in signals) - 0.5 * ("recurring" in signals) + len(signals) * 0.1
                           + stat.after_onset / 1000, service, tid, stat, signals))
    ranked.sort(key=lambda r: -r[0])
    kept: dict[str, int] = defaultdict(int)
    chosen = []
    for row in ranked:
        cap = max_templates if row[1] == incident.service else max_other_templates
        if kept[row[1]] < cap:
            kept[row[1]] += 1
            chosen.append(row)
    for _, service, tid, stat, signals in chosen:
        sample = " ".join(mined[service].samples.get(tid, "").split())[:240]
        trace = " / ".join(mined[service].traces.get(tid, []))[:300]
        add(type="log_template", ref=stat.template_id, service=service, at=stat.first_seen,
            detail=f"{service}: \"{stat.template[:160]}\" x{stat.count} ({stat.before_onset} before onset, "
                   f"{stat.after_onset} after); e.g. {sample}" + (f"; trace: {trace}" if trace else ""), signals=signals)
    return items
