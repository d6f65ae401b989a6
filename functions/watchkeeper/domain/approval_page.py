"""The approval page: what will happen and why, readable on a phone at 3 AM.

Pure HTML from the stored (redacted) request summary; every value is escaped. The page never
asks who you are: an emailed link names its approver, and its buttons only email that
approver a one-time code (the code decides); a link Slack showed one user only shows. A mail
scanner's GET, a blind POST or a forwarded link decides nothing. Sections are a list
(`SECTIONS`), so another fact or control is one more entry.
"""
from __future__ import annotations

from html import escape
from typing import Any, Callable

STYLE = """
*{box-sizing:border-box}body{font:16px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;
background:#f4f5f7;color:#1d2430}main{max-width:42rem;margin:0 auto;padding:1rem}
h1{font-size:1.35rem;margin:.2rem 0 .8rem}h2{font-size:1rem;text-transform:uppercase;letter-spacing:.04em;
color:#5b6475;margin:1.2rem 0 .4rem}.card{background:#fff;border-radius:10px;padding:.9rem 1rem;
margin:.6rem 0;box-shadow:0 1px 2px rgba(0,0,0,.08)}.muted{color:#5b6475;font-size:.9rem}
.badge{display:inline-block;border-radius:999px;padding:.05rem .55rem;font-size:.8rem;font-weight:600;
background:#e8ebf0;margin-right:.3rem}.sev-critical,.sev-high{background:#fde2e1;color:#a1150f}
code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.9em;overflow-wrap:anywhere}
pre{background:#0f1722;color:#e6edf3;border-radius:8px;padding:.7rem;overflow-x:auto;font-size:.8rem;
white-space:pre-wrap;word-break:break-word}ul{padding-left:1.1rem;margin:.3rem 0}li{margin:.35rem 0}
a{color:#0b57d0}label{display:block;font-weight:600;margin:.6rem 0 .25rem}input,textarea{width:100%;font-size:1rem;
padding:.65rem;border:1px solid #c4cad4;border-radius:8px}.buttons{display:flex;gap:.6rem;margin-top:1rem}
button{flex:1;font-size:1.1rem;font-weight:700;padding:.9rem;border:0;border-radius:10px;color:#fff}
.approve{background:#1a7f37}.reject{background:#b42318}.notice{border-left:4px solid #b42318}
.ok{border-left:4px solid #1a7f37}
"""

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
}


def document(title: str, body: str) -> str:
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            "<meta name='robots' content='noindex'>"
            f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
            f"<body><main>{body}</main></body></html>")


# The page's sections, in order: (heading, element id, renderer of the stored summary). A new
# section (a control, another fact) is one more entry; every renderer escapes what it shows.
Section = tuple[str, str, Callable[[dict[str, Any]], str]]


def _what_will_happen(s: dict[str, Any]) -> str:
    return "".join(_action(a) for a in s.get("proposed", [])) or "<div class='card'>No write is proposed.</div>"


def _if_nobody_decides(s: dict[str, Any]) -> str:
    text = s.get("if_nobody_decides") or "If nobody decides in time, nothing is changed and on-call is paged."
    return f"<div class='card'>{escape(str(text))}</div>"


def _why(s: dict[str, Any]) -> str:
    rc = s.get("root_cause") or {}
    return (f"<div class='card'><p><b>{escape(str(rc.get('kind')))}</b>"
            + (f" — <code>{escape(str(rc['culprit']))}</code>" if rc.get("culprit") else "")
            + f" <span class='muted'>(confidence {_float(rc.get('confidence')):.2f})</span></p>"
            f"<p>{escape(str(rc.get('summary', '')))}</p></div>")


def _evidence(s: dict[str, Any]) -> str:
    evidence = s.get("evidence") or []
    if not evidence:
        return "<div class='card muted'>No evidence items were recorded.</div>"
    return "<div class='card'><ul>" + "".join(
        f"<li><span class='badge'>{escape(str(e.get('type', '')))}</span>{escape(str(e.get('detail', '')))}"
        + (f" <span class='muted'><code>{escape(str(e['ref']))}</code></span>" if e.get("ref") else "") + "</li>"
        for e in evidence) + "</ul></div>"


def _console(s: dict[str, Any]) -> str:
    links = [link for link in s.get("links") or [] if str(link.get("url", "")).startswith("https://")]
    if not links:
        return "<div class='card muted'>No console links (no AWS region configured).</div>"
    return "<div class='card'><ul>" + "".join(
        f"<li><a href='{escape(str(link['url']), quote=True)}' rel='noopener noreferrer' target='_blank'>"
        f"{escape(str(link.get('label', 'console')))}</a></li>" for link in links) + "</ul></div>"


SECTIONS: list[Section] = [
    ("What will happen", "what-will-happen", _what_will_happen),
    ("If nobody decides", "if-nobody-decides", _if_nobody_decides),
    ("Why", "root-cause", _why),
    ("Evidence", "evidence", _evidence),
    ("Console", "console", _console),
]


def request_page(request: dict[str, Any], decision_html: str, sections: list[Section] | None = None) -> str:
    """The pending request: the head, every section, then the decision part (`decision_form`,
    `slack_note` or `code_form`)."""
    s = request["summary"]
    sev = escape(str(s.get("severity") or "unknown"))
    head = (f"<h1>Approve remediation for <span id='service'>{escape(str(s.get('service')))}</span>?</h1>"
            f"<div class='card'><div><span class='badge sev-{sev}'>{sev}</span>"
            f"<span class='badge'>{escape(str(s.get('category') or 'incident'))}</span></div>"
            f"<p><b>{escape(str(s.get('title') or ''))}</b></p>"
            f"<p class='muted'>incident <code>{escape(str(s.get('incident_id')))}</code> · decide by "
            f"<b id='deadline'>{escape(str(request['expires_at'])[:16].replace('T', ' '))} UTC</b></p>"
            + (f"<p id='four-eyes'><b>Four eyes:</b> {escape(str(s['four_eyes']['note']))}</p>"
               if (s.get("four_eyes") or {}).get("note") else "") + "</div>")
    body = "".join(f"<h2>{escape(title)}</h2><section id='{escape(anchor, quote=True)}'>{render(s)}</section>"
                   for title, anchor, render in (SECTIONS if sections is None else sections))
    return document(f"Approve remediation for {s.get('service')}?", head + body + decision_html)


def decision_form(nonce: str, approver: str) -> str:
    """An emailed link: the approver chooses; a one-time code sent to their address decides."""
    return ("<h2>Your decision</h2><form class='card' method='post' id='decide'>"
            f"<input type='hidden' name='nonce' value='{escape(nonce, quote=True)}'>"
            "<input type='hidden' name='step' value='choose'>"
            f"<p>This link was sent to <b id='approver'>{escape(approver)}</b> alone. Approve or Reject emails a "
            "one-time code to that address; entering the code decides.</p>"
            "<div class='buttons'><button class='approve' name='decision' value='approve'>Approve</button>"
            "<button class='reject' name='decision' value='reject'>Reject</button></div>"
            "<p class='muted'>Opening this page changes nothing and keeps nothing waiting.</p></form>")


def slack_note(user_id: str) -> str:
    """A link Slack showed one user: the page shows; the signed buttons in Slack decide."""
    return ("<h2>Your decision</h2><div class='card' id='decide'>"
            f"<p>Opened from Slack by <code>{escape(user_id)}</code>. Decide with the <b>Approve</b> / "
            "<b>Reject</b> buttons in the Slack message: Slack proves who clicked.</p></div>")


def code_form(nonce: str, decision: str, approver: str, request: dict[str, Any] | None = None) -> str:
    verb = "approval" if decision == "approve" else "rejection"
    return ("<h2>Enter your code</h2><form class='card' method='post' id='confirm'>"
            f"<input type='hidden' name='nonce' value='{escape(nonce, quote=True)}'>"
            "<input type='hidden' name='step' value='confirm'>"
            f"<input type='hidden' name='decision' value='{escape(decision, quote=True)}'>"
            f"<p>We emailed a one-time code to <b>{escape(approver)}</b>. It is valid for 10 minutes.</p>"
            "<label for='code'>One-time code</label>"
            "<input id='code' name='code' inputmode='numeric' autocomplete='one-time-code' pattern='[0-9 ]{6,7}' "
            "maxlength='7' required>"
            + (_correction_control(request) if request is not None else "") +
            "<label for='reason'>Note for the audit trail (optional)</label>"
            "<textarea id='reason' name='reason' rows='2' maxlength='500'></textarea>"
            f"<div class='buttons'><button class='{'approve' if decision == 'approve' else 'reject'}' "
            f"name='confirm' value='{escape(decision, quote=True)}'>Confirm {verb}</button></div></form>")


def notice_page(title: str, message: str, ok: bool = False) -> str:
    return document(title, f"<h1>{escape(title)}</h1><div class='card {'ok' if ok else 'notice'}'>"
                           f"<p>{escape(message)}</p></div>")


def _float(value: Any) -> float:
    try:
        return float(value or 0)
    except (TypeError, ValueError):
        return 0.0


def _action(a: dict[str, Any]) -> str:
    dry = ""
    if a.get("api_call") or a.get("diff"):
        dry = (f"<p class='muted'>Dry run against the live system:</p>"
               f"<pre>{escape(str(a.get('api_call', '')))}\n{escape(str(a.get('diff', '')))}</pre>")
    elif a.get("preview_error"):
        dry = f"<p class='muted'>Dry-run preview unavailable: {escape(str(a['preview_error']))}</p>"
    pin = a.get("pin") or {}
    if pin.get("summary"):
        dry += (f"<p class='pinned'>Pinned: {escape(str(pin['summary']))} — runs only while the live state still "
                f"matches what is shown here (before-state <code>{escape(str(pin.get('fingerprint', '')))}</code>)</p>")
    return (f"<div class='card action'><p><b><code>{escape(str(a.get('type')))}</code></b> on "
            f"<code>{escape(str(a.get('target')))}</code></p>"
            + (f"<p>{escape(str(a['reason']))}</p>" if a.get("reason") else "")
            + (f"<p><b>Blast radius:</b> {escape(str(a['blast_radius']))}</p>" if a.get("blast_radius") else "")
            + (f"<p><b>Undo:</b> {escape(str(a['undo']))}</p>" if a.get("undo") else "") + dry + "</div>")


def _correction_control(request: dict[str, Any]) -> str:
    """"The root cause was really ...": an optional correction recorded with the decision (audit and memory)."""
    from ..models.diagnosis import ROOT_CAUSE_KINDS

    current = str(((request.get("summary") or {}).get("root_cause") or {}).get("kind") or "")
    options = "<option value=''>as diagnosed</option>" + "".join(
        f"<option value='{escape(k, quote=True)}'>{escape(k)}</option>" for k in ROOT_CAUSE_KINDS if k != current)
    return ("<label for='root_cause'>Correct the root cause (optional)</label>"
            f"<select id='root_cause' name='root_cause'>{options}</select>"
            "<label for='culprit'>Culprit of the correction (change id or service, optional)</label>"
            "<input id='culprit' name='culprit' maxlength='200'>")
