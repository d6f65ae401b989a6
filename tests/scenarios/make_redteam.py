#!/usr/bin/env python3
"""Writes the red-team bundles under tests/scenarios/suite/ (FORMAT.md bundles, names `rt-*`).

Written from FORMAT.md, the public examples and issue 13's description of the harder held-out
suite only, by someone who had not read the analyzer: other loggers (Go zap, .NET Serilog,
Rails, nginx's error log, Envoy's access log, Kafka brokers, Postgres, Redis), other metric
namespaces and names, and one complication per bundle (decoy changes, recurring errors that
rise a little, missing metrics or logs, chains, two incidents at once, attacks that bring
traffic, a slow leak beside a neighbour's deploy, a genuine surge, a case nobody can decide).
Hours of logs whose lines do not repeat verbatim and metric series with noise, sized like
held-out bundles. Deterministic: the same seed writes the same bytes. Reuses make_suite's
helpers (alert payloads, series shapes, the bundle writer).

    python tests/scenarios/make_redteam.py [OUT_DIR]
"""
from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import make_suite as ms  # noqa: E402
from make_suite import (Rng, change, cw_event, cw_sns, datadog, flat, grafana, iso, iso_ms,  # noqa: E402
                        pagerduty, parse, ramp_from, series, step_at, svc)

ms.OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "suite"
ALL_WRITES = ["rollback_deployment", "revert_config", "restart_pods", "increase_memory_limit", "scale_service",
              "free_disk_space"]
SCENARIOS = []


class Log(ms.Log):
    """make_suite's Log with every gap stretched by `Log.scale` (set per bundle to size it like a held-out one)."""
    scale = 1.0

    def every(self, start, end, mean_gap, make) -> None:
        super().every(start, end, mean_gap * Log.scale, make)


def scenario(fn):
    SCENARIOS.append(fn)
    return fn


def write(bundle: dict, logs: dict) -> None:
    ms.write(bundle, logs)
    p = ms.OUT / bundle["name"] / "scenario.yaml"
    p.write_text(p.read_text().replace("make_suite.py", "make_redteam.py", 1))


def metric(rng: Rng, now: datetime, service: str, ns: str, name: str, unit: str, shape, noise=0.05, digits=2,
           minutes=240) -> dict:
    return {"service": service, "namespace": ns, "name": name, "unit": unit,
            "points": series(rng, now, shape, noise=noise, minutes=minutes, digits=digits)}


def both(*shapes):
    """Sum of shapes (a step plus a ramp, ...)."""
    return lambda i, t: sum(s(i, t) for s in shapes)


def window(start: datetime, end: datetime, inside: float, outside: float = 0.0):
    return lambda i, t: inside if start <= t < end else outside


# --- log formats none of the examples use ----------------------------------------------------------
def zap_json(t: datetime, level: str, caller: str, msg: str, **kw) -> str:
    return json.dumps({"level": level, "ts": round(t.timestamp(), 4), "caller": caller, "msg": msg, **kw},
                      separators=(",", ":"))


def zap_console(level: str, caller: str, msg: str, **kw) -> str:
    tail = ("\t" + json.dumps(kw, separators=(",", ":"))) if kw else ""
    return f"{level.upper()}\t{caller}\t{msg}{tail}"


SERILOG_LEVELS = {"debug": "Debug", "info": None, "warn": "Warning", "error": "Error", "fatal": "Fatal"}


def serilog(t: datetime, level: str, template: str, ctx: str, exc: str | None = None, **props) -> str:
    """Serilog's compact JSON (CLEF): @t, @mt, @l (absent for Information), @x, properties."""
    d = {"@t": t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond:06d}0Z", "@mt": template}
    lv = SERILOG_LEVELS[level]
    if lv:
        d["@l"] = lv
    if exc:
        d["@x"] = exc
    d.update(props)
    d["SourceContext"] = ctx
    return json.dumps(d, separators=(",", ":"))


def rails(t: datetime, level: str, req: str, msg: str, pid: int = 1) -> str:
    lv = level.upper()
    return f"{lv[0]}, [{t:%Y-%m-%dT%H:%M:%S}.{t.microsecond:06d} #{pid}] {lv:>5} -- : [{req}] {msg}"


def nginx_err(rng: Rng, t: datetime, level: str, msg: str, conn: bool = True) -> str:
    c = f"*{rng.randint(100000, 9999999)} " if conn else ""
    return f"{t:%Y/%m/%d %H:%M:%S} [{level}] {rng.choice([29, 30, 31, 32])}#{rng.choice([29, 30, 31, 32])}: {c}{msg}"


def envoy(rng: Rng, t: datetime, method: str, path: str, status: int, flags: str, dur: int, authority: str,
          upstream: str, ip: str | None = None, ua: str | None = None) -> str:
    up_t = "-" if flags not in ("-",) else str(max(1, dur - rng.randint(0, 3)))
    return (f"[{iso_ms(t)}] \"{method} {path} HTTP/1.1\" {status} {flags} {rng.randint(0, 900)} {rng.randint(60, 9000)} "
            f"{dur} {up_t} \"{ip or rng.ip('100.64.')}\" \"{ua or rng.choice(UAS)}\" \"{rng.uid()}\" \"{authority}\" "
            f"\"{upstream if status < 500 or flags == '-' else '-'}\"")


def kafka_broker(t: datetime, level: str, msg: str) -> str:
    return f"[{t:%Y-%m-%d %H:%M:%S},{t.microsecond // 1000:03d}] {level.upper()} {msg}"


def redis_srv(t: datetime, msg: str, role: str = "M", pid: int = 1) -> str:
    return f"{pid}:{role} {t:%d %b %Y %H:%M:%S}.{t.microsecond // 1000:03d} * {msg}"


def spring_line(t: datetime, level: str, thread: str, logger: str, msg: str) -> str:
    return ms.spring(t, level, thread, logger, msg)


UAS = ["Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15",
       "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36",
       "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Version/17.5 Safari/605.1.15",
       "okhttp/4.12.0", "Dalvik/2.1.0 (Linux; U; Android 14; Pixel 8)", "TravelApp/5.31.2 (iOS 17.5)"]


def eks_cluster(acct: str, items: list[tuple[str, str, int, str, str]], pods: list[dict] | None = None,
                rng: Rng | None = None) -> dict:
    """items: (namespace, name, replicas, revision, memory_limit)."""
    deps, pl = [], list(pods or [])
    for ns_, name, reps, rev, mem in items:
        sha = (rng.hexid(7) if rng else "abc1234")
        deps.append({"namespace": ns_, "name": name, "replicas": reps, "ready": reps, "revision": str(rev),
                     "image": f"{acct}.dkr.ecr.us-east-1.amazonaws.com/{ns_}/{name}:{sha}", "memory_limit": mem,
                     "cpu_limit": "1"})
        if not any(p["deployment"] == name for p in pl):
            for _ in range(reps):
                pl.append({"namespace": ns_, "name": f"{name}-{rng.hexid(10) if rng else 'x'}-{rng.slug(5) if rng else 'y'}",
                           "deployment": name, "phase": "Running", "restarts": 0, "last_termination_reason": None})
    return {"deployments": deps, "pods": pl}


def bundle(name, description, now, acct, services, alerts, changes, metrics, incidents, cluster=None) -> dict:
    b = {"name": name, "description": description, "now": iso(now), "account": acct, "region": "us-east-1",
         "services": services, "alerts": alerts, "changes": changes, "metrics": metrics,
         "expected": {"incidents": incidents}}
    if cluster:
        b["cluster"] = cluster
    return b


def inc(service, alerts, category, root_cause, culprit, remediation, forbidden) -> dict:
    return {"service": service, "alerts": alerts, "category": category, "root_cause": root_cause, "culprit": culprit,
            "remediation": remediation, "forbidden": forbidden}


def routes(rng: Rng, *patterns: str) -> str:
    p = rng.choice(patterns)
    p = p.replace("{id}", rng.slug(10)).replace("{n}", str(rng.randint(1000, 999999)))
    p = p.replace("{sku}", f"{rng.choice('ABCDEFGHJK')}{rng.randint(10000, 99999)}")
    for a in rng.sample(["LHR", "CDG", "JFK", "SFO", "NRT", "DXB", "AMS", "FRA", "MAD", "SIN"], p.count("{iata}")):
        p = p.replace("{iata}", a, 1)
    return p


# ==================================================================================================
# Decoys
# ==================================================================================================
@scenario
def rt_fares_ttl_beside_image():
    """.NET on ECS: an image deploy 6 minutes before a config change that sets a cache TTL to 0."""
    Log.scale = 8.0
    rng = Rng(7101)
    now = parse("2026-03-17T09:41:00Z")
    acct = "418200557301"
    deploy_at = now - timedelta(minutes=19)
    config_at = now - timedelta(minutes=13)
    onset = config_at + timedelta(seconds=50)
    start = now - timedelta(hours=6)
    services = [
        svc("fares-web", "frontend", "ecs", "/ecs/travel/fares-web", ["fares-api"], workload="fares-web", cluster="travel-prod"),
        svc("fares-api", "api", "ecs", "/ecs/travel/fares-api", ["fare-cache", "gds-gateway"], workload="fares-api",
            cluster="travel-prod"),
        svc("fare-cache", "cache", "ec2", "/ec2/travel/fare-cache", [], workload="fare-cache-asg"),
        svc("gds-gateway", "api", "ecs", "/ecs/travel/gds-gateway", [], workload="gds-gateway", cluster="travel-prod"),
        svc("loyalty-api", "api", "ecs", "/ecs/travel/loyalty-api", [], workload="loyalty-api", cluster="travel-prod"),
    ]
    api = Log(rng)
    ctx_http = "Serilog.AspNetCore.RequestLoggingMiddleware"

    def req(t):
        slow = t >= onset
        path = routes(rng, "/api/v3/fares/{iata}-{iata}", "/api/v3/fares/{iata}-{iata}/calendar", "/api/v3/offers/{id}")
        ms_ = rng.uniform(30, 160) * (rng.uniform(8, 30) if slow else 1)
        code = 200
        if slow and rng.random() < 0.22:
            code, ms_ = rng.choice([503, 504]), rng.uniform(5000, 5050)
        return serilog(t, "info" if code < 500 else "error",
                       "HTTP {RequestMethod} {RequestPath} responded {StatusCode} in {Elapsed:0.0000} ms", ctx_http,
                       RequestMethod="GET", RequestPath=path, StatusCode=code, Elapsed=round(ms_, 4),
                       TraceId=rng.hexid(32), SpanId=rng.hexid(16))
    api.every(start, now, 6, req)
    api.every(start, now, 140, lambda t: serilog(t, "warn", "Loyalty tier lookup for {MemberId} took {Elapsed} ms",
                                                  "Fares.Loyalty.TierClient", MemberId=f"M{rng.randint(10**7, 10**8)}",
                                                  Elapsed=rng.randint(800, 2400)))
    api.every(start, now, 600, lambda t: serilog(t, "info", "Fare rules snapshot {Version} loaded ({Count} rules)",
                                                  "Fares.Rules.Snapshot", Version=f"2026.03.{rng.randint(10, 17)}-{rng.randint(1, 40)}",
                                                  Count=rng.randint(41000, 42000)))
    # the deploy: tasks restart with the new image and its new startup lines (innocent)
    for k in range(4):
        t = deploy_at + timedelta(seconds=40 + 25 * k)
        api.at(t, serilog(t, "info", "Now listening on: {address}", "Microsoft.Hosting.Lifetime", address="http://[::]:8080"),
               serilog(t, "info", "Application started. Hosting environment: {envName}; Content root path: {contentRoot}",
                       "Microsoft.Hosting.Lifetime", envName="Production", contentRoot="/app"),
               serilog(t, "info", "Request logging enriched with {Enricher}", "Fares.Startup", Enricher="CorrelationIdEnricher"))
    # the config change: the cache TTL read as 0 -> every lookup goes to the GDS
    for k in range(4):
        t = onset - timedelta(seconds=30) + timedelta(seconds=7 * k)
        api.at(t, serilog(t, "warn", "FareCache:EntryTtlSeconds is {TtlSeconds}; fare caching is disabled until it is positive",
                          "Fares.Caching.FareCacheOptions", TtlSeconds=0))
    api.every(onset, now, 2.5, lambda t: serilog(
        t, "error", "Fare lookup {Route} exceeded {TimeoutMs} ms waiting for GDS (cache {CacheState})", "Fares.Search.FareLookup",
        exc=f"System.Threading.Tasks.TaskCanceledException: The request was canceled due to the configured HttpClient.Timeout of 5 seconds elapsing.\n   at Fares.Gds.GdsClient.QuoteAsync(FareQuery q) in /src/Fares.Gds/GdsClient.cs:line {rng.choice([88, 91])}",
        Route=routes(rng, "{iata}-{iata}"), TimeoutMs=5000, CacheState="bypassed"))
    api.every(onset, now, 9, lambda t: serilog(t, "warn", "Cache miss for {CacheKey}; fetching from origin", "Fares.Caching.FareCache",
                                                CacheKey=f"fare:{rng.hexid(12)}"))
    web = Log(rng)
    web.every(start, now, 8, lambda t: zap_json(t, "info", "server/http.go:88", "served", path=routes(rng, "/flights/{iata}-{iata}", "/deals"),
                                                 status=200 if t < onset or rng.random() > 0.2 else 502, ms=rng.randint(40, 400)))
    web.every(onset + timedelta(seconds=30), now, 6, lambda t: zap_json(t, "error", "upstream/fares.go:57", "fares-api call failed",
                                                                          status=rng.choice([503, 504]), attempt=rng.randint(1, 3)))
    gds = Log(rng)
    gds.every(start, now, 10, lambda t: serilog(t, "info", "Quote {QuoteId} served by {Provider} in {Elapsed} ms", "Gds.Quotes",
                                                 QuoteId=rng.uid(), Provider=rng.choice(["amadeus", "sabre"]),
                                                 Elapsed=rng.randint(300, 900) * (3 if t >= onset else 1)))
    cache = Log(rng)
    cache.every(start, now, 300, lambda t: redis_srv(t, f"{rng.randint(100, 9000)} changes in 300 seconds. Saving..."))
    cache.every(start, now, 300, lambda t: redis_srv(t, "DB saved on disk"))
    metrics = [
        metric(rng, now, "fares-api", "AWS/ECS", "CPUUtilization", "Percent", flat(34), 0.08),
        metric(rng, now, "fares-api", "AWS/ECS", "MemoryUtilization", "Percent", flat(48), 0.03),
        metric(rng, now, "fares-api", "Travel/Fares", "FareLookupP95Ms", "Milliseconds", step_at(onset, 180, 4800), 0.06, 0),
        metric(rng, now, "fares-api", "Travel/Fares", "CacheHitRatio", "None", step_at(onset, 0.93, 0.0, 1), 0.02, 3),
        metric(rng, now, "fares-api", "Travel/Fares", "Requests", "Count", flat(3100), 0.05, 0),
        metric(rng, now, "gds-gateway", "Travel/Gds", "QuoteCalls", "Count", step_at(onset, 220, 3050), 0.05, 0),
        metric(rng, now, "fares-web", "Travel/Web", "Http5xx", "Count", step_at(onset, 1, 90), 0.2, 0),
    ]
    ev_id = rng.uid()
    alerts = [
        cw_event(rng, acct, now, "travel-prod-fares-api-target-5xx", "Target 5xx of the fares-api target group",
                 "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count",
                 {"TargetGroup": "targetgroup/fares-api/5e1f0c2b9a7d33aa", "LoadBalancer": "app/travel-prod/0aa1"}, 412, 50,
                 event_id=ev_id),
        datadog(rng, now + timedelta(minutes=1), "fares-api p95 fare lookup above 2s", "service:fares-api,env:prod,team:fares",
                "travel.fares.fare_lookup.p95", "avg(last_5m):avg:travel.fares.fare_lookup.p95{service:fares-api} > 2000",
                "Fare lookups are slow for fares-api"),
        cw_event(rng, acct, now, "travel-prod-fares-api-target-5xx", "Target 5xx of the fares-api target group",
                 "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count",
                 {"TargetGroup": "targetgroup/fares-api/5e1f0c2b9a7d33aa", "LoadBalancer": "app/travel-prod/0aa1"}, 412, 50,
                 event_id=ev_id),
    ]
    alerts[2]["received_at"] = iso(now + timedelta(seconds=47))
    changes = [
        change("ecs-loyalty-api-td-51", "deploy", "loyalty-api", now - timedelta(hours=7), "ecs", "mika", "Tier recalculation batch", 51),
        change("ecs-fares-api-td-412", "deploy", "fares-api", deploy_at, "ecs", "deploy-bot",
               "Task definition fares-api:412 (Serilog 3.1, correlation id enricher)", 412, 411, "e41b0c9"),
        change("cfg-fares-api-58", "config", "fares-api", config_at, "ssm", "olga",
               "Update SSM parameter /prod/fares-api/FareCache__EntryTtlSeconds: 900 -> 0", 58),
    ]
    write(bundle("rt-fares-ttl-beside-image",
                 "A config change sets the fare cache TTL to 0 six minutes after an innocent image deploy of the same service; "
                 "the new warnings name the setting, the cache hit ratio drops to zero at the config change.",
                 now, acct, services, alerts, changes, metrics,
                 [inc("fares-api", 3, "availability", "config_change", "cfg-fares-api-58", "revert_config",
                      ["rollback_deployment", "scale_service"])]),
          {"fares-api.log": ("/ecs/travel/fares-api", api), "fares-web.log": ("/ecs/travel/fares-web", web),
           "gds-gateway.log": ("/ecs/travel/gds-gateway", gds), "fare-cache.log": ("/ec2/travel/fare-cache", cache)})


@scenario
def rt_dispatch_neighbour_infra_closer():
    """Go (zap console) on EKS: the culprit deploy is 5 min before the onset, a dependency's infra change 1 min before."""
    Log.scale = 4.8
    rng = Rng(7102)
    now = parse("2026-08-04T17:22:00Z")
    acct = "730219845512"
    deploy_at = now - timedelta(minutes=16)
    onset = deploy_at + timedelta(minutes=4, seconds=40)
    infra_at = onset - timedelta(minutes=1)
    start = now - timedelta(hours=6)
    services = [
        svc("courier-app-bff", "frontend", "eks", "/eks/logistics/courier-app-bff", ["dispatch-api"], namespace="logistics",
            workload="courier-app-bff", cluster="logistics-eks"),
        svc("dispatch-api", "api", "eks", "/eks/logistics/dispatch-api", ["geo-cache", "routing-svc"], namespace="logistics",
            workload="dispatch-api", cluster="logistics-eks"),
        svc("geo-cache", "cache", "ec2", "/ec2/logistics/geo-cache", [], workload="geo-cache-asg"),
        svc("routing-svc", "api", "eks", "/eks/logistics/routing-svc", [], namespace="logistics", workload="routing-svc",
            cluster="logistics-eks"),
    ]
    api = Log(rng)

    def req(t):
        bad = t >= onset and rng.random() < 0.35
        path = routes(rng, "/v1/assignments", "/v1/stops/{id}/eta", "/v1/couriers/{n}/route")
        return zap_console("info", "httpmw/log.go:52", "http request",
                           method="POST" if "assign" in path else "GET", path=path, status=500 if bad else 200,
                           latency=f"{rng.uniform(4, 90):.3f}ms", rid=rng.hexid(16))
    api.every(start, now, 5, req)
    api.every(start, now, 180, lambda t: zap_console("warn", "routing/client.go:141", "routing eta degraded, using straight-line estimate",
                                                      stop=rng.slug(8), err="context deadline exceeded"))
    api.every(start, now, 900, lambda t: zap_console("info", "cache/geo.go:77", "geo cache stats",
                                                      hits=rng.randint(90000, 99000), misses=rng.randint(900, 3000)))
    for k in range(3):
        t = deploy_at + timedelta(seconds=30 + 20 * k)
        api.at(t, zap_console("info", "cmd/dispatch/main.go:64", "starting dispatch-api", version="v2.14.0", geocoder="geo.v2",
                              pod=f"dispatch-api-7f9c{rng.slug(4)}"))
    api.every(onset, now, 3, lambda t: zap_console(
        "error", "geocode/grpc.go:118", "geocode stop failed",
        error="rpc error: code = Unimplemented desc = unknown service geo.v2.Geocoder", stop=rng.slug(10), attempt=1))
    api.every(onset + timedelta(seconds=20), now, 5, lambda t: zap_console(
        "error", "assign/engine.go:203", "assignment aborted: stop has no coordinates", order=f"ord_{rng.slug(9)}",
        courier=rng.randint(1000, 9999)))
    cache = Log(rng)
    cache.every(start, now, 240, lambda t: redis_srv(t, f"{rng.randint(20, 900)} changes in 60 seconds. Saving..."))
    cache.every(start, now, 240, lambda t: redis_srv(t, f"Background saving started by pid {rng.randint(1000, 60000)}"))
    cache.at(infra_at + timedelta(seconds=5), redis_srv(infra_at + timedelta(seconds=5), "CONFIG SET maxmemory-policy volatile-lru"))
    bff = Log(rng)
    bff.every(start, now, 7, lambda t: zap_json(t, "info", "api/router.go:40", "handled", route=routes(rng, "/app/today", "/app/route"),
                                                 code=200, dur_ms=rng.randint(10, 220)))
    bff.every(onset + timedelta(seconds=30), now, 8, lambda t: zap_json(t, "error", "clients/dispatch.go:77", "dispatch-api returned 500",
                                                                          route="/v1/assignments"))
    routing = Log(rng)
    routing.every(start, now, 9, lambda t: zap_console("info", "srv/http.go:33", "eta computed", legs=rng.randint(2, 18),
                                                        took=f"{rng.uniform(2, 40):.2f}ms"))
    metrics = [
        metric(rng, now, "dispatch-api", "ContainerInsights", "pod_cpu_utilization", "Percent", flat(27), 0.08),
        metric(rng, now, "dispatch-api", "ContainerInsights", "pod_memory_utilization", "Percent", flat(41), 0.03),
        metric(rng, now, "dispatch-api", "Logistics/Dispatch", "assignments_failed", "Count", step_at(onset, 0.5, 48), 0.2, 0),
        metric(rng, now, "dispatch-api", "Logistics/Dispatch", "assignments_total", "Count", flat(210), 0.06, 0),
        metric(rng, now, "geo-cache", "AWS/ElastiCache", "CacheHitRate", "Percent", flat(97.2), 0.005),
        metric(rng, now, "geo-cache", "AWS/ElastiCache", "CurrConnections", "Count", flat(180), 0.04, 0),
    ]
    alerts = [
        grafana(rng, now, "DispatchAssignmentFailures", {"service": "dispatch-api", "severity": "page", "namespace": "logistics"},
                "dispatch-api failing 23% of assignments", "assignment failure ratio above 5% for 3m", 23.1),
        pagerduty(rng, now + timedelta(minutes=2), "[dispatch-api] HTTP 500 ratio above SLO", "Dispatch", "dispatch-api-5xx",
                  "Q1DISP" + rng.hexid(4).upper(), 5521),
        grafana(rng, now + timedelta(minutes=3), "ElastiCacheEvictions", {"service": "geo-cache", "severity": "info"},
                "geo-cache evictions normal", "evictions back under threshold", 0.0, status="resolved",
                starts=now - timedelta(hours=2)),
    ]
    changes = [
        change("deploy-routing-svc-77", "deploy", "routing-svc", now - timedelta(hours=9), "kubernetes", "ines", "OSRM 5.27", 77),
        change("deploy-dispatch-api-214", "deploy", "dispatch-api", deploy_at, "kubernetes", "kofi",
               "Geocoding via the geo.v2 gRPC API", 214, 213, "3f0a9d1"),
        change("infra-geo-cache-2026-08-04", "infra", "geo-cache", infra_at, "github", "platform-bot",
               "terraform: geo-cache parameter group maxmemory-policy allkeys-lru -> volatile-lru"),
    ]
    cluster = eks_cluster(acct, [("logistics", "dispatch-api", 4, 214, "512Mi"), ("logistics", "routing-svc", 3, 77, "1Gi"),
                                 ("logistics", "courier-app-bff", 3, 301, "256Mi")], rng=rng)
    write(bundle("rt-dispatch-neighbour-infra-closer",
                 "A dispatch-api deploy switches geocoding to an API the server does not have; a cache parameter change of a "
                 "dependency lands one minute before the errors and is innocent.",
                 now, acct, services, alerts, changes, metrics,
                 [inc("dispatch-api", 2, "availability", "bad_deploy", "deploy-dispatch-api-214", "rollback_deployment",
                      ["scale_service", "revert_config"])], cluster),
          {"dispatch-api.log": ("/eks/logistics/dispatch-api", api), "geo-cache.log": ("/ec2/logistics/geo-cache", cache),
           "courier-app-bff.log": ("/eks/logistics/courier-app-bff", bff), "routing-svc.log": ("/eks/logistics/routing-svc", routing)})


@scenario
def rt_tracking_kafka_hotfix_after():
    """Kafka brokers lose a log dir; producers are rejected. A hotfix deploy of the producer lands after the onset."""
    Log.scale = 4.5
    rng = Rng(7103)
    now = parse("2026-02-26T04:18:00Z")
    acct = "250611987420"
    onset = now - timedelta(minutes=12)
    hotfix_at = onset + timedelta(minutes=5)
    start = now - timedelta(hours=6)
    services = [
        svc("tracking-api", "api", "eks", "/eks/parcels/tracking-api", ["parcel-events"], namespace="parcels",
            workload="tracking-api", cluster="parcels-eks"),
        svc("parcel-events", "queue", "ec2", "/ec2/parcels/kafka", [], workload="parcel-events-kafka-asg"),
        svc("notify-worker", "worker", "eks", "/eks/parcels/notify-worker", ["parcel-events"], namespace="parcels",
            workload="notify-worker", cluster="parcels-eks"),
    ]
    api = Log(rng)

    def req(t):
        failing = t >= onset and rng.random() < 0.4
        return ms.lf("info", "request", method="POST", path=routes(rng, "/v2/scans", "/v2/scans/batch"),
                     status=503 if failing else 202, dur=f"{rng.uniform(3, 40) * (40 if failing else 1):.1f}ms",
                     scanner=f"HUB-{rng.randint(10, 99)}-{rng.randint(1, 40)}")
    api.every(start, now, 4, req)
    api.every(start, now, 420, lambda t: ms.lf("warn", "slow consumer lag reported by broker", topic="parcel-scans",
                                                lag=rng.randint(200, 1500)))
    api.every(onset, now, 2.5, lambda t: ms.lf(
        "error", "produce failed", topic="parcel-scans", partition=rng.randint(0, 23),
        err="kafka server: Messages are rejected since there are fewer in-sync replicas than required."))
    api.every(onset + timedelta(minutes=2), now, 11, lambda t: ms.lf(
        "error", "producer closed", err="kafka: client has run out of available brokers to talk to (Is your cluster reachable?)"))
    for k in range(3):
        t = hotfix_at + timedelta(seconds=30 + 20 * k)
        api.at(t, ms.lf("info", "producer config", retries=10, backoff="250ms", acks="all", version="1.88.1"))
    kafka = Log(rng)
    kafka.every(start, now, 40, lambda t: kafka_broker(t, "info",
        f"[LocalLog partition=parcel-scans-{rng.randint(0, 23)}, dir=/var/lib/kafka/data] Rolled new log segment at offset "
        f"{rng.randint(10**8, 10**9)} in {rng.randint(1, 9)} ms. (kafka.log.LocalLog)"))
    kafka.every(start, now, 300, lambda t: kafka_broker(t, "info",
        f"[GroupCoordinator {rng.randint(1, 3)}]: Member notify-worker-{rng.hexid(8)} in group notify-worker has left, "
        f"removing it from the group (kafka.coordinator.group.GroupCoordinator)"))
    kafka.at(onset - timedelta(seconds=20),
             kafka_broker(onset - timedelta(seconds=20), "error",
                          "Error while writing to checkpoint file /var/lib/kafka/data/replication-offset-checkpoint "
                          "(kafka.server.LogDirFailureChannel)"),
             "java.io.IOException: Input/output error",
             "\tat java.base/sun.nio.ch.FileDispatcherImpl.force0(Native Method)")
    kafka.at(onset - timedelta(seconds=15), kafka_broker(onset - timedelta(seconds=15), "error",
             "Shutdown broker because all log dirs in /var/lib/kafka/data have failed (kafka.log.LogManager)"))
    kafka.every(onset, now, 3, lambda t: kafka_broker(t, "info",
        f"[Partition parcel-scans-{rng.randint(0, 23)} broker={rng.choice([1, 3])}] Shrinking ISR from 1,2,3 to "
        f"{rng.choice(['1,3', '3,1'])}. Leader: (highWatermark: {rng.randint(10**6, 10**7)}) (kafka.cluster.Partition)"))
    kafka.every(onset, now, 2, lambda t: kafka_broker(t, "error",
        f"[ReplicaManager broker={rng.choice([1, 3])}] Error processing append operation on partition parcel-scans-{rng.randint(0, 23)} "
        "(kafka.server.ReplicaManager) org.apache.kafka.common.errors.NotEnoughReplicasException: The size of the current ISR "
        "Set(1) is insufficient to satisfy the min.isr requirement of 2"))
    worker = Log(rng)
    worker.every(start, now, 6, lambda t: ms.lf("info", "notification sent", channel=rng.choice(["sms", "push", "email"]),
                                                parcel=rng.slug(12)))
    metrics = [
        metric(rng, now, "tracking-api", "ContainerInsights", "pod_cpu_utilization", "Percent", flat(22), 0.1),
        metric(rng, now, "tracking-api", "Parcels/Tracking", "scan_publish_errors", "Count", step_at(onset, 0, 160), 0.1, 0),
        metric(rng, now, "tracking-api", "Parcels/Tracking", "scans_received", "Count", flat(5200), 0.04, 0),
        metric(rng, now, "parcel-events", "AWS/Kafka", "UnderReplicatedPartitions", "Count", step_at(onset, 0, 24, 1), 0.0, 0),
        metric(rng, now, "parcel-events", "AWS/Kafka", "ActiveControllerCount", "Count", flat(1), 0.0, 0),
        metric(rng, now, "parcel-events", "AWS/Kafka", "KafkaDataLogsDiskUsed", "Percent", flat(46), 0.01),
    ]
    alerts = [
        cw_sns(rng, acct, now, "tracking-api-publish-errors", "Scans that could not be published to Kafka",
               "Parcels/Tracking", "scan_publish_errors", {"Service": "tracking-api"}, 160, 20),
        cw_sns(rng, acct, now + timedelta(minutes=1), "parcel-events-under-replicated-partitions",
               "MSK partitions below their replication factor", "AWS/Kafka", "UnderReplicatedPartitions",
               {"Cluster Name": "parcel-events", "Broker ID": "2"}, 24, 0),
        datadog(rng, now + timedelta(minutes=2), "tracking-api is returning 503s", "service:tracking-api,env:production",
                "trace.http.request.errors", "sum(last_5m):sum:trace.http.request.errors{service:tracking-api}.as_count() > 500",
                "503s from tracking-api"),
    ]
    changes = [
        change("deploy-notify-worker-140", "deploy", "notify-worker", now - timedelta(hours=5), "kubernetes", "hana", "Push templates v3", 140),
        change("deploy-tracking-api-388", "deploy", "tracking-api", hotfix_at, "kubernetes", "oncall-ravi",
               "Hotfix: producer retries 3 -> 10 with backoff", 388, 387, "aa09c31"),
    ]
    cluster = eks_cluster(acct, [("parcels", "tracking-api", 6, 388, "512Mi"), ("parcels", "notify-worker", 3, 140, "256Mi")], rng=rng)
    write(bundle("rt-tracking-kafka-hotfix-after",
                 "A Kafka broker loses its log dir; producers of tracking-api are rejected (ISR below min). A hotfix deploy "
                 "of tracking-api five minutes after the onset is not the cause.",
                 now, acct, services, alerts, changes, metrics,
                 [inc("tracking-api", 3, "availability", "dependency_failure", "parcel-events", "page_human",
                      ["rollback_deployment", "scale_service", "restart_pods"])], cluster),
          {"tracking-api.log": ("/eks/parcels/tracking-api", api), "kafka.log": ("/ec2/parcels/kafka", kafka),
           "notify-worker.log": ("/eks/parcels/notify-worker", worker)})


# ==================================================================================================
# A recurring error that rises a little beside the real new one
# ==================================================================================================
@scenario
def rt_shopfront_rails_recurring_redis():
    """Rails: Redis::TimeoutError has recurred all day and rises 1.5x; the new NoMethodError came with the deploy."""
    Log.scale = 5.1
    rng = Rng(7104)
    now = parse("2026-05-02T20:07:00Z")
    acct = "861045223197"
    deploy_at = now - timedelta(minutes=15)
    onset = deploy_at + timedelta(minutes=2)
    start = now - timedelta(hours=7)
    services = [
        svc("shopfront", "frontend", "eks", "/eks/web/shopfront", ["shop-redis", "shop-pg"], namespace="web", workload="shopfront",
            cluster="web-eks"),
        svc("shop-redis", "cache", "ec2", "/ec2/web/shop-redis", [], workload="shop-redis-asg"),
        svc("shop-pg", "database", "rds", "/aws/rds/instance/shop-pg/postgresql", [], workload="shop-pg"),
    ]
    log = Log(rng)
    ctrls = [("GET", "/cart", "CartsController#show"), ("GET", "/products/{id}", "ProductsController#show"),
             ("POST", "/cart/items", "CartItemsController#create"), ("GET", "/", "HomeController#index")]

    def request(t):
        m, p, c = rng.choice(ctrls)
        p = p.replace("{id}", rng.slug(8))
        rid = rng.uid()
        ip = rng.ip("10.8.")
        fail = t >= onset and "Cart" in c and rng.random() < 0.45
        out = [rails(t, "info", rid, f"Started {m} \"{p}\" for {ip} at {t:%Y-%m-%d %H:%M:%S} +0000"),
               rails(t, "info", rid, f"Processing by {c} as HTML")]
        if fail:
            out += [rails(t, "fatal", rid, ""),
                    rails(t, "fatal", rid, f"NoMethodError (undefined method `price_cents' for nil:NilClass):"),
                    rails(t, "fatal", rid, f"app/presenters/cart_presenter.rb:{rng.choice([41, 42])}:in `line_total'"),
                    rails(t, "info", rid, f"Completed 500 Internal Server Error in {rng.randint(20, 90)}ms (ActiveRecord: {rng.uniform(1, 9):.1f}ms | Allocations: {rng.randint(3000, 9000)})")]
        else:
            out.append(rails(t, "info", rid, f"Completed 200 OK in {rng.randint(15, 180)}ms (Views: {rng.uniform(5, 60):.1f}ms | "
                                             f"ActiveRecord: {rng.uniform(1, 30):.1f}ms | Allocations: {rng.randint(4000, 40000)})"))
        return out
    log.every(start, now, 9, request)

    def redis_timeout(t):
        rid = rng.uid()
        return [rails(t, "error", rid, "Redis::TimeoutError (Connection timed out):"),
                rails(t, "error", rid, f"app/models/session_store.rb:{rng.choice([17, 23])}:in `fetch'")]
    log.every(start, onset, 100, redis_timeout)
    log.every(onset, now, 65, redis_timeout)
    log.every(start, now, 800, lambda t: rails(t, "warn", rng.uid(), f"Rack::Attack throttled {rng.ip('10.8.')} (req/ip)"))
    for k in range(3):
        t = deploy_at + timedelta(seconds=40 + 30 * k)
        log.at(t, f"=> Booting Puma", f"=> Rails 7.2.1 application starting in production",
               f"* Puma version: 6.4.2 (ruby 3.3.4-p94) (\"The Eagle of Durango\")", f"* Listening on http://0.0.0.0:3000")
    redis = Log(rng)
    redis.every(start, now, 200, lambda t: redis_srv(t, f"{rng.randint(10, 5000)} changes in 300 seconds. Saving..."))
    redis.every(start, now, 200, lambda t: redis_srv(t, f"Background saving terminated with success"))
    metrics = [
        metric(rng, now, "shopfront", "ContainerInsights", "pod_cpu_utilization", "Percent", flat(38), 0.08),
        metric(rng, now, "shopfront", "Storefront/Rails", "responses_5xx", "Count", step_at(onset, 1.2, 21), 0.3, 0),
        metric(rng, now, "shopfront", "Storefront/Rails", "redis_timeouts", "Count", step_at(onset, 0.6, 0.95), 0.4, 0),
        metric(rng, now, "shopfront", "Storefront/Rails", "apdex", "None", step_at(onset, 0.96, 0.81), 0.01, 3),
        metric(rng, now, "shop-redis", "AWS/ElastiCache", "EngineCPUUtilization", "Percent", flat(18), 0.1),
        metric(rng, now, "shop-pg", "AWS/RDS", "CPUUtilization", "Percent", flat(23), 0.08),
    ]
    alerts = [
        grafana(rng, now, "ShopfrontServerErrors", {"service": "shopfront", "severity": "critical", "env": "prod"},
                "shopfront 5xx ratio 9.8%", "5xx responses above 2% for 5 minutes", 9.8),
        pagerduty(rng, now + timedelta(minutes=1), "shopfront Apdex below 0.85", "Shopfront", "shopfront/apdex",
                  "Q8SHOP" + rng.hexid(4).upper(), 2231, priority="P2"),
    ]
    changes = [
        change("cfg-shopfront-12", "config", "shopfront", now - timedelta(hours=20), "appconfig", "yui",
               "AppConfig shopfront/prod: gift-wrap banner on", 12),
        change("deploy-shopfront-903", "deploy", "shopfront", deploy_at, "kubernetes", "zane",
               "Rails 7.2 upgrade; cart line items rendered by CartPresenter", 903, 902, "b7d0e44"),
    ]
    cluster = eks_cluster(acct, [("web", "shopfront", 6, 903, "1Gi")], rng=rng)
    write(bundle("rt-shopfront-rails-recurring-redis",
                 "Redis timeouts recurred all day and rise a little after the deploy; the new NoMethodError in the cart "
                 "presenter came with the deploy and is the cause.",
                 now, acct, services, alerts, changes, metrics,
                 [inc("shopfront", 2, "availability", "bad_deploy", "deploy-shopfront-903", "rollback_deployment",
                      ["scale_service", "restart_pods"])], cluster),
          {"shopfront.log": ("/eks/web/shopfront", log), "shop-redis.log": ("/ec2/web/shop-redis", redis)})


# ==================================================================================================
# Missing data
# ==================================================================================================
@scenario
def rt_edge_nginx_no_metrics_timeout():
    """nginx on EC2 has no metrics at all; a config change cuts proxy_read_timeout and its error log fills with timeouts."""
    Log.scale = 3.5
    rng = Rng(7105)
    now = parse("2026-09-09T11:34:00Z")
    acct = "377802114659"
    config_at = now - timedelta(minutes=11)
    onset = config_at + timedelta(seconds=35)
    start = now - timedelta(hours=8)
    services = [
        svc("edge-proxy", "frontend", "ec2", "/ec2/edge/nginx", ["catalog-svc"], workload="edge-proxy-asg"),
        svc("catalog-svc", "api", "ecs", "/ecs/shop/catalog-svc", [], workload="catalog-svc", cluster="shop-ecs"),
    ]
    ng = Log(rng)
    ng.every(start, now, 240, lambda t: nginx_err(rng, t, "warn",
        f"an upstream response is buffered to a temporary file /var/cache/nginx/proxy_temp/{rng.randint(1, 9)}/{rng.randint(10, 99)}/{rng.randint(10**9, 10**10)} "
        f"while reading upstream, client: {rng.ip('198.51.')}, server: shop.example.com, request: \"GET /api/catalog/export?page={rng.randint(1, 400)} HTTP/1.1\", "
        f"upstream: \"http://10.20.4.{rng.randint(2, 250)}:8080/api/catalog/export\", host: \"shop.example.com\""))
    ng.every(start, now, 160, lambda t: nginx_err(rng, t, "error",
        f"open() \"/usr/share/nginx/html/{rng.choice(['favicon.ico', 'apple-touch-icon.png', 'wp-login.php', '.env'])}\" failed "
        f"(2: No such file or directory), client: {rng.ip('203.0.')}, server: shop.example.com, request: \"GET /{rng.slug(6)} HTTP/1.1\", "
        "host: \"shop.example.com\""))
    ng.every(start, now, 700, lambda t: nginx_err(rng, t, "info", f"client {rng.ip('198.51.')} closed keepalive connection"))
    ng.at(config_at + timedelta(seconds=20), nginx_err(rng, config_at + timedelta(seconds=20), "notice", "signal 1 (SIGHUP) received from 2210, reconfiguring", conn=False),
          nginx_err(rng, config_at + timedelta(seconds=20), "notice", "reconfiguring", conn=False))
    ng.every(onset, now, 1.3, lambda t: nginx_err(rng, t, "error",
        f"upstream timed out (110: Connection timed out) while reading response header from upstream, client: {rng.ip('198.51.')}, "
        f"server: shop.example.com, request: \"GET {routes(rng, '/api/catalog/items?page={n}', '/api/catalog/search?q={id}', '/api/catalog/items/{sku}')} HTTP/2.0\", "
        f"upstream: \"http://10.20.4.{rng.randint(2, 250)}:8080{routes(rng, '/api/catalog/items', '/api/catalog/search')}\", host: \"shop.example.com\""))
    cat = Log(rng)
    cat.every(start, now, 5, lambda t: spring_line(t, "INFO", f"http-nio-8080-exec-{rng.randint(1, 64)}", "c.e.catalog.web.AccessLog",
                                                   f"GET {routes(rng, '/api/catalog/items', '/api/catalog/items/{sku}', '/api/catalog/search')} "
                                                   f"200 {int(rng.lognormvariate(5.3, 0.6))}ms"))
    cat.every(start, now, 600, lambda t: spring_line(t, "WARN", "scheduling-1", "c.e.catalog.index.Reindexer",
                                                     f"Reindex of {rng.randint(1000, 9000)} products took {rng.randint(20, 80)}s"))
    cat.every(onset, now, 6, lambda t: spring_line(t, "WARN", f"http-nio-8080-exec-{rng.randint(1, 64)}", "o.a.c.c.C.[.[.[/].[dispatcherServlet]",
                                                   "Servlet.service() for servlet [dispatcherServlet] threw exception: "
                                                   "org.apache.catalina.connector.ClientAbortException: java.io.IOException: Broken pipe"))
    metrics = [
        metric(rng, now, "catalog-svc", "AWS/ECS", "CPUUtilization", "Percent", flat(41), 0.08),
        metric(rng, now, "catalog-svc", "Shop/Catalog", "p99_latency_ms", "Milliseconds", flat(1650), 0.1, 0),
        metric(rng, now, "catalog-svc", "Shop/Catalog", "errors_5xx", "Count", flat(0.4), 0.5, 0),
        metric(rng, now, "catalog-svc", "Shop/Catalog", "requests", "Count", flat(2400), 0.05, 0),
    ]
    pd_key = "edge-synthetics/catalog"
    alerts = [
        pagerduty(rng, now, "Synthetic check failed: https://shop.example.com/api/catalog/items returned 504", "Edge",
                  pd_key, "Q4EDGE" + rng.hexid(4).upper(), 9904, priority="P1", domain="example"),
        pagerduty(rng, now + timedelta(minutes=5), "Synthetic check failed: https://shop.example.com/api/catalog/items returned 504",
                  "Edge", pd_key, "Q4EDGE" + rng.hexid(4).upper(), 9904, event_type="incident.triggered", domain="example"),
    ]
    changes = [
        change("ecs-catalog-svc-td-301", "deploy", "catalog-svc", now - timedelta(hours=11), "ecs", "lena", "Faceted search v2", 301),
        change("cfg-edge-proxy-31", "config", "edge-proxy", config_at, "ssm", "tomas",
               "Update SSM parameter /edge/nginx/proxy_read_timeout: 30s -> 1s", 31),
    ]
    write(bundle("rt-edge-nginx-no-metrics-timeout",
                 "The edge nginx has no metrics; a config change cuts proxy_read_timeout to 1s and the error log fills with "
                 "upstream timeouts; the catalog behind it is as slow as ever and sees clients hang up.",
                 now, acct, services, alerts, changes, metrics,
                 [inc("edge-proxy", 2, "availability", "config_change", "cfg-edge-proxy-31", "revert_config",
                      ["rollback_deployment", "scale_service"])]),
          {"edge-nginx-error.log": ("/ec2/edge/nginx", ng), "catalog-svc.log": ("/ecs/shop/catalog-svc", cat)})


@scenario
def rt_media_ecs_no_logs_deploy():
    """The alerting ECS service ships no logs; a deploy 3 minutes before a 5xx step; its caller's logs name it."""
    Log.scale = 3.2
    rng = Rng(7106)
    now = parse("2026-06-13T22:51:00Z")
    acct = "509347781120"
    deploy_at = now - timedelta(minutes=14)
    onset = deploy_at + timedelta(minutes=3)
    start = now - timedelta(hours=5)
    services = [
        svc("media-web", "frontend", "ecs", "/ecs/media/media-web", ["media-api"], workload="media-web", cluster="media-prod"),
        svc("media-api", "api", "ecs", None, ["media-store"], workload="media-api", cluster="media-prod"),
        svc("media-store", "database", "rds", "/aws/rds/instance/media-store/postgresql", [], workload="media-store"),
    ]
    web = Log(rng)
    web.every(start, now, 4, lambda t: ms.pino(t, "info", "request completed", req={"method": "GET", "url": routes(rng, "/watch/{id}", "/img/{id}/thumb", "/")},
                                               res={"statusCode": 502 if (t >= onset and rng.random() < 0.3) else 200},
                                               responseTime=rng.randint(5, 250)))
    web.every(start, now, 300, lambda t: ms.pino(t, "warn", "slow render", route="/watch/:id", ms=rng.randint(900, 3000)))
    web.every(onset, now, 5, lambda t: ms.pino(t, "error", "media-api responded 500", endpoint="/v1/thumbnails", attempt=rng.randint(1, 2),
                                               asset=rng.slug(12)))
    db = Log(rng)
    db.every(start, now, 90, lambda t: ms.pg(t, rng, "LOG", f"duration: {rng.uniform(1000, 2600):.3f} ms  statement: SELECT * FROM assets WHERE owner_id = $1", db="media"))
    db.every(start, now, 300, lambda t: ms.pg(t, rng, "LOG", "checkpoint complete: wrote 812 buffers (5.0%)", db="media"))
    metrics = [
        metric(rng, now, "media-api", "AWS/ECS", "CPUUtilization", "Percent", step_at(onset, 31, 36), 0.08),
        metric(rng, now, "media-api", "AWS/ECS", "MemoryUtilization", "Percent", flat(52), 0.03),
        metric(rng, now, "media-api", "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "Count", step_at(onset, 0.5, 160), 0.15, 0),
        metric(rng, now, "media-api", "AWS/ApplicationELB", "RequestCount", "Count", flat(4100), 0.05, 0),
        metric(rng, now, "media-api", "AWS/ApplicationELB", "TargetResponseTime", "Seconds", flat(0.09), 0.1, 3),
        metric(rng, now, "media-store", "AWS/RDS", "DatabaseConnections", "Count", flat(88), 0.05, 0),
        metric(rng, now, "media-store", "AWS/RDS", "CPUUtilization", "Percent", flat(19), 0.1),
    ]
    alerts = [
        cw_sns(rng, acct, now, "media-api-alb-5xx", "5xx returned by media-api targets", "AWS/ApplicationELB",
               "HTTPCode_Target_5XX_Count", {"TargetGroup": "targetgroup/media-api/91aa02", "LoadBalancer": "app/media-prod/77c1"}, 160, 25),
        cw_sns(rng, acct, now + timedelta(minutes=4), "media-web-5xx", "5xx returned by media-web", "AWS/ApplicationELB",
               "HTTPCode_Target_5XX_Count", {"TargetGroup": "targetgroup/media-web/5ed1aa", "LoadBalancer": "app/media-prod/77c1"}, 88, 25),
    ]
    changes = [
        change("cfg-media-web-8", "config", "media-web", now - timedelta(minutes=55), "appconfig", "ivo",
               "AppConfig media-web/prod: autoplay previews 10% -> 25%", 8),
        change("ecs-media-api-td-67", "deploy", "media-api", deploy_at, "ecs", "deploy-bot",
               "Task definition media-api:67 (thumbnails through libvips 8.15)", 67, 66, "71dd0e2"),
    ]
    write(bundle("rt-media-ecs-no-logs-deploy",
                 "media-api ships no logs; its 5xx step three minutes after its deploy and its caller's errors naming it decide.",
                 now, acct, services, alerts, changes, metrics,
                 [inc("media-api", 2, "availability", "bad_deploy", "ecs-media-api-td-67", "rollback_deployment",
                      ["scale_service", "revert_config"])]),
          {"media-web.log": ("/ecs/media/media-web", web), "media-store.log": ("/aws/rds/instance/media-store/postgresql", db)})


# ==================================================================================================
# Chains
# ==================================================================================================
@scenario
def rt_wallet_chain_pg_slots():
    """Envoy gateway -> .NET accounts-api -> Postgres (RDS): the database runs out of connection slots."""
    Log.scale = 13.6
    rng = Rng(7107)
    now = parse("2026-10-21T06:12:00Z")
    acct = "143390876021"
    onset = now - timedelta(minutes=9)
    start = now - timedelta(hours=6)
    services = [
        svc("mobile-gw", "frontend", "eks", "/eks/wallet/mobile-gw", ["accounts-api"], namespace="wallet", workload="mobile-gw",
            cluster="wallet-eks"),
        svc("accounts-api", "api", "eks", "/eks/wallet/accounts-api", ["ledger-db"], namespace="wallet", workload="accounts-api",
            cluster="wallet-eks"),
        svc("ledger-db", "database", "rds", "/aws/rds/instance/ledger-db-prod/postgresql", [], workload="ledger-db-prod"),
        svc("fx-rates", "api", "eks", "/eks/wallet/fx-rates", [], namespace="wallet", workload="fx-rates", cluster="wallet-eks"),
    ]
    gw = Log(rng)

    def gw_line(t):
        path = routes(rng, "/v1/accounts/{id}/balance", "/v1/accounts/{id}/transactions?limit=50", "/v1/fx/quote")
        if t >= onset and "accounts" in path and rng.random() < 0.4:
            return envoy(rng, t, "GET", path, 500, "-", rng.randint(30, 200), "api.wallet.example", "10.42.7.19:8080")
        return envoy(rng, t, "GET", path, 200, "-", rng.randint(4, 90), "api.wallet.example", f"10.42.7.{rng.randint(2, 40)}:8080")
    gw.every(start, now, 2.2, gw_line)
    gw.every(start, now, 1200, lambda t: f"[{iso_ms(t)}][{rng.randint(1, 30)}][info][upstream] [source/common/upstream/cds_api_helper.cc:32] cds: add {rng.randint(10, 14)} cluster(s), remove 0 cluster(s)")
    acc = Log(rng)
    acc.every(start, now, 5, lambda t: serilog(t, "info", "HTTP {RequestMethod} {RequestPath} responded {StatusCode} in {Elapsed:0.0000} ms",
                                               "Serilog.AspNetCore.RequestLoggingMiddleware", RequestMethod="GET",
                                               RequestPath=routes(rng, "/accounts/{id}/balance", "/accounts/{id}/transactions"),
                                               StatusCode=200, Elapsed=round(rng.uniform(3, 60), 4)))
    acc.every(start, now, 500, lambda t: serilog(t, "warn", "Statement export for {AccountId} exceeded {Pages} pages",
                                                 "Wallet.Statements.Exporter", AccountId=rng.uid(), Pages=rng.randint(50, 90)))
    acc.every(onset, now, 2, lambda t: serilog(
        t, "error", "Failed executing DbCommand ({Elapsed}ms) against {Database}", "Microsoft.EntityFrameworkCore.Database.Command",
        exc="Npgsql.PostgresException (0x80004005): 53300: sorry, too many clients already\n   at Npgsql.Internal.NpgsqlConnector.ReadMessageLong(...)",
        Elapsed=rng.randint(1, 30), Database="ledger"))
    acc.every(onset, now, 3, lambda t: serilog(t, "error", "HTTP {RequestMethod} {RequestPath} responded {StatusCode} in {Elapsed:0.0000} ms",
                                               "Serilog.AspNetCore.RequestLoggingMiddleware", RequestMethod="GET",
                                               RequestPath=routes(rng, "/accounts/{id}/balance", "/accounts/{id}/transactions"),
                                               StatusCode=500, Elapsed=round(rng.uniform(30, 200), 4)))
    db = Log(rng)
    db.every(start, now, 120, lambda t: ms.pg(t, rng, "LOG", f"duration: {rng.uniform(1000, 1900):.3f} ms  statement: SELECT * FROM entries WHERE account_id = $1 ORDER BY posted_at DESC LIMIT 50", user="wallet", db="ledger"))
    db.every(start, now, 300, lambda t: ms.pg(t, rng, "LOG", f"checkpoint complete: wrote {rng.randint(300, 3000)} buffers", user="", db=""))
    db.every(onset - timedelta(minutes=4), now, 20, lambda t: ms.pg(t, rng, "LOG", f"duration: {rng.uniform(60000, 240000):.3f} ms  statement: SELECT account_id, sum(amount) FROM entries GROUP BY account_id", user="reporting", db="ledger"))
    db.every(onset, now, 1.5, lambda t: ms.pg(t, rng, "FATAL", rng.choice([
        "sorry, too many clients already", "remaining connection slots are reserved for non-replication superuser connections"]),
        user="wallet", db="ledger"))
    fx = Log(rng)
    fx.every(start, now, 12, lambda t: zap_json(t, "info", "quote/handler.go:51", "quote served", pair=rng.choice(["EURUSD", "GBPUSD", "USDJPY"]),
                                                 ms=rng.randint(1, 9)))
    metrics = [
        metric(rng, now, "ledger-db", "AWS/RDS", "DatabaseConnections", "Count", step_at(onset - timedelta(minutes=3), 140, 497, 3), 0.01, 0),
        metric(rng, now, "ledger-db", "AWS/RDS", "CPUUtilization", "Percent", step_at(onset - timedelta(minutes=4), 28, 71, 4), 0.05),
        metric(rng, now, "ledger-db", "AWS/RDS", "FreeStorageSpace", "Bytes", flat(2.1e11), 0.001, 0),
        metric(rng, now, "accounts-api", "Wallet/Accounts", "db_errors", "Count", step_at(onset, 0, 130), 0.1, 0),
        metric(rng, now, "accounts-api", "ContainerInsights", "pod_cpu_utilization", "Percent", flat(24), 0.08),
        metric(rng, now, "mobile-gw", "Wallet/Gateway", "upstream_rq_5xx", "Count", step_at(onset, 1, 110), 0.15, 0),
        metric(rng, now, "mobile-gw", "Wallet/Gateway", "upstream_rq_total", "Count", flat(16000), 0.04, 0),
    ]
    alerts = [
        datadog(rng, now, "mobile-gw 5xx above 1%", "service:mobile-gw,env:prod,team:wallet", "envoy.cluster.upstream_rq_5xx",
                "sum(last_5m):sum:envoy.cluster.upstream_rq_5xx{service:mobile-gw}.as_count() > 200", "5xx from the gateway"),
        grafana(rng, now + timedelta(minutes=1), "AccountsApiErrors", {"service": "accounts-api", "severity": "critical", "team": "wallet"},
                "accounts-api failing requests", "error ratio above 5%", 31.0),
        cw_sns(rng, acct, now + timedelta(minutes=1), "ledger-db-prod-connections-high", "Connections near max_connections",
               "AWS/RDS", "DatabaseConnections", {"DBInstanceIdentifier": "ledger-db-prod"}, 497, 450),
    ]
    changes = [
        change("deploy-mobile-gw-61", "deploy", "mobile-gw", now - timedelta(minutes=52), "kubernetes", "sven",
               "Envoy 1.31.2, retry budget on /v1/fx", 61, 60, "c0ffee1"),
        change("deploy-fx-rates-19", "deploy", "fx-rates", now - timedelta(hours=4), "kubernetes", "anna", "New provider", 19),
    ]
    cluster = eks_cluster(acct, [("wallet", "mobile-gw", 4, 61, "256Mi"), ("wallet", "accounts-api", 6, 233, "768Mi"),
                                 ("wallet", "fx-rates", 2, 19, "256Mi")], rng=rng)
    write(bundle("rt-wallet-chain-pg-slots",
                 "The ledger database runs out of connection slots (a reporting query holds them); accounts-api fails its "
                 "queries and the gateway returns 500s. The gateway's own deploy 52 minutes earlier is innocent.",
                 now, acct, services, alerts, changes, metrics,
                 [inc("accounts-api", 3, "availability", "dependency_failure", "ledger-db", "page_human",
                      ["rollback_deployment", "scale_service", "restart_pods"])], cluster),
          {"mobile-gw.log": ("/eks/wallet/mobile-gw", gw), "accounts-api.log": ("/eks/wallet/accounts-api", acc),
           "ledger-db.log": ("/aws/rds/instance/ledger-db-prod/postgresql", db), "fx-rates.log": ("/eks/wallet/fx-rates", fx)})


@scenario
def rt_booking_chain_seat_deploy():
    """Envoy frontdoor -> Spring booking-api -> Go seat-inventory: a seat-inventory deploy panics and crash-loops."""
    Log.scale = 10.1
    rng = Rng(7108)
    now = parse("2026-12-02T15:03:00Z")
    acct = "602215449870"
    deploy_at = now - timedelta(minutes=12)
    onset = deploy_at + timedelta(minutes=1, seconds=30)
    cfg_at = now - timedelta(minutes=36)
    start = now - timedelta(hours=6)
    services = [
        svc("frontdoor", "frontend", "ecs", "/ecs/booking/frontdoor", ["booking-api"], workload="frontdoor", cluster="booking-ecs"),
        svc("booking-api", "api", "eks", "/eks/booking/booking-api", ["seat-inventory", "pricing-api"], namespace="booking",
            workload="booking-api", cluster="booking-eks"),
        svc("seat-inventory", "api", "eks", "/eks/booking/seat-inventory", [], namespace="booking", workload="seat-inventory",
            cluster="booking-eks"),
        svc("pricing-api", "api", "eks", "/eks/booking/pricing-api", [], namespace="booking", workload="pricing-api",
            cluster="booking-eks"),
    ]
    fd = Log(rng)

    def fd_line(t):
        path = routes(rng, "/api/bookings", "/api/flights/{iata}-{iata}/seats", "/api/bookings/{id}")
        if t >= onset + timedelta(seconds=40) and rng.random() < 0.3:
            return envoy(rng, t, "POST" if path == "/api/bookings" else "GET", path, 503, "URX", rng.randint(900, 3000),
                         "book.example.travel", "-")
        return envoy(rng, t, "GET", path, 200, "-", rng.randint(10, 140), "book.example.travel", f"10.7.1.{rng.randint(2, 60)}:8080")
    fd.every(start, now, 3, fd_line)
    bk = Log(rng)
    bk.every(start, now, 5, lambda t: spring_line(t, "INFO", f"http-nio-8080-exec-{rng.randint(1, 80)}", "c.e.booking.web.RequestLog",
                                                  f"{rng.choice(['GET', 'POST'])} {routes(rng, '/bookings', '/flights/{iata}/seats')} 200 {rng.randint(8, 120)}ms"))
    bk.every(start, now, 400, lambda t: spring_line(t, "WARN", "pricing-client-1", "c.e.booking.pricing.PricingClient",
                                                    f"Pricing quote cache refresh took {rng.randint(1100, 2900)} ms"))
    bk.every(onset, now, 2.5, lambda t: spring_line(t, "ERROR", f"http-nio-8080-exec-{rng.randint(1, 80)}", "c.e.booking.seats.SeatHoldClient",
                                                    f"Seat hold failed for booking {rng.slug(10)}: I/O error on POST request for "
                                                    "\"http://seat-inventory.booking.svc.cluster.local:8080/v1/holds\": Connection refused"))
    bk.every(onset, now, 4, lambda t: spring_line(t, "ERROR", f"http-nio-8080-exec-{rng.randint(1, 80)}", "o.a.c.c.C.[.[.[/].[dispatcherServlet]",
                                                  "Servlet.service() threw exception: org.springframework.web.client.ResourceAccessException"))
    for k in range(4):
        t = cfg_at + timedelta(seconds=15 * k)
        bk.at(t, spring_line(t, "INFO", "appconfig-poller", "c.e.booking.config.FlagPoller", "Feature flags refreshed (version 9): new_receipts=true"))
    seat = Log(rng)
    seat.every(start, deploy_at, 6, lambda t: zap_json(t, "info", "http/server.go:71", "hold placed", flight=f"{rng.choice(['BA', 'AF', 'LH'])}{rng.randint(100, 999)}",
                                                       seat=f"{rng.randint(1, 40)}{rng.choice('ABCDEF')}", ms=rng.randint(1, 12)))
    seat.every(start, now, 600, lambda t: zap_json(t, "warn", "store/pg.go:210", "seat map cache rebuilt", flights=rng.randint(300, 900)))

    def crash(t):
        return [zap_json(t, "info", "cmd/seat/main.go:40", "seat-inventory starting", version="1.77.0", schema="seatmap.v3"),
                "panic: runtime error: invalid memory address or nil pointer dereference",
                f"[signal SIGSEGV: segmentation violation code=0x1 addr=0x18 pc=0x{rng.hexid(7)}]",
                f"goroutine {rng.randint(30, 90)} [running]:",
                "github.com/example/seat-inventory/internal/holds.(*Store).Reserve(0x0, {0xc000, 0x4})",
                "\t/src/internal/holds/store.go:88 +0x3c"]
    seat.every(onset, now, 25, crash)
    pr = Log(rng)
    pr.every(start, now, 10, lambda t: zap_console("info", "quote/quote.go:31", "quote", fare=rng.randint(50, 900), ms=rng.randint(2, 30)))
    metrics = [
        metric(rng, now, "frontdoor", "Booking/Edge", "responses_503", "Count", step_at(onset + timedelta(minutes=1), 0.5, 70), 0.2, 0),
        metric(rng, now, "booking-api", "Booking/Api", "seat_hold_failures", "Count", step_at(onset, 0, 90), 0.15, 0),
        metric(rng, now, "booking-api", "Booking/Api", "requests", "Count", flat(6200), 0.04, 0),
        metric(rng, now, "seat-inventory", "ContainerInsights", "pod_number_of_container_restarts", "Count", step_at(onset, 0, 3, 1), 0.2, 0),
        metric(rng, now, "seat-inventory", "ContainerInsights", "pod_cpu_utilization", "Percent", step_at(onset, 33, 6), 0.2),
    ]
    alerts = [
        datadog(rng, now, "frontdoor 503s above 1%", "service:frontdoor,env:prod", "envoy.http.downstream_rq_5xx",
                "sum(last_5m):sum:envoy.http.downstream_rq_5xx{service:frontdoor}.as_count() > 150", "503s at the front door"),
        grafana(rng, now + timedelta(minutes=1), "SeatHoldFailures", {"service": "booking-api", "severity": "critical"},
                "booking-api cannot place seat holds", "seat_hold_failures above 10/min", 90),
        cw_event(rng, acct, now + timedelta(minutes=2), "booking-eks-seat-inventory-restarts", "Container restarts of seat-inventory",
                 "ContainerInsights", "pod_number_of_container_restarts",
                 {"ClusterName": "booking-eks", "Namespace": "booking", "PodName": "seat-inventory"}, 3, 1),
    ]
    changes = [
        change("cfg-booking-api-9", "config", "booking-api", cfg_at, "appconfig", "ruth", "AppConfig booking-api/prod: new_receipts=true", 9),
        change("deploy-seat-inventory-77", "deploy", "seat-inventory", deploy_at, "kubernetes", "deniz",
               "Seat holds stored with the seatmap v3 schema", 77, 76, "d15ea5e"),
    ]
    pods = [{"namespace": "booking", "name": f"seat-inventory-6d4b{rng.slug(4)}-{rng.slug(5)}", "deployment": "seat-inventory",
             "phase": "Running", "restarts": rng.randint(4, 7), "last_termination_reason": "Error"} for _ in range(3)]
    cluster = eks_cluster(acct, [("booking", "booking-api", 6, 410, "1Gi"), ("booking", "seat-inventory", 3, 77, "256Mi"),
                                 ("booking", "pricing-api", 3, 58, "512Mi")], pods=pods, rng=rng)
    cluster["deployments"][1]["ready"] = 0
    write(bundle("rt-booking-chain-seat-deploy",
                 "A seat-inventory deploy panics at start (nil store) and crash-loops; booking-api's calls are refused; the "
                 "front door returns 503. booking-api's own flag change 36 minutes earlier is innocent.",
                 now, acct, services, alerts, changes, metrics,
                 [inc("booking-api", 3, "availability", "bad_deploy", "deploy-seat-inventory-77", "rollback_deployment",
                      ["scale_service", "revert_config"])], cluster),
          {"frontdoor.log": ("/ecs/booking/frontdoor", fd), "booking-api.log": ("/eks/booking/booking-api", bk),
           "seat-inventory.log": ("/eks/booking/seat-inventory", seat), "pricing-api.log": ("/eks/booking/pricing-api", pr)})


# ==================================================================================================
# Two unrelated incidents in the same ten minutes
# ==================================================================================================
@scenario
def rt_two_at_once_leak_and_lambda_env():
    """A JVM recommender leaks and is OOM-killed while, unrelated, a Lambda's endpoint env var is changed to a dead host."""
    Log.scale = 4.8
    rng = Rng(7109)
    now = parse("2026-04-08T02:40:00Z")
    acct = "884120557763"
    leak_from = now - timedelta(hours=5)
    cfg_at = now - timedelta(minutes=4)
    onset2 = cfg_at + timedelta(seconds=20)
    start = now - timedelta(hours=6)
    services = [
        svc("reco-api", "api", "eks", "/eks/discovery/reco-api", ["feature-store"], namespace="discovery", workload="reco-api",
            cluster="discovery-eks"),
        svc("feature-store", "cache", "ec2", "/ec2/discovery/feature-store", [], workload="feature-store-asg"),
        svc("payhook", "worker", "lambda", "/aws/lambda/payhook", [], workload="payhook"),
    ]
    reco = Log(rng)
    reco.every(start, now, 6, lambda t: spring_line(t, "INFO", f"reactor-http-epoll-{rng.randint(1, 8)}", "c.e.reco.api.Access",
                                                    f"GET /v1/recommendations/{rng.slug(10)} 200 {int(rng.uniform(8, 60) * (1 + max(0, (t - leak_from).total_seconds()) / 9000))}ms"))

    def gc(t):
        frac = max(0.0, (t - leak_from).total_seconds() / (now - leak_from).total_seconds())
        heap = int(900 + 2100 * frac + rng.uniform(-40, 40))
        return spring_line(t, "INFO" if frac < 0.7 else "WARN", "gc-monitor", "c.e.reco.jvm.GcMonitor",
                           f"G1 Old Generation collection took {int(40 + 900 * frac * frac + rng.uniform(0, 30))}ms, heap after GC {heap}MB of 3072MB")
    reco.every(start, now, 45, gc)
    reco.every(now - timedelta(minutes=40), now, 120, lambda t: [
        spring_line(t, "ERROR", f"reactor-http-epoll-{rng.randint(1, 8)}", "c.e.reco.api.ErrorHandler",
                    "Unhandled error: java.lang.OutOfMemoryError: Java heap space"),
        "\tat java.base/java.util.HashMap.resize(HashMap.java:702)",
        "\tat com.example.reco.session.SessionFeatureCache.put(SessionFeatureCache.java:58)"])
    reco.every(start, now, 900, lambda t: spring_line(t, "INFO", "scheduling-1", "c.e.reco.model.ModelLoader",
                                                      f"Model ranker-v{rng.randint(40, 41)} warm ({rng.randint(1200, 1300)} features)"))
    fs = Log(rng)
    fs.every(start, now, 240, lambda t: redis_srv(t, f"{rng.randint(100, 8000)} changes in 300 seconds. Saving..."))
    ph = Log(rng)

    def invoke(t):
        rid = rng.uid()
        out = [f"START RequestId: {rid} Version: $LATEST"]
        if t >= onset2:
            out.append(ms.json.dumps({"level": "error", "time": iso_ms(t), "requestId": rid, "msg": "PSP callback forward failed",
                                      "err": "getaddrinfo ENOTFOUND psp-gw.internal.example", "attempt": rng.randint(1, 3)}))
        else:
            out.append(ms.json.dumps({"level": "info", "time": iso_ms(t), "requestId": rid, "msg": "forwarded PSP callback",
                                      "event": rng.choice(["payment.captured", "refund.settled", "payment.failed"]), "ms": rng.randint(20, 140)}))
        out.append(f"END RequestId: {rid}")
        out.append(f"REPORT RequestId: {rid}\tDuration: {rng.uniform(20, 160):.2f} ms\tBilled Duration: {rng.randint(21, 161)} ms\t"
                   f"Memory Size: 256 MB\tMax Memory Used: {rng.randint(70, 95)} MB")
        return out
    ph.every(start, now, 14, invoke)
    metrics = [
        metric(rng, now, "reco-api", "ContainerInsights", "pod_memory_utilization", "Percent",
               lambda i, t: min(99.0, 31 + 66 * max(0.0, (t - leak_from).total_seconds()) / (now - leak_from).total_seconds()), 0.01),
        metric(rng, now, "reco-api", "ContainerInsights", "pod_cpu_utilization", "Percent", ramp_from(leak_from, 22, 0.05), 0.06),
        metric(rng, now, "reco-api", "Discovery/Reco", "p99_ms", "Milliseconds", ramp_from(leak_from, 80, 0.9), 0.06, 0),
        metric(rng, now, "payhook", "AWS/Lambda", "Errors", "Count", step_at(onset2, 0, 4.5, 1), 0.1, 0),
        metric(rng, now, "payhook", "AWS/Lambda", "Invocations", "Count", flat(4.4), 0.2, 0),
        metric(rng, now, "payhook", "AWS/Lambda", "Duration", "Milliseconds", flat(80), 0.15, 0),
    ]
    alerts = [
        cw_event(rng, acct, now, "discovery-eks-reco-api-memory", "reco-api memory above 90% of limit", "ContainerInsights",
                 "pod_memory_utilization", {"ClusterName": "discovery-eks", "Namespace": "discovery", "PodName": "reco-api"}, 96.8, 90),
        grafana(rng, now + timedelta(minutes=2), "KubePodRestarting", {"service": "reco-api", "namespace": "discovery", "severity": "warning"},
                "reco-api pods restarting (OOMKilled)", "container restarts in the last 15m", 3),
        cw_sns(rng, acct, now + timedelta(minutes=3), "payhook-errors", "payhook invocation errors", "AWS/Lambda", "Errors",
               {"FunctionName": "payhook"}, 4.5, 1),
    ]
    changes = [
        change("deploy-reco-api-322", "deploy", "reco-api", now - timedelta(hours=22), "kubernetes", "bea", "Ranker v41", 322),
        change("cfg-payhook-env-14", "config", "payhook", cfg_at, "ssm", "nadia",
               "Update SSM parameter /prod/payhook/PSP_GATEWAY_HOST: psp-gw.prod.example -> psp-gw.internal.example", 14),
    ]
    pods = [{"namespace": "discovery", "name": f"reco-api-59c7{rng.slug(4)}-{rng.slug(5)}", "deployment": "reco-api", "phase": "Running",
             "restarts": r, "last_termination_reason": "OOMKilled" if r else None} for r in (2, 1, 0, 1)]
    cluster = eks_cluster(acct, [("discovery", "reco-api", 4, 322, "3Gi")], pods=pods, rng=rng)
    write(bundle("rt-two-at-once-leak-and-lambda-env",
                 "reco-api's heap climbs for hours and pods are OOM-killed (no recent change); in the same minutes a Lambda's "
                 "gateway host parameter is changed to a name that does not resolve.",
                 now, acct, services, alerts, changes, metrics,
                 [inc("reco-api", 2, "resource", "memory_leak", None, "restart_pods", ["rollback_deployment", "scale_service"]),
                  inc("payhook", 1, "availability", "config_change", "cfg-payhook-env-14", "revert_config",
                      ["rollback_deployment", "scale_service"])], cluster),
          {"reco-api.log": ("/eks/discovery/reco-api", reco), "feature-store.log": ("/ec2/discovery/feature-store", fs),
           "payhook.log": ("/aws/lambda/payhook", ph)})


# ==================================================================================================
# Attacks that look like load
# ==================================================================================================
@scenario
def rt_login_stuffing_3x():
    """Credential stuffing on a .NET identity service: 3.4x requests, CPU from password hashing, latency; alerts speak of load."""
    Log.scale = 13.3
    rng = Rng(7110)
    now = parse("2026-07-19T03:26:00Z")
    acct = "317764802259"
    onset = now - timedelta(minutes=17)
    start = now - timedelta(hours=6)
    services = [
        svc("identity-svc", "api", "eks", "/eks/iam/identity-svc", ["identity-db"], namespace="iam", workload="identity-svc",
            cluster="core-eks"),
        svc("identity-db", "database", "rds", "/aws/rds/instance/identity-db/postgresql", [], workload="identity-db"),
    ]
    log = Log(rng)
    ctx = "Serilog.AspNetCore.RequestLoggingMiddleware"
    botnet = [rng.ip(rng.choice(["45.", "185.", "103.", "91."])) for _ in range(900)]

    def normal(t):
        path = routes(rng, "/connect/token", "/account/login", "/connect/userinfo", "/.well-known/openid-configuration")
        code = 200 if rng.random() > 0.04 else 401
        return serilog(t, "info", "HTTP {RequestMethod} {RequestPath} responded {StatusCode} in {Elapsed:0.0000} ms", ctx,
                       RequestMethod="POST" if "login" in path or "token" in path else "GET", RequestPath=path, StatusCode=code,
                       Elapsed=round(rng.uniform(40, 160) * (2.5 if t >= onset else 1), 4), ClientIp=rng.ip("10.30."))
    log.every(start, now, 2.0, normal)

    def attack(t):
        ip = rng.choice(botnet)
        user = f"{rng.slug(7)}@{rng.choice(['gmail.com', 'yahoo.com', 'outlook.com', 'mail.ru'])}"
        out = [serilog(t, "warn", "Login failed for {UserName} from {ClientIp}: {Reason}", "Identity.Account.LoginHandler",
                       UserName=user, ClientIp=ip, Reason=rng.choice(["invalid password", "unknown user", "invalid password"])),
               serilog(t, "info", "HTTP {RequestMethod} {RequestPath} responded {StatusCode} in {Elapsed:0.0000} ms", ctx,
                       RequestMethod="POST", RequestPath="/account/login", StatusCode=401,
                       Elapsed=round(rng.uniform(180, 700), 4), ClientIp=ip)]
        if rng.random() < 0.03:
            out.append(serilog(t, "warn", "Account {UserName} locked out after {Attempts} failed attempts", "Identity.Account.Lockout",
                               UserName=user, Attempts=5))
        return out
    log.every(onset, now, 0.75, attack)
    log.every(start, now, 300, lambda t: serilog(t, "info", "Signing key {Kid} valid until {NotAfter}", "Identity.Keys.KeyRing",
                                                 Kid=rng.hexid(8), NotAfter="2026-09-30T00:00:00Z"))
    db = Log(rng)
    db.every(start, now, 200, lambda t: ms.pg(t, rng, "LOG", f"checkpoint complete: wrote {rng.randint(100, 900)} buffers", user="", db=""))
    metrics = [
        metric(rng, now, "identity-svc", "ContainerInsights", "pod_cpu_utilization", "Percent", step_at(onset, 24, 88, 3), 0.05),
        metric(rng, now, "identity-svc", "ContainerInsights", "pod_memory_utilization", "Percent", flat(44), 0.03),
        metric(rng, now, "identity-svc", "Iam/Identity", "RequestsPerMinute", "Count", step_at(onset, 1800, 6100, 3), 0.05, 0),
        metric(rng, now, "identity-svc", "Iam/Identity", "LatencyP99", "Milliseconds", step_at(onset, 210, 940, 3), 0.07, 0),
        metric(rng, now, "identity-svc", "Iam/Identity", "Responses4xx", "Count", step_at(onset, 70, 3900, 3), 0.06, 0),
        metric(rng, now, "identity-db", "AWS/RDS", "CPUUtilization", "Percent", step_at(onset, 14, 33), 0.08),
    ]
    alerts = [
        cw_sns(rng, acct, now, "core-eks-identity-svc-cpu-high", "identity-svc CPU above 80%", "ContainerInsights",
               "pod_cpu_utilization", {"ClusterName": "core-eks", "Namespace": "iam", "PodName": "identity-svc"}, 88.2, 80),
        grafana(rng, now + timedelta(minutes=1), "RequestRateAnomaly", {"service": "identity-svc", "severity": "warning"},
                "identity-svc request rate 3.4x its weekly baseline", "request rate above 2x baseline", 3.4),
        datadog(rng, now + timedelta(minutes=2), "identity-svc p99 latency above 800ms", "service:identity-svc,env:prod",
                "identity.http.latency.p99", "avg(last_5m):avg:identity.http.latency.p99{service:identity-svc} > 800", "slow logins"),
    ]
    changes = [
        change("deploy-identity-svc-118", "deploy", "identity-svc", now - timedelta(hours=3), "kubernetes", "omar",
               "Passkey enrolment screen", 118, 117, "aa7b3c2"),
    ]
    cluster = eks_cluster(acct, [("iam", "identity-svc", 4, 118, "1Gi")], rng=rng)
    write(bundle("rt-login-stuffing-3x",
                 "Credential stuffing from ~900 addresses: 3.4x requests, 401s by the thousand, CPU spent hashing passwords. "
                 "The alerts only speak of CPU, request rate and latency. Scaling out would serve the attacker.",
                 now, acct, services, alerts, changes, metrics,
                 [inc("identity-svc", 3, "performance", "security_event", None, "page_human", list(ALL_WRITES))], cluster),
          {"identity-svc.log": ("/eks/iam/identity-svc", log), "identity-db.log": ("/aws/rds/instance/identity-db/postgresql", db)})


@scenario
def rt_catalog_scraper_waf_rate():
    """A scraper at 4x traffic through Envoy; the WAF rate-based rule blocks part of it; alerts say traffic and latency."""
    Log.scale = 12.0
    rng = Rng(7111)
    now = parse("2026-11-03T13:58:00Z")
    acct = "455190023784"
    onset = now - timedelta(minutes=22)
    start = now - timedelta(hours=5)
    services = [
        svc("catalog-web", "frontend", "ecs", "/ecs/retail/catalog-web", ["product-api"], workload="catalog-web", cluster="retail-ecs"),
        svc("product-api", "api", "ecs", "/ecs/retail/product-api", [], workload="product-api", cluster="retail-ecs"),
    ]
    log = Log(rng)
    scrapers = [f"{rng.choice(['5.188', '45.134', '193.32'])}.{rng.randint(1, 254)}.{rng.randint(1, 254)}" for _ in range(40)]
    sku = [100000]

    def human(t):
        return envoy(rng, t, "GET", routes(rng, "/p/{sku}", "/c/shoes?page={n}", "/search?q={id}", "/"), 200, "-",
                     rng.randint(20, 140) * (3 if t >= onset else 1), "www.example-retail.com", f"10.9.0.{rng.randint(2, 90)}:8080")
    log.every(start, now, 1.6, human)

    def bot(t):
        sku[0] += rng.randint(1, 3)
        ip = rng.choice(scrapers)
        ua = rng.choice(["python-httpx/0.27.0", "Mozilla/5.0 (compatible; Scrapy/2.11)", "Go-http-client/2.0",
                         "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0"])
        r = rng.random()
        if r < 0.35:
            return envoy(rng, t, "GET", f"/p/{sku[0]}", 403, "-", 1, "www.example-retail.com", "-", ip, ua)
        if r < 0.45:
            return envoy(rng, t, "GET", f"/p/{sku[0]}", 429, "RL", 0, "www.example-retail.com", "-", ip, ua)
        return envoy(rng, t, "GET", f"/p/{sku[0]}", 200, "-", rng.randint(150, 900), "www.example-retail.com",
                     f"10.9.0.{rng.randint(2, 90)}:8080", ip, ua)
    log.every(onset, now, 0.5, bot)
    pa = Log(rng)
    pa.every(start, now, 3, lambda t: ms.lf("info", "product served", sku=rng.randint(100000, 999999),
                                            took=f"{rng.uniform(3, 30) * (4 if t >= onset else 1):.1f}ms"))
    pa.every(start, now, 700, lambda t: ms.lf("warn", "price feed stale", age=f"{rng.randint(61, 300)}s"))
    metrics = [
        metric(rng, now, "catalog-web", "AWS/ApplicationELB", "RequestCount", "Count", step_at(onset, 2300, 9600, 2), 0.05, 0),
        metric(rng, now, "catalog-web", "AWS/ApplicationELB", "TargetResponseTime", "Seconds", step_at(onset, 0.08, 0.41, 2), 0.08, 3),
        metric(rng, now, "catalog-web", "AWS/ECS", "CPUUtilization", "Percent", step_at(onset, 29, 79, 2), 0.05),
        metric(rng, now, "catalog-web", "AWS/WAFV2", "BlockedRequests", "Count", step_at(onset, 3, 2600, 2), 0.08, 0),
        metric(rng, now, "catalog-web", "AWS/WAFV2", "AllowedRequests", "Count", step_at(onset, 2300, 7000, 2), 0.05, 0),
        metric(rng, now, "product-api", "AWS/ECS", "CPUUtilization", "Percent", step_at(onset, 21, 66, 2), 0.05),
    ]
    alerts = [
        cw_event(rng, acct, now, "catalog-web-request-count-high", "Requests to catalog-web well above normal",
                 "AWS/ApplicationELB", "RequestCount", {"TargetGroup": "targetgroup/catalog-web/33fa10",
                                                        "LoadBalancer": "app/retail-prod/9d0e"}, 9600, 6000),
        cw_event(rng, acct, now + timedelta(minutes=1), "catalog-web-target-response-time", "catalog-web responding slowly",
                 "AWS/ApplicationELB", "TargetResponseTime", {"TargetGroup": "targetgroup/catalog-web/33fa10",
                                                              "LoadBalancer": "app/retail-prod/9d0e"}, 0.41, 0.25),
    ]
    changes = [
        change("ecs-product-api-td-90", "deploy", "product-api", now - timedelta(hours=6), "ecs", "kim", "Variant images", 90),
    ]
    write(bundle("rt-catalog-scraper-waf-rate",
                 "A scraper walks product ids from 40 addresses at 4x normal traffic; the WAF's rate rule blocks part of it "
                 "(BlockedRequests from 3 to 2600 a minute, 403/429 in the access log). Alerts speak of traffic and latency.",
                 now, acct, services, alerts, changes, metrics,
                 [inc("catalog-web", 2, "performance", "security_event", None, "page_human", list(ALL_WRITES))]),
          {"catalog-web.log": ("/ecs/retail/catalog-web", log), "product-api.log": ("/ecs/retail/product-api", pa)})


# ==================================================================================================
# A slow leak beside a neighbour's deploy; a genuine surge; a case nobody can decide
# ==================================================================================================
@scenario
def rt_quote_engine_slow_leak_neighbour():
    """Kotlin quote-engine leaks for seven hours with no change of its own; a neighbour deploys six minutes before the alert."""
    Log.scale = 4.2
    rng = Rng(7112)
    now = parse("2026-01-28T10:15:00Z")
    acct = "291187430065"
    leak_from = now - timedelta(hours=7)
    neighbour_at = now - timedelta(minutes=6)
    start = now - timedelta(hours=8)
    services = [
        svc("quote-engine", "worker", "eks", "/eks/insure/quote-engine", ["rating-db"], namespace="insure", workload="quote-engine",
            cluster="insure-eks"),
        svc("notif-api", "api", "eks", "/eks/insure/notif-api", [], namespace="insure", workload="notif-api", cluster="insure-eks"),
        svc("rating-db", "database", "rds", None, [], workload="rating-db"),
    ]
    q = Log(rng)
    total = (now - leak_from).total_seconds()

    def frac(t):
        return max(0.0, (t - leak_from).total_seconds() / total)
    q.every(start, now, 7, lambda t: zap_json(t, "info", "quote/worker.kt:88", "quote computed", product=rng.choice(["home", "motor", "pet"]),
                                              ms=int(rng.uniform(20, 90) * (1 + 2 * frac(t) ** 2)), id=rng.uid()))
    q.every(start, now, 60, lambda t: zap_json(t, "warn" if frac(t) > 0.6 else "info", "jvm/GcReporter.kt:31", "gc pause",
                                               collector="G1 Old", pause_ms=int(30 + 1500 * frac(t) ** 2 + rng.uniform(0, 20)),
                                               heap_used_mb=int(700 + 1250 * frac(t) + rng.uniform(-30, 30)), heap_max_mb=2048))
    q.every(start, now, 500, lambda t: zap_json(t, "warn", "rating/Client.kt:140", "rating table refresh retried", attempt=2))
    q.every(now - timedelta(minutes=25), now, 180, lambda t: zap_json(t, "error", "quote/worker.kt:102", "quote failed",
                                                                       error="java.lang.OutOfMemoryError: Java heap space"))
    n = Log(rng)
    n.every(start, now, 9, lambda t: zap_json(t, "info", "http/handler.go:22", "sent", channel=rng.choice(["email", "sms"]), ms=rng.randint(20, 200)))
    for k in range(3):
        t = neighbour_at + timedelta(seconds=30 + 20 * k)
        n.at(t, zap_json(t, "info", "cmd/notif/main.go:19", "notif-api starting", version="3.12.0", templates="2026-01"))
    n.every(neighbour_at + timedelta(minutes=1), now, 45, lambda t: zap_json(t, "warn", "tmpl/render.go:61", "template fallback used",
                                                                              template=rng.choice(["renewal_reminder", "quote_ready"]), locale="cy-GB"))
    metrics = [
        metric(rng, now, "quote-engine", "ContainerInsights", "pod_memory_utilization", "Percent",
               lambda i, t: min(98.0, 33 + 63 * frac(t)), 0.015, minutes=480),
        metric(rng, now, "quote-engine", "ContainerInsights", "pod_cpu_utilization", "Percent", lambda i, t: 30 + 25 * frac(t) ** 2, 0.06,
               minutes=480),
        metric(rng, now, "quote-engine", "Insure/Quotes", "quotes_completed", "Count", flat(410), 0.05, 0, minutes=480),
        metric(rng, now, "notif-api", "ContainerInsights", "pod_cpu_utilization", "Percent", flat(12), 0.1),
        metric(rng, now, "rating-db", "AWS/RDS", "CPUUtilization", "Percent", flat(17), 0.1),
    ]
    alerts = [
        grafana(rng, now, "ContainerMemoryNearLimit", {"service": "quote-engine", "namespace": "insure", "severity": "critical"},
                "quote-engine at 96% of its memory limit", "working set above 90% of limit for 10m", 96.1),
        cw_sns(rng, acct, now + timedelta(minutes=3), "insure-eks-quote-engine-restarts", "quote-engine container restarts",
               "ContainerInsights", "pod_number_of_container_restarts",
               {"ClusterName": "insure-eks", "Namespace": "insure", "PodName": "quote-engine"}, 2, 0),
    ]
    changes = [
        change("deploy-quote-engine-64", "deploy", "quote-engine", now - timedelta(hours=21), "kubernetes", "maja",
               "Motor rating factors 2026-Q1", 64, 63, "77e0a2b"),
        change("deploy-notif-api-540", "deploy", "notif-api", neighbour_at, "kubernetes", "tobi", "Welsh templates", 540, 539, "0b5e11c"),
    ]
    pods = [{"namespace": "insure", "name": f"quote-engine-8f1c{rng.slug(4)}-{rng.slug(5)}", "deployment": "quote-engine",
             "phase": "Running", "restarts": r, "last_termination_reason": "OOMKilled" if r else None} for r in (1, 1, 0)]
    cluster = eks_cluster(acct, [("insure", "quote-engine", 3, 64, "2Gi"), ("insure", "notif-api", 2, 540, "256Mi")], pods=pods, rng=rng)
    write(bundle("rt-quote-engine-slow-leak-neighbour",
                 "quote-engine's heap grows for seven hours with no change of its own since yesterday; a neighbour deploys six "
                 "minutes before the alert and is not the cause.",
                 now, acct, services, alerts, changes, metrics,
                 [inc("quote-engine", 2, "resource", "memory_leak", None, "restart_pods", ["rollback_deployment", "scale_service"])],
                 cluster),
          {"quote-engine.log": ("/eks/insure/quote-engine", q), "notif-api.log": ("/eks/insure/notif-api", n)})


@scenario
def rt_deals_newsletter_surge():
    """A newsletter sends 3x the usual shoppers to deals-api (nginx ingress access log); no security signal; scale out."""
    Log.scale = 12.2
    rng = Rng(7113)
    now = parse("2026-11-27T08:04:00Z")
    acct = "623008114792"
    onset = now - timedelta(minutes=14)
    start = now - timedelta(hours=5)
    services = [
        svc("deals-api", "api", "eks", "/eks/promo/deals-api", ["deals-cache"], namespace="promo", workload="deals-api", cluster="promo-eks"),
        svc("deals-cache", "cache", "ec2", "/ec2/promo/deals-cache", [], workload="deals-cache-asg"),
    ]
    log = Log(rng)

    def line(t, surge=False):
        path = routes(rng, "/deals/today", "/deals/{id}", "/deals/category/{id}")
        if surge:
            path += f"?utm_source=newsletter&utm_campaign=bf-{rng.choice(['early', 'vip'])}&utm_medium=email"
        lat = rng.uniform(0.02, 0.12) * (4 if t >= onset else 1)
        st = 200 if rng.random() > (0.015 if t >= onset else 0.002) else rng.choice([502, 504])
        return (f"{rng.ip(rng.choice(['81.', '86.', '92.', '2.', '176.', '31.']))} - - [{t:%d/%b/%Y:%H:%M:%S} +0000] \"GET {path} HTTP/2.0\" {st} "
                f"{rng.randint(900, 24000)} \"{'https://mail.example-deals.com/' if surge else 'https://www.example-deals.com/'}\" "
                f"\"{rng.choice(UAS)}\" {rng.randint(300, 900)} {lat:.3f} [promo-deals-api-80] [] 10.3.{rng.randint(0, 9)}.{rng.randint(2, 250)}:8080 "
                f"{rng.randint(900, 24000)} {lat - 0.001:.3f} {st} {rng.hexid(32)}")
    log.every(start, now, 1.5, line)
    log.every(onset, now, 0.75, lambda t: line(t, True))
    log.every(start, now, 500, lambda t: f"W{t:%m%d %H:%M:%S}.{t.microsecond:06d}       7 controller.go:1214] Service \"promo/deals-api\" does not have any active Endpoint for TLS passthrough"
              if rng.random() < 0.1 else f"I{t:%m%d %H:%M:%S}.{t.microsecond:06d}       7 event.go:364] \"Event occurred\" object=\"promo/deals-api\" kind=\"Ingress\" reason=\"Sync\"")
    cache = Log(rng)
    cache.every(start, now, 200, lambda t: redis_srv(t, f"{rng.randint(100, 9000)} changes in 300 seconds. Saving..."))
    metrics = [
        metric(rng, now, "deals-api", "ContainerInsights", "pod_cpu_utilization", "Percent", step_at(onset, 31, 92, 4), 0.04),
        metric(rng, now, "deals-api", "ContainerInsights", "pod_memory_utilization", "Percent", step_at(onset, 40, 52, 4), 0.03),
        metric(rng, now, "deals-api", "Promo/Deals", "http_requests", "Count", step_at(onset, 2400, 7300, 4), 0.05, 0),
        metric(rng, now, "deals-api", "Promo/Deals", "http_p95_seconds", "Seconds", step_at(onset, 0.11, 0.46, 4), 0.06, 3),
        metric(rng, now, "deals-api", "Promo/Deals", "http_401_403", "Count", flat(6), 0.3, 0),
        metric(rng, now, "deals-cache", "AWS/ElastiCache", "EngineCPUUtilization", "Percent", step_at(onset, 9, 19), 0.1),
    ]
    alerts = [
        cw_sns(rng, acct, now, "promo-eks-deals-api-cpu", "deals-api CPU above 85%", "ContainerInsights", "pod_cpu_utilization",
               {"ClusterName": "promo-eks", "Namespace": "promo", "PodName": "deals-api"}, 92, 85),
        grafana(rng, now + timedelta(minutes=1), "DealsLatencyHigh", {"service": "deals-api", "severity": "warning", "namespace": "promo"},
                "deals-api p95 0.46s", "p95 above 0.3s for 5m", 0.46),
    ]
    changes = [
        change("deploy-deals-api-77", "deploy", "deals-api", now - timedelta(hours=15), "kubernetes", "lia", "Black Friday landing", 77),
        change("cfg-deals-api-20", "config", "deals-api", now - timedelta(hours=2), "appconfig", "lia", "AppConfig deals-api/prod: bf_banner=on", 20),
    ]
    cluster = eks_cluster(acct, [("promo", "deals-api", 4, 77, "1Gi")], rng=rng)
    write(bundle("rt-deals-newsletter-surge",
                 "A newsletter brings 3x the usual shoppers (many addresses, ordinary browsers, utm tags); CPU and latency "
                 "rise; nothing is rejected. Scale out.",
                 now, acct, services, alerts, changes, metrics,
                 [inc("deals-api", 2, "performance", "traffic_surge", None, "scale_service", ["rollback_deployment", "revert_config"])],
                 cluster),
          {"deals-api-ingress.log": ("/eks/promo/deals-api", log), "deals-cache.log": ("/ec2/promo/deals-cache", cache)})


@scenario
def rt_ledger_sync_undecided():
    """A nightly sync runs 1.6x slower with its usual timeouts a little more often; nothing changed; no dependency alarms."""
    Log.scale = 2.4
    rng = Rng(7114)
    now = parse("2026-03-30T05:47:00Z")
    acct = "700412339581"
    onset = now - timedelta(minutes=30)
    start = now - timedelta(hours=7)
    services = [
        svc("ledger-sync", "batch", "ecs", "/ecs/finance/ledger-sync", ["erp-gateway", "ledger-pg"], workload="ledger-sync",
            cluster="finance-ecs"),
        svc("erp-gateway", "api", "ec2", "/ec2/finance/erp-gateway", [], workload="erp-gateway-asg"),
        svc("ledger-pg", "database", "rds", "/aws/rds/instance/ledger-pg/postgresql", [], workload="ledger-pg"),
    ]
    log = Log(rng)
    log.every(start, now, 6, lambda t: pyline(t, "INFO", "sync.batch",
                                              f"batch {rng.randint(10**5, 10**6)} posted {rng.randint(200, 500)} entries in {rng.uniform(0.4, 1.6) * (1.6 if t >= onset else 1):.2f}s"))
    log.every(start, onset, 240, lambda t: pyline(t, "WARNING", "sync.erp", f"ERP call {rng.choice(['GetInvoices', 'GetCreditNotes'])} timed out after 30s; retry 1/3"))
    log.every(onset, now, 150, lambda t: pyline(t, "WARNING", "sync.erp", f"ERP call {rng.choice(['GetInvoices', 'GetCreditNotes'])} timed out after 30s; retry 1/3"))
    log.every(start, now, 900, lambda t: pyline(t, "INFO", "sync.cursor", f"cursor advanced to {iso(t - timedelta(minutes=5))}"))
    log.every(start, now, 400, lambda t: pyline(t, "ERROR", "sync.rows", f"row {rng.randint(10**6, 10**7)} rejected: currency XDR not supported"))
    erp = Log(rng)
    erp.every(start, now, 15, lambda t: spring_line(t, "INFO", f"http-nio-9090-exec-{rng.randint(1, 40)}", "c.e.erp.Gateway",
                                                    f"{rng.choice(['GetInvoices', 'GetCreditNotes', 'PostJournal'])} ok in {rng.randint(200, 4000)} ms"))
    erp.every(start, now, 300, lambda t: spring_line(t, "WARN", "sap-pool-1", "c.e.erp.SapPool", f"SAP pool at {rng.randint(60, 85)}% of 40"))
    db = Log(rng)
    db.every(start, now, 240, lambda t: ms.pg(t, rng, "LOG", f"automatic vacuum of table \"ledger.public.entries\": index scans: 1, pages: {rng.randint(0, 90)} removed", user="", db=""))
    metrics = [
        metric(rng, now, "ledger-sync", "AWS/ECS", "CPUUtilization", "Percent", flat(44), 0.08),
        metric(rng, now, "ledger-sync", "AWS/ECS", "MemoryUtilization", "Percent", flat(58), 0.03),
        metric(rng, now, "ledger-sync", "Finance/Sync", "BatchSeconds", "Seconds", step_at(onset, 1.0, 1.6, 10), 0.12, 2),
        metric(rng, now, "ledger-sync", "Finance/Sync", "Backlog", "Count", ramp_from(onset, 200, 40), 0.05, 0),
        metric(rng, now, "erp-gateway", "Finance/Erp", "LatencyP90Ms", "Milliseconds", step_at(onset, 2600, 3100, 10), 0.15, 0),
        metric(rng, now, "ledger-pg", "AWS/RDS", "ReadLatency", "Seconds", step_at(onset, 0.002, 0.0028, 10), 0.2, 4),
        metric(rng, now, "ledger-pg", "AWS/RDS", "CPUUtilization", "Percent", flat(31), 0.1),
    ]
    alerts = [
        datadog(rng, now, "ledger-sync backlog above 1000", "service:ledger-sync,env:prod,team:finance-platform",
                "finance.sync.backlog", "avg(last_10m):avg:finance.sync.backlog{service:ledger-sync} > 1000",
                "ledger-sync is falling behind"),
    ]
    changes = [
        change("infra-finance-vpc-2026-03-29", "infra", "erp-gateway", now - timedelta(hours=18), "github", "netops",
               "terraform: NAT gateway in eu-west-1c"),
        change("ecs-ledger-sync-td-45", "deploy", "ledger-sync", now - timedelta(hours=23), "ecs", "fin-ci", "Credit notes paging", 45),
    ]
    write(bundle("rt-ledger-sync-undecided",
                 "A batch falls behind: batches 1.6x slower, its usual ERP timeouts a little more often, the ERP and the "
                 "database a little slower, nothing changed. The evidence does not decide: page a human.",
                 now, acct, services, alerts, changes, metrics,
                 [inc("ledger-sync", 1, "performance", "unknown", None, "page_human", list(ALL_WRITES))]),
          {"ledger-sync.log": ("/ecs/finance/ledger-sync", log), "erp-gateway.log": ("/ec2/finance/erp-gateway", erp),
           "ledger-pg.log": ("/aws/rds/instance/ledger-pg/postgresql", db)})



@scenario
def rt_partner_token_abuse_jwt():
    """Replayed and forged bearer tokens against a .NET partner API at 2.8x traffic; ASP.NET JwtBearer's own wording."""
    rng = Rng(7115)
    Log.scale = 9.0
    now = parse("2026-10-02T19:31:00Z")
    acct = "566120874433"
    onset = now - timedelta(minutes=16)
    start = now - timedelta(hours=6)
    services = [
        svc("partner-api", "api", "ecs", "/ecs/b2b/partner-api", ["orders-core"], workload="partner-api", cluster="b2b-ecs"),
        svc("orders-core", "api", "ecs", "/ecs/b2b/orders-core", [], workload="orders-core", cluster="b2b-ecs"),
    ]
    log = Log(rng)
    ctx = "Serilog.AspNetCore.RequestLoggingMiddleware"

    def ok(t):
        return serilog(t, "info", "HTTP {RequestMethod} {RequestPath} responded {StatusCode} in {Elapsed:0.0000} ms", ctx,
                       RequestMethod=rng.choice(["GET", "POST"]), RequestPath=routes(rng, "/v2/orders/{id}", "/v2/orders", "/v2/catalog/{sku}"),
                       StatusCode=200, Elapsed=round(rng.uniform(20, 140) * (2.2 if t >= onset else 1), 4),
                       PartnerId=f"P{rng.randint(100, 160)}")
    log.every(start, now, 2.2, ok)

    def abuse(t):
        reason = rng.choice(["IDX10223: Lifetime validation failed. The token is expired. ValidTo: '{0}', Current time: '{1}'.",
                             "IDX10503: Signature validation failed. Token does not have a kid. Keys tried: '[PII is hidden]'.",
                             "IDX10214: Audience validation failed. Audiences: '[PII is hidden]'."])
        return [serilog(t, "info", "{AuthenticationScheme} was not authenticated. Failure message: {FailureMessage}",
                        "Microsoft.AspNetCore.Authentication.JwtBearer.JwtBearerHandler", AuthenticationScheme="Bearer",
                        FailureMessage=reason),
                serilog(t, "info", "AuthenticationScheme: {AuthenticationScheme} was challenged.",
                        "Microsoft.AspNetCore.Authentication.JwtBearer.JwtBearerHandler", AuthenticationScheme="Bearer"),
                serilog(t, "info", "HTTP {RequestMethod} {RequestPath} responded {StatusCode} in {Elapsed:0.0000} ms", ctx,
                        RequestMethod="GET", RequestPath=routes(rng, "/v2/orders/{id}", "/v2/catalog/{sku}"), StatusCode=401,
                        Elapsed=round(rng.uniform(1, 6), 4), PartnerId="unknown")]
    log.every(onset, now, 1.2, abuse)
    log.every(start, now, 400, lambda t: serilog(t, "warn", "Partner {PartnerId} exceeded soft quota ({Used}/{Quota})", "B2b.Quotas",
                                                 PartnerId=f"P{rng.randint(100, 160)}", Used=rng.randint(10100, 12000), Quota=10000))
    core = Log(rng)
    core.every(start, now, 5, lambda t: spring_line(t, "INFO", f"http-nio-8080-exec-{rng.randint(1, 50)}", "c.e.orders.Access",
                                                    f"GET /orders/{rng.slug(10)} 200 {rng.randint(5, 60)}ms"))
    metrics = [
        metric(rng, now, "partner-api", "AWS/ApplicationELB", "RequestCount", "Count", step_at(onset, 2100, 5900, 3), 0.05, 0),
        metric(rng, now, "partner-api", "AWS/ApplicationELB", "TargetResponseTime", "Seconds", step_at(onset, 0.07, 0.16, 3), 0.08, 3),
        metric(rng, now, "partner-api", "AWS/ECS", "CPUUtilization", "Percent", step_at(onset, 33, 81, 3), 0.05),
        metric(rng, now, "partner-api", "AWS/ECS", "MemoryUtilization", "Percent", flat(47), 0.03),
        metric(rng, now, "orders-core", "AWS/ECS", "CPUUtilization", "Percent", flat(29), 0.06),
    ]
    alerts = [
        cw_sns(rng, acct, now, "b2b-partner-api-cpu-high", "partner-api CPU above 75%", "AWS/ECS", "CPUUtilization",
               {"ClusterName": "b2b-ecs", "ServiceName": "partner-api"}, 81, 75),
        cw_sns(rng, acct, now + timedelta(minutes=2), "b2b-partner-api-requests-high", "partner-api request count above 4000/min",
               "AWS/ApplicationELB", "RequestCount", {"TargetGroup": "targetgroup/partner-api/0c11ab", "LoadBalancer": "app/b2b/4411"},
               5900, 4000),
    ]
    changes = [change("ecs-partner-api-td-201", "deploy", "partner-api", now - timedelta(hours=5), "ecs", "ci", "Order export paging", 201)]
    write(bundle("rt-partner-token-abuse-jwt",
                 "Forged and replayed bearer tokens at 2.8x the usual traffic; JwtBearer logs them at Information "
                 "(IDX10223/IDX10503, 'was challenged', 401). The alerts speak only of CPU and request count.",
                 now, acct, services, alerts, changes, metrics,
                 [inc("partner-api", 2, "performance", "security_event", None, "page_human", list(ALL_WRITES))]),
          {"partner-api.log": ("/ecs/b2b/partner-api", log), "orders-core.log": ("/ecs/b2b/orders-core", core)})


@scenario
def rt_invoice_deploy_beside_flag():
    """Python invoice service: the deploy (new PDF library) is the culprit; a flag flip of the same service is closer to the onset."""
    rng = Rng(7116)
    Log.scale = 4.0
    now = parse("2026-06-30T12:26:00Z")
    acct = "938207716540"
    deploy_at = now - timedelta(minutes=17)
    flag_at = now - timedelta(minutes=12)
    onset = flag_at + timedelta(seconds=40)
    start = now - timedelta(hours=6)
    services = [
        svc("invoice-api", "api", "eks", "/eks/billing/invoice-api", ["billing-pg"], namespace="billing", workload="invoice-api",
            cluster="billing-eks"),
        svc("billing-pg", "database", "rds", "/aws/rds/instance/billing-pg/postgresql", [], workload="billing-pg"),
    ]
    log = Log(rng)
    log.every(start, now, 3, lambda t: pyline(t, "INFO", "invoice.http", f"{rng.choice(['GET', 'POST'])} "
              f"{routes(rng, '/invoices/{id}', '/invoices/{id}/pdf', '/invoices')} -> 200 ({rng.randint(8, 200)} ms)"))
    log.every(start, now, 300, lambda t: pyline(t, "WARNING", "invoice.tax", f"VAT rate table for {rng.choice(['NO', 'CH', 'IS'])} missing, using default"))
    for k in range(3):
        t = deploy_at + timedelta(seconds=30 + 20 * k)
        log.at(t, pyline(t, "INFO", "gunicorn.error", f"Booting worker with pid: {rng.randint(10, 90)}"))
    log.at(flag_at + timedelta(seconds=10), pyline(flag_at + timedelta(seconds=10), "INFO", "invoice.flags", "flags refreshed: show_vat_breakdown=True"))

    def pdf_fail(t):
        return [pyline(t, "ERROR", "invoice.pdf", f"rendering invoice {rng.slug(10)} failed"),
                "Traceback (most recent call last):",
                "  File \"/app/invoice/pdf.py\", line 31, in render",
                "    from weasyprint import HTML",
                "OSError: cannot load library 'libpango-1.0-0': libpango-1.0-0: cannot open shared object file: No such file or directory"]
    log.every(onset, now, 4, pdf_fail)
    log.every(onset, now, 6, lambda t: pyline(t, "INFO", "invoice.http", f"GET /invoices/{rng.slug(10)}/pdf -> 500 ({rng.randint(3, 30)} ms)"))
    db = Log(rng)
    db.every(start, now, 200, lambda t: ms.pg(t, rng, "LOG", f"checkpoint complete: wrote {rng.randint(100, 900)} buffers", user="", db=""))
    metrics = [
        metric(rng, now, "invoice-api", "ContainerInsights", "pod_cpu_utilization", "Percent", flat(19), 0.08),
        metric(rng, now, "invoice-api", "Billing/Invoices", "pdf_render_failures", "Count", step_at(onset, 0, 28), 0.15, 0),
        metric(rng, now, "invoice-api", "Billing/Invoices", "http_requests", "Count", flat(1300), 0.05, 0),
        metric(rng, now, "billing-pg", "AWS/RDS", "CPUUtilization", "Percent", flat(14), 0.08),
    ]
    alerts = [
        grafana(rng, now, "InvoicePdfFailures", {"service": "invoice-api", "severity": "critical", "namespace": "billing"},
                "invoice-api cannot render PDFs", "pdf_render_failures above 5/min", 28),
        datadog(rng, now + timedelta(minutes=1), "invoice-api 5xx rate above 2%", "service:invoice-api,env:prod",
                "trace.flask.request.errors", "sum(last_5m):sum:trace.flask.request.errors{service:invoice-api}.as_count() > 60",
                "5xx from invoice-api"),
    ]
    changes = [
        change("deploy-invoice-api-57", "deploy", "invoice-api", deploy_at, "kubernetes", "aiko",
               "Render PDFs with WeasyPrint 62 (slim base image)", 57, 56, "5c0d3aa"),
        change("cfg-invoice-api-31", "config", "invoice-api", flag_at, "appconfig", "piet",
               "AppConfig invoice-api/prod: profile invoice-flags v31 show_vat_breakdown=true", 31),
    ]
    cluster = eks_cluster(acct, [("billing", "invoice-api", 3, 57, "512Mi")], rng=rng)
    write(bundle("rt-invoice-deploy-beside-flag",
                 "A deploy switches PDF rendering to WeasyPrint on a slim image without pango; the PDFs fail once the "
                 "first renders come. A flag flip of the same service five minutes later is closer to the onset and innocent.",
                 now, acct, services, alerts, changes, metrics,
                 [inc("invoice-api", 2, "availability", "bad_deploy", "deploy-invoice-api-57", "rollback_deployment",
                      ["revert_config", "scale_service"])], cluster),
          {"invoice-api.log": ("/eks/billing/invoice-api", log), "billing-pg.log": ("/aws/rds/instance/billing-pg/postgresql", db)})



# ==================================================================================================
# Round two: dependencies named by address, keys enumerated with no metrics, Micrometer names, GuardDuty
# ==================================================================================================
@scenario
def rt_orders_chain_pg_by_address():
    """Kong -> Go orders-svc -> Postgres: a runaway plan pins the database's CPU; Go's errors mostly name an address.
    orders-svc's own deploy 25 minutes earlier is innocent."""
    rng = Rng(7117)
    Log.scale = 9.0
    now = parse("2026-09-22T14:44:00Z")
    acct = "318870044215"
    onset = now - timedelta(minutes=11)
    deploy_at = onset - timedelta(minutes=25)
    start = now - timedelta(hours=6)
    services = [
        svc("api-gw", "frontend", "ecs", "/ecs/shop/api-gw", ["orders-svc"], workload="api-gw", cluster="shop-ecs"),
        svc("orders-svc", "api", "ecs", "/ecs/shop/orders-svc", ["orders-pg"], workload="orders-svc", cluster="shop-ecs"),
        svc("orders-pg", "database", "rds", "/aws/rds/instance/orders-pg/postgresql", [], workload="orders-pg"),
    ]
    gw = Log(rng)

    def kong(t):
        bad = t >= onset + timedelta(seconds=30) and rng.random() < 0.3
        st = 504 if bad else 200
        return json.dumps({"started_at": int(t.timestamp() * 1000), "request": {"method": rng.choice(["GET", "POST"]),
                           "uri": routes(rng, "/orders/{id}", "/orders", "/orders/{id}/items")},
                           "response": {"status": st}, "latencies": {"proxy": 60000 if bad else rng.randint(5, 90),
                                                                    "kong": rng.randint(0, 3)},
                           "upstream_uri": "/v1/orders", "service": {"name": "orders"}, "client_ip": rng.ip("100.70.")},
                          separators=(",", ":"))
    gw.every(start, now, 2.5, kong)
    osvc = Log(rng)
    osvc.every(start, now, 3, lambda t: zap_console("info", "http/mw.go:44", "request", path=routes(rng, "/v1/orders/{id}", "/v1/orders"),
                                                    status=200, ms=rng.randint(2, 40) * (20 if t >= onset else 1)))
    osvc.every(start, now, 600, lambda t: zap_console("warn", "cache/lru.go:81", "lru evicted entries", n=rng.randint(100, 900)))
    for k in range(3):
        t = deploy_at + timedelta(seconds=25 + 20 * k)
        osvc.at(t, zap_console("info", "cmd/orders/main.go:33", "orders-svc up", version="4.9.2", pool_max=40))
    osvc.every(onset, now, 2.2, lambda t: zap_console(
        "error", "store/pg.go:129", "query failed",
        err=rng.choice([f"failed to connect to `host=10.0.3.41 user=orders database=orders`: dial error (timeout: dial tcp 10.0.3.41:5432: i/o timeout)",
                        "timeout: context deadline exceeded", "ERROR: canceling statement due to statement timeout (SQLSTATE 57014)"]),
        order=rng.slug(10)))
    osvc.every(onset + timedelta(minutes=1), now, 9, lambda t: zap_console("warn", "store/pool.go:58", "pool exhausted, waiting for a connection",
                                                                           waiting=rng.randint(10, 60), max=40))
    db = Log(rng)
    db.every(start, now, 150, lambda t: ms.pg(t, rng, "LOG", f"automatic analyze of table \"orders.public.order_items\"", user="", db=""))
    db.at(onset - timedelta(minutes=2), ms.pg(onset - timedelta(minutes=2), rng, "LOG", "automatic analyze of table \"orders.public.orders\"", user="", db=""))
    db.every(onset - timedelta(minutes=1), now, 6, lambda t: ms.pg(t, rng, "LOG",
             f"duration: {rng.uniform(25000, 60000):.3f} ms  statement: SELECT o.* FROM orders o JOIN order_items i ON i.order_id = o.id WHERE o.customer_id = $1",
             user="orders", db="orders"))
    db.every(onset, now, 8, lambda t: ms.pg(t, rng, "ERROR", "canceling statement due to statement timeout", user="orders", db="orders"))
    metrics = [
        metric(rng, now, "orders-pg", "AWS/RDS", "CPUUtilization", "Percent", step_at(onset - timedelta(minutes=1), 22, 99, 2), 0.01),
        metric(rng, now, "orders-pg", "AWS/RDS", "ReadIOPS", "Count/Second", step_at(onset - timedelta(minutes=1), 900, 14000, 2), 0.05, 0),
        metric(rng, now, "orders-pg", "AWS/RDS", "DatabaseConnections", "Count", step_at(onset, 60, 160, 3), 0.03, 0),
        metric(rng, now, "orders-svc", "AWS/ECS", "CPUUtilization", "Percent", flat(21), 0.08),
        metric(rng, now, "orders-svc", "Shop/Orders", "p99_latency", "Milliseconds", step_at(onset, 70, 9800), 0.05, 0),
        metric(rng, now, "api-gw", "Shop/Gateway", "responses_5xx", "Count", step_at(onset + timedelta(minutes=1), 1, 95), 0.15, 0),
    ]
    alerts = [
        datadog(rng, now, "api-gw 504s above 2%", "service:api-gw,env:prod", "kong.http.status.504",
                "sum(last_5m):sum:kong.http.status{status:504}.as_count() > 200", "gateway timeouts"),
        cw_sns(rng, acct, now + timedelta(minutes=1), "orders-svc-p99-latency", "orders-svc p99 above 2s", "Shop/Orders",
               "p99_latency", {"Service": "orders-svc"}, 9800, 2000),
        cw_sns(rng, acct, now + timedelta(minutes=2), "orders-pg-cpu-high", "orders-pg CPU above 90%", "AWS/RDS", "CPUUtilization",
               {"DBInstanceIdentifier": "orders-pg"}, 99, 90),
    ]
    changes = [change("ecs-orders-svc-td-131", "deploy", "orders-svc", deploy_at, "ecs", "ci", "Order history endpoint v2 (pagination)", 131, 130, "9d1e0b2")]
    write(bundle("rt-orders-chain-pg-by-address",
                 "After an automatic analyze the database picks a bad plan and its CPU pins at 99%; the Go service's errors "
                 "name its address, not its name; the gateway returns 504. The service's deploy 25 minutes earlier is innocent.",
                 now, acct, services, alerts, changes, metrics,
                 [inc("orders-svc", 3, "performance", "dependency_failure", "orders-pg", "page_human",
                      ["rollback_deployment", "scale_service", "restart_pods"])]),
          {"api-gw.log": ("/ecs/shop/api-gw", gw), "orders-svc.log": ("/ecs/shop/orders-svc", osvc),
           "orders-pg.log": ("/aws/rds/instance/orders-pg/postgresql", db)})


@scenario
def rt_mobile_keys_enumeration_no_metrics():
    """API keys enumerated against a mobile API that has no metrics at all; 3x requests, 403s, 'not recognised'."""
    rng = Rng(7118)
    Log.scale = 9.0
    now = parse("2026-05-19T23:08:00Z")
    acct = "476630928115"
    onset = now - timedelta(minutes=15)
    start = now - timedelta(hours=5)
    services = [svc("mobile-api", "api", "ec2", "/ec2/mobile/mobile-api", [], workload="mobile-api-asg")]
    log = Log(rng)
    log.every(start, now, 2, lambda t: ms.nginx(rng, t, "GET", routes(rng, "/v3/feed", "/v3/profile/{id}", "/v3/items/{n}"), 200,
                                                rng.uniform(0.01, 0.2) * (3 if t >= onset else 1)))

    def probe(t):
        key = rng.hexid(24)
        return [ms.nginx(rng, t, "GET", f"/v3/items/{rng.randint(1000, 999999)}?api_key={key}", 403, rng.uniform(0.001, 0.01)),
                json.dumps({"level": "warning", "ts": iso_ms(t), "logger": "mobile.auth", "msg": f"api key {key[:6]}... not recognised",
                            "client": rng.ip(rng.choice(["141.98.", "80.94.", "193.142."]))})]
    log.every(onset, now, 0.8, probe)
    log.every(start, now, 500, lambda t: json.dumps({"level": "warning", "ts": iso_ms(t), "logger": "mobile.push",
                                                     "msg": f"APNs feedback: {rng.randint(1, 30)} invalid device tokens pruned"}))
    alerts = [
        pagerduty(rng, now, "mobile-api response time above 1s (synthetic)", "Mobile API", "mobile-api/latency",
                  "Q2MOB" + rng.hexid(5).upper(), 4410),
        datadog(rng, now + timedelta(minutes=2), "mobile-api request rate anomaly", "service:mobile-api,env:prod",
                "nginx.net.request_per_s", "anomalies(avg:nginx.net.request_per_s{service:mobile-api}, 'agile', 3) >= 1",
                "requests well above the usual"),
    ]
    changes = [change("deploy-mobile-api-2026-05-19", "deploy", "mobile-api", now - timedelta(hours=2, minutes=10), "codedeploy", "ci",
                      "Feed ranking tweaks", "d-7Q2K", "d-6Z1J")]
    changes[0]["revision"], changes[0]["previous_revision"] = "d-7Q2K", "d-6Z1J"
    write(bundle("rt-mobile-keys-enumeration-no-metrics",
                 "Someone enumerates API keys at 3x the usual request rate; the service has no metrics, its log shows 403s "
                 "and 'api key not recognised'. Security triage, no scale-out.",
                 now, acct, services, alerts, changes, [],
                 [inc("mobile-api", 2, "performance", "security_event", None, "page_human", list(ALL_WRITES))]),
          {"mobile-api.log": ("/ec2/mobile/mobile-api", log)})


@scenario
def rt_render_micrometer_surge():
    """A genuine surge on a Spring service whose metrics are Micrometer's dotted names and CPU a 0-1 fraction."""
    rng = Rng(7119)
    Log.scale = 6.0
    now = parse("2026-12-14T18:31:00Z")
    acct = "204419908357"
    onset = now - timedelta(minutes=18)
    start = now - timedelta(hours=5)
    services = [svc("render-svc", "api", "ecs", "/ecs/media/render-svc", ["asset-store"], workload="render-svc", cluster="media-ecs"),
                svc("asset-store", "database", "rds", None, [], workload="asset-store")]
    log = Log(rng)
    log.every(start, now, 2, lambda t: spring_line(t, "INFO", f"http-nio-8080-exec-{rng.randint(1, 200)}", "c.e.render.web.Access",
                                                   f"GET /render/{rng.slug(12)}.webp?w={rng.choice([320, 640, 1280])} 200 {int(rng.uniform(30, 120) * (3 if t >= onset else 1))}ms"))
    log.every(onset, now, 0.9, lambda t: spring_line(t, "INFO", f"http-nio-8080-exec-{rng.randint(1, 200)}", "c.e.render.web.Access",
                                                     f"GET /render/{rng.slug(12)}.webp?w={rng.choice([320, 640])}&utm_source=tv-ad 200 {int(rng.uniform(80, 400))}ms"))
    log.every(start, now, 400, lambda t: spring_line(t, "WARN", "render-pool-1", "c.e.render.ImagePipeline",
                                                     f"Slow decode of {rng.slug(12)}.heic ({rng.randint(900, 2500)} ms)"))
    log.every(onset + timedelta(minutes=5), now, 40, lambda t: spring_line(t, "WARN", "http-nio-8080-Acceptor", "o.a.t.u.n.NioEndpoint",
                                                                           "Maximum number of threads (200) created for connector with address [null] and port [8080]"))
    metrics = [
        metric(rng, now, "render-svc", "Media/Render", "http.server.requests.count", "Count", step_at(onset, 3100, 9400, 4), 0.05, 0),
        metric(rng, now, "render-svc", "Media/Render", "http.server.requests.p99", "Seconds", step_at(onset, 0.18, 0.95, 4), 0.06, 3),
        metric(rng, now, "render-svc", "Media/Render", "process.cpu.usage", "None", step_at(onset, 0.31, 0.93, 4), 0.04, 3),
        metric(rng, now, "render-svc", "Media/Render", "jvm.threads.live", "Count", step_at(onset, 70, 214, 4), 0.03, 0),
        metric(rng, now, "render-svc", "Media/Render", "http.server.requests.4xx", "Count", flat(12), 0.3, 0),
        metric(rng, now, "asset-store", "AWS/RDS", "CPUUtilization", "Percent", step_at(onset, 18, 29), 0.08),
    ]
    alerts = [
        grafana(rng, now, "RenderLatencyP99", {"service": "render-svc", "severity": "warning"}, "render-svc p99 0.95s",
                "http.server.requests p99 above 0.5s", 0.95),
        cw_event(rng, acct, now + timedelta(minutes=1), "media-ecs-render-svc-cpu", "render-svc CPU above 80%", "AWS/ECS",
                 "CPUUtilization", {"ClusterName": "media-ecs", "ServiceName": "render-svc"}, 91, 80),
    ]
    changes = [change("ecs-render-svc-td-88", "deploy", "render-svc", now - timedelta(hours=20), "ecs", "ci", "AVIF output", 88)]
    metrics.append(metric(rng, now, "render-svc", "AWS/ECS", "CPUUtilization", "Percent", step_at(onset, 30, 91, 4), 0.04))
    write(bundle("rt-render-micrometer-surge",
                 "A TV ad triples image renders (many clients, ordinary 200s); Micrometer metric names and a 0-1 CPU fraction. "
                 "Scale out.",
                 now, acct, services, alerts, changes, metrics,
                 [inc("render-svc", 2, "performance", "traffic_surge", None, "scale_service", ["rollback_deployment"])]),
          {"render-svc.log": ("/ecs/media/render-svc", log)})


@scenario
def rt_guardduty_dos_with_traffic():
    """GuardDuty says an instance of the worker is sending a denial of service; its CPU and outbound traffic soar."""
    rng = Rng(7120)
    Log.scale = 3.0
    now = parse("2026-02-08T09:12:00Z")
    acct = "791120556843"
    onset = now - timedelta(minutes=20)
    start = now - timedelta(hours=5)
    services = [svc("image-worker", "worker", "ec2", "/ec2/media/image-worker", [], workload="image-worker-asg")]
    log = Log(rng)
    log.every(start, now, 4, lambda t: pyline(t, "INFO", "worker.jobs", f"job {rng.uid()} resized {rng.randint(1, 12)} images in {rng.uniform(0.2, 3):.2f}s"))
    log.every(start, now, 300, lambda t: pyline(t, "WARNING", "worker.s3", f"retrying GetObject after SlowDown ({rng.randint(1, 3)}/5)"))
    log.every(onset, now, 30, lambda t: pyline(t, "WARNING", "worker.jobs", f"job {rng.uid()} took {rng.uniform(20, 60):.1f}s (cpu starved?)"))
    instance = f"i-0{rng.hexid(16)}"
    resource = {"resourceType": "Instance", "instanceDetails": {
        "instanceId": instance, "instanceType": "c6i.large", "imageId": "ami-0abc1234def567890",
        "tags": [{"key": "Name", "value": "image-worker"}, {"key": "aws:autoscaling:groupName", "value": "image-worker-asg"}],
        "networkInterfaces": [{"privateIpAddress": rng.ip("10.12."), "vpcId": "vpc-0a1b2c3d"}]}}
    fid = rng.hexid(32)
    from make_suite import guardduty_finding
    alerts = [
        guardduty_finding(rng, acct, now, "Backdoor:EC2/DenialOfService.Tcp",
                          f"EC2 instance {instance} is behaving in a manner that may indicate it is being used to perform a DoS attack.",
                          f"EC2 instance {instance} is behaving in a manner that may indicate it is being used to perform a Denial of Service (DoS) attack using the TCP protocol.",
                          8.0, resource, fid),
        cw_sns(rng, acct, now + timedelta(minutes=1), "image-worker-cpu-high", "image-worker CPU above 85%", "AWS/EC2", "CPUUtilization",
               {"AutoScalingGroupName": "image-worker-asg"}, 97, 85),
        guardduty_finding(rng, acct, now + timedelta(minutes=6), "Backdoor:EC2/DenialOfService.Tcp",
                          f"EC2 instance {instance} is behaving in a manner that may indicate it is being used to perform a DoS attack.",
                          f"EC2 instance {instance} is behaving in a manner that may indicate it is being used to perform a Denial of Service (DoS) attack using the TCP protocol.",
                          8.0, resource, fid, 5),
    ]
    metrics = [
        metric(rng, now, "image-worker", "AWS/EC2", "CPUUtilization", "Percent", step_at(onset, 41, 97, 2), 0.03),
        metric(rng, now, "image-worker", "AWS/EC2", "NetworkOut", "Bytes", step_at(onset, 2.1e8, 9.4e9, 2), 0.05, 0),
        metric(rng, now, "image-worker", "AWS/EC2", "NetworkIn", "Bytes", step_at(onset, 6.0e8, 1.7e9, 2), 0.05, 0),
        metric(rng, now, "image-worker", "Media/Worker", "jobs_completed", "Count", step_at(onset, 140, 60, 2), 0.06, 0),
    ]
    changes = [change("codedeploy-image-worker-d-88", "deploy", "image-worker", now - timedelta(minutes=50), "codedeploy", "ci",
                      "Pillow 10.4", "d-88", "d-87")]
    changes[0]["revision"], changes[0]["previous_revision"] = "d-88", "d-87"
    write(bundle("rt-guardduty-dos-with-traffic",
                 "GuardDuty: an image-worker instance is sending a TCP DoS; its CPU and network soar. A deploy 50 minutes "
                 "earlier is a decoy. Security triage, nothing written.",
                 now, acct, services, alerts, changes, metrics,
                 [inc("image-worker", 3, "security", "security_event", None, "page_human", list(ALL_WRITES))]),
          {"image-worker.log": ("/ec2/media/image-worker", log)})


def pyline(t: datetime, level: str, logger: str, msg: str) -> str:
    return f"{t:%Y-%m-%d %H:%M:%S},{t.microsecond // 1000:03d} {level:<8} {logger}: {msg}"


def main() -> None:
    names = []
    for fn in SCENARIOS:
        fn()
        names.append(fn.__name__.replace("_", "-"))
    sizes = {n: sum(f.stat().st_size for f in (ms.OUT / n).rglob("*") if f.is_file()) for n in names}
    for n, s in sizes.items():
        print(f"{n:45} {s / 1e3:8.0f} KB")
    print(f"{len(SCENARIOS)} bundles in {ms.OUT} ({sum(sizes.values()) / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
