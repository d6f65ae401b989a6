"""The approval API: GET shows the approval page (never decides), POST approves or rejects."""
from __future__ import annotations

import html
from typing import Any
from urllib.parse import parse_qs

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types

from ..approvals import ApprovalRefused, ApprovalService
from ..composition import container
from ._runtime import logger, tracer

app = APIGatewayHttpResolver()


def service() -> ApprovalService:
    c = container()
    if not hasattr(c, "_approvals"):
        c._approvals = ApprovalService(c.store(), c.audit(), c.client("stepfunctions"), c.signing_key(), c.cfg.approvers)
    return c._approvals


def _page(title: str, body: str, status: int = 200) -> Response:
    doc = (f"<!doctype html><html><head><meta name='viewport' content='width=device-width, initial-scale=1'>"
           f"<title>{html.escape(title)}</title><style>body{{font-family:system-ui;max-width:40em;margin:1em auto;"
           f"padding:0 1em}}button{{font-size:1.1em;padding:.6em 1.2em;margin:.3em}}</style></head>"
           f"<body><h1>{html.escape(title)}</h1>{body}</body></html>")
    return Response(status_code=status, content_type=content_types.TEXT_HTML, body=doc)


@app.get("/approvals/<token>")
def show(token: str) -> Response:
    try:
        req = service().pending(token)
    except ApprovalRefused as exc:
        return _page("Approval link not valid", f"<p>{html.escape(str(exc))}</p>", 403)
    s = req["summary"]
    rc = s.get("root_cause", {})
    actions = "".join(f"<li><code>{html.escape(a)}</code></li>" for a in s.get("actions", []))
    if req["status"] != "pending":
        return _page("Already decided", f"<p>This request was {html.escape(req['status'])}.</p>", 409)
    form = (f"<form method='post'><label>Your email <input name='who' required></label><br>"
            f"<button name='decision' value='approve'>Approve</button>"
            f"<button name='decision' value='reject'>Reject</button></form>")
    return _page(f"Approve remediation for {s.get('service')}",
                 f"<p><b>{html.escape(s.get('title', ''))}</b></p><p>Root cause: <b>{html.escape(str(rc.get('kind')))}</b> "
                 f"{html.escape(str(rc.get('culprit') or ''))} (confidence {rc.get('confidence')})</p>"
                 f"<p>{html.escape(rc.get('summary', ''))}</p><p>Proposed actions:</p><ul>{actions}</ul>{form}")


@app.post("/approvals/<token>")
def decide(token: str) -> Response:
    event = app.current_event
    fields = {k: v[0] for k, v in parse_qs(event.decoded_body or "").items()}
    approved = fields.get("decision") == "approve"
    who = fields.get("who", "").strip()
    try:
        decision = service().decide(token, approved, who, "web", fields.get("reason", ""),
                                    event.request_context.http.source_ip)
    except ApprovalRefused as exc:
        return _page("Nothing changed", f"<p>{html.escape(str(exc))}</p>", 409)
    verb = "approved" if decision.approved else "rejected"
    return _page(f"Remediation {verb}", f"<p>Recorded: {verb} by {html.escape(who)}. Watchkeeper resumes now.</p>")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
