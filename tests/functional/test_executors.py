"""The AWS executors against moto, and the EKS executor against the Kubernetes simulator:
each write, its dry run, its revert, and the API errors an on-call agent meets (409, 403,
throttling)."""
from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime, timezone

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from watchkeeper.adapters.executors import (
    AutoScalingExecutor, AwsCaller, ConfigExecutor, DiskCleanupExecutor, EcsExecutor, KubernetesExecutor,
    LambdaExecutor, PlatformExecutors,
)
from watchkeeper.adapters.kubernetes_actions import KubernetesActions
from watchkeeper.local.k8s_sim import KubernetesSimulator
from watchkeeper.models import Action, ChangeEvent

REGION = "us-east-1"
NOW = datetime(2026, 11, 25, 3, 0, tzinfo=timezone.utc)


def act(kind: str, target: str, **params) -> Action:
    return Action(id="a1", type=kind, target=target, params=params)


def no_sleep() -> AwsCaller:
    return AwsCaller(sleep=lambda s: None)


@pytest.fixture
def aws(monkeypatch):
    for k, v in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(k, v)
    with mock_aws():
        yield boto3.session.Session(region_name=REGION)


# --- ECS ---------------------------------------------------------------------------------

@pytest.fixture
def ecs(aws):
    client = aws.client("ecs")
    client.create_cluster(clusterName="prod")
    for image in ("shop/orders:1", "shop/orders:2"):
        client.register_task_definition(family="orders", containerDefinitions=[
            {"name": "orders", "image": image, "memory": 512}])
    client.create_service(cluster="prod", serviceName="orders", taskDefinition="orders:2", desiredCount=4)
    return client


def service_of(client) -> dict:
    return client.describe_services(cluster="prod", services=["orders"])["services"][0]


def culprit(revision: str, previous: str | None, source: str, service: str = "orders",
            description: str = "") -> dict:
    """The culprit change as the plan carries it (from the evidence)."""
    return ChangeEvent(id=f"deploy-{service}-{revision}", kind="deploy", service=service, at=NOW, revision=revision,
                       previous_revision=previous, source=source, description=description).model_dump(mode="json")


def test_ecs_rollback_goes_to_the_task_definition_before_the_culprit_and_reverts(ecs):
    ecs.register_task_definition(family="orders", containerDefinitions=[{"name": "orders", "image": "shop/orders:3",
                                                                         "memory": 512}])
    ecs.update_service(cluster="prod", service="orders", taskDefinition="orders:3")   # the culprit: 3 (2 -> 3)
    executor = EcsExecutor(ecs, no_sleep())
    rollback = act("rollback_deployment", "ecs/prod/orders", change=culprit("3", "2", "ecs"))
    planned = executor.execute(rollback, dry_run=True)
    assert planned.status == "planned" and planned.after["taskDefinition"].endswith("orders:2")   # not N-1 of "now"
    assert planned.pin.before_is_culprit and planned.pin.summary.endswith("orders:2")
    assert service_of(ecs)["taskDefinition"].endswith("orders:3")        # a dry run writes nothing

    done = executor.execute(rollback, dry_run=False, pin=planned.pin)
    assert done.status == "executed" and "taskDefinition=" in done.api_call
    assert service_of(ecs)["taskDefinition"].endswith("orders:2")
    assert done.before["taskDefinition"].endswith("orders:3")

    undone = executor.revert(done)
    assert undone.status == "reverted"
    assert service_of(ecs)["taskDefinition"].endswith("orders:3")


def test_ecs_rollback_without_evidence_of_the_previous_revision_refuses_to_guess(ecs):
    result = EcsExecutor(ecs, no_sleep()).execute(act("rollback_deployment", "ecs/prod/orders"), dry_run=False)
    assert result.status == "failed" and "does not guess N-1" in result.error
    assert service_of(ecs)["taskDefinition"].endswith("orders:2")


def test_ecs_scale_sets_the_desired_count_and_reverts(ecs):
    executor = EcsExecutor(ecs, no_sleep())
    done = executor.execute(act("scale_service", "ecs/prod/orders", factor=1.5), dry_run=False)
    assert (done.status, done.before, done.after) == ("executed", {"desiredCount": 4}, {"desiredCount": 6})
    assert service_of(ecs)["desiredCount"] == 6
    assert executor.revert(done).status == "reverted" and service_of(ecs)["desiredCount"] == 4


def test_ecs_missing_service_is_a_failure_not_a_traceback(ecs):
    result = EcsExecutor(ecs, no_sleep()).execute(act("scale_service", "ecs/prod/nope"), dry_run=False)
    assert result.status == "failed" and "cannot act on ecs/prod/nope" in result.error


def test_ecs_restart_stops_the_chosen_tasks_and_the_kill_switch_stops_it_between_tasks(ecs):
    arns = [t["taskArn"] for t in ecs.run_task(cluster="prod", taskDefinition="orders:2", count=3, launchType="FARGATE",
                                               startedBy="ecs-svc/orders", networkConfiguration={"awsvpcConfiguration": {
                                                   "subnets": ["subnet-1"]}})["tasks"]]
    executor = EcsExecutor(ecs, no_sleep(), settle_timeout=0.0)
    listed = {"arns": arns}
    executor._ecs = _ListTasksFor(ecs, listed)             # moto's ListTasks ignores serviceName
    planned = executor.execute(act("restart_pods", "ecs/prod/orders", max_pods=2), dry_run=True)
    assert planned.status == "planned" and len(planned.pin.before["tasks"]) == 2
    calls = iter([None, "the kill switch is on"])
    done = executor.execute(act("restart_pods", "ecs/prod/orders", max_pods=2), dry_run=False, pin=planned.pin,
                            guard=lambda: next(calls))
    assert done.status == "blocked" and done.blocked_by == "kill_switch" and "after 1 of 2" in done.error
    stopped = [t for t in ecs.describe_tasks(cluster="prod", tasks=arns)["tasks"] if t["desiredStatus"] == "STOPPED"]
    assert len(stopped) == 1


class _ListTasksFor:
    def __init__(self, real, listed):
        self.real, self.listed = real, listed

    def __getattr__(self, name):
        if name == "list_tasks":
            return lambda **kw: {"taskArns": self.listed["arns"]}
        return getattr(self.real, name)


# --- Lambda ------------------------------------------------------------------------------

def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("index.py", "def handler(e, c):\n    return e\n")
    return buf.getvalue()


@pytest.fixture
def lam(aws):
    iam = aws.client("iam")
    role = iam.create_role(RoleName="r", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}))
    client = aws.client("lambda")
    client.create_function(FunctionName="pricing", Runtime="python3.12", Role=role["Role"]["Arn"],
                           Handler="index.handler", Code={"ZipFile": _zip()})
    v1 = client.publish_version(FunctionName="pricing")["Version"]
    client.update_function_code(FunctionName="pricing", ZipFile=_zip())
    v2 = client.publish_version(FunctionName="pricing")["Version"]
    client.create_alias(FunctionName="pricing", Name="live", FunctionVersion=v2)
    return client, v1, v2


def test_lambda_rollback_moves_the_alias_to_the_version_before_the_culprit_and_reverts(lam):
    client, v1, v2 = lam
    executor = LambdaExecutor(client, caller=no_sleep())
    rollback = act("rollback_deployment", "lambda/pricing", change=culprit(v2, v1, "lambda", "pricing"))
    planned = executor.execute(rollback, dry_run=True)
    assert planned.diff == f"- FunctionVersion: {v2}\n+ FunctionVersion: {v1}\n- routing: {{}}\n+ routing: {{}}"
    assert client.get_alias(FunctionName="pricing", Name="live")["FunctionVersion"] == v2

    done = executor.execute(rollback, dry_run=False, pin=planned.pin)
    assert done.status == "executed"
    assert client.get_alias(FunctionName="pricing", Name="live")["FunctionVersion"] == v1
    assert executor.revert(done).status == "reverted"
    assert client.get_alias(FunctionName="pricing", Name="live")["FunctionVersion"] == v2


def test_lambda_rollback_never_guesses_the_highest_older_version(lam):
    client, v1, v2 = lam
    result = LambdaExecutor(client, caller=no_sleep()).execute(act("rollback_deployment", "lambda/pricing"),
                                                               dry_run=False)
    assert result.status == "failed" and "does not guess N-1" in result.error
    assert client.get_alias(FunctionName="pricing", Name="live")["FunctionVersion"] == v2


def test_lambda_without_the_alias_fails_with_the_aws_error(lam):
    client, v1, v2 = lam
    result = LambdaExecutor(client, alias="canary", caller=no_sleep()).execute(
        act("rollback_deployment", "lambda/pricing", change=culprit(v2, v1, "lambda", "pricing")), dry_run=False)
    assert result.status == "failed" and "ResourceNotFoundException" in result.error


# --- EC2 Auto Scaling --------------------------------------------------------------------

@pytest.fixture
def asg(aws):
    client = aws.client("autoscaling")
    client.create_launch_configuration(LaunchConfigurationName="lc", ImageId="ami-12c6146b", InstanceType="t3.micro")
    client.create_auto_scaling_group(AutoScalingGroupName="shipping", LaunchConfigurationName="lc", MinSize=1,
                                     MaxSize=5, DesiredCapacity=2, AvailabilityZones=[f"{REGION}a"])
    return client


def desired(client) -> int:
    return client.describe_auto_scaling_groups(AutoScalingGroupNames=["shipping"])["AutoScalingGroups"][0]["DesiredCapacity"]


def test_asg_scale_respects_the_group_maximum_and_reverts(asg):
    executor = AutoScalingExecutor(asg, no_sleep())
    done = executor.execute(act("scale_service", "ec2/shipping", factor=1.5), dry_run=False)
    assert (done.before, done.after) == ({"DesiredCapacity": 2, "MaxSize": 5}, {"DesiredCapacity": 3})
    assert desired(asg) == 3
    capped = executor.execute(act("scale_service", "ec2/shipping", replicas=50), dry_run=True)
    assert capped.after == {"DesiredCapacity": 5}
    assert executor.revert(done).status == "reverted" and desired(asg) == 2


# --- configuration (SSM Parameter Store) -------------------------------------------------

def ssm_change(revision: str | None, previous: str | None) -> ChangeEvent:
    return ChangeEvent(id="cfg-cart-31", kind="config", service="cart", at=NOW, source="ssm", revision=revision,
                       previous_revision=previous, description="Update SSM parameter /cart/max-connections: 100 -> 5")


def test_ssm_config_revert_restores_the_version_before_the_culprit_and_reverts(aws):
    ssm = aws.client("ssm")
    for value in ("80", "100", "5"):        # v1, v2, v3 = the culprit (100 -> 5)
        ssm.put_parameter(Name="/cart/max-connections", Value=value, Type="String", Overwrite=True)
    executor = ConfigExecutor({"cfg-cart-31": ssm_change("3", "2")}.get, ssm=ssm, caller=no_sleep())
    action = act("revert_config", "eks/c/ns/cart", change_id="cfg-cart-31")
    planned = executor.execute(action, dry_run=True)
    assert planned.pin.call["from_version"] == 2 and planned.pin.before_is_culprit
    done = executor.execute(action, dry_run=False, pin=planned.pin)
    assert done.status == "executed" and done.diff == "- /cart/max-connections: 5\n+ /cart/max-connections: 100"
    assert ssm.get_parameter(Name="/cart/max-connections")["Parameter"]["Value"] == "100"
    assert executor.revert(done).status == "reverted"
    assert ssm.get_parameter(Name="/cart/max-connections")["Parameter"]["Value"] == "5"


def test_ssm_config_revert_refuses_a_secure_string_and_an_unknown_change(aws):
    ssm = aws.client("ssm")
    ssm.put_parameter(Name="/cart/max-connections", Value="a", Type="SecureString")
    ssm.put_parameter(Name="/cart/max-connections", Value="b", Type="SecureString", Overwrite=True)
    secret = ConfigExecutor({"cfg-cart-31": ssm_change("2", "1")}.get, ssm=ssm, caller=no_sleep()).execute(
        act("revert_config", "eks/c/ns/cart", change_id="cfg-cart-31"), dry_run=False)
    assert secret.status == "failed" and "SecureString" in secret.error
    result = ConfigExecutor(lambda _: None, ssm=ssm).execute(act("revert_config", "eks/c/ns/cart", change_id="cfg-x"),
                                                             dry_run=False)
    assert result.status == "failed" and "not in the journal" in result.error


# --- configuration (AppConfig, through botocore's Stubber: moto has no AppConfig deployments) ----

APP_CHANGE = ChangeEvent(id="cfg-cart-33", kind="config", service="cart", at=NOW, source="appconfig", revision="33",
                         description="AppConfig deployment cart/prod: profile cart-flags v28 (AllAtOnce)")


def appconfig_stub(deployments: list[dict], *, writes: list[tuple[str, dict, dict]], after: list[dict] | None = None):
    from botocore.stub import Stubber
    client = boto3.client("appconfig", region_name=REGION)
    stub = Stubber(client)
    stub.add_response("list_applications", {"Items": [{"Id": "app1", "Name": "cart"}]})
    stub.add_response("list_environments", {"Items": [{"Id": "env1", "ApplicationId": "app1", "Name": "prod"}]},
                      {"ApplicationId": "app1"})
    stub.add_response("list_configuration_profiles", {"Items": [{"Id": "prof1", "ApplicationId": "app1",
                                                                 "Name": "cart-flags"}]}, {"ApplicationId": "app1"})
    for _ in range(2):   # the culprit's deployment, then the environment's state
        stub.add_response("list_deployments", {"Items": deployments}, {"ApplicationId": "app1", "EnvironmentId": "env1"})
    for op, response, params in writes:
        stub.add_response(op, response, params)
    for items in after or []:
        stub.add_response("list_deployments", {"Items": items}, {"ApplicationId": "app1", "EnvironmentId": "env1"})
    stub.activate()
    return client, stub


def dep(n: int, version: str, state: str = "COMPLETE") -> dict:
    return {"DeploymentNumber": n, "ConfigurationName": "cart-flags", "ConfigurationVersion": version, "State": state,
            "StartedAt": NOW}


def test_appconfig_revert_starts_the_version_deployed_before_the_culprit(aws):
    history = [dep(1, "26"), dep(2, "27"), dep(3, "28")]
    start = {"ApplicationId": "app1", "EnvironmentId": "env1", "ConfigurationProfileId": "prof1",
             "ConfigurationVersion": "27", "DeploymentStrategyId": "AppConfig.AllAtOnce", "LatestDeploymentNumber": 3,
             "Description": "watchkeeper inc-1#a1: revert cfg-cart-33"}
    client, stub = appconfig_stub(history, writes=[("start_deployment", {"DeploymentNumber": 4, "State": "BAKING"},
                                                    start)], after=[history + [dep(4, "27", "BAKING")]])
    executor = ConfigExecutor(lambda _: None, ssm=aws.client("ssm"), appconfig=client, caller=no_sleep())
    action = act("revert_config", "eks/c/ns/cart", change=APP_CHANGE.model_dump(mode="json"))
    planned = executor.execute(action, dry_run=True)
    assert planned.status == "planned" and "ConfigurationVersion=27" in planned.api_call
    assert planned.pin.before == {"latest_deployment": 3, "deployed_version": "28"} and planned.pin.before_is_culprit
    pin = planned.pin.model_copy(update={"call": {**planned.pin.call, "key": "inc-1#a1"}})
    done = executor.execute(action, dry_run=False, pin=pin)
    assert done.status == "executed", done.error
    assert executor.observe(action, pin)["deployed_version"] == "27"        # read back: the revert is live
    assert executor.inverse(action, pin)[0] is None                         # never redeploys the culprit
    stub.assert_no_pending_responses()


def test_appconfig_revert_stops_a_culprit_deployment_that_is_still_baking(aws):
    history = [dep(1, "27"), dep(2, "28", "BAKING")]
    stop = {"ApplicationId": "app1", "EnvironmentId": "env1", "DeploymentNumber": 2, "AllowRevert": True}
    client, stub = appconfig_stub(history, writes=[("stop_deployment", {"DeploymentNumber": 2, "State": "REVERTED"},
                                                    stop)])
    executor = ConfigExecutor(lambda _: None, ssm=aws.client("ssm"), appconfig=client, caller=no_sleep())
    action = act("revert_config", "eks/c/ns/cart", change=APP_CHANGE.model_dump(mode="json"))
    planned = executor.execute(action, dry_run=True)
    assert "appconfig:StopDeployment" in planned.api_call and "AllowRevert=true" in planned.api_call
    assert executor.execute(action, dry_run=False, pin=planned.pin).status == "executed"
    stub.assert_no_pending_responses()


def test_appconfig_revert_without_an_earlier_good_deployment_refuses(aws):
    client, _ = appconfig_stub([dep(1, "28")], writes=[])
    executor = ConfigExecutor(lambda _: None, ssm=aws.client("ssm"), appconfig=client, caller=no_sleep())
    result = executor.execute(act("revert_config", "eks/c/ns/cart", change=APP_CHANGE.model_dump(mode="json")),
                              dry_run=True)
    assert result.status == "failed" and "nothing known-good" in result.error


# --- disk clean-up (SSM Run Command) -----------------------------------------------------

def tagged_instance(aws, service: str) -> str:
    return aws.client("ec2").run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1, TagSpecifications=[
        {"ResourceType": "instance", "Tags": [{"Key": "Service", "Value": service},
                                              {"Key": "watchkeeper:managed", "Value": "true"}]}])["Instances"][0]["InstanceId"]


def test_disk_cleanup_sends_a_fixed_script_reports_its_final_status_and_refuses_unsafe_paths(aws):
    tagged_instance(aws, "search-indexer")
    executor = DiskCleanupExecutor(aws.client("ssm"), no_sleep(), poll_interval=0)
    action = act("free_disk_space", "ec2/search-indexer", paths=["/var/log/*.gz", "/", "/etc/*", "/tmp/../etc/*"])
    planned = executor.execute(action, dry_run=True)
    assert "find /var/log -maxdepth 1 -type f -name '*.gz' -mtime +1 -delete" in planned.diff
    assert "refused path: /" in planned.diff and "refused path: /etc/*" in planned.diff
    pin = planned.pin.model_copy(update={"call": {**planned.pin.call, "key": "inc-1#a1"}})
    done = executor.execute(action, dry_run=False, pin=pin)
    assert done.status == "executed" and done.after["Status"] == "Success" and done.after["TargetCount"] == 1
    assert executor.observe(action, pin)["command"] == "Success"            # found again by its key: never resent
    assert executor.revert(done).status == "skipped"
    nothing = executor.execute(act("free_disk_space", "ec2/x", paths=["/"]), dry_run=False)
    assert nothing.status == "failed"


def test_disk_cleanup_on_no_instance_is_not_reported_as_done(aws):
    result = DiskCleanupExecutor(aws.client("ssm"), no_sleep(), poll_interval=0).execute(
        act("free_disk_space", "ec2/nobody", paths=["/tmp/*"]), dry_run=False)
    assert result.status == "failed" and "no instance is tagged" in result.error


class _RunCommand:
    """An SSM client whose command ends `final` after `polls` in-progress answers."""

    def __init__(self, final: str, polls: int):
        self.final, self.polls, self.sent = final, polls, 0

    def send_command(self, **kw):
        self.sent += 1
        return {"Command": {"CommandId": "c-1", "Status": "Pending", "Comment": kw["Comment"]}}

    def list_commands(self, **kw):
        self.polls -= 1
        status = "InProgress" if self.polls > 0 else self.final
        return {"Commands": [{"CommandId": "c-1", "Status": status, "TargetCount": 2, "CompletedCount": 2,
                              "ErrorCount": 1 if status == "Failed" else 0, "Comment": "watchkeeper k"}]}


def test_run_command_failure_is_reported_as_failed_and_a_command_still_running_is_an_unknown_outcome():
    from watchkeeper.ports import OutcomeUnknown
    action = act("free_disk_space", "ec2/reports", paths=["/tmp/*"])
    failed = DiskCleanupExecutor(_RunCommand("Failed", 2), no_sleep(), poll_interval=0).execute(action, dry_run=False)
    assert failed.status == "failed" and "ended Failed" in failed.error and "1 of 2" in failed.error
    slow = DiskCleanupExecutor(_RunCommand("Success", 10**6), no_sleep(), wait_seconds=0.01, poll_interval=0)
    with pytest.raises(OutcomeUnknown):
        slow.execute(action, dry_run=False)


# --- the capability table at the executors ------------------------------------------------

@pytest.mark.parametrize("kind,target", [("rollback_deployment", "rds/catalog-db"), ("free_disk_space", "rds/catalog-db"),
                                         ("increase_memory_limit", "lambda/pricing"), ("scale_service", "rds/db")])
def test_an_unsupported_pair_is_refused_before_any_call(kind, target):
    class Exploding:
        def __getattr__(self, name):
            pytest.fail(f"{name} was called for an unsupported pair")

    router = PlatformExecutors({p: Exploding() for p in ("eks", "ecs", "lambda", "ec2", "rds")},
                               config=Exploding(), disk=Exploding())
    result = router.execute(act(kind, target, paths=["/tmp/*"]), dry_run=False)
    assert result.status == "failed" and "not supported" in result.error


# --- throttling and permissions on AWS APIs -------------------------------------------------

class Throttled:
    """An AWS client that answers ThrottlingException `times` times, then delegates."""

    def __init__(self, real, times: int, code: str = "ThrottlingException"):
        self.real, self.left, self.code, self.calls = real, times, code, 0

    def __getattr__(self, name):
        target = getattr(self.real, name)

        def call(**kwargs):
            self.calls += 1
            if self.left > 0:
                self.left -= 1
                raise ClientError({"Error": {"Code": self.code, "Message": "Rate exceeded"}}, name)
            return target(**kwargs)
        return call


def test_throttling_is_retried_with_backoff_then_succeeds(asg):
    sleeps: list[float] = []
    client = Throttled(asg, times=2)
    result = AutoScalingExecutor(client, AwsCaller(sleep=sleeps.append)).execute(
        act("scale_service", "ec2/shipping", factor=1.5), dry_run=False)
    assert result.status == "executed" and desired(asg) == 3
    assert sleeps == [0.5, 1.0]


def test_persistent_throttling_is_a_transient_error_for_the_state_machine_to_retry(ecs):
    from watchkeeper.ports import TransientError
    client = Throttled(ecs, times=99)
    with pytest.raises(TransientError, match="gave up"):
        EcsExecutor(client, AwsCaller(sleep=lambda s: None, attempts=3)).execute(
            act("scale_service", "ecs/prod/orders"), dry_run=False)
    assert client.calls == 3 and service_of(ecs)["desiredCount"] == 4


def test_a_write_that_times_out_is_an_unknown_outcome_never_sent_twice(ecs):
    from botocore.exceptions import ReadTimeoutError
    from watchkeeper.ports import OutcomeUnknown

    class TimesOutAfterWriting:
        def __init__(self, real):
            self.real, self.updates = real, 0

        def __getattr__(self, name):
            target = getattr(self.real, name)
            if name != "update_service":
                return target

            def call(**kw):
                self.updates += 1
                target(**kw)
                raise ReadTimeoutError(endpoint_url="https://ecs.us-east-1.amazonaws.com")
            return call

    client = TimesOutAfterWriting(ecs)
    executor = EcsExecutor(client, AwsCaller(sleep=lambda s: None))
    action = act("scale_service", "ecs/prod/orders", factor=1.5)
    pin = executor.execute(action, dry_run=True).pin
    with pytest.raises(OutcomeUnknown):
        executor.execute(action, dry_run=False, pin=pin)
    assert client.updates == 1 and service_of(ecs)["desiredCount"] == 6
    from watchkeeper.domain.pinning import outcome
    assert outcome(pin, executor.observe(action, pin)) == "applied"


def test_access_denied_is_not_retried_and_fails(lam):
    client, *_ = lam
    denied = Throttled(client, times=1, code="AccessDeniedException")
    result = LambdaExecutor(denied, caller=AwsCaller(sleep=lambda s: pytest.fail("retried a 403"))).execute(
        act("rollback_deployment", "lambda/pricing", change=culprit("2", "1", "lambda", "pricing")), dry_run=False)
    assert result.status == "failed" and "AccessDeniedException" in result.error and denied.calls == 1


# --- EKS through the executor port --------------------------------------------------------

NS, NAME = "shop", "checkout-api"
CLUSTER = {
    "deployments": [{"namespace": NS, "name": NAME, "replicas": 4, "ready": 4, "revision": "42",
                     "image": "shop/checkout-api:bad", "previous_image": "shop/checkout-api:good",
                     "memory_limit": "512Mi", "cpu_limit": "500m"}],
    "pods": [{"namespace": NS, "name": "checkout-api-7d9c-x2k4p", "deployment": NAME, "phase": "Running",
              "restarts": 5, "last_termination_reason": "OOMKilled"}],
}


@pytest.fixture
def sim():
    with KubernetesSimulator(CLUSTER) as simulator:
        yield simulator


@pytest.fixture
def eks(sim):
    k8s = KubernetesActions(configuration=sim.client_configuration(), sleep=lambda s: None,
                            poll_interval=0.001, settle_timeout=0.5)
    return PlatformExecutors({"eks": KubernetesExecutor(lambda cluster: k8s)})


def image(sim) -> str:
    return sim.deployment(NS, NAME)["spec"]["template"]["spec"]["containers"][0]["image"]


def test_eks_rollback_dry_run_then_write_then_revert(sim, eks):
    target = f"eks/prod/{NS}/{NAME}"
    rollback = act("rollback_deployment", target, change=culprit("42", "41", "kubernetes", NAME))
    planned = eks.execute(rollback, dry_run=True)
    assert planned.status == "planned" and "dryRun=All" in planned.api_call and image(sim) == "shop/checkout-api:bad"
    assert planned.pin.summary == "restore revision 41 (shop/checkout-api:good)" and planned.pin.before_is_culprit
    done = eks.execute(rollback, dry_run=False, pin=planned.pin)
    assert done.status == "executed" and image(sim) == "shop/checkout-api:good"
    undone = eks.revert(done)
    assert undone.status == "reverted" and image(sim) == "shop/checkout-api:bad"


def test_eks_rollback_to_a_revision_the_history_no_longer_has_is_refused(sim, eks):
    result = eks.execute(act("rollback_deployment", f"eks/prod/{NS}/{NAME}",
                             change=culprit("42", "17", "kubernetes", NAME)), dry_run=True)
    assert result.status == "failed" and "revision 17" in result.error and "no longer in its history" in result.error


def test_eks_memory_limit_and_scale_revert_to_their_before_state(sim, eks):
    target = f"eks/prod/{NS}/{NAME}"
    memory = eks.execute(act("increase_memory_limit", target, factor=1.5), dry_run=False)
    limits = lambda: sim.deployment(NS, NAME)["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]  # noqa: E731
    assert memory.status == "executed" and limits()["memory"] == "768Mi"
    assert eks.revert(memory).status == "reverted" and limits()["memory"] == "512Mi"
    scaled = eks.execute(act("scale_service", target, factor=1.5), dry_run=False)
    assert scaled.status == "executed" and sim.deployment(NS, NAME)["spec"]["replicas"] == 6
    assert eks.revert(scaled).status == "reverted" and sim.deployment(NS, NAME)["spec"]["replicas"] == 4
    restarted = eks.execute(act("restart_pods", target, max_pods=1), dry_run=False)
    assert restarted.status == "executed" and eks.revert(restarted).status == "skipped"


def test_eks_409_conflicts_are_retried_then_the_write_lands(sim, eks):
    sim.inject_fault("PATCH", rf"/deployments/{NAME}$", 409, times=1)
    done = eks.execute(act("increase_memory_limit", f"eks/prod/{NS}/{NAME}"), dry_run=False)
    assert done.status == "executed"
    assert [e["status"] for e in sim.events if e["verb"] == "patch"] == [409, 200]


def test_eks_409_that_never_clears_fails_without_writing(sim, eks):
    sim.inject_fault("PATCH", rf"/deployments/{NAME}$", 409, times=None)
    result = eks.execute(act("increase_memory_limit", f"eks/prod/{NS}/{NAME}"), dry_run=False)
    assert result.status == "failed" and "409" in result.error and "gave up" in result.error
    assert sim.deployment(NS, NAME)["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"] == "512Mi"


def test_eks_403_fails_with_the_rbac_reason(sim, eks):
    sim.inject_fault("PATCH", rf"/deployments/{NAME}/scale$", 403, times=None)
    result = eks.execute(act("scale_service", f"eks/prod/{NS}/{NAME}"), dry_run=False)
    assert result.status == "failed" and "403" in result.error and "forbidden" in result.error
    assert sim.deployment(NS, NAME)["spec"]["replicas"] == 4


def test_eks_429_is_retried_and_persistent_429_fails(sim, eks):
    sim.inject_fault("DELETE", r"/pods/", 429, times=1)
    ok = eks.execute(act("restart_pods", f"eks/prod/{NS}/{NAME}", max_pods=1), dry_run=False)
    assert ok.status == "executed"
    sim.inject_fault("DELETE", r"/pods/", 429, times=None)
    from watchkeeper.ports import TransientError
    with pytest.raises(TransientError, match="429"):      # the state machine retries the step later
        eks.execute(act("restart_pods", f"eks/prod/{NS}/{NAME}", max_pods=1), dry_run=False)


def test_eks_cluster_credentials_failure_is_a_failed_result(sim):
    def no_cluster(name):
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "eks:DescribeCluster"}}, "DescribeCluster")
    result = KubernetesExecutor(no_cluster).execute(act("scale_service", f"eks/prod/{NS}/{NAME}"), dry_run=False)
    assert result.status == "failed" and "AccessDeniedException" in result.error


def test_a_rollback_naming_its_culprit_only_by_id_takes_the_target_from_the_journal(ecs):
    ecs.register_task_definition(family="orders", containerDefinitions=[{"name": "orders", "image": "shop/orders:3",
                                                                         "memory": 512}])
    ecs.update_service(cluster="prod", service="orders", taskDefinition="orders:3")
    change = ChangeEvent.model_validate(culprit("3", "1", "ecs"))          # 3 replaced 1 (2 was never live)
    router = PlatformExecutors({"ecs": EcsExecutor(ecs, no_sleep())},
                               config=ConfigExecutor({change.id: change}.get, ssm=boto3.client("ssm")))
    planned = router.execute(act("rollback_deployment", "ecs/prod/orders", change_id=change.id), dry_run=True)
    assert planned.status == "planned" and planned.pin.target["taskDefinition"].endswith("orders:1")
