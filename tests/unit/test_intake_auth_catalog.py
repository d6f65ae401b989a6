"""Webhook authentication per source, and the service catalog's validation messages."""
from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest

from watchkeeper.domain.catalog import CatalogError, parse_catalog
from watchkeeper.domain.webhook_auth import WebhookRefused, authenticate, parse_secrets

BODY = b'{"event": {"id": "e1", "event_type": "incident.triggered"}}'
SECRETS = parse_secrets('{"pagerduty": "pd-secret", "grafana": "", "datadog": "dd-secret", "shared": "shared-secret"}')


def sig(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_pagerduty_signature_any_of_several_matches():
    authenticate("pagerduty", {"X-PagerDuty-Signature": f"v1=deadbeef,v1={sig('pd-secret', BODY)}"}, BODY, SECRETS)


@pytest.mark.parametrize("headers,reason", [
    ({}, "missing"),
    ({"x-pagerduty-signature": "v1=" + sig("wrong", BODY)}, "does not match"),
    ({"x-pagerduty-signature": sig("pd-secret", BODY)}, "does not match"),           # no v1= prefix
])
def test_pagerduty_refusals_name_the_reason(headers, reason):
    with pytest.raises(WebhookRefused, match=reason):
        authenticate("pagerduty", headers, BODY, SECRETS)


def test_pagerduty_signature_covers_the_body():
    with pytest.raises(WebhookRefused):
        authenticate("pagerduty", {"x-pagerduty-signature": "v1=" + sig("pd-secret", BODY)}, BODY + b" ", SECRETS)


def test_no_source_falls_back_to_another_secret():
    for headers in ({"Authorization": "Bearer shared-secret"}, {"Authorization": "Bearer dd-secret"}):
        with pytest.raises(WebhookRefused, match="no secret configured for grafana"):
            authenticate("grafana", headers, BODY, SECRETS)


def test_grafana_hmac_needs_a_fresh_timestamp():
    keys = {"grafana": "gf-secret"}
    now = 1_700_000_000
    stamped = sig("gf-secret", f"{now}:".encode() + BODY)
    authenticate("grafana", {"X-Grafana-Alerting-Signature": stamped, "X-Grafana-Alerting-Timestamp": str(now)},
                 BODY, keys, now=now + 299)
    with pytest.raises(WebhookRefused, match="stale"):                               # a replay 6 minutes later
        authenticate("grafana", {"X-Grafana-Alerting-Signature": stamped, "X-Grafana-Alerting-Timestamp": str(now)},
                     BODY, keys, now=now + 360)
    with pytest.raises(WebhookRefused, match="Timestamp"):                           # no timestamp, no HMAC
        authenticate("grafana", {"X-Grafana-Alerting-Signature": sig("gf-secret", BODY)}, BODY, keys, now=now)
    authenticate("grafana", {"Authorization": "Bearer gf-secret"}, BODY, keys)


def test_two_keys_are_valid_during_a_rotation_and_only_those():
    keys = parse_secrets('{"datadog": ["new-key", "old-key"], "pagerduty": "pd"}')
    for token in ("new-key", "old-key"):
        authenticate("datadog", {"X-Watchkeeper-Token": token}, BODY, keys)
    with pytest.raises(WebhookRefused):
        authenticate("datadog", {"X-Watchkeeper-Token": "pd"}, BODY, keys)


@pytest.mark.parametrize("headers", [
    {"X-PagerDuty-Signature": "v1=é" * 3},
    {"X-PagerDuty-Signature": "v1=\udcff\x00" + "ü" * 5000},
    {"x-pagerduty-signature": ",,,,"},
])
def test_any_bytes_in_a_signature_are_a_refusal_never_an_error(headers):
    with pytest.raises(WebhookRefused):
        authenticate("pagerduty", headers, BODY, SECRETS)


@pytest.mark.parametrize("headers", [
    {"Authorization": "Bearer dd-sécret"}, {"X-Watchkeeper-Token": "😀"}, {"X-Watchkeeper-Signature": "sha256=ä"},
    {"X-Grafana-Alerting-Signature": "ß", "X-Grafana-Alerting-Timestamp": "²"},
    {"X-Grafana-Alerting-Signature": "00", "X-Grafana-Alerting-Timestamp": "١٧٠٠٠٠٠٠٠٠"},
    {"X-Grafana-Alerting-Signature": "00", "X-Grafana-Alerting-Timestamp": "9" * 400},
])
def test_non_ascii_tokens_and_timestamps_are_refused(headers):
    source = "grafana" if any("Grafana" in k for k in headers) else "datadog"
    with pytest.raises(WebhookRefused):
        authenticate(source, headers, BODY, {"datadog": "dd-secret", "grafana": "gf"})


def test_datadog_token_or_hmac_header():
    authenticate("datadog", {"X-Watchkeeper-Token": "dd-secret"}, BODY, SECRETS)
    authenticate("datadog", {"X-Watchkeeper-Signature": "sha256=" + sig("dd-secret", BODY)}, BODY, SECRETS)
    for headers in ({"Authorization": "Bearer pd-secret"}, {}, {"X-Watchkeeper-Signature": "sha256=00"}):
        with pytest.raises(WebhookRefused):
            authenticate("datadog", headers, BODY, SECRETS)


def test_no_secret_or_unknown_source_is_refused_and_the_reason_never_holds_the_body():
    with pytest.raises(WebhookRefused) as exc:
        authenticate("grafana", {"Authorization": "Bearer x"}, BODY, {})
    assert "event" not in str(exc.value)
    with pytest.raises(WebhookRefused, match="unknown"):
        authenticate("cloudwatch-sns", {}, BODY, SECRETS)


def test_the_example_catalog_loads():
    text = (Path(__file__).parents[2] / "config" / "catalog.example.yaml").read_text()
    catalog = parse_catalog(text.replace("# owners:", "owners:").replace("# aliases:", "aliases:"))
    assert catalog.get("checkout-api").aliases and catalog.get("checkout-api").owners


def test_every_bad_field_is_named():
    with pytest.raises(CatalogError) as exc:
        parse_catalog("services:\n  - {name: a, kind: apii}\n  - {name: b, platfrom: eks}\n")
    assert exc.value.problems == [
        "services.0.kind: Input should be 'api', 'worker', 'frontend', 'batch', 'database', 'cache' or 'queue' (got 'apii')",
        "services.1.platfrom: Extra inputs are not permitted (got 'eks')"]


def test_dependencies_names_and_aliases_are_checked():
    with pytest.raises(CatalogError) as exc:
        parse_catalog('[{"name": "a", "depends_on": ["ghost"], "aliases": ["x"]}, {"name": "a"}, {"name": "b", "aliases": ["X"]}]')
    text = str(exc.value)
    assert "services.1.name" in text and "services.0.depends_on.0: 'ghost'" in text and "services.2.aliases.0" in text
