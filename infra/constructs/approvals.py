"""The approval gate: the approval topic, signed approval links and the HTTP API that answers them."""

from __future__ import annotations

import aws_cdk as cdk
import jsii
from aws_cdk import Duration, aws_apigateway as apigw, aws_apigatewayv2 as apigwv2, aws_kms as kms
from aws_cdk import aws_logs as logs, aws_secretsmanager as secretsmanager, aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions, aws_stepfunctions as sfn
from aws_cdk.aws_apigatewayv2_integrations import HttpLambdaIntegration
from constructs import Construct

from infra.config import AccountConfig
from infra.constructs.functions import FunctionFactory, FunctionSpec, WatchkeeperFunction
from infra.constructs.storage import Storage
from infra.nag import acknowledge

HMAC_REASON = (
    "Routes are called by alert sources, Slack and approval links that cannot use IAM or Cognito; "
    "each handler verifies an HMAC signature (signed approval token, Slack/webhook signing secret) before acting."
)


@jsii.implements(apigwv2.IAccessLogSettings)
class _AccessLogSettings:
    """JSON access logs without caller identity."""

    def __init__(self, log_group: logs.ILogGroup) -> None:
        self._destination = apigwv2.LogGroupLogDestination(log_group)

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigw.AccessLogFormat:
        return apigw.AccessLogFormat.json_with_standard_fields(
            caller=False, http_method=True, ip=True, protocol=True, request_time=True,
            resource_path=True, response_length=True, status=True, user=False,
        )


class Approvals(Construct):
    def __init__(self, scope: Construct, id: str, *, config: AccountConfig, key: kms.IKey) -> None:
        super().__init__(scope, id)
        self.topic = sns.Topic(
            self, "ApprovalTopic", display_name="Watchkeeper: approval requests", master_key=key, enforce_ssl=True,
        )
        for approver in config.approvers:
            if "@" in approver:
                self.topic.add_subscription(subscriptions.EmailSubscription(approver))
        self.signing_secret = secretsmanager.Secret(
            self, "SigningSecret",
            description="Watchkeeper: HMAC key that signs approval links",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64, exclude_punctuation=True,
            ),
        )
        acknowledge(
            self.signing_secret, "AwsSolutions-SMG4",
            "Rotating the approval-link key invalidates links in flight; it is rotated by hand between incidents.",
        )

        access_logs = logs.LogGroup(self, "AccessLogs", retention=logs.RetentionDays.ONE_MONTH,
                                    removal_policy=cdk.RemovalPolicy.DESTROY)
        self.api = apigwv2.HttpApi(
            self, "HttpApi",
            description="Watchkeeper: alert webhooks, approval links and Slack actions",
            create_default_stage=False,
        )
        self.stage = apigwv2.HttpStage(
            self, "DefaultStage",
            http_api=self.api,
            stage_name="$default",
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(rate_limit=20, burst_limit=40),
            access_log_settings=_AccessLogSettings(access_logs),
        )
        self.url = self.stage.url
        acknowledge(self.api, "AwsSolutions-APIG4", HMAC_REASON)

    def add_request_function(self, factory: FunctionFactory, storage: Storage) -> WatchkeeperFunction:
        """The function behind "Wait for approval": stores the task token and posts the signed links."""
        fn = factory.create(self, "RequestApproval", FunctionSpec(
            handler="watchkeeper.handlers.request_approval.handler",
            description="Request approval: store the task token, post signed approve/reject links",
            environment={"APPROVAL_API_URL": self.url},
        ))
        storage.grant_baseline(fn.role)
        storage.grant_state_write(fn.role)
        storage.grant_audit_append(fn.role)
        storage.grant_publish(self.topic, fn.role)
        self.signing_secret.grant_read(fn.role)
        self.request_function = fn
        return fn

    def add_api_function(self, factory: FunctionFactory, storage: Storage, state_machine: sfn.StateMachine,
                         webhook_secret: secretsmanager.ISecret) -> WatchkeeperFunction:
        """The function behind the approval links and Slack buttons: resumes the waiting execution."""
        fn = factory.create(self, "ApprovalsApi", FunctionSpec(
            handler="watchkeeper.handlers.approvals_api.handler",
            description="Approvals API: verify a signed decision and resume the incident workflow",
            timeout=Duration.seconds(10),
            environment={"WEBHOOK_SECRET_ARN": webhook_secret.secret_arn},
        ))
        storage.grant_baseline(fn.role)
        storage.grant_state_write(fn.role)
        storage.grant_audit_append(fn.role)
        state_machine.grant_task_response(fn.role)
        self.signing_secret.grant_read(fn.role)
        webhook_secret.grant_read(fn.role)
        integration = HttpLambdaIntegration("ApprovalsIntegration", fn.function)
        self.api.add_routes(path="/approvals/{token}", methods=[apigwv2.HttpMethod.GET, apigwv2.HttpMethod.POST],
                            integration=integration)
        self.api.add_routes(path="/slack/actions", methods=[apigwv2.HttpMethod.POST], integration=integration)
        self.api_function = fn
        return fn
