"""pydantic contracts: the only payloads that cross a state boundary.

Each contract is imported when first used (PEP 562): a function's cold start builds only the
models it validates (the alert sources' union, for one, is the ingest function's alone).
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_HOME = {
    "ApproverDecision": "memory", "PastIncident": "memory",
    "Alert": "alerts", "QuarantinedAlert": "alerts",
    "ApprovalDecision": "approval", "ApprovalRequest": "approval",
    "AuditRecord": "audit",
    "Service": "catalog", "ServiceCatalog": "catalog",
    "Hypothesis": "diagnosis", "RootCause": "diagnosis",
    "ChangeEvent": "evidence", "Evidence": "evidence", "EvidenceItem": "evidence", "LogTemplateStat": "evidence",
    "MetricSummary": "evidence",
    "AlertRef": "incident", "Incident": "incident", "StartInput": "incident",
    "Action": "remediation", "ActionResult": "remediation", "Escalation": "remediation",
    "ExecutionResult": "remediation", "Pin": "remediation", "RemediationPlan": "remediation",
    "Verification": "remediation",
    "ReportRef": "report",
}
__all__ = sorted(_HOME)


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOME))


if TYPE_CHECKING:
    from .alerts import Alert, QuarantinedAlert
    from .approval import ApprovalDecision, ApprovalRequest
    from .audit import AuditRecord
    from .memory import ApproverDecision, PastIncident
    from .catalog import Service, ServiceCatalog
    from .diagnosis import Hypothesis, RootCause
    from .evidence import ChangeEvent, Evidence, EvidenceItem, LogTemplateStat, MetricSummary
    from .incident import AlertRef, Incident, StartInput
    from .remediation import Action, ActionResult, Escalation, ExecutionResult, Pin, RemediationPlan, Verification
    from .report import ReportRef
