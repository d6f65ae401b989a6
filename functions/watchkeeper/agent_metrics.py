"""Watchkeeper's own metrics: how well the agent does its job, as CloudWatch EMF.

Powertools Metrics builds each Embedded Metric Format document; in AWS it is printed to
the function's log, where CloudWatch extracts the metrics (no PutMetricData, no extra IAM
grant). Every metric is published twice: per account and per account and service, so the
dashboard graphs the account and a responder can drill into a service.

The handlers call one method per fact, once the step that knows it has run:

| metric | unit | emitted by |
|---|---|---|
| AlertsReceived, AlertsInvalid, AlertsResolved | Count | Ingest |
| IncidentsOpened, IncidentsMerged | Count | Classify alert |
| TimeToDiagnosis (first alert -> diagnosis) | Seconds | Diagnose |
| Abstentions (no root cause named) | Count | Diagnose |
| ModelInputTokens, ModelOutputTokens, ModelCost (USD), ModelFallbacks | Count / None | Diagnose |
| ActionsExecuted, ActionsBlocked (also per guardrail) | Count | Execute actions |
| ActionsReverted, TimeToMitigation (first alert -> verified recovery) | Count / Seconds | Verify recovery |
| ApprovalsApproved, ApprovalsRejected, ApprovalsTimedOut, TimeToApprovalDecision | Count / Seconds | Write report |
| IncidentsResolved, IncidentsEscalated | Count | Write report (a failed workflow: Record failure and page) |
| WorkflowStepFailures | Count | Record failure and page |
"""
from __future__ import annotations

import json
import logging
import threading
import warnings
from datetime import datetime, timezone
from typing import Any, Callable

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

NAMESPACE = "Watchkeeper"
_TIMEOUTS = ("States.Timeout", "States.HeartbeatTimeout")
log = logging.getLogger(__name__)

Sink = Callable[[str], None]


def stdout_sink(line: str) -> None:
    print(line, flush=True)


def file_sink(path: str) -> Sink:
    """Append each EMF document as one line (the local runtime: the terminal stays readable)."""
    lock = threading.Lock()

    def write(line: str) -> None:
        with lock, open(path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
    return write


class AgentMetrics:
    def __init__(self, account: str, *, clock: Callable[[], datetime] | None = None, sink: Sink | None = None,
                 namespace: str = NAMESPACE):
        self.account = account or "unknown"
        self.namespace = namespace
        self._clock = clock or (lambda: datetime.now(timezone.utc))
        self._sink = sink or stdout_sink

    # --- the one way out ----------------------------------------------------------------
    def emit(self, service: str | None, values: dict[str, tuple[float, MetricUnit]], **dimensions: str) -> None:
        """One EMF document: `values` under (account), and (account, service, *dimensions) when a service is known.
        A metric that cannot be written is logged, never fails the step that measured it."""
        values = {k: v for k, v in values.items() if v[0] is not None}
        if not values:
            return
        try:
            m = EphemeralMetrics(namespace=self.namespace, service="")   # not POWERTOOLS_SERVICE_NAME: ours
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._fill(m, service, values, dimensions)
                document = m.serialize_metric_set()
            self._sink(json.dumps(document, separators=(",", ":")))
        except Exception as exc:  # noqa: BLE001 - measuring must never break the incident
            log.warning("could not emit metrics %s: %s", sorted(values), exc)

    def _fill(self, m: EphemeralMetrics, service: str | None, values: dict[str, tuple[float, MetricUnit]],
              dimensions: dict[str, str]) -> None:
        m.add_dimension("account", self.account)
        if service:
            m.add_dimension("service", service)
            for name, value in dimensions.items():
                m.add_dimension(name, value)
            m.add_dimensions(account=self.account)
        for name, (value, unit) in values.items():
            m.add_metric(name=name, unit=unit, value=float(value))

    def _since(self, start: datetime | None, at: datetime | None = None) -> float | None:
        if start is None:
            return None
        return max(0.0, ((at or self._clock()) - start).total_seconds())

    # --- one method per fact ------------------------------------------------------------
    def alerts_ingested(self, received: int, invalid: int, resolved: int) -> None:
        self.emit(None, {"AlertsReceived": (received, MetricUnit.Count), "AlertsInvalid": (invalid, MetricUnit.Count),
                         "AlertsResolved": (resolved, MetricUnit.Count)})

    def classified(self, incident: Any) -> None:
        name = "IncidentsMerged" if incident.status == "merged" else "IncidentsOpened"
        self.emit(incident.service, {name: (1, MetricUnit.Count)})

    def diagnosed(self, incident: Any, cause: Any) -> None:
        usage = cause.model_usage or {}
        values = {"TimeToDiagnosis": (self._since(incident.opened_at), MetricUnit.Seconds),
                  "Abstentions": (1 if cause.kind == "unknown" else 0, MetricUnit.Count)}
        if cause.analyzer != "deterministic" or usage:
            values.update({
                "ModelInputTokens": (usage.get("input_tokens", 0), MetricUnit.Count),
                "ModelOutputTokens": (usage.get("output_tokens", 0), MetricUnit.Count),
                "ModelCost": (usage.get("cost_usd", 0.0), MetricUnit.NoUnit),
                "ModelFallbacks": (usage.get("fallback", 0), MetricUnit.Count)})
        self.emit(incident.service, values)

    def executed(self, incident: Any, execution: Any) -> None:
        results = execution.results
        self.emit(incident.service, {
            "ActionsExecuted": (sum(r.status == "executed" for r in results), MetricUnit.Count),
            "ActionsBlocked": (sum(r.status == "blocked" for r in results), MetricUnit.Count)})
        blocked: dict[str, int] = {}
        for r in results:
            if r.status == "blocked":
                blocked[r.blocked_by or "unknown"] = blocked.get(r.blocked_by or "unknown", 0) + 1
        for guardrail, count in blocked.items():
            self.emit(incident.service, {"ActionsBlockedByGuardrail": (count, MetricUnit.Count)}, guardrail=guardrail)

    def verified(self, incident: Any, verification: Any) -> None:
        values = {"ActionsReverted": (sum(r.status == "reverted" for r in verification.reverted), MetricUnit.Count)}
        if verification.status == "recovered":
            values["TimeToMitigation"] = (self._since(incident.opened_at), MetricUnit.Seconds)
        if verification.status != "pending" or values["ActionsReverted"][0]:
            self.emit(incident.service, values)

    def failed(self, service: str | None, state: dict[str, Any]) -> None:
        """Record failure and page: the workflow ends without a report, so its outcome is counted here."""
        error = state.get("error") or {}
        if not error or error.get("Error") in _TIMEOUTS:
            return
        self.emit(service, {"WorkflowStepFailures": (1, MetricUnit.Count),
                                     "IncidentsEscalated": (1, MetricUnit.Count)})

    def reported(self, ref: Any, state: dict[str, Any]) -> None:
        """The outcome and the approval of a handled incident (Write report runs once per incident)."""
        status, decided_at = ref.status, ref.decided_at
        values: dict[str, tuple[float, MetricUnit]] = {}
        if status == "mitigated":
            values["IncidentsResolved"] = (1, MetricUnit.Count)
        elif status == "escalated":
            values["IncidentsEscalated"] = (1, MetricUnit.Count)
        approval, error = state.get("approval") or {}, state.get("error") or {}
        if approval:
            values["ApprovalsApproved" if approval.get("approved") else "ApprovalsRejected"] = (1, MetricUnit.Count)
            if decided_at is not None:
                values["TimeToApprovalDecision"] = (self._since(ref.opened_at, decided_at), MetricUnit.Seconds)
        elif error.get("Error") in _TIMEOUTS:
            values["ApprovalsTimedOut"] = (1, MetricUnit.Count)
        self.emit(ref.service, values)


def read_emf(lines: list[str]) -> list[dict[str, Any]]:
    """(name, value, unit, dimensions) of each metric in EMF documents, for the CLI and the tests."""
    out = []
    for line in lines:
        line = line.strip()
        if not line.startswith("{"):
            continue
        doc = json.loads(line)
        for directive in doc.get("_aws", {}).get("CloudWatchMetrics", []):
            dims = [tuple(s) for s in directive.get("Dimensions", [])]
            for m in directive.get("Metrics", []):
                value = doc.get(m["Name"])
                value = value[0] if isinstance(value, list) and len(value) == 1 else value
                for d in dims:
                    out.append({"namespace": directive.get("Namespace"), "name": m["Name"], "unit": m.get("Unit"),
                                "value": value, "dimensions": {k: doc.get(k) for k in d}})
    return out
