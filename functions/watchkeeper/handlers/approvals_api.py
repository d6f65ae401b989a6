"""The approval API: GET shows the approval page (never decides, never heartbeats); POST on an
emailed link chooses (a one-time code is emailed) then confirms with the code; Slack's buttons
arrive signed at /slack/actions; the terminal's decisions arrive IAM-signed at
/terminal/decisions. Every refusal is a 4xx with a clear reason, whatever the bytes."""
from __future__ import annotations

import base64
import binascii
import json
from typing import Any
from urllib.parse import parse_qs

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from botocore.config import Config

from ..adapters.dynamodb_approvals import DynamoDBApprovalStore
from ..adapters.slack import APPROVE, OPEN_PAGE, SlackRequestRefused, mrkdwn, parse_action, verify_request
from ..approvals import ApprovalRefused, ApprovalService, already_decided, mask_email
from ..composition import container
from ..corrections import InvalidCorrection, record_correction
from ..domain.redact import redact
from ..domain.approval_page import SECURITY_HEADERS, code_form, decision_form, notice_page, request_page, slack_note
from ._runtime import logger, tracer

app = APIGatewayHttpResolver()

MAX_FORM_BYTES = 16 * 1024          # the page's forms are a few hundred bytes
MAX_SLACK_BYTES = 256 * 1024        # a block_actions payload carries the whole message
DECISIONS = ("approve", "reject")


def service() -> ApprovalService:
    c = container()
    if not hasattr(c, "_approvals"):
        # the callback is retried here (and by _deliver); a click must still be answered within Slack's 3 s
        sfn = c.session.client("stepfunctions", config=Config(connect_timeout=2, read_timeout=3,
                                                              retries={"mode": "standard", "max_attempts": 2}))
        c._approvals = ApprovalService(DynamoDBApprovalStore(c.cfg.state_table, c.client("dynamodb")), c.audit(), sfn,
                                       c.signing_keys, c.cfg.approvers, c.approval_channels(),
                                       approver_arns=c.cfg.approver_arns, people=c.cfg.approver_people, clock=c.clock)
    return c._approvals


def _html(body: str, status: int = 200) -> Response:
    return Response(status_code=status, content_type=content_types.TEXT_HTML, body=body, headers=dict(SECURITY_HEADERS))


def _refused(exc: ApprovalRefused) -> Response:
    return _html(notice_page(exc.title, str(exc)), exc.status)


def _source_ip() -> str:
    return app.current_event.request_context.http.source_ip


def _raw_body(limit: int) -> bytes:
    """The request body as bytes, refused (413/400) when too large or not decodable."""
    event = app.current_event
    body = event.get("body") or ""
    if len(body) > limit * 4 // 3 + 4:
        raise ApprovalRefused(f"the request body is larger than {limit // 1024} KB", 413, "Too large")
    if event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise ApprovalRefused("the request body is not valid base64", 400, "Nothing changed") from None
    else:
        raw = body.encode("utf-8", "surrogatepass")
    if len(raw) > limit:
        raise ApprovalRefused(f"the request body is larger than {limit // 1024} KB", 413, "Too large")
    return raw


def _form() -> dict[str, str]:
    raw = _raw_body(MAX_FORM_BYTES).decode("utf-8", "replace")
    try:
        return {k: v[0] for k, v in parse_qs(raw, max_num_fields=20).items()}
    except ValueError:
        raise ApprovalRefused("the form has too many fields", 400, "Nothing changed") from None


@app.get("/approvals/<token>")
def show(token: str) -> Response:
    try:
        caller, nonce = service().view(token)
    except ApprovalRefused as exc:
        return _refused(exc)
    if caller.request["status"] != "pending":
        return _html(notice_page("Already decided", already_decided(caller.request)), 409)
    part = slack_note(caller.who) if caller.channel == "slack" else decision_form(nonce, mask_email(caller.who))
    return _html(request_page(caller.request, part))


@app.post("/approvals/<token>")
def decide(token: str) -> Response:
    try:
        fields = _form()
        decision = fields.get("decision")
        if decision not in DECISIONS:
            raise ApprovalRefused("choose Approve or Reject on the approval page", 400, "Nothing changed")
        if fields.get("step") == "confirm":
            result = service().confirm_code(token, decision, fields.get("code", ""), fields.get("nonce", ""),
                                            fields.get("reason", "")[:500], _source_ip())
        else:
            caller, code_nonce = service().send_code(token, decision, fields.get("nonce", ""), _source_ip())
            return _html(request_page(caller.request, code_form(code_nonce, decision, mask_email(caller.who),
                                                                caller.request), sections=[]))
    except ApprovalRefused as exc:
        return _refused(exc)
    verb = "approved" if result.approved else "rejected"
    corrected = _correction(token, fields, result.decided_by, "web")
    return _html(notice_page(f"Remediation {verb}", f"Recorded: {verb} by {result.decided_by}. {corrected}"
                             + ("The workflow has resumed." if result.approved else "Nothing will be changed; "
                                "on-call keeps the incident."), ok=True))


def _correction(token: str, fields: dict[str, str], who: str, channel: str) -> str:
    """The optional "the root cause was really ..." of a decision, from a proven approver: audit and memory."""
    kind = (fields.get("root_cause") or "").strip()
    if not kind:
        return ""
    request = service().open_link(token).request
    was = ((request.get("summary") or {}).get("root_cause") or {}).get("kind")
    if kind == was and not fields.get("culprit"):
        return ""
    try:
        record_correction(service().audit, container().memory(), request["incident_id"],
                          (request.get("summary") or {}).get("service", ""), kind, redact(fields.get("culprit") or ""),
                          who, channel, was=was, reason=redact(fields.get("reason", ""))[:500])
    except InvalidCorrection as exc:
        return f"The root cause was not corrected: {exc}. "
    return f"Root cause corrected to {kind}. "


@app.post("/slack/actions")
def slack_action() -> Response:
    event = app.current_event
    try:
        body = _raw_body(MAX_SLACK_BYTES)
        verify_request(container().slack_signing_secrets(), body, event.headers)
        action = parse_action(body.decode("utf-8", "replace"))
    except (SlackRequestRefused, ApprovalRefused) as exc:
        logger.warning("slack request refused", reason=str(exc), source_ip=_source_ip())
        status = exc.status if isinstance(exc, ApprovalRefused) else 401
        return Response(status_code=status, content_type=content_types.APPLICATION_JSON,
                        body=json.dumps({"ok": False, "error": str(exc)}))
    approvals = service()
    try:
        if action.action == OPEN_PAGE:
            link = approvals.slack_link(action.token, action.user_id, container().cfg.approval_api_url
                                        or f"https://{event.request_context.domain_name}")
            text, ok = (f"Your approval page (only you see this link; it shows, the buttons in Slack decide): "
                        f"<{link}|Open the approval page>"), True
        else:
            decision = approvals.decide_slack(action.token, action.user_id, action.action == APPROVE, _source_ip())
            text, ok = f"{'Approved' if decision.approved else 'Rejected'} by <@{mrkdwn(action.user_id)}>.", True
    except ApprovalRefused as exc:       # Slack wants a 200; the person who clicked is told why, alone
        text, ok = f"Nothing changed: {mrkdwn(exc)}", False
    try:
        approvals.channels.slack.tell(action.channel_id, action.user_id, text)
    except Exception as exc:  # the answer below still reaches the Slack logs
        logger.warning("could not post the ephemeral answer", reason=str(exc))
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON,
                    body=json.dumps({"ok": ok, "response_type": "ephemeral", "replace_original": False, "text": text}))


@app.post("/terminal/decisions")
def terminal_decision() -> Response:
    """`watchkeeper approve|reject`: the route has API Gateway's IAM authorizer, so the caller's
    ARN here is the one SigV4 (GetCallerIdentity's identity) proved."""
    event = app.current_event
    iam = ((event.get("requestContext") or {}).get("authorizer") or {}).get("iam") or {}
    arn = str(iam.get("userArn") or "")
    try:
        if not arn:
            raise ApprovalRefused("this route needs an IAM-signed request (SigV4)", 403, "Not an approver")
        try:
            data = json.loads(_raw_body(MAX_FORM_BYTES).decode("utf-8", "replace") or "{}")
        except ValueError:
            raise ApprovalRefused("the body is not JSON", 400, "Nothing changed") from None
        if not isinstance(data, dict) or data.get("decision") not in DECISIONS or not isinstance(data.get("incident_id"), str):
            raise ApprovalRefused('send {"incident_id": ..., "decision": "approve"|"reject", "reason": ...}', 400,
                                  "Nothing changed")
        decision = service().decide_terminal(data["incident_id"][:200], arn, data["decision"] == "approve",
                                             str(data.get("reason") or "")[:500], _source_ip())
    except ApprovalRefused as exc:
        return Response(status_code=exc.status, content_type=content_types.APPLICATION_JSON,
                        body=json.dumps({"ok": False, "title": exc.title, "error": str(exc), "caller": arn}))
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON,
                    body=json.dumps({"ok": True, "caller": arn, "decision": decision.model_dump(mode="json")}))


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
