"""Redaction of secrets and personal data: the one pass for everything that leaves the account.

Applied to everything sent to a language model (Bedrock), shown to a person (Slack, email,
the approval page) or written to the post-incident report: `redact` for text, `redact_value`
for JSON-like documents, `redact_model` for pydantic models. The rules mask credentials (AWS keys,
bearer tokens, JWTs, private keys, ``password=...``) and personal data (emails, phone
numbers, card numbers, IPv4 addresses) with typed placeholders such as ``<EMAIL>``,
and leave what a responder needs readable: service names, evidence ids, change ids,
git SHAs, ARNs and metric names. Pure functions, no I/O.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

__all__ = ["REDACTION_RULES", "redact", "redact_model", "redact_value"]

_Sub = str | Callable[[re.Match[str]], str]

# A key that names a secret: the word alone (`password`, `token`) or inside a longer name
# (`DB_PASSWORD`, `secret_key`, `X-Amz-Security-Token`, `client_secret_v2`).
_SECRET_WORDS = (r"passwords?|passwd|pwd|secrets?|api[_-]?keys?|apikey|access[_-]?keys?|private[_-]?keys?|"
                 r"secret[_-]?keys?|signing[_-]?keys?|encryption[_-]?keys?|master[_-]?keys?|tokens?|"
                 r"authorization|credentials?|x-amz-signature|signature|cookies?|session[_-]?id|sessid|dsn")
_SECRET_KEYS = r"(?:[A-Za-z0-9_.-]*?[_.-])?(?:" + _SECRET_WORDS + r")(?:[_.-][A-Za-z0-9_.-]*)?|pass"


def _luhn_card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    if not 13 <= len(digits) <= 19:
        return match.group(0)
    total = 0
    for i, d in enumerate(reversed(digits)):
        n = int(d)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return "<CARD>" if total % 10 == 0 else match.group(0)


def _mask_value(match: re.Match[str]) -> str:
    """``password=hunter2`` -> ``password=<REDACTED>``; a quoted value keeps its quotes."""
    key, sep, value = match.groups()
    quote = "\\\"" if value.startswith("\\\"") else (value[0] if value[0] in "\"'" else "")
    return f"{key}{sep}{quote}<REDACTED>{quote}"


def _aws_secret(match: re.Match[str]) -> str:
    """40 base64 characters with mixed case and a digit: not a (lower-case hex) git SHA."""
    s = match.group(0)
    if re.search(r"[A-Z]", s) and re.search(r"[a-z]", s) and re.search(r"[0-9/+]", s):
        return "<AWS_SECRET>"
    return s


# (name, pattern, replacement). Order matters: the most specific rules run first.
REDACTION_RULES: list[tuple[str, re.Pattern[str], _Sub]] = [
    ("PRIVATE_KEY", re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----.*?"
                               r"(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\Z)", re.S), "<PRIVATE_KEY>"),
    ("SLACK_WEBHOOK", re.compile(r"https://hooks\.slack(?:-gov)?\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/-]+"),
     "<SLACK_WEBHOOK>"),
    ("JWT", re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), "<JWT>"),
    ("BEARER", re.compile(r"\b(Bearer|Basic|Token)\s+(?!<)[A-Za-z0-9._~+/=-]{8,}", re.I), r"\1 <TOKEN>"),
    ("URL_CREDENTIALS", re.compile(r"(\b[a-z][a-z0-9+.-]*://)[^\s:/@]*:[^\s/@]+@", re.I), r"\1<CREDENTIALS>@"),
    ("COOKIE_HEADER", re.compile(r"(?<![\w-])((?:set-)?cookie)(\s*:\s*)(?![\\\"'])(?!<)[^\r\n\"']+", re.I),
     r"\1\2<REDACTED>"),
    ("KEY_VALUE", re.compile(r"(?<![\w.-])(" + _SECRET_KEYS + r")(\\?[\"']?\s*[=:]\s*)"
                             r"(\\\"(?:[^\\]|\\(?!\"))*\\\"|\"[^\"]*\"|'[^']*'|(?!<|(?:bearer|basic|token)\s)[^\s,;&\"'}\]\\]+)",
                             re.I), _mask_value),
    ("AWS_ACCESS_KEY", re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|AROA|ANPA|ANVA|APKA)[A-Z0-9]{16}\b"),
     "<AWS_ACCESS_KEY>"),
    ("API_TOKEN", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}|"
                             r"xox[abposr]-[A-Za-z0-9-]{10,}|xapp-[A-Za-z0-9-]{10,}|sk-[A-Za-z0-9_-]{20,}|"
                             r"glpat-[A-Za-z0-9_-]{20,}|(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,}|"
                             r"AIza[0-9A-Za-z_-]{35}|npm_[A-Za-z0-9]{36}|SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,})"),
     "<TOKEN>"),
    ("AWS_SECRET", re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"), _aws_secret),
    ("EMAIL", re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"),
     "<EMAIL>"),
    ("CARD", re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])"), _luhn_card),
    ("PHONE", re.compile(r"(?<![\w+])\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,5}(?![\w])"
                         r"|(?<![\w(])(?:\(\d{3}\)\s?|\d{3}[.-])\d{3}[.-]\d{4}(?![\w])"), "<PHONE>"),
    ("IPV4", re.compile(r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}"
                        r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?![\w]|\.\d)"), "<IP>"),
]


# A cheap test a text must pass before a costly rule runs: no cue, no possible match.
_CUES: dict[str, re.Pattern[str]] = {
    "PRIVATE_KEY": re.compile(r"PRIVATE KEY"),
    "SLACK_WEBHOOK": re.compile(r"hooks\.slack"),
    "JWT": re.compile(r"eyJ"),
    "BEARER": re.compile(r"bearer|basic|token", re.I),
    "URL_CREDENTIALS": re.compile(r"://"),
    "COOKIE_HEADER": re.compile(r"cookie", re.I),
    "KEY_VALUE": re.compile(r"pass|pwd|secret|key|token|authori|credential|signature|cookie|sess|dsn", re.I),
    "EMAIL": re.compile(r"@"),
}


def redact(text: str, keep: tuple[str, ...] = ()) -> str:
    """The text with every secret and piece of personal data replaced by a placeholder; the
    strings in `keep` (the account's own approvers, who are accountable by name) stay."""
    held = {}
    for i, word in enumerate(w for w in keep if w and w in text):
        held[f"\x00{i}\x00"] = word
        text = text.replace(word, f"\x00{i}\x00")
    for name, pattern, replacement in REDACTION_RULES:
        cue = _CUES.get(name)
        if cue is None or cue.search(text):
            text = pattern.sub(replacement, text)
    for marker, word in held.items():
        text = text.replace(marker, word)
    return text


def redact_value(value: Any, keep: tuple[str, ...] = ()) -> Any:
    """Redact every string inside a JSON-like value (dicts, lists, tuples); keys are kept."""
    if isinstance(value, str):
        return redact(value, keep)
    if isinstance(value, dict):
        return {k: redact_value(v, keep) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_value(v, keep) for v in value]
    return value


def redact_model(model: Any, keep: tuple[str, ...] = ()) -> Any:
    """A copy of a pydantic model with every string redacted (None stays None)."""
    if model is None:
        return None
    return type(model).model_validate(redact_value(model.model_dump(mode="json"), keep))
