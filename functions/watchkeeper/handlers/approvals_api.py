"""The approval API: GET shows the approval page (never decides), POST approves or rejects,
and Slack's Approve / Reject buttons arrive signed at /slack/actions."""
from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types

from ..adapters.slack import APPROVE, SlackRequestRefused, parse_action, verify_request
from ..approvals import ApprovalRefused, ApprovalService, already_decided
from ..composition import container
from ..corrections import InvalidCorrection, record_correction
from ..domain.approval_page import SECURITY_HEADERS, notice_page, request_page
from ._runtime import logger, tracer

app = APIGatewayHttpResolver()


def service() -> ApprovalService:
    c = container()
    if not hasattr(c, "_approvals"):
        c._approvals = ApprovalService(c.store(), c.audit(), c.client("stepfunctions"), c.signing_key(),
                                       c.cfg.approvers, c.approval_channels())
    return c._approvals


def _html(body: str, status: int = 200) -> Response:
    return Response(status_code=status, content_type=content_types.TEXT_HTML, body=body, headers=dict(SECURITY_HEADERS))


def _source_ip() -> str:
    return app.current_event.request_context.http.source_ip


@app.get("/approvals/<token>")
def show(token: str) -> Response:
    try:
        request, nonce = service().view(token, _source_ip())
    except ApprovalRefused as exc:
        return _html(notice_page(exc.title, str(exc)), exc.status)
    if request["status"] != "pending":
        return _html(notice_page("Already decided", already_decided(request)), 409)
    return _html(request_page(request, nonce))


@app.post("/approvals/<token>")
def decide(token: str) -> Response:
    fields = {k: v[0] for k, v in parse_qs(app.current_event.decoded_body or "").items()}
    if fields.get("decision") not in ("approve", "reject"):
        return _html(notice_page("Nothing changed", "choose Approve or Reject on the approval page"), 400)
    approved = fields["decision"] == "approve"
    try:
        decision = service().decide(token, approved, fields.get("who", ""), "web", fields.get("reason", "")[:500],
                                    _source_ip(), nonce=fields.get("nonce", ""))
    except ApprovalRefused as exc:
        return _html(notice_page(exc.title, str(exc)), exc.status)
    verb = "approved" if decision.approved else "rejected"
    corrected = _correction(token, fields, decision.decided_by, "web")
    return _html(notice_page(f"Remediation {verb}", f"Recorded: {verb} by {decision.decided_by}. {corrected}"
                             + ("Watchkeeper resumes now." if decision.approved else "Nothing will be changed; "
                                "on-call keeps the incident."), ok=True))


def _correction(token: str, fields: dict[str, str], who: str, channel: str) -> str:
    """The optional "the root cause was really ..." of a decision, from a proven approver: audit and memory."""
    kind = (fields.get("root_cause") or "").strip()
    if not kind:
        return ""
    request = service().pending(token)
    was = ((request.get("summary") or {}).get("root_cause") or {}).get("kind")
    if kind == was and not fields.get("culprit"):
        return ""
    try:
        record_correction(container().audit(), container().memory(), request["incident_id"],
                          (request.get("summary") or {}).get("service", ""), kind, fields.get("culprit"), who,
                          channel, was=was, reason=fields.get("reason", "")[:500])
    except InvalidCorrection as exc:
        return f"The root cause was not corrected: {exc}. "
    return f"Root cause corrected to {kind}. "


@app.post("/slack/actions")
def slack_action() -> Response:
    event = app.current_event
    body = event.decoded_body or ""
    try:
        verify_request(container().slack_signing_secret(), body, event.headers)
        action = parse_action(body)
    except SlackRequestRefused as exc:
        logger.warning("slack request refused", reason=str(exc), source_ip=_source_ip())
        return Response(status_code=401, content_type=content_types.APPLICATION_JSON,
                        body=json.dumps({"ok": False, "error": str(exc)}))
    try:
        decision = service().decide(action.token, action.action == APPROVE, action.user_id, "slack",
                                    source_ip=_source_ip())
        text, ok = f"{'Approved' if decision.approved else 'Rejected'} by <@{action.user_id}>.", True
    except ApprovalRefused as exc:       # Slack wants a 200; the person who clicked sees why
        text, ok = f"Nothing changed: {exc}", False
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON,
                    body=json.dumps({"ok": ok, "response_type": "ephemeral", "replace_original": False, "text": text}))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
