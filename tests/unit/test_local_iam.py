"""The embedded AWS's IAM evaluator: as strict as AWS where moto is lenient."""
from __future__ import annotations

import pytest

from watchkeeper.local.iam import (
    Access, Policies, Principal, World, check_delivery, condition_holds, matches, parse_policy, requests_for,
)

ACCOUNT = "123456789012"
TABLE = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/state"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/data"
TOPIC = f"arn:aws:sns:us-east-1:{ACCOUNT}:page"
ROOT_KEY_POLICY = parse_policy({"Statement": [
    {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*"}]})
WORLD = World(account=ACCOUNT, region="us-east-1", table_keys={"state": KEY}, topic_keys={TOPIC: KEY})
BASE = {"aws:SecureTransport": "true", "aws:RequestedRegion": "us-east-1"}


def role(*statements: dict) -> Principal:
    return Principal("Fn", f"arn:aws:iam::{ACCOUNT}:role/FnRole", ACCOUNT, parse_policy({"Statement": list(statements)}))


def decide(principal: Principal, service: str, operation: str, params: dict, policies: Policies | None = None) -> list:
    policies = policies or Policies(key_policies={KEY: ROOT_KEY_POLICY})
    return [policies.decide(principal, a, BASE) for a in requests_for(service, operation, params, WORLD)]


def test_wildcards_match_like_iam():
    assert matches("arn:aws:logs:*:*:log-group:/eks/*", "arn:aws:logs:us-east-1:1:log-group:/eks/prod/x:*")
    assert matches("dynamodb:Get*", "dynamodb:GetItem") and not matches("dynamodb:Get*", "dynamodb:PutItem")
    assert matches("arn:aws:s3:::b/?", "arn:aws:s3:::b/x") and not matches("arn:aws:s3:::b/?", "arn:aws:s3:::b/xy")
    assert not matches("arn:aws:ssm:*:*:parameter/prod/*", "*"), "a scoped grant never covers an unscoped action"


def test_a_read_grant_does_not_allow_a_write():
    reader = role({"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:Query"], "Resource": TABLE},
                  {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": KEY})
    assert decide(reader, "dynamodb", "GetItem", {"TableName": "state"}) == [None]
    assert "no identity-based policy" in decide(reader, "dynamodb", "PutItem", {"TableName": "state"})[0]


def test_a_write_to_a_table_with_a_customer_managed_key_needs_the_key_too():
    writer = role({"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": TABLE},
                  {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": KEY})
    (why,) = decide(writer, "dynamodb", "PutItem", {"TableName": "state"})
    assert why and "implicit kms:GenerateDataKey" in why
    full = role({"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": TABLE},
                {"Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": KEY})
    assert decide(full, "dynamodb", "PutItem", {"TableName": "state"}) == [None]


def test_a_key_policy_that_does_not_delegate_to_the_account_refuses_even_a_granted_role():
    full = role({"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": TABLE},
                {"Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": KEY})
    locked = Policies(key_policies={KEY: parse_policy({"Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/Admin"}, "Action": "kms:*", "Resource": "*"}]})})
    assert "key policy" in decide(full, "dynamodb", "PutItem", {"TableName": "state"}, locked)[0]


def test_transactions_and_batches_are_checked_per_table_and_kind():
    writer = role({"Effect": "Allow", "Action": ["dynamodb:PutItem", "dynamodb:BatchWriteItem"], "Resource": TABLE},
                  {"Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": KEY})
    items = [{"Put": {"TableName": "state", "Item": {}}}, {"Update": {"TableName": "state", "Key": {}}}]
    results = decide(writer, "dynamodb", "TransactWriteItems", {"TransactItems": items})
    assert results[0] is None and "dynamodb:UpdateItem" not in str(results[0]) and results[1] is not None
    assert decide(writer, "dynamodb", "BatchWriteItem", {"RequestItems": {"state": []}}) == [None]
    assert decide(writer, "dynamodb", "BatchWriteItem", {"RequestItems": {"other": []}})[0] is not None


def test_an_explicit_deny_wins_and_conditions_are_evaluated():
    tls_only = parse_policy({"Statement": [
        {"Effect": "Deny", "Principal": "*", "Action": "sns:Publish", "Resource": TOPIC,
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]})
    policies = Policies(resource_policies={TOPIC: tls_only}, key_policies={KEY: ROOT_KEY_POLICY})
    publisher = role({"Effect": "Allow", "Action": "sns:Publish", "Resource": TOPIC},
                     {"Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": KEY})
    assert policies.decide(publisher, Access("sns:Publish", TOPIC), BASE) is None
    assert "explicitly denied" in policies.decide(publisher, Access("sns:Publish", TOPIC),
                                                  {**BASE, "aws:SecureTransport": "false"})


@pytest.mark.parametrize("operator,block,context,expected", [
    ("StringEquals", {"ssm:resourceTag/managed": "true"}, {"ssm:resourceTag/managed": "true"}, True),
    ("StringEquals", {"ssm:resourceTag/managed": "true"}, {}, False),                   # missing key: no match
    ("StringEqualsIfExists", {"ssm:resourceTag/managed": "true"}, {}, True),
    ("StringNotEquals", {"aws:SourceAccount": "1"}, {}, True),                            # negated, missing: true
    ("StringLike", {"aws:SourceArn": "arn:aws:sns:*:1:alerts*"}, {"aws:SourceArn": "arn:aws:sns:us-east-1:1:alerts-x"}, True),
    ("ArnLike", {"aws:SourceArn": "arn:aws:sns:*:1:alerts"}, {"aws:SourceArn": "arn:aws:sns:us-east-1:2:alerts"}, False),
    ("Null", {"aws:SourceArn": "true"}, {}, True),
    ("ForAllValues:StringEquals", {"dynamodb:LeadingKeys": ["a", "b"]}, {"dynamodb:LeadingKeys": ["a"]}, True),
    ("ForAllValues:StringEquals", {"dynamodb:LeadingKeys": ["a"]}, {"dynamodb:LeadingKeys": ["a", "c"]}, False),
])
def test_condition_operators(operator, block, context, expected):
    assert condition_holds(operator, block, context) is expected


def test_an_unknown_condition_operator_is_an_error_not_an_allow():
    with pytest.raises(NotImplementedError):
        condition_holds("IpAddress", {"aws:SourceIp": "10.0.0.0/8"}, {"aws:SourceIp": "10.1.2.3"})


@pytest.mark.parametrize("service,operation,params,expected", [
    ("lambda", "Invoke", {"FunctionName": "Fn"}, ("lambda:InvokeFunction", f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:Fn")),
    ("logs", "FilterLogEvents", {"logGroupName": "/eks/x"}, ("logs:FilterLogEvents", f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/eks/x:*")),
    ("ssm", "GetParameter", {"Name": "/wk/kill"}, ("ssm:GetParameter", f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/wk/kill")),
    ("s3", "PutObject", {"Bucket": "b", "Key": "reports/1.md"}, ("s3:PutObject", "arn:aws:s3:::b/reports/1.md")),
    ("ecs", "UpdateService", {"cluster": "prod", "service": "web"}, ("ecs:UpdateService", f"arn:aws:ecs:us-east-1:{ACCOUNT}:service/prod/web")),
    ("cloudwatch", "GetMetricData", {"MetricDataQueries": []}, ("cloudwatch:GetMetricData", "*")),
    ("bedrock-runtime", "Converse", {"modelId": "us.anthropic.claude-x"},
     ("bedrock:InvokeModel", f"arn:aws:bedrock:us-east-1:{ACCOUNT}:inference-profile/us.anthropic.claude-x")),
    ("stepfunctions", "StartExecution", {"stateMachineArn": "arn:sm"}, ("states:StartExecution", "arn:sm")),
])
def test_each_call_names_its_action_and_resource(service, operation, params, expected):
    (access, *_) = requests_for(service, operation, params, WORLD)
    assert (access.action, access.resource) == expected


def test_run_command_is_checked_on_every_targeted_instance_with_its_tags():
    world = World(account=ACCOUNT, region="us-east-1", instance_tags=lambda i: {"watchkeeper:managed": "true"} if i == "i-1" else {},
                  instances_tagged=lambda tag, values: ["i-1", "i-2"])
    accesses = requests_for("ssm", "SendCommand", {"DocumentName": "AWS-RunShellScript",
                                                   "Targets": [{"Key": "tag:Service", "Values": ["web"]}]}, world)
    sender = role({"Effect": "Allow", "Action": "ssm:SendCommand", "Resource": "arn:aws:ssm:us-east-1::document/AWS-RunShellScript"},
                  {"Effect": "Allow", "Action": "ssm:SendCommand", "Resource": f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/*",
                   "Condition": {"StringEquals": {"ssm:resourceTag/watchkeeper:managed": "true"}}})
    verdicts = [Policies().decide(sender, a, BASE) for a in accesses]
    assert verdicts[:2] == [None, None] and verdicts[2] is not None, "the untagged instance is refused"


def test_a_service_principal_needs_the_resource_policy_and_the_key_policy():
    topic_policy = parse_policy({"Statement": [
        {"Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"}, "Action": "sns:Publish", "Resource": TOPIC,
         "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}}]})
    cloudwatch_key = parse_policy({"Statement": [
        {"Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"}, "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
         "Resource": "*"}]})
    ok = Policies(resource_policies={TOPIC: topic_policy}, key_policies={KEY: cloudwatch_key})
    args = ("cloudwatch.amazonaws.com", "sns:Publish", TOPIC, ACCOUNT, KEY, ("kms:GenerateDataKey", "kms:Decrypt"))
    assert check_delivery(ok, *args) is None
    assert check_delivery(Policies(key_policies={KEY: cloudwatch_key}), *args) is not None, "no topic statement"
    assert check_delivery(Policies(resource_policies={TOPIC: topic_policy}, key_policies={KEY: ROOT_KEY_POLICY}),
                          *args) is not None, "a key policy that only delegates to IAM does not cover a service"


def test_ecs_tasks_are_checked_with_their_cluster():
    restarter = role({"Effect": "Allow", "Action": ["ecs:StopTask"], "Resource": f"arn:aws:ecs:us-east-1:{ACCOUNT}:task/prod/*"},
                     {"Effect": "Allow", "Action": "ecs:ListTasks", "Resource": "*",
                      "Condition": {"ArnEquals": {"ecs:cluster": [f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/prod"]}}})
    assert decide(restarter, "ecs", "StopTask", {"cluster": "prod", "task": "abc"}) == [None]
    assert decide(restarter, "ecs", "StopTask", {"cluster": "other", "task": "abc"})[0] is not None
    assert decide(restarter, "ecs", "ListTasks", {"cluster": "prod", "serviceName": "web"}) == [None]
    assert decide(restarter, "ecs", "ListTasks", {"cluster": "other", "serviceName": "web"})[0] is not None


def test_codedeploy_is_checked_on_the_deployment_group_even_by_deployment_id():
    """GetDeployment names only an id: AWS authorizes it on the deployment's group. CreateDeployment
    also needs the deployment configuration and the application revision."""
    cd = f"arn:aws:codedeploy:us-east-1:{ACCOUNT}"
    world = World(account=ACCOUNT, region="us-east-1",
                  deployment_group_of=lambda i: ("invoicing", "invoicing-asg") if i == "d-AAAAAAAAA" else None,
                  deployment_config_of=lambda app, group: "CodeDeployDefault.HalfAtATime")
    deployer = role(
        {"Effect": "Allow", "Action": ["codedeploy:GetDeployment", "codedeploy:CreateDeployment"],
         "Resource": f"{cd}:deploymentgroup:invoicing/*"},
        {"Effect": "Allow", "Action": "codedeploy:GetApplicationRevision", "Resource": f"{cd}:application:invoicing"},
        {"Effect": "Allow", "Action": "codedeploy:GetDeploymentConfig", "Resource": f"{cd}:deploymentconfig:*"})
    policies = Policies()

    def decide_cd(operation: str, params: dict) -> list:
        return [policies.decide(deployer, a, BASE) for a in requests_for("codedeploy", operation, params, world)]

    assert decide_cd("GetDeployment", {"deploymentId": "d-AAAAAAAAA"}) == [None]
    assert decide_cd("GetDeployment", {"deploymentId": "d-UNKNOWNXX"})[0] is not None
    create = {"applicationName": "invoicing", "deploymentGroupName": "invoicing-asg", "revision": {}}
    accesses = requests_for("codedeploy", "CreateDeployment", create, world)
    assert [(a.action, a.resource.rsplit(":", 2)[-2:]) for a in accesses] == [
        ("codedeploy:CreateDeployment", ["deploymentgroup", "invoicing/invoicing-asg"]),
        ("codedeploy:GetDeploymentConfig", ["deploymentconfig", "CodeDeployDefault.HalfAtATime"]),
        ("codedeploy:GetApplicationRevision", ["application", "invoicing"])]
    assert decide_cd("CreateDeployment", create) == [None, None, None]
    other = {"applicationName": "payroll", "deploymentGroupName": "payroll-asg", "revision": {}}
    assert all(d is not None for d in decide_cd("CreateDeployment", other)[::2])
