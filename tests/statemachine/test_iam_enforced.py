"""The embedded AWS enforces each function's synthesized role, as AWS would."""
from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from watchkeeper import composition
from watchkeeper.local import iam
from watchkeeper.local.runtime import LocalAws
from watchkeeper.local.template import load_template

pytestmark = [pytest.mark.statemachine, pytest.mark.iam_denials_expected]


@pytest.fixture(scope="module")
def aws():
    with LocalAws(load_template("local")) as local:
        yield local


def as_function(aws: LocalAws, suffix: str):
    """Run the block as the function whose handler ends with `suffix` (its container, keys and role)."""
    return iam.CURRENT_FUNCTION.set(aws.function_for(suffix))


def test_a_step_cannot_do_what_its_role_does_not_grant(aws):
    token = as_function(aws, "handlers.diagnose.handler")
    try:
        c = composition.container()
        assert c.cfg.state_table and c.session is not aws.session, "each function has its own container and keys"
        with pytest.raises(ClientError) as denied:
            c.client("sns").publish(TopicArn=aws.env("PAGE_TOPIC_ARN"), Message="hello")
        assert denied.value.response["Error"]["Code"] == "AuthorizationError"
        with pytest.raises(ClientError) as denied:
            c.client("dynamodb").delete_item(TableName=aws.env("AUDIT_TABLE"),
                                             Key={"incident_id": {"S": "x"}, "seq": {"S": "1"}})
        assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
        # what it is granted works: reading the kill switch, appending to the audit trail
        c.client("ssm").get_parameter(Name=aws.env("KILL_SWITCH_PARAMETER"))
        c.client("dynamodb").put_item(TableName=aws.env("AUDIT_TABLE"),
                                      Item={"incident_id": {"S": "x"}, "seq": {"S": "1"}})
    finally:
        iam.CURRENT_FUNCTION.reset(token)
    denials = {(d["action"], d["resource"].rsplit(":", 1)[-1]) for d in aws.iam_report["denied"]}
    assert ("sns:Publish", aws.env("PAGE_TOPIC_ARN").rsplit(":", 1)[-1]) in denials


def test_environment_credentials_inside_a_handler_are_the_functions_role(aws):
    """A client built from the environment (not the composition root) inside a handler is still the function."""
    import boto3

    token = as_function(aws, "handlers.classify.handler")
    try:
        with pytest.raises(ClientError):
            boto3.client("s3", region_name=aws.region).put_object(Bucket=aws.env("REPORT_BUCKET"), Key="reports/x",
                                                                  Body=b"x")
    finally:
        iam.CURRENT_FUNCTION.reset(token)


def test_the_harness_is_not_a_function(aws):
    aws.client("s3").put_object(Bucket=aws.env("REPORT_BUCKET"), Key="reports/harness", Body=b"x")


def test_the_state_machine_may_invoke_exactly_its_functions(aws):
    machine = aws.policies.principals["StateMachine"]
    invoked = {lid for lid in aws.handlers
               if any(s.covers("lambda:InvokeFunction", aws.resolver.arns[lid], {}) for s in machine.statements)}
    not_invoked = set(aws.handlers) - invoked
    assert aws.function_for("handlers.execute.handler") in invoked
    assert aws.function_for("handlers.ingest.handler") in not_invoked
    assert aws.function_for("handlers.approvals_api.handler") in not_invoked
