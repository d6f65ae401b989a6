"""The approval page: what will happen and why, readable on a phone at 3 AM.

Pure HTML from the stored request summary; every value is escaped. The form posts back to
the same link with the page's confirmation nonce, so only a person who saw this page can
decide (a mail scanner's GET, or a blind POST, decides nothing).
"""
from __future__ import annotations

from html import escape
from typing import Any

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
label{display:block;font-weight:600;margin:.6rem 0 .25rem}input,textarea{width:100%;font-size:1rem;
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


def request_page(request: dict[str, Any], nonce: str) -> str:
    """The pending request: the action, its dry run, the root cause and its evidence, the form."""
    s = request["summary"]
    rc = s.get("root_cause") or {}
    sev = escape(str(s.get("severity") or "unknown"))
    head = (f"<h1>Approve remediation for <span id='service'>{escape(str(s.get('service')))}</span>?</h1>"
            f"<div class='card'><div><span class='badge sev-{sev}'>{sev}</span>"
            f"<span class='badge'>{escape(str(s.get('category') or 'incident'))}</span></div>"
            f"<p><b>{escape(str(s.get('title') or ''))}</b></p>"
            f"<p class='muted'>incident <code>{escape(str(s.get('incident_id')))}</code> · link expires "
            f"{escape(request['expires_at'][:16].replace('T', ' '))} UTC</p></div>")
    actions = "".join(_action(a) for a in s.get("proposed", [])) or "<div class='card'>No write is proposed.</div>"
    cause = (f"<div class='card' id='root-cause'><p><b>{escape(str(rc.get('kind')))}</b>"
             + (f" — <code>{escape(str(rc['culprit']))}</code>" if rc.get("culprit") else "")
             + f" <span class='muted'>(confidence {float(rc.get('confidence') or 0):.2f})</span></p>"
             f"<p>{escape(str(rc.get('summary', '')))}</p></div>")
    evidence = s.get("evidence") or []
    ev = ("<div class='card' id='evidence'><ul>" + "".join(
        f"<li><span class='badge'>{escape(str(e.get('type', '')))}</span>{escape(str(e.get('detail', '')))}"
        + (f" <span class='muted'><code>{escape(str(e['ref']))}</code></span>" if e.get("ref") else "") + "</li>"
        for e in evidence) + "</ul></div>") if evidence else "<div class='card muted'>No evidence items were recorded.</div>"
    form = ("<h2>Your decision</h2><form class='card' method='post'>"
            f"<input type='hidden' name='nonce' value='{escape(nonce, quote=True)}'>"
            "<label for='who'>Your email (must be on the approvers list)</label>"
            "<input id='who' name='who' type='email' autocomplete='email' required placeholder='you@example.com'>"
            + _correction_control(request) +
            "<label for='reason'>Note for the audit trail (optional)</label>"
            "<textarea id='reason' name='reason' rows='2' maxlength='500'></textarea>"
            "<div class='buttons'><button class='approve' name='decision' value='approve'>Approve</button>"
            "<button class='reject' name='decision' value='reject'>Reject</button></div>"
            "<p class='muted'>Opening this page changes nothing; only these buttons decide, once.</p></form>")
    return document(f"Approve remediation for {s.get('service')}?",
                    head + "<h2>What will happen</h2>" + actions + "<h2>Why</h2>" + cause
                    + "<h2>Evidence</h2>" + ev + form)


def notice_page(title: str, message: str, ok: bool = False) -> str:
    return document(title, f"<h1>{escape(title)}</h1><div class='card {'ok' if ok else 'notice'}'>"
                           f"<p>{escape(message)}</p></div>")


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
            + (f"<p>{escape(str(a['reason']))}</p>" if a.get("reason") else "") + dry + "</div>")


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
