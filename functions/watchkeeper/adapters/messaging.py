"""Paging, approval notices, reports and workflow starts: SNS, S3 and Step Functions."""
from __future__ import annotations

import json
import time
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..models import Incident
from ..ports import TransientError
from .aws_errors import translate
from .aws_session import default_client


class SnsPager:
    def __init__(self, topic_arn: str, client: Any = None):
        self._topic = topic_arn
        self._sns = client or default_client("sns")

    def page(self, incident: Incident, subject: str, message: str) -> str | None:
        try:
            resp = self._sns.publish(TopicArn=self._topic, Subject=subject[:99], Message=message,
                                     MessageAttributes={"incident_id": {"DataType": "String", "StringValue": incident.id},
                                                        "severity": {"DataType": "String", "StringValue": incident.severity}})
        except ClientError as exc:
            raise translate(exc, "page on-call") from exc
        return resp.get("MessageId")


class SnsApprovalNotifier:
    """The email side of an approval request: one message per approver, each with that
    approver's own link, and the one-time codes. Every message carries the message attribute
    `approver` (a hash of the address, `approver_ref`); each approver's email subscription on
    the approval topic has a filter policy on it, so a message reaches that approver alone."""

    def __init__(self, topic_arn: str, client: Any = None):
        self._topic = topic_arn
        self._sns = client or default_client("sns")

    def request(self, incident: Incident, address: str, summary: str, url: str | None, title: str | None = None) -> None:
        """`summary` and `title` come from the redacted approval summary."""
        body = summary + (f"\n\nReview and decide (this link is yours alone; deciding needs a code we email you): "
                          f"{url}\n" if url else "")
        self._publish(address, f"Approval needed: {title or incident.id}", body, "request")

    def send_code(self, address: str, subject: str, body: str) -> None:
        self._publish(address, subject, body, "code")

    def _publish(self, address: str, subject: str, body: str, kind: str) -> None:
        from ..domain.approval_tokens import approver_ref
        try:
            self._sns.publish(TopicArn=self._topic, Subject=_subject(subject), Message=body,
                              MessageAttributes={"approver": {"DataType": "String", "StringValue": approver_ref(address)},
                                                 "kind": {"DataType": "String", "StringValue": kind}})
        except ClientError as exc:
            raise translate(exc, f"send approval {kind}") from exc


def _subject(text: str) -> str:
    """SNS subjects: printable ASCII, no line breaks, under 100 characters."""
    clean = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text.replace("\n", " "))
    return clean[:99] or "Watchkeeper"


class S3ReportStore:
    def __init__(self, bucket: str, client: Any = None):
        self._bucket = bucket
        self._s3 = client or default_client("s3")

    def uri(self, key: str) -> str:
        """Where `put(key, ...)` stores (or will store) an object: links can name a report before it exists."""
        return f"s3://{self._bucket}/{key}"

    def put(self, key: str, body: bytes, content_type: str) -> str:
        try:
            self._s3.put_object(Bucket=self._bucket, Key=key, Body=body, ContentType=content_type)
        except ClientError as exc:
            raise translate(exc, f"store {key}") from exc
        return f"s3://{self._bucket}/{key}"


class StepFunctionsStarter:
    """StartExecution named after the incident key: a duplicate start is a no-op."""

    def __init__(self, state_machine_arn: str, client: Any = None):
        self._arn = state_machine_arn
        self._sfn = client or default_client("stepfunctions")

    def start(self, incident_id: str, payload: dict[str, Any]) -> bool:
        try:
            self._sfn.start_execution(stateMachineArn=self._arn, name=incident_id, input=json.dumps(payload))
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ExecutionAlreadyExists":
                return False
            raise translate(exc, f"start workflow for {incident_id}") from exc
        return True


class SsmSettings:
    """The catalog and the kill switch, deployed with the stack as SSM parameters."""

    def __init__(self, catalog_parameter: str | None, kill_switch_parameter: str | None, client: Any = None):
        self._catalog = catalog_parameter
        self._kill = kill_switch_parameter
        self._ssm = client or default_client("ssm")

    def catalog_document(self) -> str | None:
        if not self._catalog:
            return None
        try:
            return self._ssm.get_parameter(Name=self._catalog)["Parameter"]["Value"]
        except ClientError as exc:
            raise translate(exc, f"read catalog {self._catalog}") from exc

    def kill_switch_on(self) -> bool:
        """On unless the parameter says exactly `off` (fail closed): a missing or unreadable
        parameter, `yes`, `enabled` or `ON!` all stop every write. A throttled read is tried
        again a few times, then counts as on."""
        return self.kill_switch_state()[0]

    def kill_switch_state(self) -> tuple[bool, str]:
        """(on, why) as the write path and `watchkeeper killswitch status` report it."""
        if not self._kill:
            return True, "no kill-switch parameter is configured"
        for attempt in range(3):
            try:
                value = self._ssm.get_parameter(Name=self._kill)["Parameter"]["Value"]
            except ClientError as exc:
                code = exc.response["Error"]["Code"]
                if code == "ParameterNotFound":
                    return True, f"the parameter {self._kill} does not exist"
                if isinstance(translate(exc, "read kill switch"), TransientError) and attempt < 2:
                    time.sleep(0.2 * (attempt + 1))
                    continue
                return True, f"the parameter {self._kill} could not be read ({code})"
            except (BotoCoreError, OSError) as exc:
                if attempt < 2:
                    time.sleep(0.2 * (attempt + 1))
                    continue
                return True, f"the parameter {self._kill} could not be read ({type(exc).__name__})"
            if value == "off":
                return False, f"{self._kill} is off"
            return True, f"{self._kill} is {value!r} (only exactly 'off' lets writes through)"
        return True, f"the parameter {self._kill} could not be read"
