"""The change feed in a deployed account: the AWS documentation's sample events (events/change_feed/)
through the rules' handler into the journal (moto), named as Gather's platform sources name them,
and found by id for a revert."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from watchkeeper import composition
from watchkeeper.adapters.changes import ChangeJournal
from watchkeeper.composition import Container
from watchkeeper.handlers import change_feed
from watchkeeper.local.runtime import LambdaContext
from watchkeeper.models import Service, ServiceCatalog
from watchkeeper.settings import Settings

EVENTS = Path(__file__).parent / "events" / "change_feed"
REGION = "us-east-1"
CATALOG = ServiceCatalog(services=[
    Service(name="servicetest", platform="ecs", cluster="default", workload="servicetest"),
    Service(name="my-app", platform="ec2", workload="myApplication"),
    Service(name="my-function", platform="lambda"),
    Service(name="cart-api", platform="eks", namespace="shop"),
    Service(name="MyApp", platform="ecs"),
])
CTX = LambdaContext(function_name="ChangeFeed")


def sample(name: str) -> dict:
    return json.loads((EVENTS / f"{name}.json").read_text())


@pytest.fixture
def aws(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        ddb.create_table(TableName="state", BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                               {"AttributeName": "sk", "AttributeType": "S"}])
        c = Container(Settings.from_env({"STATE_TABLE": "state", "CONFIG_PARAMETER_PATHS": "/prod/"}),
                      session=boto3.session.Session(region_name=REGION))
        c._catalog = CATALOG
        composition.use_containers(lambda: c)
        try:
            yield ChangeJournal("state", ddb)
        finally:
            composition.use_containers(None)


def feed(event: dict) -> dict:
    return change_feed.handler(event, CTX)


def test_an_ecs_deployment_is_recorded_with_the_task_definition_it_rolls_out(aws):
    ecs = boto3.client("ecs", region_name=REGION)
    ecs.create_cluster(clusterName="default")
    for _ in range(3):
        ecs.register_task_definition(family="servicetest", containerDefinitions=[{"name": "app", "image": "app:1", "memory": 256}])
    ecs.create_service(cluster="default", serviceName="servicetest", taskDefinition="servicetest:3", desiredCount=1)
    deployment = ecs.describe_services(cluster="default", services=["servicetest"])["services"][0]["deployments"][0]["id"]
    event = sample("ecs-deployment-in-progress")
    event["detail"]["deploymentId"] = deployment
    out = feed(event)
    assert out == {"recorded": "ecs-servicetest-td-3", "service": "servicetest"}    # EcsDeployments' name for it
    (change,) = aws.changes(["servicetest"], datetime(2020, 1, 1, tzinfo=timezone.utc), datetime(2030, 1, 1, tzinfo=timezone.utc))
    assert (change.kind, change.revision, change.previous_revision, change.source) == ("deploy", "3", "2", "ecs")
    assert aws.get("ecs-servicetest-td-3") == change


def test_the_documentation_samples_of_ecs_codedeploy_and_appconfig(aws):
    rollback = feed(sample("ecs-deployment-rollback"))           # no such deployment: recorded by its id
    assert rollback["recorded"] == "ecs-servicetest-123" and "rollback" in aws.get("ecs-servicetest-123").description
    assert feed(sample("ecs-deployment-completed"))["recorded"] is None
    assert feed(sample("codedeploy-deployment-success"))["recorded"] is None      # the start is the change
    assert feed(sample("codedeploy-deployment-start")) == {"recorded": "codedeploy-my-app-d-123456789", "service": "my-app"}
    assert feed(sample("appconfig-on-deployment-start")) == {"recorded": "appconfig-MyApp-MyEnv-1", "service": "MyApp"}
    appconfig = aws.get("appconfig-MyApp-MyEnv-1")
    assert appconfig.kind == "config" and appconfig.description.startswith("AppConfig deployment MyApp/MyEnv: profile")


def test_lambda_code_versions_aliases_and_configuration_through_cloudtrail(aws):
    assert feed(sample("lambda-update-function-code"))["recorded"].startswith("lambda-my-function-code-")
    assert feed(sample("lambda-publish-version"))["recorded"] == "lambda-my-function-v7"      # LambdaVersions' name
    assert feed(sample("lambda-update-alias"))["recorded"] == "lambda-my-function-alias-live-v7"
    config = feed(sample("lambda-update-function-configuration"))["recorded"]
    assert aws.get(config).kind == "config"
    assert feed(sample("lambda-update-function-code-failed"))["recorded"] is None
    version = aws.get("lambda-my-function-v7")
    assert (version.revision, version.previous_revision, version.author) == ("7", "6", "deployer")


def test_a_parameter_change_is_recorded_with_its_version_and_reverted_from_the_journal(aws):
    from watchkeeper.adapters.executors import ConfigExecutor
    from watchkeeper.models import Action

    assert feed(sample("ssm-parameter-store-change"))["recorded"] is None        # "foo": outside /prod/
    ssm = boto3.client("ssm", region_name=REGION)
    ssm.put_parameter(Name="/prod/cart-api/discount-rate", Value="0.1", Type="String")
    ssm.put_parameter(Name="/prod/cart-api/discount-rate", Value="9", Type="String", Overwrite=True)
    event = sample("ssm-parameter-store-change")
    event["detail"]["name"] = "/prod/cart-api/discount-rate"
    assert feed(event) == {"recorded": "ssm-cart-api-discount-rate-v2", "service": "cart-api"}   # SsmParameterHistory's
    change = aws.get("ssm-cart-api-discount-rate-v2")
    assert (change.kind, change.revision, change.previous_revision) == ("config", "2", "1")
    action = Action(id="a1", type="revert_config", target="cart-api", params={"change_id": change.id})
    result = ConfigExecutor(aws.get, ssm=ssm).execute(action, dry_run=False)
    assert result.status == "executed", result.error
    assert ssm.get_parameter(Name="/prod/cart-api/discount-rate")["Parameter"]["Value"] == "0.1"


def test_events_outside_the_estate_are_skipped_with_a_reason(aws):
    event = sample("codedeploy-deployment-start")
    event["detail"]["application"] = "someone-elses-app"
    out = feed(event)
    assert out["recorded"] is None and "not a catalog service" in out["skipped"]
    assert feed({"source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification"})["recorded"] is None


def test_the_same_event_twice_is_one_change(aws):
    feed(sample("codedeploy-deployment-start"))
    feed(sample("codedeploy-deployment-start"))
    assert len(aws.changes(["my-app"], datetime(2016, 1, 1, tzinfo=timezone.utc),
                           datetime(2017, 1, 1, tzinfo=timezone.utc))) == 1
