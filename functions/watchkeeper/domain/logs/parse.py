"""Parse one application log line into timestamp, level, message and fields.

Handles the three shapes services emit:

* JSON objects (``{"level":"info","msg":"request completed","path":"/v1"}``),
* logfmt / key=value lines (``level=info msg="request completed" path=/v1``),
* plain text (``INFO [cart.access] 10.29.11.190 "GET /v1/cart" 200 146.6ms``),

optionally preceded by an RFC3339 / ISO-8601 timestamp (as written by log shippers
such as CloudWatch exports: ``2026-11-29T01:55:14.302Z <message>``). A JSON object or
key=value block that trails a plain message (zap's console encoder:
``INFO\\tcaller.go:41\\trequest completed\\t{"status":200}``) becomes ``fields``.

Stdlib only; this sits on the hot path of ``watchkeeper logs cluster``.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ParsedLine", "http_status", "parse_line", "template_text", "strip_timestamp"]

# 2026-11-29T01:55:14.302Z / 2026-11-29 01:55:14,302 / 2026-11-29T01:55:14+02:00
_TS_RE = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2}|\s?UTC)?(?=\s|$)\s*"
)
_LEVELS = {
    "TRACE": "TRACE", "DEBUG": "DEBUG", "DBG": "DEBUG", "INFO": "INFO", "INF": "INFO",
    "NOTICE": "NOTICE", "WARN": "WARN", "WARNING": "WARN", "WRN": "WARN", "ERROR": "ERROR",
    "ERR": "ERROR", "CRITICAL": "CRITICAL", "CRIT": "CRITICAL", "FATAL": "FATAL",
    "PANIC": "FATAL", "EMERG": "FATAL", "ALERT": "CRITICAL", "SEVERE": "ERROR",
}
_MSG_KEYS = ("msg", "message", "log", "event", "text")
_LEVEL_KEYS = ("level", "lvl", "severity", "loglevel", "log.level", "levelname")
_TS_KEYS = ("ts", "time", "timestamp", "@timestamp", "t", "datetime", "asctime")
# key=value, value quoted (with escapes) or bare
_KV_RE = re.compile(r'(?:^|(?<=\s))([A-Za-z_@][\w.@/-]*)=("(?:[^"\\]|\\.)*"|\S*)')
_LEADING_LEVEL_RE = re.compile(r"\[?([A-Za-z]{3,8})\]?(?:\s+|:\s*|\t)")


@dataclass
class ParsedLine:
    """One log line split into its parts. ``message`` is what gets mined."""

    message: str
    timestamp: str | None = None
    level: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    kind: str = "plain"  # "plain" | "kv" | "json"


def strip_timestamp(line: str) -> tuple[str | None, str]:
    """Split a leading ISO-8601/RFC3339 timestamp off ``line``."""
    if len(line) >= 16 and line[4:5] == "-" and line[:4].isdigit():
        m = _TS_RE.match(line)
        if m:
            return m.group(0).strip(), line[m.end():]
    return None, line


# pino / bunyan write the level as a number (JSON only: a digit in text is never read as a level)
_NUMERIC_LEVELS = {10: "TRACE", 20: "DEBUG", 30: "INFO", 40: "WARN", 50: "ERROR", 60: "FATAL"}


def _norm_level(value: Any) -> str | None:
    if value is None:
        return None
    if type(value) is int and value in _NUMERIC_LEVELS:
        return _NUMERIC_LEVELS[value]
    s = str(value).strip().upper()
    return _LEVELS.get(s, s or None)


def _unquote(v: str) -> str:
    if len(v) >= 2 and v[0] == '"' and v[-1] == '"':
        inner = v[1:-1]
        if "\\" in inner:
            try:
                return json.loads(v)
            except ValueError:
                return inner
        return inner
    return v


# Serilog's compact JSON (CLEF): "@mt" the message template, "@m" the rendered message, "@l" the level (absent
# means Information), "@x" the exception; the template's {Properties} are top-level keys
_HOLE_RE = re.compile(r"\{([@$]?)([A-Za-z_][\w.]*)(?:[,:][^{}]*)?\}")


def _from_clef(obj: dict[str, Any], ts: str | None) -> ParsedLine:
    fields = dict(obj)
    template = fields.pop("@mt", None)
    rendered = fields.pop("@m", None)
    if not isinstance(rendered, str):
        def hole(m: re.Match[str]) -> str:
            v = fields.get(m.group(2))
            return m.group(0) if v is None else (json.dumps(v) if isinstance(v, (dict, list)) else str(v))
        rendered = _HOLE_RE.sub(hole, template) if isinstance(template, str) else ""
    level = _norm_level(fields.pop("@l", None) or fields.pop("@level", None)) or "INFO"
    exc = fields.pop("@x", None)
    if isinstance(exc, str) and exc.strip():      # the exception's first line names what failed
        rendered = f"{rendered} | {exc.strip().splitlines()[0]}"
    ts = ts or (str(fields["@t"]) if "@t" in fields else None)
    fields.pop("@t", None)
    fields.pop("@i", None)
    return ParsedLine(message=rendered, timestamp=ts, level=level, fields=fields, kind="json")


def _from_mapping(obj: dict[str, Any], ts: str | None, kind: str) -> ParsedLine:
    if kind == "json" and ("@mt" in obj or "@m" in obj):
        return _from_clef(obj, ts)
    fields = dict(obj)
    msg = None
    for k in _MSG_KEYS:
        if k in fields and isinstance(fields[k], str):
            msg = fields.pop(k)
            break
    level = None
    for k in _LEVEL_KEYS:
        if k in fields:
            level = _norm_level(fields.pop(k))
            break
    if ts is None:
        for k in _TS_KEYS:
            if k in fields:
                ts = str(fields[k])
                break
    if msg is None:
        # no message field: the shape of the record (its keys) is the message
        msg = " ".join(f"{k}={v}" for k, v in fields.items() if k not in _TS_KEYS)
    return ParsedLine(message=msg, timestamp=ts, level=level, fields=fields, kind=kind)


def _parse_kv(rest: str) -> dict[str, str] | None:
    pairs = _KV_RE.findall(rest)
    if not pairs:
        return None
    keys = {k for k, _ in pairs}
    # logfmt only when it looks like a structured record, not prose that happens to
    # contain "uid=0": it has a message or level key, or starts with key=.
    if not (keys & {*_MSG_KEYS, *_LEVEL_KEYS}) and not _KV_RE.match(rest):
        return None
    return {k: _unquote(v) for k, v in pairs}


def parse_line(line: str) -> ParsedLine:
    """Parse one log line (no trailing newline needed)."""
    line = line.rstrip("\r\n")
    ts, rest = strip_timestamp(line)
    s = rest.strip()
    if s.startswith("{") and s.endswith("}"):
        try:
            obj = json.loads(s)
        except ValueError:
            obj = None
        if isinstance(obj, dict):
            return _from_mapping(obj, ts, "json")
    if "=" in s and (s[:1].isalpha() or s[:1] in "@_"):
        kv = _parse_kv(s)
        if kv is not None and (kv.keys() & {*_MSG_KEYS, *_LEVEL_KEYS}):
            return _from_mapping(kv, ts, "kv")
    level = None
    fields: dict[str, Any] = {}
    m = _LEADING_LEVEL_RE.match(s)
    if m and m.group(1).upper() in _LEVELS:
        level = _LEVELS[m.group(1).upper()]
        s = s[m.end():]
    # zap console encoder: "<caller>\t<message>\t{json fields}"
    if s.endswith("}") and "\t{" in s:
        head, _, tail = s.rpartition("\t{")
        try:
            obj = json.loads("{" + tail)
        except ValueError:
            obj = None
        if isinstance(obj, dict):
            fields = obj
            s = head
    if "\t" in s:
        parts = s.split("\t")
        if len(parts) >= 2 and " " not in parts[0] and (".go:" in parts[0] or ".py:" in parts[0]
                                                        or ".java:" in parts[0]):
            fields["caller"] = parts[0]
            s = "\t".join(parts[1:])
    return ParsedLine(message=s.strip(), timestamp=ts, level=level, fields=fields, kind="plain")


def template_text(p: ParsedLine) -> str:
    """The text the miner clusters: level plus message (values of fields are not part of
    the template; for structured records without a message the keys are)."""
    if p.level:
        return f"{p.level} {p.message}"
    return p.message


_STATUS_KEYS = ("status", "status_code", "statusCode", "http_status", "httpStatus", "response_code", "responseCode",
                "code", "http.status_code", "http.response.status_code")
# common/combined log format ('"GET /x HTTP/1.1" 401 512'), or "status=401" / "status: 401" / "-> 401" in prose
_STATUS_RE = re.compile(r'HTTP/\d(?:\.\d)?"?\s+(\d{3})\b|\b(?:status|status_code|code)[=:]\s*"?(\d{3})\b|->\s*(\d{3})\b')


def http_status(p: ParsedLine) -> int | None:
    """The HTTP status an access-log line reports (a field, or the status after the request line), if any."""
    fields = p.fields
    if fields:
        lower = {k.lower(): v for k, v in fields.items() if isinstance(k, str)}    # .NET writes "StatusCode"
        for k in _STATUS_KEYS:
            v = fields.get(k, lower.get(k.lower()))
            if v is not None:
                break
        else:
            res = fields.get("res") or fields.get("response")
            v = (res.get("statusCode") or res.get("status")) if isinstance(res, dict) else None
        if isinstance(v, str) and v.isdigit():
            v = int(v)
        if isinstance(v, int) and 100 <= v <= 599:
            return v
    m = _STATUS_RE.search(p.message)
    if m:
        return int(next(g for g in m.groups() if g))
    return None
