"""Fault tier: a memory-limit raise on EKS and an ECS scale-out, put back when the service does not
recover. Every call of Execute, Verify and the reverts fails in turn (throttle, timeout, 5xx,
connection reset); after the state machine's retry policy no write was performed twice, every
write has an intent before it and an outcome after it, the state is the before-state or the
approved target, and the audit chain verifies."""
from __future__ import annotations

import pytest

from .conftest import FAULTS, report
from .sweep import sweep

pytestmark = pytest.mark.faults


def test_every_call_of_a_plan_across_eks_and_ecs_fails_in_turn(world):
    counts = sweep(world, FAULTS, "across")
    report("across", counts)
    assert counts["fault_points"] >= counts["calls"] and counts["step_retries"] > 0
