"""Approval links, page nonces and one-time codes: HMAC-signed, expiring, bound to one person.

The Step Functions task token never leaves the backend. A link carries only
`<request id>.<subject>.<expiry>.<signature>`, where the subject names the one person it was
sent to: `e-<approver ref>` (an approver's email address, by a hash: no address in a URL or
an access log) or `s-<Slack user id>` (a link Slack handed to that user alone). Single use is
enforced by the store (a conditional write marks the request decided).

The key rotates with two keys valid during a change-over: links are signed with the first
(current) key and accepted under either.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Sequence, Union

Keys = Union[bytes, Sequence[bytes]]

_REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SUBJECT = re.compile(r"^(e-[0-9a-f]{16}|s-[A-Z0-9]{2,32}|c-slack)$")
MAX_TOKEN_CHARS = 256


class InvalidToken(ValueError):
    """Forged, tampered or expired: the reason is safe to show on the page."""


class ExpiredToken(InvalidToken):
    """Genuine, but too late."""


@dataclass(frozen=True)
class ApprovalToken:
    request_id: str
    subject: str            # e-<approver ref> | s-<Slack user id> | c-slack (the Slack buttons: names the request, proves nobody)
    expires_at: datetime

    @property
    def channel(self) -> str:
        return "web" if self.subject.startswith("e-") else "slack"


def approver_ref(email: str) -> str:
    """A stable, non-reversible name for an approver's address: the link's subject and the SNS
    message attribute their email subscription filters on (the infra computes the same)."""
    return hashlib.sha256(f"watchkeeper-approver:{email.strip().lower()}".encode()).hexdigest()[:16]


def email_subject(email: str) -> str:
    return f"e-{approver_ref(email)}"


def slack_subject(user_id: str) -> str:
    return f"s-{user_id}"


def _keys(keys: Keys) -> tuple[bytes, ...]:
    out = (keys,) if isinstance(keys, (bytes, bytearray)) else tuple(k for k in keys if k)
    if not out:
        raise InvalidToken("no signing key is configured")
    return out


def _sig(key: bytes, body: str) -> str:
    return base64.urlsafe_b64encode(hmac.new(key, body.encode(), hashlib.sha256).digest()).decode().rstrip("=")


def _matches(keys: Keys, body: str, given: str) -> bool:
    given_b = given.encode("utf-8", "surrogatepass")
    return any(hmac.compare_digest(_sig(k, body).encode(), given_b) for k in _keys(keys))


def sign(keys: Keys, request_id: str, subject: str, expires_at: datetime) -> str:
    body = f"{request_id}.{subject}.{int(expires_at.timestamp())}"
    return f"{body}.{_sig(_keys(keys)[0], body)}"


def verify(keys: Keys, token: str, now: datetime | None = None) -> ApprovalToken:
    """The request and person a link names; InvalidToken for anything not signed by us."""
    token = str(token or "")
    parts = token.split(".")
    if (len(token) > MAX_TOKEN_CHARS or len(parts) != 4 or not _REQUEST_ID.match(parts[0])
            or not _SUBJECT.match(parts[1]) or not (parts[2].isascii() and parts[2].isdigit() and len(parts[2]) <= 11)):
        raise InvalidToken("this approval link is malformed")
    if not _matches(keys, ".".join(parts[:3]), parts[3]):
        raise InvalidToken("this approval link is not genuine (signature mismatch)")
    expires = datetime.fromtimestamp(int(parts[2]), tz=timezone.utc)
    if (now or datetime.now(timezone.utc)) >= expires:
        raise ExpiredToken(f"this approval link expired at {expires:%Y-%m-%d %H:%M} UTC")
    return ApprovalToken(request_id=parts[0], subject=parts[1], expires_at=expires)


def confirmation_nonce(keys: Keys, request_id: str, subject: str, issued_at: datetime, purpose: str = "confirm") -> str:
    """A nonce the approval page embeds in its form: a POST without a page view fails.

    Bound to the request, the person, the step (`purpose`) and the moment the page was shown,
    and signed under its own prefix so it can never pass for a link signature.
    """
    issued = str(int(issued_at.timestamp()))
    return f"{issued}.{_sig(_keys(keys)[0], f'{purpose}:{request_id}:{subject}:{issued}')}"


def check_confirmation(keys: Keys, request_id: str, subject: str, nonce: str, max_age_seconds: int,
                       now: datetime | None = None, purpose: str = "confirm") -> None:
    issued, _, sig = str(nonce or "").partition(".")
    if (not issued.isascii() or not issued.isdigit() or len(issued) > 11
            or not _matches(keys, f"{purpose}:{request_id}:{subject}:{issued}", sig)):
        raise InvalidToken("this decision did not come from the approval page: open the link and use its buttons")
    age = (now or datetime.now(timezone.utc)).timestamp() - int(issued)
    if age > max_age_seconds or age < -60:
        raise ExpiredToken("the approval page was open too long: reload it and decide again")


# --- one-time codes: the second proof behind an emailed link ---------------------------------------
CODE_DIGITS = 6


def new_code() -> str:
    return f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"


def code_digest(keys: Keys, request_id: str, subject: str, decision: str, code: str) -> str:
    """What the store keeps of a code: an HMAC bound to the request, the person and the decision."""
    return _sig(_keys(keys)[0], f"code:{request_id}:{subject}:{decision}:{code}")


def code_matches(keys: Keys, request_id: str, subject: str, decision: str, code: str, digest: str) -> bool:
    code = str(code or "").strip().replace(" ", "")
    if not (code.isascii() and code.isdigit() and len(code) == CODE_DIGITS):
        return False
    return _matches(keys, f"code:{request_id}:{subject}:{decision}:{code}", digest)
