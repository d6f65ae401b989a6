"""Ports: the small interfaces behind which every outside system sits.

The domain imports only these Protocols and the models; adapters implement them with
boto3, the kubernetes client or Bedrock, and the composition root wires them together.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from .models import (
    Action, ActionResult, AuditRecord, ChangeEvent, Evidence, Incident, Pin, QuarantinedAlert,
    RootCause, ServiceCatalog,
)


class WatchkeeperError(Exception):
    """Base of the project's own errors; adapters translate SDK errors into these."""


class TransientError(WatchkeeperError):
    """Worth retrying: throttling, timeouts, 5xx. The state machine retries it by name."""


class OutcomeUnknown(TransientError):
    """A write met a timeout, a 5xx or a broken connection: it may or may not have happened.
    The write path reads the live state back (and records what it found) before anything else."""


class ConflictError(WatchkeeperError):
    """A conditional write lost a race."""


class NotFoundError(WatchkeeperError):
    pass


@dataclass(frozen=True)
class LogEvent:
    at: datetime
    message: str
    log_group: str


@dataclass(frozen=True)
class MetricSeries:
    service: str
    namespace: str
    name: str
    unit: str | None
    points: Sequence[tuple[datetime, float]]


@dataclass
class IncidentHead:
    """What correlation needs to know of an open incident."""

    id: str
    service: str
    opened_at: datetime
    last_alert_at: datetime
    status: str = "open"
    merged_into: str | None = None


class LogSource(Protocol):
    def fetch(self, log_group: str, start: datetime, end: datetime, *, max_events: int, max_bytes: int) -> list[LogEvent]: ...


class MetricSource(Protocol):
    def series_for(self, service: str, start: datetime, end: datetime) -> list[MetricSeries]: ...


class ChangeSource(Protocol):
    def changes(self, services: Iterable[str], start: datetime, end: datetime) -> list[ChangeEvent]: ...


@dataclass
class TemplateHistory:
    """A service's mined log templates carried from one incident to the next.

    `miner_state` is `TemplateMiner.state_bytes()` (so template ids stay stable);
    `seen` maps a template id ("c12") to {"first_seen", "last_seen" (ISO times),
    "seen_incidents" (int), "last_incident" (id)}.
    """

    miner_state: bytes | None = None
    seen: dict[str, dict[str, Any]] | None = None


class TemplateStateStore(Protocol):
    def load(self, service: str) -> TemplateHistory | None: ...

    def save(self, service: str, history: TemplateHistory) -> list[str]:
        """Persist the history; returns notes on what could not be kept (e.g. over the item limit)."""
        ...


class IncidentMemory(Protocol):
    """Handled incidents per account (the state table of that account), by service."""

    def recall(self, service: str, limit: int = 50) -> list[Any]:
        """The service's past incidents (`PastIncident`), newest first."""
        ...

    def remember(self, past: Any) -> None:
        """Record (or update) one handled incident; a correction already recorded is kept."""
        ...

    def correct(self, service: str, incident_id: str, root_cause: str, culprit: str | None, by: str,
                reason: str = "") -> None:
        """An approver's correction of the root cause."""
        ...


class ClusterStateSource(Protocol):
    """A workload's live state (pods, restarts, termination reasons), for evidence only."""

    def workload_state(self, service: Any) -> dict[str, Any] | None: ...


class CatalogSource(Protocol):
    def load(self) -> ServiceCatalog: ...


class Analyzer(Protocol):
    def analyze(self, incident: Incident, evidence: Evidence, baseline: RootCause) -> RootCause: ...


class IncidentStore(Protocol):
    """Incidents as the workflow reads and updates them. Ingest places alerts through the
    `PlacementStore` port of `domain.ingest`, which speaks that domain's view of open incidents."""

    def quarantine(self, item: QuarantinedAlert) -> None: ...
    def load(self, incident_id: str) -> Incident: ...
    def save(self, incident: Incident) -> None: ...
    def incidents(self) -> list[Incident]: ...


class WorkflowStarter(Protocol):
    def start(self, incident_id: str, payload: dict[str, Any]) -> bool:
        """Start the incident's execution; False when it already exists (a duplicate start)."""
        ...


class AuditLog(Protocol):
    def append(self, incident_id: str, step: str, kind: str, summary: str, detail: dict[str, Any] | None = None,
               actor: str = "watchkeeper") -> AuditRecord: ...
    def records(self, incident_id: str) -> list[AuditRecord]: ...


class Pager(Protocol):
    def page(self, incident: Incident, subject: str, message: str) -> str | None: ...


class ReportStore(Protocol):
    def put(self, key: str, body: bytes, content_type: str) -> str: ...


class ApprovalNotifier(Protocol):
    """One approval request per approver (their own link), and the one-time codes."""

    def request(self, incident: Incident, address: str, summary: str, url: str | None,
                title: str | None = None) -> None: ...

    def send_code(self, address: str, subject: str, body: str) -> None: ...


class ApprovalStore(Protocol):
    def save_pending(self, request_id: str, incident_id: str, task_token: str, expires_at: datetime,
                     summary: dict[str, Any]) -> None: ...


class ActionExecutor(Protocol):
    """Carries out one runbook action on its platform.

    A dry run computes the exact write from live state and evidence (`result.pin`: target and
    the before-state it assumes) and writes nothing. A real run writes exactly `pin.target`
    (computing the pin first when none is given); `guard` is asked before each step of a
    multi-step write (each pod of a restart). `observe` reads the live state in the pin's
    terms, for the drift check and for reconciling an unknown outcome; `inverse` is the pin
    that puts the before-state back (None when it cannot be)."""

    def execute(self, action: Action, *, dry_run: bool, pin: Pin | None = None,
                guard: Callable[[], str | None] | None = None) -> ActionResult: ...
    def observe(self, action: Action, pin: Pin) -> dict[str, Any]: ...
    def inverse(self, action: Action, pin: Pin) -> tuple[Pin | None, str]: ...


class AlarmState(Protocol):
    def states(self, alarm_names: Sequence[str]) -> dict[str, str]: ...


class SettingsStore(Protocol):
    def kill_switch_on(self) -> bool:
        """True unless the switch says exactly `off`: missing or unreadable blocks every write."""
        ...


class WriteLedger(Protocol):
    """Each write's idempotency record (execution + action): intent, then outcome.

    A retried step reads the recorded outcome instead of writing again; an intent without an
    outcome is an unknown outcome, reconciled from the live state. DynamoDB items on the
    state table (`WRITE#<execution>`), beside the rate limits and the write lock."""

    def get(self, execution: str, key: str) -> dict[str, Any] | None: ...
    def begin(self, execution: str, key: str, pin: dict[str, Any], now: datetime) -> int: ...
    def finish(self, execution: str, key: str, status: str, result: dict[str, Any]) -> None: ...
    def entries(self, execution: str) -> list[dict[str, Any]]: ...
