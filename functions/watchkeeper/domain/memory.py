"""Incident memory, the pure part: fingerprints, similarity, and what the past says.

An incident's fingerprint is the set of what it looked like: the log templates that were
new or bursting (their text, numbers masked) and the roles of the metrics that moved
(``metric:errors:up``, ``metric:memory:ramp``). Two incidents of one service are similar
when their fingerprints overlap enough (Jaccard). The past is surfaced as one evidence
item ("3 similar incidents since 2026-03-02; rollback_deployment fixed 2"), with signals
the analyzer reads: the root causes people confirmed or corrected.
"""
from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable

from ..models import Evidence, EvidenceItem, PastIncident

MIN_SIMILARITY = 0.3
_TEMPLATE = re.compile(r'"(.*?)" x\d+ ')
_ROLES = (("errors", re.compile(r"5xx|5\d\d|error|fault|fail|exception|unhealthy", re.I)),
          ("auth", re.compile(r"401|403|4xx|unauthori|forbidden|denied|blocked|waf|login|signin", re.I)),
          ("latency", re.compile(r"latency|duration|p9\d|response_?time|elapsed|_ms\b", re.I)),
          ("memory", re.compile(r"mem|heap|rss|oom", re.I)),
          ("cpu", re.compile(r"cpu", re.I)),
          ("disk", re.compile(r"disk|filesystem|storage|inode|volume", re.I)),
          ("load", re.compile(r"request|invocation|traffic|throughput|count", re.I)))


def fingerprint(evidence: Evidence, service: str) -> list[str]:
    """What the incident on `service` looked like, as a sorted list of short signatures."""
    out: set[str] = set()
    for item in evidence.items:
        if item.service != service:
            continue
        if item.type == "log_template" and ("burst" in item.signals or "new" in item.signals):
            m = _TEMPLATE.search(item.detail)
            text = re.sub(r"\d+", "#", m.group(1) if m else item.ref).lower()
            out.add("log:" + hashlib.sha256(text.encode()).hexdigest()[:12])
        elif item.type == "metric":
            name = item.ref.rsplit("/", 1)[-1]
            role = next((r for r, p in _ROLES if p.search(name)), "other")
            shape = next((s for s in item.signals if s in ("step", "ramp", "spike", "drop")), "moved")
            out.add(f"metric:{role}:{shape}")
    return sorted(out)


def similarity(a: Iterable[str], b: Iterable[str]) -> float:
    a, b = set(a), set(b)
    return len(a & b) / len(a | b) if a and b else 0.0


def similar(current: list[str], past: list[PastIncident], incident_id: str,
            threshold: float = MIN_SIMILARITY) -> list[PastIncident]:
    """Past incidents of the service that looked like this one (never this incident itself)."""
    return [p for p in past if p.incident_id != incident_id and similarity(current, p.fingerprint) >= threshold]


def history_item(item_id: str, service: str, matches: list[PastIncident]) -> EvidenceItem | None:
    """One evidence item that summarizes the similar past incidents, or None when there are none."""
    if not matches:
        return None
    since = min(p.opened_at for p in matches)
    causes = Counter(p.true_root_cause for p in matches)
    fixed = Counter(a for p in matches if p.outcome == "mitigated" for a in p.actions[:1])
    corrected = [p for p in matches if p.corrected_root_cause and p.corrected_root_cause != p.root_cause]
    parts = [f"{len(matches)} similar incident{'s' if len(matches) != 1 else ''} of {service} since "
             f"{since:%Y-%m-%d}"]
    parts += [f"{action} fixed {n}" for action, n in fixed.most_common(2)]
    parts.append("root causes: " + ", ".join(f"{k} x{n}" for k, n in causes.most_common(3)))
    if corrected:
        parts.append(f"approvers corrected {len(corrected)}: "
                     + ", ".join(f"{p.root_cause} -> {p.corrected_root_cause}" for p in corrected[:3]))
    signals = [f"similar:{len(matches)}"]
    signals += [f"cause:{k}:{n}" for k, n in causes.items()]
    signals += [f"corrected:{p.root_cause}:{p.corrected_root_cause}" for p in corrected]
    signals += [f"fixed_by:{a}:{n}" for a, n in fixed.items()]
    return EvidenceItem(id=item_id, type="history", ref=f"memory/{service}", service=service,
                        at=max(p.opened_at for p in matches), detail="; ".join(parts), signals=signals)


def past_verdict(item: EvidenceItem | None, kind: str) -> tuple[int, int, int]:
    """(similar incidents, of them with this root cause, of them corrected away from it) from a history item."""
    if item is None:
        return 0, 0, 0
    total = same = away = 0
    for s in item.signals:
        parts = s.split(":")
        if parts[0] == "similar":
            total = int(parts[1])
        elif parts[0] == "cause" and parts[1] == kind:
            same = int(parts[2])
        elif parts[0] == "corrected" and parts[1] == kind and parts[2] != kind:
            away += 1
    return total, same, away
