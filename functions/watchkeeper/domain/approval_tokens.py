"""Approval links: opaque, HMAC-signed, expiring tokens naming one pending request.

The Step Functions task token never leaves the backend; a link carries only
`<request id>.<expiry>.<signature>`. Single use is enforced by the store (a conditional
write marks the request decided).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timezone


class InvalidToken(ValueError):
    """Forged, tampered or expired: the reason is safe to show on the page."""


@dataclass(frozen=True)
class ApprovalToken:
    request_id: str
    expires_at: datetime


def _sig(key: bytes, body: str) -> str:
    return base64.urlsafe_b64encode(hmac.new(key, body.encode(), hashlib.sha256).digest()).decode().rstrip("=")


def sign(key: bytes, request_id: str, expires_at: datetime) -> str:
    body = f"{request_id}.{int(expires_at.timestamp())}"
    return f"{body}.{_sig(key, body)}"


def verify(key: bytes, token: str, now: datetime | None = None) -> ApprovalToken:
    parts = token.split(".")
    if len(parts) != 3 or not parts[1].isdigit():
        raise InvalidToken("this approval link is malformed")
    body = f"{parts[0]}.{parts[1]}"
    if not hmac.compare_digest(_sig(key, body), parts[2]):
        raise InvalidToken("this approval link is not genuine (signature mismatch)")
    expires = datetime.fromtimestamp(int(parts[1]), tz=timezone.utc)
    if (now or datetime.now(timezone.utc)) >= expires:
        raise InvalidToken(f"this approval link expired at {expires:%Y-%m-%d %H:%M} UTC")
    return ApprovalToken(request_id=parts[0], expires_at=expires)
