"""Fault tier: a two-pod restart (the kill switch read before each pod) and a Lambda rollback that
is never put back (it would redeploy the culprit). Every call fails in turn; the invariants hold."""
from __future__ import annotations

import pytest

from .conftest import FAULTS, report
from .sweep import sweep

pytestmark = pytest.mark.faults


def test_every_call_of_a_restart_and_a_rollback_fails_in_turn(world):
    counts = sweep(world, FAULTS, "restart_rollback")
    report("restart_rollback", counts)
    assert counts["fault_points"] >= counts["calls"] and counts["step_retries"] > 0
