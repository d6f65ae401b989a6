"""CloudWatch Logs and metrics behind the evidence ports."""
from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any

from botocore.exceptions import ClientError

from ..models import ServiceCatalog
from ..ports import LogEvent, MetricSeries, TransientError, WatchkeeperError
from .aws_errors import translate
from .aws_session import default_client


def _ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


ERROR_LEVELS = ("ERROR", "FATAL", "CRITICAL", "WARN", "WARNING")
ERROR_PATTERN = (r"(?i)(error|exception|fatal|fail|timed? ?out|refused|denied|unavailable|rejected|traceback|panic|"
                 r"oom|out of memory|no space|too many)")
INSIGHTS_MAX_LIMIT = 10000


def error_query(limit: int = INSIGHTS_MAX_LIMIT, levels: tuple[str, ...] = ERROR_LEVELS,
                pattern: str | None = ERROR_PATTERN) -> str:
    """The Logs Insights query for an error-focused pull: newest error and warning lines first.

    Structured logs are matched on their `level` field, plain text on the message pattern.
    """
    if not 1 <= limit <= INSIGHTS_MAX_LIMIT:
        raise ValueError(f"an Insights query returns 1 to {INSIGHTS_MAX_LIMIT} rows, not {limit}")
    conditions = []
    if levels:
        conditions.append("level in [" + ", ".join(json.dumps(lv) for lv in levels) + "]")
    if pattern:
        if "/" in pattern:
            raise ValueError("the message pattern may not contain '/' (it delimits the Insights regex)")
        conditions.append(f"@message like /{pattern}/")
    lines = ["fields @timestamp, @message, @logStream"]
    if conditions:
        lines.append("filter " + " or ".join(conditions))
    lines += ["sort @timestamp desc", f"limit {limit}"]
    return "\n| ".join(lines)


def _insights_time(value: str) -> datetime:
    """Insights' @timestamp: '2026-09-20 21:04:00.123', in UTC."""
    return datetime.strptime(value, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=timezone.utc)


class CloudWatchLogSource:
    """FilterLogEvents with pagination and a line/byte budget; Logs Insights for large groups.

    A group is large when it is named in `large_groups` or when FilterLogEvents runs out
    of budget before the end of the window (FilterLogEvents reads oldest first, so the
    newest lines, the ones that matter, would be cut). For a large group an Insights
    query pulls the newest error lines of the whole window, polled for at most `max_wait`
    seconds (partial results are kept when the bound is hit).
    """

    def __init__(self, client: Any = None, *, large_groups: Iterable[str] = (), insights_limit: int = INSIGHTS_MAX_LIMIT,
                 poll_interval: float = 1.0, max_wait: float = 45.0,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic):
        self._logs = client or default_client("logs")
        self._large = set(large_groups)
        self._insights_limit = insights_limit
        self._poll_interval = poll_interval
        self._max_wait = max_wait
        self._sleep = sleep
        self._clock = clock

    def fetch(self, log_group: str, start: datetime, end: datetime, *, max_events: int = 20000,
              max_bytes: int = 8_000_000, filter_pattern: str | None = None) -> list[LogEvent]:
        if log_group in self._large:
            return self._insights(log_group, start, end, max_events, max_bytes)
        kwargs: dict[str, Any] = {"logGroupName": log_group, "startTime": _ms(start), "endTime": _ms(end)}
        if filter_pattern:
            kwargs["filterPattern"] = filter_pattern
        events: list[LogEvent] = []
        size = 0
        while True:
            try:
                resp = self._logs.filter_log_events(**kwargs)
            except ClientError as exc:
                if exc.response["Error"]["Code"] == "ResourceNotFoundException":
                    return events
                raise translate(exc, f"read logs of {log_group}") from exc
            for e in resp.get("events", []):
                size += len(e["message"])
                if len(events) >= max_events or size > max_bytes:
                    if filter_pattern:
                        return events
                    self._large.add(log_group)       # remembered for this container's next incidents
                    try:
                        queried = self._insights(log_group, start, end, max_events, max_bytes)
                    except WatchkeeperError:
                        return events                # the budgeted read is still evidence
                    return _merge(events, queried, max_events, max_bytes)
                events.append(LogEvent(at=datetime.fromtimestamp(e["timestamp"] / 1000, tz=timezone.utc),
                                       message=e["message"], log_group=log_group))
            token = resp.get("nextToken")
            if not token:
                return events
            kwargs["nextToken"] = token

    def insights_query(self, log_group: str, start: datetime, end: datetime, query: str, limit: int = 1000) -> str:
        """Start a Logs Insights query for a large group; returns the query id (results via get_query_results)."""
        try:
            return self._logs.start_query(logGroupName=log_group, startTime=int(start.timestamp()),
                                          endTime=math.ceil(end.timestamp()), queryString=query, limit=limit)["queryId"]
        except ClientError as exc:
            raise translate(exc, f"query logs of {log_group}") from exc

    def _insights(self, log_group: str, start: datetime, end: datetime, max_events: int, max_bytes: int) -> list[LogEvent]:
        limit = max(1, min(max_events, self._insights_limit, INSIGHTS_MAX_LIMIT))
        query_id = self.insights_query(log_group, start, end, error_query(limit), limit=limit)
        deadline = self._clock() + self._max_wait
        while True:
            try:
                resp = self._logs.get_query_results(queryId=query_id)
            except ClientError as exc:
                raise translate(exc, f"read the Insights results of {log_group}") from exc
            status = resp.get("status")
            if status == "Complete":
                break
            if status in ("Failed", "Cancelled", "Timeout", "Unknown"):
                raise TransientError(f"the Logs Insights query on {log_group} ended {status}")
            if self._clock() >= deadline:
                try:
                    self._logs.stop_query(queryId=query_id)
                except ClientError:
                    pass                      # it may have finished meanwhile; the partial rows are what we have
                break
            self._sleep(self._poll_interval)
        return _rows_to_events(resp.get("results", []), log_group, start, end, max_events, max_bytes)


def _rows_to_events(rows: list[list[dict[str, str]]], log_group: str, start: datetime, end: datetime,
                    max_events: int, max_bytes: int) -> list[LogEvent]:
    """Insights rows (newest first) into events, oldest first, within the window and the budget."""
    events: list[LogEvent] = []
    size = 0
    for row in rows:
        fields = {f["field"]: f.get("value", "") for f in row}
        if "@timestamp" not in fields or "@message" not in fields:
            continue
        at = _insights_time(fields["@timestamp"])
        if not start <= at <= end:
            continue
        size += len(fields["@message"])
        if len(events) >= max_events or size > max_bytes:
            break
        events.append(LogEvent(at=at, message=fields["@message"], log_group=log_group))
    return sorted(events, key=lambda e: e.at)


def _merge(read: list[LogEvent], queried: list[LogEvent], max_events: int, max_bytes: int) -> list[LogEvent]:
    """What FilterLogEvents read before the budget ran out plus the Insights pull, each line once,
    the newest kept when the two together exceed the budget."""
    seen = {(int(e.at.timestamp() * 1000), e.message) for e in read}
    merged = sorted(read + [e for e in queried if (int(e.at.timestamp() * 1000), e.message) not in seen],
                    key=lambda e: e.at)
    kept: list[LogEvent] = []
    size = 0
    for e in reversed(merged):
        size += len(e.message)
        if len(kept) >= max_events or size > max_bytes:
            break
        kept.append(e)
    return kept[::-1]


# The standard metrics a responder looks at, by platform; plus whatever the application
# namespace publishes for the service (discovered with ListMetrics on its dimension).
_PLATFORM_METRICS: dict[str, list[tuple[str, str, str]]] = {
    "eks": [("ContainerInsights", "pod_cpu_utilization", "Service"), ("ContainerInsights", "pod_memory_utilization", "Service")],
    "ecs": [("AWS/ECS", "CPUUtilization", "ServiceName"), ("AWS/ECS", "MemoryUtilization", "ServiceName")],
    "lambda": [("AWS/Lambda", "Errors", "FunctionName"), ("AWS/Lambda", "Duration", "FunctionName"),
               ("AWS/Lambda", "Throttles", "FunctionName")],
    "ec2": [("AWS/EC2", "CPUUtilization", "AutoScalingGroupName")],
    "rds": [("AWS/RDS", "CPUUtilization", "DBInstanceIdentifier"), ("AWS/RDS", "FreeStorageSpace", "DBInstanceIdentifier"),
            ("AWS/RDS", "DatabaseConnections", "DBInstanceIdentifier")],
}


class CloudWatchMetricSource:
    """GetMetricData for a service's metrics, found with ListMetrics on its service dimension."""

    def __init__(self, catalog: ServiceCatalog, client: Any = None, period: int = 60):
        self._cw = client or default_client("cloudwatch")
        self._catalog = catalog
        self._period = period

    def _metrics_of(self, service: str) -> list[dict[str, Any]]:
        info = self._catalog.get(service)
        names = {service, *(info.aliases if info else []), *([info.workload] if info and info.workload else [])}
        found: dict[tuple, dict[str, Any]] = {}
        try:
            for dim in ("Service", "ServiceName", "FunctionName", "AutoScalingGroupName", "DBInstanceIdentifier"):
                for name in names:
                    paginator = self._cw.get_paginator("list_metrics")
                    for page in paginator.paginate(Dimensions=[{"Name": dim, "Value": name}]):
                        for m in page.get("Metrics", []):
                            key = (m["Namespace"], m["MetricName"], tuple(sorted((d["Name"], d["Value"]) for d in m["Dimensions"])))
                            found[key] = m
        except ClientError as exc:
            raise translate(exc, f"list metrics of {service}") from exc
        return list(found.values())

    def series_for(self, service: str, start: datetime, end: datetime) -> list[MetricSeries]:
        metrics = self._metrics_of(service)
        out: list[MetricSeries] = []
        for i in range(0, len(metrics), 100):
            chunk = metrics[i:i + 100]
            queries = [{"Id": f"m{j}", "MetricStat": {"Metric": m, "Period": self._period, "Stat": "Average"},
                        "ReturnData": True} for j, m in enumerate(chunk)]
            values: dict[str, list[tuple[datetime, float]]] = {q["Id"]: [] for q in queries}
            kwargs: dict[str, Any] = {"MetricDataQueries": queries, "StartTime": start, "EndTime": end,
                                      "ScanBy": "TimestampAscending"}
            try:
                while True:
                    resp = self._cw.get_metric_data(**kwargs)
                    for r in resp.get("MetricDataResults", []):
                        values[r["Id"]] += list(zip(r.get("Timestamps", []), r.get("Values", [])))
                    if not resp.get("NextToken"):
                        break
                    kwargs["NextToken"] = resp["NextToken"]
            except ClientError as exc:
                raise translate(exc, f"read metrics of {service}") from exc
            for j, m in enumerate(chunk):
                pts = sorted((t.astimezone(timezone.utc), float(v)) for t, v in values[f"m{j}"])
                if pts:
                    out.append(MetricSeries(service=service, namespace=m["Namespace"], name=m["MetricName"],
                                            unit=None, points=pts))
        return out


class CloudWatchAlarms:
    def __init__(self, client: Any = None):
        self._cw = client or default_client("cloudwatch")

    def states(self, alarm_names: list[str]) -> dict[str, str]:
        if not alarm_names:
            return {}
        try:
            resp = self._cw.describe_alarms(AlarmNames=list(alarm_names)[:100])
        except ClientError as exc:
            raise translate(exc, "describe alarms") from exc
        return {a["AlarmName"]: a["StateValue"] for a in resp.get("MetricAlarms", [])}
