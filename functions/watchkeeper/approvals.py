"""Deciding an approval: verify the link, check the approver, resume the workflow once.

Shared by the approval API (web and Slack) and the local demo, so every decision takes
the same path: signature and expiry, the page's confirmation nonce (web), the approver
list of the channel, single use, audit, then SendTaskSuccess with `{"approved": ..}`
(the task token never leaves the backend). A GET only shows: it never decides.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from botocore.exceptions import ClientError

from .domain.approval_tokens import ExpiredToken, InvalidToken, check_confirmation, confirmation_nonce, verify
from .models import Action, ApprovalDecision, Evidence, RootCause

log = logging.getLogger(__name__)

STEP = "Wait for approval"
PAGE_MAX_AGE_SECONDS = 3600        # how long an open approval page may wait before its buttons go stale


@dataclass(frozen=True)
class ApprovalNotice:
    """What an approval request says, on every channel: the stored summary, the link, the token."""

    request_id: str
    summary: dict[str, Any]
    token: str
    url: str | None
    expires_at: datetime

    @property
    def text(self) -> str:
        """The plain-text version (email body, Slack notification fallback)."""
        s, rc = self.summary, self.summary.get("root_cause", {})
        lines = [s.get("title") or s.get("incident_id", ""),
                 f"Root cause: {rc.get('kind')} {rc.get('culprit') or ''} (confidence {rc.get('confidence', 0):.2f})",
                 rc.get("summary", "")]
        lines += [f"Evidence: {e.get('detail')}" for e in s.get("evidence", [])[:6]]
        for a in s.get("proposed", []):
            lines.append(f"Proposed: {a['type']} on {a['target']}" + (f" — {a['reason']}" if a.get("reason") else ""))
            if a.get("api_call"):
                lines.append(f"  dry run: {a['api_call']}")
            if (a.get("pin") or {}).get("summary"):
                lines.append(f"  pinned: {a['pin']['summary']} (before-state {a['pin'].get('fingerprint', '')})")
        lines.append(f"The link expires at {self.expires_at:%H:%M} UTC. Opening it decides nothing.")
        return "\n".join(line for line in lines if line)


class ApprovalRefused(ValueError):
    """A decision that changes nothing; the message is safe to show the person who clicked."""

    def __init__(self, message: str, status: int = 409, title: str = "Nothing changed"):
        super().__init__(message)
        self.status, self.title = status, title


@dataclass
class ApprovalChannels:
    """Where an approval request goes: email (SNS, a link to the page) and Slack (buttons + thread)."""

    email: Any = None          # SnsApprovalNotifier
    slack: Any = None          # SlackNotifier

    def request(self, incident: Any, notice: Any) -> str | None:
        """Send the request everywhere; the Slack thread ts, when Slack is configured."""
        if self.email is not None:
            self.email.request(incident, notice.text, notice.url)
        return self.slack.request(notice) if self.slack is not None else None

    def update_thread(self, thread_ts: str | None, text: str) -> None:
        if self.slack is not None:
            self.slack.update_thread(thread_ts, text)


@dataclass
class ApprovalService:
    store: Any                 # DynamoDBIncidentStore (approvals)
    audit: Any                 # AuditLog
    sfn: Any                   # boto3 stepfunctions client
    signing_key: bytes
    approvers: tuple[str, ...] = ()
    channels: Any = None       # ApprovalChannels, for the Slack thread update

    # --- reading -------------------------------------------------------------------------
    def pending(self, token: str, now: datetime | None = None) -> dict[str, Any]:
        """The request a link points at; refused when forged, tampered, expired or unknown."""
        try:
            parsed = verify(self.signing_key, token, now)
        except ExpiredToken as exc:
            raise ApprovalRefused(str(exc), 410, "Approval link expired") from None
        except InvalidToken as exc:
            raise ApprovalRefused(str(exc), 403, "Approval link not valid") from None
        request = self.store.get_approval(parsed.request_id)
        if request is None:
            raise ApprovalRefused("this approval request does not exist (or was removed)", 404, "Approval link not valid")
        return request

    def view(self, token: str, source_ip: str | None = None, now: datetime | None = None) -> tuple[dict[str, Any], str]:
        """The approval page's data and its confirmation nonce. A view never decides; it tells
        Step Functions someone is looking (SendTaskHeartbeat) while the request is pending."""
        now = now or datetime.now(timezone.utc)
        request = self.pending(token, now)
        if request["status"] == "pending":
            try:
                self.sfn.send_task_heartbeat(taskToken=request["task_token"])
            except ClientError as exc:      # the workflow stopped waiting: the decision will say so
                log.info("heartbeat for %s refused: %s", request["request_id"], exc.response["Error"]["Code"])
        return request, confirmation_nonce(self.signing_key, request["request_id"], now)

    # --- deciding ------------------------------------------------------------------------
    def decide(self, token: str, approved: bool, who: str, channel: str, reason: str = "",
               source_ip: str | None = None, nonce: str | None = None, now: datetime | None = None) -> ApprovalDecision:
        now = now or datetime.now(timezone.utc)
        request = self.pending(token, now)
        if request["status"] != "pending":
            raise ApprovalRefused(already_decided(request), 409, "Already decided")
        if channel == "web" or nonce is not None:
            try:
                check_confirmation(self.signing_key, request["request_id"], nonce or "", PAGE_MAX_AGE_SECONDS, now)
            except InvalidToken as exc:
                raise ApprovalRefused(str(exc), 400, "Nothing changed") from None
        who = (who or "").strip()
        context = {"channel": channel, "ip": source_ip, "request_id": request["request_id"]}
        if not self.is_approver(who, channel):
            self.audit.append(request["incident_id"], STEP, "decision",
                              f"refused a decision from {who or 'an unnamed person'} via {channel}: not an approver",
                              context, actor=who or "unknown")
            raise ApprovalRefused(f"{who or 'an empty name'} is not on the approvers list for this account"
                                  + (" (web decisions need an approver's email address)" if channel == "web" else ""),
                                  403, "Not an approver")
        verdict = "approved" if approved else "rejected"
        if not self.store.decide_approval(request["request_id"], verdict, decided_by=who, channel=channel,
                                          decided_at=now.isoformat(), source_ip=source_ip):
            raise ApprovalRefused(already_decided(self.store.get_approval(request["request_id"]) or request),
                                  409, "Already decided")
        decision = ApprovalDecision(approved=approved, decided_by=who, reason=reason, channel=channel, decided_at=now)
        self.audit.append(request["incident_id"], STEP, "decision",
                          f"{verdict} by {who} via {channel}" + (f" from {source_ip}" if source_ip else "")
                          + (f": {reason}" if reason else ""),
                          {**context, "decided_at": now.isoformat()}, actor=who)
        try:
            self.sfn.send_task_success(taskToken=request["task_token"], output=json.dumps(decision.model_dump(mode="json")))
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if code not in ("TaskTimedOut", "TaskDoesNotExist", "InvalidToken"):
                raise
            self.store.close_approval(request["request_id"], "timed_out")
            self.audit.append(request["incident_id"], STEP, "decision",
                              f"the {verdict} decision by {who} arrived after the workflow stopped waiting ({code}); "
                              "nothing was changed", context, actor=who)
            raise ApprovalRefused("the incident stopped waiting for a decision (it timed out and was escalated); "
                                  "nothing was changed", 410, "Too late") from None
        self._tell_thread(request, f"{'✅ Approved' if approved else '⛔ Rejected'} by {_mention(who, channel)} "
                                   f"via {channel} at {now:%H:%M:%S} UTC" + (f": {reason}" if reason else ""))
        return decision

    def is_approver(self, who: str, channel: str) -> bool:
        """Web decisions name an approver's email, Slack ones carry a Slack user id; an empty
        approvers list approves no one."""
        if not who:
            return False
        if channel == "web":
            return "@" in who and who.lower() in {a.lower() for a in self.approvers if "@" in a}
        if channel == "slack":
            return who in {a for a in self.approvers if "@" not in a}
        return who in self.approvers

    def _tell_thread(self, request: dict[str, Any], text: str) -> None:
        if self.channels is None:
            return
        try:
            self.channels.update_thread(request.get("slack_ts"), text)
        except Exception as exc:  # the decision stands; Slack being down must not undo it
            log.warning("could not post the decision to the Slack thread: %s", exc)


def already_decided(request: dict[str, Any]) -> str:
    status = request.get("status", "decided")
    if status == "timed_out":
        return "this incident stopped waiting for a decision (it timed out and was escalated); nothing changed"
    who = f" by {request['decided_by']}" if request.get("decided_by") else ""
    when = f" at {request['decided_at'][:19].replace('T', ' ')} UTC" if request.get("decided_at") else ""
    return f"this incident was already decided: {status}{who}{when}. Nothing changed."


def _mention(who: str, channel: str) -> str:
    return f"<@{who}>" if channel == "slack" else who


# --- what an approval request shows ----------------------------------------------------------
def cited_evidence(cause: RootCause, evidence: Evidence | None, limit: int = 10) -> list[dict[str, Any]]:
    """The evidence items the root cause cites (or, without the evidence document, the top
    hypothesis' reasons), as the page and Slack show them."""
    if evidence is not None:
        by_id = {i.id: i for i in evidence.items}
        items = [by_id[e] for e in cause.evidence if e in by_id][:limit]
        if items:
            return [{"type": i.type, "ref": i.ref, "detail": i.detail} for i in items]
    top = next((h for h in cause.hypotheses if h.kind == cause.kind), None)
    return [{"type": "reason", "ref": "", "detail": r} for r in (top.reasons if top else [])[:limit]]


def preview_actions(executor: Any, actions: list[Action]) -> list[dict[str, Any]]:
    """Each proposed write with its dry run (the exact API call and diff), computed read-only
    before anyone is asked; a preview that cannot be computed says why."""
    out = []
    for action in actions:
        entry: dict[str, Any] = {"id": action.id, "type": action.type, "target": action.target,
                                 "params": action.params, "reason": action.reason}
        try:
            result = executor.execute(action, dry_run=True)
            entry.update(api_call=result.api_call, diff=result.diff)
            if result.pin is not None and result.status == "planned":    # what Execute will write, exactly
                entry["pin"] = result.pin.model_dump(mode="json")
            if result.error:
                entry["preview_error"] = result.error
        except Exception as exc:  # the request must still go out; the page says the preview is missing
            log.warning("dry-run preview of %s failed: %s", action.type, exc)
            entry["preview_error"] = f"{type(exc).__name__}: {exc}"[:300]
        out.append(entry)
    return out


def thread_update(state: dict[str, Any], report: Any) -> str:
    """One message for the approval thread when the incident is handled: actions, verification, report."""
    lines = []
    for r in (state.get("execution") or {}).get("results", []):
        lines.append(f"• `{r.get('type')}` on `{r.get('target')}`: *{r.get('status')}*"
                     + (f" ({r.get('error')})" if r.get("error") else ""))
    verification = state.get("verification") or {}
    if verification:
        lines.append(f"• verification: *{verification.get('status')}* after {verification.get('attempts')} check(s)")
    if state.get("escalation"):
        lines.append(f"• paged on-call: {state['escalation'].get('reason')}")
    lines.append(f"• report: *{report.status}* — {report.summary}\n{report.uri}")
    return "Incident update:\n" + "\n".join(lines)
