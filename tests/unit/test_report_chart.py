"""The post-incident report and its chart, as a responder reads them."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings, strategies as st

from watchkeeper.domain.chart import Curve, Mark, place_labels, text_width, timeline_chart
from watchkeeper.domain.report import ConsoleLinks, IncidentReport, duration, phases, render_html, render_markdown
from watchkeeper.models import (
    AlertRef, AuditRecord, ChangeEvent, Evidence, EvidenceItem, Incident, MetricSummary, RemediationPlan, RootCause,
)
from watchkeeper.ports import MetricSeries

T0 = datetime(2026, 3, 1, 2, 0, tzinfo=timezone.utc)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 900), st.integers(1, 60)), min_size=1, max_size=25))
def test_labels_never_overlap_and_stay_on_the_canvas(marks):
    items = [(x, text_width("x" * n)) for x, n in sorted(marks)]
    placed = place_labels(items, 4, 956)
    boxes = [(row, x0, x0 + w) for (row, x0), (_, w) in zip(placed, items)]
    for i, (r1, a1, b1) in enumerate(boxes):
        assert a1 >= 4 and (b1 <= 956 or a1 == 4)
        for r2, a2, b2 in boxes[i + 1:]:
            assert r1 != r2 or b1 <= a2 or b2 <= a1


def test_every_label_is_drawn_whole_and_escaped():
    labels = ["rollback_deployment on eks/prod-eks/shop/storefront-bff: executed",
              "about to rollback_deployment on eks/prod-eks/shop/storefront-bff", "approved by <oncall@example.com>"]
    marks = [Mark(T0 + timedelta(seconds=i), "action", text) for i, text in enumerate(labels)]
    svg = timeline_chart([Curve("errors", [(T0 - timedelta(minutes=5), 1.0), (T0, 9.0)])], marks,
                         T0 - timedelta(minutes=10), T0 + timedelta(minutes=1), title="t")
    texts = re.findall(r"<text[^>]*>([^<]*)<title>", svg)
    assert texts == ["rollback_deployment on eks/prod-eks/shop/storefront-bff: executed",
                     "about to rollback_deployment on eks/prod-eks/shop/storefront-bff",
                     "approved by &lt;oncall@example.com&gt;"]
    rows = sorted(set(re.findall(r'<text [^>]*y="(\d+)" fill="#2ca02c"', svg)))
    assert len(rows) == 3                          # three labels at one moment: three rows, not drawn over each other


def _incident_report(with_recovery: bool = True, model_fallback: bool = False) -> IncidentReport:
    deploy = ChangeEvent(id="deploy-web-42", kind="deploy", service="web", at=T0 - timedelta(minutes=14), revision="42")
    alerts = [AlertRef(delivery_id="d1", fingerprint="cw:web-5xx", source="cloudwatch-sns", status="firing", title="web-5xx",
                       received_at=T0, service="web", metric_namespace="App", metric_name="error_rate_5xx",
                       alarm_name="web-5xx", count=3)]
    incident = Incident(id="inc-web-1", service="web", opened_at=T0, last_alert_at=T0, alerts=alerts,
                        category="availability", severity="critical", title="web: availability")
    evidence = Evidence(window_start=T0 - timedelta(hours=3), window_end=T0, onset=T0 - timedelta(minutes=11),
                        changes=[deploy],
                        items=[EvidenceItem(id="ev-1", type="change", ref="deploy-web-42", detail="deploy 42 | 3 min before")],
                        metrics=[MetricSummary(service="web", namespace="App", name="error_rate_5xx", baseline=0.2,
                                               peak=8.0, latest=8.0, onset=T0 - timedelta(minutes=11), shape="step",
                                               change_ratio=40)])
    cause = RootCause(kind="bad_deploy", culprit="deploy-web-42", confidence=0.9, summary="the deploy", evidence=["ev-1"],
                      analyzer="bedrock:anthropic.claude", model_usage={"input_tokens": 2100, "output_tokens": 250,
                                                                        "cost_usd": 0.0101})
    if model_fallback:
        cause = cause.model_copy(update={"analyzer": "deterministic", "model_usage": {"fallback": 1}})
    at = lambda s: T0 + timedelta(seconds=s)  # noqa: E731
    steps = [("Diagnose", "step", "bad_deploy", 95), ("Wait for approval", "step", "approval requested", 96),
             ("Wait for approval", "decision", "approved by oncall@example.com via slack", 300),
             ("Execute actions", "intent", "about to rollback_deployment on eks/prod/shop/web", 302),
             ("Execute actions", "outcome", "rollback_deployment on eks/prod/shop/web: executed", 310)]
    if with_recovery:
        steps.append(("Verify recovery", "step", "check 2: recovered; alarm web-5xx: OK", 430))
    steps.append(("Write report", "report", "incident mitigated", 431))
    audit = [AuditRecord(incident_id="inc-web-1", seq=i + 1, at=at(s), step=step, kind=kind, summary=text,
                         actor="oncall@example.com" if kind == "decision" else "watchkeeper")
             for i, (step, kind, text, s) in enumerate(steps)]
    series = [MetricSeries("web", "App", "error_rate_5xx", None,
                           [(T0 - timedelta(minutes=40 - m), 0.2 if m < 29 else 8.0) for m in range(40)]
                           + [(T0 + timedelta(minutes=m), 0.3) for m in range(6, 9)])]
    plan = RemediationPlan(runbook="deployment-rollback", decision="approve", reason="roll back", actions=[])
    return IncidentReport(incident, evidence, cause, plan, {"status": "mitigated", "summary": "recovered", "results": []},
                          audit, series=series, links=ConsoleLinks(region="eu-west-1", account_id="111122223333",
                                                                   dashboard="Watchkeeper-prod"),
                          log_groups=["/eks/web"])


def test_the_report_has_impact_durations_cost_and_links_on_one_clock():
    report = _incident_report()
    md = render_markdown(report)
    assert "## Impact" in md and "| start | 2026-03-01 01:49:00 UTC (metrics onset) |" in md
    assert "| mitigation | 02:07:10 UTC (recovery verified) |" in md and "| duration | 18 min 10 s |" in md
    assert "web-5xx (cloudwatch-sns, 3×)" in md and "| services affected | web |" in md
    assert "| detection (onset → first alert) | 01:49:00 | 02:00:00 | 11 min 00 s |" in md
    assert "| approval (request → approved) | 02:01:36 | 02:05:00 | 3 min 24 s |" in md
    assert "2,100 input and 250 output tokens, about $0.0101" in md
    assert "deploy 42 / 3 min before" in md                          # a pipe cannot break the table
    links = dict(re.findall(r"- \[([^\]]+)\]\((\S+)\)", md))
    assert "executions/details/arn:aws:states:eu-west-1:111122223333:execution:Watchkeeper-Incident:inc-web-1" \
        in links["Step Functions execution"]
    assert "logs-insights" in links["Logs Insights (errors in the window)"] and "2026-03-01T01" in links[
        "Logs Insights (errors in the window)"]
    assert "metricsV2" in links["Metrics of the chart"] and "Watchkeeper-prod" in links["Watchkeeper dashboard"]
    # one clock: every phase runs forward, and the whole story fits in the chart's window
    for _, a, b in phases(report.ms):
        assert a is not None and b is not None and timedelta(0) <= b - a < timedelta(hours=1)
    start, end = report.window()
    assert end - start < timedelta(hours=1)


def test_the_chart_draws_the_alarmed_metric_with_every_milestone():
    svg = _incident_report().chart()
    assert "error_rate_5xx (App)" in svg and svg.count("<path d=\"M") >= 1
    for label in ("deploy 42 of web", "onset", "first alert: web-5xx", "diagnosis: bad_deploy",
                  "approved by oncall@example.com", "rollback_deployment on eks/prod/shop/web: executed",
                  "recovery verified"):
        assert f">{label}<title>" in svg, label
    assert "impact window" in svg


def test_an_unmitigated_incident_says_so_and_its_duration_is_a_lower_bound():
    md = render_markdown(_incident_report(with_recovery=False))
    assert "| mitigation | not verified: mitigated |" in md
    assert "| duration | at least " in md


def test_the_html_page_is_self_contained_and_escapes_what_it_shows():
    report = _incident_report()
    report.incident.alerts[0].title = '<script>alert("x")</script>'
    page = render_html(report)
    assert page.startswith("<!doctype html>") and "<svg" in page and "<style>" in page
    assert "<script" not in page and "&lt;script&gt;" in page
    assert not re.search(r'(?:src|href)="(?!https://[a-z0-9-]+\.console\.aws\.amazon\.com/)', page)


def test_durations_read_like_a_person_writes_them():
    assert duration(T0, T0 + timedelta(seconds=42)) == "42 s"
    assert duration(T0, T0 + timedelta(minutes=4, seconds=5)) == "4 min 05 s"
    assert duration(T0, T0 + timedelta(hours=2, minutes=3)) == "2 h 03 min"
    assert duration(None, T0) == "—"


def test_a_model_that_could_not_be_used_is_said_in_the_report():
    """A retired, denied or throttled model falls back to the deterministic analyzer: the report says so."""
    report = _incident_report(model_fallback=True)
    md, html = render_markdown(report), render_html(report)
    assert "Model: the model could not be reached or refused the call" in md
    assert "the deterministic diagnosis stands" in html
