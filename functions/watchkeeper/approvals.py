"""Deciding an approval: only a proven person decides, and the record agrees with the workflow.

Shared by the approval API (web, Slack, terminal) and the local demo, so every decision takes
the same path. Who is proven, per channel:

- email: a link signed for one approver and sent to that approver alone, plus a one-time code
  sent to the same address when they press Approve or Reject (a forwarded email or a link
  scanner holds the link, never the code);
- Slack: the user id of a request signed with Slack's signing secret; the page is reached only
  through a link Slack shows that user alone (an ephemeral message), and it only shows;
- terminal: the caller's IAM identity, vouched for by API Gateway's IAM authorizer (SigV4),
  checked against the account's approver ARNs.

A decision then claims the request (conditional write), checks the workflow still waits (a
heartbeat, sent only here, after a proven human action), calls SendTaskSuccess (retried), and
only then records "approved"/"rejected". If the callback cannot be delivered the claim is
released: the request is pending again and the person is told (the trail never says
"approved" for a workflow that did not resume).
"""
from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from botocore.exceptions import BotoCoreError, ClientError

from .domain.approval_tokens import (
    ExpiredToken, InvalidToken, Keys, check_confirmation, code_digest, code_matches, confirmation_nonce,
    email_subject, new_code, sign, slack_subject, verify,
)
from .domain.redact import redact
from .models import Action, ApprovalDecision, Evidence, RootCause

log = logging.getLogger(__name__)

STEP = "Wait for approval"
PAGE_MAX_AGE_SECONDS = 3600        # how long an open approval page may wait before its buttons go stale
CODE_TTL_SECONDS = 600             # a one-time code is good for ten minutes ...
CODE_MAX_ATTEMPTS = 5              # ... and five guesses
CODE_MAX_SENDS = 3                 # at most three codes per approver and request
CODE_RESEND_SECONDS = 30
CLAIM_STALE_SECONDS = 60           # a claim older than this (a crashed invocation) can be taken over
SLACK_CHANNEL_SUBJECT = "c-slack"  # the Slack buttons' token: names the request, proves nobody
_LATE = ("TaskTimedOut", "TaskDoesNotExist", "InvalidToken")


@dataclass(frozen=True)
class ApprovalNotice:
    """What an approval request says, on every channel: the stored summary and its window."""

    request_id: str
    summary: dict[str, Any]
    token: str                  # the Slack buttons' token (names the request; proves nobody)
    url: str | None             # the recipient's own link (email), or None
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
            if a.get("blast_radius"):
                lines.append(f"  blast radius: {a['blast_radius']}")
            if a.get("undo"):
                lines.append(f"  undo: {a['undo']}")
            if a.get("api_call"):
                lines.append(f"  dry run: {a['api_call']}")
            if (a.get("pin") or {}).get("summary"):
                lines.append(f"  pinned: {a['pin']['summary']} (before-state {a['pin'].get('fingerprint', '')})")
        if (s.get("four_eyes") or {}).get("note"):
            lines.append(f"Four eyes: {s['four_eyes']['note']}")
        lines.append(f"Decide by {self.expires_at:%Y-%m-%d %H:%M} UTC. "
                     + (s.get("if_nobody_decides") or "If nobody decides, on-call is paged and nothing is changed."))
        if s.get("report_url"):
            lines.append(f"The post-incident report will be at {s['report_url']} once the incident is handled.")
        return "\n".join(line for line in lines if line)


class ApprovalRefused(ValueError):
    """A decision that changes nothing; the message is safe to show the person who clicked."""

    def __init__(self, message: str, status: int = 409, title: str = "Nothing changed"):
        super().__init__(message)
        self.status, self.title = status, title


@dataclass
class ApprovalChannels:
    """Where an approval request goes: email (one message per approver, their own link) and Slack."""

    email: Any = None          # SnsApprovalNotifier
    slack: Any = None          # SlackNotifier

    def request(self, incident: Any, notice: ApprovalNotice, links: dict[str, str] | None = None) -> str | None:
        """Send the request everywhere; the Slack thread ts, when Slack is configured."""
        if self.email is not None:
            for address, url in (links or {}).items():
                self.email.request(incident, address, notice.text, url, notice.summary.get("title"))
        return self.slack.request(notice) if self.slack is not None else None

    def update_thread(self, thread_ts: str | None, text: str) -> None:
        if self.slack is not None:
            self.slack.update_thread(thread_ts, text)


def request_links(keys: Keys, base_url: str, approvers: tuple[str, ...], request_id: str,
                  expires: datetime) -> dict[str, str]:
    """One link per email approver, signed for that approver."""
    if not base_url:
        return {}
    return {a: f"{base_url.rstrip('/')}/approvals/{sign(keys, request_id, email_subject(a), expires)}"
            for a in approvers if "@" in a}


@dataclass
class Caller:
    """The person a link (or a signed request) proves, and how."""

    request: dict[str, Any]
    subject: str
    who: str                   # the approver's email, Slack user id or IAM ARN
    channel: str               # web | slack | terminal


@dataclass
class ApprovalService:
    store: Any                 # DynamoDBApprovalStore
    audit: Any                 # AuditLog
    sfn: Any                   # boto3 stepfunctions client
    signing_key: Any           # Keys, or a callable returning them
    approvers: tuple[str, ...] = ()
    channels: Any = None       # ApprovalChannels: Slack thread updates, codes by email
    approver_arns: tuple[str, ...] = ()
    people: tuple[tuple[str, ...], ...] = ()   # each person's identities on every channel (four eyes)
    sleep: Callable[[float], None] = time.sleep
    delivery_attempts: int = 3
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(timezone.utc))

    @property
    def keys(self) -> Keys:
        return self.signing_key() if callable(self.signing_key) else self.signing_key

    # --- reading -------------------------------------------------------------------------
    def open_link(self, token: str, now: datetime | None = None) -> Caller:
        """The request a link points at and the person it was sent to; refused when forged,
        tampered, expired, unknown, or sent to someone no longer on the list."""
        now = now or self.clock()
        try:
            parsed = verify(self.keys, token, now)
        except ExpiredToken as exc:
            raise ApprovalRefused(str(exc), 410, "Approval link expired") from None
        except InvalidToken as exc:
            raise ApprovalRefused(str(exc), 403, "Approval link not valid") from None
        request = self.store.get_approval(parsed.request_id)
        if request is None:
            raise ApprovalRefused("this approval request does not exist (or was removed)", 404, "Approval link not valid")
        if parsed.subject == SLACK_CHANNEL_SUBJECT:
            return Caller(request, parsed.subject, "", "slack")
        who = self._person(parsed.subject)
        if who is None:
            raise ApprovalRefused("this link was sent to someone who is no longer an approver", 403, "Not an approver")
        return Caller(request, parsed.subject, who, "web" if parsed.subject.startswith("e-") else "slack")

    def view(self, token: str, now: datetime | None = None) -> tuple[Caller, str]:
        """The approval page's data and its nonce. A view never decides and never heartbeats:
        a link scanner's GET keeps nothing alive."""
        now = now or self.clock()
        caller = self.open_link(token, now)
        if caller.subject == SLACK_CHANNEL_SUBJECT:
            raise ApprovalRefused("this token belongs to the Slack buttons; open the page from your own link",
                                  403, "Approval link not valid")
        return caller, confirmation_nonce(self.keys, caller.request["request_id"], caller.subject, now, "choose")

    # --- email: choose, then prove with a one-time code ----------------------------------
    def send_code(self, token: str, decision: str, nonce: str, source_ip: str | None = None,
                  now: datetime | None = None) -> tuple[Caller, str]:
        """The approver pressed Approve or Reject: email them a one-time code. Returns the code
        form's nonce."""
        now = now or self.clock()
        caller = self._pending_web_caller(token, now)
        rid = caller.request["request_id"]
        try:
            check_confirmation(self.keys, rid, caller.subject, nonce, PAGE_MAX_AGE_SECONDS, now, "choose")
        except InvalidToken as exc:
            raise ApprovalRefused(str(exc), 400, "Nothing changed") from None
        if decision == "approve":             # no code for an approval the four-eyes rule would refuse
            self._four_eyes(caller.request, caller.who, "web", source_ip)
        code = new_code()
        digest = code_digest(self.keys, rid, caller.subject, decision, code)
        if not self.store.save_code(rid, caller.subject, digest, decision, now, CODE_TTL_SECONDS,
                                    CODE_MAX_SENDS, CODE_RESEND_SECONDS):
            live = self.store.get_code(rid, caller.subject, now)
            if live is not None and live["decision"] == decision:     # the code sent a moment ago still works
                return caller, confirmation_nonce(self.keys, rid, caller.subject, now, f"code:{decision}")
            raise ApprovalRefused("a code was sent a moment ago (or too many were sent): wait a minute and press "
                                  "the button again", 429, "Code already sent")
        email = getattr(self.channels, "email", None)
        if email is None:
            raise ApprovalRefused("no email channel is configured to send a code", 503, "Nothing changed")
        s = caller.request["summary"]
        email.send_code(caller.who, f"Watchkeeper code to {decision} {s.get('service')}",
                        f"Your one-time code to {decision.upper()} the remediation of {s.get('service')} "
                        f"(incident {s.get('incident_id')}) is:\n\n    {code}\n\nIt is valid for 10 minutes, "
                        "on the page where you asked for it. If you did not ask for it, someone else holds your "
                        "approval link: do not share the code.")
        self.audit.append(caller.request["incident_id"], STEP, "decision",
                          f"{decision} chosen on the approval page for {caller.who}; a one-time code was emailed",
                          {"channel": "web", "ip": source_ip, "request_id": rid}, actor=caller.who)
        return caller, confirmation_nonce(self.keys, rid, caller.subject, now, f"code:{decision}")

    def confirm_code(self, token: str, decision: str, code: str, nonce: str, reason: str = "",
                     source_ip: str | None = None, now: datetime | None = None) -> ApprovalDecision:
        now = now or self.clock()
        caller = self._pending_web_caller(token, now)
        rid = caller.request["request_id"]
        try:
            check_confirmation(self.keys, rid, caller.subject, nonce, PAGE_MAX_AGE_SECONDS, now, f"code:{decision}")
        except InvalidToken as exc:
            raise ApprovalRefused(str(exc), 400, "Nothing changed") from None
        stored = self.store.take_code_attempt(rid, caller.subject, now, CODE_MAX_ATTEMPTS)
        if stored is None:
            raise ApprovalRefused("this code has expired or was used up: press Approve or Reject again for a new one",
                                  403, "Code not valid")
        if stored["decision"] != decision or not code_matches(self.keys, rid, caller.subject, decision, code,
                                                              stored["digest"]):
            self.audit.append(caller.request["incident_id"], STEP, "decision",
                              f"a wrong one-time code was entered on {caller.who}'s approval link",
                              {"channel": "web", "ip": source_ip, "request_id": rid}, actor="unknown")
            raise ApprovalRefused("that code is not the one we emailed (codes are single-use and expire)", 403,
                                  "Code not valid")
        try:
            result = self._decide(caller.request, decision == "approve", caller.who, "web", reason, source_ip, now)
        except ApprovalRefused as exc:
            if exc.status != 503:               # not delivered: the same code may try again
                self.store.burn_code(rid, caller.subject)
            raise
        self.store.burn_code(rid, caller.subject)
        return result

    def _pending_web_caller(self, token: str, now: datetime) -> Caller:
        caller = self.open_link(token, now)
        if caller.channel != "web":
            raise ApprovalRefused("this page was opened from Slack: decide with the Approve / Reject buttons in "
                                  "Slack, which prove who you are", 403, "Decide in Slack")
        if caller.request["status"] != "pending":
            raise ApprovalRefused(already_decided(caller.request), 409, "Already decided")
        return caller

    # --- Slack ---------------------------------------------------------------------------
    def slack_link(self, token: str, user_id: str, base_url: str, now: datetime | None = None) -> str:
        """The page link for one Slack user (shown to them alone): it shows, it never decides."""
        now = now or self.clock()
        caller = self.open_link(token, now)
        if not self.is_approver(user_id, "slack"):
            raise ApprovalRefused(f"<@{user_id}> is not on the approvers list for this account", 403, "Not an approver")
        expires = datetime.fromisoformat(caller.request["expires_at"])
        return f"{base_url.rstrip('/')}/approvals/{sign(self.keys, caller.request['request_id'], slack_subject(user_id), expires)}"

    def decide_slack(self, token: str, user_id: str, approved: bool, source_ip: str | None = None,
                     now: datetime | None = None) -> ApprovalDecision:
        now = now or self.clock()
        caller = self.open_link(token, now)
        request = caller.request
        if request["status"] != "pending":
            raise ApprovalRefused(already_decided(request), 409, "Already decided")
        if not self.is_approver(user_id, "slack"):
            self._refused(request, user_id, "slack", source_ip)
        return self._decide(request, approved, user_id, "slack", "", source_ip, now)

    # --- terminal ------------------------------------------------------------------------
    def decide_terminal(self, incident_id: str, caller_arn: str, approved: bool, reason: str = "",
                        source_ip: str | None = None, now: datetime | None = None) -> ApprovalDecision:
        now = now or self.clock()
        request = self.store.latest_approval(incident_id)
        if request is None:
            raise ApprovalRefused(f"incident {incident_id} has no approval request", 404, "Nothing to decide")
        if request["status"] != "pending":
            raise ApprovalRefused(already_decided(request), 409, "Already decided")
        if datetime.fromisoformat(request["expires_at"]) <= now:
            raise ApprovalRefused("the approval window has closed; the incident was escalated", 410, "Too late")
        if not arn_is_approver(caller_arn, self.approver_arns):
            self._refused(request, caller_arn, "terminal", source_ip)
        return self._decide(request, approved, caller_arn, "terminal", reason, source_ip, now)

    # --- the one way a decision lands ----------------------------------------------------
    def _decide(self, request: dict[str, Any], approved: bool, who: str, channel: str, reason: str,
                source_ip: str | None, now: datetime) -> ApprovalDecision:
        rid, incident_id = request["request_id"], request["incident_id"]
        if approved:
            self._four_eyes(request, who, channel, source_ip)
        reason = redact(str(reason or "").strip(), tuple(self.approvers))[:500]
        verdict = "approved" if approved else "rejected"
        context = {"channel": channel, "ip": source_ip, "request_id": rid}
        # a heartbeat only after a proven human action: is the workflow still waiting?
        try:
            self.sfn.send_task_heartbeat(taskToken=request["task_token"])
        except ClientError as exc:
            # InvalidToken is left to SendTaskSuccess (the emulator answers it for a task without a heartbeat)
            if exc.response["Error"]["Code"] in ("TaskTimedOut", "TaskDoesNotExist"):
                self._too_late(request, who, verdict, exc.response["Error"]["Code"], context)
        except BotoCoreError:
            pass                                         # SendTaskSuccess below decides
        claim = uuid.uuid4().hex
        if not self.store.claim_approval(rid, claim, who, channel, now, CLAIM_STALE_SECONDS):
            raise ApprovalRefused(already_decided(self.store.get_approval(rid) or request), 409, "Already decided")
        decision = ApprovalDecision(approved=approved, decided_by=who, reason=reason, channel=channel, decided_at=now)
        error = self._deliver(request["task_token"], decision)
        if error in _LATE:
            self.store.release_claim(rid, claim, "timed_out")
            self._too_late(request, who, verdict, error, context)
        if error:
            self.store.release_claim(rid, claim, "pending")
            self.audit.append(incident_id, STEP, "decision",
                              f"the {verdict} decision by {who} via {channel} could not be delivered to the workflow "
                              f"({error}); the request is pending again and nothing was changed", context, actor=who)
            raise ApprovalRefused("Watchkeeper could not hand your decision to the workflow "
                                  f"({error}); nothing was changed and the request is still pending: try again",
                                  503, "Not delivered")
        self.store.settle_approval(rid, claim, verdict, decided_by=who, channel=channel,
                                   decided_at=now.isoformat(), source_ip=source_ip)
        self.audit.append(incident_id, STEP, "decision",
                          f"{verdict} by {who} via {channel}" + (f" from {source_ip}" if source_ip else "")
                          + (f": {reason}" if reason else "") + "; the workflow resumed",
                          {**context, "decided_at": now.isoformat()}, actor=who)
        self._tell_thread(request, f"{'✅ Approved' if approved else '⛔ Rejected'} by {_mention(who, channel)} "
                                   f"via {channel} at {now:%H:%M:%S} UTC" + (f": {reason}" if reason else ""))
        return decision

    def _deliver(self, task_token: str, decision: ApprovalDecision) -> str | None:
        """SendTaskSuccess, retried on throttling and network errors; the error code if it never landed."""
        output = json.dumps(decision.model_dump(mode="json"))
        error = None
        for attempt in range(self.delivery_attempts):
            try:
                self.sfn.send_task_success(taskToken=task_token, output=output)
                return None
            except ClientError as exc:
                error = exc.response["Error"]["Code"]
                if error in _LATE:
                    return error
            except BotoCoreError as exc:
                error = type(exc).__name__
            if attempt + 1 < self.delivery_attempts:
                self.sleep(0.2 * 2 ** attempt)
        return error

    def _too_late(self, request: dict[str, Any], who: str, verdict: str, code: str, context: dict[str, Any]) -> None:
        self.store.close_approval(request["request_id"], "timed_out")
        self.audit.append(request["incident_id"], STEP, "decision",
                          f"the {verdict} decision by {who} arrived after the workflow stopped waiting ({code}); "
                          "nothing was changed", context, actor=who)
        raise ApprovalRefused("the incident stopped waiting for a decision (it timed out and was escalated); "
                              "nothing was changed", 410, "Too late")

    def _refused(self, request: dict[str, Any], who: str, channel: str, source_ip: str | None) -> None:
        self.audit.append(request["incident_id"], STEP, "decision",
                          f"refused a decision from {who or 'an unnamed person'} via {channel}: not an approver",
                          {"channel": channel, "ip": source_ip, "request_id": request["request_id"]},
                          actor=who or "unknown")
        raise ApprovalRefused(f"{who or 'an unnamed person'} is not on the approvers list for this account",
                              403, "Not an approver")

    def _four_eyes(self, request: dict[str, Any], who: str, channel: str, source_ip: str | None) -> None:
        """The author of the change a write undoes cannot approve it (services with `four_eyes`)."""
        rule = (request.get("summary") or {}).get("four_eyes") or {}
        if not made_the_change(who, rule.get("author"), self.people):
            return
        self.audit.append(request["incident_id"], STEP, "decision",
                          f"refused an approval from {who} via {channel}: four eyes, they made the change "
                          f"{rule.get('change')} that this request undoes; another approver must approve",
                          {"channel": channel, "ip": source_ip, "request_id": request["request_id"],
                           "rule": "four_eyes", "change": rule.get("change")}, actor=who)
        raise ApprovalRefused(f"you made the change {rule.get('change')}, so another approver must approve undoing "
                              "it (four-eyes rule for this service); you can still reject", 403, "Four eyes")

    def _person(self, subject: str) -> str | None:
        if subject.startswith("e-"):
            return next((a for a in self.approvers if "@" in a and email_subject(a) == subject), None)
        if subject.startswith("s-"):
            user = subject[2:]
            return user if self.is_approver(user, "slack") else None
        return None

    def is_approver(self, who: str, channel: str) -> bool:
        """Email approvers for the web, Slack user ids for Slack; an empty list approves no one."""
        if not who:
            return False
        if channel == "web":
            return "@" in who and who.lower() in {a.lower() for a in self.approvers if "@" in a}
        if channel == "slack":
            return who in {a for a in self.approvers if "@" not in a}
        if channel == "terminal":
            return arn_is_approver(who, self.approver_arns)
        return False

    def _tell_thread(self, request: dict[str, Any], text: str) -> None:
        if self.channels is None:
            return
        try:
            self.channels.update_thread(request.get("slack_ts"), text)
        except Exception as exc:  # the decision stands; Slack being down must not undo it
            log.warning("could not post the decision to the Slack thread: %s", exc)


def identities(who: str, people: tuple[tuple[str, ...], ...] = ()) -> set[str]:
    """Every name one person goes by: the identity itself, an ARN's last segment (the IAM user
    or role session name; with IAM Identity Center, the person's email), and the identities the
    account config links to it in `people`. Compared without case, never by likeness."""
    def names(identity: str) -> set[str]:
        value = str(identity or "").strip().lower()
        out = {value, value.rsplit("/", 1)[-1]} if value.startswith("arn:") else {value}
        return {n for n in out if n}

    found = names(who)
    for person in people:
        linked = set().union(*(names(i) for i in person)) if person else set()
        if found & linked:
            found |= linked
    return found


def made_the_change(who: str, author: str | None, people: tuple[tuple[str, ...], ...] = ()) -> bool:
    """Whether the approver `who` is the author of a change (False when the author is unknown)."""
    if not who or not author:
        return False
    return bool(identities(who, people) & identities(author, people))


def arn_is_approver(arn: str, approver_arns: tuple[str, ...]) -> bool:
    """An IAM user or role ARN on the list; an assumed-role session counts as its role
    (arn:aws:sts::A:assumed-role/R/session is arn:aws:iam::A:role/R)."""
    if not arn or not approver_arns:
        return False
    candidates = {arn}
    parts = arn.split(":", 5)
    if len(parts) == 6 and parts[2] == "sts" and parts[5].startswith("assumed-role/"):
        role = parts[5].split("/")[1]
        candidates.add(f"arn:{parts[1]}:iam::{parts[4]}:role/{role}")
    return bool(candidates & set(approver_arns))


def already_decided(request: dict[str, Any]) -> str:
    status = request.get("status", "decided")
    if status == "timed_out":
        return "this incident stopped waiting for a decision (it timed out and was escalated); nothing changed"
    if status == "deciding":
        return (f"a decision by {request.get('claimed_by') or 'another approver'} is being handed to the workflow "
                "right now. Nothing changed.")
    who = f" by {request['decided_by']}" if request.get("decided_by") else ""
    when = f" at {request['decided_at'][:19].replace('T', ' ')} UTC" if request.get("decided_at") else ""
    return f"this incident was already decided: {status}{who}{when}. Nothing changed."


def mask_email(address: str) -> str:
    local, _, domain = address.partition("@")
    return f"{local[:1]}{'•' * 3}{local[-1:] if len(local) > 1 else ''}@{domain}"


def _mention(who: str, channel: str) -> str:
    """Thread updates are escaped for mrkdwn (no mention can be injected), so a Slack approver is
    named by their user id."""
    return f"Slack user {who}" if channel == "slack" else who


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
    """Each proposed write with its dry run (the exact API call, diff and before/after state),
    computed read-only before anyone is asked; a preview that cannot be computed says why."""
    out = []
    for action in actions:
        entry: dict[str, Any] = {"id": action.id, "type": action.type, "target": action.target,
                                 "params": action.params, "reason": action.reason, "revert": action.revert}
        try:
            result = executor.execute(action, dry_run=True)
            entry.update(api_call=result.api_call, diff=result.diff,
                         before=getattr(result, "before", {}) or {}, after=getattr(result, "after", {}) or {})
            if getattr(result, "pin", None) is not None and result.status == "planned":   # what Execute writes
                entry["pin"] = result.pin.model_dump(mode="json")
            if result.error:
                entry["preview_error"] = result.error
        except Exception as exc:  # the request must still go out; the page says the preview is missing
            log.warning("dry-run preview of %s failed: %s", action.type, exc)
            entry["preview_error"] = f"{type(exc).__name__}: {exc}"[:300]
        out.append(entry)
    return out


def thread_update(state: dict[str, Any], report: Any) -> str:
    """One message for the approval thread when the incident is handled: actions, verification,
    report. Plain text: the Slack adapter escapes it for mrkdwn."""
    lines = []
    for r in (state.get("execution") or {}).get("results", []):
        lines.append(f"• {r.get('type')} on {r.get('target')}: {r.get('status')}"
                     + (f" ({r.get('error')})" if r.get("error") else ""))
    verification = state.get("verification") or {}
    if verification:
        lines.append(f"• verification: {verification.get('status')} after {verification.get('attempts')} check(s)")
    if state.get("escalation"):
        lines.append(f"• paged on-call: {state['escalation'].get('reason')}")
    lines.append(f"• report: {report.status} — {report.summary}\n{getattr(report, 'url', None) or report.uri}")
    return redact("Incident update:\n" + "\n".join(lines))


def new_request_window(now: datetime, timeout_seconds: int, entered_at: str | None = None) -> datetime:
    """The end of the approval window: the task's timeout counted from when the workflow entered
    "Wait for approval" (the real deadline), never later than that."""
    start = now
    if entered_at:
        try:
            entered = datetime.fromisoformat(entered_at.replace("Z", "+00:00"))
            start = min(now, entered if entered.tzinfo else entered.replace(tzinfo=timezone.utc))
        except ValueError:
            pass
    return start + timedelta(seconds=timeout_seconds)
