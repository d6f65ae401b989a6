"""The approval API under attack: every refused decision gets a clear answer and changes nothing.

The real handler (Powertools resolver) over the real DynamoDB adapter on moto (single use is
a conditional write), a recording Step Functions fake, and slack_sdk's own WebClient talking
to a local fake of the Slack Web API — no network.
"""
from __future__ import annotations

import json
import re
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlencode

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

from botocore.exceptions import EndpointConnectionError

from watchkeeper.adapters.dynamodb_approvals import DynamoDBApprovalStore
from watchkeeper.adapters.slack import SlackNotifier, request_blocks
from watchkeeper.approvals import SLACK_CHANNEL_SUBJECT, ApprovalChannels, ApprovalNotice, ApprovalService
from watchkeeper.composition import container
from watchkeeper.domain.approval_tokens import email_subject, sign, slack_subject
from watchkeeper.handlers import approvals_api
from watchkeeper.local.approval_server import http_api_event
from watchkeeper.local.runtime import LambdaContext

from .fakes import FakeAudit

KEY = b"k" * 32
SLACK_SECRET = "slack-signing-secret"
APPROVERS = ("oncall@example.com", "sre2@example.com", "U0123ABCD")
APPROVER_ARNS = ("arn:aws:iam::123456789012:role/oncall-approver",)
CTX = LambdaContext(function_name="approvals")
SUMMARY = {
    "incident_id": "inc-web-1", "service": "storefront-bff", "title": "storefront-bff: resource (3 alerts)",
    "severity": "high", "category": "resource",
    "root_cause": {"kind": "bad_deploy", "culprit": "deploy-storefront-bff-357", "confidence": 0.87,
                   "summary": "The deploy deploy-storefront-bff-357 is the likely cause."},
    "actions": ["rollback_deployment on eks/prod-eks/shop/storefront-bff"],
    "evidence": [{"type": "change", "ref": "deploy-storefront-bff-357",
                  "detail": "deploy of storefront-bff rev 356 -> 357 by vik 4 min before onset"},
                 {"type": "log_template", "ref": "storefront-bff:c16", "detail": "WARN heap usage high x20 (0 before onset)"}],
    "proposed": [{"id": "a1", "type": "rollback_deployment", "target": "eks/prod-eks/shop/storefront-bff",
                  "reason": "Roll back the deployment that broke the service",
                  "api_call": "PATCH /apis/apps/v1/namespaces/shop/deployments/storefront-bff?dryRun=All",
                  "diff": "- image: storefront-bff:357\n+ image: storefront-bff:356"}],
}


def throttled(op: str = "SendTaskSuccess") -> ClientError:
    return ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, op)


class FakeSfn:
    """Step Functions' task-token calls, recorded; `timed_out` makes them fail as AWS does, and
    `failures` are raised by the next SendTaskSuccess calls, in order (throttling, network)."""

    def __init__(self):
        self.successes: list[tuple[str, dict]] = []
        self.heartbeats: list[str] = []
        self.timed_out = False
        self.failures: list[Exception] = []

    def send_task_success(self, taskToken, output):
        if self.timed_out:
            raise ClientError({"Error": {"Code": "TaskTimedOut", "Message": "Task Timed Out"}}, "SendTaskSuccess")
        if self.failures:
            raise self.failures.pop(0)
        self.successes.append((taskToken, json.loads(output)))

    def send_task_heartbeat(self, taskToken):
        if self.timed_out:
            raise ClientError({"Error": {"Code": "TaskTimedOut", "Message": "Task Timed Out"}}, "SendTaskHeartbeat")
        self.heartbeats.append(taskToken)


class Mailbox:
    """The email channel: what each approver's inbox receives (the SNS filter delivers it to them alone)."""

    def __init__(self):
        self.sent: list[tuple[str, str, str]] = []

    def request(self, incident, address, text, url, title=None):
        self.sent.append((address, "request", url or ""))

    def send_code(self, address, subject, body):
        self.sent.append((address, subject, body))

    def code_for(self, address: str) -> str:
        return re.findall(r"\b(\d{6})\b", [b for a, s, b in self.sent if a == address and "code" in s][-1])[-1]


class FakeSlackApi:
    """The two Slack Web API methods used, on localhost, for slack_sdk's real WebClient."""

    def __init__(self):
        self.calls: list[tuple[str, dict]] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length") or 0)).decode()
                args = json.loads(body) if self.headers.get("content-type", "").startswith("application/json") else {}
                api.calls.append((self.path.rsplit("/", 1)[-1], args))
                out = json.dumps({"ok": True, "channel": "C0INCIDENTS", "ts": f"1700000000.{len(api.calls):06d}"}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def client(self) -> WebClient:
        host, port = self.httpd.server_address[:2]
        return WebClient(token="xoxb-test", base_url=f"http://{host}:{port}/api/")


@pytest.fixture
def slack_api():
    api = FakeSlackApi()
    yield api
    api.httpd.shutdown()
    api.httpd.server_close()


@pytest.fixture
def world(monkeypatch, slack_api):
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        ddb.create_table(TableName="state", BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                               {"AttributeName": "sk", "AttributeType": "S"}])
        store = DynamoDBApprovalStore("state", ddb)
        slack = SlackNotifier(slack_api.client(), "#incidents")
        service = ApprovalService(store, FakeAudit(), FakeSfn(), KEY, APPROVERS,
                                  ApprovalChannels(email=Mailbox(), slack=slack), approver_arns=APPROVER_ARNS,
                                  sleep=lambda s: None)
        c = container()
        monkeypatch.setattr(c, "_approvals", service, raising=False)
        monkeypatch.setattr(c, "_slack_signing", (SLACK_SECRET,), raising=False)
        yield service


def pending(service: ApprovalService, request_id: str = "req-1", expires_in: int = 600, thread: str | None = None,
            to: str = "oncall@example.com") -> str:
    """A pending request and the link emailed to `to` (an email address; a Slack user id gives
    the page link Slack shows that user)."""
    expires = datetime.now(timezone.utc) + timedelta(seconds=expires_in)
    service.store.save_pending(request_id, "inc-web-1", f"task-token-{request_id}", expires, SUMMARY)
    if thread:
        service.store.save_approval_thread(request_id, "inc-web-1", thread)
    subject = email_subject(to) if "@" in to else slack_subject(to)
    return sign(KEY, request_id, subject, expires)


def buttons(request_id: str = "req-1", expires_in: int = 600) -> str:
    """The token the Slack buttons carry: names the request, proves nobody."""
    return sign(KEY, request_id, SLACK_CHANNEL_SUBJECT, datetime.now(timezone.utc) + timedelta(seconds=expires_in))


def call(method: str, path: str, body: str | bytes = "", headers: dict | None = None, ip: str = "198.51.100.7",
         iam_arn: str | None = None) -> dict:
    if path in ("/slack/actions", "/terminal/decisions"):
        route, params = f"POST {path}", {}
    else:
        route, params = f"{method} /approvals/{{token}}", {"token": path.rsplit("/", 1)[-1]}
    hdrs = {"content-type": "application/x-www-form-urlencoded", **(headers or {})}
    event = http_api_event(method, path, "", route, params, hdrs, body if isinstance(body, bytes) else body.encode(), ip)
    if iam_arn:
        event["requestContext"]["authorizer"] = {"iam": {"userArn": iam_arn, "accountId": "123456789012"}}
    return approvals_api.handler(event, CTX)


def open_page(token: str) -> tuple[dict, str]:
    resp = call("GET", f"/approvals/{token}")
    nonce = re.search(r"name='nonce' value='([^']*)'", resp["body"])
    return resp, nonce.group(1) if nonce else ""


def choose(token: str, decision: str = "approve", nonce: str | None = None) -> dict:
    fields = {"decision": decision, "step": "choose", **({"nonce": nonce} if nonce is not None else {})}
    return call("POST", f"/approvals/{token}", urlencode(fields))


def confirm(token: str, code: str, decision: str = "approve", nonce: str = "", reason: str = "") -> dict:
    return call("POST", f"/approvals/{token}", urlencode({"decision": decision, "step": "confirm", "code": code,
                                                          "nonce": nonce, "reason": reason}))


def decide_by_email(service: ApprovalService, token: str, decision: str = "approve", to: str = "oncall@example.com",
                    reason: str = "") -> dict:
    """What the approver does: open their link, press a button, type the code from their inbox."""
    _, nonce = open_page(token)
    code_page = choose(token, decision, nonce)
    assert code_page["statusCode"] == 200, text_of(code_page)
    code_nonce = re.search(r"name='nonce' value='([^']*)'", code_page["body"]).group(1)
    return confirm(token, service.channels.email.code_for(to), decision, code_nonce, reason)


def nothing_changed(service: ApprovalService, request_id: str = "req-1") -> bool:
    return not service.sfn.successes and service.store.get_approval(request_id)["status"] == "pending"


def text_of(resp: dict) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", resp["body"]))


# --- the good path: email link + one-time code ---------------------------------------------------
def test_the_page_shows_what_will_happen_and_why_and_a_get_never_decides_nor_heartbeats(world):
    token = pending(world)
    for _ in range(3):                                   # a mail scanner pre-fetching the link, then the human
        resp, nonce = open_page(token)
    assert resp["statusCode"] == 200 and nonce
    page = text_of(resp)
    for expected in ("storefront-bff", "bad_deploy", "deploy-storefront-bff-357", "rollback_deployment",
                     "eks/prod-eks/shop/storefront-bff", "dryRun=All", "+ image: storefront-bff:356",
                     "4 min before onset", "heap usage high", "o•••l@example.com"):
        assert expected in page, expected
    assert "<form" in resp["body"] and "name='who'" not in resp["body"]             # the page never asks who you are
    assert resp["headers"]["Cache-Control"] == "no-store" and resp["headers"]["Referrer-Policy"] == "no-referrer"
    assert "task-token" not in resp["body"]
    assert nothing_changed(world) and not world.sfn.heartbeats                      # a view keeps nothing alive
    assert not world.channels.email.sent                                             # nor sends anything


def test_approving_needs_the_code_sent_to_that_approver_and_resumes_the_workflow_once(world, slack_api):
    token = pending(world, thread="1700000000.000001")
    resp = decide_by_email(world, token, reason="rollback looks right")
    assert resp["statusCode"] == 200 and "Remediation approved" in text_of(resp)
    ((address, subject, body),) = world.channels.email.sent
    assert address == "oncall@example.com" and "approve" in subject and "do not share" in body
    ((task_token, output),) = world.sfn.successes
    assert task_token == "task-token-req-1" and output["approved"] is True and output["channel"] == "web"
    assert output["decided_by"] == "oncall@example.com"
    stored = world.store.get_approval("req-1")
    assert (stored["status"], stored["decided_by"], stored["channel"], stored["source_ip"]) == \
        ("approved", "oncall@example.com", "web", "198.51.100.7")
    decision = world.audit.records("inc-web-1")[-1]
    assert decision.actor == "oncall@example.com" and "approved by oncall@example.com via web" in decision.summary
    assert "the workflow resumed" in decision.summary and "rollback looks right" in decision.summary
    (method, args), = [c for c in slack_api.calls if c[0] == "chat.postMessage"]
    assert args["thread_ts"] == "1700000000.000001" and "Approved" in args["text"]


def test_rejecting_resumes_with_approved_false(world):
    token = pending(world)
    assert decide_by_email(world, token, "reject")["statusCode"] == 200
    assert world.sfn.successes[0][1]["approved"] is False and world.store.get_approval("req-1")["status"] == "rejected"


# --- identity attacks ---------------------------------------------------------------------------------
def test_a_forwarded_link_cannot_decide_without_the_code_from_the_approvers_inbox(world):
    token = pending(world)                          # oncall@ forwards the email; mallory opens it
    _, nonce = open_page(token)
    code_page = choose(token, "approve", nonce)
    code_nonce = re.search(r"name='nonce' value='([^']*)'", code_page["body"]).group(1)
    assert [a for a, _, _ in world.channels.email.sent] == ["oncall@example.com"]   # the code went to oncall only
    for guess in ("000000", "123456", "999999", "12345", "abcdef", "１２３４５６", "1234567"):
        resp = confirm(token, guess, "approve", code_nonce)
        assert resp["statusCode"] in (403,) and "Code not valid" in text_of(resp)
    real = world.channels.email.code_for("oncall@example.com")
    resp = confirm(token, real, "approve", code_nonce)       # five guesses used the code up: even the real one fails
    assert resp["statusCode"] == 403
    assert nothing_changed(world)


def test_a_code_chosen_for_reject_cannot_approve_and_a_used_code_cannot_decide_again(world):
    token = pending(world)
    _, nonce = open_page(token)
    page = choose(token, "reject", nonce)
    code_nonce = re.search(r"name='nonce' value='([^']*)'", page["body"]).group(1)
    code = world.channels.email.code_for("oncall@example.com")
    assert confirm(token, code, "approve", code_nonce)["statusCode"] == 400       # the nonce is bound to reject
    assert nothing_changed(world)
    assert confirm(token, code, "reject", code_nonce)["statusCode"] == 200
    assert confirm(token, code, "reject", code_nonce)["statusCode"] == 409
    assert len(world.sfn.successes) == 1


def test_impersonation_one_approvers_link_cannot_decide_as_another(world):
    mine = pending(world, to="sre2@example.com")
    _, nonce = open_page(mine)
    forged = mine.replace(email_subject("sre2@example.com"), email_subject("oncall@example.com"))
    assert open_page(forged)[0]["statusCode"] == 403
    assert choose(forged, "approve", nonce)["statusCode"] == 403
    # and a POST naming someone else changes nothing: the page has no "who" field to lie in
    resp = call("POST", f"/approvals/{mine}", urlencode({"decision": "approve", "step": "choose", "nonce": nonce,
                                                          "who": "oncall@example.com"}))
    assert resp["statusCode"] == 200 and [a for a, _, _ in world.channels.email.sent] == ["sre2@example.com"]
    assert nothing_changed(world)


def test_a_link_for_someone_removed_from_the_list_is_refused(world):
    token = pending(world, to="former@example.com")
    assert open_page(token)[0]["statusCode"] == 403
    assert nothing_changed(world)


def test_codes_are_rate_limited(world):
    token = pending(world)
    _, nonce = open_page(token)
    assert choose(token, "approve", nonce)["statusCode"] == 200
    again = choose(token, "approve", nonce)            # the code sent a moment ago still works: no second email
    assert again["statusCode"] == 200 and "name='code'" in again["body"] and len(world.channels.email.sent) == 1
    other = choose(token, "reject", nonce)             # a different choice must wait
    assert other["statusCode"] == 429 and len(world.channels.email.sent) == 1


def test_a_blind_post_without_the_pages_nonce_is_refused(world):
    token = pending(world)
    for nonce in (None, "", "1700000000.forged", "²³.x", "é" * 300, open_page(pending(world, "req-2"))[1]):
        resp = choose(token, nonce=nonce)
        assert resp["statusCode"] == 400 and "did not come from the approval page" in text_of(resp)
    assert nothing_changed(world) and not world.channels.email.sent


def test_an_unknown_decision_value_is_refused(world):
    token = pending(world)
    _, nonce = open_page(token)
    assert choose(token, "yes-please", nonce)["statusCode"] == 400
    assert nothing_changed(world)


def test_an_expired_link_is_refused(world):
    token = pending(world, expires_in=-5)
    resp, nonce = open_page(token)
    assert resp["statusCode"] == 410 and "expired" in text_of(resp) and not nonce
    assert choose(token, nonce="")["statusCode"] == 410
    assert nothing_changed(world) and not world.sfn.heartbeats


@pytest.mark.parametrize("forge", [
    lambda t: sign(b"attacker-key" * 3, "req-1", email_subject("oncall@example.com"),
                   datetime.now(timezone.utc) + timedelta(hours=1)),                              # forged
    lambda t: t.replace("req-1", "req-2"),                                                        # other request
    lambda t: ".".join([*t.split(".")[:2], str(int(t.split(".")[2]) + 86400), t.split(".")[3]]),  # longer expiry
    lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),                                   # bit flip
    lambda t: "not-a-token",
    lambda t: t[:-4] + "é\u0000ß",                                                               # non-ASCII signature
    lambda t: t.replace(t.split(".")[2], "²³⁴"),                                                 # non-ASCII digits
    lambda t: t + "A" * 4000,
    lambda t: buttons(),                                                                          # the Slack buttons' token
])
def test_a_forged_or_tampered_link_is_refused_never_a_500(world, forge):
    token = pending(world)
    pending(world, "req-2")
    bad = forge(token)
    resp, _ = open_page(bad)
    assert resp["statusCode"] in (403, 404) and "task-token" not in resp["body"]    # 404: no route matches NUL
    assert resp["statusCode"] == 404 or "Approval link not valid" in text_of(resp)
    assert choose(bad, nonce=open_page(token)[1])["statusCode"] in (403, 404)
    assert nothing_changed(world) and nothing_changed(world, "req-2")


def test_a_link_to_an_unknown_request_is_refused(world):
    token = sign(KEY, "req-never-stored", email_subject("oncall@example.com"), datetime.now(timezone.utc) + timedelta(minutes=5))
    resp, _ = open_page(token)
    assert resp["statusCode"] == 404 and "does not exist" in text_of(resp)
    assert choose(token, nonce="")["statusCode"] == 404
    assert not world.sfn.successes


@pytest.mark.parametrize("body", [b"\xff\xfe\x00garbage", "decision=approve&nonce=" + "é" * 20, b"a" * (17 * 1024),
                                  "decision=approve&" * 50])
def test_odd_or_oversized_bodies_are_4xx(world, body):
    token = pending(world)
    resp = call("POST", f"/approvals/{token}", body)
    assert 400 <= resp["statusCode"] < 500
    assert nothing_changed(world)


def test_a_decision_on_an_incident_already_decided_is_refused(world):
    token = pending(world)
    decide_by_email(world, token, "reject")
    resp, nonce_after = open_page(token)
    assert resp["statusCode"] == 409 and "already decided: rejected by oncall@example.com" in text_of(resp)
    assert not nonce_after                                               # no form to press any more
    other = sign(KEY, "req-1", email_subject("sre2@example.com"), datetime.now(timezone.utc) + timedelta(minutes=5))
    assert open_page(other)[0]["statusCode"] == 409                      # for every approver
    assert [o["approved"] for _, o in world.sfn.successes] == [False]


# --- decision and workflow agree ------------------------------------------------------------------
def test_a_decision_after_the_workflow_timed_out_changes_nothing(world):
    token = pending(world)
    _, nonce = open_page(token)
    page = choose(token, "approve", nonce)
    code_nonce = re.search(r"name='nonce' value='([^']*)'", page["body"]).group(1)
    world.sfn.timed_out = True
    resp = confirm(token, world.channels.email.code_for("oncall@example.com"), "approve", code_nonce)
    assert resp["statusCode"] == 410 and "timed out and was escalated" in text_of(resp)
    assert world.store.get_approval("req-1")["status"] == "timed_out"
    assert "stopped waiting" in world.audit.records("inc-web-1")[-1].summary


def test_a_throttled_callback_is_retried_until_it_lands(world):
    token = pending(world)
    world.sfn.failures = [throttled(), EndpointConnectionError(endpoint_url="https://states.us-east-1.amazonaws.com")]
    resp = decide_by_email(world, token)
    assert resp["statusCode"] == 200 and len(world.sfn.successes) == 1
    assert world.store.get_approval("req-1")["status"] == "approved"


def test_a_callback_that_never_lands_leaves_the_request_pending_and_the_approver_is_told(world):
    token = pending(world)
    world.sfn.failures = [throttled()] * 3
    resp = decide_by_email(world, token)
    assert resp["statusCode"] == 503 and "still pending" in text_of(resp) and "ThrottlingException" in text_of(resp)
    assert nothing_changed(world)                                      # pending again, the workflow still waits
    trail = [r.summary for r in world.audit.records("inc-web-1") if r.kind == "decision"]
    assert not any("approved by" in t for t in trail)                  # the trail never says "approved"
    assert "could not be delivered" in trail[-1]
    # the same code tries again, and this time it lands
    world.sfn.failures = []                                             # the same code tries again, and lands
    page = choose(token, "approve", open_page(token)[1])
    code_nonce = re.search(r"name='nonce' value='([^']*)'", page["body"]).group(1)
    assert confirm(token, world.channels.email.code_for("oncall@example.com"), "approve", code_nonce)["statusCode"] == 200
    assert len(world.channels.email.sent) == 1 and world.store.get_approval("req-1")["status"] == "approved"


def test_a_click_while_another_decision_is_being_delivered_changes_nothing(world):
    pending(world)
    now = datetime.now(timezone.utc)
    assert world.store.claim_approval("req-1", "other-claim", "oncall@example.com", "web", now, 60)
    body = json.loads(slack_click(buttons(), action="reject")["body"])
    assert body["ok"] is False and "being handed to the workflow" in body["text"]
    assert not world.sfn.successes
    # a claim whose invocation died is taken over after a minute
    assert world.store.claim_approval("req-1", "late", "U0123ABCD", "slack", now + timedelta(seconds=61), 60)


# --- Slack ------------------------------------------------------------------------------------------
def slack_click(token: str, user: str = "U0123ABCD", action: str = "approve", secret: str = SLACK_SECRET,
                age: int = 0, signature: str | None = None, body: str | None = None) -> dict:
    payload = {"type": "block_actions", "user": {"id": user}, "response_url": "https://hooks.slack.test/x",
               "channel": {"id": "C0INCIDENTS"},
               "container": {"type": "message", "message_ts": "1700000000.000001"},
               "actions": [{"action_id": action, "value": token, "type": "button"}]}
    body = body if body is not None else urlencode({"payload": json.dumps(payload)})
    ts = str(int(time.time()) - age)
    signature = signature if signature is not None else SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    return call("POST", "/slack/actions", body, {"x-slack-request-timestamp": ts, "x-slack-signature": signature})


def test_a_slack_click_from_an_approver_decides_and_only_they_are_told(world, slack_api):
    pending(world)
    resp = slack_click(buttons())
    assert resp["statusCode"] == 200 and json.loads(resp["body"])["ok"] is True
    ((_, output),) = world.sfn.successes
    assert output["decided_by"] == "U0123ABCD" and output["channel"] == "slack"
    assert world.audit.records("inc-web-1")[-1].detail["channel"] == "slack"
    (method, args), = [c for c in slack_api.calls if c[0] == "chat.postEphemeral"]
    assert args["user"] == "U0123ABCD" and args["channel"] == "C0INCIDENTS"


def test_open_approval_page_answers_with_a_link_for_that_user_alone_which_only_shows(world, slack_api):
    pending(world)
    resp = slack_click(buttons(), action="open_page")
    assert json.loads(resp["body"])["ok"] is True
    (_, args), = [c for c in slack_api.calls if c[0] == "chat.postEphemeral"]
    assert args["user"] == "U0123ABCD"
    link = re.search(r"<(\S+?)\|Open the approval page>", args["text"]).group(1)
    page = call("GET", "/" + link.split("/", 3)[-1])
    assert page["statusCode"] == 200 and "Decide with the Approve / Reject buttons in the Slack message" in text_of(page)
    assert "<form" not in page["body"]
    assert choose(link.rsplit("/", 1)[-1], nonce=open_page(link.rsplit("/", 1)[-1])[1])["statusCode"] == 403
    assert nothing_changed(world)


def test_a_slack_member_not_on_the_list_gets_no_page_link_and_cannot_decide(world, slack_api):
    pending(world)
    for action in ("open_page", "approve"):
        body = json.loads(slack_click(buttons(), user="U0EVE", action=action)["body"])
        assert body["ok"] is False and "not on the approvers list" in body["text"]
    assert "/approvals/" not in json.dumps(slack_api.calls)
    assert nothing_changed(world)


@pytest.mark.parametrize("attack,kwargs", [
    ("bad signature", {"secret": "not-the-secret"}),
    ("stale timestamp", {"age": 6 * 60}),
    ("non-ASCII signature", {"signature": "v0=é" + "ü" * 63}),
    ("NUL and surrogate bytes", {"signature": "v0=\x00\udcff"}),
    ("empty signature", {"signature": ""}),
])
def test_a_slack_request_with_a_bad_signature_or_a_stale_timestamp_is_refused(world, attack, kwargs):
    pending(world)
    resp = slack_click(buttons(), **kwargs)
    assert resp["statusCode"] == 401, attack
    assert json.loads(resp["body"])["ok"] is False
    assert nothing_changed(world)


@pytest.mark.parametrize("ts", ["²", "١٧٠٠٠٠٠٠٠٠", "9" * 40, "-1", " "])
def test_a_slack_request_with_an_odd_timestamp_is_refused(world, ts):
    pending(world)
    body = urlencode({"payload": "{}"})
    resp = call("POST", "/slack/actions", body, {"x-slack-request-timestamp": ts, "x-slack-signature": "v0=00"})
    assert resp["statusCode"] == 401 and nothing_changed(world)


def test_a_slack_request_signed_with_the_webhook_secret_is_refused(world, monkeypatch):
    """No fallback: Grafana's and Datadog's secret cannot sign Slack clicks."""
    pending(world)
    assert slack_click(buttons(), secret="shared-webhook-secret")["statusCode"] == 401
    assert nothing_changed(world)


def test_a_slack_request_without_signature_headers_is_refused(world):
    pending(world)
    body = urlencode({"payload": json.dumps({"type": "block_actions", "user": {"id": "U0123ABCD"},
                                             "actions": [{"action_id": "approve", "value": buttons()}]})})
    assert call("POST", "/slack/actions", body)["statusCode"] == 401
    assert nothing_changed(world)


def test_a_replayed_slack_click_is_refused(world):
    pending(world)
    assert json.loads(slack_click(buttons())["body"])["ok"] is True
    again = json.loads(slack_click(buttons(), action="reject")["body"])
    assert again["ok"] is False and "already decided" in again["text"]
    assert len(world.sfn.successes) == 1


def test_a_signed_but_malformed_slack_payload_is_refused(world):
    pending(world)
    for body in ("payload=%7B%22type%22%3A1%7D", "payload=[]", "nothing", "payload=" + "é" * 10):
        assert slack_click(buttons(), body=body)["statusCode"] == 401
    assert nothing_changed(world)


# --- terminal -------------------------------------------------------------------------------------
def test_the_terminal_decides_as_the_iam_caller_on_the_approver_list(world):
    pending(world)
    body = json.dumps({"incident_id": "inc-web-1", "decision": "approve", "reason": "ok from laptop"})
    resp = call("POST", "/terminal/decisions", body, iam_arn="arn:aws:sts::123456789012:assumed-role/oncall-approver/jo")
    assert resp["statusCode"] == 200, resp["body"]
    ((_, output),) = world.sfn.successes
    assert output["channel"] == "terminal" and output["decided_by"].endswith("assumed-role/oncall-approver/jo")


@pytest.mark.parametrize("arn", [None, "arn:aws:iam::123456789012:user/mallory",
                                 "arn:aws:sts::999999999999:assumed-role/oncall-approver/x"])
def test_the_terminal_refuses_anyone_else(world, arn):
    pending(world)
    body = json.dumps({"incident_id": "inc-web-1", "decision": "approve"})
    resp = call("POST", "/terminal/decisions", body, iam_arn=arn)
    assert resp["statusCode"] == 403 and nothing_changed(world)


# --- what Slack shows cannot be turned against its readers ----------------------------------------
def test_mrkdwn_injection_from_titles_logs_the_model_and_reasons_is_escaped(slack_api):
    evil = dict(SUMMARY, title="<!channel> db down <https://evil.example|Open approval page>",
                root_cause={**SUMMARY["root_cause"], "summary": "<@U0ADMIN> & <!here> see ```` `x`"},
                evidence=[{"type": "log", "ref": "", "detail": "<https://evil.example/login|Reset your password>"}])
    notice = ApprovalNotice("req-1", evil, buttons(), None, datetime(2026, 9, 20, 21, 30, tzinfo=timezone.utc))
    blocks = json.dumps(request_blocks(notice))
    for bad in ("<!channel>", "<!here>", "<@U0ADMIN>", "<https://evil.example"):
        assert bad not in blocks
    assert "&lt;!channel&gt;" in blocks and "&lt;https://evil.example|Open approval page&gt;" in blocks
    notifier = SlackNotifier(slack_api.client(), "#incidents")
    notifier.request(notice)
    notifier.update_thread("1.2", "rejected: <!channel> <https://evil|click>")
    sent = json.dumps([args for _, args in slack_api.calls])
    assert "<!channel>" not in sent and "<https://evil" not in sent


# --- the Slack message and its thread -------------------------------------------------------------
def test_the_slack_request_is_block_kit_with_the_action_its_dry_run_and_two_guarded_buttons(slack_api):
    expires = datetime(2026, 9, 20, 21, 30, tzinfo=timezone.utc)
    notice = ApprovalNotice("req-1", SUMMARY, "TOKEN.123.sig", "https://api.example.com/approvals/TOKEN.123.sig", expires)
    notifier = SlackNotifier(slack_api.client(), "#incidents")
    ts = notifier.request(notice)
    notifier.update_thread(ts, "rollback_deployment: executed")
    (m1, posted), (m2, update) = slack_api.calls
    assert m1 == m2 == "chat.postMessage" and ts == "1700000000.000001"
    assert posted["channel"] == "#incidents" and "deploy-storefront-bff-357" in posted["text"]
    assert posted["blocks"] == request_blocks(notice)
    kinds = [b["type"] for b in posted["blocks"]]
    assert kinds[0] == "header" and kinds[-1] == "actions"
    text = json.dumps(posted["blocks"])
    for expected in ("bad_deploy", "4 min before onset", "rollback_deployment", "dryRun=All", "storefront-bff:356"):
        assert expected in text
    approve, reject, page = posted["blocks"][-1]["elements"]
    assert "deploy-storefront-bff-357" in posted["text"]
    assert (approve["action_id"], approve["style"], approve["value"]) == ("approve", "primary", "TOKEN.123.sig")
    assert (reject["action_id"], reject["style"], reject["value"]) == ("reject", "danger", "TOKEN.123.sig")
    assert approve["confirm"] and reject["confirm"]
    assert page["action_id"] == "open_page" and "url" not in page       # no link the whole channel can use
    assert "Blast radius" not in text or "Undo" in text
    assert all(len(b["text"]["text"]) <= 3000 for b in posted["blocks"] if b["type"] == "section")
    assert update == {"channel": "#incidents", "thread_ts": ts, "text": "rollback_deployment: executed",
                      "unfurl_links": False, "unfurl_media": False}


def test_without_a_slack_token_the_notifier_only_logs(caplog):
    caplog.set_level("INFO")
    notice = ApprovalNotice("req-1", SUMMARY, "T", None, datetime.now(timezone.utc))
    notifier = SlackNotifier(None, "#incidents")
    assert notifier.request(notice) is None
    notifier.update_thread("1.2", "anything")
    assert "not posted" in caplog.text


def test_the_request_and_every_later_update_share_one_slack_thread(world, slack_api):
    from watchkeeper.domain.evidence import EvidenceGatherer
    from watchkeeper.models import Action, ExecutionResult, Incident, RemediationPlan, RootCause, ServiceCatalog
    from watchkeeper.steps import Steps

    from .fakes import FakeAlarms, FakeChanges, FakeExecutor, FakeKillSwitch, FakeLogs, FakeMetrics, FakePager, FakeReports

    now = datetime.now(timezone.utc)
    incident = Incident(id="inc-web-1", service="storefront-bff", opened_at=now, last_alert_at=now, title="storefront-bff: resource")
    world.store.save(incident)
    cause = RootCause(kind="bad_deploy", culprit="deploy-storefront-bff-357", confidence=0.87, summary="the deploy")
    plan = RemediationPlan(decision="approve", actions=[Action(id="a1", type="rollback_deployment",
                                                               target="eks/prod-eks/shop/storefront-bff")])
    executor = FakeExecutor()
    steps = Steps(catalog=ServiceCatalog(), store=world.store, audit=world.audit, executor=executor,
                  gatherer=EvidenceGatherer(ServiceCatalog(), FakeLogs(), FakeMetrics(), FakeChanges()),
                  pager=FakePager(), reports=FakeReports(), alarms=FakeAlarms(), kill_switch=FakeKillSwitch(),
                  approvals=world.store, notifier=world.channels, signing_key=KEY, approval_url="https://api.example.com")
    request_id = steps.request_approval("task-token-x", incident, cause, plan)
    ((_, posted),) = slack_api.calls
    assert executor.calls == [("rollback_deployment", "eks/prod-eks/shop/storefront-bff", True)]   # the preview
    assert "rollback_deployment eks/prod-eks/shop/storefront-bff" in json.dumps(posted["blocks"])
    stored = world.store.get_approval(request_id)
    assert stored["slack_ts"] == "1700000000.000001" and "task-token" not in json.dumps(posted)
    execution = ExecutionResult(status="executed", results=[executor.execute(plan.actions[0], dry_run=False)])
    state = {"incident_id": incident.id, "incident": incident.model_dump(mode="json"),
             "diagnosis": cause.model_dump(mode="json"), "plan": plan.model_dump(mode="json"),
             "approval": {"approved": True, "decided_by": "oncall@example.com"},
             "execution": execution.model_dump(mode="json"),
             "verification": {"status": "recovered", "attempts": 2, "checks": []}}
    ref = steps.report(state)
    (_, update) = slack_api.calls[-1]
    assert update["thread_ts"] == "1700000000.000001"
    assert "rollback_deployment" in update["text"] and "executed" in update["text"]
    assert "recovered" in update["text"] and ref.url in update["text"]     # the report page people open


def test_a_request_nobody_answered_is_closed_when_the_incident_is_reported(world):
    from watchkeeper.steps import Steps

    pending(world)
    steps = Steps(catalog=None, store=world.store, audit=world.audit, gatherer=None, executor=None, pager=None,
                  reports=None, alarms=None, kill_switch=None, approvals=world.store, notifier=world.channels)
    steps.update_thread("inc-web-1", "paged on-call: the approval request timed out", close_pending=True)
    assert world.store.get_approval("req-1")["status"] == "timed_out"
    resp, nonce = open_page(sign(KEY, "req-1", email_subject("oncall@example.com"),
                                 datetime.now(timezone.utc) + timedelta(minutes=5)))
    assert resp["statusCode"] == 409 and "timed out and was escalated" in text_of(resp) and not nonce


def test_what_leaves_for_people_is_redacted_on_every_channel(world, slack_api):
    """A log sample with a password, a token and a customer's email reaches Slack, the approvers'
    emails and the approval page only redacted."""
    from watchkeeper.domain.evidence import EvidenceGatherer
    from watchkeeper.models import Action, Incident, RemediationPlan, RootCause, ServiceCatalog
    from watchkeeper.steps import Steps

    from .fakes import FakeAlarms, FakeChanges, FakeExecutor, FakeKillSwitch, FakeLogs, FakeMetrics, FakePager, FakeReports

    leak = "DB_PASSWORD=hunter2 sk_live_4eC39HqLyjWDarjtT1zdp7dc jane.doe@example.com"
    now = datetime.now(timezone.utc)
    incident = Incident(id="inc-web-1", service="storefront-bff", opened_at=now, last_alert_at=now,
                        title=f"storefront-bff: {leak} <!channel>")
    world.store.save(incident)
    cause = RootCause(kind="bad_deploy", confidence=0.9, summary=f"model says: {leak}")
    plan = RemediationPlan(decision="approve", actions=[Action(id="a1", type="rollback_deployment",
                                                               target="eks/prod-eks/shop/storefront-bff")])
    steps = Steps(catalog=ServiceCatalog(), store=world.store, audit=world.audit, executor=FakeExecutor(),
                  gatherer=EvidenceGatherer(ServiceCatalog(), FakeLogs(), FakeMetrics(), FakeChanges()),
                  pager=FakePager(), reports=FakeReports(), alarms=FakeAlarms(), kill_switch=FakeKillSwitch(),
                  approvals=world.store, notifier=world.channels, signing_key=KEY, approval_url="https://api.example.com",
                  approvers=APPROVERS, region="us-east-1")
    request_id = steps.request_approval("task-token-x", incident, cause, plan, execution_arn="arn:aws:states:x")
    link = [u for a, kind, u in world.channels.email.sent if kind == "request"]
    assert sorted(a for a, _, _ in world.channels.email.sent) == ["oncall@example.com", "sre2@example.com"]
    assert len(set(link)) == 2                                                  # one link per approver
    page = call("GET", "/" + link[0].split("/", 3)[-1])
    everything = json.dumps(slack_api.calls) + json.dumps(world.channels.email.sent) + page["body"] \
        + json.dumps(world.store.get_approval(request_id)["summary"])
    for secret in ("hunter2", "sk_live_4eC39HqLyjWDarjtT1zdp7dc", "jane.doe@example.com"):
        assert secret not in everything, secret
    assert "<!channel>" not in json.dumps(slack_api.calls) + page["body"]        # escaped where it is markup
    assert "DB_PASSWORD=&lt;REDACTED&gt;" in json.dumps(slack_api.calls) and "Step Functions execution" in page["body"]


def test_a_root_cause_correction_rides_on_the_code_proven_decision(world):
    token = pending(world)
    _, nonce = open_page(token)
    page = choose(token, "approve", nonce)
    assert "name='root_cause'" in page["body"]                           # the control sits with the code
    code_nonce = re.search(r"name='nonce' value='([^']*)'", page["body"]).group(1)
    resp = call("POST", f"/approvals/{token}", urlencode({
        "decision": "approve", "step": "confirm", "nonce": code_nonce, "root_cause": "config_change",
        "code": world.channels.email.code_for("oncall@example.com")}))
    assert resp["statusCode"] == 200 and "Root cause corrected to config_change" in text_of(resp)
    (record,) = [r for r in world.audit.records("inc-web-1") if "config_change" in r.summary]
    assert record.actor == "oncall@example.com"


# --- four eyes: the author of the culprit change cannot approve undoing it --------------------------
FOUR_EYES = {"change": "deploy-storefront-bff-357", "service": "storefront-bff", "author": "sre2@example.com",
             "note": "sre2@example.com made deploy-storefront-bff-357 and cannot approve undoing it"}
PEOPLE = (("sre2@example.com", "U0123ABCD", "arn:aws:iam::123456789012:role/oncall-approver"),)


@pytest.fixture
def four_eyes(world, monkeypatch):
    monkeypatch.setitem(SUMMARY, "four_eyes", FOUR_EYES)
    monkeypatch.setattr(world, "people", PEOPLE)
    return world


def test_the_author_of_the_change_cannot_approve_its_rollback_by_email(four_eyes):
    token = pending(four_eyes, to="sre2@example.com")
    _, nonce = open_page(token)
    assert "cannot approve undoing it" in text_of(call("GET", f"/approvals/{token}"))
    resp = choose(token, "approve", nonce)
    assert resp["statusCode"] == 403 and "another approver must approve" in text_of(resp)
    assert not [m for m in four_eyes.channels.email.sent if "code" in m[1]]     # no code was sent
    assert nothing_changed(four_eyes)
    refusal = four_eyes.audit.records("inc-web-1")[-1]
    assert "four eyes" in refusal.summary and refusal.detail["rule"] == "four_eyes"


def test_the_author_is_known_on_slack_and_the_terminal_through_people(four_eyes, slack_api):
    pending(four_eyes)
    resp = slack_click(buttons(), user="U0123ABCD")
    assert json.loads(resp["body"])["ok"] is False and nothing_changed(four_eyes)
    body = json.dumps({"incident_id": "inc-web-1", "decision": "approve"})
    resp = call("POST", "/terminal/decisions", body,
                iam_arn="arn:aws:sts::123456789012:assumed-role/oncall-approver/sre2@example.com")
    assert resp["statusCode"] == 403 and nothing_changed(four_eyes)


def test_the_author_may_still_reject_and_anyone_else_may_approve(four_eyes):
    pending(four_eyes, "req-1")
    assert slack_click(buttons(), user="U0123ABCD", action="reject")["statusCode"] == 200
    assert four_eyes.sfn.successes[-1][1]["approved"] is False
    token = pending(four_eyes, "req-2", to="oncall@example.com")
    assert decide_by_email(four_eyes, token, "approve")["statusCode"] == 200
    assert four_eyes.sfn.successes[-1][1]["approved"] is True


def test_an_unknown_author_or_a_service_without_the_rule_changes_nothing(world):
    pending(world)
    body = json.dumps({"incident_id": "inc-web-1", "decision": "approve"})
    resp = call("POST", "/terminal/decisions", body,
                iam_arn="arn:aws:sts::123456789012:assumed-role/oncall-approver/sre2@example.com")
    assert resp["statusCode"] == 200


def test_a_four_eyes_service_names_the_author_in_the_request_and_refuses_them(world, slack_api, monkeypatch):
    """From Gather's change (its author from CloudTrail or SSM's LastModifiedUser) to the refusal."""
    from watchkeeper.domain.evidence import EvidenceGatherer
    from watchkeeper.models import Action, ChangeEvent, Evidence, Incident, RemediationPlan, RootCause, ServiceCatalog
    from watchkeeper.steps import Steps

    from .fakes import FakeAlarms, FakeChanges, FakeExecutor, FakeKillSwitch, FakeLogs, FakeMetrics, FakePager, FakeReports

    now = datetime.now(timezone.utc)
    catalog = ServiceCatalog.model_validate({"services": [
        {"name": "storefront-bff", "platform": "eks", "cluster": "prod-eks", "namespace": "shop", "four_eyes": True}]})
    incident = Incident(id="inc-web-1", service="storefront-bff", opened_at=now, last_alert_at=now, title="bff down")
    world.store.save(incident)
    change = ChangeEvent(id="deploy-storefront-bff-357", kind="deploy", service="storefront-bff",
                         at=now - timedelta(minutes=5), revision="357", author="sre2@example.com")
    cause = RootCause(kind="bad_deploy", culprit=change.id, confidence=0.87, summary="the deploy")
    plan = RemediationPlan(decision="approve", actions=[Action(id="a1", type="rollback_deployment",
                                                               target="eks/prod-eks/shop/storefront-bff")])
    steps = Steps(catalog=catalog, store=world.store, audit=world.audit, executor=FakeExecutor(),
                  gatherer=EvidenceGatherer(catalog, FakeLogs(), FakeMetrics(), FakeChanges()),
                  pager=FakePager(), reports=FakeReports(), alarms=FakeAlarms(), kill_switch=FakeKillSwitch(),
                  approvals=world.store, notifier=world.channels, signing_key=KEY, approval_url="https://api.example.com",
                  approvers=APPROVERS)
    evidence = Evidence(window_start=now - timedelta(hours=1), window_end=now, changes=[change])
    request_id = steps.request_approval("task-token-x", incident, cause, plan, evidence=evidence)
    note = "sre2@example.com made deploy-storefront-bff-357 and cannot approve undoing it"
    assert note in json.dumps(slack_api.calls[0][1]["blocks"])
    assert world.store.get_approval(request_id)["summary"]["four_eyes"]["author"] == "sre2@example.com"
    token = sign(KEY, request_id, email_subject("sre2@example.com"), now + timedelta(minutes=10))
    _, nonce = open_page(token)
    assert choose(token, "approve", nonce)["statusCode"] == 403
    assert world.store.get_approval(request_id)["status"] == "pending" and not world.sfn.successes
