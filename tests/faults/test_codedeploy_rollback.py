"""Fault tier: an ECS scale-out, then an EC2 rollback through CodeDeploy (CreateDeployment of the
revision before the culprit, polled to its final status). Every call fails in turn (throttle,
timeout, 5xx, connection reset); no second CreateDeployment, every write between its intent and
its outcome, the state is the before-state or the approved target, the scale-out is put back and
the rollback is not (it would redeploy the culprit)."""
from __future__ import annotations

import pytest

from .conftest import FAULTS, report
from .sweep import sweep

pytestmark = pytest.mark.faults


def test_every_call_of_a_scale_out_and_a_codedeploy_rollback_fails_in_turn(world):
    counts = sweep(world, FAULTS, "scale_ec2_rollback")
    report("scale_ec2_rollback", counts)
    creates = [c for c in FAULTS.calls if c.service == "codedeploy" and c.operation == "CreateDeployment"]
    assert len(creates) == 1, "the last faulted run deployed exactly once"
    assert any("codedeploy CreateDeployment" in c for c in counts["calls_faulted"])
    assert counts["fault_points"] >= counts["calls"] and counts["step_retries"] > 0
