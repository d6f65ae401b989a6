"""The approval page on localhost: what API Gateway does in front of the approvals Lambda.

A stdlib HTTP server on 127.0.0.1 turns each browser request into an HTTP API (payload
2.0) event and invokes the real approvals handler through the local runtime's Lambda
API, so the page a browser sees — and every decision it posts — is the handler's own.
"""
from __future__ import annotations

import base64
import hmac
import json
import re
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from pathlib import Path
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlencode, urlsplit

LOCAL_APPROVER = "local-approver"     # the embedded AWS's IAM user that `watchkeeper approve` signs as
ROUTES = (("POST", re.compile(r"^/terminal/decisions$"), "POST /terminal/decisions"),
          ("GET", re.compile(r"^/approvals/(?P<token>[^/]+)$"), "GET /approvals/{token}"),
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
        self._mailbox: LocalMailbox | None = None
        self._state_file: Path | None = None

    def advertise(self, state_dir: Path) -> Path:
        """Tell `watchkeeper approve|reject` in another terminal where this server is and which
        local IAM user's keys to sign with (`approval-server.json`, readable by this user only)."""
        iam = self._aws.client("iam")
        iam.create_user(UserName=LOCAL_APPROVER)
        key = iam.create_access_key(UserName=LOCAL_APPROVER)["AccessKey"]
        state_dir.mkdir(parents=True, exist_ok=True)
        self._state_file = state_dir / "approval-server.json"
        self._state_file.write_text(json.dumps({"url": self.url, "region": self._aws.region,
                                                "access_key_id": key["AccessKeyId"],
                                                "secret_access_key": key["SecretAccessKey"]}))
        self._state_file.chmod(0o600)
        return self._state_file

    def mailbox(self) -> "LocalMailbox":
        """The approvers' local inboxes (created on first use, before any code is sent)."""
        if getattr(self, "_mailbox", None) is None:
            self._mailbox = LocalMailbox(self._aws)
        return self._mailbox

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if getattr(self, "_state_file", None) is not None:
            self._state_file.unlink(missing_ok=True)

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
        headers = {k.lower(): v for k, v in req.headers.items()}
        event = http_api_event(method, parts.path, parts.query, route_key, match.groupdict(), headers, body,
                               req.client_address[0])
        if route_key == "POST /terminal/decisions":        # API Gateway's IAM authorizer
            arn = self._iam_caller(method, f"{self.url}{req.path}", headers, body)
            if arn is None:
                self._reply(req, 403, {"content-type": "application/json"},
                            b'{"message":"The request signature we calculated does not match the signature you provided."}')
                return
            event["requestContext"]["authorizer"] = {"iam": {"userArn": arn, "accountId": self._aws.account}}
        lam = self._aws.client("lambda")
        resp = lam.invoke(FunctionName=self._aws.function_for("handlers.approvals_api.handler"), Payload=json.dumps(event))
        out = json.loads(resp["Payload"].read())
        if resp.get("FunctionError"):
            self._reply(req, 502, {"content-type": "text/plain"}, f"{out.get('errorType')}: {out.get('errorMessage')}".encode())
            return
        payload = out.get("body") or ""
        data = base64.b64decode(payload) if out.get("isBase64Encoded") else payload.encode()
        self._reply(req, int(out.get("statusCode", 200)), out.get("headers") or {}, data, out.get("cookies") or [])

    def _iam_caller(self, method: str, url: str, headers: dict[str, str], body: bytes) -> str | None:
        """What the IAM authorizer does: check the SigV4 signature with the signer's secret key,
        then name the signer (GetCallerIdentity for that key, on the embedded STS)."""
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        found = re.match(r"AWS4-HMAC-SHA256 Credential=([^/]+)/\d{8}/([^/]+)/execute-api/aws4_request, "
                         r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$", headers.get("authorization", ""))
        if not found or "x-amz-date" not in headers:
            return None
        akid, region, signed, given = found.groups()
        try:
            secret = json.loads(self._state_file.read_text())["secret_access_key"] if self._state_file else ""
            if json.loads(self._state_file.read_text())["access_key_id"] != akid:
                return None
        except (OSError, ValueError, KeyError, AttributeError):
            return None
        request = AWSRequest(method=method, url=url, data=body,
                             headers={h: headers.get(h, "") for h in signed.split(";")})
        request.context["timestamp"] = headers["x-amz-date"]
        auth = SigV4Auth(Credentials(akid, secret), "execute-api", region)
        expected = auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)
        if not hmac.compare_digest(expected, given):
            return None
        sts = self._aws.session.client("sts", aws_access_key_id=akid, aws_secret_access_key=secret)
        return sts.get_caller_identity()["Arn"]

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


# --- what an approver's inbox and browser do, for the demo and the browser test -------------------
class LocalMailbox:
    """Each email approver's inbox: an SQS queue subscribed to the approval topic with the same
    filter policy as their email subscription in AWS, so it receives exactly what they would."""

    def __init__(self, aws: Any, approvers: tuple[str, ...] | None = None):
        from ..domain.approval_tokens import approver_ref

        self._sqs = aws.client("sqs")
        topic = aws.env("APPROVAL_TOPIC_ARN")
        approvers = approvers if approvers is not None else tuple(
            a.strip() for a in aws.env("APPROVERS").split(",") if "@" in a)
        self.queues: dict[str, str] = {}
        for address in approvers:
            ref = approver_ref(address)
            url = self._sqs.create_queue(QueueName=f"mailbox-{ref}")["QueueUrl"]
            arn = self._sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            aws.client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, ReturnSubscriptionArn=True,
                                        Attributes={"FilterPolicy": json.dumps({"approver": [ref]}),
                                                    "RawMessageDelivery": "true"})
            self.queues[address.lower()] = url
        self.read: dict[str, list[str]] = {}

    def messages(self, address: str) -> list[str]:
        url = self.queues[address.lower()]
        got = self.read.setdefault(address.lower(), [])
        while True:
            batch = self._sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                return got
            for m in batch:
                got.append(m["Body"])
                self._sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])

    def code_for(self, address: str, timeout: float = 10.0) -> str:
        """The newest one-time code in that inbox."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            codes = [c for body in self.messages(address) for c in re.findall(r"^\s+(\d{6})\s*$", body, re.M)]
            if codes:
                return codes[-1]
            time.sleep(0.05)
        raise RuntimeError(f"no one-time code reached {address}'s inbox")


def approval_link(base_url: str, approval: dict[str, Any], to: str | None = None) -> str:
    """The link the approval request emailed to `to` (default: the first email approver): the
    same signed token (same key, request, approver and expiry)."""
    from ..composition import container
    from ..domain.approval_tokens import email_subject, sign

    c = container()
    to = to or next((a for a in c.cfg.approvers if "@" in a), "oncall@example.com")
    token = sign(c.signing_keys(), approval["request_id"], email_subject(to), datetime.fromisoformat(approval["expires_at"]))
    return f"{base_url.rstrip('/')}/approvals/{token}"


def submit_decision(link: str, approved: bool, mailbox: LocalMailbox, address: str, reason: str = "") -> tuple[int, str]:
    """Open the page (GET), press Approve or Reject (a code is emailed), read the code from the
    approver's inbox and confirm it: what the approver does in a browser."""
    page = _http(link)[1]
    found = re.search(r"name='nonce' value='([^']*)'", page)
    if not found:
        raise RuntimeError("the approval page shows no decision form: " + re.sub(r"<[^>]+>", " ", page)[-300:])
    decision = "approve" if approved else "reject"
    status, page = _http(link, {"nonce": found.group(1), "step": "choose", "decision": decision})
    found = re.search(r"name='nonce' value='([^']*)'", page)
    if status != 200 or not found:
        return status, page
    return _http(link, {"nonce": found.group(1), "step": "confirm", "decision": decision, "reason": reason,
                        "code": mailbox.code_for(address)})


def _http(url: str, form: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, data=urlencode(form).encode() if form is not None else None,
                                     method="POST" if form is not None else "GET",
                                     headers={"content-type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
