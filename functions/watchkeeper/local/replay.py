"""`watchkeeper replay`: a bundle through the real pipeline on the embedded AWS.

Writes are planned (the global dry-run mode), never executed: approvals are answered by
the replay itself ("dry run, nothing is written") so the plan, the dry-run calls and the
report are produced the same way a live incident produces them.
"""
from __future__ import annotations

import json
import tempfile
import time
from datetime import datetime
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..adapters.dynamodb_audit import DynamoDBAuditLog
from ..adapters.dynamodb_state import DynamoDBIncidentStore
from ..adapters.messaging import StepFunctionsStarter
from ..models import ApprovalDecision
from ..clock import clock_with_offset, offset_to
from .approval_server import ApprovalServer, approval_link
from .k8s_sim import KubernetesSimulator
from .runtime import LocalAws
from .scenario import Bundle, WorldLoader, load_bundle
from .template import load_template

INGEST_CHUNK = 5000
INGEST_CHUNK_BYTES = 5_000_000


@dataclass
class ReplayOptions:
    dry_run: bool = True
    kill_switch: bool = False
    approve: Callable[[dict[str, Any]], ApprovalDecision] | None = None   # None: replay answers "approved (dry run)"
    on_state: Callable[[str, str], None] | None = None                    # (incident id, state name) as they run
    timeout_seconds: float = 90.0
    template_account: str = "local"                                       # which cdk.json account to synthesize
    max_concurrent: int = 6      # executions running at once: moto runs each in a thread, and 50 threads
                                 # fighting over one interpreter finish later than 6 at a time
    extra_env: dict[str, str] = field(default_factory=dict)
    approval_server: bool = False                                         # serve the approval page on localhost


def replay(directory: str | Path, options: ReplayOptions | None = None) -> dict[str, Any]:
    bundle, root = load_bundle(directory)
    options = options or ReplayOptions()
    with ReplaySession(bundle, root, options) as session:
        return session.run()


class ReplaySession:
    """One bundle on a fresh emulator and a fresh Kubernetes simulator."""

    def __init__(self, bundle: Bundle, root: Path, options: ReplayOptions):
        self.bundle, self.root, self.options = bundle, root, options
        self.kube = KubernetesSimulator()
        self.aws: LocalAws | None = None
        self.answered: set[str] = set()
        self._to_start: list[str] = []
        self._started: set[str] = set()
        self._sent: dict[str, tuple[str, float]] = {}     # incident -> (task token, when it was answered)
        self._nudge_failing: dict[str, float] = {}        # incident -> since when its heartbeats fail
        self.approval_server: ApprovalServer | None = None
        self.metrics_path = Path(tempfile.mkstemp(prefix="watchkeeper-metrics-", suffix=".jsonl")[1])

    def __enter__(self) -> "ReplaySession":
        url = self.kube.start()
        # one clock: the functions run in the scenario's time, from the moment its last alert arrived (clock.py);
        # the agent's own metrics go to a file instead of the terminal (agent_metrics.py)
        self.clock = clock_with_offset(offset_to(self.scenario_start))
        env = {"DRY_RUN": "true" if self.options.dry_run else "false", "START_EXECUTIONS": "false",
               "SETTLE_SECONDS": "0", "WATCHKEEPER_KUBE_URL": url, "VERIFY_WAIT_SECONDS": "1",
               "CLOCK_OFFSET_SECONDS": f"{self.clock.offset.total_seconds():.3f}", "METRICS_FILE": str(self.metrics_path),
               **self.options.extra_env}
        if self.options.approval_server:       # its URL must be in the functions' environment before start
            self.approval_server = ApprovalServer()
            env["APPROVAL_API_URL"] = self.approval_server.start()
        self.aws = LocalAws(load_template(self.options.template_account), env_overrides=env)
        self.aws.start()
        if self.approval_server is not None:
            self.approval_server.bind(self.aws)
        WorldLoader(self.aws).load(self.bundle, self.root, self.kube)
        if self.options.kill_switch:
            self.aws.client("ssm").put_parameter(Name=self.aws.env("KILL_SWITCH_PARAMETER"), Value="on",
                                                 Type="String", Overwrite=True)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.approval_server is not None:
            self.approval_server.stop()
        if self.aws is not None:
            self.aws.stop()
        self.kube.stop()
        self.metrics_path.unlink(missing_ok=True)

    @property
    def scenario_start(self) -> datetime:
        """The scenario's time when the replay begins: its `now`, or its last alert if that came later."""
        return max([self.bundle.now, *(a.received_at for a in self.bundle.alerts)])

    def agent_metrics(self) -> list[dict[str, Any]]:
        """The metrics the functions emitted so far (EMF), one entry per metric and dimension set."""
        from ..agent_metrics import read_emf
        return read_emf(self.metrics_path.read_text().splitlines()) if self.metrics_path.is_file() else []

    def approval_link(self, approval: dict[str, Any]) -> str:
        """The approval request's link on the local approval server."""
        assert self.approval_server is not None, "start the session with ReplayOptions(approval_server=True)"
        return approval_link(self.approval_server.url, approval)

    # --- the run -------------------------------------------------------------------------
    def ingest(self) -> dict[str, Any]:
        """Feed the bundle's deliveries to the ingest function in order, in invocations of at most
        INGEST_CHUNK_BYTES (a synchronous Lambda payload is limited to 6 MB)."""
        assert self.aws is not None
        lam = self.aws.client("lambda")
        ingest_fn = self.aws.function_for("handlers.ingest.handler")
        totals = {"received": 0, "invalid": 0, "resolved": 0, "errors": []}
        chunks: list[list[str]] = [[]]
        size = 0
        for a in self.bundle.alerts:
            doc = json.dumps({"source": a.source, "payload": a.payload, "received_at": a.received_at.isoformat()})
            if chunks[-1] and (size + len(doc) > INGEST_CHUNK_BYTES or len(chunks[-1]) >= INGEST_CHUNK):
                chunks.append([])
                size = 0
            chunks[-1].append(doc)
            size += len(doc) + 1
        for chunk in chunks:
            if not chunk:
                continue
            resp = lam.invoke(FunctionName=ingest_fn, Payload='{"deliveries": [' + ",".join(chunk) + "]}")
            out = json.loads(resp["Payload"].read())
            if resp.get("FunctionError"):
                raise RuntimeError(f"ingest failed: {out.get('errorType')}: {out.get('errorMessage')}")
            for key in ("received", "invalid", "resolved"):
                totals[key] += out[key]
            totals["errors"] += out["errors"]
        return totals

    def start_incidents(self) -> list[str]:
        assert self.aws is not None
        store = DynamoDBIncidentStore(self.aws.env("STATE_TABLE"), self.aws.client("dynamodb"))
        starter = StepFunctionsStarter(self.aws.state_machine_arn, self.aws.client("stepfunctions"))
        ids = store.incident_ids(status="open")
        self._starter = starter
        self._to_start = list(ids)
        self._start_more(0)
        return ids

    def _start_more(self, running: int) -> None:
        """Start queued incidents while fewer than `max_concurrent` executions run."""
        while self._to_start and running < max(1, self.options.max_concurrent):
            incident_id = self._to_start.pop(0)
            self._starter.start(incident_id, {"incident_id": incident_id, "settle_seconds": 0})
            self._started.add(incident_id)
            running += 1

    def wait(self, incident_ids: list[str]) -> dict[str, dict[str, Any]]:
        assert self.aws is not None
        sfn = self.aws.client("stepfunctions")
        store = DynamoDBIncidentStore(self.aws.env("STATE_TABLE"), self.aws.client("dynamodb"))
        audit = DynamoDBAuditLog(self.aws.env("AUDIT_TABLE"), self.aws.client("dynamodb"), clock=self.clock)
        arns = {i: f"{self.aws.state_machine_arn.replace(':stateMachine:', ':execution:')}:{i}" for i in incident_ids}
        results: dict[str, dict[str, Any]] = {}
        seen_events: dict[str, int] = {}
        deadline = time.monotonic() + self.options.timeout_seconds + 2.0 * len(arns)
        while len(results) < len(arns) and time.monotonic() < deadline:
            open_ids = [i for i in arns if i not in results]
            for approval in store.pending_for(open_ids, self.answered):
                self._answer(approval, store, audit, sfn)
            running = set()
            for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=self.aws.state_machine_arn,
                                                                      statusFilter="RUNNING"):
                running |= {e["executionArn"] for e in page["executions"]}
            self._start_more(len(running))
            for incident_id in open_ids:
                arn = arns[incident_id]
                if incident_id not in self._started:
                    continue
                if self.options.on_state:
                    self._report_states(sfn, incident_id, arn, seen_events)
                if arn in running:
                    self._nudge(sfn, incident_id)
                    continue
                desc = sfn.describe_execution(executionArn=arn)
                if desc["status"] != "RUNNING":
                    output = json.loads(desc.get("output") or "{}")
                    results[incident_id] = {"status": desc["status"], "output": output}
            # the executions run in moto's threads: poll gently, they need the interpreter more than we do
            time.sleep(min(0.1, 0.01 + 0.002 * len(running)))
        for incident_id in arns:
            results.setdefault(incident_id, {"status": "TIMED_OUT", "output": {}})
        return results

    def _report_states(self, sfn: Any, incident_id: str, arn: str, seen: dict[str, int]) -> None:
        events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
        for e in events[seen.get(incident_id, 0):]:
            details = e.get("stateEnteredEventDetails")
            if details:
                self.options.on_state(incident_id, details["name"])
        seen[incident_id] = len(events)

    def _nudge(self, sfn: Any, incident_id: str) -> None:
        """Work around a race in moto's callback tasks: a decision sent before the task has set up
        its heartbeat endpoint is only noticed at the next heartbeat. A heartbeat after the
        decision wakes the task, which then reads the outcome it already holds."""
        sent = self._sent.get(incident_id)
        if sent is None or time.monotonic() - sent[1] < 0.3:
            return
        try:
            sfn.send_task_heartbeat(taskToken=sent[0])
        except Exception:  # the task has moved on, or (InvalidToken) it has not yet set up its callback:
            first = self._nudge_failing.setdefault(incident_id, time.monotonic())   # try again for a while
            if time.monotonic() - first > 10:
                self._sent.pop(incident_id, None)
            return
        self._nudge_failing.pop(incident_id, None)
        self._sent[incident_id] = (sent[0], time.monotonic())

    def _answer(self, approval: dict[str, Any], store: Any, audit: Any, sfn: Any) -> None:
        if approval["request_id"] in self.answered:
            return
        self.answered.add(approval["request_id"])
        self._sent[approval["incident_id"]] = (approval["task_token"], time.monotonic())
        if self.options.approve is not None:
            self.options.approve(approval)      # decided through the approval API, which resumes the workflow
            return
        decision = ApprovalDecision(approved=True, decided_by="watchkeeper replay", channel="replay",
                                    reason="dry run: writes are planned, not executed")
        if not store.decide_approval(approval["request_id"], "approved" if decision.approved else "rejected"):
            return
        audit.append(approval["incident_id"], "Wait for approval", "decision",
                     f"{'approved' if decision.approved else 'rejected'} by {decision.decided_by} via {decision.channel}",
                     {"reason": decision.reason}, actor=decision.decided_by)
        sfn.send_task_success(taskToken=approval["task_token"], output=json.dumps(decision.model_dump(mode="json")))

    def run(self) -> dict[str, Any]:
        totals = self.ingest()
        started = self.start_incidents()
        results = self.wait(started)
        self.results = results           # each execution's status and final state, for callers that keep them
        return {"scenario": self.bundle.name,
                "alerts": {"received": totals["received"], "invalid": totals["invalid"], "resolved": totals["resolved"]},
                "incidents": [incident_summary(i, results[i]) for i in started],
                "agent_metrics": [m for m in self.agent_metrics() if "service" in m["dimensions"]
                                  or m["name"].startswith("Alerts")],
                "iam": self.aws.iam_report}


def incident_summary(incident_id: str, result: dict[str, Any]) -> dict[str, Any]:
    """One incident in the replay contract of FORMAT.md."""
    out = result["output"]
    incident = out.get("incident") or {}
    diagnosis = out.get("diagnosis")
    plan = out.get("plan") or {}
    execution = out.get("execution") or {}
    evidence = {i["id"]: i for i in (out.get("evidence") or {}).get("items", [])}
    by_action = {r["action_id"]: r for r in execution.get("results", [])}
    actions = []
    for a in plan.get("actions", []):
        if a["type"] == "page_human":
            actions.append({"type": "page_human", "target": a["target"], "status": "executed" if out.get("escalation") else "planned",
                            "approval": "none", "blocked_by": None})
            continue
        if a["type"] == "capture_diagnostics":
            continue
        r = by_action.get(a["id"])
        status = r["status"] if r else ("skipped" if execution else "planned")
        actions.append({"type": a["type"], "target": a["target"], "status": status,
                        "approval": "required" if a.get("requires_approval") else "auto",
                        "blocked_by": r.get("blocked_by") if r else None,
                        **({"api_call": r["api_call"]} if r and r.get("api_call") else {})})
    if out.get("escalation") and not any(a["type"] == "page_human" for a in actions):
        actions.append({"type": "page_human", "target": incident.get("service"), "status": "executed",
                        "approval": "none", "blocked_by": None, "reason": out["escalation"].get("reason")})
    status = (out.get("report") or {}).get("status") or ("failed" if result["status"] != "SUCCEEDED" else "open")
    if status == "planned" and plan.get("decision") == "approve":
        status = "awaiting_approval"
    root_cause = None
    if diagnosis:
        root_cause = {"kind": diagnosis["kind"], "culprit": diagnosis.get("culprit"),
                      "confidence": diagnosis.get("confidence"), "summary": diagnosis.get("summary"),
                      "evidence": [{"type": evidence[e]["type"], "ref": evidence[e]["ref"], "detail": evidence[e]["detail"]}
                                   for e in diagnosis.get("evidence", []) if e in evidence]}
    return {"id": incident_id, "service": incident.get("service"), "alerts": incident.get("deliveries") or len(incident.get("alerts", [])),
            "category": incident.get("category"), "severity": incident.get("severity"), "root_cause": root_cause,
            "runbook": plan.get("runbook"), "actions": actions, "status": status,
            "execution": result["status"], "report": (out.get("report") or {}).get("uri"),
            **({"error": out["error"]} if out.get("error") else {})}
