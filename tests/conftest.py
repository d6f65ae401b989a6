"""Shared fixtures: scenario bundles are the fixtures for whole incidents."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

EXAMPLES = Path(__file__).parent / "scenarios" / "examples"


def bundle_dirs() -> list[Path]:
    return sorted(p for p in EXAMPLES.iterdir() if (p / "scenario.yaml").is_file())


@pytest.fixture(scope="session")
def bundles() -> dict[str, dict]:
    return {p.name: yaml.safe_load((p / "scenario.yaml").read_text()) for p in bundle_dirs()}


# the fault tier's count (tests/faults writes one report per sweep; the summary runs where the session ends)
_STARTED = __import__("time").time()


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # noqa: ARG001 - pytest's hook signature
    import json

    reports = Path(__file__).resolve().parents[1] / ".cache" / "faults"
    found = [json.loads(p.read_text()) for p in sorted(reports.glob("*.json")) if p.stat().st_mtime >= _STARTED]
    if found:
        each = ", ".join(f"{d['name']} {d['fault_points']}" for d in found)
        terminalreporter.write_line(f"fault tier: {sum(d['fault_points'] for d in found)} fault points exercised "
                                    f"({each}); {sum(d.get('step_retries', 0) for d in found)} step retries")
