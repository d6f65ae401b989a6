"""`watchkeeper approve|reject INCIDENT`: a decision from the terminal, as the caller's AWS identity.

The CLI asks STS who the caller is (GetCallerIdentity), refuses early when that ARN is not in
the account's `approver_arns`, then sends the decision to the approvals API's IAM-authorized
route, SigV4-signed with the same credentials: API Gateway proves the identity, and the
approvals function checks it against the approver ARNs again before it decides. Locally (no
stack) it talks to the running demo's approval server, signed as the embedded AWS's local IAM
user, and says so.
"""
from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class TerminalDecisionError(RuntimeError):
    """Nothing was sent, or the API refused: the message says why."""


@dataclass
class Target:
    url: str                 # the HTTP API base URL
    region: str
    session: Any             # boto3 session whose credentials sign the request
    local: bool


def find_target(api_url: str | None, home: Path) -> Target:
    import boto3

    if api_url:
        session = boto3.session.Session()
        return Target(api_url.rstrip("/"), session.region_name or "us-east-1", session, local=False)
    state = home / "approval-server.json"
    if not state.is_file():
        raise TerminalDecisionError(
            "no approval API to talk to: pass --api-url (the stack's HttpApiUrl output) or set WATCHKEEPER_API_URL; "
            f"locally, start `make demo` first (it serves the approval API and writes {state})")
    doc = json.loads(state.read_text())
    session = boto3.session.Session(aws_access_key_id=doc["access_key_id"], aws_secret_access_key=doc["secret_access_key"],
                                    region_name=doc["region"])
    return Target(doc["url"].rstrip("/"), doc["region"], session, local=True)


def caller_arn(target: Target) -> str | None:
    """GetCallerIdentity with the credentials that will sign (None locally: the embedded STS
    lives in the demo's process, which names the caller in its answer)."""
    if target.local:
        return None
    try:
        return target.session.client("sts").get_caller_identity()["Arn"]
    except Exception as exc:  # no credentials, expired session, no network: nothing was sent
        raise TerminalDecisionError(f"could not ask STS who you are ({type(exc).__name__}: {exc}); nothing was sent") from None


def send(target: Target, incident_id: str, approved: bool, reason: str) -> tuple[int, dict[str, Any]]:
    """POST the decision to /terminal/decisions, SigV4-signed for execute-api."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    body = json.dumps({"incident_id": incident_id, "decision": "approve" if approved else "reject",
                       "reason": reason}).encode()
    url = f"{target.url}/terminal/decisions"
    request = AWSRequest(method="POST", url=url, data=body, headers={"content-type": "application/json"})
    credentials = target.session.get_credentials()
    if credentials is None:
        raise TerminalDecisionError("no AWS credentials to sign the decision with; nothing was sent")
    SigV4Auth(credentials.get_frozen_credentials(), "execute-api", target.region).add_auth(request)
    prepared = urllib.request.Request(url, data=body, method="POST", headers=dict(request.headers.items()))
    try:
        with urllib.request.urlopen(prepared, timeout=15) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw or b"{}")
        except ValueError:
            return exc.code, {"error": raw.decode("utf-8", "replace")[:300]}
    except (urllib.error.URLError, OSError) as exc:
        raise TerminalDecisionError(f"could not reach {url} ({exc}); nothing was sent") from None


def approver_arns_for(account: str | None) -> tuple[str, ...] | None:
    """The account's approver ARNs from cdk.json (None when the CLI runs outside the repo)."""
    try:
        from infra.config import load_cdk_json_context
        accounts = load_cdk_json_context().get("accounts", {})
    except Exception:
        return None
    entry = accounts.get(account or os.environ.get("WATCHKEEPER_ACCOUNT", "")) if accounts else None
    return tuple(entry.get("approver_arns", [])) if isinstance(entry, dict) else None
