"""Bundles load exactly as the YAML safe loader reads them, through the faster event builder."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings, strategies as st

from watchkeeper.local.scenario import load_yaml

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
SAFE = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*/*/scenario.yaml")), ids=lambda p: p.parent.name)
def test_every_bundle_loads_as_the_safe_loader_reads_it(path):
    text = path.read_text()
    assert load_yaml(text) == yaml.load(text, Loader=SAFE)


CASES = ["a: yes", "a: on", "a: 1e3", "a: 0755", "a: 1:30", "a: 1_000", "a: 2026-01-01", "a: 2026-11-25T03:07:00Z",
         "a: '2026-11-25T03:07:00Z'", "a: !!str 12", "a: .inf", "a: ~", "a: Null", "a:", "<<: {b: 1}\nc: 2",
         "a: &x {b: 1}\nc: *x", "a: &x [1, *x]", "a: !!binary aGVsbG8=", "? [1]\n: x", "--- 1\n--- 2", "", "plain",
         "- &a {x: 1}\n- *a\n- *b", "a: 1\na: 2", "a: [1, 2", "a: |\n  x\n  y\n", "a: 'it''s'", "a: &s 3\nb: *s"]


@pytest.mark.parametrize("text", CASES)
def test_edge_cases_give_the_same_values_and_the_same_errors(text):
    try:
        expected = repr(yaml.load(text, Loader=SAFE))
    except yaml.YAMLError as exc:
        expected = type(exc).__name__
    try:
        got = repr(load_yaml(text))
    except yaml.YAMLError as exc:
        got = type(exc).__name__
    assert got == expected


def test_an_alias_is_the_same_object_as_its_anchor():
    doc = load_yaml("labels: &l {service: a}\ncommonLabels: *l")
    assert doc["labels"] is doc["commonLabels"]


_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                     st.text(max_size=12), st.datetimes(timezones=st.none()))
_docs = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=6), inner, max_size=4)),
                     max_leaves=20)


@settings(max_examples=150, deadline=None)
@given(_docs, st.sampled_from([False, True, None]))
def test_any_dumped_document_round_trips_the_same_way(doc, flow):
    text = yaml.safe_dump({"doc": doc}, default_flow_style=flow, allow_unicode=True)
    assert load_yaml(text) == yaml.load(text, Loader=SAFE)
