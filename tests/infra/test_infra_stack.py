"""Behaviour of the synthesized Watchkeeper stack: what responders and auditors rely on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.app import BUNDLING_STACKS, main, new_app, stack_name, synth_template
from infra.config import ConfigError, load_cdk_json_context

from aws_cdk import aws_sqs as sqs  # noqa: E402  (after infra.app: it silences the jsii Node banner)
from aws_cdk.assertions import Match, Template  # noqa: E402

pytestmark = pytest.mark.infra

LAMBDA_TASK_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "TransientError",
]
COMMON_ENV = {
    "WATCHKEEPER_ACCOUNT_NAME", "AUDIT_TABLE", "STATE_TABLE", "REPORT_BUCKET", "PAGE_TOPIC_ARN",
    "APPROVAL_TOPIC_ARN", "CATALOG_PARAMETER", "KILL_SWITCH_PARAMETER", "BEDROCK_MODEL_ID",
    "DRY_RUN", "APPROVERS", "SLACK_CHANNEL", "APPROVAL_TIMEOUT_SECONDS", "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_LOG_LEVEL",
}


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    """One synth (validation and cdk-nag on) shared by the module: synth takes seconds."""
    return synth_template("local")


@pytest.fixture(scope="module")
def template(raw: dict[str, Any]) -> Template:
    return Template.from_json(raw)


def _of_type(raw: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in raw["Resources"].items() if v["Type"] == type_}


def _watchkeeper_functions(raw: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The stack's own functions (not aws-cdk-lib's deploy-time custom-resource providers)."""
    return {k: v for k, v in _of_type(raw, "AWS::Lambda::Function").items()
            if v["Properties"]["Handler"].startswith("watchkeeper.")}


def _function_id(raw: dict[str, Any], handler: str) -> str:
    (found,) = [k for k, v in _of_type(raw, "AWS::Lambda::Function").items()
                if v["Properties"]["Handler"] == f"watchkeeper.handlers.{handler}.handler"]
    return found


def _statements(raw: dict[str, Any], function_id: str) -> list[dict[str, Any]]:
    role = raw["Resources"][function_id]["Properties"]["Role"]["Fn::GetAtt"][0]
    return [s for p in _of_type(raw, "AWS::IAM::Policy").values() if {"Ref": role} in p["Properties"]["Roles"]
            for s in p["Properties"]["PolicyDocument"]["Statement"]]


def _allows(statements: list[dict[str, Any]], action: str, resource: Any) -> bool:
    for s in statements:
        actions = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
        resources = s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]
        if s["Effect"] == "Allow" and action in actions and resource in resources:
            return True
    return False


def _machine_id(raw: dict[str, Any]) -> str:
    (found,) = _of_type(raw, "AWS::StepFunctions::StateMachine")
    return found


def _definition(raw: dict[str, Any]) -> dict[str, Any]:
    """The ASL document, with function ARNs rendered as `fn:<logical id>`."""
    parts = raw["Resources"][_machine_id(raw)]["Properties"]["DefinitionString"]["Fn::Join"][1]
    text = ""
    for part in parts:
        if isinstance(part, str):
            text += part
        elif "Fn::GetAtt" in part:
            text += f"fn:{part['Fn::GetAtt'][0]}"
        else:
            text += "aws"
    return json.loads(text)


# -- the incident workflow -------------------------------------------------------------------


def test_state_names_read_like_a_runbook(raw):
    assert set(_definition(raw)["States"]) == {
        "Wait for related alerts", "Classify alert", "Merged into another incident?", "Merged into another incident",
        "Gather evidence", "Diagnose", "Plan remediation", "Needs approval?", "Preview actions", "Wait for approval",
        "Approval timed out", "Approved?", "Execute actions", "Executed?", "Verify recovery", "Recovered?",
        "Wait before re-checking", "Page on-call", "Write report", "Incident handled", "Record failure and page",
        "Escalation failed", "Escalated after failure",
    }


def test_machine_is_named_standard_traced_and_logged(template):
    template.has_resource_properties("AWS::StepFunctions::StateMachine", {
        "StateMachineName": "Watchkeeper-local-Incident",
        "StateMachineType": "STANDARD",
        "TracingConfiguration": {"Enabled": True},
        "LoggingConfiguration": Match.object_like({"Level": "ALL", "IncludeExecutionData": False}),
    })


def test_approval_waits_for_a_task_token_with_a_timeout(raw):
    state = _definition(raw)["States"]["Wait for approval"]
    assert state["Resource"].endswith(":states:::lambda:invoke.waitForTaskToken")
    local = json.loads((Path(__file__).parents[2] / "cdk.json").read_text())["context"]["accounts"]["local"]
    assert state["TimeoutSeconds"] == local["approval_timeout_seconds"]
    assert state["Parameters"]["Payload"]["task_token.$"] == "$$.Task.Token"
    assert state["ResultPath"] == "$.approval"
    catches = [(c["ErrorEquals"], c["Next"]) for c in state["Catch"]]
    assert catches == [(["States.Timeout", "States.HeartbeatTimeout"], "Approval timed out"),
                       (["States.ALL"], "Record failure and page")]
    # one window: the timeout every channel announces, no heartbeat timeout that would end it early
    assert "HeartbeatSeconds" not in state and state["TimeoutSeconds"] == 600
    assert state["Parameters"]["Payload"]["entered_at.$"] == "$$.State.EnteredTime"
    assert _definition(raw)["States"]["Approval timed out"]["Next"] == "Page on-call"


def test_every_lambda_task_retries_transient_errors_and_catches_to_a_page(raw):
    states = _definition(raw)["States"]
    lambda_tasks = {name: s for name, s in states.items() if s["Type"] == "Task"}
    assert len(lambda_tasks) == 11
    for name, state in lambda_tasks.items():
        assert state["Retry"] == [{"ErrorEquals": LAMBDA_TASK_ERRORS, "IntervalSeconds": 1, "MaxAttempts": 3,
                                   "BackoffRate": 2}], name
        assert state["Catch"][-1]["ErrorEquals"] == ["States.ALL"], name
        if name == "Preview actions":   # a preview that fails must not stop the request: it goes out without one
            assert (state["Catch"][-1]["ResultPath"], state["Catch"][-1]["Next"]) == ("$.preview", "Wait for approval")
            continue
        assert state["Catch"][-1]["ResultPath"] == "$.error", name
        expected = "Escalation failed" if name == "Record failure and page" else "Record failure and page"
        assert state["Catch"][-1]["Next"] == expected, name


def test_plan_decision_routes_to_approval_execution_or_page(raw):
    choice = _definition(raw)["States"]["Needs approval?"]
    assert {(c["StringEquals"], c["Next"]) for c in choice["Choices"]} == {
        ("approve", "Preview actions"), ("execute", "Execute actions")}
    preview = _definition(raw)["States"]["Preview actions"]
    assert preview["Next"] == "Wait for approval" and preview["Parameters"]["mode"] == "preview"
    assert choice["Default"] == "Page on-call"
    recovered = _definition(raw)["States"]["Recovered?"]
    assert {(c["StringEquals"], c["Next"]) for c in recovered["Choices"]} == {
        ("recovered", "Write report"), ("pending", "Wait before re-checking")}
    assert _definition(raw)["States"]["Wait before re-checking"]["Next"] == "Verify recovery"


# -- alert intake ----------------------------------------------------------------------------


def _alert_queue(raw: dict[str, Any]) -> str:
    (queue,) = [k for k in _of_type(raw, "AWS::SQS::Queue") if k.startswith("IngestAlertQueue")]
    return queue


def test_alarm_rule_matches_alarm_and_ok_state_changes_and_feeds_the_alert_queue(raw, template):
    template.has_resource_properties("AWS::Events::Rule", {
        "EventPattern": Match.object_like({
            "source": ["aws.cloudwatch"],
            "detail-type": ["CloudWatch Alarm State Change"],
            "detail": Match.object_like({"state": {"value": ["ALARM", "OK"]}}),
        }),
        "Targets": [Match.object_like({"Arn": {"Fn::GetAtt": [_alert_queue(raw), "Arn"]}})],
    })


def test_guardduty_and_security_hub_findings_feed_the_alert_queue(raw, template):
    """Findings reach ingest through EventBridge in a deployed account, like alarm state changes."""
    template.has_resource_properties("AWS::Events::Rule", {
        "EventPattern": Match.object_like({
            "source": ["aws.guardduty", "aws.securityhub"],
            "detail-type": ["GuardDuty Finding", "Security Hub Findings - Imported"],
        }),
        "Targets": [Match.object_like({"Arn": {"Fn::GetAtt": [_alert_queue(raw), "Arn"]}})],
    })


def test_a_storm_is_buffered_in_a_queue_read_in_batches_with_partial_failures(raw, template):
    """SNS and EventBridge deliver into the alert queue; ingest reads batches and retries only what failed."""
    ingest, queue = _function_id(raw, "ingest"), _alert_queue(raw)
    template.has_resource_properties("AWS::SNS::Subscription", {
        "Protocol": "sqs", "Endpoint": {"Fn::GetAtt": [queue, "Arn"]}})
    template.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "FunctionName": {"Ref": ingest}, "EventSourceArn": {"Fn::GetAtt": [queue, "Arn"]},
        "BatchSize": 100, "FunctionResponseTypes": ["ReportBatchItemFailures"]})
    props = raw["Resources"][queue]["Properties"]
    assert props["RedrivePolicy"]["maxReceiveCount"] == 5
    assert props["VisibilityTimeout"] >= 6 * raw["Resources"][ingest]["Properties"]["Timeout"]


def test_ingest_can_start_executions(raw, template):
    ingest = _function_id(raw, "ingest")
    assert _allows(_statements(raw, ingest), "states:StartExecution", {"Ref": _machine_id(raw)})
    env = raw["Resources"][ingest]["Properties"]["Environment"]["Variables"]
    assert env["STATE_MACHINE_ARN"] == {"Ref": _machine_id(raw)}
    assert env["START_EXECUTIONS"] == "true"


def test_http_api_routes_and_access_logs(template):
    for route in ("POST /webhooks/{source}", "GET /approvals/{token}", "POST /approvals/{token}",
                  "POST /slack/actions"):
        template.has_resource_properties("AWS::ApiGatewayV2::Route", {"RouteKey": route})
    template.has_resource_properties("AWS::ApiGatewayV2::Stage", {
        "StageName": "$default",
        "AccessLogSettings": Match.object_like({"DestinationArn": Match.any_value()}),
        "DefaultRouteSettings": Match.object_like({"ThrottlingRateLimit": Match.any_value()}),
    })


# -- approvals -------------------------------------------------------------------------------


def test_approvals_api_can_resume_the_waiting_execution(raw):
    statements = _statements(raw, _function_id(raw, "approvals_api"))
    for action in ("states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"):
        assert _allows(statements, action, {"Ref": _machine_id(raw)}), action


def test_request_approval_knows_the_api_url_and_only_the_approval_functions_publish_approvals(raw):
    request = _function_id(raw, "request_approval")
    env = raw["Resources"][request]["Properties"]["Environment"]["Variables"]
    assert "APPROVAL_API_URL" in env
    (topic,) = [k for k, v in _of_type(raw, "AWS::SNS::Topic").items()
                if v["Properties"].get("DisplayName", "").endswith("approval requests")]
    publishers = [f for f in _of_type(raw, "AWS::Lambda::Function")
                  if _allows(_statements(raw, f), "sns:Publish", {"Ref": topic})]
    assert sorted(publishers) == sorted([request, _function_id(raw, "approvals_api")])   # requests; one-time codes


def test_each_approver_gets_their_own_filtered_email_subscription(raw):
    from watchkeeper.domain.approval_tokens import approver_ref

    subs = [v["Properties"] for v in _of_type(raw, "AWS::SNS::Subscription").values()
            if v["Properties"]["Protocol"] == "email"]
    assert [(s["Endpoint"], s["FilterPolicy"]) for s in subs] == [
        ("oncall@example.com", {"approver": [approver_ref("oncall@example.com")]})]


def test_one_secret_per_purpose_and_each_function_reads_only_the_secrets_it_uses(raw):
    handlers = {k: v["Properties"]["Handler"].split(".")[-2] for k, v in _of_type(raw, "AWS::Lambda::Function").items()
                if v["Properties"]["Handler"].startswith("watchkeeper.")}
    named = {}
    for secret in _of_type(raw, "AWS::SecretsManager::Secret"):
        name = next(n for n in ("Webhook", "SlackSigningSecret", "SlackBotToken", "ApprovalsSigningSecret") if n in secret)
        named[name] = {h for f, h in handlers.items()
                       if _allows(_statements(raw, f), "secretsmanager:GetSecretValue", {"Ref": secret})}
    assert named == {
        "Webhook": {"ingest"},                                            # alert sources' secrets: intake only
        "SlackSigningSecret": {"approvals_api"},                          # verifying Slack's clicks
        "SlackBotToken": {"request_approval", "approvals_api", "report"},  # posting to Slack
        "ApprovalsSigningSecret": {"request_approval", "approvals_api"},  # approval links and codes
    }
    for fn, handler in handlers.items():
        env = raw["Resources"][fn]["Properties"]["Environment"]["Variables"]
        assert ("SLACK_SIGNING_SECRET_ARN" in env) == (handler == "approvals_api"), handler
        assert ("WEBHOOK_SECRET_ARN" in env) == (handler == "ingest"), handler


def test_every_route_has_its_own_throttle_and_the_access_log_uses_http_api_variables(raw, template):
    (stage,) = _of_type(raw, "AWS::ApiGatewayV2::Stage").values()
    settings = stage["Properties"]["RouteSettings"]
    routes = {r["Properties"]["RouteKey"] for r in _of_type(raw, "AWS::ApiGatewayV2::Route").values()}
    assert routes == set(settings) == {"POST /webhooks/{source}", "GET /approvals/{token}", "POST /approvals/{token}",
                                       "POST /slack/actions", "POST /terminal/decisions"}
    assert all(s["ThrottlingRateLimit"] > 0 and s["ThrottlingBurstLimit"] > 0 for s in settings.values())
    assert settings["POST /webhooks/{source}"] != settings["POST /approvals/{token}"]
    (stage_id,) = _of_type(raw, "AWS::ApiGatewayV2::Stage")
    route_ids = set(_of_type(raw, "AWS::ApiGatewayV2::Route"))
    assert route_ids <= set(raw["Resources"][stage_id].get("DependsOn", []))    # the routes exist first
    fmt = json.loads(stage["Properties"]["AccessLogSettings"]["Format"])
    http_api_variables = {"$context.requestId", "$context.identity.sourceIp", "$context.requestTime",
                          "$context.httpMethod", "$context.routeKey", "$context.status", "$context.protocol",
                          "$context.responseLength", "$context.responseLatency", "$context.integrationErrorMessage",
                          "$context.identity.userArn"}
    assert set(fmt.values()) <= http_api_variables and "$context.routeKey" in fmt.values()
    assert "$context.path" not in fmt.values()          # a path holds an approval link: a credential


def test_the_terminal_route_needs_iam_and_the_approver_policy_allows_only_it(raw):
    (terminal,) = [r["Properties"] for r in _of_type(raw, "AWS::ApiGatewayV2::Route").values()
                   if r["Properties"]["RouteKey"] == "POST /terminal/decisions"]
    assert terminal["AuthorizationType"] == "AWS_IAM"
    others = [r["Properties"] for r in _of_type(raw, "AWS::ApiGatewayV2::Route").values()
              if r["Properties"]["RouteKey"] != "POST /terminal/decisions"]
    assert all(r.get("AuthorizationType", "NONE") == "NONE" for r in others)
    (policy,) = _of_type(raw, "AWS::IAM::ManagedPolicy").values()
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == "execute-api:Invoke"
    assert "$default/POST/terminal/decisions" in json.dumps(statement["Resource"])


# -- storage ---------------------------------------------------------------------------------


def test_audit_table_has_pitr_kms_and_ttl(template):
    template.has_resource_properties("AWS::DynamoDB::Table", {
        "KeySchema": [{"AttributeName": "incident_id", "KeyType": "HASH"},
                      {"AttributeName": "seq", "KeyType": "RANGE"}],
        "BillingMode": "PAY_PER_REQUEST",
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS",
                             "KMSMasterKeyId": Match.object_like({"Fn::GetAtt": Match.any_value()})},
        "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
    })


def test_audit_trail_is_append_only(raw):
    (audit,) = [k for k, v in _of_type(raw, "AWS::DynamoDB::Table").items()
                if v["Properties"]["KeySchema"][0]["AttributeName"] == "incident_id"]
    audit_arn = {"Fn::GetAtt": [audit, "Arn"]}
    writers = set()
    for fn in _of_type(raw, "AWS::Lambda::Function"):
        statements = _statements(raw, fn)
        for forbidden in ("dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"):
            assert not _allows(statements, forbidden, audit_arn), (fn, forbidden)
        if _allows(statements, "dynamodb:PutItem", audit_arn):
            writers.add(raw["Resources"][fn]["Properties"]["Handler"].split(".")[2])
    assert {"execute", "report", "escalate"} <= writers


def test_catalog_parameter_is_advanced(template):
    template.has_resource_properties("AWS::SSM::Parameter", {
        "Name": "/watchkeeper/local/catalog", "Tier": "Advanced"})


# -- functions -------------------------------------------------------------------------------


def test_each_function_has_its_own_role_tracing_dlq_and_log_group(raw):
    functions = _watchkeeper_functions(raw)
    assert len(functions) == 11
    roles = [f["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions.values()]
    assert len(set(roles)) == len(roles)
    queues = _of_type(raw, "AWS::SQS::Queue")
    for name, fn in functions.items():
        props = fn["Properties"]
        assert props["Runtime"] == "python3.12", name
        assert props["TracingConfig"] == {"Mode": "Active"}, name
        dlq = props["DeadLetterConfig"]["TargetArn"]["Fn::GetAtt"][0]
        assert queues[dlq]["Properties"].get("SqsManagedSseEnabled") or queues[dlq]["Properties"].get(
            "KmsMasterKeyId"), name
        log_group = props["LoggingConfig"]["LogGroup"]["Ref"]
        assert raw["Resources"][log_group]["Properties"]["RetentionInDays"] > 0, name
        assert COMMON_ENV <= set(props["Environment"]["Variables"]), name


def test_every_queue_refuses_plain_http(raw):
    policies = _of_type(raw, "AWS::SQS::QueuePolicy")
    assert len(policies) == len(_of_type(raw, "AWS::SQS::Queue"))
    for policy in policies.values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        assert any(st["Effect"] == "Deny" and st["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
                   for st in statements)


def test_only_the_functions_that_touch_clusters_ship_the_kubernetes_asset(raw):
    """Execute actions writes; Verify recovery reverts; Gather evidence reads pods."""
    functions = _watchkeeper_functions(raw)
    execute, verify, gather = (_function_id(raw, h) for h in ("execute", "verify", "gather"))
    keys = {k: f["Properties"]["Code"]["S3Key"] for k, f in functions.items()}
    assert len(set(keys.values())) == 2
    assert sorted(k for k, v in keys.items() if v == keys[execute]) == sorted([execute, verify, gather])


def test_outputs(template):
    for output in ("StateMachineArn", "AlertTopicArn", "HttpApiUrl", "ReportBucketName", "AuditTableName"):
        template.has_output(output, {})


# -- cdk-nag and configuration ---------------------------------------------------------------


def test_unacknowledged_cdk_nag_finding_fails_the_synth(tmp_path):
    app = new_app({"account": "local", BUNDLING_STACKS: []}, outdir=str(tmp_path))
    stack = app.node.find_child(stack_name("local"))
    sqs.Queue(stack, "QueueWithoutTls")  # AwsSolutions-SQS3 and -SQS4: no DLQ, no enforceSSL
    with pytest.raises(Exception, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    findings = {(v["ruleName"], r["constructPath"]) for p in report["pluginReports"]
                for v in p["violations"] for r in v["violatingConstructs"]}
    assert {rule for rule, path in findings} == {"AwsSolutions-SQS3", "AwsSolutions-SQS4"}
    assert {path for rule, path in findings} == {"Watchkeeper-local/QueueWithoutTls/Resource"}


def test_unknown_account_is_rejected_by_name():
    with pytest.raises(ConfigError, match="unknown account 'staging'.*local, prod"):
        new_app({"account": "staging"})


@pytest.mark.parametrize(("field", "value", "message"), [
    ("approval_timout_seconds", 900, "field 'approval_timout_seconds': Extra inputs are not permitted"),
    ("dry_run", "no", "field 'dry_run'"),
    ("account_id", "1234", "field 'account_id'"),
])
def test_bad_account_field_is_rejected_by_name(field, value, message):
    accounts = load_cdk_json_context()["accounts"]
    broken = {**accounts, "prod": {**accounts["prod"], field: value}}
    with pytest.raises(ConfigError, match=f"account 'prod'.*{message}"):
        new_app({"account": "prod", "accounts": broken})


def test_cli_reports_a_bad_account_without_a_traceback(capsys):
    assert main(["-c", "account=staging", "--no-bundling"]) == 2
    assert "unknown account 'staging'" in capsys.readouterr().err


def test_prod_scopes_bedrock_to_the_configured_inference_profile():
    accounts = load_cdk_json_context()["accounts"]
    profile = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    raw = synth_template_with({"account": "prod", "accounts": {
        **accounts, "prod": {**accounts["prod"], "bedrock_model_id": profile,
                             "approvers": ["dana@acme-corp.io", "U07B2KX9QJF"]}}})
    statements = _statements(raw, _function_id(raw, "diagnose"))
    invoke = [s for s in statements if "bedrock:InvokeModel" in s["Action"]]
    assert len(invoke) == 1
    rendered = json.dumps(invoke[0]["Resource"])
    assert f"inference-profile/{profile}" in rendered
    assert "foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0" in rendered
    for other in ("classify", "gather", "plan", "execute", "report"):
        assert not any("bedrock:InvokeModel" in s["Action"] for s in _statements(raw, _function_id(raw, other)))
    env = raw["Resources"][_function_id(raw, "diagnose")]["Properties"]["Environment"]["Variables"]
    assert env["BEDROCK_MODEL_ID"] == profile and env["DRY_RUN"] == "false"


def synth_template_with(context: dict[str, Any]) -> dict[str, Any]:
    import tempfile

    with tempfile.TemporaryDirectory() as outdir:
        app = new_app({**context, BUNDLING_STACKS: []}, outdir=outdir)
        return app.synth().get_stack_by_name(stack_name(context["account"])).template


def test_gather_evidence_can_list_metrics_keep_template_history_and_knows_its_change_sources(raw):
    gather = _function_id(raw, "gather")
    statements = _statements(raw, gather)
    assert _allows(statements, "cloudwatch:ListMetrics", "*")
    assert any(_allows(statements, "dynamodb:PutItem", r) for s in statements
               for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]))
    env = raw["Resources"][gather]["Properties"]["Environment"]["Variables"]
    local = json.loads((Path(__file__).parents[2] / "cdk.json").read_text())["context"]["accounts"]["local"]
    assert env["CHANGE_SOURCES"] == ",".join(local.get("change_sources", ["journal"]))
