"""What an approver needs on one screen, computed once when the request is made.

Pure: from the incident, the diagnosis, the cited evidence and each proposed write's dry
run, a JSON summary that Slack, the email and the approval page all render. Everything in it
passed the one redaction pass (`domain.redact`); renderers escape it for their medium.

Sections (each renderer shows them in this order; a new section is a new key here plus a
block in each renderer): what will happen (`proposed`, each with its `blast_radius` and
`undo`), why (`root_cause`, `evidence`), `if_nobody_decides`, `links` (console), and
`four_eyes` (who may not approve) when the changed service has the rule.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from .redact import redact, redact_value


def approval_summary(*, incident: dict[str, Any], root_cause: dict[str, Any], plan: dict[str, Any],
                     evidence: list[dict[str, Any]], proposed: list[dict[str, Any]], expires_at: datetime,
                     region: str = "", execution_arn: str = "", log_group: str | None = None,
                     metrics: list[dict[str, Any]] | None = None,
                     four_eyes: dict[str, Any] | None = None, keep: tuple[str, ...] = ()) -> dict[str, Any]:
    actions = [{**a, "blast_radius": blast_radius(a), "undo": undo_step(a)} for a in proposed]
    summary = {
        "incident_id": incident.get("id"), "service": incident.get("service"), "title": incident.get("title"),
        "severity": incident.get("severity"), "category": incident.get("category"),
        "root_cause": root_cause, "plan": plan,
        "actions": [f"{a.get('type')} on {a.get('target')}" for a in proposed],
        "evidence": evidence, "proposed": actions,
        "expires_at": expires_at.isoformat(),
        "if_nobody_decides": (f"At {expires_at:%H:%M} UTC the request times out: nothing is changed, the incident "
                              "is escalated and on-call is paged."),
        "links": console_links(region, execution_arn, log_group, incident, metrics or []),
    }
    summary = redact_value(summary)
    if four_eyes:     # the author as recorded, for the check; what people read is redacted (approvers kept)
        summary["four_eyes"] = {**four_eyes, "note": redact(four_eyes_note(four_eyes), keep)}
    return summary


def four_eyes_note(rule: dict[str, Any]) -> str:
    """Who may approve under the four-eyes rule of the changed service."""
    if rule.get("author"):
        return (f"{rule['author']} made {rule.get('change')} and cannot approve undoing it; any other approver "
                "can (four-eyes rule of this service).")
    return (f"The author of {rule.get('change')} is not known, so the four-eyes rule of this service cannot "
            "be checked: any approver can decide.")


def blast_radius(action: dict[str, Any]) -> str:
    """What the write touches, in the responder's words: platform, workload, pods/tasks/replicas."""
    target = str(action.get("target") or "")
    parts = target.split("/")
    platform = parts[0] if parts else ""
    before, after = action.get("before") or {}, action.get("after") or {}
    replicas = _first(before, "replicas", "desiredCount", "DesiredCapacity", "readyReplicas")
    new_replicas = _first(after, "replicas", "desiredCount", "DesiredCapacity")
    pods = len([ln for ln in str(action.get("diff") or "").splitlines() if ln.startswith("pod ") and "deleted" in ln])
    kind = str(action.get("type") or "")
    where = {"eks": "Kubernetes deployment", "ecs": "ECS service", "lambda": "Lambda function",
             "ec2": "Auto Scaling group", "ssm": "SSM parameter", "appconfig": "AppConfig profile"}.get(platform, "resource")
    name = "/".join(parts[1:]) or target
    if kind == "scale_service" and replicas is not None and new_replicas is not None:
        unit = "tasks" if platform == "ecs" else "instances" if platform == "ec2" else "replicas"
        return f"{where} {name}: {replicas} -> {new_replicas} {unit}; existing ones keep serving"
    if kind == "restart_pods":
        n = pods or action.get("params", {}).get("max_pods")
        return f"{where} {name}: {n or 'some'} pod(s) deleted and recreated one at a time"
    if kind in ("rollback_deployment", "increase_memory_limit"):
        count = f"all {replicas} pods" if replicas is not None else "every pod"
        if platform == "ecs":
            count = f"all {replicas} tasks" if replicas is not None else "every task"
        if platform == "lambda":
            return f"{where} {name}: the alias moves; every new invocation (100% of its traffic) runs the other version"
        return f"{where} {name}: {count} replaced by a rolling update; 100% of its traffic moves to the new pods"
    if kind == "revert_config":
        return f"{where} {name}: one value changes for every reader of it"
    if kind == "free_disk_space":
        return f"{where} {name}: files under the runbook's cleanup paths are deleted"
    return f"{where} {name}"


def undo_step(action: dict[str, Any]) -> str:
    """How to take the write back, and whether Watchkeeper does it by itself."""
    kind, before = str(action.get("type") or ""), action.get("before") or {}
    auto = (" Watchkeeper does this by itself if the service does not recover."
            if action.get("revert") == "restore_before" else "")
    if kind == "rollback_deployment":
        revision = _first(before, "revision", "image", "version", "taskDefinition")
        return f"Roll forward again to {revision or 'the current revision'}.{auto}"
    if kind == "scale_service":
        n = _first(before, "replicas", "desiredCount", "DesiredCapacity")
        return f"Scale back to {n if n is not None else 'the previous count'}.{auto}"
    if kind == "increase_memory_limit":
        return f"Set the memory limit back to {_first(before, 'memory', 'limit') or 'its previous value'}.{auto}"
    if kind == "revert_config":
        return f"Put the previous value back (version {_first(before, 'version') or 'before this change'}).{auto}"
    if kind == "restart_pods":
        return "Nothing to undo: the pods are recreated from the same spec."
    if kind == "free_disk_space":
        return "Deleted files cannot be restored; the dry run lists them."
    return "See the runbook." + auto


def console_links(region: str, execution_arn: str, log_group: str | None, incident: dict[str, Any],
                  metrics: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Step Functions execution, a Logs Insights query for the incident's window, its metrics."""
    if not region:
        return []
    base = f"https://{region}.console.aws.amazon.com"
    links = []
    if execution_arn:
        links.append({"label": "Step Functions execution",
                      "url": f"{base}/states/home?region={region}#/v2/executions/details/{quote(execution_arn, safe='')}"})
    opened = _dt(incident.get("opened_at"))
    if log_group and opened:
        start, end = opened - timedelta(minutes=30), opened + timedelta(minutes=30)
        query = "fields @timestamp, @message | filter @message like /(?i)(error|exception|fail|timeout)/ " \
                "| sort @timestamp desc | limit 200"
        links.append({"label": f"Logs Insights: {log_group}, 30 min either side of the onset",
                      "url": f"{base}/cloudwatch/home?region={region}#logsV2:logs-insights$3FqueryDetail$3D"
                             + _insights_fragment(log_group, query, start, end)})
    for m in metrics[:3]:
        ns, name = m.get("namespace"), m.get("name")
        if ns and name:
            links.append({"label": f"Metric {ns} {name}",
                          "url": f"{base}/cloudwatch/home?region={region}#metricsV2?graph=~(metrics~(~(~'"
                                 f"{quote(str(ns), safe='')}~'{quote(str(name), safe='')})))"})
    return links


def _insights_fragment(log_group: str, query: str, start: datetime, end: datetime) -> str:
    """The console's URL encoding of a Logs Insights query (its ~(..) notation, '*' for '%')."""
    def enc(s: str) -> str:
        return quote(s, safe="").replace("%", "*")
    detail = (f"~(end~'{enc(end.strftime('%Y-%m-%dT%H:%M:%S.000Z'))}~start~'{enc(start.strftime('%Y-%m-%dT%H:%M:%S.000Z'))}"
              f"~timeType~'ABSOLUTE~editorString~'{enc(query)}~source~(~'{enc(log_group)}))")
    return quote(detail, safe="").replace("%", "$")


def _first(d: dict[str, Any], *keys: str) -> Any:
    for k in keys:
        if d.get(k) is not None:
            return d[k]
    return None


def _dt(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value))
    except (TypeError, ValueError):
        return None
