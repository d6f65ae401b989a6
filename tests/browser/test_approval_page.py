"""The approval page in a real headless Chromium: a forwarded link cannot decide; the approver
opens their link, reads the incident, presses Approve, enters the code from their inbox, and
watches the state machine resume — the synthesized definition on moto, the real
handlers, the page served on localhost by the approvals handler."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from watchkeeper.local.demo import _recover_on_rollback
from watchkeeper.local.replay import ReplayOptions, ReplaySession
from watchkeeper.local.scenario import load_bundle

from ..conftest import EXAMPLES

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("WATCHKEEPER_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PHONE = {"width": 390, "height": 844}
SCREENSHOT = Path(os.environ.get("WATCHKEEPER_SCREENSHOT_DIR", "/tmp")) / "watchkeeper-approval-page.png"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install -y chromium chromium-driver")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM, headless=True, args=ARGS,
            viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
        yield chromium
        chromium.close()


def test_an_approver_reads_the_incident_on_a_phone_approves_and_the_workflow_resumes(browser):
    bundle, root = load_bundle(EXAMPLES / "storefront-bff-bad-deploy")
    seen: dict[str, Any] = {}
    session = ReplaySession(bundle, root, ReplayOptions(dry_run=False, approval_server=True))

    def approve_in_the_browser(approval: dict[str, Any]) -> None:
        inbox = session.approval_server.mailbox()
        link = session.approval_link(approval)                 # the link emailed to oncall@example.com alone
        assert link.startswith("http://127.0.0.1:")
        # someone the email was forwarded to can read and press Approve, but the code goes to oncall's inbox
        stranger = browser.new_page()
        stranger.goto(link)
        stranger.get_by_role("button", name="Approve").click()
        stranger.wait_for_load_state()
        stranger.fill("#code", "000000")
        stranger.get_by_role("button", name="Confirm approval").click()
        stranger.wait_for_load_state()
        seen["stranger_after"] = stranger.inner_text("main")
        stranger.close()
        # the approver: the page never asks who they are; the code in their inbox decides
        page = browser.new_page()
        response = page.goto(link)
        assert response is not None and response.status == 200
        seen["text"] = page.inner_text("main")
        seen["has_who_field"] = page.locator("#who").count()
        seen["overflow"] = page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
        page.screenshot(path=str(SCREENSHOT), full_page=True)
        page.get_by_role("button", name="Approve").click()
        page.wait_for_load_state()
        seen["code_page"] = page.inner_text("main")
        page.fill("#code", inbox.code_for("oncall@example.com"))
        page.fill("#reason", "rollback looks right")
        page.get_by_role("button", name="Confirm approval").click()
        page.wait_for_load_state()
        seen["after"] = page.inner_text("main")
        page.goto(link)                                    # the link again, once decided: no buttons any more
        seen["again"] = page.inner_text("main")
        page.close()

    session.options.approve = approve_in_the_browser
    with session:
        _recover_on_rollback(session, bundle)          # the demo's world: metrics recover once rolled back
        before = _revision(session)
        session.ingest()
        (incident_id,) = session.start_incidents()
        result = session.wait([incident_id])[incident_id]
        after = _revision(session)
        records = _audit(session, incident_id)

    text = seen["text"]
    assert "Approve remediation for storefront-bff?" in text
    assert "bad_deploy" in text and "deploy-storefront-bff-357" in text                 # the root cause
    assert "rollback_deployment" in text and "eks/prod-eks/shop/storefront-bff" in text  # what will happen
    assert "dryRun=All" in text                                                           # its dry run
    assert "evidence" in text.lower() and "4 min before the onset" in text                # and why
    assert "Blast radius" in text and "Undo" in text and "IF NOBODY DECIDES" in text.upper()
    assert not seen["has_who_field"] and "o•••l@example.com" in text                     # bound to the approver
    assert "Code not valid" in seen["stranger_after"]                                     # a forwarded link cannot decide
    assert "We emailed a one-time code" in seen["code_page"]
    assert not seen["overflow"], "the page scrolls sideways on a phone"
    assert "Remediation approved" in seen["after"] and "oncall@example.com" in seen["after"]
    assert "Already decided" in seen["again"] and "Approve" not in seen["again"].replace("approved", "")

    out = result["output"]
    assert result["status"] == "SUCCEEDED"
    assert out["approval"]["approved"] is True and out["approval"]["channel"] == "web"
    assert out["execution"]["status"] == "executed"
    assert int(after) == int(before) + 1                                                  # the cluster rolled back
    assert out["verification"]["status"] == "recovered" and out["report"]["status"] == "mitigated"
    decisions = [r for r in records if r.kind == "decision"]
    assert "a one-time code was emailed" in decisions[0].summary                          # the stranger's press
    assert "wrong one-time code" in decisions[1].summary and decisions[1].actor == "unknown"
    (decision,) = [r for r in decisions if "approved by" in r.summary]
    assert decision.actor == "oncall@example.com" and decision.detail["ip"] == "127.0.0.1"
    assert "rollback looks right" in decision.summary and "the workflow resumed" in decision.summary


def _revision(session: ReplaySession) -> str:
    dep = session.kube.deployment("shop", "storefront-bff")
    return dep["metadata"]["annotations"]["deployment.kubernetes.io/revision"]


def _audit(session: ReplaySession, incident_id: str):
    from watchkeeper.adapters.dynamodb_audit import DynamoDBAuditLog

    return DynamoDBAuditLog(session.aws.env("AUDIT_TABLE"), session.aws.client("dynamodb")).records(incident_id)
