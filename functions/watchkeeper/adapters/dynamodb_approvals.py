"""The approval requests on the state table: claims, settlement and one-time codes.

Items (pk / sk), besides the request itself (`APPROVAL#<id> / META`, see dynamodb_state):
  APPROVAL#<id> / META       status pending -> deciding (claimed: claim id, who, when) ->
                             approved | rejected | timed_out; a claim that could not be
                             delivered goes back to pending
  APPROVAL#<id> / CODE#<subject>   one approver's one-time code: HMAC digest, decision, expiry,
                             guesses left, how many were sent and when

Every transition is a conditional write, so two clicks, two channels or a retried Lambda can
never both decide.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from .aws_errors import translate
from .dynamodb_state import DynamoDBIncidentStore, _s


class DynamoDBApprovalStore(DynamoDBIncidentStore):
    def get_approval(self, request_id: str) -> dict[str, Any] | None:
        out = super().get_approval(request_id)
        if out is not None:
            item = self._get(f"APPROVAL#{request_id}", "META") or {}
            for key in ("claimed_by", "claimed_at", "claim_id"):
                if key in item:
                    out[key] = item[key]["S"]
        return out

    def claim_approval(self, request_id: str, claim_id: str, who: str, channel: str, now: datetime,
                       stale_after_seconds: int) -> bool:
        """pending -> deciding, or take over a claim older than `stale_after_seconds`."""
        stale = str(int(now.timestamp()) - stale_after_seconds)
        return self._update(request_id, "SET #s = :deciding, claim_id = :c, claimed_by = :w, claimed_via = :ch, "
                                        "claimed_at = :at, claimed_epoch = :now",
                            "#s = :pending OR (#s = :deciding AND claimed_epoch < :stale)",
                            {":deciding": _s("deciding"), ":pending": _s("pending"), ":c": _s(claim_id), ":w": _s(who),
                             ":ch": _s(channel), ":at": _s(now.isoformat()), ":now": {"N": str(int(now.timestamp()))},
                             ":stale": {"N": stale}}, "claim approval")

    def release_claim(self, request_id: str, claim_id: str, status: str = "pending") -> bool:
        """A claim whose decision did not land: back to pending (or closed, when too late)."""
        return self._update(request_id, "SET #s = :new REMOVE claim_id, claimed_by, claimed_via, claimed_at, claimed_epoch",
                            "#s = :deciding AND claim_id = :c",
                            {":new": _s(status), ":deciding": _s("deciding"), ":c": _s(claim_id)}, "release approval")

    def settle_approval(self, request_id: str, claim_id: str, status: str, **details: str | None) -> bool:
        """deciding -> approved | rejected, once the workflow has the decision."""
        names, values, sets = {}, {":new": _s(status), ":deciding": _s("deciding"), ":c": _s(claim_id)}, ["#s = :new"]
        for i, (key, value) in enumerate(sorted((k, v) for k, v in details.items() if v)):
            names[f"#d{i}"], values[f":d{i}"] = key, _s(str(value))
            sets.append(f"#d{i} = :d{i}")
        return self._update(request_id, "SET " + ", ".join(sets), "#s = :deciding AND claim_id = :c", values,
                            "settle approval", names)

    # --- one-time codes ----------------------------------------------------------------------
    def save_code(self, request_id: str, subject: str, digest: str, decision: str, now: datetime, ttl_seconds: int,
                  max_sends: int, resend_seconds: int) -> bool:
        """A new code replaces the last one, at most `max_sends` times and not within `resend_seconds`."""
        epoch = int(now.timestamp())
        try:
            self._ddb.update_item(
                TableName=self._table, Key={"pk": _s(f"APPROVAL#{request_id}"), "sk": _s(f"CODE#{subject}")},
                UpdateExpression="SET digest = :d, decision = :dec, code_expires = :exp, guesses = :zero, "
                                 "last_sent = :now, expires_at = :ttl ADD sends :one",
                ConditionExpression="attribute_not_exists(sends) OR (sends < :max AND last_sent < :recent)",
                ExpressionAttributeValues={":d": _s(digest), ":dec": _s(decision),
                                           ":exp": {"N": str(epoch + ttl_seconds)}, ":zero": {"N": "0"},
                                           ":now": {"N": str(epoch)}, ":one": {"N": "1"},
                                           ":max": {"N": str(max_sends)}, ":recent": {"N": str(epoch - resend_seconds)},
                                           ":ttl": self._expiry()["expires_at"]})
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise translate(exc, "save one-time code") from exc
        return True

    def get_code(self, request_id: str, subject: str, now: datetime) -> dict[str, str] | None:
        """The live code of one approver (not expired, not burnt), without counting a guess."""
        item = self._get(f"APPROVAL#{request_id}", f"CODE#{subject}")
        if not item or "digest" not in item or int(item["code_expires"]["N"]) <= int(now.timestamp()):
            return None
        return {"digest": item["digest"]["S"], "decision": item["decision"]["S"]}

    def take_code_attempt(self, request_id: str, subject: str, now: datetime, max_guesses: int) -> dict[str, str] | None:
        """Count one guess against the live code; None when there is none, it expired or is used up."""
        try:
            resp = self._ddb.update_item(
                TableName=self._table, Key={"pk": _s(f"APPROVAL#{request_id}"), "sk": _s(f"CODE#{subject}")},
                UpdateExpression="ADD guesses :one",
                ConditionExpression="attribute_exists(digest) AND code_expires > :now AND guesses < :max",
                ExpressionAttributeValues={":one": {"N": "1"}, ":now": {"N": str(int(now.timestamp()))},
                                           ":max": {"N": str(max_guesses)}},
                ReturnValues="ALL_NEW")
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return None
            raise translate(exc, "check one-time code") from exc
        item = resp["Attributes"]
        return {"digest": item["digest"]["S"], "decision": item["decision"]["S"]}

    def burn_code(self, request_id: str, subject: str) -> None:
        """A code that decided can never decide again."""
        try:
            self._ddb.update_item(
                TableName=self._table, Key={"pk": _s(f"APPROVAL#{request_id}"), "sk": _s(f"CODE#{subject}")},
                UpdateExpression="REMOVE digest")
        except ClientError as exc:
            raise translate(exc, "burn one-time code") from exc

    def _update(self, request_id: str, expression: str, condition: str, values: dict[str, Any], what: str,
                names: dict[str, str] | None = None) -> bool:
        try:
            self._ddb.update_item(
                TableName=self._table, Key={"pk": _s(f"APPROVAL#{request_id}"), "sk": _s("META")},
                UpdateExpression=expression, ConditionExpression=condition,
                ExpressionAttributeNames={"#s": "status", **(names or {})}, ExpressionAttributeValues=values)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise translate(exc, what) from exc
        return True
