"""Parse raw alert payloads from every source into normalized `Alert`s.

Each source's body is validated by its own pydantic model (a discriminated union on
`source`); anything that does not fit raises `InvalidAlert` with a reason a responder can
act on, so the caller can quarantine it and go on with the rest of its batch.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from ..models.alerts import Alert


class InvalidAlert(ValueError):
    """A payload that cannot be understood as its source."""


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


# --- CloudWatch alarm (SNS notification and EventBridge event) -------------------------

class _Dimension(_Lenient):
    name: str
    value: str


class _Trigger(_Lenient):
    MetricName: str | None = None
    Namespace: str | None = None
    Dimensions: list[_Dimension] = Field(default_factory=list)
    Metrics: list[dict[str, Any]] = Field(default_factory=list)


class _AlarmMessage(_Lenient):
    AlarmName: str
    AlarmDescription: str | None = None
    NewStateValue: Literal["ALARM", "OK", "INSUFFICIENT_DATA"]
    NewStateReason: str = ""
    StateChangeTime: datetime
    AlarmArn: str | None = None
    Trigger: _Trigger | None = None


class _SnsNotification(_Lenient):
    Type: Literal["Notification"] = "Notification"
    MessageId: str
    Message: str
    Subject: str | None = None
    Timestamp: datetime | None = None


class _MetricRef(_Lenient):
    namespace: str | None = None
    name: str | None = None
    dimensions: dict[str, str] = Field(default_factory=dict)


class _MetricStat(_Lenient):
    metric: _MetricRef


class _AlarmMetric(_Lenient):
    metricStat: _MetricStat | None = None


class _AlarmConfiguration(_Lenient):
    description: str | None = None
    metrics: list[_AlarmMetric] = Field(default_factory=list)


class _AlarmState(_Lenient):
    value: Literal["ALARM", "OK", "INSUFFICIENT_DATA"]
    reason: str = ""
    timestamp: datetime | None = None


class _AlarmDetail(_Lenient):
    alarmName: str
    state: _AlarmState
    configuration: _AlarmConfiguration = Field(default_factory=_AlarmConfiguration)


class _AlarmEvent(_Lenient):
    id: str
    detail_type: Literal["CloudWatch Alarm State Change"] = Field(alias="detail-type")
    time: datetime
    resources: list[str] = Field(default_factory=list)
    detail: _AlarmDetail


# --- PagerDuty V3 webhook ---------------------------------------------------------------

class _Ref(_Lenient):
    summary: str | None = None


class _PdIncident(_Lenient):
    id: str
    title: str = ""
    status: str | None = None
    incident_key: str | None = None
    html_url: str | None = None
    service: _Ref | None = None
    priority: _Ref | None = None
    urgency: str | None = None
    created_at: datetime | None = None


class _PdEvent(_Lenient):
    id: str
    event_type: str
    occurred_at: datetime
    data: _PdIncident


class _PagerDutyBody(_Lenient):
    event: _PdEvent


# --- Grafana Alerting webhook -------------------------------------------------------------

class _GrafanaAlert(_Lenient):
    status: Literal["firing", "resolved"]
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: datetime | None = None
    fingerprint: str | None = None
    generatorURL: str | None = None

    @field_validator("labels", "annotations", mode="before")
    @classmethod
    def _stringify(cls, v: Any) -> Any:
        if isinstance(v, dict):
            return {str(k): str(val) for k, val in v.items()}
        return v


class _GrafanaBody(_Lenient):
    receiver: str | None = None
    status: str | None = None
    alerts: list[_GrafanaAlert] = Field(min_length=1)
    groupKey: str | None = None


# --- Datadog monitor webhook ----------------------------------------------------------------

class _DatadogBody(_Lenient):
    id: str
    title: str
    alert_id: str | None = None
    alert_transition: str | None = None
    alert_type: str | None = None
    alert_metric: str | None = None
    alert_scope: str | None = None
    priority: str | None = None
    tags: str | list[str] = ""
    date: str | int | None = None
    last_updated: str | int | None = None
    body: str = ""

    @field_validator("id", "alert_id", mode="before")
    @classmethod
    def _as_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int) else v


# --- GuardDuty and Security Hub findings (EventBridge) --------------------------------------

class _FindingService(_Lenient):
    archived: bool = False
    count: int = 1
    eventFirstSeen: datetime | None = None
    eventLastSeen: datetime | None = None


class _GuardDutyFinding(_Lenient):
    id: str
    type: str
    title: str = ""
    description: str = ""
    severity: float = 0.0
    resource: dict[str, Any] = Field(default_factory=dict)
    service: _FindingService = Field(default_factory=_FindingService)
    createdAt: datetime | None = None
    updatedAt: datetime | None = None


class _GuardDutyEvent(_Lenient):
    id: str
    detail_type: Literal["GuardDuty Finding"] = Field(alias="detail-type")
    source: Literal["aws.guardduty"] = "aws.guardduty"
    time: datetime
    detail: _GuardDutyFinding


class _AsffSeverity(_Lenient):
    Label: str | None = None
    Normalized: int | None = None


class _AsffResource(_Lenient):
    Type: str = ""
    Id: str = ""
    Tags: dict[str, str] = Field(default_factory=dict)
    Details: dict[str, Any] = Field(default_factory=dict)


class _AsffFinding(_Lenient):
    Id: str
    Title: str = ""
    Description: str = ""
    Types: list[str] = Field(default_factory=list)
    Severity: _AsffSeverity = Field(default_factory=_AsffSeverity)
    Resources: list[_AsffResource] = Field(default_factory=list)
    Workflow: dict[str, Any] = Field(default_factory=dict)
    RecordState: str = "ACTIVE"
    ProductName: str | None = None
    UpdatedAt: datetime | None = None


class _SecurityHubDetail(_Lenient):
    findings: list[_AsffFinding] = Field(min_length=1)


class _SecurityHubEvent(_Lenient):
    id: str
    detail_type: Literal["Security Hub Findings - Imported", "Security Hub Findings - Custom Action"] = Field(
        alias="detail-type")
    time: datetime
    detail: _SecurityHubDetail


# --- the discriminated union ----------------------------------------------------------------

class _Delivery(BaseModel):
    received_at: datetime


class CloudWatchSnsDelivery(_Delivery):
    source: Literal["cloudwatch-sns"]
    payload: _SnsNotification


class CloudWatchEventDelivery(_Delivery):
    source: Literal["cloudwatch-eventbridge"]
    payload: _AlarmEvent


class PagerDutyDelivery(_Delivery):
    source: Literal["pagerduty"]
    payload: _PagerDutyBody


class GrafanaDelivery(_Delivery):
    source: Literal["grafana"]
    payload: _GrafanaBody


class DatadogDelivery(_Delivery):
    source: Literal["datadog"]
    payload: _DatadogBody


class GuardDutyDelivery(_Delivery):
    source: Literal["guardduty"]
    payload: _GuardDutyEvent


class SecurityHubDelivery(_Delivery):
    source: Literal["securityhub"]
    payload: _SecurityHubEvent


Delivery = Annotated[
    Union[CloudWatchSnsDelivery, CloudWatchEventDelivery, PagerDutyDelivery, GrafanaDelivery, DatadogDelivery,
          GuardDutyDelivery, SecurityHubDelivery],
    Field(discriminator="source"),
]
_DELIVERY = TypeAdapter(Delivery)

_DIMENSION_KEYS = ("Service", "ServiceName", "service", "FunctionName", "DBInstanceIdentifier",
                   "AutoScalingGroupName", "Deployment", "PodName", "TargetGroup", "LoadBalancer",
                   "CacheClusterId", "QueueName")


def parse_delivery(source: str, payload: Any, received_at: datetime | str) -> list[Alert]:
    """Every alert in one delivery, normalized. Raises `InvalidAlert` with the reason."""
    if isinstance(payload, (str, bytes)):
        try:
            payload = json.loads(payload)
        except ValueError as exc:
            raise InvalidAlert(f"{source}: body is not JSON ({exc})") from None
    try:
        delivery = _DELIVERY.validate_python({"source": source, "payload": payload, "received_at": received_at})
    except ValidationError as exc:
        raise InvalidAlert(_explain(source, exc)) from None
    if isinstance(delivery, CloudWatchSnsDelivery):
        return [a for a in [_from_sns(delivery)] if a is not None]
    if isinstance(delivery, CloudWatchEventDelivery):
        return [a for a in [_from_event(delivery)] if a is not None]
    if isinstance(delivery, PagerDutyDelivery):
        return [a for a in [_from_pagerduty(delivery)] if a is not None]
    if isinstance(delivery, GrafanaDelivery):
        return [_from_grafana(delivery, i, a) for i, a in enumerate(delivery.payload.alerts)]
    if isinstance(delivery, GuardDutyDelivery):
        return [_from_guardduty(delivery)]
    if isinstance(delivery, SecurityHubDelivery):
        return [_from_securityhub(delivery, f) for f in delivery.payload.detail.findings]
    return [_from_datadog(delivery)]


def _explain(source: str, exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"] if p != "payload")
    if first["type"] == "union_tag_invalid":
        return f"unknown alert source {source!r}"
    return f"{source}: {where or 'payload'}: {first['msg']}"


def _utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


def _digest(*parts: Any) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:16]


def _hints_from_dimensions(dims: dict[str, str]) -> list[str]:
    return [dims[k] for k in _DIMENSION_KEYS if dims.get(k)]


def _from_sns(d: CloudWatchSnsDelivery) -> Alert | None:
    """None for INSUFFICIENT_DATA: an alarm without data neither fires nor resolves."""
    try:
        msg = _AlarmMessage.model_validate_json(d.payload.Message)
    except ValidationError as exc:
        raise InvalidAlert(_explain("cloudwatch-sns", exc).replace("cloudwatch-sns:", "cloudwatch-sns: Message.", 1)) from None
    if msg.NewStateValue == "INSUFFICIENT_DATA":
        return None
    trigger = msg.Trigger or _Trigger()
    dims = {x.name: x.value for x in trigger.Dimensions}
    namespace, metric = trigger.Namespace, trigger.MetricName
    if not metric and trigger.Metrics:
        stat = (trigger.Metrics[0].get("MetricStat") or {}).get("Metric") or {}
        namespace, metric = stat.get("Namespace"), stat.get("MetricName")
        dims = {x.get("name", ""): x.get("value", "") for x in stat.get("Dimensions", [])}
    return Alert(
        delivery_id=f"sns:{d.payload.MessageId}",
        fingerprint=f"cloudwatch:{msg.AlarmArn or msg.AlarmName}",
        source="cloudwatch-sns",
        status="firing" if msg.NewStateValue == "ALARM" else "resolved",
        title=msg.AlarmName,
        description=" ".join(x for x in (msg.AlarmDescription, msg.NewStateReason) if x),
        received_at=_utc(d.received_at),
        started_at=_utc(msg.StateChangeTime),
        service_hints=_hints_from_dimensions(dims) + [msg.AlarmName],
        metric_namespace=namespace, metric_name=metric, dimensions=dims,
        labels={"alarm_name": msg.AlarmName},
    )


def _from_event(d: CloudWatchEventDelivery) -> Alert | None:
    detail = d.payload.detail
    if detail.state.value == "INSUFFICIENT_DATA":
        return None
    metric = next((m.metricStat.metric for m in detail.configuration.metrics if m.metricStat), None)
    dims = dict(metric.dimensions) if metric else {}
    arn = d.payload.resources[0] if d.payload.resources else detail.alarmName
    return Alert(
        delivery_id=f"events:{d.payload.id}",
        fingerprint=f"cloudwatch:{arn}",
        source="cloudwatch-eventbridge",
        status="firing" if detail.state.value == "ALARM" else "resolved",
        title=detail.alarmName,
        description=" ".join(x for x in (detail.configuration.description, detail.state.reason) if x),
        received_at=_utc(d.received_at),
        started_at=_utc(detail.state.timestamp or d.payload.time),
        service_hints=_hints_from_dimensions(dims) + [detail.alarmName],
        metric_namespace=metric.namespace if metric else None,
        metric_name=metric.name if metric else None,
        dimensions=dims, labels={"alarm_name": detail.alarmName},
    )


_PD_FIRING = {"incident.triggered", "incident.reopened", "incident.escalated", "incident.priority_updated",
              "incident.unacknowledged"}
_PD_RESOLVED = {"incident.resolved"}


def _from_pagerduty(d: PagerDutyDelivery) -> Alert | None:
    """None for a valid webhook that is not an alert (acknowledged, annotated, reassigned, ...)."""
    ev = d.payload.event
    if ev.event_type not in _PD_FIRING | _PD_RESOLVED and (ev.data.status or "") != "resolved":
        return None
    inc = ev.data
    hints = [h for h in ((inc.service.summary if inc.service else None), inc.incident_key, inc.title) if h]
    key = inc.incident_key or inc.id
    fingerprint = f"cloudwatch:{key}" if key.startswith("arn:aws:cloudwatch:") else f"pagerduty:{inc.id}"
    return Alert(
        delivery_id=f"pagerduty:{ev.id}",
        fingerprint=fingerprint,
        source="pagerduty",
        status="resolved" if ev.event_type in _PD_RESOLVED or inc.status == "resolved" else "firing",
        title=inc.title,
        received_at=_utc(d.received_at),
        started_at=_utc(inc.created_at or ev.occurred_at),
        service_hints=hints,
        labels={k: v for k, v in {"urgency": inc.urgency or "", "incident_key": inc.incident_key or ""}.items() if v},
        priority=(inc.priority.summary if inc.priority else None) or inc.urgency,
        link=inc.html_url,
    )


def _from_grafana(d: GrafanaDelivery, index: int, a: _GrafanaAlert) -> Alert:
    labels = dict(a.labels)
    title = labels.get("alertname") or a.annotations.get("summary") or "grafana alert"
    hints = [labels[k] for k in ("service", "app", "job", "deployment", "container", "service_name") if labels.get(k)]
    fingerprint = a.fingerprint or _digest(sorted(labels.items()))
    received = _utc(d.received_at)
    return Alert(
        delivery_id=f"grafana:{_digest(fingerprint, a.status, a.startsAt, received.isoformat(), index)}",
        fingerprint=f"grafana:{fingerprint}",
        source="grafana",
        status=a.status,
        title=title,
        description=" ".join(x for x in (a.annotations.get("summary"), a.annotations.get("description")) if x),
        received_at=received,
        started_at=_utc(a.startsAt) if a.startsAt and a.startsAt.year > 1 else None,
        service_hints=hints + [title],
        labels=labels,
        priority=labels.get("severity") or labels.get("priority"),
        link=a.generatorURL,
    )


def _datadog_tags(tags: str | list[str]) -> dict[str, str]:
    items = tags if isinstance(tags, list) else [t for t in tags.split(",")]
    out: dict[str, str] = {}
    for t in items:
        key, _, value = t.strip().partition(":")
        if key and value and key not in out:
            out[key] = value
    return out


def _from_datadog(d: DatadogDelivery) -> Alert:
    p = d.payload
    tags = _datadog_tags(p.tags)
    transition = (p.alert_transition or "").lower()
    resolved = transition in {"recovered", "resolved"} or (p.alert_type or "").lower() == "success"
    hints = [tags[k] for k in ("service", "kube_deployment", "kube_service", "app", "functionname") if tags.get(k)]
    return Alert(
        delivery_id=f"datadog:{p.id}",
        fingerprint=f"datadog:{p.alert_id or p.title}:{p.alert_scope or ''}",
        source="datadog",
        status="resolved" if resolved else "firing",
        title=p.title.split("] ", 1)[-1] if p.title.startswith("[") else p.title,
        description=p.body[:2000],
        received_at=_utc(d.received_at),
        service_hints=hints + [p.title],
        metric_name=p.alert_metric,
        labels=tags,
        priority=p.alert_type if (p.priority or "normal") == "normal" else p.priority,
    )


# --- findings -----------------------------------------------------------------------------------

def _finding_priority(score: float) -> str:
    """GuardDuty's bands: 9-10 critical, 7-8.9 high, 4-6.9 medium, below 4 low."""
    return "critical" if score >= 9 else "high" if score >= 7 else "medium" if score >= 4 else "low"


def _tag_hints(tags: Any) -> list[str]:
    """Service names from resource tags ([{key, value}] or {key: value}), most telling keys first."""
    pairs = {str(t.get("key") or t.get("Key")): str(t.get("value") or t.get("Value") or "")
             for t in tags if isinstance(t, dict)} if isinstance(tags, list) else dict(tags or {})
    return [pairs[k] for k in ("service", "Service", "app", "App", "application", "Name", "aws:ecs:serviceName",
                               "eks:deployment", "aws:autoscaling:groupName") if pairs.get(k)]


def _guardduty_hints(resource: dict[str, Any]) -> list[str]:
    """The affected workload, however GuardDuty names it (EKS workload, instance, ECS, Lambda, RDS, key)."""
    hints: list[str] = []
    k8s = resource.get("kubernetesDetails") or {}
    workload = k8s.get("kubernetesWorkloadDetails") or {}
    if workload.get("name"):
        hints.append(str(workload["name"]))
    instance = resource.get("instanceDetails") or {}
    hints += _tag_hints(instance.get("tags") or [])
    ecs = resource.get("ecsClusterDetails") or {}
    task = ecs.get("taskDetails") or {}
    if task.get("definitionArn"):
        hints.append(str(task["definitionArn"]).rsplit("/", 1)[-1].split(":")[0])
    hints += [str(c.get("name")) for c in task.get("containers") or [] if isinstance(c, dict) and c.get("name")]
    hints += _tag_hints(ecs.get("tags") or [])
    lam = resource.get("lambdaDetails") or {}
    if lam.get("functionName"):
        hints.append(str(lam["functionName"]))
    rds = resource.get("rdsDbInstanceDetails") or {}
    if rds.get("dbInstanceIdentifier"):
        hints.append(str(rds["dbInstanceIdentifier"]))
    eks = resource.get("eksClusterDetails") or {}
    hints += _tag_hints(eks.get("tags") or [])
    key = resource.get("accessKeyDetails") or {}
    if key.get("userName"):
        hints.append(str(key["userName"]))
    if instance.get("instanceId"):
        hints.append(str(instance["instanceId"]))
    return list(dict.fromkeys(h for h in hints if h))


def _from_guardduty(d: GuardDutyDelivery) -> Alert:
    """A GuardDuty finding: one alarm per finding id; an update of the finding is one more delivery of it."""
    ev, f = d.payload, d.payload.detail
    resource_type = str(f.resource.get("resourceType") or "")
    return Alert(
        delivery_id=f"events:{ev.id}",
        fingerprint=f"guardduty:{f.id}",
        source="guardduty",
        status="resolved" if f.service.archived else "firing",
        title=f.title or f.type,
        description=" ".join(x for x in (f"GuardDuty finding {f.type}", f.description) if x)[:2000],
        received_at=_utc(d.received_at),
        started_at=_utc(f.service.eventFirstSeen or f.createdAt or ev.time),
        service_hints=_guardduty_hints(f.resource),
        metric_namespace="aws.guardduty",
        labels={k: v for k, v in {"finding_type": f.type, "resource_type": resource_type,
                                  "severity": f"{f.severity:g}", "count": str(f.service.count)}.items() if v},
        priority=_finding_priority(f.severity),
    )


def _from_securityhub(d: SecurityHubDelivery, f: _AsffFinding) -> Alert:
    """One ASFF finding of a Security Hub event (an event may carry several)."""
    hints: list[str] = []
    for r in f.Resources:
        hints += _tag_hints(r.Tags)
        if r.Id:
            hints.append(r.Id.rsplit("/", 1)[-1].rsplit(":", 1)[-1])
    workflow = str(f.Workflow.get("Status") or "NEW").upper()
    resolved = f.RecordState.upper() == "ARCHIVED" or workflow in ("RESOLVED", "SUPPRESSED")
    label = (f.Severity.Label or "").lower()
    return Alert(
        delivery_id=f"events:{d.payload.id}:{_digest(f.Id)}",
        fingerprint=f"securityhub:{f.Id}",
        source="securityhub",
        status="resolved" if resolved else "firing",
        title=f.Title or (f.Types[0] if f.Types else "Security Hub finding"),
        description=" ".join(x for x in (f"Security Hub finding ({f.ProductName or 'unknown product'})",
                                         f.Description) if x)[:2000],
        received_at=_utc(d.received_at),
        started_at=_utc(f.UpdatedAt or d.payload.time),
        service_hints=list(dict.fromkeys(h for h in hints if h)),
        metric_namespace="aws.securityhub",
        labels={k: v for k, v in {"finding_type": ",".join(f.Types)[:200],
                                  "resource_type": ",".join(r.Type for r in f.Resources)[:200]}.items() if v},
        priority="critical" if label == "critical" else label or None,
    )
