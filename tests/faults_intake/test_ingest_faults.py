"""Ingest under faults: the Nth AWS call of an ingest batch fails, for every N, and SQS redelivers.

Two SQS batches (alerts on four services, a dependency absorbed, a redelivery, a resolved alert,
a malformed body) go through the real ingest handler on moto. A clean run gives the expected
world and K, the number of AWS calls it makes; then for every N in 1..K and every kind of fault
of the write path's harness (tests/faults/harness.py: throttled or reset before the call, its
answer lost to a 5xx or a timeout after it) the batches are delivered again the way SQS does (the
records a partial batch response names, or the whole batch after a function error) until none
fails. Invariants: every firing alert is in exactly one incident, every incident has exactly one
execution (and no pending start), nothing is counted twice: the world is the clean one.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from moto import mock_aws

from watchkeeper import composition
from watchkeeper.adapters.dynamodb_state import DynamoDBIncidentStore
from watchkeeper.composition import Container
from watchkeeper.handlers import ingest
from watchkeeper.local.runtime import LambdaContext
from watchkeeper.models import Service, ServiceCatalog
from watchkeeper.settings import Settings

from ..faults.harness import KINDS, FaultInjector

FAULTS = FaultInjector.installed()      # before any session of this module exists: every client gets the hooks

pytestmark = pytest.mark.faults

REGION = "us-east-1"
T0 = datetime(2026, 2, 11, 21, 50, tzinfo=timezone.utc)
CATALOG = ServiceCatalog(services=[
    Service(name="checkout-api", depends_on=["inventory-svc", "orders-db"]), Service(name="inventory-svc"),
    Service(name="billing-worker", depends_on=["orders-db"]), Service(name="orders-db", kind="database", platform="rds"),
    Service(name="search-api"),
])
CTX = LambdaContext(function_name="Ingest")


def grafana(service: str, alertname: str, seconds: int, status: str = "firing") -> dict:
    at = (T0 + timedelta(seconds=seconds)).isoformat()
    return {"source": "grafana", "received_at": at, "payload": {"receiver": "wk", "status": status, "alerts": [{
        "status": status, "labels": {"alertname": alertname, "service": service, "severity": "critical"},
        "annotations": {"summary": f"{alertname} on {service}"}, "startsAt": at,
        "fingerprint": f"{service}-{alertname}"}]}}


def sns_alarm(service: str, message_id: str, seconds: int) -> dict:
    at = T0 + timedelta(seconds=seconds)
    message = {"AlarmName": f"{service}-p99-latency", "AlarmDescription": f"p99 latency of {service}",
               "AWSAccountId": "123456789012", "NewStateValue": "ALARM", "NewStateReason": "Threshold Crossed",
               "StateChangeTime": at.strftime("%Y-%m-%dT%H:%M:%S.000+0000"), "Region": "US East (N. Virginia)",
               "AlarmArn": f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{service}-p99-latency",
               "OldStateValue": "OK", "Trigger": {"MetricName": "latency_p99", "Namespace": "Shop/Service",
                                                  "Dimensions": [{"name": "Service", "value": service}]}}
    return {"Type": "Notification", "MessageId": message_id, "TopicArn": "arn:aws:sns:us-east-1:123456789012:alerts",
            "Message": json.dumps(message), "Timestamp": at.strftime("%Y-%m-%dT%H:%M:%S.000Z")}


def records(bodies: list, batch: int) -> list[dict]:
    sent = int(T0.timestamp() * 1000) + batch * 60_000
    return [{"messageId": f"b{batch}-m{i}", "receiptHandle": f"rh-{batch}-{i}", "eventSource": "aws:sqs",
             "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:alerts", "awsRegion": REGION,
             "attributes": {"SentTimestamp": str(sent + i), "ApproximateReceiveCount": "1"},
             "body": body if isinstance(body, str) else json.dumps(body)} for i, body in enumerate(bodies)]


BATCHES = [
    records([grafana("inventory-svc", "High5xxRate", 0), sns_alarm("search-api", "sns-1", 5),
             sns_alarm("search-api", "sns-1", 5), "{not json", grafana("search-api", "HighLatencyP99", 20, "resolved")], 1),
    records([grafana("checkout-api", "High5xxRate", 30), grafana("inventory-svc", "High5xxRate", 60),
             grafana("billing-worker", "QueueBacklog", 70), grafana("orders-db", "HighCPUUsage", 80),
             grafana("search-api", "HighLatencyP99", 90)], 2),
]


def run(nth: int | None = None, kind: str = "throttle") -> tuple[dict, list, object]:
    """Deliver the batches as SQS does; return the world ingest left, the calls in scope and the one faulted."""
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        ddb.create_table(TableName="state", BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                               {"AttributeName": "sk", "AttributeType": "S"}])
        sfn = boto3.client("stepfunctions", region_name=REGION)
        machine = sfn.create_state_machine(name="incident", roleArn="arn:aws:iam::123456789012:role/sfn",
                                           definition=json.dumps({"StartAt": "S", "States": {"S": {"Type": "Pass",
                                                                                                   "End": True}}}))
        session = boto3.session.Session(region_name=REGION)
        c = Container(Settings.from_env({"STATE_TABLE": "state", "STATE_MACHINE_ARN": machine["stateMachineArn"],
                                         "START_EXECUTIONS": "true", "SETTLE_SECONDS": "0"}), session=session)
        c._catalog = CATALOG
        composition.use_containers(lambda: c)
        FAULTS.scope = lambda call: True              # every AWS call ingest makes counts
        try:
            with FAULTS.armed(nth=nth, kind=kind):
                for batch in BATCHES:
                    deliver(batch)
                calls, injected = list(FAULTS.calls), FAULTS.injected
        finally:
            composition.use_containers(None)
        return world(ddb, sfn, machine["stateMachineArn"]), calls, injected


def deliver(batch: list[dict]) -> None:
    pending, attempts = batch, 0
    while pending:
        attempts += 1
        assert attempts <= 6, f"records still failing after {attempts - 1} deliveries: {[r['messageId'] for r in pending]}"
        try:
            response = ingest.handler({"Records": pending}, CTX)
        except Exception:           # a function error: SQS delivers the whole batch again
            continue
        failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
        pending = [r for r in pending if r["messageId"] in failed]


def world(ddb, sfn, machine_arn: str) -> dict:
    store = DynamoDBIncidentStore("state", ddb)
    incidents = [i for i in store.incidents() if i.status != "merged"]
    placed: dict[tuple[str, str], list[str]] = {}
    for incident in incidents:
        for a in incident.alerts:
            placed.setdefault((a.received_at.isoformat(), a.delivery_id), []).append(incident.id)
    executions = [e["name"] for e in sfn.list_executions(stateMachineArn=machine_arn)["executions"]]
    return {"incidents": {i.id: (i.service, i.deliveries, i.resolved_alerts, sorted(i.suspects)) for i in incidents},
            "stored": sorted(store.incident_ids()), "placed": placed, "executions": sorted(executions),
            "pending": store.pending_starts(), "quarantined": len(store.quarantined())}


def check_invariants(w: dict) -> None:
    assert all(len(set(owners)) == 1 for owners in w["placed"].values()), "an alert is in more than one incident"
    assert len(set(w["executions"])) == len(w["executions"])
    assert set(w["incidents"]) <= set(w["executions"]), "an incident without its execution"
    assert set(w["executions"]) <= set(w["stored"]), "an execution without its incident"   # merged ones end at once
    assert w["pending"] == []


@pytest.fixture(scope="module")
def clean() -> tuple[dict, int]:
    expected, calls, _ = run()
    check_invariants(expected)
    assert expected["incidents"] and expected["quarantined"] == 1
    return expected, len(calls)


def test_the_clean_run_places_every_alert_once_and_starts_every_incident_once(clean):
    expected, calls = clean
    services = sorted(s for s, *_ in expected["incidents"].values())
    assert services == ["billing-worker", "checkout-api", "search-api"] and calls >= 15
    by_service = {s: (n, resolved, suspects) for s, n, resolved, suspects in expected["incidents"].values()}
    assert by_service["search-api"] == (3, 1, [])           # a redelivered SNS message counts, a resolved annotates
    assert by_service["checkout-api"] == (3, 0, ["inventory-svc"])      # absorbed the dependency's incident
    assert by_service["billing-worker"] == (2, 0, ["orders-db"])        # the latest caller takes the dependency


@pytest.mark.parametrize("kind", KINDS)
def test_the_nth_aws_call_fails_for_every_n_and_sqs_redelivers(clean, kind):
    expected, calls = clean
    faulted = []
    for nth in range(1, calls + 1):
        got, _, injected = run(nth, kind)
        assert injected is not None, f"call {nth} was not reached"
        check_invariants(got)
        assert got == expected, f"{kind} on call {nth} ({injected.service}:{injected.operation}) left a different world"
        faulted.append(f"{injected.service}:{injected.operation}")
    report(f"ingest-{kind}", {"name": f"ingest ({kind})", "fault_points": len(faulted),
                              "operations": sorted(set(faulted))})


def report(name: str, document: dict) -> None:
    """The fault tier's summary (tests/conftest.py) counts the sweeps written to .cache/faults."""
    from pathlib import Path

    reports = Path(__file__).resolve().parents[2] / ".cache" / "faults"
    reports.mkdir(parents=True, exist_ok=True)
    (reports / f"{name}.json").write_text(json.dumps(document, indent=2))
