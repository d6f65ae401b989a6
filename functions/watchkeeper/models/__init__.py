"""pydantic contracts: the only payloads that cross a state boundary."""
from .alerts import Alert, QuarantinedAlert
from .approval import ApprovalDecision, ApprovalRequest
from .audit import AuditRecord
from .catalog import Service, ServiceCatalog
from .diagnosis import Hypothesis, RootCause
from .evidence import ChangeEvent, Evidence, EvidenceItem, LogTemplateStat, MetricSummary
from .incident import AlertRef, Incident, StartInput
from .remediation import (
    Action, ActionResult, Escalation, ExecutionResult, Pin, RemediationPlan, Verification,
)
from .report import ReportRef

__all__ = [
    "Action", "ActionResult", "Alert", "AlertRef", "ApprovalDecision", "ApprovalRequest",
    "AuditRecord", "ChangeEvent", "Escalation", "Evidence", "EvidenceItem", "ExecutionResult",
    "Hypothesis", "Incident", "LogTemplateStat", "MetricSummary", "Pin", "QuarantinedAlert",
    "RemediationPlan", "ReportRef", "RootCause", "Service", "ServiceCatalog", "StartInput",
    "Verification",
]
