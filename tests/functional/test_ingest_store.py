"""Batch ingest on the DynamoDB incident store (moto): conditional writes keep concurrent
invocations in agreement, retried batches count nothing twice, dependencies group right."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from moto import mock_aws

from watchkeeper.adapters.dynamodb_state import DynamoDBIncidentStore
from watchkeeper.domain.ingest import Ingestor
from watchkeeper.models import Service, ServiceCatalog

T0 = datetime(2026, 2, 11, 21, 50, tzinfo=timezone.utc)
CATALOG = ServiceCatalog(services=[
    Service(name="checkout-api", depends_on=["inventory-svc", "orders-db"]), Service(name="inventory-svc"),
    Service(name="billing-worker", depends_on=["orders-db"]), Service(name="orders-db", kind="database", platform="rds"),
    Service(name="search-api"),
])


class Starter:
    def __init__(self):
        self.started = []

    def start(self, incident_id, payload):
        if incident_id in self.started:
            return False
        self.started.append(incident_id)
        return True


def grafana(service: str, alertname: str, at: datetime, status: str = "firing") -> tuple[str, dict, str]:
    return ("grafana", {"receiver": "wk", "status": status, "alerts": [{
        "status": status, "labels": {"alertname": alertname, "service": service, "severity": "critical"},
        "annotations": {"summary": f"{alertname} on {service}"}, "startsAt": at.isoformat(),
        "fingerprint": f"{service}-{alertname}"}]}, at.isoformat())


@pytest.fixture()
def table():
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        ddb.create_table(TableName="state", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                                       {"AttributeName": "sk", "KeyType": "RANGE"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                               {"AttributeName": "sk", "AttributeType": "S"}],
                         BillingMode="PAY_PER_REQUEST")
        yield ddb


def ingestor(ddb, starter=None, **kw):
    store = DynamoDBIncidentStore("state", ddb)
    return store, Ingestor(store, starter or Starter(), CATALOG, settle_seconds=0, **kw)


def live(store):
    return {i.service: i for i in store.incidents() if i.status != "merged"}


def test_two_invocations_racing_on_one_service_agree_on_one_incident(table):
    store_a, a = ingestor(table)
    store_b, b = ingestor(table)
    batch_a = [grafana("search-api", "HighLatencyP99", T0 + timedelta(seconds=i)) for i in range(5)]
    batch_b = [grafana("search-api", "High5xxRate", T0 + timedelta(seconds=i)) for i in range(3)]
    read_view = store_a.read_view
    raced = []

    def read_then_lose_the_race(services, view):
        read_view(services, view)
        if not raced:                         # B places its batch after A has read, before A writes
            raced.append(b.ingest_batch(batch_b))

    store_a.read_view = read_then_lose_the_race
    out_a = a.ingest_batch(batch_a)
    assert not out_a.errors and raced[0].opened and not out_a.opened   # A lost, read again, attached
    (incident,) = live(store_a).values()
    assert incident.deliveries == 8


def test_a_retried_batch_counts_nothing_twice_and_starts_nothing_twice(table):
    starter = Starter()
    store, ing = ingestor(table, starter)
    batch = [grafana("search-api", "HighLatencyP99", T0)] * 2 + [grafana("search-api", "HighLatencyP99", T0 + timedelta(minutes=1))]
    first = ing.ingest_batch(batch)
    again = ing.ingest_batch(batch)
    assert first.opened and not again.opened and len(starter.started) == 1
    assert live(store)["search-api"].deliveries == 3      # same delivery twice in one batch counts twice


def test_a_dependency_alert_first_is_absorbed_by_the_dependents_incident(table):
    store, ing = ingestor(table)
    ing.ingest_batch([grafana("inventory-svc", "High5xxRate", T0)])
    ing.ingest_batch([grafana("checkout-api", "High5xxRate", T0 + timedelta(seconds=30)),
                      grafana("inventory-svc", "High5xxRate", T0 + timedelta(seconds=60))])
    incidents = live(store)
    assert list(incidents) == ["checkout-api"]
    assert incidents["checkout-api"].deliveries == 3 and incidents["checkout-api"].suspects == ["inventory-svc"]
    merged = [i for i in store.incidents() if i.status == "merged"]
    assert len(merged) == 1 and merged[0].merged_into == incidents["checkout-api"].id


def test_two_services_sharing_a_dependency_stay_two_incidents(table):
    store, ing = ingestor(table)
    ing.ingest_batch([grafana("orders-db", "HighCPUUsage", T0), grafana("checkout-api", "High5xxRate", T0 + timedelta(seconds=5)),
                      grafana("billing-worker", "QueueBacklog", T0 + timedelta(seconds=10))])
    incidents = live(store)
    assert sorted(incidents) == ["billing-worker", "checkout-api"]
    assert incidents["checkout-api"].deliveries == 2 and incidents["billing-worker"].deliveries == 1


def test_resolved_alerts_never_open_and_annotate_an_open_incident(table):
    store, ing = ingestor(table)
    out = ing.ingest_batch([grafana("search-api", "HighLatencyP99", T0, "resolved")])
    assert out.resolved == 1 and not store.incidents()
    ing.ingest_batch([grafana("search-api", "HighLatencyP99", T0 + timedelta(minutes=1)),
                      grafana("search-api", "HighLatencyP99", T0 + timedelta(minutes=2), "resolved")])
    incident = live(store)["search-api"]
    assert incident.deliveries == 1 and incident.resolved_alerts == 1


def test_the_window_slides_with_the_incidents_last_alert(table):
    store, ing = ingestor(table)
    ing.ingest_batch([grafana("search-api", "HighLatencyP99", T0 + timedelta(minutes=m)) for m in range(0, 40, 10)])
    assert live(store)["search-api"].deliveries == 4
    ing.ingest_batch([grafana("search-api", "HighLatencyP99", T0 + timedelta(minutes=60))])
    assert len([i for i in store.incidents() if i.service == "search-api"]) == 2


def test_malformed_deliveries_are_quarantined_and_the_rest_placed(table):
    store, ing = ingestor(table)
    out = ing.ingest_batch([("datadog", "{truncated", T0.isoformat()), grafana("search-api", "HighLatencyP99", T0),
                            ("pagerduty", {"event": []}, T0.isoformat())])
    assert (out.received, out.invalid) == (3, 2)
    assert len(store.quarantined()) == 2 and live(store)["search-api"].deliveries == 1
    assert all(json.dumps(q.reason) for q in store.quarantined())


# --- nothing orphaned: every stored incident gets exactly one workflow -------------------------
class FlakyStarter(Starter):
    """StartExecution named after the incident (a second start of one name is a no-op), failing
    the first `fail` calls the way a throttled Step Functions does."""

    def __init__(self, fail: int = 0):
        super().__init__()
        self.fail = fail
        self.calls = 0

    def start(self, incident_id, payload):
        self.calls += 1
        if self.calls <= self.fail:
            from watchkeeper.ports import TransientError
            raise TransientError("start workflow: ThrottlingException: Rate exceeded")
        return super().start(incident_id, payload)


def test_a_failed_start_fails_the_deliveries_and_their_redelivery_starts_the_workflow(table):
    starter = FlakyStarter(fail=1)
    store, ing = ingestor(table, starter)
    batch = [grafana("search-api", "HighLatencyP99", T0), grafana("search-api", "High5xxRate", T0 + timedelta(seconds=5))]
    first = ing.ingest_batch(batch)
    assert first.failed == [0, 1] and not starter.started and store.pending_starts()
    again = ing.ingest_batch(batch)                         # SQS delivers the failed records again
    assert not again.failed and starter.started == [live(store)["search-api"].id]
    assert live(store)["search-api"].deliveries == 2 and not store.pending_starts()


def test_a_later_alert_into_an_incident_without_a_workflow_starts_it(table):
    starter = FlakyStarter(fail=1)
    store, ing = ingestor(table, starter)
    ing.ingest_batch([grafana("search-api", "HighLatencyP99", T0)])
    assert not starter.started
    out = ing.ingest_batch([grafana("search-api", "HighLatencyP99", T0 + timedelta(minutes=3))])
    assert out.started == starter.started == [live(store)["search-api"].id]
    ing.ingest_batch([grafana("search-api", "HighLatencyP99", T0 + timedelta(minutes=4))])
    assert starter.calls == 2                               # known started: not asked again


def test_the_reconciler_starts_what_ingest_could_not_and_nothing_twice(table):
    from watchkeeper.domain.ingest import reconcile

    starter = FlakyStarter(fail=2)
    store, ing = ingestor(table, starter)
    ing.ingest_batch([grafana("search-api", "HighLatencyP99", T0), grafana("inventory-svc", "High5xxRate", T0)])
    assert not starter.started and len(store.pending_starts()) == 2
    out = reconcile(store, starter, settle_seconds=0)
    assert sorted(out.started) == sorted(i.id for i in live(store).values()) and not out.errors
    again = reconcile(store, starter, settle_seconds=0)
    assert again.pending == 0 and len(starter.started) == 2


def test_the_reconciler_notes_a_workflow_that_started_but_was_not_noted(table):
    from watchkeeper.domain.ingest import reconcile

    starter = Starter()
    store, ing = ingestor(table, starter)
    store.mark_started = lambda incident_id: (_ for _ in ()).throw(RuntimeError("timed out"))
    out = ing.ingest_batch([grafana("search-api", "HighLatencyP99", T0)])
    assert out.failed == [0] and len(starter.started) == 1
    del store.mark_started
    result = reconcile(store, starter, settle_seconds=0)
    assert result.confirmed == starter.started and not store.pending_starts() and len(starter.started) == 1


def test_a_pointer_to_an_incident_that_is_gone_is_repaired_not_obeyed(table):
    store, ing = ingestor(table)
    ing.ingest_batch([grafana("search-api", "HighLatencyP99", T0)])
    gone = live(store)["search-api"].id
    table.delete_item(TableName="state", Key={"pk": {"S": f"INCIDENT#{gone}"}, "sk": {"S": "META"}})   # expired first
    out = ing.ingest_batch([grafana("search-api", "High5xxRate", T0 + timedelta(minutes=1))])
    assert not out.errors and not out.failed and out.opened and out.opened != [gone]
    pointer = table.get_item(TableName="state", Key={"pk": {"S": "SERVICE#search-api"}, "sk": {"S": "OPEN"}})["Item"]
    assert pointer["incident_id"]["S"] == out.opened[0]
    assert ing.ingest_batch([grafana("search-api", "High5xxRate", T0 + timedelta(minutes=2))]).opened == []


def test_a_group_larger_than_one_transaction_is_placed_consistently(table):
    deps = [f"dep-{i:03d}" for i in range(130)]
    catalog = ServiceCatalog(services=[Service(name="hub-api", depends_on=deps), *(Service(name=d) for d in deps)])
    starter = Starter()
    store = DynamoDBIncidentStore("state", table)
    ing = Ingestor(store, starter, catalog, settle_seconds=0)
    batch = [grafana("hub-api", "High5xxRate", T0)] + [grafana(d, "High5xxRate", T0 + timedelta(seconds=1)) for d in deps]
    out = ing.ingest_batch(batch)
    assert not out.errors and not out.failed
    (incident,) = [i for i in store.incidents() if i.status != "merged"]
    assert incident.service == "hub-api" and incident.deliveries == 131 and len(incident.suspects) == 130
    assert starter.started == [incident.id]


def test_a_redelivered_resolved_alert_is_counted_once(table):
    store, ing = ingestor(table)
    ing.ingest_batch([grafana("search-api", "HighLatencyP99", T0)])
    resolved = [grafana("search-api", "HighLatencyP99", T0 + timedelta(minutes=1), "resolved")]
    ing.ingest_batch(resolved)
    ing.ingest_batch(resolved)
    assert live(store)["search-api"].resolved_alerts == 1


def test_several_resolved_alerts_of_one_incident_in_one_batch(table):
    store, ing = ingestor(table)
    ing.ingest_batch([grafana("search-api", "HighLatencyP99", T0), grafana("search-api", "High5xxRate", T0)])
    out = ing.ingest_batch([grafana("search-api", "HighLatencyP99", T0 + timedelta(minutes=1), "resolved"),
                            grafana("search-api", "High5xxRate", T0 + timedelta(minutes=1), "resolved")])
    assert not out.errors and not out.failed
    assert live(store)["search-api"].resolved_alerts == 2
