"""Log templates remembered per service between incidents, on the DynamoDB state table (moto)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import boto3
import pytest
from moto import mock_aws

from watchkeeper.adapters.dynamodb_templates import DynamoDBTemplateStates
from watchkeeper.domain.diagnose import DeterministicAnalyzer
from watchkeeper.domain.evidence import EvidenceGatherer
from watchkeeper.domain.logs.miner import TemplateMiner
from watchkeeper.models import AlertRef, ChangeEvent, Incident, Service, ServiceCatalog
from watchkeeper.ports import LogEvent, MetricSeries, TemplateHistory

from .fakes import FakeChanges, FakeLogs, FakeMetrics

CATALOG = ServiceCatalog(services=[Service(name="web", platform="eks", cluster="prod", namespace="shop", workload="web",
                                           log_group="/eks/web")])
DAY1 = datetime(2026, 9, 19, 21, 0, tzinfo=timezone.utc)
DAY2 = DAY1 + timedelta(days=1, hours=4)    # the first incident's lines are over 24 h before this window


@pytest.fixture
def ddb():
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(TableName="state", BillingMode="PAY_PER_REQUEST",
                            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                       {"AttributeName": "sk", "KeyType": "RANGE"}],
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                                  {"AttributeName": "sk", "AttributeType": "S"}])
        yield client


def _incident(n: int, at: datetime) -> Incident:
    alerts = [AlertRef(delivery_id=f"d{n}", fingerprint="cloudwatch:web-5xx", source="cloudwatch-sns", status="firing",
                       title="web-5xx", received_at=at, service="web", category="availability", alarm_name="web-5xx")]
    return Incident(id=f"inc-web-{n}", service="web", opened_at=at, last_alert_at=at, alerts=alerts)


def _window(end: datetime, deploy: datetime, extra: str | None = None) -> tuple[list[LogEvent], MetricSeries]:
    """Three hours of INFO lines; from 3 minutes after `deploy`, a burst of pool-timeout errors."""
    logs = [LogEvent(end - timedelta(minutes=180 - i), "INFO request completed status=200", "/eks/web")
            for i in range(0, 180, 2)]
    logs += [LogEvent(deploy + timedelta(minutes=3, seconds=i * 20),
                      f"ERROR timed out waiting for connection from pool cart-db after {5000 + i} ms", "/eks/web")
             for i in range(30)]
    if extra:
        logs += [LogEvent(deploy + timedelta(minutes=4, seconds=i * 20), f"{extra} {i}", "/eks/web") for i in range(20)]
    points = [(end - timedelta(minutes=180 - i), 0.2 if end - timedelta(minutes=180 - i) < deploy + timedelta(minutes=2)
               else 8.0) for i in range(180)]
    return sorted(logs, key=lambda e: e.at), MetricSeries("web", "App", "error_rate_5xx", None, points)


def _gather(ddb, incident: Incident, deploy: datetime, extra: str | None = None, store=None):
    logs, series = _window(incident.opened_at, deploy, extra)
    change = ChangeEvent(id=f"deploy-web-{incident.id}", kind="deploy", service="web", at=deploy, revision="42",
                         previous_revision="41")
    gatherer = EvidenceGatherer(CATALOG, FakeLogs(logs), FakeMetrics([series]), FakeChanges([change]),
                                templates=store or DynamoDBTemplateStates("state", ddb))
    return gatherer.gather(incident)


def _pool_item(evidence):
    return next(i for i in evidence.items if i.type == "log_template" and "connection from pool" in i.detail)


def test_a_template_seen_a_day_earlier_is_recurring_not_new_since_the_deploy(ddb):
    first = _gather(ddb, _incident(1, DAY1), DAY1 - timedelta(minutes=14))
    pool1 = _pool_item(first)
    assert "new_since:deploy-web-inc-web-1" in pool1.signals and "recurring" not in pool1.signals

    second = _gather(ddb, _incident(2, DAY2), DAY2 - timedelta(minutes=14),
                     extra="ERROR NullPointerException in CartMapper line")
    pool2 = _pool_item(second)
    assert pool2.ref == pool1.ref                                   # the same template id in both incidents
    assert "recurring" in pool2.signals and "recurring_for_days:1" in pool2.signals
    assert not any(s == "new" or s.startswith("new_since:") for s in pool2.signals)
    npe = next(i for i in second.items if i.type == "log_template" and "NullPointerException" in i.detail)
    assert "new" in npe.signals and "new_since:deploy-web-inc-web-2" in npe.signals   # never seen before

    # the recurring pool timeouts are not "error log templates that did not exist before the change"
    cause = DeterministicAnalyzer(CATALOG).diagnose(_incident(2, DAY2), second)
    assert pool2.id not in cause.evidence

    item = ddb.get_item(TableName="state", Key={"pk": {"S": "TEMPLATES#web"}, "sk": {"S": "STATE"}})["Item"]
    assert isinstance(item["miner"]["B"], bytes)
    seen = DynamoDBTemplateStates("state", ddb).load("web").seen
    assert seen[pool2.ref.split(":", 1)[1]]["seen_incidents"] == 2


def test_only_the_template_from_hours_ago_is_not_recurring(ddb):
    _gather(ddb, _incident(1, DAY1), DAY1 - timedelta(minutes=14))
    later = DAY1 + timedelta(hours=5)
    again = _gather(ddb, _incident(2, later), later - timedelta(minutes=14))
    assert "recurring" not in _pool_item(again).signals


def test_template_ids_survive_a_state_round_trip(ddb):
    store = DynamoDBTemplateStates("state", ddb)
    miner = TemplateMiner()
    lines = ["ERROR timed out waiting for connection from pool cart-db after 5000 ms",
             "INFO request completed status=200 in 12 ms", "WARN retrying payment call attempt 2"]
    ids = [miner.add(line).template_id for line in lines]
    assert store.save("web", TemplateHistory(miner_state=miner.state_bytes(), seen={})) == []
    restored = TemplateMiner.from_state(store.load("web").miner_state)
    assert [restored.add(line.replace("5000", "7000").replace("2", "3")).template_id for line in lines] == ids
    assert restored.add("FATAL disk full on /var/lib/data").template_id not in ids


def test_a_state_over_the_item_limit_is_not_written_and_says_so(ddb):
    store = DynamoDBTemplateStates("state", ddb, item_limit=10 * 1024, max_seen=2)
    seen = {f"c{i}": {"first_seen": DAY1.isoformat(), "last_seen": (DAY1 + timedelta(minutes=i)).isoformat()}
            for i in range(5)}
    notes = store.save("web", TemplateHistory(miner_state=b"x" * 20_000, seen=seen))
    assert any("newest 2 of 5" in n for n in notes) and any("not saved" in n for n in notes)
    assert store.load("web") is None
    assert store.save("web", TemplateHistory(miner_state=b"x" * 100, seen=seen)) == \
        ["template history of web: kept the newest 2 of 5 templates"]
    assert set(store.load("web").seen) == {"c4", "c3"}
