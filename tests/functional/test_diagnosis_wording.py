"""The diagnosis reads estates worded unlike ours: access logs whose status the miner masks, pino's numeric
levels, other names for failed sign-ins. Evidence is gathered from fakes and diagnosed as the Gather and
Diagnose steps do."""
from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone

from watchkeeper.domain.diagnose import DeterministicAnalyzer
from watchkeeper.domain.evidence import EvidenceGatherer
from watchkeeper.models import AlertRef, ChangeEvent, Incident, Service, ServiceCatalog
from watchkeeper.ports import LogEvent, MetricSeries

from .fakes import FakeChanges, FakeLogs, FakeMetrics

END = datetime(2026, 3, 21, 2, 14, tzinfo=timezone.utc)
ONSET = END - timedelta(minutes=17)
CATALOG = ServiceCatalog(services=[Service(name="portal", platform="ec2", workload="portal-asg", log_group="/ec2/portal")])


def _incident(title: str = "portal-latency", category: str = "performance") -> Incident:
    alerts = [AlertRef(delivery_id="d1", fingerprint=f"cloudwatch:{title}", source="cloudwatch-sns", status="firing",
                       title=title, received_at=END, service="portal", category=category, alarm_name=title)]
    return Incident(id="inc-portal-1", service="portal", opened_at=END, last_alert_at=END, alerts=alerts)


def _series(name: str, before: float, after: float, onset: datetime = ONSET) -> MetricSeries:
    rng = random.Random(name)
    pts = [(END - timedelta(minutes=180 - i), (before if END - timedelta(minutes=180 - i) < onset else after)
            * (1 + rng.gauss(0, 0.03))) for i in range(180)]
    return MetricSeries("portal", "App", name, None, pts)


def _every(start: datetime, end: datetime, seconds: float, make) -> list[LogEvent]:
    out, t, n = [], start, 0
    while t < end:
        out.append(LogEvent(t, make(t, n), "/ec2/portal"))
        t += timedelta(seconds=seconds)
        n += 1
    return out


def _apache(t: datetime, n: int, path: str, status: int) -> str:
    return (f"203.0.113.{n % 250 + 1} - - [{t:%d/%b/%Y:%H:%M:%S} +0000] \"POST {path} HTTP/1.1\" {status} "
            f"{500 + n % 400} \"-\" \"Mozilla/5.0\"")


def _diagnose(logs, metrics, changes=(), incident=None):
    incident = incident or _incident()
    evidence = EvidenceGatherer(CATALOG, FakeLogs(sorted(logs, key=lambda e: e.at)), FakeMetrics(metrics),
                                FakeChanges(changes)).gather(incident)
    return evidence, DeterministicAnalyzer(CATALOG).diagnose(incident, evidence)


def test_a_401_surge_in_an_access_log_is_a_security_event_whatever_the_traffic_does():
    """The miner masks the status, so 200s and 401s share a template; the 401s are split off and name the status."""
    logs = _every(END - timedelta(hours=3), END, 6, lambda t, n: _apache(t, n, "/signin", 302))
    logs += _every(ONSET, END, 1, lambda t, n: _apache(t, n, "/signin", 401))
    metrics = [_series("RequestCount", 1500, 4700), _series("TargetResponseTime", 0.12, 0.48),
               _series("CPUUtilization", 26, 79)]
    evidence, cause = _diagnose(logs, metrics)

    unauthorized = [t for t in evidence.templates if "[HTTP 401" in t.template]
    assert unauthorized and unauthorized[0].level == "warn" and unauthorized[0].count >= 900
    assert cause.kind == "security_event"
    assert cause.hypotheses[0].kind == "security_event"
    assert "traffic_surge" not in [h.kind for h in cause.hypotheses[:1]]


def test_spring_bad_credentials_and_an_unfamiliar_metric_name_are_sign_in_failures():
    logs = _every(END - timedelta(hours=3), END, 30, lambda t, n: f"{t:%Y-%m-%d %H:%M:%S}.000  INFO 1 --- [exec-{n % 9}] "
                  f"c.m.p.LoginController : login ok for member {10000 + n}")
    logs += _every(ONSET, END, 1.2, lambda t, n: f"{t:%Y-%m-%d %H:%M:%S}.000  WARN 1 --- [exec-{n % 9}] "
                   "o.s.s.a.ProviderManager : Authentication attempt rejected: Bad credentials")
    metrics = [_series("signin_rejections", 3, 1250), _series("RequestCount", 1500, 4700)]
    _, cause = _diagnose(logs, metrics)
    assert cause.kind == "security_event" and cause.confidence >= 0.8
    reasons = " ".join(cause.hypotheses[0].reasons)
    assert "climbed" in reasons and "surged in the logs" in reasons


def test_a_genuine_surge_with_proportional_404s_is_still_a_surge():
    def line(t, n):
        return f"lvl=info msg=served path=/deals/{n % 500} status={404 if n % 33 == 0 else 200} dur={20 + n % 70}ms"
    logs = _every(END - timedelta(hours=3), ONSET, 3, line) + _every(ONSET, END, 1, line)
    metrics = [_series("RequestCount", 2200, 6900), _series("HTTPCode_Target_4XX_Count", 60, 190),
               _series("TargetResponseTime", 0.08, 0.35), _series("CPUUtilization", 35, 91)]
    _, cause = _diagnose(logs, metrics)
    assert cause.kind == "traffic_surge"


def test_pino_numeric_levels_make_errors_that_a_deploy_introduced():
    deploy = ONSET - timedelta(minutes=2)

    def pino(level, msg):
        return lambda t, n: json.dumps({"level": level, "time": int(t.timestamp() * 1000), "pid": 1, "msg": msg})
    logs = _every(END - timedelta(hours=3), END, 5, pino(30, "request completed"))
    logs += _every(ONSET, END, 4, pino(50, "checkout failed: TypeError: Cannot read properties of undefined (reading 'sku')"))
    change = ChangeEvent(id="deploy-portal-88", kind="deploy", service="portal", at=deploy, revision="88",
                         previous_revision="87")
    evidence, cause = _diagnose(logs, [_series("errors_5xx", 0.5, 20)], [change],
                                _incident("portal-5xx", "availability"))
    assert any(t.level == "error" and "checkout failed" in t.template for t in evidence.templates)
    assert (cause.kind, cause.culprit) == ("bad_deploy", "deploy-portal-88")
    assert any("did not exist before the change" in r for r in cause.hypotheses[0].reasons)


def test_a_dependency_out_of_disk_is_the_cause_and_the_plan_is_made_there():
    """The writer's errors relay the database's "No space left on device"; the database's free storage fell.
    The cause is the database's full disk (not a disk of the writer), and the plan works on the database."""
    from watchkeeper.steps import _about_the_culprit

    catalog = ServiceCatalog(services=[
        Service(name="writer", platform="ecs", workload="writer", cluster="c", log_group="/ecs/writer",
                depends_on=["events-db"]),
        Service(name="events-db", platform="rds", kind="database", workload="events-db")])
    full = END - timedelta(minutes=10)
    logs = [LogEvent(e.at, e.message, "/ecs/writer") for e in
            _every(END - timedelta(hours=3), END, 5, lambda t, n: f"INFO flushed {100 + n % 800} events")
            + _every(full, END, 6, lambda t, n: 'ERROR flush failed: DiskFull: could not extend file "base/16384/24601": '
                                                "No space left on device")]
    rng = random.Random(1)
    storage = MetricSeries("events-db", "AWS/RDS", "FreeStorageSpace", "Bytes",
                           [(END - timedelta(minutes=180 - i), max(2e8, 4.2e10 - 2.3e8 * i) * (1 + rng.gauss(0, 0.002)))
                            for i in range(180)])
    alerts = [AlertRef(delivery_id="d1", fingerprint="cw:db-storage", source="cloudwatch-sns", status="firing",
                       title="events-db free storage below 1 GB", received_at=END, service="events-db",
                       category="resource", alarm_name="events-db-free-storage-low"),
              AlertRef(delivery_id="d2", fingerprint="cw:writer-flush", source="cloudwatch-sns", status="firing",
                       title="writer flush failures", received_at=END, service="writer", category="availability",
                       alarm_name="writer-flush-failures")]
    incident = Incident(id="inc-writer-1", service="writer", opened_at=END, last_alert_at=END, alerts=alerts)
    failures = MetricSeries("writer", "App", "flush_failures", "Count",
                            [(END - timedelta(minutes=180 - i), 0.0 if END - timedelta(minutes=180 - i) < full else 10.0)
                             for i in range(180)])
    evidence = EvidenceGatherer(catalog, FakeLogs(sorted(logs, key=lambda e: e.at)), FakeMetrics([storage, failures]),
                                FakeChanges()).gather(incident)
    cause = DeterministicAnalyzer(catalog).diagnose(incident, evidence)

    assert (cause.kind, cause.culprit, cause.service) == ("disk_full", None, "events-db")
    assert cause.confidence >= 0.8
    assert "A disk of events-db is full" in cause.summary
    assert _about_the_culprit(incident, cause, evidence).service == "events-db"


def test_available_memory_falling_for_hours_is_a_leak_and_a_neighbours_deploy_is_not_its_cause():
    catalog = ServiceCatalog(services=[
        Service(name="portal", platform="ec2", workload="portal-asg", log_group="/ec2/portal"),
        Service(name="banner", platform="ec2", workload="banner-asg", depends_on=["portal"])])
    rng = random.Random(2)
    available = MetricSeries("portal", "CWAgent", "mem_available_percent", "Percent",
                             [(END - timedelta(minutes=180 - i), (62 - 0.3 * i) * (1 + rng.gauss(0, 0.005)))
                              for i in range(180)])
    logs = _every(END - timedelta(hours=3), END, 20, lambda t, n: f"INFO served page {n}")
    neighbour = ChangeEvent(id="deploy-banner-9", kind="deploy", service="banner", at=END - timedelta(minutes=6),
                            revision="9", previous_revision="8")
    incident = _incident("portal-memory-available-low", "resource")
    evidence = EvidenceGatherer(catalog, FakeLogs(logs), FakeMetrics([available, _series("RequestCount", 900, 900)]),
                                FakeChanges([neighbour])).gather(incident)
    cause = DeterministicAnalyzer(catalog).diagnose(incident, evidence)
    assert (cause.kind, cause.culprit, cause.service) == ("memory_leak", None, None)
    assert "memory climbs steadily" in cause.summary


def test_a_number_401_in_an_error_is_not_an_auth_failure_and_disk_io_is_not_a_full_disk():
    deploy = ONSET - timedelta(minutes=2)
    logs = _every(END - timedelta(hours=3), END, 10, lambda t, n: f"INFO order {n} shipped")
    logs += _every(ONSET, END, 5, lambda t, n: f"ERROR failed to price order 401: KeyError 'tier' (batch 403, {n})")
    change = ChangeEvent(id="deploy-portal-90", kind="deploy", service="portal", at=deploy, revision="90",
                         previous_revision="89")
    metrics = [_series("errors_5xx", 0.5, 20), _series("VolumeReadOps", 300, 2900), _series("VolumeQueueLength", 1, 9)]
    _, cause = _diagnose(logs, metrics, [change], _incident("portal-5xx", "availability"))
    assert (cause.kind, cause.culprit) == ("bad_deploy", "deploy-portal-90")
    assert not [h for h in cause.hypotheses if h.kind in ("security_event", "disk_full")]


def test_rejected_bearer_tokens_in_aspnet_words_at_information_are_a_security_event_not_a_surge():
    """JwtBearer logs a rejected token at Information ("was not authenticated", IDX10503, "was challenged")
    in Serilog's compact JSON; traffic is 2.8x and the alerts speak of CPU: it is an attack, not demand."""
    def ok(t, n):
        return json.dumps({"@t": t.isoformat(), "@mt": "HTTP {RequestMethod} {RequestPath} responded {StatusCode} in {Elapsed} ms",
                           "RequestMethod": "GET", "RequestPath": f"/v2/orders/{n}", "StatusCode": 200, "Elapsed": 20 + n % 50})

    def rejected(t, n):
        return json.dumps({"@t": t.isoformat(), "@mt": "{AuthenticationScheme} was not authenticated. Failure message: {FailureMessage}",
                           "AuthenticationScheme": "Bearer", "FailureMessage": "IDX10503: Signature validation failed."})
    logs = _every(END - timedelta(hours=3), END, 3, ok) + _every(ONSET, END, 1.5, rejected)
    metrics = [_series("RequestCount", 2100, 5900), _series("CPUUtilization", 33, 81)]
    evidence, cause = _diagnose(logs, metrics, incident=_incident("portal-cpu-high", "resource"))
    assert any(t.level == "warn" and "was not authenticated" in t.template for t in evidence.templates)
    assert cause.kind == "security_event"
    assert not [h for h in cause.hypotheses if h.kind == "traffic_surge" and h.score > 0.1]


def test_errors_whose_stack_trace_names_a_deploys_library_are_the_deploys_though_a_flag_flip_is_closer():
    """A deploy brings WeasyPrint; a flag flip lands five minutes later, just before the errors. The error line
    itself names nothing; its trace (lines of the same timestamp) imports weasyprint: the deploy is the cause."""
    deploy, flag = ONSET - timedelta(minutes=6), ONSET - timedelta(minutes=1)
    logs = _every(END - timedelta(hours=3), END, 5, lambda t, n: f"INFO invoice.http GET /invoices/{n} -> 200")
    for e in _every(ONSET, END, 6, lambda t, n: f"ERROR invoice.pdf rendering invoice {n} failed"):
        logs += [e, LogEvent(e.at, "Traceback (most recent call last):", e.log_group),
                 LogEvent(e.at, '  File "/app/invoice/pdf.py", line 31, in render', e.log_group),
                 LogEvent(e.at, "    from weasyprint import HTML", e.log_group),
                 LogEvent(e.at, "OSError: cannot load library 'libpango-1.0-0'", e.log_group)]
    changes = [ChangeEvent(id="deploy-portal-57", kind="deploy", service="portal", at=deploy, revision="57",
                           previous_revision="56", description="Render PDFs with WeasyPrint 62 (slim base image)"),
               ChangeEvent(id="cfg-portal-31", kind="config", service="portal", at=flag, revision="31",
                           previous_revision="30", description="AppConfig portal/prod: show_vat_breakdown=true")]
    evidence, cause = _diagnose(logs, [_series("pdf_failures", 0, 25)], changes, _incident("portal-pdf", "availability"))
    head = next(i for i in evidence.items if i.type == "log_template" and "rendering invoice" in i.detail)
    assert "trace: Traceback (most recent call last):" in head.detail and "weasyprint" in head.detail
    assert (cause.kind, cause.culprit) == ("bad_deploy", "deploy-portal-57")


def test_a_dotnet_setting_set_through_an_environment_style_key_is_named_by_its_section_and_key():
    from watchkeeper.domain.diagnose import _names_change
    change = ChangeEvent(id="cfg-1", kind="config", service="fares-api", at=ONSET, revision="2", previous_revision="1",
                         description="Update SSM parameter /prod/fares-api/FareCache__EntryTtlSeconds: 900 -> 0")
    assert _names_change("FareCache:EntryTtlSeconds is 0; fare caching is disabled", change, "fares-api")
    assert not _names_change("Fare lookup exceeded 5000 ms", change, "fares-api")


def test_a_crash_looping_dependency_with_no_onset_of_its_own_is_blamed_on_its_deploy():
    """web -> booking -> seats: seats panics at start after its deploy and writes a handful of lines (no onset of its
    own); booking's errors name it. The culprit is seats' deploy, dated by when booking began to fail."""
    catalog = ServiceCatalog(services=[
        Service(name="web", platform="eks", workload="web", log_group="/eks/web", depends_on=["booking"]),
        Service(name="booking", platform="eks", workload="booking", log_group="/eks/booking", depends_on=["seats"]),
        Service(name="seats", platform="eks", workload="seats", log_group="/eks/seats")])
    deploy = ONSET - timedelta(minutes=2)

    def at(group, items):
        return [LogEvent(e.at, e.message, group) for e in items]
    logs = at("/eks/booking", _every(END - timedelta(hours=3), END, 20, lambda t, n: f"INFO booking {n} created")
              + _every(ONSET, END, 5, lambda t, n: f"ERROR seat hold {n} failed: POST http://seats:8080/v1/holds: "
                                                  "Connection refused"))
    logs += at("/eks/seats", _every(END - timedelta(hours=3), deploy, 60, lambda t, n: f"INFO hold {n} placed")
               + _every(ONSET, END, 240, lambda t, n: "panic: runtime error: invalid memory address or nil pointer dereference"))
    logs += at("/eks/web", _every(END - timedelta(hours=3), END, 20, lambda t, n: f"INFO GET /p/{n} 200"))
    alerts = [AlertRef(delivery_id="d1", fingerprint="g:booking", source="grafana", status="firing", title="booking errors",
                       received_at=END, service="booking", category="availability", alarm_name="BookingErrors")]
    incident = Incident(id="inc-booking-1", service="booking", opened_at=END, last_alert_at=END, alerts=alerts)
    change = ChangeEvent(id="deploy-seats-77", kind="deploy", service="seats", at=deploy, revision="77",
                         previous_revision="76")
    failures = MetricSeries("booking", "App", "hold_failures", "Count",
                            [(END - timedelta(minutes=180 - i), 0.0 if END - timedelta(minutes=180 - i) < ONSET else 12.0)
                             for i in range(180)])
    evidence = EvidenceGatherer(catalog, FakeLogs(sorted(logs, key=lambda e: e.at)), FakeMetrics([failures]),
                                FakeChanges([change])).gather(incident)
    assert "seats" not in evidence.onsets
    cause = DeterministicAnalyzer(catalog).diagnose(incident, evidence)
    assert (cause.kind, cause.culprit) == ("bad_deploy", "deploy-seats-77")


def test_rejected_api_keys_and_unauthenticated_requests_are_auth_failures_in_logs_and_metric_names():
    from watchkeeper.domain.diagnose import _AUTH_FAIL, _AUTH_METRIC
    for line in ("api key 3f9a1c... not recognised", "Rejected request: invalid API key", "API key ak_123 is revoked",
                 "Bearer was not authenticated. Failure message: IDX10223: Lifetime validation failed.",
                 "AuthenticationScheme: Bearer was challenged.", "the token is expired"):
        assert _AUTH_FAIL.search(line), line
    for name in ("invalid_api_keys", "ApiKeyRejected", "api_key_failures_total", "unauthenticated_requests"):
        assert _AUTH_METRIC.search(name), name
    for benign in ("api_latency", "keys_evicted", "cache_keys", "lookup failed for key 42", "token refreshed"):
        assert not _AUTH_METRIC.search(benign) and not _AUTH_FAIL.search(benign), benign


def test_a_surge_is_never_named_sure_enough_to_skip_a_person():
    """Load and strain are all a surge stands on; an attack whose auth signals are not readable brings the same."""
    logs = _every(END - timedelta(hours=3), END, 3, lambda t, n: f"lvl=info msg=served path=/deals/{n % 500} status=200")
    metrics = [_series("RequestCount", 2200, 6900), _series("TargetResponseTime", 0.08, 0.35), _series("CPUUtilization", 35, 91)]
    _, cause = _diagnose(logs, metrics)
    assert cause.kind == "traffic_surge" and 0.5 <= cause.confidence < 0.8
