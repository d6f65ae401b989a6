"""`watchkeeper replay` on every example bundle: right incidents, causes and plans, nothing forbidden."""
from __future__ import annotations

import pytest

from watchkeeper.local.replay import replay

from ..conftest import bundle_dirs

pytestmark = pytest.mark.statemachine
WRITES = {"rollback_deployment", "revert_config", "restart_pods", "increase_memory_limit", "scale_service",
          "free_disk_space"}


@pytest.mark.parametrize("bundle", bundle_dirs(), ids=lambda p: p.name)
def test_replay_matches_the_ground_truth(bundle, bundles):
    expected = bundles[bundle.name]["expected"]["incidents"]
    out = replay(bundle)
    assert len(out["incidents"]) == len(expected)
    for exp in expected:
        inc = next(i for i in out["incidents"] if i["service"] == exp["service"])
        assert inc["alerts"] == exp["alerts"]
        assert inc["category"] == exp["category"]
        assert inc["root_cause"]["kind"] == exp["root_cause"]
        assert inc["root_cause"]["culprit"] == exp["culprit"]
        writes = [a for a in inc["actions"] if a["type"] in WRITES]
        if exp["remediation"] in WRITES:
            assert writes[0]["type"] == exp["remediation"]
            assert all(a["status"] == "planned" for a in writes)        # replay never executes
        else:
            assert not writes and any(a["type"] == "page_human" for a in inc["actions"])
        assert not [a for a in writes if a["type"] in exp.get("forbidden", [])]
        assert all(inc["root_cause"]["evidence"]), "every diagnosis cites evidence"


def test_with_the_kill_switch_on_every_write_is_blocked():
    from watchkeeper.local.replay import ReplayOptions

    out = replay(bundle_dirs()[-1], ReplayOptions(kill_switch=True))
    writes = [a for i in out["incidents"] for a in i["actions"] if a["type"] in WRITES]
    assert writes and all(a["status"] == "blocked" and a["blocked_by"] == "kill_switch" for a in writes)
