"""Slack: the approval request as a Block Kit message, its thread updates, and the check of
Slack's request signature on button clicks.

The WebClient is injected (the composition root builds one from the bot token); with no
client — no token configured, as locally — the notifier only logs.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import parse_qs

from slack_sdk.errors import SlackApiError
from slack_sdk.signature import Clock, SignatureVerifier

from ..approvals import ApprovalNotice
from ..ports import TransientError, WatchkeeperError

log = logging.getLogger(__name__)

APPROVE, REJECT = "approve", "reject"
_TEXT_LIMIT = 2900            # Slack rejects a section text over 3000 characters


def request_blocks(notice: ApprovalNotice) -> list[dict[str, Any]]:
    """Block Kit for an approval request: summary, root cause and evidence, the exact action
    with its dry-run diff, then Approve / Reject (each behind a confirmation dialog)."""
    s, rc = notice.summary, notice.summary.get("root_cause", {})
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(f"Approval needed: {s.get('service')}"[:150])},
        {"type": "section", "text": _md(f"*{s.get('title') or s.get('incident_id')}*\n"
                                          f"severity *{s.get('severity', '?')}* · incident `{s.get('incident_id')}`")},
        {"type": "section", "text": _md(f"*Root cause:* {rc.get('kind')} {('`' + rc['culprit'] + '`') if rc.get('culprit') else ''} "
                                          f"(confidence {rc.get('confidence', 0):.2f})\n{rc.get('summary', '')}")},
    ]
    evidence = s.get("evidence", [])
    if evidence:
        blocks.append({"type": "section", "text": _md("*Evidence*\n" + "\n".join(
            f"• {e.get('detail')}" for e in evidence[:8]))})
    for a in s.get("proposed", []):
        text = f"*Proposed:* `{a['type']}` on `{a['target']}`" + (f"\n{a['reason']}" if a.get("reason") else "")
        if a.get("api_call") or a.get("diff"):
            text += f"\n*Dry run:*\n```{_clip(a.get('api_call', '') + chr(10) + a.get('diff', ''), 2400)}```"
        elif a.get("preview_error"):
            text += f"\n_dry-run preview unavailable: {a['preview_error']}_"
        if (a.get("pin") or {}).get("summary"):
            text += f"\n*Pinned:* {a['pin']['summary']} (before-state `{a['pin'].get('fingerprint', '')}`)"
        blocks.append({"type": "section", "text": _md(_clip(text))})
    blocks.append({"type": "context", "elements": [_md(f"Expires {notice.expires_at:%Y-%m-%d %H:%M} UTC · "
                                                        f"request `{notice.request_id}`")]})
    target = ", ".join(f"{a['type']} on {a['target']}" for a in s.get("proposed", []))
    elements: list[dict[str, Any]] = [
        {"type": "button", "action_id": APPROVE, "style": "primary", "text": _plain("Approve"), "value": notice.token,
         "confirm": {"title": _plain("Approve?"), "text": _md(_clip(f"Watchkeeper will run: {target}", 290)),
                     "confirm": _plain("Approve"), "deny": _plain("Cancel")}},
        {"type": "button", "action_id": REJECT, "style": "danger", "text": _plain("Reject"), "value": notice.token,
         "confirm": {"title": _plain("Reject?"), "text": _md("Nothing will be changed; on-call keeps the incident."),
                     "confirm": _plain("Reject"), "deny": _plain("Cancel")}},
    ]
    if notice.url:
        elements.append({"type": "button", "action_id": "open_page", "text": _plain("Open approval page"),
                         "url": notice.url})
    blocks.append({"type": "actions", "block_id": f"approval:{notice.request_id}", "elements": elements})
    return blocks


class SlackNotifier:
    """Posts the approval request to the channel and later updates to its thread."""

    def __init__(self, client: Any = None, channel: str = ""):
        self._client = client
        self._channel = channel

    @property
    def enabled(self) -> bool:
        return self._client is not None and bool(self._channel)

    def request(self, notice: ApprovalNotice) -> str | None:
        """Post the request; the message ts is the thread every later update goes to."""
        if not self.enabled:
            log.info("slack not configured: approval request %s not posted to Slack", notice.request_id)
            return None
        resp = self._call("chat_postMessage", channel=self._channel, text=notice.text[:_TEXT_LIMIT],
                          blocks=request_blocks(notice), unfurl_links=False)
        return resp.get("ts")

    def update_thread(self, thread_ts: str | None, text: str) -> None:
        if not self.enabled or not thread_ts:
            log.info("slack not configured: thread update not posted: %s", text)
            return
        self._call("chat_postMessage", channel=self._channel, thread_ts=thread_ts, text=_clip(text),
                   unfurl_links=False)

    def _call(self, method: str, **kwargs: Any) -> Any:
        try:
            return getattr(self._client, method)(**kwargs)
        except SlackApiError as exc:
            error = exc.response.get("error", "") if exc.response is not None else ""
            if error in ("ratelimited", "service_unavailable", "internal_error", "request_timeout", "fatal_error"):
                raise TransientError(f"slack {method}: {error}") from exc
            raise WatchkeeperError(f"slack {method}: {error or exc}") from exc


# --- Slack's side of a button click --------------------------------------------------------
class SlackRequestRefused(ValueError):
    """Not a genuine, fresh request from Slack: answered 401 and ignored."""


@dataclass(frozen=True)
class SlackAction:
    user_id: str
    action: str          # approve | reject
    token: str           # the signed approval token the button carries
    thread_ts: str | None
    response_url: str | None


def verify_request(signing_secret: str, body: str | bytes, headers: Mapping[str, str], clock: Clock | None = None) -> None:
    """Slack's v0 signature over the raw body, with a timestamp no older than five minutes."""
    if not signing_secret:
        raise SlackRequestRefused("no Slack signing secret is configured")
    lower = {k.lower(): v for k, v in (headers or {}).items()}
    timestamp = lower.get("x-slack-request-timestamp") or ""
    if not timestamp.isdigit():
        raise SlackRequestRefused("missing or malformed X-Slack-Request-Timestamp")
    verifier = SignatureVerifier(signing_secret, clock or Clock())
    if abs(verifier.clock.now() - int(timestamp)) > 60 * 5:
        raise SlackRequestRefused("stale request: the timestamp is more than five minutes off")
    if not verifier.is_valid(body, timestamp, lower.get("x-slack-signature")):
        raise SlackRequestRefused("the Slack signature does not match")


def parse_action(body: str) -> SlackAction:
    """The block_actions payload of an Approve or Reject click."""
    try:
        payload = json.loads(parse_qs(body).get("payload", [""])[0])
        action = payload["actions"][0]
        user = payload["user"]["id"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise SlackRequestRefused("not a Slack block_actions payload") from None
    if payload.get("type") != "block_actions" or action.get("action_id") not in (APPROVE, REJECT):
        raise SlackRequestRefused(f"unsupported Slack interaction {payload.get('type')}/{action.get('action_id')}")
    container = payload.get("container") or {}
    return SlackAction(user_id=user, action=action["action_id"], token=str(action.get("value", "")),
                       thread_ts=container.get("thread_ts") or container.get("message_ts"),
                       response_url=payload.get("response_url"))


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def _md(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def _clip(text: str, limit: int = _TEXT_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 20] + "\n… (truncated)"
