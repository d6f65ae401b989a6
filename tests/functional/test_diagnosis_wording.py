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
