"""The approval page on localhost: what API Gateway does in front of the approvals Lambda.

A stdlib HTTP server on 127.0.0.1 turns each browser request into an HTTP API (payload
2.0) event and invokes the real approvals handler through the local runtime's Lambda
API, so the page a browser sees — and every decision it posts — is the handler's own.
"""
from __future__ import annotations

import base64
import json
import re
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlencode, urlsplit

ROUTES = (("GET", re.compile(r"^/approvals/(?P<token>[^/]+)$"), "GET /approvals/{token}"),
          ("POST", re.compile(r"^/approvals/(?P<token>[^/]+)$"), "POST /approvals/{token}"),
          ("POST", re.compile(r"^/slack/actions$"), "POST /slack/actions"))


class ApprovalServer:
    """Start before the runtime (its URL goes into APPROVAL_API_URL), bind the runtime after."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self._aws: Any = None
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:      # noqa: N802 (http.server's naming)
                server._serve(self, "GET")

            def do_POST(self) -> None:     # noqa: N802
                server._serve(self, "POST")

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer((host, port), Handler)
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> str:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="approval-server", daemon=True)
        self._thread.start()
        return self.url

    def bind(self, aws: Any) -> None:
        """The local runtime whose approvals function answers (LocalAws)."""
        self._aws = aws

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    # --- one request -----------------------------------------------------------------------
    def _serve(self, req: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(req.path)
        route = next(((rx.match(parts.path), key) for m, rx, key in ROUTES if m == method and rx.match(parts.path)), None)
        if route is None or self._aws is None:
            self._reply(req, 404 if route is None else 503, {"content-type": "text/plain"},
                        b"not found" if route is None else b"the local runtime is not ready")
            return
        match, route_key = route
        length = int(req.headers.get("content-length") or 0)
        body = req.rfile.read(length) if length else b""
        event = http_api_event(method, parts.path, parts.query, route_key, match.groupdict(),
                               {k.lower(): v for k, v in req.headers.items()}, body, req.client_address[0])
        lam = self._aws.client("lambda")
        resp = lam.invoke(FunctionName=self._aws.function_for("handlers.approvals_api.handler"), Payload=json.dumps(event))
        out = json.loads(resp["Payload"].read())
        if resp.get("FunctionError"):
            self._reply(req, 502, {"content-type": "text/plain"}, f"{out.get('errorType')}: {out.get('errorMessage')}".encode())
            return
        payload = out.get("body") or ""
        data = base64.b64decode(payload) if out.get("isBase64Encoded") else payload.encode()
        self._reply(req, int(out.get("statusCode", 200)), out.get("headers") or {}, data, out.get("cookies") or [])

    @staticmethod
    def _reply(req: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: bytes,
               cookies: list[str] = ()) -> None:
        req.send_response(status)
        for k, v in headers.items():
            if k.lower() not in ("content-length", "connection"):
                req.send_header(k, v)
        for c in cookies:
            req.send_header("Set-Cookie", c)
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        req.wfile.write(body)


def http_api_event(method: str, path: str, query: str, route_key: str, path_parameters: dict[str, str],
                   headers: dict[str, str], body: bytes, source_ip: str) -> dict[str, Any]:
    """An API Gateway HTTP API (payload format 2.0) event, as the deployed API sends it."""
    text_like = headers.get("content-type", "").startswith(("text/", "application/x-www-form-urlencoded", "application/json"))
    try:
        body.decode()
    except UnicodeDecodeError:          # API Gateway base64-encodes a body that is not UTF-8
        text_like = False
    now = time.time()
    return {
        "version": "2.0", "routeKey": route_key, "rawPath": path, "rawQueryString": query,
        "headers": headers, "pathParameters": path_parameters or None,
        "requestContext": {"accountId": "123456789012", "apiId": "local", "domainName": headers.get("host", "localhost"),
                           "domainPrefix": "local", "requestId": f"local-{now:.6f}", "routeKey": route_key,
                           "stage": "$default", "time": datetime.fromtimestamp(now, timezone.utc).strftime("%d/%b/%Y:%H:%M:%S +0000"),
                           "timeEpoch": int(now * 1000),
                           "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": source_ip,
                                    "userAgent": headers.get("user-agent", "")}},
        "body": (body.decode() if text_like or not body else base64.b64encode(body).decode()) if body else None,
        "isBase64Encoded": bool(body) and not text_like,
    }


# --- what a browser does, for the demo ---------------------------------------------------------
def approval_link(base_url: str, approval: dict[str, Any]) -> str:
    """The link the approval request sent (the same signed token: same key, request and expiry)."""
    from ..composition import container
    from ..domain.approval_tokens import sign

    token = sign(container().signing_key(), approval["request_id"], datetime.fromisoformat(approval["expires_at"]))
    return f"{base_url.rstrip('/')}/approvals/{token}"


def submit_decision(link: str, approved: bool, who: str, reason: str = "") -> tuple[int, str]:
    """Open the page (GET), then press Approve or Reject on its form (POST with the page's nonce)."""
    with urllib.request.urlopen(link, timeout=30) as resp:
        page = resp.read().decode()
    found = re.search(r"name='nonce' value='([^']*)'", page)
    if not found:
        raise RuntimeError("the approval page shows no decision form: " + re.sub(r"<[^>]+>", " ", page)[-300:])
    form = urlencode({"nonce": found.group(1), "who": who, "reason": reason,
                      "decision": "approve" if approved else "reject"}).encode()
    request = urllib.request.Request(link, data=form, method="POST",
                                     headers={"content-type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
