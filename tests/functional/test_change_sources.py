"""Change sources behind the one ChangeSource port, against moto and the Kubernetes simulator."""
from __future__ import annotations

import io
import zipfile
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from moto import mock_aws

from watchkeeper.adapters.change_sources import (
    CodeDeployDeployments, CompositeChangeSource, EcsDeployments, KubernetesRolloutHistory, LambdaVersions, SsmParameterHistory,
)
from watchkeeper.models import ChangeEvent, Service, ServiceCatalog

REGION = "us-east-1"
CATALOG = ServiceCatalog(services=[
    Service(name="cart-api", platform="eks", namespace="shop", workload="cart-api", cluster="prod-eks"),
    Service(name="ledger-api", platform="ecs", workload="ledger-api", cluster="fin-prod"),
    Service(name="thumbnailer", platform="lambda", workload="media-thumbnailer"),
    Service(name="invoicing", platform="ec2", workload="invoicing-asg"),
])
EPOCH = datetime(2000, 1, 1, tzinfo=timezone.utc)
FUTURE = datetime(2100, 1, 1, tzinfo=timezone.utc)


@pytest.fixture
def aws():
    with mock_aws():
        yield


def test_ssm_history_is_one_config_change_per_new_version(aws):
    ssm = boto3.client("ssm", region_name=REGION)
    ssm.put_parameter(Name="/prod/cart-api/cart.db.pool.max-size", Value="32", Type="String")
    ssm.put_parameter(Name="/prod/cart-api/cart.db.pool.max-size", Value="0", Type="String", Overwrite=True)
    ssm.put_parameter(Name="/prod/cart-api/api-key", Value="s3cr3t", Type="SecureString")
    ssm.put_parameter(Name="/prod/cart-api/api-key", Value="n3w", Type="SecureString", Overwrite=True)
    found = SsmParameterHistory(CATALOG, ssm).changes(["cart-api"], EPOCH, FUTURE)
    by_id = {c.id: c for c in found}
    pool = by_id["ssm-cart-api-cart.db.pool.max-size-v2"]
    assert (pool.kind, pool.revision, pool.previous_revision) == ("config", "2", "1")
    assert pool.description.endswith("cart.db.pool.max-size: 32 -> 0")
    secret = by_id["ssm-cart-api-api-key-v2"]
    assert "s3cr3t" not in secret.description and "n3w" not in secret.description


def test_lambda_versions_name_the_alias_that_points_at_them(aws):
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName="fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lam = boto3.client("lambda", region_name=REGION)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("handler.py", "def handle(e, c):\n    return 1\n")
    lam.create_function(FunctionName="media-thumbnailer", Runtime="python3.12", Role=role, Handler="handler.handle",
                        Code={"ZipFile": buf.getvalue()})
    lam.publish_version(FunctionName="media-thumbnailer")
    lam.update_function_code(FunctionName="media-thumbnailer", ZipFile=buf.getvalue())
    lam.publish_version(FunctionName="media-thumbnailer")
    lam.create_alias(FunctionName="media-thumbnailer", Name="live", FunctionVersion="2")
    found = LambdaVersions(CATALOG, lam).changes(["thumbnailer"], EPOCH, FUTURE)
    assert [c.revision for c in found] == ["1", "2"]
    assert found[1].previous_revision == "1" and "alias live -> 2" in found[1].description
    assert found[1].id == "lambda-media-thumbnailer-v2" and found[1].source == "lambda"


def test_ecs_deployments_carry_the_task_definition_revision(aws):
    ecs = boto3.client("ecs", region_name=REGION)
    ecs.create_cluster(clusterName="fin-prod")
    ecs.register_task_definition(family="ledger-api", containerDefinitions=[{"name": "app", "image": "ledger:1", "memory": 512}])
    ecs.register_task_definition(family="ledger-api", containerDefinitions=[{"name": "app", "image": "ledger:2", "memory": 512}])
    ecs.create_service(cluster="fin-prod", serviceName="ledger-api", taskDefinition="ledger-api:2", desiredCount=1)
    found = EcsDeployments(CATALOG, ecs).changes(["ledger-api"], EPOCH, FUTURE)
    assert [(c.id, c.kind, c.revision, c.source) for c in found] == [("ecs-ledger-api-td-2", "deploy", "2", "ecs")]


def test_codedeploy_deployments_are_read_group_by_group(aws):
    """ListDeployments takes an application only with a deployment group (the API refuses one alone)."""
    cd = boto3.client("codedeploy", region_name=REGION)
    cd.create_application(applicationName="invoicing", computePlatform="Server")
    revision = {"revisionType": "S3", "s3Location": {"bucket": "builds", "key": "invoicing/144.zip",
                                                     "bundleType": "zip"}}
    ids = []
    for group in ("prod-blue", "prod-green"):
        cd.create_deployment_group(applicationName="invoicing", deploymentGroupName=group,
                                   serviceRoleArn="arn:aws:iam::123456789012:role/codedeploy")
        ids.append(cd.create_deployment(applicationName="invoicing", deploymentGroupName=group,
                                        revision=revision)["deploymentId"])
    with pytest.raises(Exception):
        cd.list_deployments(applicationName="invoicing")
    found = CodeDeployDeployments(CATALOG, cd).changes(["invoicing", "cart-api"], EPOCH, FUTURE)
    assert sorted(c.id for c in found) == sorted(f"codedeploy-invoicing-{i}" for i in ids)
    assert {c.source for c in found} == {"codedeploy"} and all(c.kind == "deploy" for c in found)


def test_kubernetes_rollout_history_reads_replicaset_revisions():
    from kubernetes import client as k8s

    from watchkeeper.local.k8s_sim import KubernetesSimulator

    state = {"deployments": [{"namespace": "shop", "name": "cart-api", "replicas": 2, "ready": 2, "revision": "42",
                              "image": "shop/cart-api:9f2c1e7", "memory_limit": "512Mi", "cpu_limit": "500m"}],
             "pods": []}
    with KubernetesSimulator(state) as sim:
        apps = k8s.AppsV1Api(k8s.ApiClient(sim.client_configuration()))
        found = KubernetesRolloutHistory(CATALOG, lambda cluster: apps).changes(["cart-api"], EPOCH, FUTURE)
    assert found and found[-1].id == "k8s-cart-api-rev-42"
    assert (found[-1].kind, found[-1].revision, found[-1].sha) == ("deploy", "42", "9f2c1e7")


class _Fixed:
    def __init__(self, *changes: ChangeEvent, error: Exception | None = None):
        self._changes, self._error = changes, error

    def changes(self, services, start, end):
        if self._error:
            raise self._error
        return [c for c in self._changes if c.service in services]


def test_the_composite_keeps_the_journal_entry_and_survives_a_failing_source():
    at = datetime(2026, 3, 4, 16, 3, tzinfo=timezone.utc)
    journal = ChangeEvent(id="deploy-ledger-api-58", kind="deploy", service="ledger-api", at=at, revision="58",
                          author="juno", source="ecs")
    native = ChangeEvent(id="ecs-ledger-api-td-58", kind="deploy", service="ledger-api",
                         at=at + timedelta(seconds=40), revision="58", source="ecs")
    other = ChangeEvent(id="ecs-ledger-api-td-57", kind="deploy", service="ledger-api", at=at - timedelta(hours=20),
                        revision="57", source="ecs")
    composite = CompositeChangeSource([_Fixed(journal), _Fixed(error=RuntimeError("throttled")), _Fixed(native, other)])
    found = composite.changes(["ledger-api"], EPOCH, FUTURE)
    assert [c.id for c in found] == ["ecs-ledger-api-td-57", "deploy-ledger-api-58"]
    assert composite.errors and "throttled" in composite.errors[0]
