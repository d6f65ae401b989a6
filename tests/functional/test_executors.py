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


def test_ecs_rollback_goes_to_the_previous_task_definition_and_reverts(ecs):
    executor = EcsExecutor(ecs, no_sleep())
    planned = executor.execute(act("rollback_deployment", "ecs/prod/orders"), dry_run=True)
    assert planned.status == "planned" and planned.after["taskDefinition"].endswith("orders:1")
    assert service_of(ecs)["taskDefinition"].endswith("orders:2")        # a dry run writes nothing

    done = executor.execute(act("rollback_deployment", "ecs/prod/orders"), dry_run=False)
    assert done.status == "executed" and "taskDefinition=" in done.api_call
    assert service_of(ecs)["taskDefinition"].endswith("orders:1")
    assert done.before["taskDefinition"].endswith("orders:2")

    undone = executor.revert(done)
    assert undone.status == "reverted"
    assert service_of(ecs)["taskDefinition"].endswith("orders:2")


def test_ecs_rollback_of_the_first_revision_fails_with_a_reason(aws):
    client = aws.client("ecs")
    client.create_cluster(clusterName="prod")
    client.register_task_definition(family="orders", containerDefinitions=[{"name": "o", "image": "x", "memory": 128}])
    client.create_service(cluster="prod", serviceName="orders", taskDefinition="orders:1", desiredCount=1)
    result = EcsExecutor(client, no_sleep()).execute(act("rollback_deployment", "ecs/prod/orders"), dry_run=False)
    assert result.status == "failed" and "no previous revision" in result.error


def test_ecs_scale_sets_the_desired_count_and_reverts(ecs):
    executor = EcsExecutor(ecs, no_sleep())
    done = executor.execute(act("scale_service", "ecs/prod/orders", factor=1.5), dry_run=False)
    assert (done.status, done.before, done.after) == ("executed", {"desiredCount": 4}, {"desiredCount": 6})
    assert service_of(ecs)["desiredCount"] == 6
    assert executor.revert(done).status == "reverted" and service_of(ecs)["desiredCount"] == 4


def test_ecs_missing_service_is_a_failure_not_a_traceback(ecs):
    result = EcsExecutor(ecs, no_sleep()).execute(act("scale_service", "ecs/prod/nope"), dry_run=False)
    assert result.status == "failed" and "cannot act on ecs/prod/nope" in result.error


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


def test_lambda_rollback_moves_the_alias_back_and_reverts(lam):
    client, v1, v2 = lam
    executor = LambdaExecutor(client, caller=no_sleep())
    planned = executor.execute(act("rollback_deployment", "lambda/pricing"), dry_run=True)
    assert planned.diff == f"- FunctionVersion: {v2}\n+ FunctionVersion: {v1}"
    assert client.get_alias(FunctionName="pricing", Name="live")["FunctionVersion"] == v2

    done = executor.execute(act("rollback_deployment", "lambda/pricing"), dry_run=False)
    assert done.status == "executed"
    assert client.get_alias(FunctionName="pricing", Name="live")["FunctionVersion"] == v1
    assert executor.revert(done).status == "reverted"
    assert client.get_alias(FunctionName="pricing", Name="live")["FunctionVersion"] == v2


def test_lambda_without_the_alias_fails_with_the_aws_error(lam):
    client, *_ = lam
    result = LambdaExecutor(client, alias="canary", caller=no_sleep()).execute(
        act("rollback_deployment", "lambda/pricing"), dry_run=False)
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
    assert (done.before, done.after) == ({"DesiredCapacity": 2}, {"DesiredCapacity": 3}) and desired(asg) == 3
    capped = executor.execute(act("scale_service", "ec2/shipping", replicas=50), dry_run=True)
    assert capped.after == {"DesiredCapacity": 5}
    assert executor.revert(done).status == "reverted" and desired(asg) == 2


# --- configuration (SSM Parameter Store) -------------------------------------------------

def test_ssm_config_revert_restores_the_previous_value_and_reverts(aws):
    ssm = aws.client("ssm")
    ssm.put_parameter(Name="/cart/max-connections", Value="100", Type="String")
    ssm.put_parameter(Name="/cart/max-connections", Value="5", Type="String", Overwrite=True)
    change = ChangeEvent(id="cfg-cart-31", kind="config", service="cart", at=NOW, source="ssm",
                         description="SSM parameter /cart/max-connections: 100 -> 5")
    executor = ConfigExecutor({"cfg-cart-31": change}.get, ssm=ssm, caller=no_sleep())
    done = executor.execute(act("revert_config", "eks/c/ns/cart", change_id="cfg-cart-31"), dry_run=False)
    assert done.status == "executed" and done.diff == "- /cart/max-connections: 5\n+ /cart/max-connections: 100"
    assert ssm.get_parameter(Name="/cart/max-connections")["Parameter"]["Value"] == "100"
    assert executor.revert(done).status == "reverted"
    assert ssm.get_parameter(Name="/cart/max-connections")["Parameter"]["Value"] == "5"


def test_config_revert_of_an_unknown_change_fails(aws):
    result = ConfigExecutor(lambda _: None, ssm=aws.client("ssm")).execute(
        act("revert_config", "eks/c/ns/cart", change_id="cfg-x"), dry_run=False)
    assert result.status == "failed" and "not in the journal" in result.error


# --- disk clean-up (SSM Run Command) -----------------------------------------------------

def test_disk_cleanup_sends_a_fixed_script_and_refuses_unsafe_paths(aws):
    executor = DiskCleanupExecutor(aws.client("ssm"), no_sleep())
    action = act("free_disk_space", "ec2/search-indexer", paths=["/var/log/*.gz", "/", "/etc/*", "/tmp/../etc/*"])
    planned = executor.execute(action, dry_run=True)
    assert "find /var/log -maxdepth 1 -type f -name '*.gz' -mtime +1 -delete" in planned.diff
    assert "refused path: /" in planned.diff and "refused path: /etc/*" in planned.diff
    done = executor.execute(action, dry_run=False)
    assert done.status == "executed" and done.after["CommandId"]
    assert executor.revert(done).status == "skipped"
    nothing = executor.execute(act("free_disk_space", "ec2/x", paths=["/"]), dry_run=False)
    assert nothing.status == "failed"


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


def test_persistent_throttling_fails_with_a_clear_reason(ecs):
    client = Throttled(ecs, times=99)
    result = EcsExecutor(client, AwsCaller(sleep=lambda s: None, attempts=3)).execute(
        act("scale_service", "ecs/prod/orders"), dry_run=False)
    assert result.status == "failed" and "ThrottlingException" in result.error and "gave up" in result.error
    assert client.calls == 3 and service_of(ecs)["desiredCount"] == 4


def test_access_denied_is_not_retried_and_fails(lam):
    client, *_ = lam
    denied = Throttled(client, times=1, code="AccessDeniedException")
    result = LambdaExecutor(denied, caller=AwsCaller(sleep=lambda s: pytest.fail("retried a 403"))).execute(
        act("rollback_deployment", "lambda/pricing"), dry_run=False)
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
    planned = eks.execute(act("rollback_deployment", target), dry_run=True)
    assert planned.status == "planned" and "dryRun=All" in planned.api_call and image(sim) == "shop/checkout-api:bad"
    done = eks.execute(act("rollback_deployment", target), dry_run=False)
    assert done.status == "executed" and image(sim) == "shop/checkout-api:good"
    undone = eks.revert(done)
    assert undone.status == "reverted" and image(sim) == "shop/checkout-api:bad"


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
    throttled = eks.execute(act("restart_pods", f"eks/prod/{NS}/{NAME}", max_pods=1), dry_run=False)
    assert throttled.status == "failed" and "429" in throttled.error


def test_eks_cluster_credentials_failure_is_a_failed_result(sim):
    def no_cluster(name):
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "eks:DescribeCluster"}}, "DescribeCluster")
    result = KubernetesExecutor(no_cluster).execute(act("scale_service", f"eks/prod/{NS}/{NAME}"), dry_run=False)
    assert result.status == "failed" and "AccessDeniedException" in result.error
