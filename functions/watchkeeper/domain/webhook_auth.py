"""Who may post alerts: webhook authentication, pure (secrets are handed in).

The webhook secret (Secrets Manager, `WEBHOOK_SECRET_ARN`, read by the ingest function only)
is JSON with one key per source: `pagerduty`, `grafana`, `datadog`. A value is one secret, or
a list of two during a rotation (the new one first): either is accepted until the old one is
removed. There is no shared fallback: a source without its own secret is refused. Schemes:

- pagerduty: `X-PagerDuty-Signature: v1=<hex HMAC-SHA256 of the raw body>` (PagerDuty V3
  webhooks; several comma-separated signatures during a secret rotation, any may match).
- grafana: Grafana's webhook HMAC (`X-Grafana-Alerting-Signature: <hex HMAC-SHA256>` of
  `<timestamp>:<body>`, with the contact point's timestamp header `X-Grafana-Alerting-Timestamp`:
  required, and refused when more than five minutes from now, so a captured request cannot be
  replayed), or the contact point's `Authorization: Bearer <secret>`.
- datadog: a custom header in the webhook integration, `Authorization: Bearer <secret>` or
  `X-Watchkeeper-Token: <secret>`, or `X-Watchkeeper-Signature: sha256=<hex HMAC-SHA256>`.

Every comparison is constant-time over bytes, so any header value (non-ASCII, huge, empty)
is a refusal, never an exception. A refusal names its reason, never echoes the body.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping, Sequence

SOURCES = ("pagerduty", "grafana", "datadog")
MAX_CLOCK_SKEW_SECONDS = 300
MAX_HEADER_CHARS = 4096


class WebhookRefused(Exception):
    """The request is not authenticated; the message is safe to log (no body, no secret)."""


def safe_equal(given: str | bytes | None, expected: str | bytes) -> bool:
    """Constant-time equality that never raises: any bytes or characters compare, and lose."""
    if given is None:
        return False
    a = given if isinstance(given, bytes) else str(given).encode("utf-8", "surrogatepass")
    b = expected if isinstance(expected, bytes) else expected.encode("utf-8", "surrogatepass")
    return hmac.compare_digest(a, b)


def parse_epoch(value: str | None, max_digits: int = 12) -> int | None:
    """An ASCII decimal epoch (seconds), or None: '²', '١٢', '-1', '' and 40 digits are all None."""
    if value is None:
        return None
    value = str(value).strip()
    if not value or len(value) > max_digits or not value.isascii() or not value.isdigit():
        return None
    return int(value)


def parse_secrets(document: str | None) -> dict[str, tuple[str, ...]]:
    """The per-source secrets of the secret's JSON document: each source's accepted keys (one,
    or two during a rotation). Anything else in the document is ignored."""
    if not document:
        return {}
    try:
        data = json.loads(document)
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    out: dict[str, tuple[str, ...]] = {}
    for key, value in data.items():
        keys = _keys(value)
        if keys:
            out[str(key)] = keys
    return out


def _keys(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,) if value else ()
    if isinstance(value, Sequence):
        return tuple(str(v) for v in value if isinstance(v, str) and v)[:2]
    return ()


def secrets_for(source: str, secrets: Mapping[str, Sequence[str] | str]) -> tuple[str, ...]:
    """The keys one source accepts; never another source's."""
    return _keys(secrets.get(source))


def authenticate(source: str, headers: Mapping[str, str], body: bytes, secrets: Mapping[str, Sequence[str] | str],
                 now: float | None = None) -> None:
    """Return when the request is authentic for `source`; raise `WebhookRefused` otherwise."""
    if source not in SOURCES:
        raise WebhookRefused(f"unknown webhook source {source[:40]!r}")
    keys = secrets_for(source, secrets)
    if not keys:
        raise WebhookRefused(f"no secret configured for {source}")
    h = {str(k).lower(): str(v)[:MAX_HEADER_CHARS] for k, v in (headers or {}).items()}
    if source == "pagerduty":
        given = h.get("x-pagerduty-signature")
        if not given:
            raise WebhookRefused("pagerduty: missing X-PagerDuty-Signature")
        expected = ["v1=" + _hmac(k, body) for k in keys]
        if not any(safe_equal(sig.strip(), e) for sig in given.split(",")[:8] for e in expected):
            raise WebhookRefused("pagerduty: signature does not match")
        return
    if source == "grafana":
        signature = h.get("x-grafana-alerting-signature")
        if signature is not None:
            stamp = parse_epoch(h.get("x-grafana-alerting-timestamp"))
            if stamp is None:
                raise WebhookRefused("grafana: HMAC needs the X-Grafana-Alerting-Timestamp header (unix seconds)")
            if abs((time.time() if now is None else now) - stamp) > MAX_CLOCK_SKEW_SECONDS:
                raise WebhookRefused("grafana: stale request: the timestamp is more than five minutes off")
            signed = f"{stamp}:".encode() + body
            if any(safe_equal(signature.strip().lower(), _hmac(k, signed)) for k in keys):
                return
            raise WebhookRefused("grafana: signature does not match")
        _bearer_or_token(source, h, keys)
        return
    signature = h.get("x-watchkeeper-signature")
    if signature is not None:
        if any(safe_equal(signature.strip().lower(), "sha256=" + _hmac(k, body)) for k in keys):
            return
        raise WebhookRefused(f"{source}: signature does not match")
    _bearer_or_token(source, h, keys)


def _bearer_or_token(source: str, headers: Mapping[str, str], keys: Sequence[str]) -> None:
    auth = headers.get("authorization", "")
    token = auth[7:].strip() if auth[:7].lower() == "bearer " else headers.get("x-watchkeeper-token")
    if token is None:
        raise WebhookRefused(f"{source}: no credentials")
    if not any(safe_equal(token, k) for k in keys):
        raise WebhookRefused(f"{source}: wrong credentials")


def _hmac(key: str, body: bytes) -> str:
    return hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
