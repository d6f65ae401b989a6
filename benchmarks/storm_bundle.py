#!/usr/bin/env python3
"""Generate a storm bundle (../shared/scenarios/FORMAT.md) with its ground truth.

10,000 deliveries from 50 incidents on 50 of 260 services over 30 minutes, all five
sources, redeliveries, re-notifications, flapping, resolved events (the incidents' own and
noise on other services), interleaved; some incidents are dependency failures (the
dependency's alarms belong to the dependent's incident), some last longer than the
correlation window. `--broken N` slips N malformed payloads in.

`--world` gives the storm a world as large as the held-out storm's (about 27 MB): every
service's log group (three hours of access lines, its incident's errors and stack traces),
several metric series per service (platform and application namespaces, one point a
minute), and the deploys and config changes of the day (the culprits and distractors).

Besides `expected.incidents` the generator writes `truth.json` next to `scenario.yaml`:
for every delivery, the index of its expected incident or null (resolved / broken), so
the benchmark can compute pair precision and recall of the grouping.

    .venv/bin/python benchmarks/storm_bundle.py /tmp/storm [--deliveries 10000] [--broken 20] [--seed 7]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import yaml

try:
    _Dumper = yaml.CSafeDumper
except AttributeError:  # PyYAML without libyaml
    _Dumper = yaml.SafeDumper

DOMAINS = ["checkout", "cart", "payments", "orders", "inventory", "shipping", "search", "catalog", "auth",
           "sessions", "recommendations", "billing", "notifications", "pricing", "reviews", "wishlist", "loyalty",
           "fraud", "ledger", "tax", "returns", "media", "profile", "gateway", "storefront", "promotions",
           "fulfilment", "warehouse", "invoices", "refunds", "subscriptions", "accounts", "analytics", "emails",
           "sms", "identity", "geo", "rates", "coupons", "feeds"]
SUFFIXES = [("api", "api"), ("worker", "worker"), ("db", "database"), ("cache", "cache"), ("svc", "api"),
            ("bff", "frontend"), ("queue", "queue")]
PLATFORM = {"api": ["eks", "ecs", "lambda"], "worker": ["ecs", "eks"], "frontend": ["eks"], "database": ["rds"],
            "cache": ["ec2"], "queue": ["ec2"]}
REGION_NAME = "US East (N. Virginia)"

# symptom -> (metric namespace by platform, metric name, words for titles, category)
SYMPTOMS = {
    "5xx": ("availability", "error_rate_5xx", "error-rate-high", "5xx responses above 5.0% of requests for {s}"),
    "health": ("availability", "UnHealthyHostCount", "alb-unhealthy-hosts", "Unhealthy targets in {s} target group (health check failing)"),
    "latency": ("performance", "latency_p99", "prod-p99", "p99 latency of {s} above 800 ms"),
    "traffic": ("performance", "request_count", "request-rate-spike", "Requests per minute for {s} above 20000"),
    "cpu": ("resource", "CPUUtilization", "cpu-utilization", "Average CPU of {s} above 85.0%"),
    "memory": ("resource", "pod_memory_utilization", "memory-high", "Memory utilization of {s} above 85.0%"),
    "disk": ("resource", "FreeStorageSpace", "disk-low", "Free storage of {s} below 10%"),
    "waf": ("security", "BlockedRequests", "waf-blocked", "WAF blocked suspicious requests to {s}"),
}
KIND_SYMPTOMS = {
    "bad_deploy": ["5xx", "latency", "memory", "health"],
    "memory_leak": ["memory", "memory", "latency"],
    "traffic_surge": ["traffic", "latency", "cpu"],
    "config_change": ["5xx", "health", "latency"],
    "disk_full": ["disk", "5xx"],
    "security_event": ["waf", "waf", "5xx"],
    "dependency_failure": ["5xx", "latency"],
}
REMEDIATION = {"bad_deploy": "rollback_deployment", "memory_leak": "restart_pods", "traffic_surge": "scale_service",
               "config_change": "revert_config", "disk_full": "free_disk_space", "security_event": "page_human",
               "dependency_failure": "page_human"}


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_ms(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}+0000"


class Estate:
    def __init__(self, rng: random.Random, count: int = 260):
        self.rng = rng
        names: list[tuple[str, str, str]] = []
        for domain in DOMAINS:
            for suffix, kind in SUFFIXES:
                names.append((f"{domain}-{suffix}", kind, domain))
        rng.shuffle(names)
        names = names[:count]
        self.services: list[dict] = []
        by_domain: dict[str, list[str]] = {}
        for name, kind, domain in names:
            by_domain.setdefault(domain, []).append(name)
        data_stores = [n for n, k, _ in names if k in ("database", "cache", "queue")]
        apis = [n for n, k, _ in names if k == "api"]
        for name, kind, domain in names:
            platform = rng.choice(PLATFORM[kind])
            deps: list[str] = []
            if kind in ("api", "worker", "frontend"):
                own = [n for n in by_domain[domain] if n != name and n in data_stores]
                deps += own[:2]
                deps += rng.sample([a for a in apis if a != name], k=rng.choice([0, 0, 1, 2]))
                if not own:
                    deps += rng.sample(data_stores, k=1)
            svc = {"name": name, "kind": kind, "platform": platform, "workload": name,
                   "depends_on": sorted(set(deps))}
            if platform == "eks":
                svc.update(namespace=domain, cluster="prod-eks", log_group=f"/eks/prod/{domain}/{name}")
            elif platform == "ecs":
                svc.update(cluster="prod-ecs", log_group=f"/ecs/prod/{name}")
            elif platform == "lambda":
                svc.update(log_group=f"/aws/lambda/{name}")
            elif platform == "rds":
                svc.update(log_group=f"/aws/rds/instance/{name}/postgresql")
            else:
                svc.update(log_group=f"/ec2/prod/{name}")
            self.services.append(svc)
        self.by_name = {s["name"]: s for s in self.services}
        self.domain_of = {n: d for n, _, d in names}
        self.domain_members = by_domain

    def neighbourhood(self, name: str) -> set[str]:
        """A service, what it calls and who calls it."""
        return {name, *self.by_name[name]["depends_on"], *(s["name"] for s in self.services if name in s["depends_on"])}


class Alarm:
    """One monitor on one service, in one source's words."""

    def __init__(self, rng: random.Random, estate: Estate, service: str, symptom: str, source: str, account: str):
        self.rng, self.estate, self.service, self.symptom, self.source = rng, estate, service, symptom, source
        self.category, self.metric, word, desc = SYMPTOMS[symptom]
        self.account = account
        domain = estate.domain_of[service]
        unique_domain = len(estate.domain_members[domain]) == 1
        # alarm names follow several conventions; short prefixes only where the domain is unambiguous
        styles = [f"{service}-{word}", f"{service}-prod-{word}"]
        if unique_domain:
            styles.append(f"{domain}-{word}")
        self.name = rng.choice(styles)
        self.description = desc.format(s=service)
        self.arn = f"arn:aws:cloudwatch:us-east-1:{account}:alarm:{self.name}"
        self.pd_incident = "Q" + uuid.UUID(int=rng.getrandbits(128)).hex[:13].upper()
        self.pd_number = rng.randint(1000, 99999)
        self.monitor_id = str(rng.randint(10_000_000, 99_999_999))
        self.fingerprint = uuid.UUID(int=rng.getrandbits(128)).hex[:16]
        self.grafana_alertname = {"5xx": "High5xxRate", "health": "TargetsUnhealthy", "latency": "HighLatencyP99",
                                  "traffic": "RequestRateSpike", "cpu": "HighCPUUsage", "memory": "HighMemoryUsage",
                                  "disk": "DiskAlmostFull", "waf": "WAFBlockedRequests"}[symptom]
        self.pd_service_summary = rng.choice([service, service, " ".join(w.capitalize() for w in service.split("-")) + " (prod)"])
        self.started: datetime | None = None

    # --- payloads ----------------------------------------------------------------------
    def _dimensions(self) -> list[dict[str, str]]:
        svc = self.estate.by_name[self.service]
        if self.symptom == "health":
            tg = f"targetgroup/{self.service}-tg/{self.fingerprint[:16]}"
            return [{"value": tg, "name": "TargetGroup"}, {"value": "app/shop-prod-alb/7bee2b00cfb99c6b", "name": "LoadBalancer"}]
        platform = svc["platform"]
        if platform == "ecs":
            return [{"value": "prod-ecs", "name": "ClusterName"}, {"value": self.service, "name": "ServiceName"}]
        if platform == "eks":
            return [{"value": "prod-eks", "name": "ClusterName"}, {"value": svc.get("namespace", "default"), "name": "Namespace"},
                    {"value": self.service, "name": self.rng.choice(["Service", "PodName"])}]
        if platform == "lambda":
            return [{"value": self.service, "name": "FunctionName"}]
        if platform == "rds":
            return [{"value": self.service, "name": "DBInstanceIdentifier"}]
        return [{"value": self.service, "name": "Service"}, {"value": "prod", "name": "Environment"}]

    def _namespace(self) -> str:
        if self.symptom == "health":
            return "AWS/ApplicationELB"
        if self.symptom == "waf":
            return "AWS/WAFV2"
        return {"ecs": "AWS/ECS", "eks": "ContainerInsights", "lambda": "AWS/Lambda", "rds": "AWS/RDS",
                "ec2": "AWS/EC2"}[self.estate.by_name[self.service]["platform"]] if self.symptom in ("cpu", "memory", "disk") else "Shop/Service"

    def payload(self, at: datetime, firing: bool, delivery_key: str) -> dict:
        if self.started is None or firing and self.started > at:
            self.started = at - timedelta(seconds=self.rng.randint(5, 60))
        state = "ALARM" if firing else "OK"
        reason = (f"Threshold Crossed: 1 out of the last 1 datapoints [{self.rng.uniform(10, 99):.6f} "
                  f"({at.strftime('%d/%m/%y %H:%M:%S')})] was {'greater' if firing else 'not greater'} than the threshold (10.0) "
                  f"(minimum 1 datapoint for {'OK -> ALARM' if firing else 'ALARM -> OK'} transition).")
        changed = at - timedelta(seconds=self.rng.randint(1, 5))
        if self.source == "cloudwatch-sns":
            message = {"AlarmName": self.name, "AlarmDescription": self.description, "AWSAccountId": self.account,
                       "AlarmConfigurationUpdatedTimestamp": "2026-01-13T08:09:04.434+0000", "NewStateValue": state,
                       "NewStateReason": reason, "StateChangeTime": iso_ms(changed), "Region": REGION_NAME,
                       "AlarmArn": self.arn, "OldStateValue": "OK" if firing else "ALARM", "OKActions": [],
                       "AlarmActions": [f"arn:aws:sns:us-east-1:{self.account}:prod-alarms"], "InsufficientDataActions": [],
                       "Trigger": {"MetricName": self.metric, "Namespace": self._namespace(), "StatisticType": "Statistic",
                                   "Statistic": "AVERAGE", "Unit": None, "Dimensions": self._dimensions(), "Period": 60,
                                   "EvaluationPeriods": 1, "DatapointsToAlarm": 1,
                                   "ComparisonOperator": "GreaterThanThreshold", "Threshold": 10.0,
                                   "TreatMissingData": "missing", "EvaluateLowSampleCountPercentile": ""}}
            return {"Type": "Notification", "MessageId": delivery_key,
                    "TopicArn": f"arn:aws:sns:us-east-1:{self.account}:prod-alarms",
                    "Subject": f"{state}: \"{self.name}\" in {REGION_NAME}", "Message": json.dumps(message),
                    "Timestamp": at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z", "SignatureVersion": "1",
                    "Signature": hashlib.sha512(delivery_key.encode()).hexdigest() * 2,
                    "SigningCertUrl": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-2ff36501a98e53c2cf13872cfdeb7a14.pem",
                    "UnsubscribeUrl": f"https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:us-east-1:{self.account}:prod-alarms:{self.fingerprint}",
                    "MessageAttributes": {}}
        if self.source == "cloudwatch-eventbridge":
            dims = {d["name"]: d["value"] for d in self._dimensions()}
            return {"version": "0", "id": delivery_key, "detail-type": "CloudWatch Alarm State Change",
                    "source": "aws.cloudwatch", "account": self.account, "time": iso(at), "region": "us-east-1",
                    "resources": [self.arn],
                    "detail": {"alarmName": self.name,
                               "state": {"value": state, "reason": reason, "reasonData": json.dumps({"version": "1.0", "statistic": "Average", "period": 60, "threshold": 10.0}),
                                         "timestamp": iso_ms(changed)},
                               "previousState": {"value": "OK" if firing else "ALARM", "reason": "Threshold Crossed", "timestamp": "2026-01-22T19:46:22.044+0000"},
                               "configuration": {"description": self.description,
                                                 "metrics": [{"id": self.fingerprint[:12], "metricStat": {"metric": {"namespace": self._namespace(), "name": self.metric, "dimensions": dims},
                                                                                                        "period": 60, "stat": "Average"}, "returnData": True}]}}}
        if self.source == "pagerduty":
            title = self.rng.choice([f"ALARM: \"{self.name}\" in {REGION_NAME}", self.description])
            return {"event": {"id": delivery_key, "event_type": "incident.triggered" if firing else "incident.resolved",
                              "resource_type": "incident", "occurred_at": at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
                              "agent": None, "client": {"name": "Monitoring"},
                              "data": {"id": self.pd_incident, "type": "incident",
                                       "self": f"https://api.pagerduty.com/incidents/{self.pd_incident}",
                                       "html_url": f"https://shopfront.pagerduty.com/incidents/{self.pd_incident}",
                                       "number": self.pd_number, "status": "triggered" if firing else "resolved",
                                       "incident_key": self.rng.choice([self.arn, f"{self.service}/{self.symptom}"]),
                                       "created_at": iso(self.started), "title": title,
                                       "service": {"id": "P" + self.fingerprint[:6].upper(), "summary": self.pd_service_summary,
                                                   "type": "service_reference"},
                                       "assignees": [], "escalation_policy": {"id": "PF7S3LN", "summary": "On-call", "type": "escalation_policy_reference"},
                                       "teams": [], "priority": {"summary": self.rng.choice(["P1", "P2", "P3"])},
                                       "urgency": "high", "conference_bridge": None, "resolve_reason": None}}}
        if self.source == "grafana":
            labels = {"alertname": self.grafana_alertname, "service": self.service, "severity": "critical",
                      "namespace": "prod", "team": self.estate.domain_of[self.service]}
            summary = f"{self.service} {self.description.split(' of ')[0].lower()}"
            alert = {"status": "firing" if firing else "resolved", "labels": labels,
                     "annotations": {"summary": summary, "description": self.description,
                                     "runbook_url": f"https://wiki.shop.internal/runbooks/{self.service}/{self.grafana_alertname.lower()}"},
                     "startsAt": iso(self.started), "endsAt": "0001-01-01T00:00:00Z" if firing else iso(at),
                     "generatorURL": f"https://grafana.shop.internal/alerting/grafana/{self.fingerprint}/view?orgId=1",
                     "fingerprint": self.fingerprint,
                     "silenceURL": f"https://grafana.shop.internal/alerting/silence/new?alertmanager=grafana&matcher=alertname%3D{self.grafana_alertname}",
                     "dashboardURL": "https://grafana.shop.internal/d/pnssiofqh?orgId=1",
                     "panelURL": "https://grafana.shop.internal/d/pnssiofqh?orgId=1&viewPanel=7",
                     "values": {"B": round(self.rng.uniform(1, 99), 3), "C": 1 if firing else 0},
                     "valueString": f"[ var='B' labels={{service={self.service}}} value=1 ]"}
            return {"receiver": "watchkeeper-webhook", "status": alert["status"], "orgId": 1, "alerts": [alert],
                    "groupLabels": {"alertname": self.grafana_alertname}, "commonLabels": labels,
                    "commonAnnotations": alert["annotations"], "externalURL": "https://grafana.shop.internal/",
                    "version": "1", "groupKey": f"{{}}:{{alertname=\"{self.grafana_alertname}\"}}", "truncatedAlerts": 0,
                    "title": f"[{alert['status'].upper()}:1] {self.grafana_alertname}", "state": "alerting" if firing else "ok",
                    "message": summary}
        # datadog
        tags = [f"service:{self.service}", "env:prod", f"team:{self.estate.domain_of[self.service]}"]
        if self.rng.random() < 0.3:
            tags = [f"kube_deployment:{self.service}", "env:prod", "kube_cluster_name:prod-eks"]
        ms = int(at.timestamp() * 1000)
        title = f"{'[Triggered]' if firing else '[Recovered]'} {self.description}"
        return {"id": delivery_key, "title": title, "date": str(ms), "last_updated": str(ms),
                "event_type": "query_alert_monitor",
                "body": f"%%%\n{self.description}\n\n@webhook-watchkeeper\n\n[[Monitor Status](https://app.datadoghq.com/monitors/{self.monitor_id})]\n%%%",
                "priority": "normal", "tags": ",".join(tags), "alert_id": self.monitor_id,
                "alert_transition": "Triggered" if firing else "Recovered", "alert_type": "error" if firing else "success",
                "alert_metric": f"shop.{self.metric}", "alert_query": f"avg(last_5m):avg:shop.{self.metric}{{{tags[0]}}} > 10",
                "alert_scope": tags[0], "alert_status": "", "org": {"id": "38211", "name": "Shopfront"},
                "aggreg_key": self.fingerprint, "hostname": ""}


SOURCES = ["cloudwatch-sns", "cloudwatch-eventbridge", "pagerduty", "grafana", "datadog"]


def generate(deliveries: int = 10_000, incidents: int = 50, services: int = 260, minutes: int = 30,
             broken: int = 0, seed: int = 7, world: bool = False) -> tuple[dict, list[int | None]]:
    rng = random.Random(seed)
    estate = Estate(rng, services)
    account = "123456789012"
    t0 = datetime(2026, 11, 25, 3, 0, tzinfo=timezone.utc)
    span = timedelta(minutes=minutes)

    # pick incident services whose neighbourhoods do not touch: independent incidents stay independent
    candidates = [s["name"] for s in estate.services if s["kind"] in ("api", "worker", "frontend")]
    rng.shuffle(candidates)
    alerting: set[str] = set()      # services some incident alerts on
    near: set[str] = set()          # and everything they call or are called by
    plans = []
    for name in candidates:
        if len(plans) == incidents:
            break
        deps = [d for d in estate.by_name[name]["depends_on"]]
        kind = rng.choice(list(KIND_SYMPTOMS))
        if kind == "dependency_failure" and not deps:
            kind = "bad_deploy"
        dep = rng.choice(deps) if kind == "dependency_failure" else None
        mine = {name, dep} - {None}
        hood = set().union(*(estate.neighbourhood(x) for x in mine))
        if mine & near or hood & alerting:
            continue
        alerting |= mine
        near |= hood
        plans.append({"service": name, "kind": kind, "dependency": dep})
    taken = near
    if len(plans) < incidents:
        raise SystemExit(f"only {len(plans)} independent incidents fit in {services} services")

    # deliveries per incident: roughly equal shares of the firing budget
    resolved_budget = int(deliveries * 0.08)
    firing_budget = deliveries - resolved_budget - broken
    weights = [rng.uniform(0.5, 1.5) for _ in plans]
    shares = [max(8, int(firing_budget * w / sum(weights))) for w in weights]
    shares[-1] += firing_budget - sum(shares)

    out: list[tuple[datetime, str, dict, int | None]] = []
    expected = []
    for idx, (plan, share) in enumerate(zip(plans, shares)):
        start = t0 + timedelta(seconds=rng.randint(0, int(span.total_seconds() * 0.6)))
        duration = timedelta(seconds=rng.randint(4 * 60, int((t0 + span - start).total_seconds())))
        alarms = []
        for symptom in KIND_SYMPTOMS[plan["kind"]] + rng.sample(list(SYMPTOMS)[:4], k=rng.randint(0, 2)):
            if symptom == "waf" and plan["kind"] != "security_event":
                continue
            alarms.append(Alarm(rng, estate, plan["service"], symptom, rng.choice(SOURCES), account))
        if plan["dependency"]:
            for symptom in ("5xx", "latency"):
                alarms.append(Alarm(rng, estate, plan["dependency"], symptom, rng.choice(SOURCES), account))
        # the first alert is the dependent's or the dependency's (a dependency often alarms first)
        categories: list[str] = []
        keys: dict[int, str] = {}
        for n in range(share):
            alarm = alarms[0] if n == 0 else rng.choice(alarms)
            frac = (n / max(1, share - 1)) ** 1.3
            at = start + duration * frac + timedelta(seconds=rng.uniform(-20, 20) if n else 0)
            at = max(start, min(at, t0 + span))
            aid = id(alarm)
            redeliver = aid in keys and rng.random() < 0.35
            if not redeliver:
                keys[aid] = str(uuid.UUID(int=rng.getrandbits(128)))
            out.append((at, alarm.source, alarm.payload(at, True, keys[aid]), idx))
            categories.append(alarm.category)
            # flapping: sometimes the alarm resolves and fires again later
            if resolved_budget > 0 and rng.random() < 0.04:
                rt = at + timedelta(seconds=rng.randint(20, 120))
                out.append((min(rt, t0 + span), alarm.source, alarm.payload(rt, False, str(uuid.UUID(int=rng.getrandbits(128)))), None))
                resolved_budget -= 1
                keys.pop(aid, None)
        expected.append({"service": plan["service"], "kind": plan["kind"], "culprit": plan["dependency"],
                         "alarms": alarms, "category": max(set(categories), key=categories.count)})
    # the rest of the resolved budget: the incidents' alarms recovering, and noise on other services
    quiet = [s["name"] for s in estate.services if s["name"] not in taken]
    while resolved_budget > 0:
        at = t0 + timedelta(seconds=rng.uniform(0, span.total_seconds()))
        if rng.random() < 0.5:
            alarm = rng.choice(rng.choice(expected)["alarms"])
        else:
            alarm = Alarm(rng, estate, rng.choice(quiet), rng.choice(list(SYMPTOMS)[:7]), rng.choice(SOURCES), account)
        out.append((at, alarm.source, alarm.payload(at, False, str(uuid.UUID(int=rng.getrandbits(128)))), None))
        resolved_budget -= 1
    for _ in range(broken):
        at = t0 + timedelta(seconds=rng.uniform(0, span.total_seconds()))
        source, payload = _broken(rng, rng.choice(out))
        out.append((at, source, payload, None))
    out.sort(key=lambda x: x[0])

    # per-delivery truth and per-incident counts from the final stream
    truth = [x[3] for x in out]
    incidents_out = []
    for idx, e in enumerate(expected):
        incidents_out.append({"service": e["service"], "alerts": sum(1 for t in truth if t == idx),
                              "category": e["category"], "root_cause": e["kind"],
                              "culprit": e["culprit"], "remediation": REMEDIATION[e["kind"]], "forbidden": []})
    files: dict[str, str] = {}
    if world:
        w = World(random.Random(seed + 1), estate, t0)
        changes, logs, metrics = w.build(plans, expected, out)
        files = w.files
    else:
        changes, logs, metrics = [], [], []
    doc = {"name": f"storm-{deliveries}-{incidents}-seed{seed}" + (f"-broken{broken}" if broken else "")
                   + ("-world" if world else ""),
           "description": "synthetic alert storm (benchmarks/storm_bundle.py)",
           "now": iso(out[0][0]), "account": account, "region": "us-east-1",
           "services": estate.services,
           "alerts": [{"source": s, "received_at": iso(at), "payload": p} for at, s, p, _ in out],
           "changes": changes, "logs": logs, "metrics": metrics,
           "expected": {"incidents": incidents_out}}
    if files:
        doc["_log_files"] = files             # written by `write` under logs/, not part of scenario.yaml
    return doc, truth


# --- the world around the storm: logs, metrics, changes --------------------------------------------
PATHS = ["/api/v1/items/{n}", "/api/v1/orders/{n}", "/api/v1/cart", "/healthz", "/api/v2/search?q={w}",
         "/api/v1/users/{n}/profile", "/internal/metrics", "/api/v1/prices/{n}"]
WORDS = ["shoes", "lamp", "phone", "desk", "coat", "tent", "kettle", "chair"]
ERRORS = {
    "bad_deploy": ["ERROR NullPointerException in {svc}.handlers.ItemHandler.render(ItemHandler.java:{n})",
                   "ERROR request failed: status=500 path=/api/v1/items/{n} error=\"cannot read field 'sku' of null\""],
    "config_change": ["ERROR upstream rejected request: invalid api key for region us-east-1 (config {svc}.upstream.key)",
                      "ERROR request failed: status=503 path=/api/v1/cart error=\"circuit open: too many upstream 401s\""],
    "memory_leak": ["WARN GC overhead high: heap used {n}MiB of 2048MiB after full collection",
                    "ERROR java.lang.OutOfMemoryError: Java heap space"],
    "traffic_surge": ["WARN request queue depth {n} above soft limit 500",
                      "ERROR request timed out after 30000 ms waiting for a worker thread"],
    "disk_full": ["ERROR could not write /var/lib/{svc}/spool/{n}.tmp: No space left on device",
                  "ERROR checkpoint failed: disk full (free 0 bytes)"],
    "security_event": ["WARN authentication failed for user id {n} from 203.0.113.{m}: invalid password",
                       "WARN rate limit exceeded for client 203.0.113.{m} on /api/v1/login"],
    "dependency_failure": ["ERROR call to {dep} failed: connect timed out after 2000 ms",
                           "ERROR request failed: status=502 path=/api/v1/orders/{n} error=\"upstream {dep} unavailable\""],
}
STACK = ["    at com.shop.{svc}.handlers.ItemHandler.render(ItemHandler.java:{n})",
         "    at com.shop.{svc}.web.Router.dispatch(Router.java:88)",
         "    at io.undertow.server.Connectors.executeRootHandler(Connectors.java:387)"]
PLATFORM_METRICS = {"eks": [("ContainerInsights", "pod_cpu_utilization"), ("ContainerInsights", "pod_memory_utilization")],
                    "ecs": [("AWS/ECS", "CPUUtilization"), ("AWS/ECS", "MemoryUtilization")],
                    "lambda": [("AWS/Lambda", "Errors"), ("AWS/Lambda", "Duration"), ("AWS/Lambda", "Throttles")],
                    "ec2": [("AWS/EC2", "CPUUtilization")],
                    "rds": [("AWS/RDS", "CPUUtilization"), ("AWS/RDS", "FreeStorageSpace"), ("AWS/RDS", "DatabaseConnections")]}
APP_METRICS = [("5XXError", "Count"), ("Latency", "Milliseconds"), ("RequestCount", "Count")]


class World:
    """Three hours of every service's logs and metrics before the storm, and the day's changes."""

    def __init__(self, rng: random.Random, estate: Estate, now: datetime, log_gap: float = 75.0,
                 history_minutes: int = 180):
        self.rng, self.estate, self.now = rng, estate, now
        self.log_gap, self.minutes = log_gap, history_minutes

    def build(self, plans: list[dict], expected: list[dict], deliveries: list) -> tuple[list, list, list]:
        onset: dict[str, tuple[datetime, str, str | None]] = {}
        for idx, plan in enumerate(plans):
            first = min(at for at, _, _, i in deliveries if i == idx)
            # the trouble starts before the first alert; logs stop at `now` (the first delivery of the storm)
            start = min(first, self.now) - timedelta(minutes=self.rng.randint(5, 25))
            onset[plan["service"]] = (start, plan["kind"], plan["dependency"])
            if plan["dependency"]:
                onset.setdefault(plan["dependency"], (start, "dependency_failure", None))
        changes = self._changes(plans, onset)
        logs, files, metrics = [], {}, []
        for svc in self.estate.services:
            name = svc["name"]
            files[f"{name}.log"] = self._log(name, onset.get(name))
            logs.append({"log_group": svc["log_group"], "file": f"logs/{name}.log"})
            metrics += self._metrics(svc, onset.get(name))
        self.files = files
        return changes, logs, metrics

    def _changes(self, plans: list[dict], onset: dict) -> list[dict]:
        rng, out = self.rng, []
        for plan in plans:
            svc = self.estate.by_name[plan["service"]]
            start = onset[plan["service"]][0]
            if plan["kind"] in ("bad_deploy", "memory_leak"):
                at = start - timedelta(minutes=rng.randint(3, 40) if plan["kind"] == "bad_deploy" else rng.randint(90, 170))
                rev = rng.randint(10, 400)
                source = {"eks": "kubernetes", "ecs": "ecs", "lambda": "lambda"}.get(svc["platform"], "codedeploy")
                out.append({"id": f"deploy-{svc['name']}-{rev}", "kind": "deploy", "service": svc["name"], "at": iso(at),
                            "revision": str(rev), "previous_revision": str(rev - 1), "sha": uuid.UUID(int=rng.getrandbits(128)).hex[:7],
                            "author": rng.choice(["dana", "lee", "sam", "kim", "ari"]),
                            "description": "storm benchmark deploy", "source": source})
            elif plan["kind"] == "config_change":
                at = start - timedelta(minutes=rng.randint(2, 20))
                v = rng.randint(2, 40)
                out.append({"id": f"ssm-{svc['name']}-upstream-key-v{v}", "kind": "config", "service": svc["name"],
                            "at": iso(at), "revision": str(v), "previous_revision": str(v - 1),
                            "description": f"Update SSM parameter /prod/{svc['name']}/upstream-key", "source": "ssm"})
        for _ in range(len(plans) * 2):          # deploys elsewhere during the day: distractors
            svc = rng.choice(self.estate.services)
            at = self.now - timedelta(minutes=rng.randint(30, 23 * 60))
            rev = rng.randint(10, 400)
            out.append({"id": f"deploy-{svc['name']}-{rev}-{rng.randint(0, 999)}", "kind": "deploy", "service": svc["name"],
                        "at": iso(at), "revision": str(rev), "previous_revision": str(rev - 1),
                        "description": "routine deploy", "source": "codedeploy"})
        return sorted(out, key=lambda c: c["at"])

    def _log(self, name: str, trouble: tuple | None) -> str:
        rng, lines = self.rng, []
        t = self.now - timedelta(minutes=self.minutes)
        while t < self.now:
            path = rng.choice(PATHS).format(n=rng.randint(1, 99999), w=rng.choice(WORDS))
            status = 200 if rng.random() > 0.01 else rng.choice([404, 400, 500])
            lines.append(f"{iso_ms(t)} INFO request method={rng.choice(['GET', 'GET', 'POST'])} path={path} status={status} "
                         f"duration_ms={int(rng.expovariate(1 / 40))} trace={uuid.UUID(int=rng.getrandbits(128)).hex[:16]}")
            if rng.random() < 0.02:
                lines.append(f"{iso_ms(t)} WARN slow query on {name} took {rng.randint(500, 3000)} ms")
            t += timedelta(seconds=rng.expovariate(1 / self.log_gap))
        if trouble:
            start, kind, dep = trouble
            t = start
            templates = ERRORS[kind]
            while t < self.now:
                msg = rng.choice(templates).format(svc=name, n=rng.randint(1, 9999), m=rng.randint(1, 254), dep=dep or "db")
                lines.append(f"{iso_ms(t)} {msg}")
                if kind == "bad_deploy" and "NullPointer" in msg:
                    lines += [f"{iso_ms(t)} {s.format(svc=name, n=rng.randint(40, 400))}" for s in STACK]
                t += timedelta(seconds=rng.expovariate(1 / 4))
        lines.sort(key=lambda x: x[:24])
        return "\n".join(lines) + "\n"

    def _metrics(self, svc: dict, trouble: tuple | None) -> list[dict]:
        rng, out = self.rng, []
        start = self.now - timedelta(minutes=self.minutes)
        series = [(ns, m, None) for ns, m in PLATFORM_METRICS[svc["platform"]]]
        if svc["kind"] in ("api", "frontend", "worker"):
            series += [("Shop/Service", m, unit) for m, unit in APP_METRICS]
        for ns, metric, unit in series:
            base = rng.uniform(5, 60)
            pts = []
            for i in range(self.minutes):
                at = start + timedelta(minutes=i)
                v = base * (1 + rng.gauss(0, 0.05))
                if trouble and at >= trouble[0] and metric in ("5XXError", "Latency", "pod_memory_utilization",
                                                              "MemoryUtilization", "CPUUtilization", "Errors"):
                    v *= 3 + (at - trouble[0]).total_seconds() / 600
                pts.append([iso(at), round(v, 2)])
            out.append({"service": svc["name"], "namespace": ns, "name": metric, **({"unit": unit} if unit else {}),
                        "points": pts})
        return out


def _broken(rng: random.Random, sample: tuple) -> tuple[str, object]:
    """A payload production might send on a bad day: truncated, mistyped, or missing its core."""
    _, source, payload, _ = sample
    text = json.dumps(payload)
    choice = rng.randrange(6)
    if choice == 0:
        return source, text[: rng.randint(1, len(text) - 2)]              # truncated body
    if choice == 1:
        return source, ["not", "an", "object"]
    if choice == 2:
        return "cloudwatch-sns", {"Type": "Notification", "MessageId": "m-broken", "Message": "{\"AlarmName\": "}
    if choice == 3:
        return "pagerduty", {"event": {"id": "e-broken", "event_type": "incident.triggered", "occurred_at": "yesterday"}}
    if choice == 4:
        return "grafana", {"receiver": "watchkeeper-webhook", "status": "firing", "alerts": [{"status": "maybe"}]}
    return "datadog", {"title": 42, "tags": {"service": "checkout-api"}}


def write(directory: Path, doc: dict, truth: list) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    log_files = doc.pop("_log_files", {})
    if log_files:
        (directory / "logs").mkdir(exist_ok=True)
        for name, text in log_files.items():
            (directory / "logs" / name).write_text(text)
    with (directory / "scenario.yaml").open("w") as fh:
        yaml.dump(doc, fh, Dumper=_Dumper, sort_keys=False, width=100000, allow_unicode=True)
    (directory / "truth.json").write_text(json.dumps(truth))
    return directory


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("directory")
    ap.add_argument("--deliveries", type=int, default=10_000)
    ap.add_argument("--incidents", type=int, default=50)
    ap.add_argument("--services", type=int, default=260)
    ap.add_argument("--minutes", type=int, default=30)
    ap.add_argument("--broken", type=int, default=0)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--world", action="store_true", help="logs, metrics and changes for every service (~27 MB)")
    args = ap.parse_args()
    doc, truth = generate(args.deliveries, args.incidents, args.services, args.minutes, args.broken, args.seed,
                          world=args.world)
    path = write(Path(args.directory), doc, truth)
    size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and f.name != "truth.json")
    print(f"{path}/scenario.yaml: {len(doc['alerts'])} deliveries, {len(doc['expected']['incidents'])} incidents, "
          f"{sum(1 for t in truth if t is not None)} firing in incidents, {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
