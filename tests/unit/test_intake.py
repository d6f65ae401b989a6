"""Every source parses into one Alert; anything malformed is an InvalidAlert with a reason."""
from __future__ import annotations

import json

import pytest

from watchkeeper.domain.intake import InvalidAlert, parse_delivery


def _all_alerts(bundles):
    for name, doc in bundles.items():
        for a in doc["alerts"]:
            yield name, a


def test_every_example_delivery_parses(bundles):
    count = 0
    for _, a in _all_alerts(bundles):
        alerts = parse_delivery(a["source"], a["payload"], a["received_at"])
        assert alerts and all(x.title and x.fingerprint and x.delivery_id for x in alerts)
        count += 1
    assert count >= 20


def test_sns_redelivery_keeps_the_message_id_and_alarm_identity(bundles):
    doc = bundles["checkout-api-dependency-failure"]
    sns = [parse_delivery(a["source"], a["payload"], a["received_at"])[0] for a in doc["alerts"] if a["source"] == "cloudwatch-sns"]
    first, again = sns[0], sns[1]
    assert first.delivery_id == again.delivery_id
    assert first.fingerprint == again.fingerprint
    assert first.received_at != again.received_at


def test_ok_and_recovered_states_are_resolved(bundles):
    statuses = {(a["source"], parse_delivery(a["source"], a["payload"], a["received_at"])[0].status)
                for _, a in _all_alerts(bundles)}
    assert ("cloudwatch-sns", "resolved") in statuses
    assert ("grafana", "resolved") in statuses
    assert ("datadog", "resolved") in statuses


def test_cloudwatch_dimensions_and_metric_are_kept(bundles):
    a = bundles["search-api-memory-leak"]["alerts"][0]
    alert = parse_delivery(a["source"], a["payload"], a["received_at"])[0]
    assert alert.metric_namespace == "ContainerInsights"
    assert alert.metric_name == "pod_memory_utilization"
    assert alert.dimensions["Service"] == "search-api"


@pytest.mark.parametrize("source,payload,needle", [
    ("grafana", {"receiver": "x", "alerts": []}, "alerts"),
    ("cloudwatch-sns", {"MessageId": "m", "Message": "{}"}, "AlarmName"),
    ("cloudwatch-sns", {"MessageId": "m", "Message": "not json"}, "Message"),
    ("pagerduty", {"event": {"id": "e"}}, "event_type"),
    ("datadog", {"title": "x"}, "id"),
    ("cloudwatch-eventbridge", {"id": "1", "detail-type": "Something Else"}, "detail-type"),
    ("nagios", {}, "unknown alert source"),
    ("grafana", "{not json", "not JSON"),
])
def test_malformed_payloads_are_refused_with_the_field(source, payload, needle):
    with pytest.raises(InvalidAlert) as info:
        parse_delivery(source, payload, "2026-01-01T00:00:00Z")
    assert needle in str(info.value)


def test_body_may_arrive_as_a_json_string(bundles):
    a = bundles["cart-api-config-change"]["alerts"][0]
    assert parse_delivery("grafana", json.dumps(a["payload"]), a["received_at"])[0].labels["service"] == "cart-api"


def test_lifecycle_events_that_are_not_alerts_are_neither_invalid_nor_alerts(bundles):
    pd = next(a for a in bundles["storefront-bff-bad-deploy"]["alerts"] if a["source"] == "pagerduty")
    acked = {"event": {**pd["payload"]["event"], "event_type": "incident.acknowledged"}}
    assert parse_delivery("pagerduty", acked, pd["received_at"]) == []
    eb = next(a for a in bundles["cart-api-config-change"]["alerts"] if a["source"] == "cloudwatch-eventbridge")
    detail = {**eb["payload"]["detail"], "state": {**eb["payload"]["detail"]["state"], "value": "INSUFFICIENT_DATA"}}
    assert parse_delivery("cloudwatch-eventbridge", {**eb["payload"], "detail": detail}, eb["received_at"]) == []
