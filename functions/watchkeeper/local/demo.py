"""`make demo`: one whole incident, live, on the embedded AWS.

The bad-deploy example travels from its alerts to the post-incident report: the state
machine synthesized by the CDK app runs on moto, the real handlers run in process, and the
rollback happens on a simulated EKS cluster through the official Kubernetes client. The
approval goes through the approval page, served on localhost by the real approval API handler.
"""
from __future__ import annotations

import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.prompt import Confirm

from ..models import ApprovalDecision
from .approval_server import submit_decision
from .console import audit_table, evidence_table, metrics_view
from .replay import ReplayOptions, ReplaySession
from .scenario import load_bundle
from .state import export_incident, local_audit

DEFAULT_BUNDLE = Path(__file__).resolve().parents[3] / "tests" / "scenarios" / "examples" / "storefront-bff-bad-deploy"


def run_demo(bundle_dir: Path | None = None, *, auto_approve: bool = False, console: Console | None = None,
             home: Path = Path(".watchkeeper")) -> int:
    console = console or Console()
    bundle, root = load_bundle(bundle_dir or DEFAULT_BUNDLE)
    console.print(Panel.fit(
        f"[bold]Watchkeeper demo[/bold]: {bundle.name}\n"
        "embedded AWS (moto) · the state machine synthesized by the CDK app · the real Lambda handlers · "
        "a simulated EKS cluster behind the official Kubernetes client", border_style="blue"))
    t0 = time.monotonic()
    session_box: dict[str, ReplaySession] = {}

    def on_state(incident_id: str, state: str) -> None:
        console.print(f"  [dim]+{time.monotonic() - t0:5.1f}s[/dim]  [bold cyan]▶ {state}[/bold cyan]")

    def approve(approval: dict[str, Any]) -> ApprovalDecision:
        s = approval["summary"]
        rc = s["root_cause"]
        console.print(Panel(
            f"[bold]{s['title']}[/bold]\nroot cause: [bold]{rc['kind']}[/bold] {rc.get('culprit') or ''} "
            f"(confidence {rc['confidence']:.2f})\n{rc['summary']}\n\nproposed: [yellow]"
            + "; ".join(s["actions"]) + "[/yellow]", title="Approval requested", border_style="yellow"))
        session = session_box["s"]
        link = session.approval_link(approval)
        console.print("  the approval page (served on localhost by the approvals handler):")
        console.print(f"  [link={link}]{link}[/link]", soft_wrap=True)     # one line: a terminal can open it
        if auto_approve:
            approved, note = True, "approved with --yes"
        elif sys.stdin.isatty():
            console.print("  open it in a browser to decide there, run [bold]watchkeeper approve|reject "
                          f"{approval['incident_id']}[/bold] in another terminal, or answer here:")
            approved, note = Confirm.ask("Approve this remediation?", default=True, console=console), "at the terminal"
        else:
            approved, note = True, "no terminal to ask at: approving automatically"
        console.print(f"  [bold]{'approved' if approved else 'rejected'}[/bold] ({note}); "
                      "the decision goes through the local approval page as a browser would, with the one-time "
                      "code from the approver's (local) inbox")
        return _decide_through_page(session, link, approved)

    options = ReplayOptions(dry_run=False, approve=approve, on_state=on_state, timeout_seconds=120,
                            extra_env={"VERIFY_WAIT_SECONDS": "1"}, approval_server=True)
    with ReplaySession(bundle, root, options) as session:
        session_box["s"] = session
        session.approval_server.advertise(home)       # `watchkeeper approve|reject INCIDENT` from another terminal
        _recover_on_rollback(session, bundle)
        console.print(f"[bold]1. Alerts[/bold]: {len(bundle.alerts)} deliveries into the ingest function")
        totals = session.ingest()
        console.print(f"   {totals['received']} received, {totals['invalid']} invalid, {totals['resolved']} resolved")
        started = session.start_incidents()
        console.print(f"[bold]2. Incident[/bold]: {', '.join(started)} — the state machine runs:")
        results = session.wait(started)
        for incident_id in started:
            _show_outcome(console, session, incident_id, results[incident_id], home)
    console.print(f"[dim]done in {time.monotonic() - t0:.1f}s[/dim]")
    ok = all(r["status"] == "SUCCEEDED" for r in results.values())
    return 0 if ok else 1


def _decide_through_page(session: ReplaySession, link: str, approved: bool) -> ApprovalDecision | None:
    """Open the approval page and press its button, then enter the code the approver's inbox got."""
    from ..composition import container

    who = next((a for a in container().cfg.approvers if "@" in a), "oncall@example.com")
    status, page = submit_decision(link, approved, session.approval_server.mailbox(), who)
    if status == 409 and "already decided" in page:     # decided in the browser meanwhile: that decision stands
        return None
    if status != 200:
        raise RuntimeError(f"the approval page refused the decision ({status}): {page[-300:]}")
    # the handler already resumed the workflow; tell the replay loop not to answer again
    return ApprovalDecision(approved=approved, decided_by=who, channel="web", reason="already sent")


def _recover_on_rollback(session: ReplaySession, bundle: Any) -> None:
    """The simulated world: the service stays broken until the bad revision is rolled back, then its
    metrics return to their healthy level (minute by minute, on the scenario's clock)."""
    cw = session.aws.client("cloudwatch")

    def on_write(verb: str, kind: str, namespace: str, name: str, body: Any) -> None:
        service = next((s for s in bundle.services if s.workload == name and s.namespace == namespace), None)
        if service is None or kind.lower() not in ("deployment", "deployments") or verb == "get":
            return
        now = session.clock().replace(second=0, microsecond=0)
        for m in bundle.metrics:
            if m.service != service.name or not m.points:
                continue
            values = [v for _, v in m.points]
            healthy = statistics.median(values[: max(12, len(values) // 2)])
            broken = statistics.mean(values[-3:])
            last = m.points[-1][0]
            until_now = [last + timedelta(minutes=k) for k in range(1, 60) if last + timedelta(minutes=k) <= now]
            data = [(t, broken) for t in until_now] + [(now + timedelta(minutes=k), healthy) for k in (1, 2, 3)]
            for i in range(0, len(data), 500):
                cw.put_metric_data(Namespace=m.namespace, MetricData=[
                    {"MetricName": m.name, "Dimensions": [{"Name": "Service", "Value": m.service}],
                     "Timestamp": t, "Value": v} for t, v in data[i:i + 500]])

    session.kube.on_write(on_write)


def _show_outcome(console: Console, session: ReplaySession, incident_id: str, result: dict[str, Any], home: Path) -> None:
    out = result["output"]
    width = console.width
    diagnosis, evidence = out.get("diagnosis") or {}, out.get("evidence") or {}
    if diagnosis:
        console.print(Panel(f"[bold]{diagnosis['kind']}[/bold] {diagnosis.get('culprit') or ''} "
                            f"(confidence {diagnosis['confidence']:.2f})\n{diagnosis['summary']}",
                            title="3. Diagnosis", border_style="magenta"))
        console.print(evidence_table(diagnosis, evidence, width))
    for r in (out.get("execution") or {}).get("results", []):
        console.print(Panel(f"{r['api_call']}\n\n{r.get('diff', '')}", title=f"4. {r['type']}: {r['status']}",
                            border_style="green" if r["status"] == "executed" else "red"))
    for s in session.bundle.services:
        if s.platform == "eks" and s.name == (out.get("incident") or {}).get("service"):
            dep = session.kube.deployment(s.namespace, s.workload)
            ann = dep["metadata"].get("annotations", {})
            image = dep["spec"]["template"]["spec"]["containers"][0]["image"]
            console.print(f"   cluster now: {s.namespace}/{s.workload} revision "
                          f"{ann.get('deployment.kubernetes.io/revision')} image {image}")
    verification = out.get("verification") or {}
    if verification:
        console.print(f"[bold]5. Verification[/bold]: {verification['status']} after {verification['attempts']} check(s)")
        for c in verification.get("checks", []):
            console.print(f"   {c}")
    report = out.get("report") or {}
    paths = export_incident(session, incident_id, result, home, origin="demo")
    console.print(f"[bold]6. Report[/bold]: {report.get('status')} — {report.get('summary')}")
    for key, what in (("html_uri", "page with the chart"), ("uri", "Markdown"), ("chart_uri", "timeline chart")):
        if key in paths:
            console.print(f"   {what}: {paths[key]}", soft_wrap=True)
    records = local_audit(home, incident_id)
    console.print(audit_table(records, incident_id, width))
    console.print(metrics_view([m for m in session.agent_metrics() if "service" in m["dimensions"]
                                or m["name"].startswith("Alerts")]))
    console.print(f"\n   read it again: [bold]watchkeeper show {incident_id}[/bold] "
                  f"(and [bold]watchkeeper incidents[/bold], [bold]watchkeeper audit {incident_id}[/bold])", soft_wrap=True)
