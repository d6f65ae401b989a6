"""Infra tier: synthesizes the CDK app (no Docker, no AWS credentials, bundling skipped)."""

import os
import sys
from pathlib import Path

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:  # `infra` is a package at the repo root, not an installed one
    sys.path.insert(0, str(REPO_ROOT))
