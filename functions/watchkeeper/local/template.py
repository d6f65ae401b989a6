"""The synthesized CloudFormation template, cached: the one definition everything runs.

A synth takes seconds (jsii, CDK, cdk-nag); the template only changes when the CDK app
or its configuration does, so it is cached under `.cache/` keyed by a hash of those files.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]


def _inputs() -> list[Path]:
    files = sorted((REPO / "infra").rglob("*.py")) + [REPO / "cdk.json"]
    files += sorted((REPO / "config").rglob("*.yaml")) if (REPO / "config").is_dir() else []
    return [f for f in files if f.is_file()]


def fingerprint(account: str) -> str:
    h = hashlib.sha256(account.encode())
    for f in _inputs():
        h.update(str(f.relative_to(REPO)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def cache_dir() -> Path:
    return Path(os.environ.get("WATCHKEEPER_CACHE", REPO / ".cache" / "watchkeeper"))


def load_template(account: str = "local") -> dict[str, Any]:
    """The stack's template for `account`, synthesized once per change of the CDK app."""
    path = cache_dir() / f"template-{account}-{fingerprint(account)}.json"
    if path.is_file():
        return json.loads(path.read_text())
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    import sys
    sys.path.insert(0, str(REPO))
    from infra.app import synth_template

    template = synth_template(account=account, bundling=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")      # replays may synthesize side by side
    tmp.write_text(json.dumps(template))
    tmp.replace(path)
    return template
