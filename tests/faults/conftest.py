"""The fault tier: `pytest -m faults` (part of `make test`). Each sweep writes its counts to
`.cache/faults/`; the terminal summary adds them up."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from .harness import FaultInjector

REPORTS = Path(__file__).resolve().parents[2] / ".cache" / "faults"
FAULTS = FaultInjector.installed()      # before any emulator session exists: every client gets the hooks
_STARTED = time.time()


def report(name: str, document: dict) -> None:
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / f"{name}.json").write_text(json.dumps(document, indent=2, default=str))


@pytest.fixture(scope="module")
def world():
    from .world import World

    w = World(FAULTS)
    yield w
    w.close()


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # noqa: ARG001 - pytest's hook signature
    found = [json.loads(p.read_text()) for p in sorted(REPORTS.glob("*.json")) if p.stat().st_mtime >= _STARTED]
    if not found:
        return
    points = sum(d.get("fault_points", 0) for d in found)
    retries = sum(d.get("step_retries", 0) for d in found)
    each = ", ".join(f"{d['name']} {d['fault_points']}" for d in found)
    terminalreporter.write_line(f"fault tier: {points} fault points exercised ({each}); {retries} step retries by "
                                "the state machine's policy")
