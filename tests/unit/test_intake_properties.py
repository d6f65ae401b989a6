"""Property tests: no payload, however broken, makes a parser or a batch do anything but
return alerts or quarantine it with a reason."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from watchkeeper.domain.ingest import GroupCommit, IncidentView, Ingestor
from watchkeeper.domain.intake import InvalidAlert, parse_delivery
from watchkeeper.models import Service, ServiceCatalog
from watchkeeper.models.alerts import ALERT_SOURCES, Alert

from ..conftest import bundle_dirs

import yaml

_RAW = [a for p in bundle_dirs() for a in yaml.load((p / "scenario.yaml").read_text(), Loader=yaml.CSafeLoader)["alerts"]]
_EXAMPLES = [(a["source"], a["payload"]) for a in _RAW]
_GOOD = [(a["source"], a["payload"], "2026-02-11T21:54:00Z") for a in _RAW][:20]
NOW = datetime(2026, 2, 11, 21, 53, tzinfo=timezone.utc)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20)


def _parses_or_refuses(source, payload) -> list[Alert]:
    try:
        alerts = parse_delivery(source, payload, NOW)
    except InvalidAlert as exc:
        assert str(exc)
        return []
    assert all(isinstance(a, Alert) and a.fingerprint and a.delivery_id for a in alerts)
    return alerts


@SETTINGS
@given(source=st.sampled_from(ALERT_SOURCES + ("nagios",)), payload=json_values)
def test_arbitrary_json_is_parsed_or_refused(source, payload):
    _parses_or_refuses(source, payload)


@SETTINGS
@given(example=st.sampled_from(_EXAMPLES), cut=st.floats(min_value=0, max_value=1))
def test_truncated_bodies_are_refused_with_a_reason(example, cut):
    source, payload = example
    text = json.dumps(payload)
    truncated = text[: int(len(text) * cut)]
    if truncated == text:
        return
    with pytest.raises(InvalidAlert):
        parse_delivery(source, truncated, NOW)


def _paths(value, prefix=()):
    if isinstance(value, dict):
        for k, v in value.items():
            yield prefix + (k,)
            yield from _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield prefix + (i,)
            yield from _paths(v, prefix + (i,))


@SETTINGS
@given(data=st.data(), example=st.sampled_from(_EXAMPLES), junk=json_values)
def test_wrong_types_anywhere_are_parsed_or_refused(data, example, junk):
    source, payload = example
    payload = json.loads(json.dumps(payload))
    paths = list(_paths(payload))
    path = data.draw(st.sampled_from(paths))
    target = payload
    for p in path[:-1]:
        target = target[p]
    target[path[-1]] = junk
    _parses_or_refuses(source, payload)
    if source == "cloudwatch-sns" and isinstance(payload.get("Message"), str):
        message = payload["Message"]
        payload["Message"] = message[: data.draw(st.integers(0, max(0, len(message) - 1)))]
        _parses_or_refuses(source, payload)


class MemoryStore:
    """The placement port in memory, with the adapter's conditional semantics."""

    def __init__(self):
        self.pointers: dict[str, str] = {}
        self.heads = {}
        self.alerts: dict[str, dict[str, object]] = {}
        self.quarantined = []
        self.pending: set[str] = set()

    def read_view(self, services, view: IncidentView) -> None:
        for s in services:
            view.pointers.setdefault(s, self.pointers.get(s))
            view.stored.setdefault(s, self.pointers.get(s))
        for i in list(view.pointers.values()) + [h.merged_into for h in list(view.heads.values())]:
            while i and i not in view.heads and i in self.heads:
                view.heads[i] = self.heads[i].copy()
                i = view.heads[i].merged_into

    def commit(self, group: GroupCommit) -> bool:
        for h in group.heads:
            stored = self.heads.get(h.id)
            if (stored.version if stored else 0) != h.version:
                return False
        for i, v in group.checks:
            if i in self.heads and self.heads[i].version != v:
                return False
        for s, (_, seen) in group.pointers.items():
            if self.pointers.get(s) != seen:
                return False
        for h in group.heads:
            stored = h.copy()
            stored.version += 1
            self.heads[h.id] = stored
        for s, (i, _) in group.pointers.items():
            self.pointers[s] = i
        self.pending |= set(group.new_incidents)
        return True

    def mark_started(self, incident_id):
        if incident_id in self.heads:
            self.heads[incident_id].started = True
        self.pending.discard(incident_id)

    def write_alerts(self, batch_key, alerts):
        for incident_id, pairs in alerts.items():
            self.alerts.setdefault(incident_id, {}).update(dict(pairs))

    def quarantine_many(self, items):
        self.quarantined += items

    def deliveries(self, incident_id):
        ids = [incident_id] + self.heads[incident_id].absorbed
        return sum(len(self.alerts.get(i, {})) for i in ids)


class NoStarter:
    def start(self, incident_id, payload):
        return True


CATALOG = ServiceCatalog(services=[Service(name="checkout-api", depends_on=["inventory-svc"]), Service(name="inventory-svc"),
                                   Service(name="auth-api"), Service(name="storefront-bff"), Service(name="search-api")])


@SETTINGS
@given(junk=st.lists(st.tuples(st.sampled_from(ALERT_SOURCES), json_values | st.text(max_size=40)), min_size=1, max_size=6),
       where=st.integers(0, 30))
def test_a_batch_with_broken_payloads_never_raises_and_counts_them(junk, where):
    good = _GOOD
    bad = [(s, p, "2026-02-11T21:54:00Z") for s, p in junk]
    invalid_alone = 0
    for s, p, _ in bad:
        try:
            parse_delivery(s, p, NOW)
        except InvalidAlert:
            invalid_alone += 1
    batch = good[:where] + bad + good[where:]
    store = MemoryStore()
    out = Ingestor(store, NoStarter(), CATALOG).ingest_batch(batch)
    assert out.received == len(batch) and out.invalid == invalid_alone == len(store.quarantined)
    assert not out.errors
