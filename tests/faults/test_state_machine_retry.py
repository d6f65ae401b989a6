"""Fault tier, through moto's Step Functions interpreter itself: the synthesized definition from
"Execute actions" on (Retry with the test account's 1 s interval, Verify's wait loop, the page
and the report). A lost answer, a reset or a throttle at a decisive call makes the state machine
retry the step; the retry reads its idempotency records and writes nothing twice."""
from __future__ import annotations

import json
import time

import pytest

from .conftest import FAULTS, report
from .world import World

pytestmark = pytest.mark.faults

CASES = [  # (the call to fault, which of its occurrences, kind, does the step itself fail and get retried?)
    # the write landed and its answer was lost: read back from the live state within the step
    ("ecs UpdateService", 1, "timeout", False),
    # the connection reset before the PATCH arrived: not applied, so the step fails and its retry writes
    ("kubernetes PATCH /apis/apps/v1/namespaces/shop/deployments/checkout-api", 1, "reset", True),
    # the ledger recorded the EKS write's outcome but the answer was a 500: the retry reads it
    ("dynamodb UpdateItem", 2, "5xx", True),
    # an audit record throttled: the retry appends it
    ("dynamodb PutItem", 3, "throttle", True),
]


def machine_from_execute(world: World) -> str:
    """The synthesized definition, entered at "Execute actions" (every state from there is the deployed one)."""
    definition = dict(world.definition, StartAt="Execute actions")
    sfn = world.aws.client("stepfunctions")
    name = "watchkeeper-faults-from-execute"
    existing = [m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"] if m["name"] == name]
    if existing:
        return existing[0]
    role = world.aws.client("iam").get_role(RoleName="watchkeeper-local")["Role"]["Arn"]
    return sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=role)["stateMachineArn"]


def run_machine(world: World, arn: str, nth: int | None, kind: str) -> tuple[dict, list[str]]:
    inc, plan, preview = world.prepare("across")
    doc = {"incident_id": inc.id, "incident": inc.model_dump(mode="json"), "plan": plan.model_dump(mode="json"),
           "preview": {"actions": preview}, "evidence": None,
           "approval": {"approved": True, "decided_by": "oncall@example.com", "channel": "web"}}
    sfn = world.aws.client("stepfunctions")
    with FAULTS.armed(nth, kind):
        execution = sfn.start_execution(stateMachineArn=arn, name=inc.id, input=json.dumps(doc))["executionArn"]
        deadline = time.monotonic() + 120
        while sfn.describe_execution(executionArn=execution)["status"] == "RUNNING" and time.monotonic() < deadline:
            time.sleep(0.2)
    desc = sfn.describe_execution(executionArn=execution)
    events = sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]
    states = [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]
    output = json.loads(desc.get("output") or "{}")
    output["_status"], output["_incident_id"] = desc["status"], inc.id
    output["_failed_attempts"] = sum(1 for e in events if e["type"] in ("LambdaFunctionFailed", "TaskFailed"))
    output["_event_types"] = sorted({e["type"] for e in events})
    return output, states


def test_the_state_machine_retries_a_faulted_step_and_nothing_is_written_twice(world):
    from .world import Outcome

    arn = machine_from_execute(world)
    baseline, states = run_machine(world, arn, None, "throttle")
    assert baseline["_status"] == "SUCCEEDED" and states[-1] == "Incident handled", states
    sequence = [f"{c.service} {c.operation}" for c in FAULTS.calls]
    exercised = []
    for what, occurrence, kind, retried in CASES:
        nth = [i + 1 for i, op in enumerate(sequence) if op == what][occurrence - 1]
        out, states = run_machine(world, arn, nth, kind)
        assert FAULTS.injected is not None and out["_status"] == "SUCCEEDED", (what, kind, out)
        assert (out["_failed_attempts"] >= 1) is retried, (what, kind, out["_event_types"])
        assert states.count("Execute actions") == 1, (what, kind, states)
        assert "Record failure and page" not in states and states[-1] == "Incident handled", states
        outcome = Outcome(out["_incident_id"], execution=out.get("execution"), verification=out.get("verification"))
        assert world.violations(outcome) == [], (what, kind)
        assert "scale_service on ecs/prod-ecs/orders-worker (reverted)" in out["escalation"]["reason"]
        exercised.append(f"{kind} at {what} (call {nth})")
        if not retried:
            assert any("read back from the live state" in r.summary for r in world.audit(out["_incident_id"]))
    report("state_machine", {"name": "state_machine", "fault_points": len(exercised), "cases": exercised,
                             "step_retries": sum(1 for c in CASES if c[3])})
