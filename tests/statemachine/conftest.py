"""The state-machine tier: the synthesized definition executed on moto, handlers in process."""
from __future__ import annotations

from typing import Any

import pytest

from watchkeeper.local.replay import ReplayOptions, ReplaySession
from watchkeeper.local.scenario import load_bundle

from ..conftest import EXAMPLES

pytestmark = pytest.mark.statemachine


@pytest.fixture(autouse=True)
def _every_call_is_allowed_by_its_role(request):
    """A state-machine test fails when any function made a call its synthesized role does not allow."""
    from watchkeeper.local import iam

    iam.ENFORCER.denials = []
    yield
    if request.node.get_closest_marker("iam_denials_expected") is None:
        assert not iam.ENFORCER.denials, [d.as_dict() for d in iam.ENFORCER.denials]


def send_decision(session: ReplaySession, approval: dict[str, Any], approved: bool,
                  who: str = "arn:aws:iam::123456789012:user/oncall") -> None:
    """Decide the way the approval API does for a proven caller (the terminal's IAM identity):
    the approver ARNs, the claim, the callback, the audit."""
    from watchkeeper.adapters.dynamodb_approvals import DynamoDBApprovalStore
    from watchkeeper.approvals import ApprovalService
    from watchkeeper.composition import container

    c = container()
    service = ApprovalService(DynamoDBApprovalStore(c.cfg.state_table, c.client("dynamodb")), c.audit(),
                              c.client("stepfunctions"), c.signing_keys, approver_arns=(who,), clock=c.clock)
    service.decide_terminal(approval["incident_id"], who, approved, "" if approved else "not now")


def open_session(bundle: str = "storefront-bff-bad-deploy", **options: Any) -> ReplaySession:
    b, root = load_bundle(EXAMPLES / bundle)
    return ReplaySession(b, root, ReplayOptions(**options))


def run_incident(session: ReplaySession) -> tuple[str, dict[str, Any]]:
    session.ingest()
    (incident_id,) = session.start_incidents()
    return incident_id, session.wait([incident_id])[incident_id]


def states_entered(session: ReplaySession, incident_id: str) -> list[str]:
    arn = f"{session.aws.state_machine_arn.replace(':stateMachine:', ':execution:')}:{incident_id}"
    events = session.aws.client("stepfunctions").get_execution_history(executionArn=arn, maxResults=1000)["events"]
    return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]
