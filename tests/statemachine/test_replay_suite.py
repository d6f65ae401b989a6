"""`watchkeeper replay` on the generalization suite (tests/scenarios/suite, written by make_suite.py):
other platforms, namespaces, log formats and distractors than the examples; the diagnosis must hold."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.statemachine
SUITE = Path(__file__).parents[1] / "scenarios" / "suite"
WRITES = {"rollback_deployment", "revert_config", "restart_pods", "increase_memory_limit", "scale_service",
          "free_disk_space"}
BUNDLES = sorted(p for p in SUITE.iterdir() if (p / "scenario.yaml").is_file())


@pytest.mark.parametrize("bundle", BUNDLES, ids=lambda p: p.name)
def test_the_suite_bundle_is_diagnosed_right(bundle):
    expected = yaml.safe_load((bundle / "scenario.yaml").read_text())["expected"]["incidents"]
    # one process per bundle, as score.py runs it: in-process replays share module state (see the report)
    proc = subprocess.run([sys.executable, "-m", "watchkeeper.cli", "replay", str(bundle), "--json"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout)
    assert out["iam"]["checked"] > 0 and out["iam"]["denied"] == [], "every call is allowed by its function's role"
    chains = _chains(yaml.safe_load((bundle / "scenario.yaml").read_text())["services"])
    for exp in expected:
        # as score.py pairs them: the incident of the expected service, else one named after another service on
        # the same dependency chain (an incident that spreads along a chain may fairly be named after any hop)
        inc = next((i for i in out["incidents"] if i["service"] == exp["service"]), None) or next(
            (i for i in out["incidents"] if i["service"] in chains.get(exp["service"], set())
             and i["service"] not in {e["service"] for e in expected}), None)
        assert inc is not None, [(i["service"], i["alerts"]) for i in out["incidents"]]
        rc = inc["root_cause"]
        assert (rc["kind"], rc["culprit"]) == (exp["root_cause"], exp["culprit"]), rc["summary"]
        assert rc["evidence"], "every diagnosis cites evidence"
        writes = [a for a in inc["actions"] if a["type"] in WRITES]
        if exp["remediation"] in WRITES:
            assert writes and writes[0]["type"] == exp["remediation"]
        else:
            assert not writes and any(a["type"] == "page_human" for a in inc["actions"])
        forbidden = set(exp.get("forbidden", []))
        if exp["root_cause"] in ("security_event", "unknown", "dependency_failure"):
            forbidden |= WRITES - {exp["remediation"]}
        assert not [a for a in writes if a["type"] in forbidden]
        # a wrong answer must never be a confident one
        assert rc["confidence"] >= 0.5 if exp["root_cause"] != "unknown" else rc["confidence"] < 0.8


def _chains(services: list[dict]) -> dict[str, set[str]]:
    """service -> every service it depends on or that depends on it, directly or not."""
    deps = {s["name"]: set(s.get("depends_on") or []) for s in services}
    callers: dict[str, set[str]] = {}
    for name, ds in deps.items():
        for d in ds:
            callers.setdefault(d, set()).add(name)

    def closure(start: str, edges: dict[str, set[str]]) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for n in edges.get(todo.pop(), ()):
                if n not in seen:
                    seen.add(n)
                    todo.append(n)
        return seen
    return {n: (closure(n, deps) | closure(n, callers)) - {n} for n in deps}


def test_the_suite_is_small_and_reproducible(tmp_path):
    """The generators write exactly the committed bundles: make_suite.py's under 8 MB, and make_redteam.py's
    (`rt-*`, sized like held-out bundles, 180-550 KB each) under 8 MB."""
    for generator in ("make_suite.py", "make_redteam.py"):
        subprocess.run([sys.executable, str(SUITE.parent / generator), str(tmp_path)], check=True, capture_output=True)
    for bundle in BUNDLES:
        assert (tmp_path / bundle.name / "scenario.yaml").read_text() == (bundle / "scenario.yaml").read_text()
        for log in (bundle / "logs").glob("*.log"):
            assert (tmp_path / bundle.name / "logs" / log.name).read_bytes() == log.read_bytes(), log

    def size(red_team: bool) -> int:
        return sum(f.stat().st_size for b in BUNDLES if b.name.startswith("rt-") == red_team
                   for f in b.rglob("*") if f.is_file())
    assert size(False) < 8_000_000 and size(True) < 8_000_000
