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
