"""The incident workflow's steps, one method per state, over injected ports.

Handlers parse their input, call one method here and return its model; replay, the demo
and the tests build `Steps` with the same ports (or fakes).
"""
from __future__ import annotations

import hashlib
import logging
import secrets as pysecrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from .approvals import (
    SLACK_CHANNEL_SUBJECT, ApprovalNotice, cited_evidence, new_request_window, preview_actions, request_links,
    thread_update,
)
from .domain.approval_summary import approval_summary
from .domain import runbooks as runbook_engine
from .domain.approval_tokens import sign
from .domain.classify import incident_category, severity
from .domain.diagnose import DeterministicAnalyzer
from .domain.evidence import EvidenceGatherer
from .domain.guardrails import GuardrailConfig, GuardrailContext, GuardrailPolicy, Verdict, check
from .domain.pinning import drift, outcome
from .domain.redact import redact, redact_model, redact_value
from .domain.report import ConsoleLinks, IncidentReport, render_html, render_markdown
from .models import (
    Action, ActionResult, ApprovalDecision, ApproverDecision, Escalation, Evidence, ExecutionResult, Incident,
    PastIncident, Pin, RemediationPlan, ReportRef, RootCause, ServiceCatalog, Verification,
)
from .ports import ActionExecutor, AlarmState, AuditLog, IncidentStore, OutcomeUnknown, Pager, ReportStore, TransientError

# outcomes a retried step reads back instead of writing again
FINAL_STATUSES = frozenset({"executed", "failed", "blocked", "skipped", "reverted"})
# a write that keeps ending in transient errors is given up (and the plan's earlier writes put back)
MAX_WRITE_ATTEMPTS = 3
UNDOES_A_CHANGE = frozenset({"rollback_deployment", "revert_config"})   # the four-eyes rule applies to these


@dataclass
class _Run:
    """One Execute invocation's running state."""

    lock_ttl: int
    results: list[ActionResult] = field(default_factory=list)
    stopped: str | None = None           # why the writes after a refusal or failure do not run
    lock_held: bool = False
    pods_restarted: int = 0


@dataclass
class Steps:
    catalog: ServiceCatalog
    store: IncidentStore
    audit: AuditLog
    gatherer: EvidenceGatherer
    executor: ActionExecutor
    pager: Pager
    reports: ReportStore
    alarms: AlarmState
    kill_switch: Any                      # SettingsStore
    approvals: Any = None                 # ApprovalStore (the state table)
    notifier: Any = None                  # ApprovalNotifier
    refiner: Any = None                   # optional model-backed Analyzer
    metrics: Any = None                   # MetricSource, for verification
    runbooks: list = field(default_factory=list)
    policy: GuardrailPolicy = field(default_factory=GuardrailPolicy)
    dry_run: bool = False
    signing_key: Any = b""                      # bytes, or a callable that reads them when first needed
    approval_url: str = ""
    approval_timeout_seconds: int = 900
    approvers: tuple[str, ...] = ()             # who is asked: email addresses get their own link
    region: str = ""                            # for the console links an approver sees
    verify_wait_seconds: int = 60
    verify_max_attempts: int = 10
    guardrails: GuardrailConfig | None = None   # the account's policy with per-service overrides (else `policy`)
    rate_limits: Any = None                     # RateLimits (DynamoDB on the state table); None: per-execution only
    clock: Any = None                           # () -> aware datetime; tests pin it
    links: ConsoleLinks | None = None           # console links in the report (region, account, dashboard)
    memory: Any = None                          # IncidentMemory (MEMORY# items on the state table); None: no memory
    ledger: Any = None                          # WriteLedger (DynamoDB on the state table); None: in this process only

    def __post_init__(self) -> None:
        if self.ledger is None:
            from .adapters.dynamodb_rate_limits import InProcessWriteLedger
            self.ledger = InProcessWriteLedger()

    def policy_for(self, service: str) -> GuardrailPolicy:
        return self.guardrails.for_service(service) if self.guardrails is not None else self.policy

    def _now(self) -> datetime:
        return self.clock() if self.clock else datetime.now(timezone.utc)

    # --- Classify alert ---------------------------------------------------------------
    def classify(self, incident_id: str) -> Incident:
        incident = self.store.load(incident_id)
        if incident.status == "merged":
            self.audit.append(incident.id, "Classify alert", "step", f"merged into {incident.merged_into}")
            return incident
        incident = incident.compacted()
        incident.service_info = self.catalog.get(incident.service)
        incident.category = incident_category(a.category for a in incident.alerts for _ in range(a.count))
        incident.severity = severity((a.priority for a in incident.alerts), incident.deliveries)
        incident.title = f"{incident.service}: {incident.category} ({len(incident.alerts)} alerts)"
        self.store.save(incident)
        self.audit.append(incident.id, "Classify alert", "step",
                          f"{incident.service}: {incident.category}, {incident.severity}, {incident.deliveries} deliveries"
                          + (f", suspects {', '.join(incident.suspects)}" if incident.suspects else ""))
        return incident

    # --- Gather evidence --------------------------------------------------------------
    def gather(self, incident: Incident) -> Evidence:
        evidence = self.gatherer.gather(incident)
        self.audit.append(incident.id, "Gather evidence", "step",
                          f"{len(evidence.items)} evidence items from {evidence.log_lines_read} log lines, "
                          f"{len(evidence.metrics)} metric series, {len(evidence.changes)} changes")
        return evidence

    # --- Diagnose ---------------------------------------------------------------------
    def diagnose(self, incident: Incident, evidence: Evidence) -> RootCause:
        cause = DeterministicAnalyzer(self.catalog).diagnose(incident, evidence)
        if self.refiner is not None:
            cause = self.refiner.analyze(incident, evidence, cause)
        self.audit.append(incident.id, "Diagnose", "step",
                          f"{cause.kind}{' (' + cause.culprit + ')' if cause.culprit else ''}, confidence {cause.confidence:.2f}",
                          {"evidence": cause.evidence, "analyzer": cause.analyzer})
        return cause

    # --- Plan remediation -------------------------------------------------------------
    def plan(self, incident: Incident, cause: RootCause, evidence: Evidence | None = None) -> RemediationPlan:
        incident = _about_the_culprit(incident, cause, evidence)
        service = self.catalog.get(incident.service)
        policy = self.policy_for(incident.service)
        facts = runbook_engine.facts_of(cause, incident, evidence)
        book = runbook_engine.select(self.runbooks, cause, incident, service, facts)
        plan = runbook_engine.plan(book, cause, incident, service, dry_run=self.dry_run, policy=policy, facts=facts,
                                   catalog=self.catalog)
        self.audit.append(incident.id, "Plan remediation", "step",
                          f"runbook {plan.runbook or 'none'}"
                          + (f" (decision {plan.decided_by})" if plan.decided_by else "") + ": "
                          + ", ".join(a.type for a in plan.actions)
                          + f" -> {plan.decision} (autonomy {plan.autonomy}{', dry run' if plan.dry_run else ''})",
                          {"facts": {"recent_deploy": facts.recent_deploy, "error_spike": facts.error_spike,
                                     "culprit_is_deploy": facts.culprit_is_deploy,
                                     "checked_confidence": facts.confidence, "supported": facts.supported,
                                     "doubt": facts.doubt}})
        return plan

    # --- Preview actions ---------------------------------------------------------------
    def preview(self, incident: Incident, plan: RemediationPlan) -> dict[str, Any]:
        """The dry run of every proposed write (exact API call and diff), for the approvers.

        Runs in the function that holds the executors' read rights and clients, so the
        request that follows can show it; nothing is written."""
        writes = [a for a in plan.actions if a.is_write]
        actions = preview_actions(self.executor, writes)
        self.audit.append(incident.id, "Preview actions", "step",
                          f"dry run of {len(actions)} proposed write(s): "
                          + ", ".join(a.get("api_call") or a["type"] for a in actions),
                          {"pins": {a["id"]: {"summary": (a.get("pin") or {}).get("summary"),
                                              "fingerprint": (a.get("pin") or {}).get("fingerprint")}
                                    for a in actions}})
        return {"actions": actions}

    # --- Wait for approval ------------------------------------------------------------
    def request_approval(self, task_token: str, incident: Incident, cause: RootCause, plan: RemediationPlan,
                         now: datetime | None = None, evidence: Evidence | None = None,
                         preview: list[dict[str, Any]] | None = None, execution_arn: str = "",
                         entered_at: str | None = None) -> str:
        """Store the task token, then ask each approver on their own channel; the window every
        channel announces is the task's real timeout (counted from when the state was entered)."""
        now = now or self._now()
        request_id = hashlib.sha256(f"{incident.id}:{pysecrets.token_hex(8)}".encode()).hexdigest()[:20]
        expires = new_request_window(now, self.approval_timeout_seconds, entered_at)
        writes = [a for a in plan.actions if a.is_write]
        service = self.catalog.get(incident.service) if self.catalog is not None else None
        summary = approval_summary(
            incident=incident.model_dump(mode="json", exclude={"alerts"}), root_cause=cause.model_dump(mode="json"),
            plan=plan.model_dump(mode="json"), evidence=cited_evidence(cause, evidence),
            proposed=preview if preview is not None else preview_actions(self.executor, writes), expires_at=expires,
            region=self.region, execution_arn=execution_arn, log_group=service.log_group if service else None,
            metrics=[{"namespace": m.namespace, "name": m.name} for m in (evidence.metrics if evidence else [])
                     if m.service == incident.service],
            four_eyes=self._four_eyes(incident, cause, writes, evidence), keep=tuple(self.approvers))
        if self.report_url(incident.id):        # the email names where the report will be
            summary["report_url"] = self.report_url(incident.id)
        self.approvals.save_pending(request_id, incident.id, task_token, expires, summary)
        keys = self.signing_key() if callable(self.signing_key) else self.signing_key
        links = request_links(keys, self.approval_url, tuple(self.approvers), request_id, expires)
        notice = ApprovalNotice(request_id, summary, sign(keys, request_id, SLACK_CHANNEL_SUBJECT, expires), None, expires)
        thread_ts = None
        if self.notifier is not None:
            thread_ts = self.notifier.request(incident, notice, links)
        if thread_ts:
            self.approvals.save_approval_thread(request_id, incident.id, thread_ts)
        self.audit.append(incident.id, "Wait for approval", "step",
                          f"approval requested for {', '.join(summary['actions'])}; decide by {expires:%H:%M:%S} UTC",
                          {"request_id": request_id, "slack_thread": thread_ts, "links_sent": len(links)})
        return request_id

    def _four_eyes(self, incident: Incident, cause: RootCause, writes: list[Any],
                   evidence: Evidence | None) -> dict[str, Any] | None:
        """The change the writes undo, and its author, when its service has the four-eyes rule."""
        if self.catalog is None or not any(a.type in UNDOES_A_CHANGE for a in writes) or not cause.culprit:
            return None
        change = next((c for c in (evidence.changes if evidence else []) if c.id == cause.culprit), None)
        entry = self.catalog.get(change.service if change else incident.service) or self.catalog.get(incident.service)
        if entry is None or not entry.four_eyes:
            return None
        return {"change": cause.culprit, "service": entry.name, "author": change.author if change else None}

    def update_thread(self, incident_id: str, text: str, close_pending: bool = False) -> None:
        """Post a later update (action result, verification, report) to the approval's Slack
        thread; with `close_pending`, a request nobody answered is closed as timed out."""
        if self.notifier is None or self.approvals is None:
            return
        try:
            request = self.approvals.latest_approval(incident_id)
            if request is None:
                return
            if close_pending and request["status"] == "pending":
                self.approvals.close_approval(request["request_id"], "timed_out")
                self.audit.append(incident_id, "Wait for approval", "decision",
                                  "nobody decided before the approval request timed out; its link no longer decides",
                                  {"request_id": request["request_id"]})
            self.notifier.update_thread(request.get("slack_ts"), text)
        except Exception as exc:  # an update that cannot be posted must not fail the incident
            logging.getLogger(__name__).warning("could not update the approval thread of %s: %s", incident_id, exc)

    # --- Execute actions --------------------------------------------------------------
    def execute(self, incident: Incident, plan: RemediationPlan, approval: ApprovalDecision | None,
                preview: list[dict[str, Any]] | None = None) -> ExecutionResult:
        """Every write exactly once, exactly as approved.

        Each write has an idempotency record (execution + action): a retried step reads the
        recorded outcome instead of writing again, and an intent without an outcome (a
        timeout mid-call, a crash) is reconciled from the live state first. Before a write:
        the kill switch (re-read, fail closed), the approval, the pinned target the approvers
        saw and its before-state fingerprint (`state_drifted`), the guardrails, the shared
        limits; a write-ahead `intent` record, then the write, then its `outcome`. When a
        write fails or is refused, the writes already done in this plan are put back."""
        policy = self.policy_for(incident.service)
        dry_run = self.dry_run or plan.dry_run or policy.dry_run
        approved = bool(approval and approval.approved)
        pins = self._approved_pins(incident, preview) if approved and not dry_run else {}
        run = _Run(lock_ttl=int(plan.verify.get("within_minutes", 10)) * 60 + 900)
        for action in plan.actions:
            if action.type == "page_human":
                continue
            if not action.is_write:
                run.results.append(self._read_action(incident, action, run, dry_run))
                continue
            result = self._write(incident, action, policy, approval, pins.get(action.id), run, dry_run)
            run.results.append(result)
            if result.status in ("blocked", "failed") and not run.stopped:
                run.stopped = (f"{action.type} was refused by {result.blocked_by}" if result.blocked_by
                               else f"{action.type} failed")
        writes = [r for r in run.results if r.action_id in {a.id for a in plan.actions if a.is_write}]
        reverted: list[ActionResult] = []
        if run.stopped and not dry_run:
            reverted = self._put_back(incident, plan, writes, "Execute actions",
                                      f"a later write did not complete ({run.stopped})")
        if any(r.status == "blocked" for r in writes):
            status = "blocked"
        elif any(r.status == "failed" for r in writes):
            status = "failed"
        elif dry_run:
            status = "planned"
        else:
            status = "executed"
        if status != "executed" and self.rate_limits is not None and not dry_run:
            self.rate_limits.release_write_lock(incident.service, incident.id)
        return ExecutionResult(status=status, results=run.results, reverted=reverted)

    def _read_action(self, incident: Incident, action: Action, run: "_Run", dry_run: bool) -> ActionResult:
        """Reads (capture diagnostics) run unless the writes stopped, where the platform can."""
        if run.stopped:
            return _result(action, "skipped", error=f"not run: {run.stopped}")
        ok, why = runbook_engine.capability(action.type, runbook_engine.platform_of(action.target))
        if not ok:
            return _result(action, "skipped", error=why)
        result = self.executor.execute(action, dry_run=dry_run)
        self.audit.append(incident.id, "Execute actions", "step", f"{action.type} on {action.target}: "
                          f"{result.status}" + (f" ({result.error})" if result.error else ""),
                          {"api_call": result.api_call})
        return result

    def _write(self, incident: Incident, action: Action, policy: GuardrailPolicy, approval: ApprovalDecision | None,
               approved_pin: Pin | None, run: "_Run", dry_run: bool) -> ActionResult:
        key = action.id
        pin: Pin | None = None
        resuming = False
        if not dry_run:
            entry = self.ledger.get(incident.id, key)
            if entry and entry["status"] in FINAL_STATUSES and entry.get("result"):
                return ActionResult.model_validate(entry["result"])        # done before: never again
            if entry and entry.get("pin"):                                 # intent, outcome unknown
                pin = Pin.model_validate(entry["pin"])
                done = self._reconcile(incident, "Execute actions", action, pin, key)
                if done is not None:
                    return done
                resuming = True
        if run.stopped:
            return self._final(incident, key, _result(action, "skipped", error=f"not run: {run.stopped}"), dry_run)
        now = self._now()
        switched = self._kill_switch()
        if switched:
            return self._refuse(incident, key, action, Verdict(False, "kill_switch", switched), dry_run)
        if action.requires_approval and not (approval and approval.approved):
            return self._final(incident, key, _result(action, "blocked", blocked_by="approval", error="not approved"),
                               dry_run)
        ok, why = runbook_engine.capability(action.type, runbook_engine.platform_of(action.target),
                                            action.params.get("change"))
        if not ok:
            return self._refuse(incident, key, action, Verdict(False, "capability", why), dry_run)
        if pin is None and action.requires_approval and not dry_run:
            if approved_pin is None:
                return self._refuse(incident, key, action, Verdict(
                    False, "not_pinned", "the approval request did not pin this write's exact target (its dry run "
                                         "failed), so nothing specific was approved"), dry_run)
            pin = approved_pin
        preview: ActionResult | None = None
        if pin is None:                                     # autonomous (or dry run): pin the exact write now
            preview = self.executor.execute(action, dry_run=True)
            if preview.status == "failed" or preview.pin is None:
                if dry_run:     # the plan stands; its exact call could not be computed here, and the result says why
                    result = preview.model_copy(update={"status": "planned"})
                    self.audit.append(incident.id, "Execute actions", "step",
                                      f"{action.type} on {action.target}: planned (dry run); no exact target: "
                                      f"{preview.error}", {"api_call": preview.api_call})
                    return result
                return self._final(incident, key, preview.model_copy(update={
                    "status": "failed", "error": f"pre-flight: {preview.error or 'no exact target'}"}), dry_run)
            pin = preview.pin
        elif not resuming:                                  # approved: the live state must still be what they saw
            changed = drift(pin, self.executor.observe(action, pin))
            if changed:
                return self._refuse(incident, key, action, Verdict(
                    False, "state_drifted", "the live state changed since it was approved: " + "; ".join(changed)
                    + " — nothing was written"), dry_run, pin=pin)
        verdict = check(action, policy, self._context(incident, action, pin, key, now, run))
        if not verdict.allowed:
            return self._refuse(incident, key, action, verdict, dry_run, pin=pin)
        if dry_run:
            result = preview or self.executor.execute(action, dry_run=True, pin=pin)
            self.audit.append(incident.id, "Execute actions", "step",
                              f"{action.type} on {action.target}: {result.status} (dry run)"
                              + (f" ({result.error})" if result.error else ""),
                              {"api_call": result.api_call, "diff": result.diff, "before": result.before})
            return result
        refused = self._take_limits(incident, action, pin, key, policy, now, run)
        if refused is not None:
            return self._refuse(incident, key, action, refused, dry_run, pin=pin)
        return self._perform(incident, "Execute actions", action, pin, key, approval)

    def _perform(self, incident: Incident, step: str, action: Action, pin: Pin, key: str,
                 approval: ApprovalDecision | None = None) -> ActionResult:
        """Intent (audit, then the idempotency record), the write, then its outcome (audit, then record)."""
        pin = pin.model_copy(update={"call": {"since": self._now().isoformat(), **pin.call,
                                              "key": f"{incident.id}#{key}"}})
        verb = "revert" if key.endswith("#revert") else action.type
        self.audit.append(incident.id, step, "intent", f"about to {verb} on {action.target}: {pin.summary}",
                          {"key": f"{incident.id}#{key}", "action": action.model_dump(mode="json"),
                           "pin": pin.model_dump(mode="json"), "fingerprint": pin.fingerprint,
                           "approved_by": approval.decided_by if approval else None})
        attempt = self.ledger.begin(incident.id, key, pin.model_dump(mode="json"), self._now())
        if attempt > MAX_WRITE_ATTEMPTS:
            return self._record(incident, step, key, _result(action, "failed", pin=pin, key=f"{incident.id}#{key}",
                                error=f"gave up after {attempt - 1} attempts that ended in transient errors"))
        try:
            result = self.executor.execute(action, dry_run=False, pin=pin, guard=self._guard)
        except OutcomeUnknown as exc:
            self.audit.append(incident.id, step, "step", f"{verb} on {action.target}: outcome unknown ({exc}); "
                              "reading the live state back", {"key": f"{incident.id}#{key}"})
            done = self._reconcile(incident, step, action, pin, key)
            if done is None:
                raise TransientError(f"{verb} on {action.target} did not happen ({exc}); the retry does it") from exc
            return done
        if key.endswith("#revert") and result.status == "executed":
            result = result.model_copy(update={"status": "reverted"})
        return self._record(incident, step, key, result.model_copy(update={"key": f"{incident.id}#{key}"}))

    def _record(self, incident: Incident, step: str, key: str, result: ActionResult) -> ActionResult:
        self.audit.append(incident.id, step, "outcome",
                          f"{'revert of ' if key.endswith('#revert') else ''}{result.type} on {result.target}: "
                          f"{result.status}" + (" (read back from the live state)" if result.reconciled else "")
                          + (f" ({result.error})" if result.error else ""),
                          {"key": f"{incident.id}#{key}", "api_call": result.api_call, "diff": result.diff,
                           "before": result.before, "after": result.after, "reconciled": result.reconciled})
        self.ledger.finish(incident.id, key, result.status, result.model_dump(mode="json"))
        return result

    def _reconcile(self, incident: Incident, step: str, action: Action, pin: Pin, key: str) -> ActionResult | None:
        """An intent with no outcome: read the live state. Applied -> record it (reconciled);
        not applied or partly (a restart's remaining pods) -> None, the write goes on from its pin;
        neither -> failed, recorded with what the state is."""
        live = self.executor.observe(action, pin)
        found = outcome(pin, live)
        ident = f"{incident.id}#{key}"
        revert = key.endswith("#revert")
        if found == "applied":
            return self._record(incident, step, key, _result(
                action, "reverted" if revert else "executed", api_call="(outcome read back from the live state)",
                before=pin.before, after={k: live.get(k) for k in pin.target}, pin=pin, key=ident, reconciled=True))
        if found in ("not_applied", "partial"):
            self.audit.append(incident.id, step, "step",
                              f"{'revert of ' if revert else ''}{action.type} on {action.target}: the live state shows "
                              + ("it did not happen" if found == "not_applied" else "it partly happened")
                              + "; it goes on from its recorded pin", {"key": ident, "live": live})
            if found == "not_applied":
                self.ledger.finish(incident.id, key, "not_applied", {})
            return None
        return self._record(incident, step, key, _result(
            action, "failed", pin=pin, key=ident, reconciled=True, before=pin.before, after=live,
            error="outcome unknown: the live state matches neither the before-state nor the target ("
                  + "; ".join(drift(pin, live)) + ")"))

    def _refuse(self, incident: Incident, key: str, action: Action, verdict: Verdict, dry_run: bool,
                pin: Pin | None = None) -> ActionResult:
        self.audit.append(incident.id, "Execute actions", "decision",
                          f"{action.type} on {action.target} refused by {verdict.guardrail}: {verdict.reason}",
                          {"guardrail": verdict.guardrail, "reason": verdict.reason, "action": action.id})
        return self._final(incident, key, _result(action, "blocked", blocked_by=verdict.guardrail,
                                                  error=verdict.reason, pin=pin), dry_run)

    def _final(self, incident: Incident, key: str, result: ActionResult, dry_run: bool) -> ActionResult:
        """A decision not to write is recorded too, so a retried step decides the same."""
        if not dry_run:
            self.ledger.finish(incident.id, key, result.status, result.model_dump(mode="json"))
        return result

    def _context(self, incident: Incident, action: Action, pin: Pin, key: str, now: datetime,
                 run: "_Run") -> GuardrailContext:
        ctx = GuardrailContext(now=now)
        for name in ("replicas", "desiredCount", "DesiredCapacity"):
            if name in pin.target:
                current, target = pin.before.get(name), pin.target.get(name)
                ctx.current_replicas = current if isinstance(current, int) else None
                ctx.target_replicas = target if isinstance(target, int) else None
        if action.type == "restart_pods":
            ctx.pods_affected = len(pin.before.get("pods") or pin.before.get("tasks") or {}) or None
            counted = self.rate_limits.count(incident.service, "restart_pods", now, exclude_holder=
                                             f"{incident.id}#{key}") if self.rate_limits is not None else 0
            ctx.restarts_last_hour = max(counted, run.pods_restarted)
        return ctx

    def _take_limits(self, incident: Incident, action: Action, pin: Pin, key: str, policy: GuardrailPolicy,
                     now: datetime, run: "_Run") -> Verdict | None:
        """The write lock and the restart slots (one per pod), idempotent for a retried step."""
        pods = len(pin.before.get("pods") or pin.before.get("tasks") or {}) if action.type == "restart_pods" else 0
        if self.rate_limits is None:
            run.pods_restarted += pods
            return None
        if policy.one_write_in_flight and not run.lock_held:
            if not self.rate_limits.acquire_write_lock(incident.service, incident.id, run.lock_ttl, now):
                return Verdict(False, "one_write_in_flight",
                               f"another incident's write on {incident.service} has not finished")
            run.lock_held = True
        if pods and not self.rate_limits.reserve(incident.service, "restart_pods", policy.max_restarts_per_hour, 3600,
                                                 f"{incident.id}#{key}", now, slots=pods):
            return Verdict(False, "restart_rate_limit",
                           f"restarting {pods} pod(s) of {incident.service} would pass {policy.max_restarts_per_hour} "
                           "pod restarts in the last hour")
        run.pods_restarted += pods
        return None

    def _kill_switch(self) -> str | None:
        """Why writes must stop now, or None. Re-read every time; unreadable means on (fail closed)."""
        try:
            on = self.kill_switch.kill_switch_on()
        except Exception as exc:  # noqa: BLE001 - fail closed whatever went wrong
            return f"the kill switch could not be read ({type(exc).__name__}): every write is stopped"
        return "the kill switch is on: every write is stopped" if on else None

    def _guard(self) -> str | None:
        return self._kill_switch()

    def _approved_pins(self, incident: Incident, preview: list[dict[str, Any]] | None) -> dict[str, Pin]:
        """The pins the approvers were shown: the Preview step's output in the state document (the very
        data the approval request was built from), else the stored request (one whose preview its
        own function computed), unless it was rejected or timed out."""
        proposed = preview
        latest = getattr(self.approvals, "latest_approval", None)
        if not proposed and latest is not None:
            request = latest(incident.id)
            if request is not None and request.get("status") not in ("rejected", "timed_out", "expired"):
                proposed = (request.get("summary") or {}).get("proposed")
        pins = {}
        for entry in proposed or []:
            if entry.get("pin") and entry.get("id"):
                pins[entry["id"]] = Pin.model_validate(entry["pin"])
        return pins

    # --- putting writes back -------------------------------------------------------------
    def _put_back(self, incident: Incident, plan: RemediationPlan, results: list[ActionResult], step: str,
                  why: str) -> list[ActionResult]:
        """Undo this plan's executed writes, newest first, through the same exactly-once path."""
        by_id = {a.id: a for a in plan.actions}
        out = []
        for result in reversed(results):
            action = by_id.get(result.action_id)
            if action is None or not action.is_write or result.status != "executed":
                continue
            out.append(self._revert_one(incident, step, action, result, why))
        return out

    def _revert_one(self, incident: Incident, step: str, action: Action, result: ActionResult,
                    why: str) -> ActionResult:
        key = f"{action.id}#revert"
        revert_action = action.model_copy(update={"id": f"{action.id}-revert"})
        entry = self.ledger.get(incident.id, key)
        if entry and entry["status"] in FINAL_STATUSES and entry.get("result"):
            return ActionResult.model_validate(entry["result"])
        if entry and entry.get("pin"):
            back = Pin.model_validate(entry["pin"])
            done = self._reconcile(incident, step, revert_action, back, key)
            if done is not None:
                return done
        else:
            back, refusal = self._revert_pin(action, result)
            if back is None:
                self.audit.append(incident.id, step, "decision",
                                  f"{result.type} on {result.target} is not reverted: {refusal}")
                return self._final(incident, key, _result(revert_action, "skipped", error=refusal), False)
        switched = self._kill_switch()
        if switched:
            self.audit.append(incident.id, step, "decision",
                              f"revert of {result.type} on {result.target} refused by kill_switch: {switched}")
            return self._final(incident, key, _result(revert_action, "blocked", blocked_by="kill_switch",
                                                      error=switched), False)
        if not (entry and entry.get("pin")):
            changed = drift(back, self.executor.observe(revert_action, back))
            if changed:
                reason = "it changed since Watchkeeper's write (" + "; ".join(changed) + "): a human must look"
                self.audit.append(incident.id, step, "decision", f"{result.type} on {result.target} is not reverted: "
                                  + reason)
                return self._final(incident, key, _result(revert_action, "blocked", blocked_by="state_drifted",
                                                          error=reason, pin=back), False)
        self.audit.append(incident.id, step, "step", f"reverting {result.type} on {result.target}: {why}")
        return self._perform(incident, step, revert_action, back, key)

    def _revert_pin(self, action: Action, result: ActionResult) -> tuple[Pin | None, str]:
        if action.type in runbook_engine.RESTORES_CULPRIT and (
                result.pin is None or result.pin.before_is_culprit or result.pin.culprit):
            culprit = (result.pin.culprit if result.pin else None) or action.params.get("change_id") or ""
            return None, f"putting it back would redeploy the diagnosed culprit {culprit}".rstrip() + ": paging instead"
        if action.revert != "restore_before":
            return None, ("it cannot be undone" if action.type in runbook_engine.IRREVERSIBLE
                          else "its runbook does not revert it")
        if result.pin is None:
            return None, "no pinned before-state was recorded"
        inverse = getattr(self.executor, "inverse", None)
        if inverse is None:
            return None, "no revert executor"
        return inverse(action, result.pin)

    def _remember(self, state: dict[str, Any], incident: Incident, evidence: Evidence | None, cause: RootCause | None,
                  plan: RemediationPlan | None, outcome: dict[str, Any]) -> None:
        if self.memory is None:
            return
        try:
            self.memory.remember(_remember_past(state, incident, evidence, cause, plan, outcome))
        except Exception as exc:  # the report is what matters now; memory is for the next incident
            logging.getLogger(__name__).warning("could not remember %s: %s", incident.id, exc)

    # --- Verify recovery --------------------------------------------------------------
    def verify(self, incident: Incident, plan: RemediationPlan, evidence: Evidence | None,
               previous: Verification | None, execution: ExecutionResult | None = None) -> Verification:
        """Recovered when the incident's CloudWatch alarms are OK, or (without alarms) when every
        metric that deviated is back near its baseline in data newer than the incident. When the
        window runs out, the executed writes are reverted (newest first, exactly once each; never
        back to a diagnosed culprit) before the page."""
        attempts = (previous.attempts if previous else 0) + 1
        names = sorted({a.alarm_name for a in incident.alerts if a.alarm_name and a.source.startswith("cloudwatch")})
        states = self.alarms.states(names) if names else {}
        checks = [f"alarm {n}: {states[n]}" for n in names if n in states]
        recovered: bool | None = all(v == "OK" for v in states.values()) if states else None
        if recovered is None and evidence is not None and self.metrics is not None:
            verdicts = metric_recovery(self.metrics, incident, evidence)
            checks += [f"metric {name}: {'recovered' if ok else 'not recovered'} ({detail})" for name, ok, detail in verdicts]
            recovered = all(ok for _, ok, _ in verdicts) if verdicts else None
        wait = max(self.verify_wait_seconds, 1)
        max_attempts = max(1, min(self.verify_max_attempts, int(plan.verify.get("within_minutes", 10)) * 60 // wait))
        if recovered:
            status = "recovered"
        elif attempts >= max_attempts:
            status = "not_recovered"
        else:
            status = "pending"
        if recovered is None:
            checks.append("no alarm state or fresh metric data yet")
        self.audit.append(incident.id, "Verify recovery", "step", f"check {attempts}: {status}; " + "; ".join(checks))
        reverted: list[ActionResult] = []
        if status == "not_recovered" and execution is not None:
            if plan.verify.get("on_failure", "revert_and_escalate") == "revert_and_escalate":
                reverted = self._put_back(incident, plan, execution.results, "Verify recovery",
                                          "the service did not recover")
            else:
                self.audit.append(incident.id, "Verify recovery", "decision",
                                  f"runbook {plan.runbook} does not revert on failure: paging with the writes in place")
        if status != "pending" and self.rate_limits is not None and execution is not None \
                and execution.status == "executed":
            self.rate_limits.release_write_lock(incident.service, incident.id)
        return Verification(status=status, attempts=attempts, wait_seconds=wait, checks=checks, reverted=reverted)

    # --- Page on-call / Record failure and page ---------------------------------------
    def escalate(self, incident: Incident | None, incident_id: str, state: dict[str, Any]) -> Escalation:
        reason = escalation_reason(state)
        if incident is None:
            incident = self.store.load(incident_id)
        message = (f"Watchkeeper needs a human for {incident.title or incident.id}.\nReason: {reason}\n"
                   f"Incident: {incident.id}\n")
        diagnosis = state.get("diagnosis") or {}
        if diagnosis:
            message += f"Diagnosis: {diagnosis.get('kind')} {diagnosis.get('culprit') or ''} — {diagnosis.get('summary', '')}\n"
        if self.report_url(incident.id):
            message += f"Report (written when the incident is handled): {self.report_url(incident.id)}\n"
        message_id = self.pager.page(incident, redact(f"[{incident.severity}] {incident.service}: {reason}")[:99],
                                     redact(message))
        incident.status = "escalated"
        self.store.save(incident)
        self.audit.append(incident.id, "Page on-call", "escalation", f"paged on-call: {reason}", {"message_id": message_id})
        return Escalation(reason=reason, paged=True, message_id=message_id)

    # --- Write report -----------------------------------------------------------------
    def report(self, state: dict[str, Any]) -> ReportRef:
        incident = Incident.model_validate(state["incident"]) if state.get("incident") else self.store.load(state["incident_id"])
        evidence = Evidence.model_validate(state["evidence"]) if state.get("evidence") else None
        cause = RootCause.model_validate(state["diagnosis"]) if state.get("diagnosis") else None
        plan = RemediationPlan.model_validate(state["plan"]) if state.get("plan") else None
        outcome = incident_outcome(state)
        incident.status = outcome["status"]
        self.store.save(incident)
        self.audit.append(incident.id, "Write report", "report", f"incident {outcome['status']}: {outcome['summary']}")
        trail = self.audit.records(incident.id)
        # the report leaves the workflow for people: what came from logs, alerts and the model is redacted
        keep = tuple(self.approvers)           # who approved stays readable: they are accountable by name
        shown, evidence, cause, plan = (redact_model(m, keep) for m in (incident, evidence, cause, plan))
        outcome, trail = redact_value(outcome, keep), [redact_model(r, keep) for r in trail]
        report = IncidentReport(shown, evidence, cause, plan, outcome, trail, links=self.links,
                                log_groups=self._log_groups(incident))
        report.series = self._report_series(incident, *report.window())
        chart = report.chart()
        prefix = report_prefix(incident.id)
        chart_uri = self.reports.put(f"{prefix}/timeline.svg", chart.encode(), "image/svg+xml")
        html_uri = self.reports.put(f"{prefix}/report.html", render_html(report, chart).encode(), "text/html; charset=utf-8")
        uri = self.reports.put(f"{prefix}/report.md", render_markdown(report, "timeline.svg").encode(), "text/markdown")
        url = self.report_url(incident.id) or html_uri
        ref = ReportRef(uri=uri, chart_uri=chart_uri, html_uri=html_uri, url=url, status=outcome["status"],
                        summary=outcome["summary"], service=incident.service, opened_at=incident.opened_at,
                        decided_at=(state.get("approval") or {}).get("decided_at")
                        or (report.ms.decided if report.ms.decision in ("approved", "rejected") else None))
        self._remember(state, incident, evidence, cause, plan, outcome)
        self.update_thread(incident.id, thread_update(state, ref), close_pending=True)
        return ref

    def report_url(self, incident_id: str) -> str | None:
        """Where a person opens the incident's report page (the S3 console), known before it is written:
        the approval email and the page carry it, the Slack thread gets it when the report is written."""
        uri = getattr(self.reports, "uri", None)
        if uri is None or self.links is None or not self.links.account_id:
            return None
        return self.links.s3_object(uri(f"{report_prefix(incident_id)}/report.html"))

    def _log_groups(self, incident: Incident) -> list[str]:
        services = [self.catalog.get(n) for n in dict.fromkeys([incident.service, *incident.suspects])] if self.catalog else []
        return [s.log_group for s in services if s is not None and s.log_group]

    def _report_series(self, incident: Incident, start: datetime, end: datetime) -> list:
        """The service's metric series over the chart's window; a chart without curves when they cannot be read."""
        if self.metrics is None:
            return []
        try:
            # whole minutes, as CloudWatch aligns its periods: each point keeps its own minute
            return self.metrics.series_for(incident.service, start.replace(second=0, microsecond=0),
                                           end + timedelta(minutes=15))
        except Exception as exc:  # the report is written whatever the metrics API says
            logging.getLogger(__name__).warning("no metric curves for the report of %s: %s", incident.id, exc)
            return []



def report_prefix(incident_id: str) -> str:
    return f"reports/{incident_id}"


def _about_the_culprit(incident: Incident, cause: RootCause, evidence: Evidence | None) -> Incident:
    """A bad change deep in a dependency chain is undone where it was made: plan on the changed service.
    A cause the analyzer placed down the chain (a dependency out of disk or leaking memory) is fixed there."""
    if cause.service and cause.service != incident.service and cause.kind in ("disk_full", "memory_leak"):
        return incident.model_copy(update={"service": cause.service, "service_info": None})
    if cause.kind not in ("bad_deploy", "config_change") or evidence is None:
        return incident
    change = next((c for c in evidence.changes if c.id == cause.culprit), None)
    if change is None or change.service == incident.service:
        return incident
    return incident.model_copy(update={"service": change.service, "service_info": None})


def _remember_past(state: dict[str, Any], incident: Incident, evidence: Evidence | None, cause: RootCause | None,
                   plan: RemediationPlan | None, outcome: dict[str, Any]) -> PastIncident:
    """The incident as the next similar one should see it: fingerprint, cause, actions, outcome, decisions."""
    approval = state.get("approval") or {}
    ran = [r.get("type") for r in outcome.get("results", []) if r.get("status") in ("executed", "planned")]
    writes = [a.type for a in plan.actions if a.is_write] if plan else []
    decisions = [ApproverDecision(approved=bool(approval.get("approved")), by=approval.get("decided_by") or None,
                                  at=approval.get("decided_at"), reason=approval.get("reason") or "")] if approval else []
    return PastIncident(incident_id=incident.id, service=incident.service, opened_at=incident.opened_at,
                        fingerprint=evidence.fingerprint if evidence else [],
                        root_cause=cause.kind if cause else "unknown", culprit=cause.culprit if cause else None,
                        confidence=cause.confidence if cause else 0.0, actions=[a for a in ran if a] or writes,
                        outcome=outcome["status"], decisions=decisions)


def metric_recovery(source: Any, incident: Incident, evidence: Evidence) -> list[tuple[str, bool, str]]:
    """For each metric of the incident's service that deviated: is its newest value back?"""
    deviated = [m for m in evidence.metrics if m.service == incident.service and m.onset is not None
                and m.baseline is not None and m.peak is not None]
    if not deviated:
        return []
    fresh = {(s.namespace, s.name): s for s in source.series_for(incident.service, incident.opened_at,
                                                                  incident.opened_at + timedelta(hours=6))}
    out = []
    for m in deviated:
        series = fresh.get((m.namespace, m.name))
        newer = [v for t, v in (series.points if series else []) if t > incident.opened_at]
        if not newer:
            out.append((m.name, False, "no data since the incident opened"))
            continue
        latest, base, peak = newer[-1], m.baseline, m.peak
        if m.shape == "drop":
            ok = latest >= base - 0.3 * abs(base - (m.latest or base))
        else:
            ok = latest <= base + 0.3 * (peak - base)
        out.append((m.name, ok, f"now {latest:g}, baseline {base:g}"))
    return out


def escalation_reason(state: dict[str, Any]) -> str:
    error = state.get("error")
    if error:
        if error.get("Error") == "States.Timeout":
            return "the approval request timed out"
        if error.get("Error") == "States.HeartbeatTimeout":
            return "nobody opened the approval request in time"
        return f"a step failed: {error.get('Error')}: {str(error.get('Cause', ''))[:300]}"
    execution = state.get("execution") or {}
    if execution.get("status") in ("blocked", "failed"):
        bad = next((r for r in execution.get("results", []) if r.get("status") in ("blocked", "failed")), {})
        if bad.get("blocked_by"):
            why = f"{bad.get('type')} was blocked by the {bad['blocked_by']} guardrail: {bad.get('error')}"
        else:
            why = f"{bad.get('type')} failed: {bad.get('error')}"
        return why + changes_summary(execution.get("results", []), execution.get("reverted", []))
    verification = state.get("verification") or {}
    if verification.get("status") == "not_recovered":
        return (f"the service did not recover after {verification.get('attempts')} checks"
                + changes_summary((execution or {}).get("results", []), verification.get("reverted") or []))
    plan = state.get("plan") or {}
    diagnosis = state.get("diagnosis") or {}
    if plan.get("autonomy") == "advise" and plan.get("decision") == "escalate" and plan.get("reason"):
        return plan["reason"]
    if diagnosis.get("kind") == "unknown":
        return "the evidence is too weak to name a root cause"
    if plan.get("decision") == "escalate":
        return plan.get("reason") or "the runbook hands this incident to a human"
    return "the incident needs a human"


def changes_summary(results: list[dict[str, Any]], reverted: list[dict[str, Any]]) -> str:
    """What the page says was changed and what was put back (or why not)."""
    changed = [f"{r.get('type')} on {r.get('target')}" + (f" ({(r.get('pin') or {}).get('summary')})"
                                                           if (r.get("pin") or {}).get("summary") else "")
               for r in results if r.get("status") == "executed"]
    partial = [f"{r.get('type')} on {r.get('target')} (partly: {r.get('error')})" for r in results
               if r.get("status") in ("blocked", "failed") and (r.get("after") or {}).get("pods_deleted")]
    back = [f"{r.get('type')} on {r.get('target')} ({r.get('status')}"
            + (f": {r.get('error')}" if r.get("error") and r.get("status") != "reverted" else "") + ")"
            for r in reverted]
    if not changed and not partial:
        return "; nothing was changed"
    return ("; changed: " + ", ".join(changed + partial)
            + ("; reverted: " + ", ".join(back) if back else "; nothing was reverted"))


def incident_outcome(state: dict[str, Any]) -> dict[str, Any]:
    execution = state.get("execution") or {}
    results = execution.get("results", []) + execution.get("reverted", []) + (
        (state.get("verification") or {}).get("reverted") or [])
    approval = state.get("approval") or {}
    verification = state.get("verification") or {}
    if state.get("error") and not state.get("escalation"):
        return {"status": "escalated", "summary": escalation_reason(state), "results": results}
    if approval and approval.get("approved") is False:
        return {"status": "escalated", "summary": f"rejected by {approval.get('decided_by') or 'the approver'}: "
                                                  f"{approval.get('reason', '')}".strip(), "results": results}
    if verification.get("status") == "recovered":
        return {"status": "mitigated", "summary": "the actions were executed and the alarms recovered", "results": results}
    if execution.get("status") == "planned":
        return {"status": "planned", "summary": "dry run: the actions were planned, not executed", "results": results}
    if state.get("escalation"):
        return {"status": "escalated", "summary": state["escalation"].get("reason", ""), "results": results}
    return {"status": "open", "summary": "in progress", "results": results}


def _result(action: Action, status: str, **kw: Any) -> ActionResult:
    return ActionResult(action_id=action.id, type=action.type, target=action.target, status=status, **kw)
