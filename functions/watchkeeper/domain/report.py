"""The post-incident report: what happened, how long each phase took, what it cost.

One `IncidentReport` is rendered twice: Markdown (the S3 object the Slack thread links to)
and a self-contained HTML page with the timeline chart inline. Every time comes from the
same clock (the audit trail's, the alerts', the metrics'), so the timeline is continuous.
Pure: the caller reads the metric series and the audit trail and passes them in.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from html import escape
from typing import Any
from urllib.parse import quote

from ..models import AuditRecord, ChangeEvent, Evidence, Incident, RemediationPlan, RootCause
from ..ports import MetricSeries
from .chart import Curve, Mark, timeline_chart

MAX_CURVES = 3


@dataclass(frozen=True)
class TimelineEvent:
    at: datetime
    lane: str            # change | onset | alert | decision | action | recovery | escalation
    label: str


@dataclass
class Milestones:
    """The moments a responder asks about, from the alerts, the evidence and the audit trail."""

    first_alert: datetime
    last_alert: datetime
    onset: datetime | None = None
    change: ChangeEvent | None = None
    diagnosed: datetime | None = None
    approval_requested: datetime | None = None
    decided: datetime | None = None
    decision: str | None = None          # approved | rejected | timed out
    decided_by: str | None = None
    action: datetime | None = None
    action_label: str | None = None
    recovered: datetime | None = None
    escalated: datetime | None = None
    reported: datetime | None = None

    @property
    def start(self) -> datetime:
        """When the impact began: the metrics' onset, or the first alert without one."""
        return min(self.onset, self.first_alert) if self.onset else self.first_alert


def milestones(incident: Incident, evidence: Evidence | None, cause: RootCause | None,
               audit: list[AuditRecord]) -> Milestones:
    alerts = sorted(incident.alerts, key=lambda a: a.received_at)
    first = alerts[0].received_at if alerts else incident.opened_at
    last = max([a.last_received_at or a.received_at for a in alerts] or [incident.last_alert_at])
    ms = Milestones(first_alert=first, last_alert=last, onset=evidence.onset if evidence else None)
    if evidence:
        changes = [c for c in evidence.changes if c.service in {incident.service, *incident.suspects}]
        culprit = next((c for c in changes if cause and c.id == cause.culprit), None)
        before = [c for c in changes if c.at <= (ms.onset or first)]
        ms.change = culprit or (max(before, key=lambda c: c.at) if before else None)
    for r in audit:
        if r.step == "Diagnose" and r.kind == "step" and ms.diagnosed is None:
            ms.diagnosed = r.at
        elif r.step == "Wait for approval" and r.kind == "step" and ms.approval_requested is None:
            ms.approval_requested = r.at
        elif r.step == "Wait for approval" and r.kind == "decision" and ms.decided is None:
            if r.summary.startswith(("approved", "rejected")):
                ms.decided, ms.decision, ms.decided_by = r.at, r.summary.split()[0], r.actor
            elif r.summary.startswith("nobody decided"):
                ms.decided, ms.decision = r.at, "timed out"
        elif r.step == "Execute actions" and ms.action is None and (
                r.kind == "outcome" or (r.kind == "step" and "(dry run)" in r.summary)):
            ms.action, ms.action_label = r.at, r.summary.split(":")[0] + (" planned (dry run)" if r.kind == "step"
                                                                          else f": {r.summary.rsplit(': ', 1)[-1]}")
        elif r.step == "Verify recovery" and r.kind == "step" and ": recovered" in r.summary and ms.recovered is None:
            ms.recovered = r.at
        elif r.kind == "escalation" and ms.escalated is None:
            ms.escalated = r.at
        elif r.kind == "report":
            ms.reported = r.at
    return ms


def phases(ms: Milestones) -> list[tuple[str, datetime | None, datetime | None]]:
    """(phase, from, to) in the order an incident goes through them; a phase that did not happen is left out."""
    out: list[tuple[str, datetime | None, datetime | None]] = []
    if ms.onset:
        out.append(("detection (onset → first alert)", ms.onset, ms.first_alert))
    out.append(("diagnosis (first alert → root cause)", ms.first_alert, ms.diagnosed))
    if ms.approval_requested:
        out.append((f"approval (request → {ms.decision or 'no decision'})", ms.approval_requested,
                    ms.decided or ms.escalated))
    if ms.action:
        out.append(("action (decision → write)" if ms.decided else "action (diagnosis → write)",
                    ms.decided or ms.diagnosed, ms.action))
    if ms.recovered:
        out.append(("verification (write → recovered)", ms.action, ms.recovered))
    if ms.escalated and not ms.recovered:
        out.append(("escalation (first alert → paged)", ms.first_alert, ms.escalated))
    return out


def duration(a: datetime | None, b: datetime | None) -> str:
    if a is None or b is None:
        return "—"
    s = int(round((b - a).total_seconds()))
    sign, s = ("-" if s < 0 else ""), abs(s)
    if s < 60:
        return f"{sign}{s} s"
    if s < 3600:
        return f"{sign}{s // 60} min {s % 60:02d} s"
    if s < 86400:
        return f"{sign}{s // 3600} h {s % 3600 // 60:02d} min"
    return f"{sign}{s // 86400} d {s % 86400 // 3600} h"


def timeline(incident: Incident, evidence: Evidence | None, audit: list[AuditRecord],
             cause: RootCause | None = None) -> list[TimelineEvent]:
    """Every dated fact of the incident on one clock, in order."""
    ms = milestones(incident, evidence, cause, audit)
    events: list[TimelineEvent] = []
    if ms.change:
        events.append(TimelineEvent(ms.change.at, "change", _change_label(ms.change)))
    if ms.onset:
        events.append(TimelineEvent(ms.onset, "onset", "onset of the deviation"))
    for a in sorted(incident.alerts, key=lambda a: a.received_at):
        events.append(TimelineEvent(a.received_at, "alert", f"{a.title} ({a.source}"
                                    + (f", {a.count} deliveries)" if a.count > 1 else ")")))
    for r in audit:
        if r.kind in ("intent", "outcome"):
            events.append(TimelineEvent(r.at, "action", r.summary))
        elif r.kind == "decision":
            events.append(TimelineEvent(r.at, "decision", r.summary))
        elif r.kind == "escalation":
            events.append(TimelineEvent(r.at, "escalation", r.summary))
        elif r.step == "Verify recovery" and ": recovered" in r.summary:
            events.append(TimelineEvent(r.at, "recovery", r.summary))
        elif r.step == "Execute actions" and r.kind == "step":
            events.append(TimelineEvent(r.at, "action", r.summary))
        elif r.step in ("Diagnose", "Wait for approval") and r.kind == "step":
            events.append(TimelineEvent(r.at, "decision", f"{r.step.lower()}: {r.summary}"))
    return sorted(events, key=lambda e: e.at)


def _change_label(c: ChangeEvent) -> str:
    what = f"{c.kind} {c.revision}" if c.revision else c.id
    return f"{what} of {c.service}"


# --- links a responder follows ----------------------------------------------------------------

@dataclass
class ConsoleLinks:
    region: str
    account_id: str = ""
    state_machine: str = "Watchkeeper-Incident"
    dashboard: str = ""

    def execution(self, incident_id: str) -> str:
        arn = f"arn:aws:states:{self.region}:{self.account_id}:execution:{self.state_machine}:{incident_id}"
        return f"https://{self.region}.console.aws.amazon.com/states/home?region={self.region}#/v2/executions/details/{arn}"

    def logs_insights(self, log_groups: list[str], start: datetime, end: datetime) -> str:
        query = "fields @timestamp, @logStream, @message | filter @message like /(?i)(error|exception|fatal|panic)/ " \
                "| sort @timestamp desc | limit 200"
        sources = "".join(f"~'{_console_escape(g)}" for g in log_groups)
        detail = (f"~(end~'{end:%Y-%m-%dT%H:%M:%S}.000Z~start~'{start:%Y-%m-%dT%H:%M:%S}.000Z~timeType~'ABSOLUTE"
                  f"~tz~'UTC~editorString~'{_console_escape(query)}~source~({sources}))")
        return (f"https://{self.region}.console.aws.amazon.com/cloudwatch/home?region={self.region}"
                f"#logsV2:logs-insights$3FqueryDetail$3D{quote(detail, safe='~()*!.').replace('%', '$')}")

    def metrics(self, metrics: list[tuple[str, str, str]], start: datetime, end: datetime) -> str:
        """(namespace, name, service) graphed over the window."""
        series = "".join(f"~(~'{_console_escape(ns)}~'{_console_escape(n)}~'Service~'{_console_escape(s)})"
                         for ns, n, s in metrics)
        graph = (f"~(metrics~({series})~view~'timeSeries~stacked~false~region~'{self.region}"
                 f"~start~'{start:%Y-%m-%dT%H:%M:%S}Z~end~'{end:%Y-%m-%dT%H:%M:%S}Z~period~60)")
        return (f"https://{self.region}.console.aws.amazon.com/cloudwatch/home?region={self.region}"
                f"#metricsV2?graph={quote(graph, safe='~()*!.:')}")

    def dashboard_url(self) -> str:
        return (f"https://{self.region}.console.aws.amazon.com/cloudwatch/home?region={self.region}"
                f"#dashboards/dashboard/{quote(self.dashboard)}") if self.dashboard else ""

    def s3_object(self, uri: str) -> str:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        return (f"https://{self.region}.console.aws.amazon.com/s3/object/{bucket}?region={self.region}"
                f"&prefix={quote(key)}")


def _console_escape(text: str) -> str:
    """The CloudWatch console's rison-like escaping of strings inside a URL fragment."""
    return text.replace("~", "~~").replace("'", "~'").replace("(", "~(").replace(")", "~)")


# --- the report -------------------------------------------------------------------------------

@dataclass
class IncidentReport:
    incident: Incident
    evidence: Evidence | None
    cause: RootCause | None
    plan: RemediationPlan | None
    outcome: dict[str, Any]
    audit: list[AuditRecord]
    series: list[MetricSeries] = field(default_factory=list)
    links: ConsoleLinks | None = None
    log_groups: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.ms = milestones(self.incident, self.evidence, self.cause, self.audit)

    @property
    def end(self) -> datetime:
        """The last moment the report speaks of."""
        known = [t for t in (self.ms.recovered, self.ms.escalated, self.ms.action, self.ms.decided, self.ms.reported,
                             self.ms.diagnosed, self.ms.last_alert) if t]
        return max(known)

    def window(self) -> tuple[datetime, datetime]:
        """The chart's time axis: from a little before the change (when it is near) or the onset, to the end."""
        start = self.ms.start
        if self.ms.change and start - self.ms.change.at <= timedelta(hours=2):
            start = min(start, self.ms.change.at)
        end = self.end
        last_point = max((t for s in self.curves_series() for t, _ in s.points if start <= t <= end + timedelta(minutes=15)),
                         default=end)
        end = max(end, last_point)
        pad = max((end - start) * 0.08, timedelta(minutes=2))
        return start - pad, end + pad / 2

    def curves_series(self) -> list[MetricSeries]:
        """The alarmed metrics first (named by the alerts), then the metrics that deviated, biggest change first."""
        alarmed = {(a.metric_namespace, a.metric_name) for a in self.incident.alerts if a.metric_name}
        deviated = {(m.namespace, m.name): m for m in (self.evidence.metrics if self.evidence else [])
                    if m.service == self.incident.service and m.onset is not None}

        def rank(s: MetricSeries) -> tuple[int, float]:
            key = (s.namespace, s.name)
            if key in alarmed or (None, s.name) in alarmed:
                return (0, 0.0)
            if key in deviated:
                ratio = deviated[key].change_ratio or 1.0
                return (1, -abs(ratio - 1.0) if ratio != float("inf") else -1e9)
            return (2, 0.0)
        chosen = [s for s in sorted(self.series, key=rank) if rank(s)[0] < 2 and s.service == self.incident.service]
        return chosen[:MAX_CURVES]

    def chart(self) -> str:
        start, end = self.window()
        baselines = {(m.namespace, m.name): m.baseline for m in (self.evidence.metrics if self.evidence else [])}
        curves = [Curve(title=f"{s.name} ({s.namespace})", points=s.points, baseline=baselines.get((s.namespace, s.name)))
                  for s in self.curves_series()]
        ms = self.ms
        marks: list[Mark] = []
        if ms.change and ms.change.at >= start:
            marks.append(Mark(ms.change.at, "change", _change_label(ms.change)))
        if ms.onset:
            marks.append(Mark(ms.onset, "onset", "onset"))
        alerts = sorted(self.incident.alerts, key=lambda a: a.received_at)
        for n, a in enumerate(alerts):
            label = ""
            if n == 0:
                label = f"first alert: {a.title}" + (f" (+{len(alerts) - 1} more)" if len(alerts) > 1 else "")
            marks.append(Mark(a.received_at, "alert", label))
        if ms.diagnosed and self.cause:
            marks.append(Mark(ms.diagnosed, "diagnosis", f"diagnosis: {self.cause.kind}"))
        if ms.decided:
            marks.append(Mark(ms.decided, "decision", f"{ms.decision}" + (f" by {ms.decided_by}" if ms.decided_by
                                                                         and ms.decision != "timed out" else "")))
        elif ms.approval_requested:
            marks.append(Mark(ms.approval_requested, "decision", "approval requested"))
        if ms.action:
            marks.append(Mark(ms.action, "action", ms.action_label or "action"))
        if ms.recovered:
            marks.append(Mark(ms.recovered, "recovery", "recovery verified"))
        if ms.escalated:
            marks.append(Mark(ms.escalated, "escalation", "paged on-call"))
        shade_end = ms.recovered or end
        title = f"{self.incident.service}: {self.incident.category} incident"
        return timeline_chart(curves, marks, start, end, title=title, shade=(ms.start, shade_end))

    # --- sections shared by both renderings ---------------------------------------------------
    def impact(self) -> list[tuple[str, str]]:
        ms, inc = self.ms, self.incident
        mitigated = ms.recovered
        rows = [("start", f"{ms.start:%Y-%m-%d %H:%M:%S} UTC ({'metrics onset' if ms.onset else 'first alert'})"),
                ("detection", f"{ms.first_alert:%H:%M:%S} UTC, {duration(ms.start, ms.first_alert)} after the start"),
                ("mitigation", f"{mitigated:%H:%M:%S} UTC (recovery verified)" if mitigated else
                 f"not verified: {self.outcome.get('status', 'open')}"),
                ("duration", f"{duration(ms.start, mitigated)}" if mitigated else
                 f"at least {duration(ms.start, self.end)} (until {self.end:%H:%M:%S} UTC)")]
        alarms = [f"{a.title} ({a.source}, {a.count}×)" if a.count > 1 else f"{a.title} ({a.source})" for a in inc.alerts]
        rows.append(("alarms", "; ".join(alarms) or "none"))
        services = list(dict.fromkeys([inc.service, *inc.suspects, *(a.service for a in inc.alerts if a.service)]))
        rows.append(("services affected", ", ".join(services)))
        deviated = [m for m in (self.evidence.metrics if self.evidence else []) if m.onset and m.baseline is not None
                    and m.peak is not None and m.service in services]
        if deviated:
            rows.append(("worst deviation", "; ".join(
                f"{m.name} {m.baseline:g} → {m.peak if m.shape != 'drop' else m.latest:g}" for m in deviated[:4])))
        return rows

    def cost(self) -> str | None:
        usage = (self.cause.model_usage if self.cause else {}) or {}
        if usage.get("fallback") and not usage.get("input_tokens"):
            return ("the model could not be reached or refused the call (see the Diagnose function's log): "
                    "the deterministic diagnosis stands")
        if not usage or (self.cause and self.cause.analyzer == "deterministic" and not usage.get("input_tokens")):
            return None
        text = (f"{self.cause.analyzer}: {int(usage.get('input_tokens', 0)):,} input and "
                f"{int(usage.get('output_tokens', 0)):,} output tokens, about ${usage.get('cost_usd', 0.0):.4f}")
        if usage.get("price_unknown"):
            text += " (price of this model unknown: cost not counted)"
        if usage.get("fallback"):
            text += "; the model's answer was not usable, the deterministic diagnosis stands"
        return text

    def link_rows(self) -> list[tuple[str, str]]:
        if self.links is None or not self.links.account_id:
            return []
        start, end = self.window()
        rows = [("Step Functions execution", self.links.execution(self.incident.id))]
        if self.log_groups:
            rows.append(("Logs Insights (errors in the window)", self.links.logs_insights(self.log_groups, start, end)))
        metrics = [(s.namespace, s.name, s.service) for s in self.curves_series()]
        if metrics:
            rows.append(("Metrics of the chart", self.links.metrics(metrics, start, end)))
        if self.links.dashboard:
            rows.append(("Watchkeeper dashboard", self.links.dashboard_url()))
        return rows


def render_markdown(report: IncidentReport, chart_name: str | None = "timeline.svg") -> str:
    inc, ms, outcome, cause = report.incident, report.ms, report.outcome, report.cause
    lines = [f"# Post-incident report: {inc.title or inc.service}", "",
             f"- **Incident:** `{inc.id}`",
             f"- **Service:** {inc.service} ({inc.category}, {inc.severity})",
             f"- **Outcome:** {outcome.get('status', 'unknown')} — {outcome.get('summary', '')}", ""]
    lines += ["## Impact", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {_md(v)} |" for k, v in report.impact()]
    lines += ["", "## Durations", "", "| phase | from | to | took |", "|---|---|---|---|"]
    for name, a, b in phases(ms):
        lines.append(f"| {name} | {_t(a)} | {_t(b)} | {duration(a, b)} |")
    lines.append("")
    if chart_name:
        lines += [f"![Timeline: metrics with the change, onset, alerts, decision, action and recovery]({chart_name})", ""]
    lines += ["## Root cause", ""]
    if cause:
        lines += [f"**{cause.kind}**" + (f" — culprit `{cause.culprit}`" if cause.culprit else "")
                  + f" (confidence {cause.confidence:.2f}, {cause.analyzer})", "", _md(cause.summary), ""]
        cited = [i for i in (report.evidence.items if report.evidence else []) if i.id in cause.evidence]
        if cited:
            lines += ["| evidence | what it shows |", "|---|---|"]
            lines += [f"| {i.id} ({i.type}) | {_md(i.detail)} |" for i in cited]
            lines.append("")
        if len(cause.hypotheses) > 1:
            lines += ["Other hypotheses considered: " + ", ".join(
                f"{h.kind}{' ' + h.culprit if h.culprit else ''} ({h.score:.2f})" for h in cause.hypotheses[1:]), ""]
        cost = report.cost()
        if cost:
            lines += [f"Model: {cost}", ""]
    else:
        lines += ["Not diagnosed.", ""]
    lines += ["## Remediation", ""]
    if report.plan:
        lines += [f"Runbook: `{report.plan.runbook or 'none'}` — {_md(report.plan.reason)}", ""]
        for a in report.plan.actions:
            lines.append(f"- `{a.type}` on `{a.target}`" + (" (approval required)" if a.requires_approval else ""))
        lines.append("")
    for r in outcome.get("results", []):
        lines.append(f"- {r.get('type')}: **{r.get('status')}** {r.get('api_call', '')}"
                     + (f" — blocked by `{r['blocked_by']}`" if r.get("blocked_by") else "")
                     + (f" — {_md(r['error'])}" if r.get("error") else ""))
        if r.get("diff"):
            lines += ["", "```diff", r["diff"], "```"]
    links = report.link_rows()
    if links:
        lines += ["", "## Links", ""] + [f"- [{name}]({url})" for name, url in links]
    lines += ["", "## Timeline", "", "| time (UTC) | what |", "|---|---|"]
    for e in timeline(inc, report.evidence, report.audit, cause):
        lines.append(f"| {e.at:%Y-%m-%d %H:%M:%S} | {e.lane}: {_md(e.label)} |")
    lines += ["", "## Audit trail", ""]
    for r in report.audit:
        lines.append(f"{r.seq}. {r.at:%H:%M:%S} [{r.step}] {r.kind}: {_md(r.summary)} (by {r.actor})")
    lines.append("")
    return "\n".join(lines)


def render_html(report: IncidentReport, chart_svg: str | None = None) -> str:
    """One page, no external resource: inline CSS and the chart's SVG; every value escaped."""
    inc, ms, outcome, cause = report.incident, report.ms, report.outcome, report.cause
    e = escape
    body = [f"<h1>Post-incident report: {e(inc.title or inc.service)}</h1>",
            f'<p class="meta"><code>{e(inc.id)}</code> · {e(inc.service)} · {e(inc.category)} · {e(inc.severity)}</p>',
            f'<p class="outcome {e(outcome.get("status", ""))}"><b>{e(outcome.get("status", "unknown"))}</b> — '
            f'{e(outcome.get("summary", ""))}</p>',
            "<h2>Impact</h2>", "<table>" + "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in report.impact())
            + "</table>",
            "<h2>Durations</h2>", "<table><tr><th>phase</th><th>from</th><th>to</th><th>took</th></tr>"
            + "".join(f"<tr><td>{e(n)}</td><td>{_t(a)}</td><td>{_t(b)}</td><td>{duration(a, b)}</td></tr>"
                      for n, a, b in phases(ms)) + "</table>",
            "<h2>Timeline</h2>", f'<figure>{chart_svg if chart_svg is not None else report.chart()}</figure>',
            "<h2>Root cause</h2>"]
    if cause:
        body.append(f"<p><b>{e(cause.kind)}</b>" + (f" — culprit <code>{e(cause.culprit)}</code>" if cause.culprit else "")
                    + f" (confidence {cause.confidence:.2f}, {e(cause.analyzer)})</p><p>{e(cause.summary)}</p>")
        cited = [i for i in (report.evidence.items if report.evidence else []) if i.id in cause.evidence]
        if cited:
            body.append("<table><tr><th>evidence</th><th>what it shows</th></tr>" + "".join(
                f"<tr><td>{e(i.id)} ({e(i.type)})</td><td>{e(i.detail)}</td></tr>" for i in cited) + "</table>")
        cost = report.cost()
        if cost:
            body.append(f"<p>Model: {e(cost)}</p>")
    else:
        body.append("<p>Not diagnosed.</p>")
    body.append("<h2>Remediation</h2>")
    if report.plan:
        body.append(f"<p>Runbook <code>{e(report.plan.runbook or 'none')}</code> — {e(report.plan.reason)}</p><ul>"
                    + "".join(f"<li><code>{e(a.type)}</code> on <code>{e(a.target)}</code>"
                              + (" (approval required)" if a.requires_approval else "") + "</li>"
                              for a in report.plan.actions) + "</ul>")
    for r in outcome.get("results", []):
        body.append(f"<p><code>{e(str(r.get('type')))}</code>: <b>{e(str(r.get('status')))}</b> "
                    f"<code>{e(str(r.get('api_call') or ''))}</code>"
                    + (f" — blocked by <code>{e(r['blocked_by'])}</code>" if r.get("blocked_by") else "")
                    + (f" — {e(str(r['error']))}" if r.get("error") else "") + "</p>")
        if r.get("diff"):
            body.append(f"<pre>{e(r['diff'])}</pre>")
    links = report.link_rows()
    if links:
        body.append("<h2>Links</h2><ul>" + "".join(f'<li><a href="{e(url)}">{e(name)}</a></li>' for name, url in links)
                    + "</ul>")
    body.append("<h2>Audit trail</h2><table><tr><th>#</th><th>time (UTC)</th><th>step</th><th>kind</th><th>what</th>"
                "<th>by</th></tr>" + "".join(
                    f"<tr><td>{r.seq}</td><td>{r.at:%H:%M:%S}</td><td>{e(r.step)}</td><td>{e(r.kind)}</td>"
                    f"<td>{e(r.summary)}</td><td>{e(r.actor)}</td></tr>" for r in report.audit) + "</table>")
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{e(inc.service)}: post-incident report</title><style>{_CSS}</style></head>"
            f"<body><main>{''.join(body)}</main></body></html>\n")


_CSS = ("body{font-family:DejaVu Sans,Verdana,Arial,sans-serif;color:#222;margin:0;background:#f6f6f6}"
        "main{max-width:1000px;margin:0 auto;padding:24px;background:#fff}"
        "h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}"
        "table{border-collapse:collapse;width:100%;font-size:13px}th,td{border:1px solid #ddd;padding:4px 8px;"
        "text-align:left;vertical-align:top}th{background:#fafafa;white-space:nowrap}"
        "pre{background:#f4f4f4;padding:8px;overflow-x:auto}code{font-size:12px}"
        "figure{margin:0;overflow-x:auto}svg{max-width:100%;height:auto}"
        ".outcome{padding:8px;border-left:4px solid #888}.outcome.mitigated{border-color:#2ca02c}"
        ".outcome.escalated{border-color:#d62728}.meta{color:#555}")


def _t(t: datetime | None) -> str:
    return f"{t:%H:%M:%S}" if t else "—"


def _md(text: str) -> str:
    """A value inside a Markdown table row or paragraph: no pipes, no line breaks, no raw HTML."""
    return str(text).replace("|", "/").replace("\n", " ").replace("<", "&lt;")
