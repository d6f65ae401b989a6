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


class ExpiredToken(InvalidToken):
    """Genuine, but too late."""


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
        raise ExpiredToken(f"this approval link expired at {expires:%Y-%m-%d %H:%M} UTC")
    return ApprovalToken(request_id=parts[0], expires_at=expires)


def confirmation_nonce(key: bytes, request_id: str, issued_at: datetime) -> str:
    """A nonce the approval page embeds in its form: a POST without a page view fails.

    Bound to the request and the moment the page was shown, and signed under its own
    prefix so it can never pass for a link signature.
    """
    issued = str(int(issued_at.timestamp()))
    return f"{issued}.{_sig(key, f'confirm:{request_id}:{issued}')}"


def check_confirmation(key: bytes, request_id: str, nonce: str, max_age_seconds: int,
                       now: datetime | None = None) -> None:
    issued, _, sig = (nonce or "").partition(".")
    if not issued.isdigit() or not hmac.compare_digest(_sig(key, f"confirm:{request_id}:{issued}"), sig):
        raise InvalidToken("this decision did not come from the approval page: open the link and use its buttons")
    age = (now or datetime.now(timezone.utc)).timestamp() - int(issued)
    if age > max_age_seconds or age < -60:
        raise ExpiredToken("the approval page was open too long: reload it and decide again")
