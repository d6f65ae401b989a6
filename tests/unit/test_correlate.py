"""Correlation decisions: attach, open, absorb a dependency's incident, never open on resolve."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from watchkeeper.domain.correlate import incident_id_for, place
from watchkeeper.models import Service, ServiceCatalog
from watchkeeper.ports import IncidentHead

T0 = datetime(2026, 2, 11, 21, 53, tzinfo=timezone.utc)
CATALOG = ServiceCatalog(services=[Service(name="checkout-api", depends_on=["inventory-svc"]),
                                   Service(name="inventory-svc"), Service(name="search-api")])


def heads(**open_incidents):
    return lambda service: open_incidents.get(service)


def head(service, at=T0, iid=None):
    return IncidentHead(id=iid or f"inc-{service}", service=service, opened_at=at, last_alert_at=at)


def test_first_alert_opens_an_incident_named_after_it():
    p = place("search-api", "firing", T0, "fp", CATALOG, heads())
    assert p.action == "open" and p.incident_id == incident_id_for("search-api", T0, "fp")
    assert len(p.incident_id) <= 80


def test_same_service_in_the_window_attaches():
    p = place("search-api", "firing", T0 + timedelta(minutes=5), "fp2", CATALOG, heads(**{"search-api": head("search-api")}))
    assert (p.action, p.incident_id) == ("attach", "inc-search-api")


def test_after_the_window_a_new_incident_opens():
    p = place("search-api", "firing", T0 + timedelta(hours=2), "fp2", CATALOG, heads(**{"search-api": head("search-api")}))
    assert p.action == "open"


def test_a_dependency_alert_joins_the_dependents_incident_as_suspect():
    p = place("inventory-svc", "firing", T0, "fp", CATALOG, heads(**{"checkout-api": head("checkout-api")}))
    assert (p.action, p.incident_id, p.suspect) == ("attach", "inc-checkout-api", "inventory-svc")


def test_a_dependent_alert_absorbs_the_dependencys_earlier_incident():
    p = place("checkout-api", "firing", T0 + timedelta(seconds=20), "fp", CATALOG,
              heads(**{"inventory-svc": head("inventory-svc")}))
    assert p.action == "open_and_absorb" and p.absorb == ("inc-inventory-svc",)


def test_resolved_alerts_never_open():
    assert place("search-api", "resolved", T0, "fp", CATALOG, heads()).action == "ignore"
    p = place("search-api", "resolved", T0, "fp", CATALOG, heads(**{"search-api": head("search-api")}))
    assert p.action == "annotate"


SHARED = ServiceCatalog(services=[Service(name="checkout-api", depends_on=["orders-db"]),
                                  Service(name="billing-worker", depends_on=["orders-db"]), Service(name="orders-db")])


def test_a_new_incident_never_absorbs_another_dependents_incident_through_a_shared_dependency():
    checkout = head("checkout-api")
    p = place("billing-worker", "firing", T0 + timedelta(seconds=30), "fp", SHARED,
              heads(**{"orders-db": checkout, "checkout-api": checkout}))
    assert p.action == "open" and p.absorb == ()


def test_the_window_is_measured_from_the_incidents_last_alert():
    h = IncidentHead(id="inc-search-api", service="search-api", opened_at=T0 - timedelta(minutes=40),
                     last_alert_at=T0 - timedelta(minutes=10))
    p = place("search-api", "firing", T0, "fp", CATALOG, heads(**{"search-api": h}))
    assert (p.action, p.incident_id) == ("attach", "inc-search-api")


def test_an_incident_whose_workflow_is_running_still_takes_alerts_but_a_merged_one_does_not():
    running = IncidentHead(id="inc-s", service="search-api", opened_at=T0, last_alert_at=T0, status="awaiting_approval")
    assert place("search-api", "firing", T0, "fp", CATALOG, heads(**{"search-api": running})).action == "attach"
    merged = IncidentHead(id="inc-s", service="search-api", opened_at=T0, last_alert_at=T0, status="merged")
    assert place("search-api", "firing", T0, "fp", CATALOG, heads(**{"search-api": merged})).action == "open"
