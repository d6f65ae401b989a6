"""The EC2 rollback through CodeDeploy against moto (with the emulator's CodeDeploy lifecycle):
the target is the revision live before the culprit deployment, the write is one new deployment
whose final status is the result, and an unknown outcome is found by its idempotency key."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import boto3
import pytest
from botocore.exceptions import ReadTimeoutError
from moto import mock_aws

from watchkeeper.adapters.executors import AwsCaller, CodeDeployExecutor, PlatformExecutors
from watchkeeper.domain.pinning import drift, outcome
from watchkeeper.local import emulator
from watchkeeper.models import Action, ChangeEvent
from watchkeeper.ports import OutcomeUnknown

emulator.install()
REGION, ACCOUNT = "us-east-1", "123456789012"
CULPRIT_AT = datetime.now(timezone.utc) - timedelta(minutes=30)
CULPRIT = ChangeEvent(id="codedeploy-invoicing-d-3XY9AAAAA", kind="deploy", service="invoicing", at=CULPRIT_AT,
                      revision="d-3XY9AAAAA", description="CodeDeploy d-3XY9AAAAA of invoicing (invoicing-asg, START)",
                      source="codedeploy")


def rev(n: int) -> dict:
    return {"revisionType": "S3", "s3Location": {"bucket": "releases", "key": f"invoicing/{n}.zip", "bundleType": "zip"}}


def location(n: int) -> str:
    return f"s3://releases/invoicing/{n}.zip"


@pytest.fixture
def cd(monkeypatch):
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(k, v)
    emulator.clear_codedeploy_outcomes()
    with mock_aws():
        client = boto3.client("codedeploy", region_name=REGION)
        client.create_application(applicationName="invoicing", computePlatform="Server")
        client.create_deployment_group(applicationName="invoicing", deploymentGroupName="invoicing-asg",
                                       serviceRoleArn=f"arn:aws:iam::{ACCOUNT}:role/cd",
                                       autoScalingGroups=["invoicing-asg"])
        emulator.seed_codedeploy_history(ACCOUNT, REGION, "invoicing", "invoicing-asg", [
            {"id": "d-OLDAAAAAA", "revision": rev(142), "created": CULPRIT_AT - timedelta(days=2)},
            {"id": "d-GOODAAAAA", "revision": rev(143), "created": CULPRIT_AT - timedelta(days=1)},
            {"id": "d-3XY9AAAAA", "revision": rev(144), "created": CULPRIT_AT}])
        yield client
        emulator.clear_codedeploy_outcomes()


def executor(client) -> CodeDeployExecutor:
    return CodeDeployExecutor(client, AwsCaller(sleep=lambda s: None), sleep=lambda s: None)


def rollback(change: ChangeEvent = CULPRIT) -> Action:
    return Action(id="a1", type="rollback_deployment", target="ec2/invoicing-asg",
                  params={"change_id": change.id, "change": change.model_dump(mode="json")})


def deployments(client) -> list[dict]:
    ids = client.list_deployments(applicationName="invoicing", deploymentGroupName="invoicing-asg")["deployments"]
    return [client.get_deployment(deploymentId=i)["deploymentInfo"] for i in ids]


def test_the_dry_run_pins_the_revision_before_the_culprit_and_names_the_call(cd):
    planned = executor(cd).execute(rollback(), dry_run=True)
    assert planned.status == "planned"
    assert planned.pin.target == {"revision": location(143), "deployment": "Succeeded"}
    assert planned.pin.before == {"revision": location(144), "last_deployment": "d-3XY9AAAAA", "deployment": None}
    assert planned.pin.before_is_culprit and planned.pin.culprit == CULPRIT.id
    assert "codedeploy:CreateDeployment applicationName=invoicing deploymentGroupName=invoicing-asg" in planned.api_call
    assert "143.zip" in planned.pin.summary and "d-3XY9AAAAA" in planned.pin.summary
    assert len(deployments(cd)) == 3                       # nothing was deployed


def test_the_rollback_deploys_that_revision_once_and_reports_its_final_status(cd):
    ex = executor(cd)
    pin = ex.execute(rollback(), dry_run=True).pin
    pin = pin.model_copy(update={"call": {**pin.call, "key": "inc-1#a1", "since": datetime.now(timezone.utc).isoformat()}})
    done = ex.execute(rollback(), dry_run=False, pin=pin)
    assert done.status == "executed" and done.after["deployment"] == "Succeeded"
    created = [d for d in deployments(cd) if d["deploymentId"] not in ("d-OLDAAAAAA", "d-GOODAAAAA", "d-3XY9AAAAA")]
    assert len(created) == 1 and created[0]["revision"] == rev(143) and created[0]["status"] == "Succeeded"
    assert created[0]["description"].startswith("watchkeeper inc-1#a1:")
    live = ex.observe(rollback(), pin)
    assert outcome(pin, live) == "applied" and live["revision"] == location(143)
    # putting it back would deploy the culprit's revision again: never automatic
    back, why = ex.inverse(rollback(), pin)
    assert back is None and "culprit" in why


def test_a_rollback_deployment_that_fails_is_a_failed_write_with_codedeploys_reason(cd):
    emulator.set_codedeploy_outcome("s3://releases/invoicing/143.zip", "Failed")
    ex = executor(cd)
    pin = ex.execute(rollback(), dry_run=True).pin
    done = ex.execute(rollback(), dry_run=False, pin=pin)
    assert done.status == "failed" and "ended Failed" in done.error


def test_without_previous_revision_the_groups_last_success_before_the_culprit_is_the_target(cd):
    from moto.codedeploy.models import codedeploy_backends
    codedeploy_backends[ACCOUNT][REGION].deployments["d-3XY9AAAAA"].previous_revision = None
    pin = executor(cd).execute(rollback(), dry_run=True).pin
    assert pin.target["revision"] == location(143)


def test_a_deploy_during_the_approval_window_is_drift(cd):
    ex = executor(cd)
    pin = ex.execute(rollback(), dry_run=True).pin
    fix = cd.create_deployment(applicationName="invoicing", deploymentGroupName="invoicing-asg", revision=rev(145))
    assert fix["deploymentId"].startswith("d-")
    changed = drift(pin, ex.observe(rollback(), pin))
    assert any(line.startswith("revision:") and "145.zip" in line for line in changed)


def test_a_create_deployment_that_times_out_is_found_by_its_key_never_sent_twice(cd):
    class TimesOutAfterCreating:
        def __init__(self, real):
            self.real, self.creates = real, 0

        def __getattr__(self, name):
            target = getattr(self.real, name)
            if name != "create_deployment":
                return target

            def call(**kw):
                self.creates += 1
                target(**kw)
                raise ReadTimeoutError(endpoint_url="https://codedeploy.us-east-1.amazonaws.com")
            return call

    client = TimesOutAfterCreating(cd)
    ex = executor(client)
    pin = ex.execute(rollback(), dry_run=True).pin
    pin = pin.model_copy(update={"call": {**pin.call, "key": "inc-2#a1", "since": datetime.now(timezone.utc).isoformat()}})
    with pytest.raises(OutcomeUnknown):
        ex.execute(rollback(), dry_run=False, pin=pin)
    assert client.creates == 1
    assert outcome(pin, ex.observe(rollback(), pin)) == "applied"      # read back: it happened, and succeeded
    other = pin.model_copy(update={"call": {**pin.call, "key": "inc-3#a1"}})
    assert ex.observe(rollback(), other)["deployment"] is None        # another write's key finds no deployment


def test_a_deployment_still_running_past_the_wait_is_an_unknown_outcome(cd):
    ex = CodeDeployExecutor(cd, AwsCaller(sleep=lambda s: None), wait_seconds=0, sleep=lambda s: None)
    pin = ex.execute(rollback(), dry_run=True).pin
    with pytest.raises(OutcomeUnknown, match="still InProgress"):
        ex.execute(rollback(), dry_run=False, pin=pin)


@pytest.mark.parametrize("change,reason", [
    (CULPRIT.model_copy(update={"source": "github"}), "not a github change"),
    (CULPRIT.model_copy(update={"id": "codedeploy-invoicing-x", "revision": "144", "description": "release 144"}),
     "names no CodeDeploy deployment id"),
])
def test_a_culprit_that_is_not_a_codedeploy_deployment_is_refused_before_any_write(cd, change, reason):
    router = PlatformExecutors({}, codedeploy=executor(cd))
    result = router.execute(rollback(change), dry_run=True)
    assert result.status == "failed" and reason in result.error
    assert len(deployments(cd)) == 3


def test_a_culprit_of_another_application_is_refused(cd):
    cd.create_application(applicationName="billing", computePlatform="Server")
    cd.create_deployment_group(applicationName="billing", deploymentGroupName="billing-asg",
                               serviceRoleArn=f"arn:aws:iam::{ACCOUNT}:role/cd", autoScalingGroups=["billing-asg"])
    emulator.seed_codedeploy_history(ACCOUNT, REGION, "billing", "billing-asg", [
        {"id": "d-BILLAAAAA", "revision": rev(1), "created": CULPRIT_AT}])
    change = CULPRIT.model_copy(update={"id": "codedeploy-invoicing-d-BILLAAAAA", "revision": "d-BILLAAAAA"})
    result = executor(cd).execute(rollback(change), dry_run=True)
    assert result.status == "failed" and "billing/billing-asg" in result.error


def test_a_deployment_still_running_is_waited_for_once_per_invocation_then_left_to_the_retry(cd):
    """The write's wait ran out: the reconcile right after reads once (no second wait in the same
    invocation) and hands over to the step's retry; the retry's read waits again and finds it done."""
    from watchkeeper.ports import TransientError
    import time as real_time
    waited: list[float] = []

    def sleep(seconds: float) -> None:      # the wait is measured on the monotonic clock: sleep for real, briefly
        waited.append(seconds)
        real_time.sleep(seconds)

    emulator.set_codedeploy_outcome("s3://releases/invoicing/143.zip", "InProgress")       # a long deployment
    ex = CodeDeployExecutor(cd, AwsCaller(sleep=lambda s: None), wait_seconds=2.0, poll_interval=1.0, sleep=sleep)
    pin = ex.execute(rollback(), dry_run=True).pin
    pin = pin.model_copy(update={"call": {**pin.call, "key": "inc-4#a1", "since": datetime.now(timezone.utc).isoformat()}})
    with pytest.raises(OutcomeUnknown):
        ex.execute(rollback(), dry_run=False, pin=pin)
    first = list(waited)
    with pytest.raises(TransientError, match="still running"):
        ex.observe(rollback(), pin)               # the reconcile in the same invocation: no second wait
    assert first and sum(first) >= 2.0 and waited == first
    emulator.set_codedeploy_outcome("s3://releases/invoicing/143.zip", "Succeeded")
    patient = CodeDeployExecutor(cd, AwsCaller(sleep=lambda s: None), sleep=lambda s: None)
    assert outcome(pin, patient.observe(rollback(), pin)) == "applied"
