"""Deciding an approval: verify the link, check the approver, resume the workflow once.

Shared by the approval API (web and Slack) and the local demo, so every decision takes
the same path: signature and expiry, approver list, single use, audit, then
SendTaskSuccess with `{"approved": ..}` (the task token never leaves the backend).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .domain.approval_tokens import InvalidToken, verify
from .models import ApprovalDecision


class ApprovalRefused(ValueError):
    """A decision that changes nothing; the message is safe to show the person who clicked."""


@dataclass
class ApprovalService:
    store: Any                 # DynamoDBIncidentStore (approvals)
    audit: Any                 # AuditLog
    sfn: Any                   # boto3 stepfunctions client
    signing_key: bytes
    approvers: tuple[str, ...] = ()

    def pending(self, token: str) -> dict[str, Any]:
        """The request a link points at, for the approval page (a GET never decides)."""
        try:
            parsed = verify(self.signing_key, token)
        except InvalidToken as exc:
            raise ApprovalRefused(str(exc)) from None
        request = self.store.get_approval(parsed.request_id)
        if request is None:
            raise ApprovalRefused("this approval request does not exist")
        return request

    def decide(self, token: str, approved: bool, who: str, channel: str, reason: str = "",
               source_ip: str | None = None) -> ApprovalDecision:
        request = self.pending(token)
        if request["status"] != "pending":
            raise ApprovalRefused(f"this incident was already decided ({request['status']})")
        if self.approvers and who not in self.approvers:
            self.audit.append(request["incident_id"], "Wait for approval", "decision",
                              f"refused a decision from {who}: not an approver", {"channel": channel, "ip": source_ip})
            raise ApprovalRefused(f"{who} is not on the approvers list for this account")
        if not self.store.decide_approval(request["request_id"], "approved" if approved else "rejected"):
            raise ApprovalRefused("this incident was already decided")
        decision = ApprovalDecision(approved=approved, decided_by=who, reason=reason, channel=channel,
                                    decided_at=datetime.now(timezone.utc))
        self.audit.append(request["incident_id"], "Wait for approval", "decision",
                          f"{'approved' if approved else 'rejected'} by {who} via {channel}" + (f": {reason}" if reason else ""),
                          {"channel": channel, "ip": source_ip, "request_id": request["request_id"]}, actor=who)
        self.sfn.send_task_success(taskToken=request["task_token"], output=json.dumps(decision.model_dump(mode="json")))
        return decision
