"""Slack: the approval request as a Block Kit message, its thread updates, and the check of
Slack's request signature on button clicks.

The WebClient is injected (the composition root builds one from the bot token); with no
client — no token configured, as locally — the notifier only logs.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
import time
from typing import TYPE_CHECKING, Any, Mapping
from urllib.parse import parse_qs

from ..approvals import ApprovalNotice
from ..domain.webhook_auth import parse_epoch, safe_equal
from ..ports import TransientError, WatchkeeperError

if TYPE_CHECKING:                 # slack_sdk costs 0.1 s of a cold start: only the notifier's calls need it
    from slack_sdk.signature import Clock

log = logging.getLogger(__name__)

APPROVE, REJECT, OPEN_PAGE = "approve", "reject", "open_page"
_TEXT_LIMIT = 2900            # Slack rejects a section text over 3000 characters


def mrkdwn(value: Any) -> str:
    """Text safe inside Slack mrkdwn: `&`, `<`, `>` escaped, so no `<!channel>`, `<@U..>` or
    `<https://evil|label>` can come from an alert title, a log line, the model or a reason."""
    return str(value if value is not None else "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _code(value: Any) -> str:
    """Inline code: escaped, and without backticks that would end it early."""
    return "`" + mrkdwn(value).replace("`", "ˋ") + "`"


def _block(value: Any) -> str:
    return "```" + mrkdwn(value).replace("```", "ˋˋˋ") + "```"


def request_blocks(notice: ApprovalNotice) -> list[dict[str, Any]]:
    """Block Kit for an approval request: summary, what will happen (blast radius, undo, dry
    run), why, the window and what happens if nobody decides, console links, then Approve /
    Reject (each behind a confirmation dialog) and "Open approval page", which answers with a
    link for the person who clicked alone. Every interpolated value is escaped."""
    s, rc = notice.summary, notice.summary.get("root_cause", {})
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(f"Approval needed: {s.get('service')}"[:150])},
        {"type": "section", "text": _md(f"*{mrkdwn(s.get('title') or s.get('incident_id'))}*\n"
                                          f"severity *{mrkdwn(s.get('severity', '?'))}* · incident {_code(s.get('incident_id'))}")},
    ]
    for a in s.get("proposed", []):
        text = f"*Proposed:* {_code(a.get('type'))} on {_code(a.get('target'))}" + (
            f"\n{mrkdwn(a['reason'])}" if a.get("reason") else "")
        if a.get("blast_radius"):
            text += f"\n*Blast radius:* {mrkdwn(a['blast_radius'])}"
        if a.get("undo"):
            text += f"\n*Undo:* {mrkdwn(a['undo'])}"
        if a.get("api_call") or a.get("diff"):
            text += "\n*Dry run:*\n" + _block(_clip(str(a.get("api_call", "")) + chr(10) + str(a.get("diff", "")), 2000))
        elif a.get("preview_error"):
            text += f"\n_dry-run preview unavailable: {mrkdwn(a['preview_error'])}_"
        if (a.get("pin") or {}).get("summary"):
            text += (f"\n*Pinned:* {mrkdwn(a['pin']['summary'])} (before-state "
                     f"{_code(a['pin'].get('fingerprint', ''))}; a change before execution blocks it)")
        blocks.append({"type": "section", "text": _md(_clip(text))})
    culprit = f" {_code(rc['culprit'])}" if rc.get("culprit") else ""
    blocks.append({"type": "section", "text": _md(_clip(
        f"*Root cause:* {mrkdwn(rc.get('kind'))}{culprit} (confidence {float(rc.get('confidence') or 0):.2f})\n"
        f"{mrkdwn(rc.get('summary', ''))}"))})
    evidence = s.get("evidence", [])
    if evidence:
        blocks.append({"type": "section", "text": _md(_clip("*Evidence*\n" + "\n".join(
            f"• {mrkdwn(e.get('detail'))}" for e in evidence[:8])))})
    window = f"Decide by *{notice.expires_at:%Y-%m-%d %H:%M} UTC*. {mrkdwn(s.get('if_nobody_decides') or '')}"
    if (s.get("four_eyes") or {}).get("note"):
        window += f"\n*Four eyes:* {mrkdwn(s['four_eyes']['note'])}"
    links = " · ".join(f"<{_url(link['url'])}|{mrkdwn(link['label'])}>" for link in s.get("links", [])[:4]
                       if str(link.get("url", "")).startswith("https://"))
    blocks.append({"type": "context", "elements": [_md(_clip(window + (f"\n{links}" if links else ""), 2000))]})
    target = ", ".join(f"{a.get('type')} on {a.get('target')}" for a in s.get("proposed", []))
    elements: list[dict[str, Any]] = [
        {"type": "button", "action_id": APPROVE, "style": "primary", "text": _plain("Approve"), "value": notice.token,
         "confirm": {"title": _plain("Approve?"), "text": _md(_clip(f"Watchkeeper will run: {mrkdwn(target)}", 290)),
                     "confirm": _plain("Approve"), "deny": _plain("Cancel")}},
        {"type": "button", "action_id": REJECT, "style": "danger", "text": _plain("Reject"), "value": notice.token,
         "confirm": {"title": _plain("Reject?"), "text": _md("Nothing will be changed; on-call keeps the incident."),
                     "confirm": _plain("Reject"), "deny": _plain("Cancel")}},
        # no URL on the button: a URL would be a link the whole channel shares; the click is
        # answered with a link for the person who clicked, shown to them alone
        {"type": "button", "action_id": OPEN_PAGE, "text": _plain("Open approval page"), "value": notice.token},
    ]
    blocks.append({"type": "actions", "block_id": f"approval:{notice.request_id}", "elements": elements})
    return blocks


def _url(url: str) -> str:
    """A URL inside <url|label>: no character that could end it early."""
    return str(url).replace("|", "%7C").replace(">", "%3E").replace("<", "%3C").replace(" ", "%20")


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
        resp = self._call("chat_postMessage", channel=self._channel, text=mrkdwn(notice.text[:_TEXT_LIMIT]),
                          blocks=request_blocks(notice), unfurl_links=False, unfurl_media=False)
        return resp.get("ts")

    def update_thread(self, thread_ts: str | None, text: str) -> None:
        if not self.enabled or not thread_ts:
            log.info("slack not configured: thread update not posted: %s", text)
            return
        self._call("chat_postMessage", channel=self._channel, thread_ts=thread_ts, text=_clip(mrkdwn(text)),
                   unfurl_links=False, unfurl_media=False)

    def tell(self, channel: str | None, user_id: str, text: str) -> None:
        """An ephemeral message: only `user_id` sees it (a per-user link, a refusal's reason).
        `text` is mrkdwn the caller built and escaped."""
        if not self.enabled:
            log.info("slack not configured: ephemeral message to %s not posted", user_id)
            return
        self._call("chat_postEphemeral", channel=channel or self._channel, user=user_id, text=_clip(text),
                   unfurl_links=False, unfurl_media=False)

    def _call(self, method: str, **kwargs: Any) -> Any:
        from slack_sdk.errors import SlackApiError

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
    channel_id: str | None = None


def verify_request(signing_secrets: str | tuple[str, ...] | list[str], body: str | bytes, headers: Mapping[str, str],
                   clock: Clock | None = None) -> None:
    """Slack's v0 signature over the raw body, with a timestamp no older than five minutes.
    During a rotation two signing secrets are valid. Any header bytes are a refusal, never an error."""
    keys = [signing_secrets] if isinstance(signing_secrets, str) else list(signing_secrets or ())
    keys = [k for k in keys if k]
    if not keys:
        raise SlackRequestRefused("no Slack signing secret is configured")
    lower = {str(k).lower(): str(v) for k, v in (headers or {}).items()}
    stamp = parse_epoch(lower.get("x-slack-request-timestamp"))
    if stamp is None:
        raise SlackRequestRefused("missing or malformed X-Slack-Request-Timestamp")
    now = clock.now() if clock is not None else time.time()
    if abs(now - stamp) > 60 * 5:
        raise SlackRequestRefused("stale request: the timestamp is more than five minutes off")
    given = lower.get("x-slack-signature") or ""
    raw = body if isinstance(body, bytes) else str(body).encode("utf-8", "surrogatepass")
    for key in keys:
        expected = "v0=" + hmac.new(key.encode(), b"v0:%d:" % stamp + raw, hashlib.sha256).hexdigest()
        if safe_equal(given, expected):
            return
    raise SlackRequestRefused("the Slack signature does not match")


def parse_action(body: str) -> SlackAction:
    """The block_actions payload of an Approve or Reject click."""
    try:
        payload = json.loads(parse_qs(body if isinstance(body, str) else body.decode("utf-8", "replace"))
                             .get("payload", [""])[0])
        action = payload["actions"][0]
        user = payload["user"]["id"]
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        raise SlackRequestRefused("not a Slack block_actions payload") from None
    if not isinstance(payload, dict) or not isinstance(action, dict) or not isinstance(user, str):
        raise SlackRequestRefused("not a Slack block_actions payload")
    if payload.get("type") != "block_actions" or action.get("action_id") not in (APPROVE, REJECT, OPEN_PAGE):
        raise SlackRequestRefused(f"unsupported Slack interaction {payload.get('type')}/{action.get('action_id')}")
    container = payload.get("container") if isinstance(payload.get("container"), dict) else {}
    channel = payload.get("channel") if isinstance(payload.get("channel"), dict) else {}
    return SlackAction(user_id=user, action=action["action_id"], token=str(action.get("value", ""))[:512],
                       thread_ts=container.get("thread_ts") or container.get("message_ts"),
                       response_url=payload.get("response_url"), channel_id=channel.get("id") or container.get("channel_id"))


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def _md(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def _clip(text: str, limit: int = _TEXT_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 20] + "\n… (truncated)"
