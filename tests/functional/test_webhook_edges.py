"""The webhook route's edges: any bytes are a 4xx, a body too large is a 413, and a delivery
whose alerts could not be placed is a 503 so the sender retries (the real ingest handler)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest

from watchkeeper.composition import container
from watchkeeper.domain.ingest import IngestOutcome
from watchkeeper.handlers import ingest
from watchkeeper.local.approval_server import http_api_event
from watchkeeper.local.runtime import LambdaContext

SECRETS = {"grafana": ("gf-secret",), "datadog": ("dd-new", "dd-old"), "pagerduty": ("pd",)}
BODY = json.dumps({"status": "firing", "alerts": [{"labels": {"alertname": "HighLatency", "service": "cart-api"}}]}).encode()


class FakeIngestor:
    def __init__(self, outcome: IngestOutcome):
        self.outcome, self.calls = outcome, []

    def ingest_batch(self, deliveries):
        self.calls.append(deliveries)
        return self.outcome


@pytest.fixture
def wired(monkeypatch):
    c = container()
    ingestor = FakeIngestor(IngestOutcome(received=1, placed=1))
    monkeypatch.setattr(c, "_webhook_secrets", SECRETS, raising=False)
    monkeypatch.setattr(c, "_ingestor", ingestor, raising=False)
    return ingestor


def post(source: str, body: bytes, headers: dict, b64: bool = False) -> dict:
    event = http_api_event("POST", f"/webhooks/{source}", "", "POST /webhooks/{source}", {"source": source},
                           {"content-type": "application/json", **headers}, body, "203.0.113.9")
    if b64:
        event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    return ingest.handler(event, LambdaContext(function_name="ingest"))


def grafana_headers(body: bytes, age: int = 0) -> dict:
    stamp = str(int(time.time()) - age)
    return {"x-grafana-alerting-timestamp": stamp,
            "x-grafana-alerting-signature": hmac.new(b"gf-secret", stamp.encode() + b":" + body, hashlib.sha256).hexdigest()}


def test_a_fresh_grafana_hmac_is_accepted_and_a_replay_after_five_minutes_is_refused(wired):
    assert post("grafana", BODY, grafana_headers(BODY))["statusCode"] == 202
    assert post("grafana", BODY, grafana_headers(BODY, age=301))["statusCode"] == 401
    assert len(wired.calls) == 1


def test_alerts_that_could_not_be_placed_get_a_503_so_the_sender_retries(wired):
    wired.outcome = IngestOutcome(received=1, failed=[0])
    resp = post("grafana", BODY, grafana_headers(BODY))
    assert resp["statusCode"] == 503 and resp["headers"]["Retry-After"]


@pytest.mark.parametrize("headers", [
    {"x-watchkeeper-token": "dd-néw"}, {"authorization": "Bearer \udcff\x00"}, {"x-watchkeeper-signature": "sha256=ü"},
    {"authorization": "Bearer " + "é" * 10000},
])
def test_any_bytes_in_credentials_are_a_401_and_nothing_is_ingested(wired, headers):
    assert post("datadog", BODY, headers)["statusCode"] == 401
    assert not wired.calls


def test_both_keys_work_during_a_rotation(wired):
    for token in ("dd-new", "dd-old"):
        assert post("datadog", BODY, {"x-watchkeeper-token": token})["statusCode"] == 202


def test_oversized_and_undecodable_bodies_are_4xx(wired):
    big = b"x" * (1024 * 1024 + 1)
    assert post("datadog", big, {"x-watchkeeper-token": "dd-new"})["statusCode"] == 413
    event = http_api_event("POST", "/webhooks/datadog", "", "POST /webhooks/{source}", {"source": "datadog"},
                           {"x-watchkeeper-token": "dd-new"}, b"{}", "203.0.113.9")
    event["body"], event["isBase64Encoded"] = "!!!not base64!!!", True
    assert ingest.handler(event, LambdaContext(function_name="ingest"))["statusCode"] == 400
    assert post("datadog", b"\xff\xfe{}", {"x-watchkeeper-token": "dd-new"}, b64=True)["statusCode"] in (202, 400)
    assert len(wired.calls) <= 1
