#!/usr/bin/env python3
"""Writes the generalization suite under tests/scenarios/suite/ (FORMAT.md bundles).

The six examples share one estate, one wording and one application namespace; these
bundles vary what the hidden suite varies: platforms (eks, ecs, lambda, ec2, rds), metric
namespaces and names, log formats, alert sources and wording, and distractors (deploys of
other services, old deploys of the same service, config and infra changes elsewhere, noisy
templates that were always there). Deterministic: the same seed writes the same bytes.

    python tests/scenarios/make_suite.py [OUT_DIR]
"""
from __future__ import annotations

import hashlib
import json
import math
import random
import shutil
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import yaml

OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "suite"
UTC = timezone.utc


# --- small helpers ------------------------------------------------------------------------
def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_ms(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


class Rng(random.Random):
    def hexid(self, n: int = 16) -> str:
        return "".join(self.choice("0123456789abcdef") for _ in range(n))

    def uid(self) -> str:
        return str(uuid.UUID(int=self.getrandbits(128), version=4))

    def ip(self, prefix: str = "10.") -> str:
        return prefix + ".".join(str(self.randint(1, 254)) for _ in range(4 - prefix.count(".")))

    def slug(self, n: int = 8) -> str:
        return "".join(self.choice("abcdefghijkmnopqrstuvwxyz0123456789") for _ in range(n))


class Log:
    """Events of one log group; `every` drops events at random gaps between two times."""

    def __init__(self, rng: Rng):
        self.rng = rng
        self.events: list[tuple[datetime, str]] = []

    def at(self, t: datetime, *messages: str) -> None:
        for m in messages:
            self.events.append((t, m))

    def every(self, start: datetime, end: datetime, mean_gap: float, make) -> None:
        t = start + timedelta(seconds=self.rng.expovariate(1 / mean_gap))
        while t < end:
            out = make(t)
            if isinstance(out, str):
                out = [out]
            for m in out:
                self.events.append((t, m))
            t += timedelta(seconds=self.rng.expovariate(1 / mean_gap) + 0.05)

    def text(self, now: datetime) -> str:
        lines = sorted(((t, m) for t, m in self.events if t < now), key=lambda e: e[0])
        return "".join(f"{iso_ms(t)} {m}\n" for t, m in lines)


def series(rng: Rng, now: datetime, shape, noise: float = 0.03, minutes: int = 180, digits: int = 2):
    """One point a minute for `minutes` before `now`; shape(minute_index, t) gives the mean."""
    start = now.replace(second=0, microsecond=0) - timedelta(minutes=minutes)
    pts = []
    for i in range(minutes):
        t = start + timedelta(minutes=i)
        mean = shape(i, t)
        v = max(0.0, mean * (1 + rng.gauss(0, noise)))
        pts.append([iso(t), round(v, digits)])
    return pts


def step_at(onset: datetime, before: float, after: float, ramp_minutes: float = 2):
    def f(i, t):
        d = (t - onset).total_seconds() / 60
        if d < 0:
            return before
        return before + (after - before) * min(1.0, (d + 1) / max(ramp_minutes, 1))
    return f


def ramp_from(onset: datetime, before: float, per_minute: float, cap: float | None = None):
    def f(i, t):
        d = (t - onset).total_seconds() / 60
        v = before + max(0.0, d) * per_minute
        return min(v, cap) if cap is not None else v
    return f


def flat(v: float):
    return lambda i, t: v


# --- alert payloads -----------------------------------------------------------------------
def _threshold_reason(value: float, threshold: float, at: datetime, op: str = "greater than") -> str:
    return (f"Threshold Crossed: 1 out of the last 1 datapoints [{value} ({at:%d/%m/%y %H:%M:00})] was {op} "
            f"the threshold ({threshold}) (minimum 1 datapoint for OK -> ALARM transition).")


def cw_sns(rng: Rng, account: str, at: datetime, alarm: str, desc: str, namespace: str, metric: str,
           dims: dict[str, str], value: float, threshold: float, state: str = "ALARM", message_id: str | None = None,
           op: str = "GreaterThanThreshold") -> dict:
    arn = f"arn:aws:cloudwatch:us-east-1:{account}:alarm:{alarm}"
    msg = {"AlarmName": alarm, "AlarmDescription": desc, "AWSAccountId": account,
           "AlarmConfigurationUpdatedTimestamp": "2026-01-14T10:02:11.000+0000", "NewStateValue": state,
           "NewStateReason": _threshold_reason(value, threshold, at, "less than" if "Less" in op else "greater than"),
           "StateChangeTime": at.strftime("%Y-%m-%dT%H:%M:%S.000+0000"), "Region": "US East (N. Virginia)",
           "AlarmArn": arn, "OldStateValue": "OK" if state == "ALARM" else "ALARM", "OKActions": [],
           "AlarmActions": [f"arn:aws:sns:us-east-1:{account}:ops-alarms"], "InsufficientDataActions": [],
           "Trigger": {"MetricName": metric, "Namespace": namespace, "StatisticType": "Statistic",
                       "Statistic": "AVERAGE", "Unit": None,
                       "Dimensions": [{"value": v, "name": k} for k, v in dims.items()], "Period": 60,
                       "EvaluationPeriods": 3, "DatapointsToAlarm": 2, "ComparisonOperator": op,
                       "Threshold": threshold, "TreatMissingData": "missing", "EvaluateLowSampleCountPercentile": ""}}
    return {"source": "cloudwatch-sns", "received_at": iso(at + timedelta(seconds=2)), "payload": {
        "Type": "Notification", "MessageId": message_id or rng.uid(),
        "TopicArn": f"arn:aws:sns:us-east-1:{account}:ops-alarms",
        "Subject": f"{state}: \"{alarm}\" in US East (N. Virginia)", "Message": json.dumps(msg),
        "Timestamp": iso_ms(at + timedelta(seconds=1)), "SignatureVersion": "1", "Signature": "EXAMPLE==",
        "SigningCertUrl": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000.pem",
        "UnsubscribeUrl": f"https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:us-east-1:{account}:ops-alarms:1",
        "MessageAttributes": {}}}


def cw_event(rng: Rng, account: str, at: datetime, alarm: str, desc: str, namespace: str, metric: str,
             dims: dict[str, str], value: float, threshold: float, state: str = "ALARM", event_id: str | None = None) -> dict:
    return {"source": "cloudwatch-eventbridge", "received_at": iso(at + timedelta(seconds=3)), "payload": {
        "version": "0", "id": event_id or rng.uid(), "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch", "account": account, "time": iso(at), "region": "us-east-1",
        "resources": [f"arn:aws:cloudwatch:us-east-1:{account}:alarm:{alarm}"],
        "detail": {"alarmName": alarm,
                   "state": {"value": state, "reason": _threshold_reason(value, threshold, at),
                             "timestamp": at.strftime("%Y-%m-%dT%H:%M:%S.000+0000")},
                   "previousState": {"value": "OK" if state == "ALARM" else "ALARM", "reason": "recovered",
                                     "timestamp": "2026-01-02T08:00:00.000+0000"},
                   "configuration": {"description": desc, "metrics": [{
                       "id": rng.hexid(12), "metricStat": {"metric": {"namespace": namespace, "name": metric,
                                                                      "dimensions": dims},
                                                           "period": 60, "stat": "Average"},
                       "returnData": True}]}}}}


def pagerduty(rng: Rng, at: datetime, title: str, service: str, key: str, incident: str, number: int,
              event_id: str | None = None, event_type: str = "incident.triggered", priority: str = "P2",
              urgency: str = "high", domain: str = "acme") -> dict:
    return {"source": "pagerduty", "received_at": iso(at + timedelta(seconds=2)), "payload": {"event": {
        "id": event_id or rng.uid(), "event_type": event_type, "resource_type": "incident",
        "occurred_at": iso_ms(at), "agent": None, "client": {"name": "Monitoring"},
        "data": {"id": incident, "type": "incident", "self": f"https://api.pagerduty.com/incidents/{incident}",
                 "html_url": f"https://{domain}.pagerduty.com/incidents/{incident}", "number": number,
                 "status": "resolved" if event_type == "incident.resolved" else "triggered",
                 "incident_key": key, "created_at": iso(at), "title": title,
                 "service": {"id": "P" + rng.hexid(6).upper(), "summary": service, "type": "service_reference"},
                 "assignees": [], "escalation_policy": {"id": "PEP01", "summary": "Primary", "type": "escalation_policy_reference"},
                 "teams": [], "priority": {"summary": priority}, "urgency": urgency,
                 "conference_bridge": None, "resolve_reason": None}}}}


def grafana(rng: Rng, at: datetime, alertname: str, labels: dict[str, str], summary: str, description: str,
            value: float, status: str = "firing", starts: datetime | None = None) -> dict:
    fp = hashlib.sha256((alertname + json.dumps(labels, sort_keys=True)).encode()).hexdigest()[:16]
    all_labels = {"alertname": alertname, **labels}
    alert = {"status": status, "labels": all_labels,
             "annotations": {"summary": summary, "description": description},
             "startsAt": iso(starts or at - timedelta(seconds=30)),
             "endsAt": iso(at) if status == "resolved" else "0001-01-01T00:00:00Z",
             "generatorURL": f"https://grafana.example.net/alerting/grafana/{fp[:10]}/view", "fingerprint": fp,
             "values": {"A": value, "C": 1}}
    return {"source": "grafana", "received_at": iso(at), "payload": {
        "receiver": "oncall-bot", "status": status, "orgId": 1, "alerts": [alert],
        "groupLabels": {"alertname": alertname}, "commonLabels": all_labels,
        "commonAnnotations": alert["annotations"], "externalURL": "https://grafana.example.net/", "version": "1",
        "groupKey": f"{{}}:{{alertname=\"{alertname}\"}}", "truncatedAlerts": 0,
        "title": f"[{status.upper()}:1] {alertname}", "state": "alerting" if status == "firing" else "ok",
        "message": f"{summary}\n{description}"}}


def datadog(rng: Rng, at: datetime, title: str, tags: str, metric: str, query: str, body: str,
            transition: str = "Triggered", alert_id: str | None = None, event_id: str | None = None,
            priority: str = "normal") -> dict:
    ms = str(int(at.timestamp() * 1000))
    return {"source": "datadog", "received_at": iso(at + timedelta(seconds=4)), "payload": {
        "id": event_id or str(rng.getrandbits(62)), "title": (f"[{transition}] " if transition != "Triggered" else "[Triggered] ") + title,
        "date": ms, "last_updated": ms, "event_type": "query_alert_monitor",
        "body": f"%%%\n{body}\n\n@webhook-oncall-bot\n%%%", "priority": priority, "tags": tags,
        "alert_id": alert_id or str(rng.randint(10_000_000, 99_999_999)), "alert_transition": transition,
        "alert_type": "success" if transition == "Recovered" else "error", "alert_metric": metric,
        "alert_query": query, "alert_scope": ",".join(t for t in tags.split(",")[:2]),
        "alert_status": f"{metric} crossed its threshold", "org": {"id": "4242", "name": "Example Org"},
        "aggreg_key": rng.hexid(32), "hostname": ""}}


# --- log formats --------------------------------------------------------------------------
def j(t: datetime, level: str, msg: str, **fields) -> str:
    """JSON with `severity` / `message` keys (structlog / Cloud Logging style)."""
    return json.dumps({"timestamp": iso_ms(t), "severity": level.upper(), "message": msg, **fields},
                      separators=(",", ":"))


def lf(level: str, msg: str, **fields) -> str:
    """logfmt with `lvl` and `msg`."""
    parts = [f"lvl={level.lower()}", f"msg={json.dumps(msg)}"]
    for k, v in fields.items():
        v = str(v)
        parts.append(f"{k}={json.dumps(v) if (' ' in v or '=' in v or not v) else v}")
    return " ".join(parts)


def spring(t: datetime, level: str, thread: str, logger: str, msg: str) -> str:
    return f"{t:%Y-%m-%d %H:%M:%S}.{t.microsecond // 1000:03d} {level.upper():>5} 1 --- [{thread}] {logger} : {msg}"


def nginx(rng: Rng, t: datetime, method: str, path: str, status: int, secs: float) -> str:
    return (f"{rng.ip('10.40.')} - - [{t:%d/%b/%Y:%H:%M:%S} +0000] \"{method} {path} HTTP/1.1\" {status} "
            f"{rng.randint(180, 4200)} \"-\" \"{rng.choice(['okhttp/4.12.0', 'Mozilla/5.0', 'python-requests/2.31'])}\" {secs:.3f}")


def pg(t: datetime, rng: Rng, level: str, msg: str, user: str = "app", db: str = "app") -> str:
    return f"{t:%Y-%m-%d %H:%M:%S} UTC:{rng.ip('10.60.')}({rng.randint(30000, 60000)}):{user}@{db}:[{rng.randint(1000, 30000)}]:{level}:  {msg}"


# --- the estate ---------------------------------------------------------------------------
def svc(name, kind, platform, log_group=None, depends_on=(), **kw) -> dict:
    d = {"name": name, "kind": kind, "platform": platform}
    d.update(kw)
    if log_group:
        d["log_group"] = log_group
    d["depends_on"] = list(depends_on)
    return d


def change(cid, kind, service, at, source, author, description, revision=None, previous=None, sha=None) -> dict:
    d = {"id": cid, "kind": kind, "service": service, "at": iso(at)}
    if revision is not None:
        d["revision"] = str(revision)
        d["previous_revision"] = str(previous if previous is not None else int(revision) - 1)
    if sha:
        d["sha"] = sha
    d.update(author=author, description=description, source=source)
    return d


def write(bundle: dict, logs: dict[str, tuple[str, Log]]) -> None:
    d = OUT / bundle["name"]
    if d.exists():
        shutil.rmtree(d)
    (d / "logs").mkdir(parents=True)
    now = parse(bundle["now"])
    bundle["logs"] = []
    for file, (group, log) in logs.items():
        (d / "logs" / file).write_text(log.text(now))
        bundle["logs"].append({"log_group": group, "file": f"logs/{file}"})
    order = ["name", "description", "now", "account", "region", "services", "alerts", "changes", "logs", "metrics",
             "cluster", "expected"]
    doc = {k: bundle[k] for k in order if k in bundle}
    text = "# Generated by tests/scenarios/make_suite.py; format: ../../FORMAT.md (shared/scenarios)\n"
    text += yaml.safe_dump(doc, sort_keys=False, width=140, default_flow_style=None, allow_unicode=True)
    (d / "scenario.yaml").write_text(text)


def access_noise(rng: Rng, log: Log, start: datetime, end: datetime, fmt: str, paths: list[str], gap: float = 25,
                 slow_after: datetime | None = None, err_after: datetime | None = None, err_share: float = 0.0,
                 latency: tuple[float, float] = (20, 180), slow_factor: float = 1.0) -> None:
    """Successful request lines, optionally slower / failing after a moment."""
    def make(t):
        path = rng.choice(paths).replace("{id}", rng.slug(8)).replace("{n}", str(rng.randint(1000, 99999)))
        ms = rng.uniform(*latency) * (slow_factor if slow_after and t >= slow_after else 1)
        status = 200
        if err_after and t >= err_after and rng.random() < err_share:
            status = rng.choice([500, 502, 503])
        method = "POST" if "orders" in path or "payments" in path or "jobs" in path else "GET"
        if fmt == "json":
            return j(t, "info", "request finished", http_method=method, url=path, status_code=status,
                     elapsed_ms=round(ms, 1), trace_id=rng.hexid(32))
        if fmt == "logfmt":
            return lf("info", "handled request", method=method, route=path, code=status, took=f"{ms:.1f}ms",
                      req=rng.hexid(12))
        if fmt == "spring":
            return spring(t, "INFO", f"http-nio-8080-exec-{rng.randint(1, 40)}", "o.a.c.c.AccessLog",
                          f"{method} {path} -> {status} in {ms:.0f} ms")
        return nginx(rng, t, method, path, status, ms / 1000)
    log.every(start, end, gap * 2.5, make)


# ==========================================================================================
# The scenarios
# ==========================================================================================
SCENARIOS = []


def scenario(fn):
    SCENARIOS.append(fn)
    return fn


@scenario
def ledger_ecs_bad_deploy():
    """ECS deploy (new task definition) -> 5xx and a new exception template; noisy old errors."""
    rng = Rng(101)
    now = parse("2026-03-04T16:22:10Z")
    acct = "310274119852"
    deploy_at = now - timedelta(minutes=19)
    onset = deploy_at + timedelta(minutes=3)
    start = now - timedelta(hours=3)
    services = [
        svc("ledger-api", "api", "ecs", "/ecs/fin-prod/ledger-api", ["fx-rates", "ledger-db"], workload="ledger-api",
            cluster="fin-prod"),
        svc("fx-rates", "api", "ecs", "/ecs/fin-prod/fx-rates", [], workload="fx-rates", cluster="fin-prod"),
        svc("ledger-db", "database", "rds", "/aws/rds/instance/ledger-db/postgresql", [], workload="ledger-db"),
        svc("statement-batch", "batch", "lambda", "/aws/lambda/statement-batch", ["ledger-api"],
            workload="statement-batch"),
        svc("web-portal", "frontend", "ecs", "/ecs/fin-prod/web-portal", ["ledger-api"], workload="web-portal",
            cluster="fin-prod"),
    ]
    api = Log(rng)
    paths = ["/api/v2/accounts/{id}/balance", "/api/v2/accounts/{id}/entries", "/api/v2/transfers/{id}",
             "/api/v2/journal?page={n}"]
    access_noise(rng, api, start, now, "spring", paths, gap=9, err_after=onset, err_share=0.12)
    # noisy template that has always been there
    api.every(start, now, 240, lambda t: spring(t, "WARN", "scheduling-1", "c.a.l.s.ReconcileJob",
                                                f"Reconciliation lag {rng.randint(2, 9)}s exceeds soft limit"))
    api.every(start, now, 420, lambda t: spring(t, "ERROR", f"http-nio-8080-exec-{rng.randint(1, 40)}",
                                                "o.a.c.c.C.[.[.[/].[dispatcherServlet]",
                                                "Client aborted request: java.io.IOException: Broken pipe"))

    def npe(t):
        tid = f"http-nio-8080-exec-{rng.randint(1, 40)}"
        return [spring(t, "ERROR", tid, "c.a.l.web.ApiExceptionHandler",
                       f"Unhandled exception on POST /api/v2/transfers/{rng.slug(8)}"),
                "java.lang.NullPointerException: Cannot invoke \"java.math.BigDecimal.scale()\" because \"amount.fee\" is null",
                "\tat com.acme.ledger.transfer.FeeCalculator.apply(FeeCalculator.java:88)",
                "\tat com.acme.ledger.transfer.TransferService.post(TransferService.java:141)"]
    api.every(onset, now, 14, npe)
    api.at(deploy_at + timedelta(seconds=40), spring(deploy_at + timedelta(seconds=40), "INFO", "main",
                                                     "c.a.l.LedgerApplication", "Started LedgerApplication in 11.2 seconds (process running for 12.0)"))
    fx = Log(rng)
    access_noise(rng, fx, start, now, "json", ["/rates/{id}", "/rates/latest"], gap=40)
    portal = Log(rng)
    access_noise(rng, portal, start, now, "nginx", ["/app/home", "/app/accounts/{id}"], gap=30)
    portal.every(onset + timedelta(minutes=1), now, 60, lambda t: nginx(rng, t, "POST", f"/app/transfer/{rng.slug(6)}", 502, 0.8))
    metrics = [
        {"service": "ledger-api", "namespace": "Fin/Ledger", "name": "HTTPServerErrors", "unit": "Count",
         "points": series(rng, now, step_at(onset, 2, 64), noise=0.15, digits=0)},
        {"service": "ledger-api", "namespace": "Fin/Ledger", "name": "RequestLatencyP95", "unit": "Milliseconds",
         "points": series(rng, now, step_at(onset, 140, 165), noise=0.05)},
        {"service": "ledger-api", "namespace": "Fin/Ledger", "name": "Requests", "unit": "Count",
         "points": series(rng, now, flat(3900), noise=0.04, digits=0)},
        {"service": "ledger-api", "namespace": "AWS/ECS", "name": "CPUUtilization", "unit": "Percent",
         "points": series(rng, now, flat(31), noise=0.06)},
        {"service": "ledger-api", "namespace": "AWS/ECS", "name": "MemoryUtilization", "unit": "Percent",
         "points": series(rng, now, flat(48), noise=0.02)},
    ]
    a1 = now
    alerts = [
        cw_event(rng, acct, a1, "ledger-api-server-errors", "Server errors of ledger-api above 30 per minute",
                 "Fin/Ledger", "HTTPServerErrors", {"ServiceName": "ledger-api", "Stage": "prod"}, 64, 30),
        pagerduty(rng, a1 + timedelta(seconds=25), "ALARM: ledger-api-server-errors", "Ledger API",
                  "ledger-api/server-errors", "Q1LEDG0001", 3001, domain="acmefin", priority="P1"),
        cw_event(rng, acct, a1 + timedelta(minutes=2), "web-portal-latency", "p95 latency of web-portal above 2s",
                 "Fin/Portal", "LatencyP95", {"ServiceName": "web-portal"}, 1.2, 2.0, state="OK"),
        pagerduty(rng, a1 + timedelta(minutes=3), "ALARM: ledger-api-server-errors", "Ledger API",
                  "ledger-api/server-errors", "Q1LEDG0001", 3001, domain="acmefin", priority="P1",
                  event_id=None, event_type="incident.escalated"),
    ]
    changes = [
        change("ecs-ledger-api-td-57", "deploy", "ledger-api", now - timedelta(hours=20, minutes=12), "ecs", "mo",
               "Task definition ledger-api:57 (image ledger-api:4be1f02)", 57, 56, "4be1f02"),
        change("cfg-fx-rates-12", "config", "fx-rates", now - timedelta(hours=2, minutes=40), "appconfig", "li",
               "AppConfig fx-rates/prod: profile rate-sources v12", 12, 11),
        change("infra-net-0304", "infra", "web-portal", now - timedelta(hours=1, minutes=5), "github", "ops-bot",
               "terraform: add VPC endpoint for STS"),
        change("ecs-fx-rates-td-210", "deploy", "fx-rates", now - timedelta(minutes=48), "ecs", "ravi",
               "Task definition fx-rates:210 (image fx-rates:77aa0c1)", 210, 209, "77aa0c1"),
        change("ecs-ledger-api-td-58", "deploy", "ledger-api", deploy_at, "ecs", "juno",
               "Task definition ledger-api:58 (image ledger-api:c91d5e3)", 58, 57, "c91d5e3"),
    ]
    write({"name": "ledger-ecs-bad-deploy", "description": "ledger-api on ECS: task definition 58 ships a NullPointerException on transfers; server errors jump three minutes after the rollout. Noisy broken-pipe and reconciliation templates were always there.",
           "now": iso(now), "account": acct, "region": "us-east-1", "services": services, "alerts": alerts,
           "changes": changes, "metrics": metrics,
           "expected": {"incidents": [{"service": "ledger-api", "alerts": 3, "category": "availability",
                                       "root_cause": "bad_deploy", "culprit": "ecs-ledger-api-td-58",
                                       "remediation": "rollback_deployment",
                                       "forbidden": ["scale_service", "restart_pods", "revert_config"]}]}},
          {"ledger-api.log": ("/ecs/fin-prod/ledger-api", api), "fx-rates.log": ("/ecs/fin-prod/fx-rates", fx),
           "web-portal.log": ("/ecs/fin-prod/web-portal", portal)})


@scenario
def thumbnailer_lambda_bad_deploy():
    """A Lambda version published and the alias moved: errors and duration climb."""
    rng = Rng(202)
    now = parse("2026-05-18T09:41:00Z")
    acct = "448812093317"
    deploy_at = now - timedelta(minutes=26)
    onset = deploy_at + timedelta(minutes=1)
    start = now - timedelta(hours=3)
    services = [
        svc("thumbnailer", "worker", "lambda", "/aws/lambda/media-thumbnailer", ["media-bucket-events"],
            workload="media-thumbnailer"),
        svc("media-bucket-events", "queue", "lambda", None, [], workload="media-events-router"),
        svc("gallery-api", "api", "eks", "/eks/media/gallery-api", ["thumbnailer"], namespace="media",
            workload="gallery-api", cluster="media-eks"),
    ]
    log = Log(rng)

    def invocation(t, version, fail):
        rid = rng.uid()
        out = [f"START RequestId: {rid} Version: {version}"]
        if fail:
            out += [f"[ERROR]\t{iso_ms(t)}\t{rid}\tUnsupportedImageFormat: cannot decode HEIC input: libheif not found in /opt/lib",
                    "Traceback (most recent call last):",
                    "  File \"/var/task/handler.py\", line 42, in handle",
                    "    img = decode(body)",
                    "  File \"/var/task/thumbs/codec.py\", line 17, in decode",
                    "    raise UnsupportedImageFormat(\"cannot decode HEIC input: libheif not found in /opt/lib\")"]
            dur = rng.uniform(2400, 5800)
        else:
            out.append(f"[INFO]\t{iso_ms(t)}\t{rid}\tResized s3://media-uploads/{rng.slug(10)}.jpg to 3 sizes")
            dur = rng.uniform(180, 900)
        out += [f"END RequestId: {rid}",
                f"REPORT RequestId: {rid}\tDuration: {dur:.2f} ms\tBilled Duration: {math.ceil(dur)} ms\tMemory Size: 1024 MB\tMax Memory Used: {rng.randint(180, 260)} MB"]
        return out

    log.every(start, deploy_at, 45, lambda t: invocation(t, 33, False))
    log.every(deploy_at, now, 30, lambda t: invocation(t, 34, t >= onset and rng.random() < 0.45))
    log.every(start, now, 900, lambda t: f"[WARNING]\t{iso_ms(t)}\t{rng.uid()}\tS3 GetObject retry 1/3: SlowDown")
    gal = Log(rng)
    access_noise(rng, gal, start, now, "logfmt", ["/albums/{id}", "/photos/{id}/thumb"], gap=30)
    metrics = [
        {"service": "thumbnailer", "namespace": "AWS/Lambda", "name": "Errors", "unit": "Count",
         "points": series(rng, now, step_at(onset, 0.2, 1.4), noise=0.2)},
        {"service": "thumbnailer", "namespace": "AWS/Lambda", "name": "Duration", "unit": "Milliseconds",
         "points": series(rng, now, step_at(onset, 520, 1900), noise=0.08)},
        {"service": "thumbnailer", "namespace": "AWS/Lambda", "name": "Invocations", "unit": "Count",
         "points": series(rng, now, flat(3.0), noise=0.1)},
        {"service": "thumbnailer", "namespace": "AWS/Lambda", "name": "Throttles", "unit": "Count",
         "points": series(rng, now, flat(0.0), noise=0)},
    ]
    alerts = [
        cw_sns(rng, acct, now, "thumbnailer-errors", "Lambda media-thumbnailer reports errors", "AWS/Lambda", "Errors",
               {"FunctionName": "media-thumbnailer", "Resource": "media-thumbnailer:live"}, 1.4, 0.5),
        cw_sns(rng, acct, now + timedelta(minutes=1, seconds=10), "thumbnailer-duration-p90",
               "Lambda media-thumbnailer p90 duration above 1500 ms", "AWS/Lambda", "Duration",
               {"FunctionName": "media-thumbnailer"}, 2100, 1500),
    ]
    changes = [
        change("lambda-media-thumbnailer-v33", "deploy", "thumbnailer", now - timedelta(hours=21), "lambda", "deploybot",
               "Publish version 33 of media-thumbnailer; alias live -> 33", 33, 32, "8e0a1d2"),
        change("deploy-gallery-api-812", "deploy", "gallery-api", now - timedelta(minutes=95), "kubernetes", "ines",
               "Show album cover picker", 812, 811, "aa01fe3"),
        change("lambda-media-thumbnailer-v34", "deploy", "thumbnailer", deploy_at, "lambda", "deploybot",
               "Publish version 34 of media-thumbnailer; alias live -> 34", 34, 33, "f3c9b70"),
    ]
    write({"name": "thumbnailer-lambda-bad-deploy", "description": "Lambda version 34 lost the HEIC codec layer; errors and duration step up a minute after alias live moved to it.",
           "now": iso(now), "account": acct, "region": "us-east-1", "services": services, "alerts": alerts,
           "changes": changes, "metrics": metrics,
           "expected": {"incidents": [{"service": "thumbnailer", "alerts": 2, "category": "availability",
                                       "root_cause": "bad_deploy", "culprit": "lambda-media-thumbnailer-v34",
                                       "remediation": "rollback_deployment", "forbidden": ["scale_service"]}]}},
          {"thumbnailer.log": ("/aws/lambda/media-thumbnailer", log), "gallery-api.log": ("/eks/media/gallery-api", gal)})


@scenario
def quotes_config_latency():
    """A timeout / cache setting changed in AppConfig: latency climbs; a deploy hours earlier is innocent."""
    rng = Rng(303)
    now = parse("2026-10-07T13:05:30Z")
    acct = "901244778210"
    cfg_at = now - timedelta(minutes=14)
    onset = cfg_at + timedelta(minutes=1)
    start = now - timedelta(hours=3)
    services = [
        svc("quote-engine", "api", "eks", "/eks/prod/pricing/quote-engine", ["rate-cache", "carrier-gateway"],
            namespace="pricing", workload="quote-engine", cluster="core-eks"),
        svc("rate-cache", "cache", "ec2", "/ec2/prod/rate-cache", [], workload="rate-cache-asg"),
        svc("carrier-gateway", "api", "ecs", "/ecs/prod/carrier-gateway", [], workload="carrier-gateway",
            cluster="core-ecs"),
        svc("booking-web", "frontend", "eks", "/eks/prod/web/booking-web", ["quote-engine"], namespace="web",
            workload="booking-web", cluster="core-eks"),
    ]
    log = Log(rng)

    def req(t):
        slow = t >= onset
        ms = rng.uniform(900, 2600) if slow else rng.uniform(40, 160)
        return j(t, "info", "quote computed", route="/v3/quotes", lane=f"{rng.choice(['US', 'CA', 'MX'])}-{rng.randint(10, 99)}",
                 cache="miss" if slow else rng.choice(["hit", "hit", "hit", "miss"]), elapsed_ms=round(ms, 1))
    log.every(start, now, 20, req)
    log.every(start, now, 300, lambda t: j(t, "warning", "carrier feed stale, using cached tariffs",
                                           carrier=rng.choice(["dhl", "ups", "fedex"]), age_s=rng.randint(300, 900)))
    log.every(onset, now, 25, lambda t: j(t, "warning", "rate cache bypassed: cache.mode=off, querying carrier-gateway directly",
                                          lane=f"US-{rng.randint(10, 99)}"))
    log.at(cfg_at + timedelta(seconds=20), j(cfg_at + timedelta(seconds=20), "info",
                                             "configuration reloaded from AppConfig", profile="quote-engine-runtime", version="19"))
    cg = Log(rng)
    access_noise(rng, cg, start, now, "json", ["/carriers/{id}/rates"], gap=40)
    cg.every(onset, now, 20, lambda t: j(t, "info", "request finished", http_method="GET", url=f"/carriers/{rng.slug(4)}/rates",
                                         status_code=200, elapsed_ms=round(rng.uniform(800, 2000), 1), trace_id=rng.hexid(32)))
    metrics = [
        {"service": "quote-engine", "namespace": "Pricing/Quotes", "name": "quote_latency_p99_ms", "unit": "Milliseconds",
         "points": series(rng, now, step_at(onset, 180, 2300), noise=0.06)},
        {"service": "quote-engine", "namespace": "Pricing/Quotes", "name": "quotes_per_minute", "unit": "Count",
         "points": series(rng, now, flat(1800), noise=0.04, digits=0)},
        {"service": "quote-engine", "namespace": "Pricing/Quotes", "name": "quote_failures", "unit": "Count",
         "points": series(rng, now, flat(3), noise=0.3, digits=0)},
        {"service": "quote-engine", "namespace": "ContainerInsights", "name": "pod_cpu_utilization", "unit": "Percent",
         "points": series(rng, now, flat(28), noise=0.05)},
        {"service": "quote-engine", "namespace": "ContainerInsights", "name": "pod_memory_utilization", "unit": "Percent",
         "points": series(rng, now, flat(51), noise=0.02)},
    ]
    alerts = [
        grafana(rng, now, "QuoteLatencyHigh", {"service": "quote-engine", "severity": "page", "env": "production"},
                "quote-engine p99 latency 2.3 s", "p99 quote latency above 1 s for 5 minutes", 2300),
        datadog(rng, now + timedelta(minutes=2), "quote-engine response time is elevated",
                "service:quote-engine,env:production,team:pricing", "trace.http.request.duration",
                "avg(last_5m):p99:trace.http.request.duration{service:quote-engine} > 1",
                "quote-engine p99 response time is 2.28 s"),
        grafana(rng, now + timedelta(minutes=5), "QuoteLatencyHigh", {"service": "quote-engine", "severity": "page", "env": "production"},
                "quote-engine p99 latency 2.4 s", "p99 quote latency above 1 s for 5 minutes", 2400),
    ]
    changes = [
        change("deploy-quote-engine-1207", "deploy", "quote-engine", now - timedelta(hours=5, minutes=10), "kubernetes",
               "nadia", "Add Mexican lanes to quote matrix", 1207, 1206, "0f9e2c4"),
        change("cfg-booking-web-88", "config", "booking-web", now - timedelta(minutes=35), "ssm", "theo",
               "Update SSM parameter /prod/booking-web/FEATURE_NEW_CHECKOUT: false -> true", 88, 87),
        change("cfg-quote-engine-19", "config", "quote-engine", cfg_at, "appconfig", "nadia",
               "AppConfig quote-engine/prod: profile quote-engine-runtime v19 (Linear 20% every 1m)", 19, 18),
        change("infra-core-eks-1007", "infra", "booking-web", now - timedelta(hours=3, minutes=30), "github", "platform",
               "terraform: upgrade core-eks node group AMI"),
    ]
    write({"name": "quotes-config-latency", "description": "AppConfig v19 of quote-engine turned the rate cache off; every quote now calls the carriers and p99 climbs from 180 ms to 2.3 s.",
           "now": iso(now), "account": acct, "region": "us-east-1", "services": services, "alerts": alerts,
           "changes": changes, "metrics": metrics,
           "cluster": {"deployments": [
               {"namespace": "pricing", "name": "quote-engine", "replicas": 4, "ready": 4, "revision": "1207",
                "image": f"{acct}.dkr.ecr.us-east-1.amazonaws.com/pricing/quote-engine:0f9e2c4", "memory_limit": "1Gi", "cpu_limit": "1"},
               {"namespace": "web", "name": "booking-web", "replicas": 3, "ready": 3, "revision": "51",
                "image": f"{acct}.dkr.ecr.us-east-1.amazonaws.com/web/booking-web:1d2e3f4", "memory_limit": "512Mi", "cpu_limit": "500m"}],
               "pods": [{"namespace": "pricing", "name": f"quote-engine-6b7c9d-{rng.slug(5)}", "deployment": "quote-engine",
                         "phase": "Running", "restarts": 0, "last_termination_reason": None} for _ in range(4)]},
           "expected": {"incidents": [{"service": "quote-engine", "alerts": 3, "category": "performance",
                                       "root_cause": "config_change", "culprit": "cfg-quote-engine-19",
                                       "remediation": "revert_config",
                                       "forbidden": ["rollback_deployment", "scale_service", "restart_pods"]}]}},
          {"quote-engine.log": ("/eks/prod/pricing/quote-engine", log),
           "carrier-gateway.log": ("/ecs/prod/carrier-gateway", cg)})


@scenario
def transcoder_ecs_memory_leak():
    """Memory of an ECS worker climbs for hours; no deploy of it in the last day."""
    rng = Rng(404)
    now = parse("2026-01-21T04:12:45Z")
    acct = "120399845521"
    leak_start = now - timedelta(hours=2, minutes=50)
    start = now - timedelta(hours=3)
    services = [
        svc("transcoder", "worker", "ecs", "/ecs/media-prod/transcoder", ["job-queue"], workload="transcoder-svc",
            cluster="media-prod"),
        svc("job-queue", "queue", "ec2", None, [], workload="job-queue-asg"),
        svc("upload-api", "api", "ecs", "/ecs/media-prod/upload-api", ["job-queue"], workload="upload-api",
            cluster="media-prod"),
    ]
    log = Log(rng)

    def job(t):
        return lf("info", "job done", job=rng.uid(), codec=rng.choice(["h264", "vp9", "av1"]),
                  secs=f"{rng.uniform(3, 40):.1f}")
    log.every(start, now, 15, job)
    log.every(start, now, 600, lambda t: lf("error", "job failed, will retry", job=rng.uid(),
                                            err="input stream ended early (truncated upload)"))

    def heap(t):
        mb = 900 + (t - leak_start).total_seconds() / 60 * 9
        return lf("warn", "resident memory above soft limit", rss_mb=int(mb), soft_limit_mb=1536,
                  frames_cached=int(mb * 37))
    log.every(now - timedelta(minutes=70), now, 50, heap)
    up = Log(rng)
    access_noise(rng, up, start, now, "nginx", ["/v1/uploads", "/v1/uploads/{id}"], gap=30)
    metrics = [
        {"service": "transcoder", "namespace": "AWS/ECS", "name": "MemoryUtilization", "unit": "Percent",
         "points": series(rng, now, ramp_from(leak_start, 44, 0.27), noise=0.01)},
        {"service": "transcoder", "namespace": "AWS/ECS", "name": "CPUUtilization", "unit": "Percent",
         "points": series(rng, now, flat(57), noise=0.07)},
        {"service": "transcoder", "namespace": "MediaPipeline", "name": "JobsCompleted", "unit": "Count",
         "points": series(rng, now, flat(4), noise=0.2, digits=0)},
        {"service": "transcoder", "namespace": "MediaPipeline", "name": "JobLatencySeconds", "unit": "Seconds",
         "points": series(rng, now, flat(21), noise=0.1)},
    ]
    alerts = [
        datadog(rng, now, "Memory usage high on transcoder", "service:transcoder,env:prod,ecs_cluster:media-prod",
                "aws.ecs.memory_utilization", "avg(last_10m):avg:aws.ecs.memory_utilization{servicename:transcoder-svc} > 85",
                "transcoder memory utilization is 89.6%"),
        datadog(rng, now + timedelta(minutes=4), "CPU usage high on upload-api", "service:upload-api,env:prod",
                "aws.ecs.cpuutilization", "avg(last_5m):avg:aws.ecs.cpuutilization{servicename:upload-api} > 80",
                "upload-api CPU is 41%", transition="Recovered"),
        datadog(rng, now + timedelta(minutes=6), "Memory usage high on transcoder", "service:transcoder,env:prod,ecs_cluster:media-prod",
                "aws.ecs.memory_utilization", "avg(last_10m):avg:aws.ecs.memory_utilization{servicename:transcoder-svc} > 85",
                "transcoder memory utilization is 91.2%", transition="Re-Triggered"),
    ]
    changes = [
        change("upload-api-td-77", "deploy", "upload-api", now - timedelta(hours=2, minutes=58), "ecs", "kim",
               "Task definition upload-api:77", 77, 76, "9a8b7c6"),
        change("infra-media-0121", "infra", "transcoder", now - timedelta(hours=9), "github", "platform",
               "terraform: enable container insights on media-prod"),
        change("cfg-upload-api-5", "config", "upload-api", now - timedelta(hours=1, minutes=15), "ssm", "kim",
               "Update SSM parameter /prod/upload-api/MAX_UPLOAD_MB: 500 -> 750", 5, 4),
    ]
    write({"name": "transcoder-ecs-memory-leak", "description": "transcoder (ECS) caches decoded frames without bound; memory ramps for three hours; nothing of it was deployed in the last day.",
           "now": iso(now), "account": acct, "region": "us-east-1", "services": services, "alerts": alerts,
           "changes": changes, "metrics": metrics,
           "expected": {"incidents": [{"service": "transcoder", "alerts": 2, "category": "resource",
                                       "root_cause": "memory_leak", "culprit": None, "remediation": "restart_pods",
                                       "forbidden": ["rollback_deployment", "scale_service"]}]}},
          {"transcoder.log": ("/ecs/media-prod/transcoder", log), "upload-api.log": ("/ecs/media-prod/upload-api", up)})


@scenario
def feeds_eks_oomkilled():
    """Pods OOMKilled and restarting: the memory series is a sawtooth, the cluster says OOMKilled."""
    rng = Rng(505)
    now = parse("2026-12-02T22:31:05Z")
    acct = "702155339981"
    start = now - timedelta(hours=3)
    services = [
        svc("feed-builder", "worker", "eks", "/eks/content/feed-builder", ["article-store"], namespace="content",
            workload="feed-builder", cluster="content-eks"),
        svc("article-store", "database", "rds", "/aws/rds/instance/article-store/postgresql", [], workload="article-store"),
        svc("reader-api", "api", "eks", "/eks/content/reader-api", ["feed-builder", "article-store"],
            namespace="content", workload="reader-api", cluster="content-eks"),
    ]
    log = Log(rng)
    log.every(start, now, 12, lambda t: f"INFO  feed_builder.worker: built feed user={rng.randint(10**6, 10**7)} items={rng.randint(20, 200)} in {rng.randint(30, 400)}ms")
    log.every(start, now, 500, lambda t: f"WARN  feed_builder.ranker: ranking model cache miss, loading weights from s3://ml-artifacts/ranker/{rng.slug(6)}")
    restarts = [now - timedelta(minutes=m) for m in (131, 88, 47, 9)]
    for r in restarts:
        log.at(r - timedelta(seconds=30), f"WARN  feed_builder.worker: memory pressure, rss={rng.randint(1880, 2010)}MiB of 2048MiB")
        log.at(r + timedelta(seconds=12), "INFO  feed_builder.main: starting feed-builder 5.2.1 (pid 1)")

    def mem(i, t):
        last = max((r for r in restarts if r <= t), default=start - timedelta(minutes=20))
        return min(97.0, 38 + (t - last).total_seconds() / 60 * 1.45)
    ra = Log(rng)
    access_noise(rng, ra, start, now, "logfmt", ["/feed", "/articles/{id}"], gap=30)
    metrics = [
        {"service": "feed-builder", "namespace": "ContainerInsights", "name": "pod_memory_utilization_over_pod_limit",
         "unit": "Percent", "points": series(rng, now, mem, noise=0.01)},
        {"service": "feed-builder", "namespace": "ContainerInsights", "name": "pod_cpu_utilization", "unit": "Percent",
         "points": series(rng, now, flat(36), noise=0.08)},
        {"service": "feed-builder", "namespace": "ContainerInsights", "name": "pod_number_of_container_restarts",
         "unit": "Count", "points": series(rng, now, lambda i, t: float(sum(1 for r in restarts if r <= t)), noise=0, digits=0)},
        {"service": "feed-builder", "namespace": "Content/Feeds", "name": "feeds_built", "unit": "Count",
         "points": series(rng, now, flat(300), noise=0.05, digits=0)},
    ]
    alerts = [
        grafana(rng, now, "KubeContainerOOMKilled", {"namespace": "content", "deployment": "feed-builder",
                                                      "container": "feed-builder", "severity": "warning"},
                "feed-builder container OOMKilled", "Container feed-builder in content was OOMKilled 4 times in 3h", 4),
        grafana(rng, now + timedelta(minutes=3), "KubePodRestartingOften", {"namespace": "content", "deployment": "feed-builder",
                                                                             "severity": "warning"},
                "feed-builder pod restarts", "Pod memory near limit and restarting (OOM)", 4),
    ]
    pods = []
    for k in range(3):
        pods.append({"namespace": "content", "name": f"feed-builder-5f6d8c7b9-{rng.slug(5)}", "deployment": "feed-builder",
                     "phase": "Running", "restarts": [4, 3, 4][k], "last_termination_reason": "OOMKilled"})
    pods += [{"namespace": "content", "name": f"reader-api-7c8d9e-{rng.slug(5)}", "deployment": "reader-api",
              "phase": "Running", "restarts": 0, "last_termination_reason": None} for _ in range(2)]
    changes = [
        change("deploy-feed-builder-64", "deploy", "feed-builder", now - timedelta(hours=22, minutes=40), "kubernetes",
               "omar", "Use new ranking model", 64, 63, "ab12cd3"),
        change("deploy-reader-api-301", "deploy", "reader-api", now - timedelta(minutes=70), "kubernetes", "zoe",
               "Paginate saved articles", 301, 300, "e4f5a6b"),
    ]
    write({"name": "feeds-eks-oomkilled", "description": "feed-builder pods are OOMKilled every ~40 minutes (sawtooth memory, 3-4 restarts each); its only deploy was 22 h ago.",
           "now": iso(now), "account": acct, "region": "us-east-1", "services": services, "alerts": alerts,
           "changes": changes, "metrics": metrics,
           "cluster": {"deployments": [
               {"namespace": "content", "name": "feed-builder", "replicas": 3, "ready": 2, "revision": "64",
                "image": f"{acct}.dkr.ecr.us-east-1.amazonaws.com/content/feed-builder:ab12cd3", "memory_limit": "2Gi", "cpu_limit": "1"},
               {"namespace": "content", "name": "reader-api", "replicas": 2, "ready": 2, "revision": "301",
                "image": f"{acct}.dkr.ecr.us-east-1.amazonaws.com/content/reader-api:e4f5a6b", "memory_limit": "512Mi", "cpu_limit": "500m"}],
               "pods": pods},
           "expected": {"incidents": [{"service": "feed-builder", "alerts": 2, "category": "resource",
                                       "root_cause": "memory_leak", "culprit": None, "remediation": "restart_pods",
                                       "forbidden": ["rollback_deployment", "scale_service"]}]}},
          {"feed-builder.log": ("/eks/content/feed-builder", log), "reader-api.log": ("/eks/content/reader-api", ra)})


@scenario
def ingest_ec2_traffic_surge():
    """A surge of requests on an ASG-backed API: QPS x3.5, CPU and latency follow; a deploy 2 h earlier."""
    rng = Rng(606)
    now = parse("2026-04-11T19:02:40Z")
    acct = "563301288764"
    onset = now - timedelta(minutes=24)
    start = now - timedelta(hours=3)
    services = [
        svc("events-collector", "api", "ec2", "/ec2/prod/events-collector", ["events-stream"],
            workload="events-collector-asg"),
        svc("events-stream", "queue", "ec2", None, [], workload="kinesis-events"),
        svc("dashboard", "frontend", "ecs", "/ecs/prod/dashboard", ["events-collector"], workload="dashboard",
            cluster="prod"),
    ]
    log = Log(rng)

    def surge(i, t):
        return 3.6 if t >= onset else 1.0
    access_noise(rng, log, start, onset, "nginx", ["/collect", "/collect/batch"], gap=8)
    access_noise(rng, log, onset, now, "nginx", ["/collect", "/collect/batch"], gap=2.3, latency=(200, 1900))
    log.every(onset + timedelta(minutes=4), now, 15, lambda t: f"{t:%Y/%m/%d %H:%M:%S} [warn] 1822#1822: *{rng.randint(10**5, 10**6)} upstream timed out (110: Connection timed out) while reading response header from upstream, client: {rng.ip('172.16.')}, server: collector, request: \"POST /collect HTTP/1.1\", upstream: \"http://127.0.0.1:9000/collect\"")
    log.every(start, now, 700, lambda t: f"{t:%Y/%m/%d %H:%M:%S} [error] 1822#1822: *{rng.randint(10**5, 10**6)} client intended to send too large body: {rng.randint(2, 9)}048576 bytes, client: {rng.ip('172.16.')}, server: collector")
    dash = Log(rng)
    access_noise(rng, dash, start, now, "json", ["/d/{id}", "/api/panels/{id}"], gap=40)
    metrics = [
        {"service": "events-collector", "namespace": "Telemetry/Collector", "name": "api.qps", "unit": "Count/Second",
         "points": series(rng, now, lambda i, t: 240 * surge(i, t), noise=0.05, digits=1)},
        {"service": "events-collector", "namespace": "Telemetry/Collector", "name": "api.latency.p99", "unit": "Milliseconds",
         "points": series(rng, now, step_at(onset, 85, 1400, 6), noise=0.08)},
        {"service": "events-collector", "namespace": "Telemetry/Collector", "name": "api.5xx", "unit": "Count",
         "points": series(rng, now, step_at(onset + timedelta(minutes=4), 1, 9, 4), noise=0.3, digits=0)},
        {"service": "events-collector", "namespace": "AWS/EC2", "name": "CPUUtilization", "unit": "Percent",
         "points": series(rng, now, step_at(onset, 29, 94, 5), noise=0.04)},
        {"service": "events-collector", "namespace": "CWAgent", "name": "mem_used_percent", "unit": "Percent",
         "points": series(rng, now, flat(46), noise=0.02)},
    ]
    alerts = [
        cw_sns(rng, acct, now, "events-collector-asg-cpu", "ASG events-collector-asg CPU above 85%", "AWS/EC2",
               "CPUUtilization", {"AutoScalingGroupName": "events-collector-asg"}, 94.2, 85),
        grafana(rng, now + timedelta(minutes=1), "CollectorLatencyP99", {"service": "events-collector", "severity": "critical"},
                "events-collector p99 1.4 s", "p99 ingest latency above 800 ms", 1400),
        grafana(rng, now + timedelta(minutes=2), "CollectorRequestRate", {"service": "events-collector", "severity": "warning"},
                "events-collector at 850 req/s", "request rate 3x the weekly baseline", 850),
        grafana(rng, now + timedelta(minutes=7), "CollectorLatencyP99", {"service": "events-collector", "severity": "critical"},
                "events-collector p99 1.5 s", "p99 ingest latency above 800 ms", 1500),
    ]
    changes = [
        change("codedeploy-events-collector-d-7QK2", "deploy", "events-collector", now - timedelta(hours=2, minutes=5),
               "codedeploy", "ci", "CodeDeploy d-7QK2 events-collector revision 311 (AllAtOnce)", 311, 310, "5b6c7d8"),
        change("ecs-dashboard-td-140", "deploy", "dashboard", now - timedelta(minutes=31), "ecs", "ari",
               "Task definition dashboard:140", 140, 139, "1a2b3c4"),
        change("infra-collector-0411", "infra", "events-collector", now - timedelta(hours=11), "github", "platform",
               "terraform: raise ALB idle timeout to 120s"),
    ]
    write({"name": "ingest-ec2-traffic-surge", "description": "events-collector (EC2 ASG) receives 3.6x its usual request rate from a customer's backfill; CPU saturates and latency climbs. Its deploy two hours earlier is innocent.",
           "now": iso(now), "account": acct, "region": "us-east-1", "services": services, "alerts": alerts,
           "changes": changes, "metrics": metrics,
           "expected": {"incidents": [{"service": "events-collector", "alerts": 4, "category": "performance",
                                       "root_cause": "traffic_surge", "culprit": None, "remediation": "scale_service",
                                       "forbidden": ["rollback_deployment", "restart_pods"]}]}},
          {"events-collector.log": ("/ec2/prod/events-collector", log), "dashboard.log": ("/ecs/prod/dashboard", dash)})


@scenario
def reports_ec2_disk_full():
    """The data volume of a batch host fills up: ENOSPC in the logs, disk_used_percent at 100."""
    rng = Rng(707)
    now = parse("2026-06-30T02:48:15Z")
    acct = "877120455031"
    full_at = now - timedelta(minutes=17)
    start = now - timedelta(hours=3)
    services = [
        svc("report-generator", "batch", "ec2", "/ec2/prod/report-generator", ["warehouse"], workload="report-gen-asg"),
        svc("warehouse", "database", "rds", "/aws/rds/instance/warehouse/postgresql", [], workload="warehouse"),
        svc("billing-portal", "frontend", "ecs", "/ecs/prod/billing-portal", ["report-generator"],
            workload="billing-portal", cluster="prod"),
    ]
    log = Log(rng)
    host = "ip-10-8-3-41"
    log.every(start, now, 40, lambda t: f"{host} reportgen[2214]: INFO rendered report {rng.uid()} ({rng.randint(2, 80)} pages) to /data/out")
    log.every(start, now, 600, lambda t: f"{host} reportgen[2214]: WARNING font cache miss for 'Noto Sans CJK', falling back")
    log.every(full_at, now, 20, lambda t: [
        f"{host} reportgen[2214]: ERROR failed to write /data/out/{rng.uid()}.pdf: [Errno 28] No space left on device",
        f"{host} reportgen[2214]: ERROR job {rng.randint(10**5, 10**6)} aborted after write failure"])
    log.every(full_at + timedelta(minutes=2), now, 120, lambda t: f"{host} systemd-journald[412]: /var/log/journal is full, rotating")
    wh = Log(rng)
    wh.every(start, now, 90, lambda t: pg(t, rng, "LOG", f"duration: {rng.uniform(200, 3000):.3f} ms  statement: SELECT * FROM invoices WHERE period = $1"))
    metrics = [
        {"service": "report-generator", "namespace": "CWAgent", "name": "disk_used_percent", "unit": "Percent",
         "points": series(rng, now, ramp_from(now - timedelta(minutes=150), 61, 0.29, cap=100), noise=0.003)},
        {"service": "report-generator", "namespace": "AWS/EC2", "name": "CPUUtilization", "unit": "Percent",
         "points": series(rng, now, flat(22), noise=0.1)},
        {"service": "report-generator", "namespace": "Billing/Reports", "name": "ReportsRendered", "unit": "Count",
         "points": series(rng, now, step_at(full_at, 1.6, 0.1), noise=0.1)},
    ]
    alerts = [
        cw_event(rng, acct, now, "report-gen-data-volume-used", "Data volume of report-gen-asg above 95% used", "CWAgent",
                 "disk_used_percent", {"AutoScalingGroupName": "report-gen-asg", "path": "/data", "fstype": "xfs"}, 100, 95),
        pagerduty(rng, now + timedelta(seconds=40), "report-generator: no reports rendered in 10 minutes", "report-generator",
                  "report-generator/throughput", "Q7REPT0042", 842, priority="P3", urgency="low"),
    ]
    changes = [
        change("codedeploy-report-generator-d-91AF", "deploy", "report-generator", now - timedelta(hours=19, minutes=2),
               "codedeploy", "ci", "CodeDeploy d-91AF report-generator revision 58", 58, 57, "c0ffee1"),
        change("cfg-billing-portal-14", "config", "billing-portal", now - timedelta(minutes=55), "appconfig", "may",
               "AppConfig billing-portal/prod: profile ui-flags v14", 14, 13),
    ]
    write({"name": "reports-ec2-disk-full", "description": "report-generator's /data volume fills with rendered PDFs (no cleanup job); writes fail with ENOSPC.",
           "now": iso(now), "account": acct, "region": "us-east-1", "services": services, "alerts": alerts,
           "changes": changes, "metrics": metrics,
           "expected": {"incidents": [{"service": "report-generator", "alerts": 2, "category": "resource",
                                       "root_cause": "disk_full", "culprit": None, "remediation": "free_disk_space",
                                       "forbidden": ["rollback_deployment", "scale_service", "restart_pods"]}]}},
          {"report-generator.log": ("/ec2/prod/report-generator", log),
           "warehouse.log": ("/aws/rds/instance/warehouse/postgresql", wh)})


@scenario
def orders_dependency_no_alert():
    """orders-api fails because fraud-check is down; fraud-check has no alert: only the logs name it."""
    rng = Rng(808)
    now = parse("2026-08-03T11:19:50Z")
    acct = "239910446623"
    onset = now - timedelta(minutes=12)
    start = now - timedelta(hours=3)
    services = [
        svc("orders-api", "api", "ecs", "/ecs/shop-prod/orders-api", ["fraud-check", "orders-pg"], workload="orders-api",
            cluster="shop-prod"),
        svc("fraud-check", "api", "lambda", None, [], workload="fraud-check-fn"),
        svc("orders-pg", "database", "rds", "/aws/rds/instance/orders-pg/postgresql", [], workload="orders-pg"),
        svc("mobile-gateway", "api", "eks", "/eks/edge/mobile-gateway", ["orders-api"], namespace="edge",
            workload="mobile-gateway", cluster="edge-eks"),
    ]
    log = Log(rng)
    access_noise(rng, log, start, now, "json", ["/orders/{id}", "/orders", "/orders/{id}/status"], gap=7,
                 err_after=onset, err_share=0.3)
    log.every(start, now, 360, lambda t: j(t, "error", "failed to push metric batch to statsd", err="connection refused 127.0.0.1:8125"))
    log.every(onset, now, 6, lambda t: j(t, "error", "risk evaluation failed, rejecting order",
                                         order=f"ord_{rng.slug(10)}",
                                         upstream="fraud-check", error=f"ReadTimeout: https://fraud-check.internal.example.com/v1/score timed out after 3000 ms"))
    log.every(onset + timedelta(minutes=2), now, 40, lambda t: j(t, "warning", "circuit breaker opened", breaker="fraud-check",
                                                                  failures=rng.randint(20, 60)))
    mg = Log(rng)
    access_noise(rng, mg, start, now, "logfmt", ["/m/orders", "/m/home"], gap=20, err_after=onset, err_share=0.15)
    metrics = [
        {"service": "orders-api", "namespace": "Shop/Orders", "name": "OrderErrors", "unit": "Count",
         "points": series(rng, now, step_at(onset, 1, 48), noise=0.15, digits=0)},
        {"service": "orders-api", "namespace": "Shop/Orders", "name": "OrdersPlaced", "unit": "Count",
         "points": series(rng, now, step_at(onset, 130, 80), noise=0.05, digits=0)},
        {"service": "orders-api", "namespace": "Shop/Orders", "name": "LatencyP90", "unit": "Milliseconds",
         "points": series(rng, now, step_at(onset, 120, 3100), noise=0.05)},
        {"service": "orders-api", "namespace": "AWS/ECS", "name": "CPUUtilization", "unit": "Percent",
         "points": series(rng, now, flat(24), noise=0.07)},
        {"service": "orders-api", "namespace": "AWS/ECS", "name": "MemoryUtilization", "unit": "Percent",
         "points": series(rng, now, flat(52), noise=0.02)},
    ]
    alerts = [
        cw_sns(rng, acct, now, "orders-api-order-errors", "Order errors above 20/min", "Shop/Orders", "OrderErrors",
               {"ServiceName": "orders-api"}, 48, 20),
        pagerduty(rng, now + timedelta(seconds=50), "Orders failing at checkout: 5xx from orders-api", "orders-api", "orders-api/failures",
                  "Q9ORD00001", 5120, priority="P1"),
        cw_sns(rng, acct, now + timedelta(minutes=3), "orders-api-latency-p90", "p90 latency of orders-api above 1s",
               "Shop/Orders", "LatencyP90", {"ServiceName": "orders-api"}, 3100, 1000),
    ]
    changes = [
        change("orders-api-td-412", "deploy", "orders-api", now - timedelta(hours=20, minutes=30), "ecs", "bo",
               "Task definition orders-api:412", 412, 411, "77e1d0a"),
        change("deploy-mobile-gateway-95", "deploy", "mobile-gateway", now - timedelta(minutes=40), "kubernetes", "lu",
               "Rate-limit anonymous sessions", 95, 94, "d00d123"),
        change("cfg-orders-api-40", "config", "orders-api", now - timedelta(hours=4, minutes=20), "ssm", "bo",
               "Update SSM parameter /prod/orders-api/LOG_SAMPLING: 0.1 -> 0.2", 40, 39),
    ]
    write({"name": "orders-dependency-no-alert", "description": "fraud-check (Lambda behind an internal URL) times out; orders-api rejects orders. fraud-check has no alarm: only orders-api's errors name it.",
           "now": iso(now), "account": acct, "region": "us-east-1", "services": services, "alerts": alerts,
           "changes": changes, "metrics": metrics,
           "expected": {"incidents": [{"service": "orders-api", "alerts": 3, "category": "availability",
                                       "root_cause": "dependency_failure", "culprit": "fraud-check",
                                       "remediation": "page_human", "forbidden": ["rollback_deployment", "scale_service"]}]}},
          {"orders-api.log": ("/ecs/shop-prod/orders-api", log), "mobile-gateway.log": ("/eks/edge/mobile-gateway", mg)})


@scenario
def profiles_rds_dependency():
    """The database (RDS) saturates: its own alarm and the API's errors both point at it."""
    rng = Rng(909)
    now = parse("2026-09-09T07:33:05Z")
    acct = "684420015573"
    onset = now - timedelta(minutes=9)
    start = now - timedelta(hours=3)
    services = [
        svc("profile-svc", "api", "eks", "/eks/accounts/profile-svc", ["profiles-db", "avatar-cdn"],
            namespace="accounts", workload="profile-svc", cluster="accounts-eks"),
        svc("profiles-db", "database", "rds", "/aws/rds/instance/profiles-db/postgresql", [], workload="profiles-db"),
        svc("avatar-cdn", "cache", "ec2", None, [], workload="avatar-edge-asg"),
        svc("account-web", "frontend", "eks", "/eks/accounts/account-web", ["profile-svc"], namespace="accounts",
            workload="account-web", cluster="accounts-eks"),
    ]
    log = Log(rng)
    access_noise(rng, log, start, now, "spring", ["/profiles/{id}", "/profiles/{id}/prefs"], gap=8,
                 err_after=onset, err_share=0.25)

    def dberr(t):
        tid = f"http-nio-8080-exec-{rng.randint(1, 60)}"
        return [spring(t, "ERROR", tid, "o.h.engine.jdbc.spi.SqlExceptionHelper",
                       "HikariPool-1 - Connection is not available, request timed out after 30000ms."),
                spring(t, "ERROR", tid, "c.e.p.web.ErrorHandler",
                       "Query failed: org.postgresql.util.PSQLException: FATAL: remaining connection slots are reserved for non-replication superuser connections (host profiles-db.c9xk2.us-east-1.rds.amazonaws.com)")]
    log.every(onset, now, 9, dberr)
    log.every(start, now, 500, lambda t: spring(t, "WARN", "main", "c.e.p.cache.AvatarCache", "avatar-cdn returned 404 for a missing avatar; using default"))
    db = Log(rng)
    db.every(start, now, 60, lambda t: pg(t, rng, "LOG", f"checkpoint complete: wrote {rng.randint(400, 4000)} buffers"))
    db.every(onset, now, 7, lambda t: pg(t, rng, "FATAL", "remaining connection slots are reserved for non-replication superuser connections", user="profile_app", db="profiles"))
    db.every(onset - timedelta(minutes=2), now, 30, lambda t: pg(t, rng, "LOG", f"duration: {rng.uniform(8000, 30000):.3f} ms  statement: SELECT p.* FROM profiles p JOIN prefs f ON f.profile_id = p.id WHERE p.email ILIKE $1", user="profile_app", db="profiles"))
    web = Log(rng)
    access_noise(rng, web, start, now, "json", ["/account", "/account/settings"], gap=25, err_after=onset, err_share=0.2)
    metrics = [
        {"service": "profile-svc", "namespace": "Accounts/Profile", "name": "http_server_errors_ratio", "unit": "Percent",
         "points": series(rng, now, step_at(onset, 0.3, 21), noise=0.1)},
        {"service": "profile-svc", "namespace": "Accounts/Profile", "name": "http_request_duration_p99", "unit": "Seconds",
         "points": series(rng, now, step_at(onset, 0.12, 29.5), noise=0.05, digits=3)},
        {"service": "profile-svc", "namespace": "Accounts/Profile", "name": "http_requests", "unit": "Count",
         "points": series(rng, now, flat(6100), noise=0.04, digits=0)},
        {"service": "profile-svc", "namespace": "ContainerInsights", "name": "pod_cpu_utilization", "unit": "Percent",
         "points": series(rng, now, flat(19), noise=0.06)},
        {"service": "profile-svc", "namespace": "ContainerInsights", "name": "pod_memory_utilization", "unit": "Percent",
         "points": series(rng, now, flat(44), noise=0.02)},
        {"service": "profiles-db", "namespace": "AWS/RDS", "name": "DatabaseConnections", "unit": "Count",
         "points": series(rng, now, step_at(onset - timedelta(minutes=2), 140, 497, 3), noise=0.02, digits=0)},
        {"service": "profiles-db", "namespace": "AWS/RDS", "name": "CPUUtilization", "unit": "Percent",
         "points": series(rng, now, step_at(onset - timedelta(minutes=2), 35, 99, 3), noise=0.02)},
        {"service": "profiles-db", "namespace": "AWS/RDS", "name": "FreeStorageSpace", "unit": "Bytes",
         "points": series(rng, now, flat(412e9), noise=0.001, digits=0)},
    ]
    alerts = [
        cw_sns(rng, acct, now, "profiles-db-connections-high", "profiles-db connections above 450", "AWS/RDS",
               "DatabaseConnections", {"DBInstanceIdentifier": "profiles-db"}, 497, 450),
        grafana(rng, now + timedelta(minutes=1), "ProfileSvcErrorBudgetBurn", {"service": "profile-svc", "severity": "critical"},
                "profile-svc 5xx at 21%", "profile-svc is burning its error budget 40x", 21),
        cw_sns(rng, acct, now + timedelta(minutes=2), "profiles-db-cpu", "profiles-db CPU above 90%", "AWS/RDS",
               "CPUUtilization", {"DBInstanceIdentifier": "profiles-db"}, 99, 90),
        grafana(rng, now + timedelta(minutes=6), "ProfileSvcErrorBudgetBurn", {"service": "profile-svc", "severity": "critical"},
                "profile-svc 5xx at 24%", "profile-svc is burning its error budget 45x", 24),
    ]
    changes = [
        change("deploy-profile-svc-733", "deploy", "profile-svc", now - timedelta(hours=6, minutes=12), "kubernetes",
               "hana", "Store notification preferences", 733, 732, "acde012"),
        change("deploy-account-web-120", "deploy", "account-web", now - timedelta(minutes=28), "kubernetes", "raf",
               "New settings page", 120, 119, "bead123"),
        change("infra-profiles-db-0909", "infra", "profiles-db", now - timedelta(hours=14), "github", "dba",
               "terraform: enable Performance Insights on profiles-db"),
    ]
    write({"name": "profiles-rds-dependency", "description": "profiles-db (RDS) runs out of connections under an unindexed ILIKE query from a reporting job; profile-svc times out on every query.",
           "now": iso(now), "account": acct, "region": "us-east-1", "services": services, "alerts": alerts,
           "changes": changes, "metrics": metrics,
           "expected": {"incidents": [{"service": "profile-svc", "alerts": 4, "category": "availability",
                                       "root_cause": "dependency_failure", "culprit": "profiles-db",
                                       "remediation": "page_human", "forbidden": ["rollback_deployment", "restart_pods"]}]}},
          {"profile-svc.log": ("/eks/accounts/profile-svc", log),
           "profiles-db.log": ("/aws/rds/instance/profiles-db/postgresql", db),
           "account-web.log": ("/eks/accounts/account-web", web)})


@scenario
def sso_credential_stuffing():
    """401 surge from a few addresses (Datadog + Grafana); a deploy of the same service 35 min earlier."""
    rng = Rng(1010)
    now = parse("2026-02-27T23:14:30Z")
    acct = "557712309941"
    onset = now - timedelta(minutes=16)
    deploy_at = now - timedelta(minutes=51)
    start = now - timedelta(hours=3)
    attackers = ["203.0.113.17", "203.0.113.88", "203.0.113.201", "192.0.2.54"]
    services = [
        svc("sso-gateway", "api", "ecs", "/ecs/identity/sso-gateway", ["user-directory"], workload="sso-gateway",
            cluster="identity"),
        svc("user-directory", "database", "rds", None, [], workload="user-directory"),
        svc("admin-console", "frontend", "eks", "/eks/internal/admin-console", ["sso-gateway"], namespace="internal",
            workload="admin-console", cluster="tools-eks"),
    ]
    log = Log(rng)

    def ok(t):
        return lf("info", "login ok", user=f"u{rng.randint(10000, 99999)}", ip=rng.ip("10.12."), mfa="totp",
                  ms=rng.randint(40, 160))
    log.every(start, now, 15, ok)
    log.every(start, now, 200, lambda t: lf("warn", "login failed", user=f"u{rng.randint(10000, 99999)}",
                                            ip=rng.ip("10.12."), reason="bad_password"))
    log.every(onset, now, 1.5, lambda t: lf("warn", "login failed", user=f"{rng.choice('abcdefghjk')}***@{rng.choice(['gmail.com', 'mail.ru', 'yahoo.com'])}",
                                            ip=rng.choice(attackers), reason=rng.choice(["bad_password", "unknown_user"])))
    log.every(onset + timedelta(minutes=3), now, 20, lambda t: lf("warn", "rate limit engaged for client address",
                                                                   ip=rng.choice(attackers), window="60s", limit=30))
    log.every(deploy_at, now, 300, lambda t: lf("info", "session store pool resized", size=rng.choice([32, 48])))
    ac = Log(rng)
    access_noise(rng, ac, start, now, "json", ["/admin/users/{id}"], gap=60)
    metrics = [
        {"service": "sso-gateway", "namespace": "Identity/SSO", "name": "LoginFailures", "unit": "Count",
         "points": series(rng, now, step_at(onset, 0.4, 86), noise=0.1, digits=0)},
        {"service": "sso-gateway", "namespace": "Identity/SSO", "name": "Unauthorized401", "unit": "Count",
         "points": series(rng, now, step_at(onset, 0.5, 85), noise=0.1, digits=0)},
        {"service": "sso-gateway", "namespace": "Identity/SSO", "name": "LoginRequests", "unit": "Count",
         "points": series(rng, now, step_at(onset, 5, 90), noise=0.08, digits=0)},
        {"service": "sso-gateway", "namespace": "AWS/ECS", "name": "CPUUtilization", "unit": "Percent",
         "points": series(rng, now, step_at(onset, 18, 36), noise=0.06)},
    ]
    alerts = [
        datadog(rng, now, "Spike of 401 responses on sso-gateway", "service:sso-gateway,env:prod,team:identity",
                "sso.http.401", "sum(last_5m):sum:sso.http.401{service:sso-gateway}.as_count() > 200",
                "sso-gateway returned 431 unauthorized responses in 5 minutes", priority="P1"),
        grafana(rng, now + timedelta(minutes=1), "SSOLoginFailureRatio", {"service": "sso-gateway", "severity": "critical"},
                "95% of sso-gateway logins fail", "Authentication failures ratio above 50%", 95),
        datadog(rng, now + timedelta(minutes=5), "Spike of 401 responses on sso-gateway", "service:sso-gateway,env:prod,team:identity",
                "sso.http.401", "sum(last_5m):sum:sso.http.401{service:sso-gateway}.as_count() > 200",
                "sso-gateway returned 512 unauthorized responses in 5 minutes", transition="Re-Triggered", priority="P1"),
    ]
    changes = [
        change("sso-gateway-td-66", "deploy", "sso-gateway", deploy_at, "ecs", "ivy",
               "Task definition sso-gateway:66 (resize session pool)", 66, 65, "5e5e5e5"),
        change("deploy-admin-console-31", "deploy", "admin-console", now - timedelta(hours=3, minutes=10), "kubernetes",
               "ned", "Audit log filters", 31, 30, "0a0b0c0"),
    ]
    write({"name": "sso-credential-stuffing", "description": "Credential stuffing against sso-gateway from four addresses; 401s and failed logins surge. The deploy 35 minutes before the onset only resized a pool.",
           "now": iso(now), "account": acct, "region": "us-east-1", "services": services, "alerts": alerts,
           "changes": changes, "metrics": metrics,
           "expected": {"incidents": [{"service": "sso-gateway", "alerts": 3, "category": "security",
                                       "root_cause": "security_event", "culprit": None, "remediation": "page_human",
                                       "forbidden": ["rollback_deployment", "scale_service", "restart_pods"]}]}},
          {"sso-gateway.log": ("/ecs/identity/sso-gateway", log), "admin-console.log": ("/eks/internal/admin-console", ac)})


@scenario
def inventory_ambiguous_unknown():
    """Latency drifts up a little, nothing changed, no dependency named: the right answer is 'I don't know'."""
    rng = Rng(1111)
    now = parse("2026-11-12T15:40:00Z")
    acct = "190033875512"
    onset = now - timedelta(minutes=22)
    start = now - timedelta(hours=3)
    services = [
        svc("stock-levels", "api", "eks", "/eks/retail/stock-levels", ["stock-db", "supplier-feed"], namespace="retail",
            workload="stock-levels", cluster="retail-eks"),
        svc("stock-db", "database", "rds", None, [], workload="stock-db"),
        svc("supplier-feed", "worker", "ecs", "/ecs/retail/supplier-feed", [], workload="supplier-feed", cluster="retail"),
        svc("store-app", "frontend", "eks", "/eks/retail/store-app", ["stock-levels"], namespace="retail",
            workload="store-app", cluster="retail-eks"),
    ]
    log = Log(rng)
    access_noise(rng, log, start, now, "logfmt", ["/stock/{id}", "/stock/bulk"], gap=10, slow_after=onset,
                 slow_factor=2.2)
    log.every(start, now, 180, lambda t: lf("warn", "slow query", table="stock_moves", ms=rng.randint(800, 2500)))
    log.every(start, now, 400, lambda t: lf("error", "request canceled by client", route="/stock/bulk"))
    sf = Log(rng)
    sf.every(start, now, 60, lambda t: j(t, "info", "supplier batch imported", supplier=f"S{rng.randint(100, 999)}",
                                         rows=rng.randint(100, 5000)))
    sf.every(start, now, 900, lambda t: j(t, "error", "supplier feed returned malformed CSV row, skipped",
                                          supplier=f"S{rng.randint(100, 999)}"))
    metrics = [
        {"service": "stock-levels", "namespace": "Retail/Stock", "name": "ResponseTimeP99", "unit": "Milliseconds",
         "points": series(rng, now, step_at(onset, 410, 930, 8), noise=0.07)},
        {"service": "stock-levels", "namespace": "Retail/Stock", "name": "RequestsServed", "unit": "Count",
         "points": series(rng, now, flat(2400), noise=0.05, digits=0)},
        {"service": "stock-levels", "namespace": "Retail/Stock", "name": "ServerErrors", "unit": "Count",
         "points": series(rng, now, flat(2), noise=0.4, digits=0)},
        {"service": "stock-levels", "namespace": "ContainerInsights", "name": "pod_cpu_utilization", "unit": "Percent",
         "points": series(rng, now, flat(41), noise=0.06)},
        {"service": "stock-levels", "namespace": "ContainerInsights", "name": "pod_memory_utilization", "unit": "Percent",
         "points": series(rng, now, flat(58), noise=0.02)},
    ]
    alerts = [
        grafana(rng, now, "StockLevelsSlow", {"service": "stock-levels", "severity": "warning", "team": "retail"},
                "stock-levels p99 at 930 ms", "p99 response time of stock-levels above 800 ms", 930),
        grafana(rng, now + timedelta(minutes=4), "StockLevelsSlow", {"service": "stock-levels", "severity": "warning", "team": "retail"},
                "stock-levels p99 at 960 ms", "p99 response time of stock-levels above 800 ms", 960),
    ]
    changes = [
        change("deploy-store-app-440", "deploy", "store-app", now - timedelta(minutes=50), "kubernetes", "pat",
               "Show stock badges", 440, 439, "123abcd"),
        change("deploy-stock-levels-212", "deploy", "stock-levels", now - timedelta(hours=19, minutes=40), "kubernetes",
               "sol", "Bulk stock endpoint", 212, 211, "fedcba9"),
        change("ecs-supplier-feed-td-19", "deploy", "supplier-feed", now - timedelta(hours=2, minutes=20), "ecs", "sol",
               "Task definition supplier-feed:19", 19, 18, "9abc123"),
    ]
    write({"name": "inventory-ambiguous-unknown", "description": "stock-levels p99 doubles with no change of its own, no errors naming a dependency, flat traffic and memory: the evidence supports no cause; page a human.",
           "now": iso(now), "account": acct, "region": "us-east-1", "services": services, "alerts": alerts,
           "changes": changes, "metrics": metrics,
           "expected": {"incidents": [{"service": "stock-levels", "alerts": 2, "category": "performance",
                                       "root_cause": "unknown", "culprit": None, "remediation": "page_human",
                                       "forbidden": ["rollback_deployment", "scale_service", "restart_pods"]}]}},
          {"stock-levels.log": ("/eks/retail/stock-levels", log), "supplier-feed.log": ("/ecs/retail/supplier-feed", sf)})


@scenario
def payouts_lambda_config_change():
    """An SSM parameter of a Lambda changed; errors name the setting; a Lambda deploy of it 3 h earlier is innocent."""
    rng = Rng(1212)
    now = parse("2026-07-14T05:06:20Z")
    acct = "330871145622"
    cfg_at = now - timedelta(minutes=11)
    onset = cfg_at + timedelta(minutes=1)
    start = now - timedelta(hours=3)
    services = [
        svc("payout-runner", "worker", "lambda", "/aws/lambda/payout-runner", ["bank-connector"], workload="payout-runner"),
        svc("bank-connector", "api", "ecs", "/ecs/payments/bank-connector", [], workload="bank-connector", cluster="payments"),
        svc("merchant-api", "api", "ecs", "/ecs/payments/merchant-api", ["payout-runner"], workload="merchant-api",
            cluster="payments"),
    ]
    log = Log(rng)

    def inv(t):
        rid = rng.uid()
        fail = t >= onset and rng.random() < 0.7
        body = (json.dumps({"level": "ERROR", "requestId": rid, "message": "payout batch aborted: config PAYOUT_MAX_BATCH_CENTS=0 is below the minimum of 100",
                            "merchant": f"m_{rng.slug(6)}"})
                if fail else json.dumps({"level": "INFO", "requestId": rid, "message": "payout batch sent",
                                         "merchant": f"m_{rng.slug(6)}", "items": rng.randint(1, 40)}))
        dur = rng.uniform(90, 400)
        return [f"START RequestId: {rid} Version: $LATEST", body, f"END RequestId: {rid}",
                f"REPORT RequestId: {rid}\tDuration: {dur:.2f} ms\tBilled Duration: {math.ceil(dur)} ms\tMemory Size: 256 MB\tMax Memory Used: 91 MB"]
    log.every(start, now, 50, inv)
    log.every(start, now, 800, lambda t: json.dumps({"level": "WARN", "requestId": rng.uid(),
                                                     "message": "bank-connector slow response, retrying once"}))
    bc = Log(rng)
    access_noise(rng, bc, start, now, "spring", ["/transfers/{id}"], gap=45)
    metrics = [
        {"service": "payout-runner", "namespace": "AWS/Lambda", "name": "Errors", "unit": "Count",
         "points": series(rng, now, step_at(onset, 0.05, 1.4), noise=0.15)},
        {"service": "payout-runner", "namespace": "AWS/Lambda", "name": "Invocations", "unit": "Count",
         "points": series(rng, now, flat(2), noise=0.1)},
        {"service": "payout-runner", "namespace": "AWS/Lambda", "name": "Duration", "unit": "Milliseconds",
         "points": series(rng, now, flat(240), noise=0.1)},
        {"service": "payout-runner", "namespace": "Payments/Payouts", "name": "payouts_failed", "unit": "Count",
         "points": series(rng, now, step_at(onset, 0, 14), noise=0.2, digits=0)},
    ]
    alerts = [
        cw_event(rng, acct, now, "payout-runner-errors", "Errors of the payout-runner function", "AWS/Lambda", "Errors",
                 {"FunctionName": "payout-runner"}, 1.4, 0.5),
        pagerduty(rng, now + timedelta(minutes=2), "Payouts failing for merchants", "payout-runner", "payout-runner/failed",
                  "QPAY000077", 77, priority="P1"),
    ]
    changes = [
        change("lambda-payout-runner-v90", "deploy", "payout-runner", now - timedelta(hours=3, minutes=2), "lambda",
               "ci", "Publish version 90 of payout-runner; alias live -> 90", 90, 89, "b1b2b3b"),
        change("cfg-payout-runner-PAYOUT_MAX_BATCH_CENTS-7", "config", "payout-runner", cfg_at, "ssm", "ops-lena",
               "Update SSM parameter /payments/payout-runner/PAYOUT_MAX_BATCH_CENTS: 5000000 -> 0", 7, 6),
        change("cfg-merchant-api-31", "config", "merchant-api", now - timedelta(minutes=25), "appconfig", "dev-ivo",
               "AppConfig merchant-api/prod: profile limits v31", 31, 30),
    ]
    write({"name": "payouts-lambda-config-change", "description": "An operator set PAYOUT_MAX_BATCH_CENTS to 0 in Parameter Store; the payout Lambda rejects every batch and says so.",
           "now": iso(now), "account": acct, "region": "us-east-1", "services": services, "alerts": alerts,
           "changes": changes, "metrics": metrics,
           "expected": {"incidents": [{"service": "payout-runner", "alerts": 2, "category": "availability",
                                       "root_cause": "config_change", "culprit": "cfg-payout-runner-PAYOUT_MAX_BATCH_CENTS-7",
                                       "remediation": "revert_config", "forbidden": ["rollback_deployment", "scale_service"]}]}},
          {"payout-runner.log": ("/aws/lambda/payout-runner", log), "bank-connector.log": ("/ecs/payments/bank-connector", bc)})


@scenario
def catalog_rds_storage_full():
    """An RDS instance runs out of storage; the database itself is the alerting service."""
    rng = Rng(1313)
    now = parse("2026-04-25T12:12:12Z")
    acct = "466100228877"
    full_at = now - timedelta(minutes=8)
    start = now - timedelta(hours=3)
    services = [
        svc("catalog-db", "database", "rds", "/aws/rds/instance/catalog-db/postgresql", [], workload="catalog-db"),
        svc("catalog-svc", "api", "ecs", "/ecs/prod/catalog-svc", ["catalog-db"], workload="catalog-svc", cluster="prod"),
    ]
    db = Log(rng)
    db.every(start, now, 50, lambda t: pg(t, rng, "LOG", f"checkpoint complete: wrote {rng.randint(400, 4000)} buffers"))
    db.every(start, now, 240, lambda t: pg(t, rng, "LOG", f"automatic vacuum of table \"catalog.public.items\": index scans: {rng.randint(0, 2)}"))
    db.every(full_at, now, 12, lambda t: pg(t, rng, "ERROR", f"could not extend file \"base/16401/{rng.randint(20000, 29999)}\": No space left on device", user="catalog", db="catalog"))
    db.every(full_at + timedelta(minutes=1), now, 90, lambda t: pg(t, rng, "PANIC", "could not write to file \"pg_wal/xlogtemp.312\": No space left on device"))
    cs = Log(rng)
    access_noise(rng, cs, start, now, "logfmt", ["/items/{id}", "/items"], gap=12, err_after=full_at, err_share=0.2)
    metrics = [
        {"service": "catalog-db", "namespace": "AWS/RDS", "name": "FreeStorageSpace", "unit": "Bytes",
         "points": series(rng, now, lambda i, t: max(0.0, 9.0e9 - 1.0e9 * max(0.0, (t - (now - timedelta(minutes=130))).total_seconds() / 60 / 13.5)), noise=0.002, digits=0)},
        {"service": "catalog-db", "namespace": "AWS/RDS", "name": "CPUUtilization", "unit": "Percent",
         "points": series(rng, now, flat(33), noise=0.07)},
        {"service": "catalog-db", "namespace": "AWS/RDS", "name": "WriteIOPS", "unit": "Count/Second",
         "points": series(rng, now, flat(900), noise=0.08)},
    ]
    alerts = [
        cw_sns(rng, acct, now, "catalog-db-free-storage-low", "FreeStorageSpace of catalog-db below 1 GiB", "AWS/RDS",
               "FreeStorageSpace", {"DBInstanceIdentifier": "catalog-db"}, 0.0, 1073741824, op="LessThanThreshold"),
        cw_sns(rng, acct, now + timedelta(minutes=5), "catalog-db-free-storage-low", "FreeStorageSpace of catalog-db below 1 GiB", "AWS/RDS",
               "FreeStorageSpace", {"DBInstanceIdentifier": "catalog-db"}, 0.0, 1073741824, op="LessThanThreshold"),
    ]
    changes = [
        change("ecs-catalog-svc-td-301", "deploy", "catalog-svc", now - timedelta(hours=1, minutes=10), "ecs", "ana",
               "Task definition catalog-svc:301 (bulk import endpoint)", 301, 300, "aa11bb2"),
        change("infra-catalog-db-0425", "infra", "catalog-db", now - timedelta(hours=16), "github", "dba",
               "terraform: parameter group log_min_duration_statement=1000"),
    ]
    write({"name": "catalog-rds-storage-full", "description": "catalog-db (RDS) runs out of storage during a bulk import; Postgres cannot extend files.",
           "now": iso(now), "account": acct, "region": "us-east-1", "services": services, "alerts": alerts,
           "changes": changes, "metrics": metrics,
           "expected": {"incidents": [{"service": "catalog-db", "alerts": 2, "category": "resource",
                                       # Run Command reaches EC2 instances, not an RDS volume: no executor can
                                       # free this disk, so the capability table pages
                                       "root_cause": "disk_full", "culprit": None, "remediation": "page_human",
                                       "forbidden": ["rollback_deployment", "scale_service", "restart_pods",
                                                     "free_disk_space"]}]}},
          {"catalog-db.log": ("/aws/rds/instance/catalog-db/postgresql", db), "catalog-svc.log": ("/ecs/prod/catalog-svc", cs)})


@scenario
def search_eks_bad_deploy_latency():
    """A deploy adds an N+1 query: latency (not errors, not memory) climbs with new slow-query warnings."""
    rng = Rng(1414)
    now = parse("2026-05-05T20:20:20Z")
    acct = "781200334455"
    deploy_at = now - timedelta(minutes=33)
    onset = deploy_at + timedelta(minutes=2)
    start = now - timedelta(hours=3)
    services = [
        svc("listing-search", "api", "eks", "/eks/marketplace/listing-search", ["listing-index"],
            namespace="marketplace", workload="listing-search", cluster="market-eks"),
        svc("listing-index", "database", "ec2", "/ec2/prod/listing-index", [], workload="opensearch-data-asg"),
        svc("buyer-app", "frontend", "eks", "/eks/marketplace/buyer-app", ["listing-search"], namespace="marketplace",
            workload="buyer-app", cluster="market-eks"),
    ]
    log = Log(rng)
    access_noise(rng, log, start, now, "json", ["/search?q={id}", "/listings/{id}"], gap=6, slow_after=onset,
                 slow_factor=6)
    log.every(start, now, 500, lambda t: j(t, "error", "index refresh skipped: snapshot in progress"))
    log.every(onset, now, 12, lambda t: j(t, "warning", "seller lookup executed per listing",
                                          queries=rng.randint(40, 120), search_id=rng.hexid(12)))
    idx = Log(rng)
    idx.every(start, now, 120, lambda t: f"[{t:%Y-%m-%dT%H:%M:%S,%f}"[:-3] + f"][INFO ][o.o.i.s.IndexShard] [data-{rng.randint(1, 3)}] merge completed")
    metrics = [
        {"service": "listing-search", "namespace": "Marketplace/Search", "name": "search_latency_p95", "unit": "Milliseconds",
         "points": series(rng, now, step_at(onset, 95, 780, 4), noise=0.06)},
        {"service": "listing-search", "namespace": "Marketplace/Search", "name": "searches", "unit": "Count",
         "points": series(rng, now, flat(5200), noise=0.04, digits=0)},
        {"service": "listing-search", "namespace": "ContainerInsights", "name": "pod_cpu_utilization", "unit": "Percent",
         "points": series(rng, now, step_at(onset, 35, 58, 4), noise=0.05)},
        {"service": "listing-search", "namespace": "ContainerInsights", "name": "pod_memory_utilization", "unit": "Percent",
         "points": series(rng, now, flat(47), noise=0.02)},
    ]
    alerts = [
        pagerduty(rng, now, "listing-search p95 latency above 500 ms", "Listing Search", "listing-search/latency",
                  "QSRCH00020", 20, priority="P2"),
        cw_sns(rng, acct, now + timedelta(minutes=1), "listing-search-latency-p95", "p95 search latency above 500 ms",
               "Marketplace/Search", "search_latency_p95", {"Service": "listing-search"}, 780, 500),
        pagerduty(rng, now + timedelta(minutes=4), "listing-search p95 latency above 500 ms", "Listing Search", "listing-search/latency",
                  "QSRCH00020", 20, priority="P2"),
    ]
    changes = [
        change("deploy-listing-search-388", "deploy", "listing-search", now - timedelta(hours=21), "kubernetes",
               "max", "Boost promoted listings", 388, 387, "e1e2e3e"),
        change("deploy-buyer-app-902", "deploy", "buyer-app", now - timedelta(minutes=70), "kubernetes", "fay",
               "Redesign filters", 902, 901, "f1f2f3f"),
        change("deploy-listing-search-389", "deploy", "listing-search", deploy_at, "kubernetes", "gil",
               "Show seller rating in results", 389, 388, "a9a8a7a"),
    ]
    write({"name": "search-eks-bad-deploy-latency", "description": "Revision 389 of listing-search looks up each seller per listing (N+1); p95 goes from 95 to 780 ms two minutes after the rollout.",
           "now": iso(now), "account": acct, "region": "us-east-1", "services": services, "alerts": alerts,
           "changes": changes, "metrics": metrics,
           "cluster": {"deployments": [
               {"namespace": "marketplace", "name": "listing-search", "replicas": 6, "ready": 6, "revision": "389",
                "image": f"{acct}.dkr.ecr.us-east-1.amazonaws.com/marketplace/listing-search:a9a8a7a", "memory_limit": "1Gi", "cpu_limit": "2"}],
               "pods": []},
           "expected": {"incidents": [{"service": "listing-search", "alerts": 3, "category": "performance",
                                       "root_cause": "bad_deploy", "culprit": "deploy-listing-search-389",
                                       "remediation": "rollback_deployment", "forbidden": ["scale_service", "restart_pods"]}]}},
          {"listing-search.log": ("/eks/marketplace/listing-search", log), "listing-index.log": ("/ec2/prod/listing-index", idx)})


@scenario
def basket_dependency_despite_deploy():
    """The dependency alarms and the errors name it; a deploy of the service 20 min earlier is a distractor."""
    rng = Rng(1515)
    now = parse("2026-10-30T18:45:00Z")
    acct = "615500127739"
    deploy_at = now - timedelta(minutes=31)
    onset = now - timedelta(minutes=11)
    start = now - timedelta(hours=3)
    services = [
        svc("basket", "api", "eks", "/eks/prod/commerce/basket", ["promo-engine", "basket-cache"], namespace="commerce",
            workload="basket", cluster="commerce-eks"),
        svc("promo-engine", "api", "ecs", "/ecs/commerce/promo-engine", [], workload="promo-engine", cluster="commerce"),
        svc("basket-cache", "cache", "ec2", None, [], workload="basket-redis-asg"),
    ]
    log = Log(rng)
    access_noise(rng, log, start, now, "logfmt", ["/basket/{id}", "/basket/{id}/lines"], gap=6, err_after=onset,
                 err_share=0.2)
    log.every(onset, now, 7, lambda t: lf("error", "promotion lookup failed", peer="promo-engine:8443",
                                          err="upstream connect error or disconnect/reset before headers. reset reason: connection failure",
                                          basket=rng.slug(10)))
    log.every(start, now, 400, lambda t: lf("warn", "cache eviction storm", evicted=rng.randint(100, 900)))
    log.at(deploy_at + timedelta(seconds=30), lf("info", "basket starting", version="2.41.0"))
    promo = Log(rng)
    access_noise(rng, promo, start, onset, "spring", ["/promotions/eval"], gap=6)
    promo.every(onset - timedelta(minutes=1), now, 5, lambda t: spring(t, "ERROR", "main", "c.x.promo.RuleCache",
                                                                       "Failed to load rule set: java.lang.OutOfMemoryError: Java heap space"))
    metrics = [
        {"service": "basket", "namespace": "Commerce/Basket", "name": "Http5xxRatio", "unit": "Percent",
         "points": series(rng, now, step_at(onset, 0.2, 18), noise=0.1)},
        {"service": "basket", "namespace": "Commerce/Basket", "name": "HttpRequests", "unit": "Count",
         "points": series(rng, now, flat(8000), noise=0.04, digits=0)},
        {"service": "basket", "namespace": "ContainerInsights", "name": "pod_memory_utilization", "unit": "Percent",
         "points": series(rng, now, flat(40), noise=0.02)},
        {"service": "promo-engine", "namespace": "AWS/ECS", "name": "CPUUtilization", "unit": "Percent",
         "points": series(rng, now, step_at(onset - timedelta(minutes=2), 30, 97, 2), noise=0.03)},
        {"service": "promo-engine", "namespace": "Commerce/Promo", "name": "HealthyTaskCount", "unit": "Count",
         "points": series(rng, now, step_at(onset - timedelta(minutes=1), 6, 1, 2), noise=0.0, digits=0)},
    ]
    alerts = [
        cw_sns(rng, acct, now, "promo-engine-unhealthy-tasks", "promo-engine healthy tasks below 3", "Commerce/Promo",
               "HealthyTaskCount", {"ServiceName": "promo-engine"}, 1, 3, op="LessThanThreshold"),
        grafana(rng, now + timedelta(minutes=1), "BasketHigh5xx", {"service": "basket", "severity": "critical"},
                "basket 5xx ratio 18%", "basket returns server errors", 18),
        grafana(rng, now + timedelta(minutes=6), "BasketHigh5xx", {"service": "basket", "severity": "critical"},
                "basket 5xx ratio 19%", "basket returns server errors", 19),
    ]
    changes = [
        change("deploy-basket-2410", "deploy", "basket", deploy_at, "kubernetes", "yuki", "Split shipping lines",
               2410, 2409, "4c4c4c4"),
        change("ecs-promo-engine-td-55", "deploy", "promo-engine", now - timedelta(hours=18), "ecs", "ola",
               "Task definition promo-engine:55", 55, 54, "5d5d5d5"),
    ]
    write({"name": "basket-dependency-despite-deploy", "description": "promo-engine runs out of heap and loses its tasks; basket's errors name it. basket's own deploy 20 minutes earlier is innocent.",
           "now": iso(now), "account": acct, "region": "us-east-1", "services": services, "alerts": alerts,
           "changes": changes, "metrics": metrics,
           "expected": {"incidents": [{"service": "basket", "alerts": 3, "category": "availability",
                                       "root_cause": "dependency_failure", "culprit": "promo-engine",
                                       "remediation": "page_human", "forbidden": ["rollback_deployment", "scale_service"]}]}},
          {"basket.log": ("/eks/prod/commerce/basket", log), "promo-engine.log": ("/ecs/commerce/promo-engine", promo)})


@scenario
def invoicing_ec2_deploy_logs_only():
    """A CodeDeploy deployment on EC2 breaks PDF invoices; no metrics are published: logs carry the onset."""
    rng = Rng(1616)
    now = parse("2026-03-16T10:10:10Z")
    acct = "404411900123"
    deploy_at = now - timedelta(minutes=23)
    onset = deploy_at + timedelta(minutes=2)
    start = now - timedelta(hours=3)
    services = [
        svc("invoicing", "worker", "ec2", "/ec2/prod/invoicing/app", ["tax-service"], workload="invoicing-asg"),
        svc("tax-service", "api", "lambda", "/aws/lambda/tax-service", [], workload="tax-service"),
    ]
    log = Log(rng)
    log.every(start, now, 25, lambda t: f"[{t:%Y-%m-%d %H:%M:%S,%f}"[:-3] + f"] INFO invoicing.render: invoice INV-{rng.randint(10**6, 10**7)} rendered ({rng.randint(1, 9)} pages)")
    log.every(start, now, 600, lambda t: f"[{t:%Y-%m-%d %H:%M:%S,%f}"[:-3] + "] WARNING invoicing.mail: SES throttled, backing off 2s")
    log.every(onset, now, 18, lambda t: [
        f"[{t:%Y-%m-%d %H:%M:%S,%f}"[:-3] + f"] ERROR invoicing.render: invoice INV-{rng.randint(10**6, 10**7)} failed",
        "Traceback (most recent call last):",
        "  File \"/opt/invoicing/render.py\", line 211, in render",
        "    html = template.render(**ctx)",
        "jinja2.exceptions.UndefinedError: 'dict object' has no attribute 'vat_breakdown'"])
    tax = Log(rng)
    tax.every(start, now, 60, lambda t: f"[INFO]\t{iso_ms(t)}\t{rng.uid()}\tcomputed tax for {rng.choice(['DE', 'FR', 'NL'])}")
    alerts = [
        pagerduty(rng, now, "Invoice rendering failures on invoicing", "invoicing", "invoicing/render-failures",
                  "QINV000311", 311, priority="P2"),
        pagerduty(rng, now + timedelta(minutes=5), "Invoice rendering failures on invoicing", "invoicing",
                  "invoicing/render-failures", "QINV000311", 311, priority="P2", event_type="incident.escalated"),
    ]
    changes = [
        change("codedeploy-invoicing-d-3XY9", "deploy", "invoicing", deploy_at, "codedeploy", "ci",
               "CodeDeploy d-3XY9 invoicing revision 144 (OneAtATime)", 144, 143, "9f9f9f9"),
        change("lambda-tax-service-v12", "deploy", "tax-service", now - timedelta(hours=2, minutes=40), "lambda", "ci",
               "Publish version 12 of tax-service", 12, 11, "8e8e8e8"),
    ]
    write({"name": "invoicing-ec2-deploy-logs-only", "description": "CodeDeploy revision 144 of invoicing renders a template field that no longer exists; no metrics exist, only logs show the new exception from two minutes after the deployment.",
           "now": iso(now), "account": acct, "region": "us-east-1", "services": services, "alerts": alerts,
           "changes": changes, "metrics": [],
           "expected": {"incidents": [{"service": "invoicing", "alerts": 2, "category": "availability",
                                       # CodeDeploy redeploys the revision before d-3XY9 to the group
                                       "root_cause": "bad_deploy", "culprit": "codedeploy-invoicing-d-3XY9",
                                       "remediation": "rollback_deployment",
                                       "forbidden": ["scale_service", "restart_pods"]}]}},
          {"invoicing.log": ("/ec2/prod/invoicing/app", log), "tax-service.log": ("/aws/lambda/tax-service", tax)})


@scenario
def wallet_deploy_breaks_client():
    """A deploy changes the request it sends to a healthy dependency: errors name the dependency, the deploy is the cause."""
    rng = Rng(1717)
    now = parse("2026-08-21T06:30:00Z")
    acct = "733300551122"
    deploy_at = now - timedelta(minutes=17)
    onset = deploy_at + timedelta(minutes=1)
    start = now - timedelta(hours=3)
    services = [
        svc("wallet-api", "api", "ecs", "/ecs/fintech/wallet-api", ["card-processor"], workload="wallet-api",
            cluster="fintech"),
        svc("card-processor", "api", "ecs", "/ecs/fintech/card-processor", [], workload="card-processor",
            cluster="fintech"),
    ]
    log = Log(rng)
    access_noise(rng, log, start, now, "json", ["/wallets/{id}/topup", "/wallets/{id}"], gap=6, err_after=onset,
                 err_share=0.25)
    log.every(onset, now, 8, lambda t: j(t, "error", "card-processor rejected charge",
                                         status=400, body="invalid field 'amount_minor': expected integer",
                                         wallet=rng.slug(8)))
    log.every(start, now, 300, lambda t: j(t, "warning", "card-processor slow response", ms=rng.randint(900, 1500)))
    cp = Log(rng)
    access_noise(rng, cp, start, now, "spring", ["/charges"], gap=8)
    metrics = [
        {"service": "wallet-api", "namespace": "Fintech/Wallet", "name": "TopupErrors", "unit": "Count",
         "points": series(rng, now, step_at(onset, 0.5, 30), noise=0.15, digits=0)},
        {"service": "wallet-api", "namespace": "Fintech/Wallet", "name": "Topups", "unit": "Count",
         "points": series(rng, now, flat(120), noise=0.05, digits=0)},
        {"service": "wallet-api", "namespace": "AWS/ECS", "name": "CPUUtilization", "unit": "Percent",
         "points": series(rng, now, flat(22), noise=0.06)},
    ]
    alerts = [
        cw_sns(rng, acct, now, "wallet-api-topup-errors", "Wallet top-up errors above 10/min", "Fintech/Wallet",
               "TopupErrors", {"ServiceName": "wallet-api"}, 30, 10),
        cw_sns(rng, acct, now + timedelta(minutes=5), "wallet-api-topup-errors", "Wallet top-up errors above 10/min",
               "Fintech/Wallet", "TopupErrors", {"ServiceName": "wallet-api"}, 31, 10),
    ]
    changes = [
        change("ecs-wallet-api-td-230", "deploy", "wallet-api", deploy_at, "ecs", "pia",
               "Task definition wallet-api:230 (money as minor units)", 230, 229, "2b2b2b2"),
        change("ecs-card-processor-td-88", "deploy", "card-processor", now - timedelta(hours=7), "ecs", "rex",
               "Task definition card-processor:88", 88, 87, "3c3c3c3"),
    ]
    write({"name": "wallet-deploy-breaks-client", "description": "wallet-api task definition 230 sends amounts as strings; the healthy card-processor rejects them with 400. The errors name the dependency, but the deploy is the cause.",
           "now": iso(now), "account": acct, "region": "us-east-1", "services": services, "alerts": alerts,
           "changes": changes, "metrics": metrics,
           "expected": {"incidents": [{"service": "wallet-api", "alerts": 2, "category": "availability",
                                       "root_cause": "bad_deploy", "culprit": "ecs-wallet-api-td-230",
                                       "remediation": "rollback_deployment", "forbidden": ["scale_service"]}]}},
          {"wallet-api.log": ("/ecs/fintech/wallet-api", log), "card-processor.log": ("/ecs/fintech/card-processor", cp)})



# ==========================================================================================
# The harder set: one complication per bundle (chains, decoy changes, recurring errors, missing
# data, concurrent incidents, attacks that bring traffic, slow leaks beside a neighbour's deploy)
# ==========================================================================================
def guardduty_finding(rng: Rng, account: str, at: datetime, finding_type: str, title: str, description: str,
                      severity: float, resource: dict, finding_id: str | None = None, count: int = 1) -> dict:
    fid = finding_id or rng.hexid(32)
    return {"source": "guardduty", "received_at": iso(at + timedelta(seconds=5)), "payload": {
        "version": "0", "id": rng.uid(), "detail-type": "GuardDuty Finding", "source": "aws.guardduty",
        "account": account, "time": iso(at), "region": "us-east-1", "resources": [],
        "detail": {"schemaVersion": "2.0", "accountId": account, "region": "us-east-1", "partition": "aws",
                   "id": fid, "arn": f"arn:aws:guardduty:us-east-1:{account}:detector/{rng.hexid(8)}/finding/{fid}",
                   "type": finding_type, "resource": resource,
                   "service": {"serviceName": "guardduty", "archived": False, "count": count,
                               "eventFirstSeen": iso(at - timedelta(minutes=9)), "eventLastSeen": iso(at)},
                   "severity": severity, "createdAt": iso(at - timedelta(minutes=8)), "updatedAt": iso(at),
                   "title": title, "description": description}}}


def level_metric(rng: Rng, now: datetime, service: str, namespace: str, name: str, unit: str, shape, noise=0.05,
                 digits=2) -> dict:
    return {"service": service, "namespace": namespace, "name": name, "unit": unit,
            "points": series(rng, now, shape, noise=noise, digits=digits)}


@scenario
def mesh_chain_db_exhausted():
    """edge -> booking -> seatmap-db: the database runs out of connections; every hop alerts, errors name the hop below."""
    rng = Rng(2101)
    now = parse("2026-10-08T13:05:00Z")
    acct = "481516234200"
    onset = now - timedelta(minutes=12)
    start = now - timedelta(hours=3)
    services = [
        svc("edge-gateway", "api", "eks", "/eks/travel/edge-gateway", ["booking-svc"], namespace="travel",
            workload="edge-gateway", cluster="travel-eks"),
        svc("booking-svc", "api", "ecs", "/ecs/travel/booking-svc", ["seatmap-db"], workload="booking-svc",
            cluster="travel"),
        svc("seatmap-db", "database", "rds", "/aws/rds/instance/seatmap-db/postgresql", [], workload="seatmap-db"),
        svc("loyalty-api", "api", "ecs", "/ecs/travel/loyalty-api", [], workload="loyalty-api", cluster="travel"),
    ]
    edge = Log(rng)
    access_noise(rng, edge, start, now, "nginx", ["/v1/trips/{id}", "/v1/seats/{id}"], gap=5)
    edge.every(onset + timedelta(minutes=1), now, 6, lambda t: lf("error", "upstream booking-svc answered 503",
                                                                  route="/v1/seats/hold", attempt=rng.randint(1, 3)))
    bk = Log(rng)
    access_noise(rng, bk, start, now, "spring", ["/holds/{id}", "/bookings/{id}"], gap=7)
    bk.every(onset + timedelta(seconds=30), now, 5, lambda t: spring(
        t, "ERROR", f"pool-{rng.randint(1, 9)}", "c.t.b.repo.SeatRepository",
        f"query against seatmap-db timed out after {rng.randint(5000, 5100)} ms (HikariPool-1 - Connection is not available)"))
    db = Log(rng)
    db.every(start, now, 90, lambda t: pg(t, rng, "LOG", f"checkpoint complete: wrote {rng.randint(100, 900)} buffers"))
    db.every(onset, now, 4, lambda t: pg(t, rng, "FATAL", "remaining connection slots are reserved for non-replication superuser connections"))
    db.every(onset, now, 15, lambda t: pg(t, rng, "ERROR", "canceling statement due to statement timeout"))
    metrics = [
        level_metric(rng, now, "edge-gateway", "Travel/Edge", "Http5xxCount", "Count", step_at(onset + timedelta(minutes=1), 1, 40), 0.15, 0),
        level_metric(rng, now, "edge-gateway", "Travel/Edge", "RequestCount", "Count", flat(5200), 0.04, 0),
        level_metric(rng, now, "booking-svc", "Travel/Booking", "HoldLatencyP99", "Milliseconds", step_at(onset, 180, 5100), 0.05),
        level_metric(rng, now, "booking-svc", "AWS/ECS", "CPUUtilization", "Percent", flat(30), 0.06),
        level_metric(rng, now, "seatmap-db", "AWS/RDS", "DatabaseConnections", "Count", step_at(onset - timedelta(minutes=1), 140, 498, 3), 0.02, 0),
        level_metric(rng, now, "seatmap-db", "AWS/RDS", "CPUUtilization", "Percent", step_at(onset, 35, 92), 0.04),
    ]
    alerts = [
        cw_sns(rng, acct, now, "edge-gateway-5xx", "edge 5xx above 20/min", "Travel/Edge", "Http5xxCount",
               {"Service": "edge-gateway"}, 41, 20),
        grafana(rng, now + timedelta(minutes=1), "BookingHoldLatencyHigh", {"service": "booking-svc", "severity": "critical"},
                "booking-svc hold latency p99 above 2s", "p99 5.1s", 5100),
        cw_event(rng, acct, now + timedelta(minutes=2), "seatmap-db-connections", "DB connections near max_connections",
                 "AWS/RDS", "DatabaseConnections", {"DBInstanceIdentifier": "seatmap-db"}, 498, 450),
        cw_sns(rng, acct, now + timedelta(minutes=6), "edge-gateway-5xx", "edge 5xx above 20/min", "Travel/Edge",
               "Http5xxCount", {"Service": "edge-gateway"}, 44, 20),
    ]
    changes = [
        change("deploy-edge-gateway-77", "deploy", "edge-gateway", now - timedelta(hours=3, minutes=20), "kubernetes",
               "hal", "Header normalisation", 77, 76, "7e7e7e7"),
        change("ecs-loyalty-api-td-19", "deploy", "loyalty-api", now - timedelta(minutes=16), "ecs", "una",
               "Task definition loyalty-api:19", 19, 18, "9a9a9a9"),
    ]
    write({"name": "mesh-chain-db-exhausted", "description": "Connections of the seat map database are exhausted; booking-svc times out on it and the edge returns 503. Culprit two hops down.",
           "now": iso(now), "account": acct, "region": "us-east-1", "services": services, "alerts": alerts,
           "changes": changes, "metrics": metrics,
           "expected": {"incidents": [{"service": "edge-gateway", "alerts": 4, "category": "availability",
                                       "root_cause": "dependency_failure", "culprit": "seatmap-db",
                                       "remediation": "page_human", "forbidden": ["rollback_deployment", "scale_service"]}]}},
          {"edge.log": ("/eks/travel/edge-gateway", edge), "booking.log": ("/ecs/travel/booking-svc", bk),
           "seatmap.log": ("/aws/rds/instance/seatmap-db/postgresql", db)})


@scenario
def tariff_chain_deep_deploy():
    """shop-web -> pricing -> rules-engine (Lambda): a new rules-engine version throws; the web's own older deploy is innocent."""
    rng = Rng(2202)
    now = parse("2026-04-22T18:40:00Z")
    acct = "662040118355"
    deploy_at = now - timedelta(minutes=21)
    onset = deploy_at + timedelta(minutes=2)
    start = now - timedelta(hours=3)
    services = [
        svc("shop-web", "frontend", "eks", "/eks/retail/shop-web", ["pricing"], namespace="retail", workload="shop-web",
            cluster="retail-eks"),
        svc("pricing", "api", "eks", "/eks/retail/pricing", ["rules-engine"], namespace="retail", workload="pricing",
            cluster="retail-eks"),
        svc("rules-engine", "worker", "lambda", "/aws/lambda/tariff-rules-engine", [], workload="tariff-rules-engine"),
    ]
    web = Log(rng)
    access_noise(rng, web, start, now, "json", ["/p/{id}", "/cart"], gap=4, err_after=onset + timedelta(minutes=1), err_share=0.2)
    web.every(onset + timedelta(minutes=1), now, 7, lambda t: j(t, "error", "price lookup via pricing failed",
                                                                status=502, sku=f"SKU-{rng.randint(10000, 99999)}"))
    pr = Log(rng)
    access_noise(rng, pr, start, now, "logfmt", ["/price/{id}"], gap=5)
    pr.every(onset + timedelta(seconds=40), now, 6, lambda t: lf("error", "rules-engine invocation returned FunctionError",
                                                                 fn="tariff-rules-engine", request=rng.uid()))
    rl = Log(rng)
    rl.every(start, now, 20, lambda t: f"REPORT RequestId: {rng.uid()}\tDuration: {rng.uniform(8, 40):.2f} ms\tBilled Duration: {rng.randint(9, 41)} ms\tMemory Size: 512 MB\tMax Memory Used: {rng.randint(80, 120)} MB")
    rl.every(onset, now, 6, lambda t: [f"[ERROR] KeyError: 'tier_multiplier'",
                                       "Traceback (most recent call last):",
                                       "  File \"/var/task/rules/apply.py\", line 57, in evaluate"])
    metrics = [
        level_metric(rng, now, "shop-web", "Retail/Web", "ServerErrors", "Count", step_at(onset + timedelta(minutes=1), 2, 35), 0.15, 0),
        level_metric(rng, now, "shop-web", "Retail/Web", "PageViews", "Count", flat(9000), 0.04, 0),
        level_metric(rng, now, "pricing", "Retail/Pricing", "price_errors_total", "Count", step_at(onset, 0.5, 30), 0.15, 0),
        level_metric(rng, now, "rules-engine", "AWS/Lambda", "Errors", "Count", step_at(onset, 0.2, 60), 0.1, 0),
        level_metric(rng, now, "rules-engine", "AWS/Lambda", "Invocations", "Count", flat(650), 0.05, 0),
    ]
    alerts = [
        pagerduty(rng, now, "shop-web server errors high", "Shop Web", "shop-web/5xx", "Q7SHOPW01", 812, priority="P1"),
        grafana(rng, now + timedelta(minutes=1), "PricingErrors", {"service": "pricing", "severity": "high"},
                "pricing errors climbing", "price_errors_total above 10/min", 30),
        cw_sns(rng, acct, now + timedelta(minutes=2), "tariff-rules-engine-errors", "Lambda errors of the rules engine",
               "AWS/Lambda", "Errors", {"FunctionName": "tariff-rules-engine"}, 60, 5),
    ]
    changes = [
        change("deploy-shop-web-512", "deploy", "shop-web", onset - timedelta(minutes=38), "kubernetes", "ari",
               "New product gallery", 512, 511, "5b5b5b5"),
        change("lambda-tariff-rules-engine-v48", "deploy", "rules-engine", deploy_at, "lambda", "ci",
               "Publish version 48 (tier multipliers from config)", 48, 47, "8c8c8c8"),
    ]
    write({"name": "tariff-chain-deep-deploy", "description": "Version 48 of the rules engine raises KeyError; pricing fails its calls, the web shows 502s. The web's own deploy 38 minutes earlier is innocent.",
           "now": iso(now), "account": acct, "region": "us-east-1", "services": services, "alerts": alerts,
           "changes": changes, "metrics": metrics,
           "expected": {"incidents": [{"service": "shop-web", "alerts": 3, "category": "availability",
                                       "root_cause": "bad_deploy", "culprit": "lambda-tariff-rules-engine-v48",
                                       "remediation": "rollback_deployment", "forbidden": ["scale_service", "restart_pods"]}]}},
          {"web.log": ("/eks/retail/shop-web", web), "pricing.log": ("/eks/retail/pricing", pr),
           "rules.log": ("/aws/lambda/tariff-rules-engine", rl)})


@scenario
def ledger_config_beside_deploy():
    """A deploy and a config change five minutes apart; the new errors quote the changed setting."""
    rng = Rng(2303)
    now = parse("2026-01-19T07:52:00Z")
    acct = "390011224455"
    deploy_at = now - timedelta(minutes=24)
    config_at = now - timedelta(minutes=19)
    onset = config_at + timedelta(minutes=1)
    start = now - timedelta(hours=3)
    services = [svc("remit-api", "api", "ecs", "/ecs/pay/remit-api", ["fx-quotes"], workload="remit-api", cluster="pay"),
                svc("fx-quotes", "api", "ecs", "/ecs/pay/fx-quotes", [], workload="fx-quotes", cluster="pay")]
    log = Log(rng)
    access_noise(rng, log, start, now, "json", ["/remittances/{id}", "/remittances"], gap=5, err_after=onset, err_share=0.3)
    log.every(onset, now, 5, lambda t: j(t, "error", "transfer rejected: amount exceeds remit.limits.max_single_transfer",
                                         limit=rng.choice([0, 0, 10]), corridor=rng.choice(["EU-IN", "US-MX", "UK-PK"])))
    log.at(deploy_at + timedelta(seconds=30), j(deploy_at + timedelta(seconds=30), "info", "remit-api started", version="3.14.0"))
    fx = Log(rng)
    access_noise(rng, fx, start, now, "json", ["/quotes/{id}"], gap=20)
    metrics = [
        level_metric(rng, now, "remit-api", "Pay/Remit", "FailedTransfers", "Count", step_at(onset, 1, 55), 0.12, 0),
        level_metric(rng, now, "remit-api", "Pay/Remit", "TransferRequests", "Count", flat(400), 0.05, 0),
        level_metric(rng, now, "remit-api", "AWS/ECS", "CPUUtilization", "Percent", flat(25), 0.06),
    ]
    alerts = [
        cw_event(rng, acct, now, "remit-api-failed-transfers", "Failed transfers above 20/min", "Pay/Remit",
                 "FailedTransfers", {"ServiceName": "remit-api"}, 55, 20),
        datadog(rng, now + timedelta(minutes=2), "remit-api error ratio high", "service:remit-api,env:prod",
                "remit.errors", "avg(last_5m):... > 0.1", "error ratio 30%"),
    ]
    changes = [
        change("ecs-remit-api-td-88", "deploy", "remit-api", deploy_at, "ecs", "kit",
               "Task definition remit-api:88 (log format tweaks)", 88, 87, "1f1f1f1"),
        change("ssm-remit-api-limits-12", "config", "remit-api", config_at, "ssm", "lee",
               "Parameter /remit/prod/remit.limits.max_single_transfer 10000 -> 0 (version 12)", 12, 11),
    ]
    write({"name": "ledger-config-beside-deploy", "description": "A parameter set the single-transfer limit to 0; a harmless deploy went out five minutes before it.",
           "now": iso(now), "account": acct, "region": "us-east-1", "services": services, "alerts": alerts,
           "changes": changes, "metrics": metrics,
           "expected": {"incidents": [{"service": "remit-api", "alerts": 2, "category": "availability",
                                       "root_cause": "config_change", "culprit": "ssm-remit-api-limits-12",
                                       "remediation": "revert_config", "forbidden": ["rollback_deployment", "scale_service"]}]}},
          {"remit.log": ("/ecs/pay/remit-api", log), "fx.log": ("/ecs/pay/fx-quotes", fx)})


@scenario
def flags_errors_before_deploy():
    """A feature flag flips, errors start; a deploy lands six minutes later, closer to the alert: the errors began first."""
    rng = Rng(2404)
    now = parse("2026-06-02T21:15:00Z")
    acct = "118822330099"
    config_at = now - timedelta(minutes=22)
    onset = config_at + timedelta(minutes=1)
    deploy_at = onset + timedelta(minutes=6)
    start = now - timedelta(hours=3)
    services = [svc("feed-ranker", "api", "eks", "/eks/social/feed-ranker", [], namespace="social",
                    workload="feed-ranker", cluster="social-eks")]
    log = Log(rng)
    access_noise(rng, log, start, now, "logfmt", ["/rank", "/rank/batch"], gap=4, slow_after=onset, slow_factor=6)
    log.every(onset, now, 9, lambda t: lf("warn", "ranking fell back to slow path", flag="ranker.use_graph_embeddings",
                                          took=f"{rng.randint(900, 1400)}ms"))
    log.at(deploy_at + timedelta(seconds=20), lf("info", "feed-ranker ready", version="2.31.4"))
    metrics = [
        level_metric(rng, now, "feed-ranker", "Social/Ranker", "rank_latency_p95_ms", "Milliseconds", step_at(onset, 95, 1150), 0.06),
        level_metric(rng, now, "feed-ranker", "Social/Ranker", "rank_requests", "Count", flat(2400), 0.05, 0),
        level_metric(rng, now, "feed-ranker", "ContainerInsights", "pod_cpu_utilization", "Percent", step_at(onset, 30, 66), 0.05),
    ]
    alerts = [
        grafana(rng, now, "RankerLatencyHigh", {"service": "feed-ranker", "severity": "critical"},
                "feed-ranker p95 above 500ms", "p95 1.15s", 1150),
        grafana(rng, now + timedelta(minutes=4), "RankerLatencyHigh", {"service": "feed-ranker", "severity": "critical"},
                "feed-ranker p95 above 500ms", "p95 1.2s", 1200, starts=now - timedelta(seconds=30)),
    ]
    changes = [
        change("appconfig-feed-ranker-flags-31", "config", "feed-ranker", config_at, "appconfig", "pat",
               "Feature flags v31: ranker.use_graph_embeddings on", 31, 30),
        change("deploy-feed-ranker-205", "deploy", "feed-ranker", deploy_at, "kubernetes", "sam",
               "Copy fixes in debug endpoint", 205, 204, "2e2e2e2"),
    ]
    write({"name": "flags-errors-before-deploy", "description": "Turning on graph embeddings made ranking slow; a deploy six minutes later is closer to the alert but came after the trouble began.",
           "now": iso(now), "account": acct, "region": "us-east-1", "services": services, "alerts": alerts,
           "changes": changes, "metrics": metrics,
           "expected": {"incidents": [{"service": "feed-ranker", "alerts": 2, "category": "performance",
                                       "root_cause": "config_change", "culprit": "appconfig-feed-ranker-flags-31",
                                       "remediation": "revert_config", "forbidden": ["rollback_deployment", "scale_service"]}]}},
          {"ranker.log": ("/eks/social/feed-ranker", log)})


@scenario
def neighbour_deploy_closer():
    """The service's own deploy brings a new exception; a neighbour on the same cluster deploys later, nearer the alert."""
    rng = Rng(2505)
    now = parse("2026-09-11T04:20:00Z")
    acct = "771100992288"
    deploy_at = now - timedelta(minutes=18)
    onset = deploy_at + timedelta(minutes=2)
    start = now - timedelta(hours=3)
    services = [
        svc("claims-api", "api", "ecs", "/ecs/ins/claims-api", ["policy-store"], workload="claims-api", cluster="ins"),
        svc("policy-store", "database", "rds", None, [], workload="policy-store"),
        svc("quotes-ui", "frontend", "ecs", "/ecs/ins/quotes-ui", [], workload="quotes-ui", cluster="ins"),
    ]
    log = Log(rng)
    access_noise(rng, log, start, now, "spring", ["/claims/{id}", "/claims"], gap=6, err_after=onset, err_share=0.2)
    log.every(onset, now, 8, lambda t: [spring(t, "ERROR", f"exec-{rng.randint(1, 30)}", "c.i.c.ClaimController",
                                               "Request processing failed"),
                                        "java.lang.IllegalStateException: Duplicate key claimType (attempted merging values MOTOR and HOME)",
                                        "\tat java.util.stream.Collectors.duplicateKeyException(Collectors.java:135)"])
    ui = Log(rng)
    access_noise(rng, ui, start, now, "nginx", ["/quote", "/quote/{id}"], gap=15)
    metrics = [
        level_metric(rng, now, "claims-api", "Ins/Claims", "Errors5xx", "Count", step_at(onset, 0.5, 25), 0.15, 0),
        level_metric(rng, now, "claims-api", "Ins/Claims", "Requests", "Count", flat(800), 0.05, 0),
        level_metric(rng, now, "claims-api", "AWS/ECS", "MemoryUtilization", "Percent", flat(44), 0.02),
    ]
    alerts = [cw_sns(rng, acct, now, "claims-api-5xx", "claims-api 5xx > 10/min", "Ins/Claims", "Errors5xx",
                     {"ServiceName": "claims-api"}, 25, 10),
              cw_sns(rng, acct, now + timedelta(minutes=5), "claims-api-5xx", "claims-api 5xx > 10/min", "Ins/Claims",
                     "Errors5xx", {"ServiceName": "claims-api"}, 27, 10)]
    changes = [
        change("ecs-claims-api-td-140", "deploy", "claims-api", deploy_at, "ecs", "bea",
               "Task definition claims-api:140 (claim type lookup table)", 140, 139, "4d4d4d4"),
        change("ecs-quotes-ui-td-63", "deploy", "quotes-ui", now - timedelta(minutes=6), "ecs", "cal",
               "Task definition quotes-ui:63", 63, 62, "6f6f6f6"),
    ]
    write({"name": "neighbour-deploy-closer", "description": "claims-api 140 breaks on a duplicate map key; the quotes-ui deploy six minutes before the alert is a neighbour's and unrelated.",
           "now": iso(now), "account": acct, "region": "us-east-1", "services": services, "alerts": alerts,
           "changes": changes, "metrics": metrics,
           "expected": {"incidents": [{"service": "claims-api", "alerts": 2, "category": "availability",
                                       "root_cause": "bad_deploy", "culprit": "ecs-claims-api-td-140",
                                       "remediation": "rollback_deployment", "forbidden": ["scale_service"]}]}},
          {"claims.log": ("/ecs/ins/claims-api", log), "ui.log": ("/ecs/ins/quotes-ui", ui)})


@scenario
def recurring_timeout_rises():
    """A timeout naming a dependency has recurred for hours and rises a little; the real new error came with a deploy."""
    rng = Rng(2606)
    now = parse("2026-11-03T10:10:00Z")
    acct = "204060801234"
    deploy_at = now - timedelta(minutes=15)
    onset = deploy_at + timedelta(minutes=1)
    start = now - timedelta(hours=3)
    services = [svc("itinerary", "api", "eks", "/eks/trips/itinerary", ["geo-lookup"], namespace="trips",
                    workload="itinerary", cluster="trips-eks"),
                svc("geo-lookup", "api", "eks", "/eks/trips/geo-lookup", [], namespace="trips", workload="geo-lookup",
                    cluster="trips-eks")]
    log = Log(rng)
    access_noise(rng, log, start, now, "json", ["/itineraries/{id}"], gap=5, err_after=onset, err_share=0.15)
    log.every(start, onset, 150, lambda t: j(t, "warning", "geo-lookup call timed out, using cached coordinates",
                                             timeout_ms=800))
    log.every(onset, now, 60, lambda t: j(t, "warning", "geo-lookup call timed out, using cached coordinates",
                                          timeout_ms=800))
    log.every(onset, now, 7, lambda t: j(t, "error", "unhandled error rendering itinerary",
                                         error="ValueError: invalid isoformat string: '2026-11-03 25:00'"))
    geo = Log(rng)
    access_noise(rng, geo, start, now, "json", ["/geo/{id}"], gap=10)
    metrics = [
        level_metric(rng, now, "itinerary", "Trips/Itinerary", "http_5xx", "Count", step_at(onset, 0.5, 18), 0.15, 0),
        level_metric(rng, now, "itinerary", "Trips/Itinerary", "http_requests", "Count", flat(700), 0.05, 0),
        level_metric(rng, now, "geo-lookup", "Trips/Geo", "latency_p99_ms", "Milliseconds", flat(210), 0.05),
    ]
    alerts = [datadog(rng, now, "itinerary 5xx rate", "service:itinerary,env:prod", "trips.http.5xx",
                      "sum(last_5m):... > 50", "5xx above threshold"),
              datadog(rng, now + timedelta(minutes=4), "itinerary 5xx rate", "service:itinerary,env:prod", "trips.http.5xx",
                      "sum(last_5m):... > 50", "5xx still above threshold", transition="Re-Triggered")]
    changes = [change("deploy-itinerary-96", "deploy", "itinerary", deploy_at, "kubernetes", "dee",
                      "Local times in itinerary view", 96, 95, "3a3a3a3")]
    write({"name": "recurring-timeout-rises", "description": "geo-lookup timeouts were always there and rise a little; the ValueError came with deploy 96.",
           "now": iso(now), "account": acct, "region": "us-east-1", "services": services, "alerts": alerts,
           "changes": changes, "metrics": metrics,
           "expected": {"incidents": [{"service": "itinerary", "alerts": 2, "category": "availability",
                                       "root_cause": "bad_deploy", "culprit": "deploy-itinerary-96",
                                       "remediation": "rollback_deployment", "forbidden": ["scale_service"]}]}},
          {"itinerary.log": ("/eks/trips/itinerary", log), "geo.log": ("/eks/trips/geo-lookup", geo)})


@scenario
def blind_metrics_bad_deploy():
    """No metrics at all for the service: the alert, the deploy and the new errors in its logs must do."""
    rng = Rng(2707)
    now = parse("2026-02-14T15:30:00Z")
    acct = "909090121212"
    deploy_at = now - timedelta(minutes=13)
    onset = deploy_at + timedelta(minutes=1)
    start = now - timedelta(hours=3)
    services = [svc("pdf-render", "worker", "ecs", "/ecs/docs/pdf-render", [], workload="pdf-render", cluster="docs")]
    log = Log(rng)
    log.every(start, now, 10, lambda t: lf("info", "rendered document", pages=rng.randint(1, 40), ms=rng.randint(80, 900)))
    log.every(onset, now, 6, lambda t: lf("error", "render failed", err="font subset table missing glyph map",
                                          job=rng.hexid(10)))
    alerts = [pagerduty(rng, now, "pdf-render job failures", "PDF Render", "pdf-render/failures", "Q9PDFR001", 77,
                        priority="P2")]
    changes = [change("ecs-pdf-render-td-33", "deploy", "pdf-render", deploy_at, "ecs", "flo",
                      "Task definition pdf-render:33 (font subsetting)", 33, 32, "0d0d0d0")]
    write({"name": "blind-metrics-bad-deploy", "description": "pdf-render sends no metrics; its deploy 33 broke rendering and the logs show it.",
           "now": iso(now), "account": acct, "region": "us-east-1", "services": services, "alerts": alerts,
           "changes": changes, "metrics": [],
           "expected": {"incidents": [{"service": "pdf-render", "alerts": 1, "category": "availability",
                                       "root_cause": "bad_deploy", "culprit": "ecs-pdf-render-td-33",
                                       "remediation": "rollback_deployment", "forbidden": ["scale_service"]}]}},
          {"pdf.log": ("/ecs/docs/pdf-render", log)})


@scenario
def no_logs_config_step():
    """No log group for the service: the metrics step right after a config change."""
    rng = Rng(2808)
    now = parse("2026-05-30T02:45:00Z")
    acct = "565656787878"
    config_at = now - timedelta(minutes=16)
    onset = config_at + timedelta(minutes=2)
    services = [svc("sms-sender", "worker", "lambda", None, [], workload="sms-sender")]
    metrics = [
        level_metric(rng, now, "sms-sender", "AWS/Lambda", "Errors", "Count", step_at(onset, 0.3, 42), 0.12, 0),
        level_metric(rng, now, "sms-sender", "AWS/Lambda", "Invocations", "Count", flat(300), 0.05, 0),
        level_metric(rng, now, "sms-sender", "AWS/Lambda", "Duration", "Milliseconds", flat(120), 0.05),
    ]
    alerts = [cw_sns(rng, acct, now, "sms-sender-errors", "Lambda errors of sms-sender", "AWS/Lambda", "Errors",
                     {"FunctionName": "sms-sender"}, 42, 5)]
    changes = [change("ssm-sms-sender-provider-endpoint-9", "config", "sms-sender", config_at, "ssm", "gil",
                      "Parameter /sms/prod/provider_endpoint changed (version 9)", 9, 8),
               change("lambda-sms-sender-v20", "deploy", "sms-sender", now - timedelta(hours=9), "lambda", "ci",
                      "Publish version 20", 20, 19)]
    write({"name": "no-logs-config-step", "description": "The provider endpoint parameter changed; sms-sender errors step up two minutes later. No logs were shipped.",
           "now": iso(now), "account": acct, "region": "us-east-1", "services": services, "alerts": alerts,
           "changes": changes, "metrics": metrics,
           "expected": {"incidents": [{"service": "sms-sender", "alerts": 1, "category": "availability",
                                       "root_cause": "config_change", "culprit": "ssm-sms-sender-provider-endpoint-9",
                                       "remediation": "revert_config", "forbidden": ["rollback_deployment"]}]}},
          {})


@scenario
def twin_unrelated_incidents():
    """Two unrelated services fail within ten minutes: a leaking worker and a surge on an API."""
    rng = Rng(2909)
    now = parse("2026-07-17T19:00:00Z")
    acct = "343434565656"
    start = now - timedelta(hours=3)
    surge_at = now - timedelta(minutes=14)
    services = [
        svc("thumb-worker", "worker", "eks", "/eks/media/thumb-worker", [], namespace="media", workload="thumb-worker",
            cluster="media-eks"),
        svc("vote-api", "api", "ecs", "/ecs/poll/vote-api", [], workload="vote-api", cluster="poll"),
    ]
    tw = Log(rng)
    tw.every(start, now, 12, lambda t: f"INFO thumbs: resized object={rng.hexid(12)} in {rng.randint(40, 300)}ms")
    tw.every(now - timedelta(minutes=50), now, 240, lambda t: f"WARN thumbs: heap usage high ({rng.randint(85, 97)}%)")
    va = Log(rng)
    access_noise(rng, va, start, now, "json", ["/votes", "/polls/{id}"], gap=8, slow_after=surge_at, slow_factor=4)
    va.every(surge_at, now, 5, lambda t: access_line(rng, t))
    metrics = [
        level_metric(rng, now, "thumb-worker", "ContainerInsights", "pod_memory_utilization", "Percent",
                     ramp_from(start + timedelta(minutes=5), 30, 0.36, 96), 0.01),
        level_metric(rng, now, "thumb-worker", "ContainerInsights", "pod_cpu_utilization", "Percent", flat(40), 0.06),
        level_metric(rng, now, "vote-api", "Poll/Votes", "VoteRequests", "Count", step_at(surge_at, 1800, 7200, 4), 0.04, 0),
        level_metric(rng, now, "vote-api", "Poll/Votes", "VoteLatencyP99", "Milliseconds", step_at(surge_at, 90, 640, 4), 0.05),
        level_metric(rng, now, "vote-api", "AWS/ECS", "CPUUtilization", "Percent", step_at(surge_at, 28, 91, 4), 0.04),
    ]
    alerts = [
        cw_sns(rng, acct, now, "thumb-worker-memory", "thumb-worker memory above 90%", "ContainerInsights",
               "pod_memory_utilization", {"ClusterName": "media-eks", "Namespace": "media", "PodName": "thumb-worker"}, 94, 90),
        cw_event(rng, acct, now + timedelta(minutes=3), "vote-api-latency-p99", "vote-api p99 above 400ms", "Poll/Votes",
                 "VoteLatencyP99", {"ServiceName": "vote-api"}, 640, 400),
        cw_event(rng, acct, now + timedelta(minutes=4), "vote-api-cpu", "vote-api CPU above 80%", "AWS/ECS",
                 "CPUUtilization", {"ServiceName": "vote-api", "ClusterName": "poll"}, 91, 80),
    ]
    changes = [change("deploy-thumb-worker-12", "deploy", "thumb-worker", now - timedelta(hours=30), "kubernetes", "ivo",
                      "WebP output", 12, 11, "abcdef1")]
    write({"name": "twin-unrelated-incidents", "description": "thumb-worker leaks memory (no change for a day) while vote-api is flooded by a legitimate vote surge: two incidents.",
           "now": iso(now), "account": acct, "region": "us-east-1", "services": services, "alerts": alerts,
           "changes": changes, "metrics": metrics,
           "cluster": {"deployments": [{"namespace": "media", "name": "thumb-worker", "replicas": 3, "ready": 3,
                                        "revision": "12", "image": "media/thumb-worker:abcdef1", "memory_limit": "1Gi",
                                        "cpu_limit": "1"}],
                       "pods": [{"namespace": "media", "name": f"thumb-worker-6b7c-{rng.slug(5)}", "deployment": "thumb-worker",
                                 "phase": "Running", "restarts": 0, "last_termination_reason": None} for _ in range(3)]},
           "expected": {"incidents": [
               {"service": "thumb-worker", "alerts": 1, "category": "resource", "root_cause": "memory_leak",
                "culprit": None, "remediation": "restart_pods", "forbidden": ["rollback_deployment", "scale_service"]},
               {"service": "vote-api", "alerts": 2, "category": "performance", "root_cause": "traffic_surge",
                "culprit": None, "remediation": "scale_service", "forbidden": ["rollback_deployment", "restart_pods"]}]}},
          {"thumb.log": ("/eks/media/thumb-worker", tw), "vote.log": ("/ecs/poll/vote-api", va)})


def access_line(rng: Rng, t: datetime) -> str:
    return j(t, "info", "request finished", http_method="POST", url="/votes", status_code=200,
             elapsed_ms=round(rng.uniform(200, 700), 1), trace_id=rng.hexid(32))


@scenario
def stuffing_with_traffic():
    """Credential stuffing triples login traffic: latency and CPU alerts only, the failures are in metrics and logs."""
    rng = Rng(3010)
    now = parse("2026-03-27T01:40:00Z")
    acct = "676767121299"
    onset = now - timedelta(minutes=15)
    start = now - timedelta(hours=3)
    services = [svc("identity-svc", "api", "eks", "/eks/iam/identity-svc", ["identity-db"], namespace="iam",
                    workload="identity-svc", cluster="iam-eks"),
                svc("identity-db", "database", "rds", None, [], workload="identity-db")]
    bots = ["198.51.100.7", "198.51.100.44", "203.0.113.90"]
    log = Log(rng)
    log.every(start, now, 6, lambda t: j(t, "info", "sign-in succeeded", account=f"acct-{rng.randint(10**5, 10**6)}",
                                         client_ip=rng.ip("10.77.")))
    log.every(start, now, 240, lambda t: j(t, "warning", "sign-in rejected: wrong password",
                                           account=f"acct-{rng.randint(10**5, 10**6)}", client_ip=rng.ip("10.77.")))
    log.every(onset, now, 0.9, lambda t: j(t, "warning", "sign-in rejected: wrong password",
                                           account=f"{rng.slug(6)}@{rng.choice(['mail.example', 'inbox.example'])}",
                                           client_ip=rng.choice(bots)))
    metrics = [
        level_metric(rng, now, "identity-svc", "IAM/Identity", "SignInRequests", "Count", step_at(onset, 600, 2100, 3), 0.05, 0),
        level_metric(rng, now, "identity-svc", "IAM/Identity", "SignInFailures", "Count", step_at(onset, 3, 1450, 3), 0.08, 0),
        level_metric(rng, now, "identity-svc", "IAM/Identity", "SignInLatencyP95", "Milliseconds", step_at(onset, 120, 540, 3), 0.05),
        level_metric(rng, now, "identity-svc", "ContainerInsights", "pod_cpu_utilization", "Percent", step_at(onset, 25, 78, 3), 0.05),
    ]
    alerts = [
        cw_sns(rng, acct, now, "identity-svc-signin-latency", "sign-in p95 above 300 ms", "IAM/Identity",
               "SignInLatencyP95", {"ServiceName": "identity-svc"}, 540, 300),
        cw_sns(rng, acct, now + timedelta(minutes=2), "identity-svc-cpu", "identity-svc CPU above 70%", "ContainerInsights",
               "pod_cpu_utilization", {"ClusterName": "iam-eks", "Namespace": "iam", "Service": "identity-svc"}, 78, 70),
        cw_sns(rng, acct, now + timedelta(minutes=3), "identity-svc-signin-volume", "sign-in volume unusually high",
               "IAM/Identity", "SignInRequests", {"ServiceName": "identity-svc"}, 2100, 1200),
    ]
    changes = [change("deploy-identity-svc-58", "deploy", "identity-svc", now - timedelta(hours=5), "kubernetes", "rue",
                      "Passkey enrolment copy", 58, 57, "5c5c5c5")]
    write({"name": "stuffing-with-traffic", "description": "Credential stuffing from three addresses: sign-in volume 3.5x, failures 400x. Alerts only on latency, CPU and volume.",
           "now": iso(now), "account": acct, "region": "us-east-1", "services": services, "alerts": alerts,
           "changes": changes, "metrics": metrics,
           "expected": {"incidents": [{"service": "identity-svc", "alerts": 3, "category": "performance",
                                       "root_cause": "security_event", "culprit": None, "remediation": "page_human",
                                       "forbidden": ["scale_service", "rollback_deployment", "restart_pods"]}]}},
          {"identity.log": ("/eks/iam/identity-svc", log)})


@scenario
def scraper_blocked_by_waf():
    """A scraper quadruples catalogue traffic; the WAF blocks part of it and 403s climb; alerts are on latency."""
    rng = Rng(3111)
    now = parse("2026-12-12T12:12:00Z")
    acct = "545454787812"
    onset = now - timedelta(minutes=18)
    start = now - timedelta(hours=3)
    services = [svc("catalogue-api", "api", "ecs", "/ecs/store/catalogue-api", [], workload="catalogue-api", cluster="store")]
    log = Log(rng)
    access_noise(rng, log, start, now, "nginx", ["/products/{id}", "/categories/{n}"], gap=4, slow_after=onset, slow_factor=3)
    log.every(onset, now, 2, lambda t: nginx(rng, t, "GET", f"/products/{rng.randint(10000, 99999)}?page={rng.randint(1, 900)}",
                                            403, 0.002))
    metrics = [
        level_metric(rng, now, "catalogue-api", "AWS/ApplicationELB", "RequestCount", "Count", step_at(onset, 3000, 12500, 3), 0.05, 0),
        level_metric(rng, now, "catalogue-api", "AWS/ApplicationELB", "HTTPCode_Target_4XX_Count", "Count", step_at(onset, 20, 2600, 3), 0.08, 0),
        level_metric(rng, now, "catalogue-api", "AWS/WAFV2", "BlockedRequests", "Count", step_at(onset, 2, 1900, 3), 0.1, 0),
        level_metric(rng, now, "catalogue-api", "AWS/ApplicationELB", "TargetResponseTime", "Seconds", step_at(onset, 0.09, 0.41, 3), 0.05, 3),
        level_metric(rng, now, "catalogue-api", "AWS/ECS", "CPUUtilization", "Percent", step_at(onset, 30, 84, 3), 0.05),
    ]
    alerts = [
        pagerduty(rng, now, "catalogue-api response time degraded", "Catalogue API", "catalogue-api/latency",
                  "Q4CATA001", 4410, priority="P2"),
        cw_event(rng, acct, now + timedelta(minutes=2), "catalogue-api-cpu", "catalogue-api CPU above 75%", "AWS/ECS",
                 "CPUUtilization", {"ServiceName": "catalogue-api", "ClusterName": "store"}, 84, 75),
    ]
    write({"name": "scraper-blocked-by-waf", "description": "A scraper crawls every product page: requests 4x, WAF blocks and 403s climb. Not a demand surge.",
           "now": iso(now), "account": acct, "region": "us-east-1", "services": services, "alerts": alerts,
           "changes": [], "metrics": metrics,
           "expected": {"incidents": [{"service": "catalogue-api", "alerts": 2, "category": "performance",
                                       "root_cause": "security_event", "culprit": None, "remediation": "page_human",
                                       "forbidden": ["scale_service"]}]}},
          {"catalogue.log": ("/ecs/store/catalogue-api", log)})


@scenario
def slow_leak_neighbour_deploy():
    """Memory has crept up for hours with no change to the service; a neighbour deployed minutes before the alert."""
    rng = Rng(3212)
    now = parse("2026-08-08T08:08:00Z")
    acct = "232323454545"
    start = now - timedelta(hours=3)
    services = [svc("session-broker", "api", "eks", "/eks/web/session-broker", [], namespace="web",
                    workload="session-broker", cluster="web-eks"),
                svc("promo-banner", "frontend", "eks", "/eks/web/promo-banner", ["session-broker"], namespace="web",
                    workload="promo-banner", cluster="web-eks")]
    log = Log(rng)
    access_noise(rng, log, start, now, "logfmt", ["/sessions/{id}"], gap=5)
    log.every(now - timedelta(minutes=70), now, 200, lambda t: lf("warn", "GC pause exceeded target",
                                                                  pause=f"{rng.randint(300, 900)}ms"))
    pb = Log(rng)
    access_noise(rng, pb, start, now, "nginx", ["/banner/{id}"], gap=20)
    metrics = [
        level_metric(rng, now, "session-broker", "ContainerInsights", "pod_memory_working_set", "Bytes",
                     ramp_from(start - timedelta(minutes=30), 6.1e8, 2.6e6), 0.005, 0),
        level_metric(rng, now, "session-broker", "ContainerInsights", "pod_cpu_utilization", "Percent", flat(33), 0.05),
        level_metric(rng, now, "session-broker", "Web/Sessions", "session_lookups", "Count", flat(5000), 0.04, 0),
        level_metric(rng, now, "session-broker", "Web/Sessions", "lookup_latency_p99_ms", "Milliseconds",
                     ramp_from(now - timedelta(minutes=60), 40, 4), 0.04),
    ]
    alerts = [grafana(rng, now, "SessionBrokerLatency", {"service": "session-broker", "severity": "warning"},
                      "session-broker p99 high", "p99 above 200ms", 280),
              grafana(rng, now + timedelta(minutes=2), "SessionBrokerMemoryHigh", {"service": "session-broker",
                                                                                   "severity": "warning"},
                      "session-broker memory working set high", "working set above 1.0 GiB", 1.08e9)]
    changes = [change("deploy-promo-banner-44", "deploy", "promo-banner", now - timedelta(minutes=7), "kubernetes",
                      "jo", "Spring sale banner", 44, 43, "4e4e4e4"),
               change("deploy-session-broker-210", "deploy", "session-broker", now - timedelta(days=3), "kubernetes",
                      "mo", "Session TTL metrics", 210, 209, "2f2f2f2")]
    write({"name": "slow-leak-neighbour-deploy", "description": "session-broker leaks memory slowly (its last deploy was three days ago); a caller deployed a banner seven minutes before the alert.",
           "now": iso(now), "account": acct, "region": "us-east-1", "services": services, "alerts": alerts,
           "changes": changes, "metrics": metrics,
           "expected": {"incidents": [{"service": "session-broker", "alerts": 2, "category": "performance",
                                       "root_cause": "memory_leak", "culprit": None, "remediation": "restart_pods",
                                       "forbidden": ["rollback_deployment", "scale_service"]}]}},
          {"broker.log": ("/eks/web/session-broker", log), "banner.log": ("/eks/web/promo-banner", pb)})


@scenario
def guardduty_cryptominer():
    """GuardDuty reports a bitcoin tool on a workload whose CPU is pinned; an older deploy is nearby in time."""
    rng = Rng(3313)
    now = parse("2026-04-04T04:04:00Z")
    acct = "818181363636"
    onset = now - timedelta(minutes=25)
    start = now - timedelta(hours=3)
    services = [svc("report-builder", "batch", "eks", "/eks/analytics/report-builder", [], namespace="analytics",
                    workload="report-builder", cluster="analytics-eks")]
    log = Log(rng)
    log.every(start, now, 30, lambda t: j(t, "info", "report chunk written", rows=rng.randint(1000, 9000)))
    metrics = [level_metric(rng, now, "report-builder", "ContainerInsights", "pod_cpu_utilization", "Percent",
                            step_at(onset, 22, 97, 3), 0.03),
               level_metric(rng, now, "report-builder", "ContainerInsights", "pod_memory_utilization", "Percent", flat(40), 0.02)]
    resource = {"resourceType": "EKSCluster",
                "eksClusterDetails": {"name": "analytics-eks", "arn": f"arn:aws:eks:us-east-1:{acct}:cluster/analytics-eks"},
                "kubernetesDetails": {"kubernetesWorkloadDetails": {"name": "report-builder", "type": "deployments",
                                                                    "namespace": "analytics"}}}
    fid = rng.hexid(32)
    alerts = [
        cw_sns(rng, acct, now, "report-builder-cpu", "report-builder CPU above 90%", "ContainerInsights",
               "pod_cpu_utilization", {"ClusterName": "analytics-eks", "Namespace": "analytics", "Service": "report-builder"}, 97, 90),
        guardduty_finding(rng, acct, now + timedelta(minutes=1), "CryptoCurrency:Runtime/BitcoinTool.B",
                          "A container is querying a domain associated with a cryptocurrency mining pool.",
                          "A process in container report-builder connected to a known mining pool.", 8.0, resource, fid),
        guardduty_finding(rng, acct, now + timedelta(minutes=7), "CryptoCurrency:Runtime/BitcoinTool.B",
                          "A container is querying a domain associated with a cryptocurrency mining pool.",
                          "A process in container report-builder connected to a known mining pool.", 8.0, resource, fid, 6),
    ]
    changes = [change("deploy-report-builder-18", "deploy", "report-builder", onset - timedelta(minutes=20), "kubernetes",
                      "vic", "Bump base image", 18, 17, "8e8e8e8")]
    write({"name": "guardduty-cryptominer", "description": "A miner runs inside report-builder: GuardDuty finding twice (one finding, updated) and a CPU alarm.",
           "now": iso(now), "account": acct, "region": "us-east-1", "services": services, "alerts": alerts,
           "changes": changes, "metrics": metrics,
           "expected": {"incidents": [{"service": "report-builder", "alerts": 3, "category": "security",
                                       "root_cause": "security_event", "culprit": None, "remediation": "page_human",
                                       "forbidden": ["rollback_deployment", "restart_pods", "scale_service"]}]}},
          {"report.log": ("/eks/analytics/report-builder", log)})


@scenario
def notify_queue_full_not_disk():
    """'outbound queue is full' and 'rate quota exceeded' after a config change: not a disk."""
    rng = Rng(3414)
    now = parse("2026-10-30T17:17:00Z")
    acct = "141414252525"
    config_at = now - timedelta(minutes=14)
    onset = config_at + timedelta(minutes=1)
    start = now - timedelta(hours=3)
    services = [svc("notifier", "worker", "ec2", "/ec2/messaging/notifier", [], workload="notifier-asg")]
    log = Log(rng)
    log.every(start, now, 8, lambda t: f"{t:%Y-%m-%d %H:%M:%S},{t.microsecond // 1000:03d} INFO notifier.send: delivered batch of {rng.randint(5, 50)} messages")
    log.every(onset, now, 5, lambda t: f"{t:%Y-%m-%d %H:%M:%S},{t.microsecond // 1000:03d} ERROR notifier.send: outbound queue is full, dropping {rng.randint(1, 20)} messages")
    log.every(onset, now, 11, lambda t: f"{t:%Y-%m-%d %H:%M:%S},{t.microsecond // 1000:03d} WARN notifier.provider: rate quota exceeded for sender pool (max_send_rate={rng.choice([5, 5, 5])})")
    metrics = [level_metric(rng, now, "notifier", "Msg/Notifier", "DroppedMessages", "Count", step_at(onset, 0, 80), 0.1, 0),
               level_metric(rng, now, "notifier", "AWS/EC2", "CPUUtilization", "Percent", flat(20), 0.05)]
    alerts = [cw_sns(rng, acct, now, "notifier-dropped-messages", "Dropped notifications above 10/min", "Msg/Notifier",
                     "DroppedMessages", {"AutoScalingGroupName": "notifier-asg"}, 80, 10)]
    changes = [change("ssm-notifier-max-send-rate-4", "config", "notifier", config_at, "ssm", "wes",
                      "Parameter /notifier/prod/max_send_rate 500 -> 5 (version 4)", 4, 3)]
    write({"name": "notify-queue-full-not-disk", "description": "A send-rate parameter dropped to 5/s: the outbound queue fills and the provider quota trips. Nothing is wrong with any disk.",
           "now": iso(now), "account": acct, "region": "us-east-1", "services": services, "alerts": alerts,
           "changes": changes, "metrics": metrics,
           "expected": {"incidents": [{"service": "notifier", "alerts": 1, "category": "availability",
                                       "root_cause": "config_change", "culprit": "ssm-notifier-max-send-rate-4",
                                       "remediation": "revert_config", "forbidden": ["free_disk_space", "scale_service"]}]}},
          {"notifier.log": ("/ec2/messaging/notifier", log)})


@scenario
def token_forgery_no_traffic():
    """Forged tokens rejected by the hundred; traffic is flat and the only alert is on errors."""
    rng = Rng(3515)
    now = parse("2026-01-30T23:23:00Z")
    acct = "717171838383"
    onset = now - timedelta(minutes=11)
    start = now - timedelta(hours=3)
    services = [svc("partner-api", "api", "lambda", "/aws/lambda/partner-api", [], workload="partner-api")]
    log = Log(rng)
    log.every(start, now, 5, lambda t: j(t, "info", "partner request served", partner=f"p-{rng.randint(100, 999)}"))
    log.every(onset, now, 1.5, lambda t: j(t, "error", "rejected request: JWT signature invalid",
                                           partner=f"p-{rng.randint(100, 999)}", source_ip=rng.choice(["192.0.2.10", "192.0.2.11"])))
    metrics = [level_metric(rng, now, "partner-api", "AWS/Lambda", "Invocations", "Count", flat(900), 0.05, 0),
               level_metric(rng, now, "partner-api", "Partner/API", "RequestErrors", "Count", step_at(onset, 1, 40), 0.12, 0)]
    alerts = [grafana(rng, now, "PartnerApiErrors", {"service": "partner-api", "severity": "critical"},
                      "partner-api errors", "request errors above 10/min", 40)]
    changes = [change("lambda-partner-api-v77", "deploy", "partner-api", now - timedelta(hours=2, minutes=50), "lambda",
                      "ci", "Publish version 77", 77, 76)]
    write({"name": "token-forgery-no-traffic", "description": "Someone replays forged partner tokens; request volume is flat, the errors are signature rejections.",
           "now": iso(now), "account": acct, "region": "us-east-1", "services": services, "alerts": alerts,
           "changes": changes, "metrics": metrics,
           "expected": {"incidents": [{"service": "partner-api", "alerts": 1, "category": "availability",
                                       "root_cause": "security_event", "culprit": None, "remediation": "page_human",
                                       "forbidden": ["rollback_deployment"]}]}},
          {"partner.log": ("/aws/lambda/partner-api", log)})

# --- wording unlike the rest: pino's numeric levels, zerolog, Lambda's Python logger, MySQL and Apache logs,
# a JSON access log, sshd; metric names the analyzer has not seen; two hours of history, sparse logs ---------
def m2(rng: Rng, now: datetime, service: str, ns: str, name: str, unit: str, shape, noise=0.05, digits=2) -> dict:
    return {"service": service, "namespace": ns, "name": name, "unit": unit,
            "points": series(rng, now, shape, noise=noise, minutes=120, digits=digits)}


def pino(t: datetime, level: str, msg: str, **kw) -> str:
    lv = {"info": 30, "warn": 40, "error": 50, "fatal": 60}[level]
    return json.dumps({"level": lv, "time": int(t.timestamp() * 1000), "pid": 1, "hostname": "ip-10-2-3-4", "msg": msg,
                       **kw}, separators=(",", ":"))


def zerolog(t: datetime, level: str, message: str, **kw) -> str:
    return json.dumps({"level": level, "time": iso(t), **kw, "message": message}, separators=(",", ":"))


def pylog(t: datetime, level: str, logger: str, msg: str) -> str:
    return f"{t:%Y-%m-%d %H:%M:%S},{t.microsecond // 1000:03d} {level.upper()} [{logger}] {msg}"


def apache(rng: Rng, t: datetime, ip: str, method: str, path: str, status: int, size: int | None = None) -> str:
    return (f"{ip} - - [{t:%d/%b/%Y:%H:%M:%S} +0000] \"{method} {path} HTTP/1.1\" {status} {size or rng.randint(200, 5000)} "
            f"\"-\" \"Mozilla/5.0 (X11; Linux x86_64)\"")


def lambda_py(t: datetime, rng: Rng, level: str, msg: str) -> str:
    return f"[{level.upper()}]\t{iso_ms(t)}\t{rng.uid()}\t{msg}"


@scenario
def storefront_four_hops_mysql():
    """storefront -> cart-svc -> pricing-rules -> rules-db: MySQL runs out of connections; every hop above alerts."""
    rng = Rng(9101)
    now = parse("2026-07-14T09:41:00Z")
    acct = "402211556677"
    onset = now - timedelta(minutes=14)
    start = now - timedelta(hours=2)
    services = [
        svc("storefront", "frontend", "ecs", "/ecs/shop-prod/storefront", ["cart-svc"], workload="storefront", cluster="shop-prod"),
        svc("cart-svc", "api", "eks", "/aws/containerinsights/shop-eks/application/cart-svc", ["pricing-rules"],
            namespace="commerce", workload="cart-svc", cluster="shop-eks"),
        svc("pricing-rules", "worker", "lambda", "/aws/lambda/pricing-rules", ["rules-db"], workload="pricing-rules"),
        svc("rules-db", "database", "rds", "/aws/rds/instance/rules-db/error", [], workload="rules-db"),
        svc("wishlist", "api", "ecs", "/ecs/shop-prod/wishlist", [], workload="wishlist", cluster="shop-prod"),
    ]
    sf = Log(rng)
    sf.every(start, now, 40, lambda t: pino(t, "info", "request completed", req={"method": "GET", "url": f"/p/{rng.slug(6)}"},
                                            res={"statusCode": 200}, responseTime=rng.randint(20, 200)))
    sf.every(onset + timedelta(minutes=1), now, 20, lambda t: pino(t, "error", "cart fragment unavailable: upstream cart-svc responded 503",
                                                                  upstream="cart-svc", attempt=rng.randint(1, 3)))
    cart = Log(rng)
    cart.every(start, now, 45, lambda t: zerolog(t, "info", "cart priced", items=rng.randint(1, 9), dur_ms=rng.randint(5, 60)))
    cart.every(onset + timedelta(seconds=40), now, 20, lambda t: zerolog(
        t, "error", "pricing-rules invocation failed", caller="pricing/client.go:88", error="Unhandled: pymysql.err.OperationalError"))
    pr = Log(rng)
    pr.every(start, now, 60, lambda t: f"REPORT RequestId: {rng.uid()}\tDuration: {rng.uniform(3, 30):.2f} ms\tBilled Duration: {rng.randint(4, 31)} ms\tMemory Size: 256 MB\tMax Memory Used: {rng.randint(60, 90)} MB")
    pr.every(onset, now, 20, lambda t: lambda_py(t, rng, "error", "OperationalError: (1040, 'Too many connections') while "
                                                                  "connecting to rules-db.c9xk2ab.eu-west-1.rds.amazonaws.com"))
    db = Log(rng)
    db.every(start, now, 400, lambda t: f"{iso(t)} {rng.randint(10, 99)} [Note] [MY-010914] [Server] Aborted connection {rng.randint(1000, 99999)} to db: 'rules' user: 'app' host: '10.8.{rng.randint(1, 9)}.{rng.randint(2, 250)}' (Got an error reading communication packets)")
    db.every(onset, now, 25, lambda t: f"{iso(t)} {rng.randint(10, 99)} [Warning] [MY-010055] [Server] Too many connections: max_connections 320 reached")
    metrics = [
        m2(rng, now, "storefront", "Shop/Storefront", "FragmentErrors", "Count", step_at(onset + timedelta(minutes=1), 1, 30), 0.15, 0),
        m2(rng, now, "storefront", "AWS/ApplicationELB", "RequestCount", "Count", flat(7000), 0.04, 0),
        m2(rng, now, "cart-svc", "ContainerInsights", "pod_cpu_utilization", "Percent", flat(28), 0.05),
        m2(rng, now, "pricing-rules", "AWS/Lambda", "Errors", "Count", step_at(onset, 0.2, 45), 0.1, 0),
        m2(rng, now, "pricing-rules", "AWS/Lambda", "Duration", "Milliseconds", step_at(onset, 18, 2900), 0.05),
        m2(rng, now, "rules-db", "AWS/RDS", "DatabaseConnections", "Count", step_at(onset - timedelta(minutes=1), 90, 320, 3), 0.02, 0),
        m2(rng, now, "rules-db", "AWS/RDS", "CPUUtilization", "Percent", step_at(onset, 20, 71), 0.05),
    ]
    alerts = [
        datadog(rng, now, "storefront fragment errors above 10/min", "service:storefront,env:prod,team:web",
                "shop.storefront.fragment_errors", "sum(last_5m):sum:shop.storefront.fragment_errors{env:prod} > 50",
                "Fragment errors crossed the threshold"),
        grafana(rng, now + timedelta(minutes=1), "CartErrorBudgetBurn", {"service": "cart-svc", "severity": "page"},
                "cart-svc burns its error budget", "error ratio 18% over 5m", 0.18),
        cw_event(rng, acct, now + timedelta(minutes=2), "pricing-rules-errors", "Function errors of pricing-rules",
                 "AWS/Lambda", "Errors", {"FunctionName": "pricing-rules"}, 45, 5),
        cw_sns(rng, acct, now + timedelta(minutes=3), "rules-db-connections-high", "rules-db connections above 300",
               "AWS/RDS", "DatabaseConnections", {"DBInstanceIdentifier": "rules-db"}, 320, 300),
    ]
    changes = [
        change("deploy-cart-svc-318", "deploy", "cart-svc", now - timedelta(minutes=52), "kubernetes", "noa",
               "Cart badge colours", 318, 317, "aa11bb2"),
        change("ecs-wishlist-td-12", "deploy", "wishlist", now - timedelta(minutes=9), "ecs", "ci", "wishlist:12", 12, 11, "cc22dd3"),
    ]
    write({"name": "storefront-four-hops-mysql", "description": "rules-db (MySQL) is out of connections; pricing-rules, cart-svc and storefront fail above it. Four log formats, pino's numeric levels among them.",
           "now": iso(now), "account": acct, "region": "eu-west-1", "services": services, "alerts": alerts,
           "changes": changes, "metrics": metrics,
           "expected": {"incidents": [{"service": "storefront", "alerts": 4, "category": "availability",
                                       "root_cause": "dependency_failure", "culprit": "rules-db", "remediation": "page_human",
                                       "forbidden": ["rollback_deployment", "scale_service", "restart_pods"]}]}},
          {"sf.log": ("/ecs/shop-prod/storefront", sf), "cart.log": ("/aws/containerinsights/shop-eks/application/cart-svc", cart),
           "pr.log": ("/aws/lambda/pricing-rules", pr), "db.log": ("/aws/rds/instance/rules-db/error", db)})


@scenario
def portal_stuffing_apache_401():
    """Credential stuffing against an EC2 portal: traffic x3, 401s in the Apache log, Spring's 'Bad credentials'."""
    rng = Rng(9202)
    now = parse("2026-03-21T02:14:00Z")
    acct = "559900112233"
    onset = now - timedelta(minutes=17)
    start = now - timedelta(hours=2)
    services = [svc("member-portal", "frontend", "ec2", "/ec2/portal/member-portal", ["member-db"], workload="member-portal-asg"),
                svc("member-db", "database", "rds", None, [], workload="member-db")]
    log = Log(rng)
    bots = [rng.ip("203.0.113.") for _ in range(40)]
    log.every(start, now, 30, lambda t: apache(rng, t, rng.ip("10.9."), "GET", rng.choice(["/home", f"/account/{rng.randint(100, 9999)}", "/static/app.js"]), 200))
    log.every(start, now, 80, lambda t: apache(rng, t, rng.ip("10.9."), "POST", "/signin", rng.choice([302, 302, 302, 401])))
    log.every(onset, now, 5, lambda t: apache(rng, t, rng.choice(bots), "POST", "/signin", 401, 512))
    log.every(start, now, 90, lambda t: spring(t, "INFO", f"http-nio-8443-exec-{rng.randint(1, 50)}", "c.m.p.auth.LoginController",
                                               f"login ok for member {rng.randint(10000, 99999)}"))
    log.every(onset, now, 7, lambda t: spring(t, "WARN", f"http-nio-8443-exec-{rng.randint(1, 50)}",
                                              "o.s.s.a.ProviderManager", "Authentication attempt rejected: Bad credentials"))
    metrics = [
        m2(rng, now, "member-portal", "AWS/ApplicationELB", "RequestCount", "Count", step_at(onset, 1500, 4700, 3), 0.05, 0),
        m2(rng, now, "member-portal", "AWS/ApplicationELB", "TargetResponseTime", "Seconds", step_at(onset, 0.12, 0.48, 3), 0.05, 3),
        m2(rng, now, "member-portal", "AWS/EC2", "CPUUtilization", "Percent", step_at(onset, 26, 79, 3), 0.05),
        m2(rng, now, "member-portal", "Portal/Auth", "signin_rejections", "Count", step_at(onset, 3, 1250, 3), 0.1, 0),
    ]
    alerts = [
        cw_sns(rng, acct, now, "member-portal-response-time", "Portal target response time above 400ms",
               "AWS/ApplicationELB", "TargetResponseTime", {"LoadBalancer": "app/member-portal/5f1e", "TargetGroup": "targetgroup/member-portal-tg/9a"}, 0.48, 0.4),
        cw_sns(rng, acct, now + timedelta(minutes=2), "member-portal-cpu-high", "member portal CPU above 75%", "AWS/EC2",
               "CPUUtilization", {"AutoScalingGroupName": "member-portal-asg"}, 79, 75),
    ]
    changes = [change("codedeploy-member-portal-d-8841", "deploy", "member-portal", now - timedelta(hours=4), "codedeploy",
                      "ci", "Release 5.2.1", "5.2.1", "5.2.0", "77ab12c")]
    write({"name": "portal-stuffing-apache-401", "description": "Credential stuffing from 40 addresses: volume x3, sign-in rejections; alerts only on latency and CPU.",
           "now": iso(now), "account": acct, "region": "us-east-1", "services": services, "alerts": alerts,
           "changes": changes, "metrics": metrics,
           "expected": {"incidents": [{"service": "member-portal", "alerts": 2, "category": "performance",
                                       "root_cause": "security_event", "culprit": None, "remediation": "page_human",
                                       "forbidden": ["scale_service", "rollback_deployment", "restart_pods"]}]}},
          {"portal.log": ("/ec2/portal/member-portal", log)})


@scenario
def listings_scraper_json_403():
    """A scraper triples traffic; the API answers its token-less calls 403 (JSON access log, no WAF)."""
    rng = Rng(9010)
    now = parse("2026-08-30T03:03:00Z")
    acct = "727272161616"
    onset = now - timedelta(minutes=22)
    start = now - timedelta(hours=2)
    services = [svc("listings-api", "api", "eks", "/eks/homes/listings-api", [], namespace="homes", workload="listings-api",
                    cluster="homes-eks")]
    log = Log(rng)

    def hit(t, status, ip):
        return json.dumps({"ts": iso_ms(t), "lvl": "info", "event": "http_request", "path": f"/listings/{rng.randint(1, 99999)}",
                           "status": status, "duration_ms": rng.randint(1, 120), "client_ip": ip})
    log.every(start, now, 20, lambda t: hit(t, 200, rng.ip("10.3.")))
    log.every(onset, now, 5, lambda t: hit(t, 403, rng.choice(["198.51.100.23", "198.51.100.24"])))
    metrics = [
        m2(rng, now, "listings-api", "Homes/Listings", "http_requests_total", "Count", step_at(onset, 2400, 7400, 3), 0.05, 0),
        m2(rng, now, "listings-api", "Homes/Listings", "http_request_duration_p95", "Seconds", step_at(onset, 0.1, 0.38, 3), 0.05, 3),
        m2(rng, now, "listings-api", "ContainerInsights", "pod_cpu_utilization", "Percent", step_at(onset, 30, 83, 3), 0.05),
    ]
    alerts = [grafana(rng, now, "ListingsTrafficHigh", {"service": "listings-api", "severity": "warning"},
                      "listings-api request rate 3x normal", "rate above 6000/min", 7400),
              grafana(rng, now + timedelta(minutes=1), "ListingsLatencyHigh", {"service": "listings-api", "severity": "critical"},
                      "listings-api p95 latency high", "p95 above 300ms", 0.38)]
    write({"name": "listings-scraper-json-403", "description": "A scraper without credentials triples traffic; the API answers it 403. Not demand.",
           "now": iso(now), "account": acct, "region": "us-east-1", "services": services, "alerts": alerts,
           "changes": [], "metrics": metrics,
           "expected": {"incidents": [{"service": "listings-api", "alerts": 2, "category": "performance",
                                       "root_cause": "security_event", "culprit": None, "remediation": "page_human",
                                       "forbidden": ["scale_service"]}]}},
          {"listings.log": ("/eks/homes/listings-api", log)})


@scenario
def events_db_storage_down_the_chain():
    """An RDS instance's free storage falls for hours; its log group is empty; the writer's flushes relay DiskFull."""
    rng = Rng(9515)
    now = parse("2026-03-03T03:33:00Z")
    acct = "787800002222"
    start = now - timedelta(hours=2)
    full_at = now - timedelta(minutes=10)
    services = [svc("events-db", "database", "rds", "/aws/rds/instance/events-db/postgresql", [], workload="events-db"),
                svc("event-writer", "worker", "ecs", "/ecs/analytics/event-writer", ["events-db"], workload="event-writer",
                    cluster="analytics")]
    ew = Log(rng)
    ew.every(start, now, 20, lambda t: pylog(t, "info", "writer", f"flushed {rng.randint(100, 900)} events"))
    ew.every(full_at, now, 8, lambda t: pylog(t, "error", "writer", 'flush failed: psycopg.errors.DiskFull: could not extend '
                                                                   'file "base/16384/24601": No space left on device'))
    metrics = [m2(rng, now, "events-db", "AWS/RDS", "FreeStorageSpace", "Bytes",
                  lambda i, t: max(2.0e8, 4.2e10 - 3.5e8 * max(0, (t - start).total_seconds() / 60)), 0.002, 0),
               m2(rng, now, "events-db", "AWS/RDS", "CPUUtilization", "Percent", flat(24), 0.05),
               m2(rng, now, "event-writer", "Analytics/Writer", "flush_failures", "Count", step_at(full_at, 0, 10), 0.1, 0)]
    alerts = [cw_sns(rng, acct, now, "events-db-free-storage-low", "events-db free storage below 1 GB", "AWS/RDS", "FreeStorageSpace",
                     {"DBInstanceIdentifier": "events-db"}, 2.0e8, 1.0e9, op="LessThanThreshold"),
              cw_sns(rng, acct, now + timedelta(minutes=1), "event-writer-flush-failures", "event-writer flush failures",
                     "Analytics/Writer", "flush_failures", {"Service": "event-writer"}, 10, 3)]
    write({"name": "events-db-storage-down-the-chain", "description": "events-db runs out of storage; the writer's flushes fail with DiskFull. The disk to free is the database's.",
           "now": iso(now), "account": acct, "region": "us-east-1", "services": services, "alerts": alerts,
           "changes": [], "metrics": metrics,
           "expected": {"incidents": [{"service": "event-writer", "alerts": 2, "category": "resource",
                                       # the disk is the database's (the plan is made on events-db), and no
                                       # executor frees an RDS volume: the capability table pages
                                       "root_cause": "disk_full", "culprit": None, "remediation": "page_human",
                                       "forbidden": ["scale_service", "rollback_deployment", "free_disk_space"]}]}},
          {"ew.log": ("/ecs/analytics/event-writer", ew)})


@scenario
def webhook_lambda_surge():
    """A partner replays a day of webhooks: a Lambda's invocations triple and it throttles; no change anywhere."""
    rng = Rng(9313)
    now = parse("2026-07-01T06:30:00Z")
    acct = "121233344455"
    onset = now - timedelta(minutes=15)
    start = now - timedelta(hours=2)
    services = [svc("webhook-intake", "api", "lambda", "/aws/lambda/webhook-intake", [], workload="webhook-intake")]
    log = Log(rng)

    def report(t):
        return (f"REPORT RequestId: {rng.uid()}\tDuration: {rng.uniform(40, 95):.2f} ms\tBilled Duration: {rng.randint(41, 96)} ms"
                f"\tMemory Size: 1024 MB\tMax Memory Used: {rng.randint(150, 190)} MB")
    log.every(start, onset, 20, report)
    log.every(onset, now, 7, report)
    metrics = [m2(rng, now, "webhook-intake", "AWS/Lambda", "Invocations", "Count", step_at(onset, 2100, 6600, 3), 0.05, 0),
               m2(rng, now, "webhook-intake", "AWS/Lambda", "ConcurrentExecutions", "Count", step_at(onset, 70, 250, 3), 0.05, 0),
               m2(rng, now, "webhook-intake", "AWS/Lambda", "Throttles", "Count", step_at(onset + timedelta(minutes=2), 0, 140), 0.1, 0),
               m2(rng, now, "webhook-intake", "AWS/Lambda", "Duration", "Milliseconds", flat(62), 0.05)]
    alerts = [cw_event(rng, acct, now, "webhook-intake-throttles", "webhook-intake is being throttled", "AWS/Lambda", "Throttles",
                       {"FunctionName": "webhook-intake"}, 140, 20),
              cw_event(rng, acct, now + timedelta(minutes=1), "webhook-intake-concurrency", "webhook-intake concurrency near its limit",
                       "AWS/Lambda", "ConcurrentExecutions", {"FunctionName": "webhook-intake"}, 250, 200)]
    write({"name": "webhook-lambda-surge", "description": "A partner replays a day of webhooks: invocations x3, the function throttles. Demand, not an attack.",
           "now": iso(now), "account": acct, "region": "us-east-1", "services": services, "alerts": alerts,
           "changes": [], "metrics": metrics,
           "expected": {"incidents": [{"service": "webhook-intake", "alerts": 2, "category": "resource",
                                       # no executor scales a Lambda function: the diagnosis stands and it pages
                                       "root_cause": "traffic_surge", "culprit": None, "remediation": "page_human",
                                       "forbidden": ["rollback_deployment", "restart_pods", "scale_service"]}]}},
          {"wh.log": ("/aws/lambda/webhook-intake", log)})


@scenario
def settlement_heap_creeps():
    """An ECS worker's JVM heap creeps up for hours (available memory falls); a neighbour deployed 6 minutes before."""
    rng = Rng(9303)
    now = parse("2026-05-05T17:33:00Z")
    acct = "311122334455"
    start = now - timedelta(hours=2)
    services = [svc("settlement-worker", "worker", "ecs", "/ecs/pay/settlement-worker", ["ledger-gw"], workload="settlement-worker", cluster="pay"),
                svc("ledger-gw", "api", "ecs", None, [], workload="ledger-gw", cluster="pay"),
                svc("payout-ui", "frontend", "ecs", None, ["settlement-worker"], workload="payout-ui", cluster="pay")]
    log = Log(rng)
    log.every(start, now, 25, lambda t: json.dumps({"@timestamp": iso_ms(t), "level": "INFO", "logger_name": "c.p.s.BatchRunner",
                                                    "message": f"settled batch {rng.hexid(8)} ({rng.randint(10, 400)} items)"}))
    log.every(now - timedelta(minutes=50), now, 150, lambda t: json.dumps({"@timestamp": iso_ms(t), "level": "WARN", "logger_name": "gc",
                                                                          "message": f"GC pause (G1 Evacuation Pause) {rng.randint(400, 1200)}ms, heap after GC {rng.randint(1700, 1900)}M of 2048M"}))
    metrics = [
        m2(rng, now, "settlement-worker", "Pay/Settlement", "jvm_heap_free_bytes", "Bytes", ramp_from(start - timedelta(minutes=45), 1.1e9, -7.5e6), 0.006, 0),
        m2(rng, now, "settlement-worker", "AWS/ECS", "CPUUtilization", "Percent", flat(41), 0.05),
        m2(rng, now, "settlement-worker", "Pay/Settlement", "batches_settled", "Count", flat(60), 0.06, 0),
    ]
    alerts = [
        cw_event(rng, acct, now, "settlement-worker-heap-free-low", "free JVM heap of settlement-worker below 200 MB",
                 "Pay/Settlement", "jvm_heap_free_bytes", {"ClusterName": "pay", "ServiceName": "settlement-worker"}, 1.8e8, 2e8),
        pagerduty(rng, now + timedelta(minutes=3), "settlement-worker: free heap low", "Settlement Worker",
                  "settlement-worker/heap", "Q7SETL01", 5521, priority="P3", urgency="low"),
    ]
    changes = [change("ecs-payout-ui-td-71", "deploy", "payout-ui", now - timedelta(minutes=6), "ecs", "ima",
                      "payout-ui:71 (new date picker)", 71, 70, "71d0c0e"),
               change("ecs-settlement-worker-td-44", "deploy", "settlement-worker", now - timedelta(days=2, hours=3), "ecs",
                      "ci", "settlement-worker:44", 44, 43, "4400aa1")]
    write({"name": "settlement-heap-creeps", "description": "settlement-worker's free heap falls for hours (its last deploy was two days ago); payout-ui deployed 6 minutes before the alert and is innocent.",
           "now": iso(now), "account": acct, "region": "us-east-1", "services": services, "alerts": alerts,
           "changes": changes, "metrics": metrics,
           "expected": {"incidents": [{"service": "settlement-worker", "alerts": 2, "category": "resource",
                                       "root_cause": "memory_leak", "culprit": None, "remediation": "restart_pods",
                                       "forbidden": ["rollback_deployment", "scale_service"]}]}},
          {"worker.log": ("/ecs/pay/settlement-worker", log)})


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for fn in SCENARIOS:
        fn()
    total = sum(f.stat().st_size for f in OUT.rglob("*") if f.is_file())
    print(f"{len(SCENARIOS)} bundles in {OUT} ({total / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
