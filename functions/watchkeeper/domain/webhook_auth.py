"""Who may post alerts: webhook authentication, pure (secrets are handed in).

The secret document (Secrets Manager, `WEBHOOK_SECRET_ARN`) is JSON with the keys
`pagerduty`, `grafana`, `datadog`, `slack` and `shared`; an empty or missing source key
falls back to `shared`. Schemes, per source:

- pagerduty: `X-PagerDuty-Signature: v1=<hex HMAC-SHA256 of the raw body>` (PagerDuty V3
  webhooks; several comma-separated signatures during a secret rotation, any may match).
- grafana: Grafana's webhook HMAC (`X-Grafana-Alerting-Signature: <hex HMAC-SHA256>`, of
  `<timestamp>:<body>` when `X-Grafana-Alerting-Timestamp` is sent), or the contact point's
  `Authorization: Bearer <secret>`.
- datadog: a custom header in the webhook integration, `Authorization: Bearer <secret>` or
  `X-Watchkeeper-Token: <secret>`, or `X-Watchkeeper-Signature: sha256=<hex HMAC-SHA256>`.

Every comparison is constant-time. A refusal names its reason, never echoes the body.
"""
from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping

SOURCES = ("pagerduty", "grafana", "datadog")


class WebhookRefused(Exception):
    """The request is not authenticated; the message is safe to log (no body, no secret)."""


def parse_secrets(document: str | None) -> dict[str, str]:
    """The per-source secrets of the secret's JSON document (a bare string is the shared secret)."""
    if not document:
        return {}
    try:
        data = json.loads(document)
    except ValueError:
        return {"shared": document}
    if not isinstance(data, dict):
        return {}
    return {str(k): str(v) for k, v in data.items() if isinstance(v, (str, int)) and str(v)}


def secret_for(source: str, secrets: Mapping[str, str]) -> str | None:
    return secrets.get(source) or secrets.get("shared") or None


def authenticate(source: str, headers: Mapping[str, str], body: bytes, secrets: Mapping[str, str]) -> None:
    """Return when the request is authentic for `source`; raise `WebhookRefused` otherwise."""
    if source not in SOURCES:
        raise WebhookRefused(f"unknown webhook source {source[:40]!r}")
    secret = secret_for(source, secrets)
    if not secret:
        raise WebhookRefused(f"no secret configured for {source}")
    h = {str(k).lower(): str(v) for k, v in headers.items()}
    key = secret.encode()
    if source == "pagerduty":
        given = h.get("x-pagerduty-signature")
        if not given:
            raise WebhookRefused("pagerduty: missing X-PagerDuty-Signature")
        expected = "v1=" + _hmac(key, body)
        if not any(hmac.compare_digest(sig.strip(), expected) for sig in given.split(",")):
            raise WebhookRefused("pagerduty: signature does not match")
        return
    if source == "grafana":
        signature = h.get("x-grafana-alerting-signature")
        if signature is not None:
            stamp = h.get("x-grafana-alerting-timestamp")
            signed = f"{stamp}:".encode() + body if stamp else body
            if hmac.compare_digest(signature.strip().lower(), _hmac(key, signed)):
                return
            raise WebhookRefused("grafana: signature does not match")
        _bearer_or_token(source, h, secret)
        return
    signature = h.get("x-watchkeeper-signature")
    if signature is not None:
        if hmac.compare_digest(signature.strip().lower(), "sha256=" + _hmac(key, body)):
            return
        raise WebhookRefused(f"{source}: signature does not match")
    _bearer_or_token(source, h, secret)


def _bearer_or_token(source: str, headers: Mapping[str, str], secret: str) -> None:
    auth = headers.get("authorization", "")
    token = auth[7:].strip() if auth[:7].lower() == "bearer " else headers.get("x-watchkeeper-token")
    if token is None:
        raise WebhookRefused(f"{source}: no credentials")
    if not hmac.compare_digest(token.encode(), secret.encode()):
        raise WebhookRefused(f"{source}: wrong credentials")


def _hmac(key: bytes, body: bytes) -> str:
    return hmac.new(key, body, hashlib.sha256).hexdigest()
