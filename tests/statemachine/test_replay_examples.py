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
    assert out["iam"]["checked"] > 0 and out["iam"]["denied"] == [], "every call is allowed by its function's role"
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


def test_twenty_broken_payloads_are_counted_and_change_no_conclusion(tmp_path):
    """Production on a bad day: truncated, foreign and identical broken deliveries slipped into a bundle."""
    import json
    import shutil

    import yaml

    source = next(b for b in bundle_dirs() if b.name == "checkout-api-dependency-failure")
    bundle = tmp_path / source.name
    shutil.copytree(source, bundle)
    doc = yaml.safe_load((bundle / "scenario.yaml").read_text())
    first = doc["alerts"][0]
    broken = [
        {"source": "cloudwatch-eventbridge", "received_at": first["received_at"], "payload": json.dumps(first["payload"])[:57]},
        {"source": "pagerduty", "received_at": first["received_at"], "payload": {"unexpected": True}},
        {"source": "grafana", "received_at": first["received_at"], "payload": "null"},
        {"source": "cloudwatch-sns", "received_at": first["received_at"], "payload": {"MessageId": "m", "Message": "{}"}},
    ] * 5                                   # identical deliveries at the same moment, too
    for i, b in enumerate(broken):
        doc["alerts"].insert(1 + 2 * i % len(doc["alerts"]), b)
    (bundle / "scenario.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    clean, noisy = replay(source), replay(bundle)
    assert noisy["alerts"]["invalid"] == 20 and noisy["alerts"]["received"] == clean["alerts"]["received"] + 20
    summary = lambda out: [(i["service"], i["alerts"], i["root_cause"]["kind"], i["root_cause"]["culprit"],
                            [a["type"] for a in i["actions"]]) for i in out["incidents"]]
    assert summary(noisy) == summary(clean)
