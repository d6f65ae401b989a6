"""CloudWatch Logs and metrics behind the evidence ports."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import boto3
from botocore.exceptions import ClientError

from ..models import ServiceCatalog
from ..ports import LogEvent, MetricSeries
from .aws_errors import translate


def _ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


class CloudWatchLogSource:
    """FilterLogEvents with pagination and a line/byte budget (newest context is what matters)."""

    def __init__(self, client: Any = None):
        self._logs = client or boto3.client("logs")

    def fetch(self, log_group: str, start: datetime, end: datetime, *, max_events: int = 20000,
              max_bytes: int = 8_000_000, filter_pattern: str | None = None) -> list[LogEvent]:
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
                    return events
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
                                          endTime=int(end.timestamp()), queryString=query, limit=limit)["queryId"]
        except ClientError as exc:
            raise translate(exc, f"query logs of {log_group}") from exc


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
        self._cw = client or boto3.client("cloudwatch")
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
        self._cw = client or boto3.client("cloudwatch")

    def states(self, alarm_names: list[str]) -> dict[str, str]:
        if not alarm_names:
            return {}
        try:
            resp = self._cw.describe_alarms(AlarmNames=list(alarm_names)[:100])
        except ClientError as exc:
            raise translate(exc, "describe alarms") from exc
        return {a["AlarmName"]: a["StateValue"] for a in resp.get("MetricAlarms", [])}
