"""Classification: category from structured fields first, tolerant service matching."""
from __future__ import annotations

import pytest

from watchkeeper.domain.classify import ServiceResolver, alert_category, incident_category, severity
from watchkeeper.domain.intake import parse_delivery
from watchkeeper.models import Service, ServiceCatalog

CATALOG = ServiceCatalog(services=[
    Service(name="checkout-api", aliases=["checkout"]), Service(name="cart-api"), Service(name="auth-api"),
    Service(name="inventory-svc"), Service(name="storefront-bff", kind="frontend"),
])


@pytest.mark.parametrize("hint,expected", [
    ("checkout-api", "checkout-api"),
    ("checkout-api-prod-p99", "checkout-api"),
    ("Checkout API (prod)", "checkout-api"),
    ("service:checkout-api", "checkout-api"),
    ("targetgroup/cart-tg/11f5afd5a24e9b3a", "cart-api"),
    ("auth-cpu-utilization", "auth-api"),
    ("ALARM: \"inventory-svc-error-rate-high\" in US East (N. Virginia)", "inventory-svc"),
    ("payments-gateway", None),
])
def test_resolver_matches_names_tolerantly(hint, expected):
    assert ServiceResolver(CATALOG).resolve_one(hint) == expected


@pytest.mark.parametrize("hint,expected", [
    ("Edge", "edge-proxy"),              # a pager service named by the first word of the catalog name
    ("Edge Proxy", "edge-proxy"),
    ("Ledger", None),                     # the first word of two services names neither
    ("catalog", "catalog-svc"),           # a whole core name still wins over a prefix
])
def test_a_hint_that_is_only_the_leading_words_of_one_service_names_it(hint, expected):
    catalog = ServiceCatalog(services=[Service(name="edge-proxy"), Service(name="catalog-svc"),
                                       Service(name="ledger-export"), Service(name="ledger-sync")])
    assert ServiceResolver(catalog).resolve_one(hint) == expected


def test_category_per_alert_follows_the_formats_conventions(bundles):
    seen = {}
    for doc in bundles.values():
        for a in doc["alerts"]:
            alert = parse_delivery(a["source"], a["payload"], a["received_at"])[0]
            seen[alert.title] = alert_category(alert)
    assert seen["Suspicious traffic blocked by WAF on auth-api"] == "security"
    assert seen["storefront-bff memory usage high"] == "resource"
    assert seen["High p99 latency on storefront-bff"] == "performance"
    assert seen["checkout-api-error-rate-high"] == "availability"
    assert seen["cart-api-alb-unhealthy-hosts"] == "availability"
    assert seen["RequestRateSpike"] == "performance"


def test_incident_category_is_the_most_common_symptom():
    assert incident_category(["resource", "resource", "performance"]) == "resource"
    assert incident_category(["unknown"]) == "unknown"


def test_severity_takes_the_highest_priority_and_the_storm_size():
    assert severity(["P2", "P1"], 2) == "critical"
    assert severity([None], 1) == "warning"
    assert severity(["warning"], 6) == "high"
    assert severity(["info"], 12) == "critical"


@pytest.mark.parametrize("title,expected", [
    ("p95 latency above 500 ms", "performance"),
    ("Invoice rendering failures", "availability"),
    ("HTTP 503 from the load balancer", "availability"),
    ("Dropped notifications above 10/min", "availability"),     # lost work is unavailability
    ("orders DLQ not empty", "availability"),
])
def test_numbers_with_units_are_not_status_codes(title, expected):
    from datetime import datetime, timezone

    from watchkeeper.models import Alert

    alert = Alert(delivery_id="d", fingerprint="f", source="grafana", status="firing", title=title,
                  received_at=datetime(2026, 1, 1, tzinfo=timezone.utc))
    assert alert_category(alert) == expected
