"""Classification: which service an alert is about, its symptom class and severity.

Structured fields (metric namespace and name, dimensions, labels, tags) are read first;
free text (alarm names, titles, descriptions) only when they say nothing.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from ..models.alerts import SECURITY_SOURCES, Alert, Category, Severity
from ..models.catalog import ServiceCatalog

# Symptom classes, most specific first: a WAF alarm about "traffic" is security, not load.
_CATEGORY_PATTERNS: tuple[tuple[Category, re.Pattern[str]], ...] = (
    ("security", re.compile(r"waf|blockedrequests|unauthori[sz]ed|\b401\b|\b403\b|forbidden|brute|credential|"
                            r"suspicious|auth(entication|ori[sz]ation)?[ _-]?(fail|error|denied|reject)|login[ _-]?(fail|error|reject)|"
                            r"intrusion|guardduty|securityhub|access[ _-]?denied|credential[ _-]?stuffing|"
                            r"token[ _-]?(reject|invalid)|invalid[ _-]?token|scrap(ing|er)|bot[ _-]?traffic", re.I)),
    ("deployment", re.compile(r"rollout|progressdeadline|deployment[ _-]?(stuck|failed)|replicas?[ _-]?unavailable|"
                              r"crashloop|imagepull", re.I)),
    ("resource", re.compile(r"mem(ory)?|oom|heap|\bgc\b|swap|cpu|disk|filesystem|inode|volume|storage|"
                            r"freeable|throttl", re.I)),
    ("availability", re.compile(r"5xx|\b50[0-4]\b(?!\s*(ms|milliseconds|msec)\b)|error[ _-]?rate|errors?\b|fault|"
                                r"health|unhealthy|availability|\bdown\b|unreachable|statuscheck|fail(ed|ures?|ing)\b|"
                                r"success[ _-]?rate|dropped|\bdrops?\b|dead[ _-]?letter|\bdlq\b", re.I)),
    ("performance", re.compile(r"latency|p9[059]|p50|duration|response[ _-]?time|slow|request[ _-]?(count|rate)|"
                               r"requests|traffic|throughput|rps|queue[ _-]?depth|backlog|saturation", re.I)),
)


def alert_category(alert: Alert) -> Category:
    """The symptom class of one alert. A GuardDuty or Security Hub finding is security, whatever it says."""
    if alert.source in SECURITY_SOURCES:
        return "security"
    for text in (_metric_text(alert), alert.title, alert.labels.get("alertname", ""), alert.description[:300]):
        if not text:
            continue
        for category, pattern in _CATEGORY_PATTERNS:
            if pattern.search(text):
                return category
    return "unknown"


def _metric_text(alert: Alert) -> str:
    return " ".join(x for x in (alert.metric_namespace if alert.metric_namespace in ("AWS/WAFV2",) else None,
                                alert.metric_name) if x)


def incident_category(categories: Iterable[str]) -> Category:
    """The most common symptom class among an incident's alert deliveries (ties: first seen)."""
    counts = Counter(c for c in categories if c != "unknown")
    if not counts:
        return "unknown"
    best = max(counts.values())
    return next(c for c in counts if counts[c] == best)  # type: ignore[return-value]


_SEVERITY_WORDS: dict[str, Severity] = {
    "p1": "critical", "sev1": "critical", "critical": "critical", "high": "high", "error": "high",
    "p2": "high", "sev2": "high", "p3": "warning", "warning": "warning", "warn": "warning", "medium": "warning",
    "p4": "info", "p5": "info", "low": "info", "info": "info",
}
_RANK: dict[Severity, int] = {"info": 0, "warning": 1, "high": 2, "critical": 3}


def severity(priorities: Iterable[str | None], alert_count: int) -> Severity:
    """The highest priority any source gave, raised by how many alerts fired together."""
    found = [_SEVERITY_WORDS.get((p or "").strip().lower()) for p in priorities]
    level: Severity = max((s for s in found if s), key=_RANK.__getitem__, default="warning")
    if alert_count >= 10:
        return "critical"
    if alert_count >= 5 and _RANK[level] < _RANK["high"]:
        return "high"
    return level


# --- service resolution ----------------------------------------------------------------

_NOISE = {"prod", "production", "prd", "staging", "stg", "dev", "live", "alarm", "alert", "ok", "high", "low",
          "p99", "p95", "p90", "p50", "5xx", "4xx", "error", "errors", "rate", "latency", "cpu", "memory", "mem",
          "utilization", "usage", "disk", "in", "us", "east", "west", "n", "virginia", "on", "of", "the",
          "tg", "targetgroup", "app", "alb", "nlb", "unhealthy", "hosts", "health", "check", "is", "for"}
_GENERIC = {"api", "svc", "service", "worker", "app", "bff", "db", "cache", "web", "server"}
_TOKEN = re.compile(r"[a-z0-9]+")


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


class ServiceResolver:
    """Maps the names monitors use onto the service catalog, tolerantly.

    `checkout-api-prod-p99`, `service:checkout-api`, `Checkout API (prod)` and the target
    group `targetgroup/checkout-tg/...` all name `checkout-api`.
    """

    def __init__(self, catalog: ServiceCatalog):
        self._exact: dict[str, str] = {}
        self._names: list[str] = []
        self._stems: dict[str, set[str]] = {}
        self._prefixes: dict[str, set[str]] = {}
        for s in catalog.services:
            self._names.append(s.name)
            for alias in [s.name, *s.aliases, s.workload or ""]:
                if alias:
                    self._exact.setdefault(alias.lower(), s.name)
                    self._exact.setdefault("-".join(_tokens(alias)), s.name)
            core = [t for t in _tokens(s.name) if t not in _GENERIC] or _tokens(s.name)
            self._stems.setdefault("-".join(core), set()).add(s.name)
            # the leading words of a name: a pager's "Edge" service is `edge-proxy` when nothing else starts so
            for n in range(1, len(core)):
                self._prefixes.setdefault("-".join(core[:n]), set()).add(s.name)
        self._text_pattern = (
            re.compile(r"(?<![a-z0-9-])(" + "|".join(sorted((re.escape(n.lower()) for n in self._names), key=len, reverse=True)) + r")(?![a-z0-9-])")
            if self._names else None
        )
        self._cache: dict[str, str | None] = {}

    def resolve_one(self, hint: str) -> str | None:
        if hint in self._cache:
            return self._cache[hint]
        found = self._resolve(hint)
        self._cache[hint] = found
        return found

    def _resolve(self, hint: str) -> str | None:
        low = hint.strip().lower()
        if not low:
            return None
        if low in self._exact:
            return self._exact[low]
        if self._text_pattern is not None:
            m = self._text_pattern.search(low)
            if m:
                return self._exact[m.group(1)]
        tokens = _tokens(low)
        # the longest run of leading meaningful tokens that names a catalog service
        words = [t for t in tokens if t not in _NOISE]
        for n in range(len(words), 0, -1):
            for i in range(0, len(words) - n + 1):
                key = "-".join(words[i:i + n])
                if key in self._exact:
                    return self._exact[key]
                stem = self._stems.get(key)
                if stem and len(stem) == 1:
                    return next(iter(stem))
        # a hint that is only the leading words of one service's name (and of no other, nor a name itself)
        if 0 < len(words) <= 2:
            key = "-".join(words)
            owners = self._prefixes.get(key, set())
            if len(owners) == 1 and key not in self._stems:
                return next(iter(owners))
        return None

    def resolve(self, alert: Alert) -> str | None:
        """The catalog service an alert is about, or its best raw hint when none matches."""
        for hint in alert.service_hints:
            found = self.resolve_one(hint)
            if found:
                return found
        for text in (alert.title, alert.description[:300]):
            found = self.resolve_one(text) if text else None
            if found:
                return found
        return _fallback_name(alert)


def _fallback_name(alert: Alert) -> str | None:
    for hint in alert.service_hints:
        words = [t for t in _tokens(hint) if t not in _NOISE]
        if words:
            return "-".join(words[:3])
    return None
