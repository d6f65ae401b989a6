"""CHANGE_SOURCES picks the change sources Gather reads: the journal plus the named platforms (moto)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import boto3
import pytest
from moto import mock_aws
from pydantic import ValidationError

from watchkeeper.adapters.change_sources import CompositeChangeSource, LambdaVersions, SsmParameterHistory
from watchkeeper.adapters.changes import ChangeJournal
from watchkeeper.composition import Container
from watchkeeper.models import ChangeEvent, Service, ServiceCatalog
from watchkeeper.settings import Settings

REGION = "us-east-1"
CATALOG = ServiceCatalog(services=[Service(name="cart-api", platform="eks", namespace="shop", workload="cart-api",
                                           cluster="prod-eks")])


@pytest.fixture
def aws(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        ddb.create_table(TableName="state", BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                               {"AttributeName": "sk", "AttributeType": "S"}])
        yield


def _container(env: dict[str, str]) -> Container:
    c = Container(Settings.from_env({"STATE_TABLE": "state", **env}), session=boto3.session.Session(region_name=REGION))
    c._catalog = CATALOG
    return c


def test_without_change_sources_gather_reads_the_journal_only(aws):
    assert Settings.from_env({}).change_sources == ("journal",)
    assert type(_container({}).change_source()) is ChangeJournal
    assert type(_container({"CHANGE_SOURCES": " journal "}).change_source()) is ChangeJournal


def test_named_sources_are_merged_with_the_journal(aws):
    source = _container({"CHANGE_SOURCES": "journal, ssm,lambda"}).change_source()
    assert isinstance(source, CompositeChangeSource)
    assert [type(s) for s in source._sources] == [ChangeJournal, SsmParameterHistory, LambdaVersions]

    # and it reads them: a journal entry and an SSM parameter update, both found
    now = datetime.now(timezone.utc)
    ChangeJournal("state", boto3.client("dynamodb", region_name=REGION)).record(ChangeEvent(
        id="deploy-cart-api-42", kind="deploy", service="cart-api", at=now - timedelta(minutes=30), revision="42"))
    ssm = boto3.client("ssm", region_name=REGION)
    ssm.put_parameter(Name="/prod/cart-api/pool-size", Value="32", Type="String")
    ssm.put_parameter(Name="/prod/cart-api/pool-size", Value="0", Type="String", Overwrite=True)
    found = source.changes(["cart-api"], now - timedelta(hours=1), now + timedelta(minutes=1))
    assert {c.source for c in found} >= {"ssm"} and "deploy-cart-api-42" in {c.id for c in found}
    assert "ssm-cart-api-pool-size-v2" in {c.id for c in found} and source.errors == []


def test_the_journal_is_always_read_even_when_not_named(aws):
    source = _container({"CHANGE_SOURCES": "ecs"}).change_source()
    assert [type(s).__name__ for s in source._sources] == ["ChangeJournal", "EcsDeployments"]


def test_a_misspelt_change_source_is_an_error():
    with pytest.raises(ValidationError, match="unknown change source"):
        Settings.from_env({"CHANGE_SOURCES": "journal,kubernets"})
