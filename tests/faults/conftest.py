"""The fault tier: `pytest -m faults` (part of `make test`). Each sweep writes its counts to
`.cache/faults/`; the terminal summary (tests/conftest.py) adds them up."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from .harness import FaultInjector

REPORTS = Path(__file__).resolve().parents[2] / ".cache" / "faults"
FAULTS = FaultInjector.installed()      # before any emulator session exists: every client gets the hooks


def report(name: str, document: dict) -> None:
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / f"{name}.json").write_text(json.dumps(document, indent=2, default=str))


@pytest.fixture(scope="module")
def world():
    from .world import World

    w = World(FAULTS)
    yield w
    w.close()
