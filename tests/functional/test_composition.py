"""The composition root builds each function's adapters without touching what that function may not read."""
from __future__ import annotations

import boto3
from moto import mock_aws

from watchkeeper.composition import Container
from watchkeeper.settings import Settings


@mock_aws
def test_steps_build_without_reading_secrets_only_the_approval_functions_may_read(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:not-granted-to-this-function"
    cfg = Settings(signing_secret_arn=arn, webhook_secret_arn=arn, state_table="", approval_topic_arn="")
    steps = Container(cfg, boto3.session.Session(region_name="us-east-1")).steps()   # Classify, Gather, ...: no read
    assert steps.runbooks and callable(steps.signing_key)
    try:
        steps.signing_key()
    except Exception as exc:       # only when an approval link is actually signed
        assert "ResourceNotFound" in type(exc).__name__ or "ResourceNotFound" in str(exc)
    else:
        raise AssertionError("the signing key should have been read on demand")
