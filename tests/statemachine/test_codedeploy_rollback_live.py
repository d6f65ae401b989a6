"""The EC2 bad deploy of the suite with writes on: approved, the rollback runs through CodeDeploy
under the functions' enforced roles (one deployment, of the revision before the culprit, to the
culprit's group), and since logs alone cannot show recovery, the page says what was changed and
that the rollback was not put back (it would redeploy the culprit)."""
from __future__ import annotations

from pathlib import Path

import pytest

from watchkeeper.local.replay import ReplayOptions, ReplaySession
from watchkeeper.local.scenario import load_bundle

pytestmark = pytest.mark.statemachine
BUNDLE = Path(__file__).parents[1] / "scenarios" / "suite" / "invoicing-ec2-deploy-logs-only"


def test_the_invoicing_rollback_deploys_the_revision_before_the_culprit_once_under_enforced_roles():
    from moto.codedeploy.models import codedeploy_backends

    bundle, root = load_bundle(BUNDLE)
    with ReplaySession(bundle, root, ReplayOptions(dry_run=False)) as session:
        out = session.run()
        backend = codedeploy_backends[session.aws.account][session.aws.region]
        ours = [d for d in backend.deployments.values() if str(d.description or "").startswith("watchkeeper ")]
    assert out["iam"]["checked"] > 0 and out["iam"]["denied"] == []
    (incident,) = out["incidents"]
    rollback = next(a for a in incident["actions"] if a["type"] == "rollback_deployment")
    assert rollback["status"] == "executed" and rollback["target"] == "ec2/invoicing-asg"
    assert len(ours) == 1
    (deployment,) = ours
    assert (deployment.application_name, deployment.deployment_group_name, deployment.status) == (
        "invoicing", "invoicing-asg", "Succeeded")
    assert deployment.revision["s3Location"]["key"] == "invoicing/143.zip"
    page = next(a for a in incident["actions"] if a["type"] == "page_human")
    assert "redeploy 143.zip" in page["reason"] and "would redeploy the diagnosed culprit" in page["reason"]
