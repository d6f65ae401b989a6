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

from watchkeeper.adapters.dynamodb_state import DynamoDBIncidentStore
from watchkeeper.adapters.slack import SlackNotifier, request_blocks
from watchkeeper.approvals import ApprovalChannels, ApprovalNotice, ApprovalService
from watchkeeper.composition import container
from watchkeeper.domain.approval_tokens import sign
from watchkeeper.handlers import approvals_api
from watchkeeper.local.approval_server import http_api_event
from watchkeeper.local.runtime import LambdaContext

from .fakes import FakeAudit

KEY = b"k" * 32
SLACK_SECRET = "slack-signing-secret"
APPROVERS = ("oncall@example.com", "U0123ABCD")
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


class FakeSfn:
    """Step Functions' task-token calls, recorded; `timed_out` makes SendTaskSuccess fail as AWS does."""

    def __init__(self):
        self.successes: list[tuple[str, dict]] = []
        self.heartbeats: list[str] = []
        self.timed_out = False

    def send_task_success(self, taskToken, output):
        if self.timed_out:
            raise ClientError({"Error": {"Code": "TaskTimedOut", "Message": "Task Timed Out"}}, "SendTaskSuccess")
        self.successes.append((taskToken, json.loads(output)))

    def send_task_heartbeat(self, taskToken):
        self.heartbeats.append(taskToken)


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
        store = DynamoDBIncidentStore("state", ddb)
        slack = SlackNotifier(slack_api.client(), "#incidents")
        service = ApprovalService(store, FakeAudit(), FakeSfn(), KEY, APPROVERS, ApprovalChannels(slack=slack))
        c = container()
        monkeypatch.setattr(c, "_approvals", service, raising=False)
        monkeypatch.setattr(c, "_webhook_secrets", {"slack": SLACK_SECRET, "shared": "other"}, raising=False)
        yield service


def pending(service: ApprovalService, request_id: str = "req-1", expires_in: int = 600, thread: str | None = None) -> str:
    expires = datetime.now(timezone.utc) + timedelta(seconds=expires_in)
    service.store.save_pending(request_id, "inc-web-1", f"task-token-{request_id}", expires, SUMMARY)
    if thread:
        service.store.save_approval_thread(request_id, "inc-web-1", thread)
    return sign(KEY, request_id, expires)


def call(method: str, path: str, body: str = "", headers: dict | None = None, ip: str = "198.51.100.7") -> dict:
    route = "POST /slack/actions" if path == "/slack/actions" else f"{method} /approvals/{{token}}"
    params = {} if path == "/slack/actions" else {"token": path.rsplit("/", 1)[-1]}
    hdrs = {"content-type": "application/x-www-form-urlencoded", **(headers or {})}
    return approvals_api.handler(http_api_event(method, path, "", route, params, hdrs, body.encode(), ip), CTX)


def open_page(token: str) -> tuple[dict, str]:
    resp = call("GET", f"/approvals/{token}")
    nonce = re.search(r"name='nonce' value='([^']*)'", resp["body"])
    return resp, nonce.group(1) if nonce else ""


def post(token: str, decision: str = "approve", who: str = "oncall@example.com", nonce: str | None = None) -> dict:
    fields = {"decision": decision, "who": who, **({"nonce": nonce} if nonce is not None else {})}
    return call("POST", f"/approvals/{token}", urlencode(fields))


def nothing_changed(service: ApprovalService, request_id: str = "req-1") -> bool:
    return not service.sfn.successes and service.store.get_approval(request_id)["status"] == "pending"


def text_of(resp: dict) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", resp["body"]))


# --- the good path -------------------------------------------------------------------------------
def test_the_page_shows_what_will_happen_and_why_and_a_get_never_decides(world):
    token = pending(world)
    for _ in range(3):                                   # a mail scanner pre-fetching the link, then the human
        resp, nonce = open_page(token)
    assert resp["statusCode"] == 200 and nonce
    page = text_of(resp)
    for expected in ("storefront-bff", "bad_deploy", "deploy-storefront-bff-357", "rollback_deployment",
                     "eks/prod-eks/shop/storefront-bff", "dryRun=All", "+ image: storefront-bff:356",
                     "4 min before onset", "heap usage high"):
        assert expected in page, expected
    assert "<form" in resp["body"] and "method='post'" in resp["body"]
    assert resp["headers"]["Cache-Control"] == "no-store" and resp["headers"]["Referrer-Policy"] == "no-referrer"
    assert "task-token" not in resp["body"]
    assert nothing_changed(world)
    assert world.sfn.heartbeats == ["task-token-req-1"] * 3            # someone is looking


def test_approving_resumes_the_workflow_once_and_the_audit_says_who_when_and_from_where(world, slack_api):
    token = pending(world, thread="1700000000.000001")
    _, nonce = open_page(token)
    resp = post(token, who="OnCall@Example.com ", nonce=nonce)
    assert resp["statusCode"] == 200 and "Remediation approved" in text_of(resp)
    ((task_token, output),) = world.sfn.successes
    assert task_token == "task-token-req-1" and output["approved"] is True and output["channel"] == "web"
    stored = world.store.get_approval("req-1")
    assert (stored["status"], stored["decided_by"], stored["channel"], stored["source_ip"]) == \
        ("approved", "OnCall@Example.com", "web", "198.51.100.7")
    (record,) = [r for r in world.audit.records("inc-web-1") if r.kind == "decision"]
    assert record.actor == "OnCall@Example.com" and "approved by OnCall@Example.com via web" in record.summary
    assert record.detail["ip"] == "198.51.100.7" and record.detail["channel"] == "web" and record.detail["decided_at"]
    (method, args), = slack_api.calls                                  # the decision goes to the request's thread
    assert method == "chat.postMessage" and args["thread_ts"] == "1700000000.000001" and "Approved" in args["text"]


def test_rejecting_resumes_with_approved_false(world):
    token = pending(world)
    _, nonce = open_page(token)
    assert post(token, "reject", nonce=nonce)["statusCode"] == 200
    assert world.sfn.successes[0][1]["approved"] is False and world.store.get_approval("req-1")["status"] == "rejected"


# --- attacks and mistakes: a clear page, nothing changed -----------------------------------------
def test_a_replayed_post_is_refused(world):
    token = pending(world)
    _, nonce = open_page(token)
    assert post(token, nonce=nonce)["statusCode"] == 200
    again = post(token, nonce=nonce)
    assert again["statusCode"] == 409 and "already decided: approved by oncall@example.com" in text_of(again)
    assert len(world.sfn.successes) == 1


def test_a_blind_post_without_the_pages_nonce_is_refused(world):
    token = pending(world)
    for nonce in (None, "", "1700000000.forged", open_page(pending(world, "req-2"))[1]):   # another request's nonce
        resp = post(token, nonce=nonce)
        assert resp["statusCode"] == 400 and "did not come from the approval page" in text_of(resp)
    assert nothing_changed(world)


def test_an_unknown_decision_value_is_refused(world):
    token = pending(world)
    _, nonce = open_page(token)
    assert post(token, "yes-please", nonce=nonce)["statusCode"] == 400
    assert nothing_changed(world)


def test_an_expired_link_is_refused(world):
    token = pending(world, expires_in=-5)
    resp, nonce = open_page(token)
    assert resp["statusCode"] == 410 and "expired" in text_of(resp) and not nonce
    assert post(token, nonce="")["statusCode"] == 410
    assert nothing_changed(world) and not world.sfn.heartbeats


@pytest.mark.parametrize("forge", [
    lambda t: sign(b"attacker-key" * 3, "req-1", datetime.now(timezone.utc) + timedelta(hours=1)),   # forged
    lambda t: t.replace("req-1", "req-2"),                                                          # other request
    lambda t: ".".join([t.split(".")[0], str(int(t.split(".")[1]) + 86400), t.split(".")[2]]),     # longer expiry
    lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),                                     # bit flip
    lambda t: "not-a-token",
])
def test_a_forged_or_tampered_link_is_refused(world, forge):
    token = pending(world)
    pending(world, "req-2")
    bad = forge(token)
    resp, _ = open_page(bad)
    assert resp["statusCode"] == 403 and "Approval link not valid" in text_of(resp)
    assert post(bad, nonce=open_page(token)[1])["statusCode"] == 403
    assert nothing_changed(world) and nothing_changed(world, "req-2")


def test_a_link_to_an_unknown_request_is_refused(world):
    token = sign(KEY, "req-never-stored", datetime.now(timezone.utc) + timedelta(minutes=5))
    resp, _ = open_page(token)
    assert resp["statusCode"] == 404 and "does not exist" in text_of(resp)
    assert post(token, nonce="")["statusCode"] == 404
    assert not world.sfn.successes


@pytest.mark.parametrize("who", ["mallory@example.com", "U0123ABCD", ""])
def test_a_web_decision_from_someone_not_on_the_approvers_list_is_refused_and_audited(world, who):
    token = pending(world)
    _, nonce = open_page(token)
    resp = post(token, who=who, nonce=nonce)
    assert resp["statusCode"] == 403 and "not on the approvers list" in text_of(resp)
    assert nothing_changed(world)
    (refusal,) = [r for r in world.audit.records("inc-web-1") if r.kind == "decision"]
    assert "refused" in refusal.summary and refusal.detail["ip"] == "198.51.100.7"


def test_a_decision_on_an_incident_already_decided_is_refused(world):
    token = pending(world)
    _, nonce = open_page(token)
    post(token, "reject", nonce=nonce)
    resp, nonce_after = open_page(token)
    assert resp["statusCode"] == 409 and "already decided: rejected by oncall@example.com" in text_of(resp)
    assert not nonce_after                                               # no form to press any more
    assert post(token, "approve", nonce=nonce)["statusCode"] == 409
    assert [o["approved"] for _, o in world.sfn.successes] == [False]


def test_a_decision_after_the_workflow_timed_out_changes_nothing(world):
    token = pending(world)
    _, nonce = open_page(token)
    world.sfn.timed_out = True
    resp = post(token, nonce=nonce)
    assert resp["statusCode"] == 410 and "timed out and was escalated" in text_of(resp)
    assert world.store.get_approval("req-1")["status"] == "timed_out"
    assert "stopped waiting" in world.audit.records("inc-web-1")[-1].summary


# --- Slack ------------------------------------------------------------------------------------------
def slack_click(token: str, user: str = "U0123ABCD", action: str = "approve", secret: str = SLACK_SECRET,
                age: int = 0) -> dict:
    payload = {"type": "block_actions", "user": {"id": user}, "response_url": "https://hooks.slack.test/x",
               "container": {"type": "message", "message_ts": "1700000000.000001"},
               "actions": [{"action_id": action, "value": token, "type": "button"}]}
    body = urlencode({"payload": json.dumps(payload)})
    ts = str(int(time.time()) - age)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    return call("POST", "/slack/actions", body, {"x-slack-request-timestamp": ts, "x-slack-signature": signature})


def test_a_slack_click_from_an_approver_decides(world):
    token = pending(world)
    resp = slack_click(token)
    assert resp["statusCode"] == 200 and json.loads(resp["body"])["ok"] is True
    ((_, output),) = world.sfn.successes
    assert output["decided_by"] == "U0123ABCD" and output["channel"] == "slack"
    assert world.audit.records("inc-web-1")[-1].detail["channel"] == "slack"


@pytest.mark.parametrize("attack,kwargs", [
    ("bad signature", {"secret": "not-the-secret"}),
    ("stale timestamp", {"age": 6 * 60}),
])
def test_a_slack_request_with_a_bad_signature_or_a_stale_timestamp_is_refused(world, attack, kwargs):
    token = pending(world)
    resp = slack_click(token, **kwargs)
    assert resp["statusCode"] == 401, attack
    assert json.loads(resp["body"])["ok"] is False
    assert nothing_changed(world)


def test_a_slack_request_without_signature_headers_is_refused(world):
    token = pending(world)
    body = urlencode({"payload": json.dumps({"type": "block_actions", "user": {"id": "U0123ABCD"},
                                             "actions": [{"action_id": "approve", "value": token}]})})
    assert call("POST", "/slack/actions", body)["statusCode"] == 401
    assert nothing_changed(world)


@pytest.mark.parametrize("user", ["U0EVE", "oncall@example.com"])
def test_a_slack_click_from_someone_not_on_the_approvers_list_is_refused(world, user):
    token = pending(world)
    resp = slack_click(token, user=user)
    body = json.loads(resp["body"])
    assert resp["statusCode"] == 200 and body["ok"] is False and "not on the approvers list" in body["text"]
    assert nothing_changed(world)


def test_a_replayed_slack_click_is_refused(world):
    token = pending(world)
    assert json.loads(slack_click(token)["body"])["ok"] is True
    again = json.loads(slack_click(token, action="reject")["body"])
    assert again["ok"] is False and "already decided" in again["text"]
    assert len(world.sfn.successes) == 1


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
    assert (approve["action_id"], approve["style"], approve["value"]) == ("approve", "primary", "TOKEN.123.sig")
    assert (reject["action_id"], reject["style"], reject["value"]) == ("reject", "danger", "TOKEN.123.sig")
    assert approve["confirm"] and reject["confirm"] and page["url"].endswith("/approvals/TOKEN.123.sig")
    assert all(len(b["text"]["text"]) <= 3000 for b in posted["blocks"] if b["type"] == "section")
    assert update == {"channel": "#incidents", "thread_ts": ts, "text": "rollback_deployment: executed",
                      "unfurl_links": False}


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
    resp, nonce = open_page(sign(KEY, "req-1", datetime.now(timezone.utc) + timedelta(minutes=5)))
    assert resp["statusCode"] == 409 and "timed out and was escalated" in text_of(resp) and not nonce
