"""The approval gate: the approval topic (one filtered email subscription per approver), the
secrets of the approval path (one per purpose), and the HTTP API with a throttle per route."""

from __future__ import annotations

import json

import aws_cdk as cdk
import jsii
from aws_cdk import Duration, aws_apigatewayv2 as apigwv2, aws_iam as iam, aws_kms as kms
from aws_cdk import aws_logs as logs, aws_secretsmanager as secretsmanager, aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions, aws_stepfunctions as sfn
from aws_cdk.aws_apigatewayv2_authorizers import HttpIamAuthorizer
from aws_cdk.aws_apigatewayv2_integrations import HttpLambdaIntegration
from constructs import Construct

from infra.config import AccountConfig
from infra.constructs.functions import FunctionFactory, FunctionSpec, WatchkeeperFunction
from infra.constructs.storage import Storage
from infra.nag import acknowledge
from watchkeeper.domain.approval_tokens import approver_ref

HMAC_REASON = (
    "Routes are called by alert sources, Slack and approval links that cannot use IAM or Cognito; "
    "each handler verifies an HMAC signature (signed approval token and one-time code, Slack/webhook signing "
    "secret) before acting. The terminal's route uses IAM authorization."
)

# Each route has its own throttle, so a flood on one (garbage webhooks, garbage tokens) cannot
# use up another's: approvers always have Slack and the terminal if the page's route is flooded.
ROUTE_THROTTLES = {
    "POST /webhooks/{source}": (50, 100),
    "GET /approvals/{token}": (10, 20),
    "POST /approvals/{token}": (5, 10),
    "POST /slack/actions": (10, 20),
    "POST /terminal/decisions": (2, 5),
}
DEFAULT_THROTTLE = (5, 10)

# Only variables HTTP APIs support (docs: "Customize HTTP API access logs"). The route key, not
# the path: a path holds an approval link, which is a credential.
ACCESS_LOG_FORMAT = json.dumps({
    "requestId": "$context.requestId", "ip": "$context.identity.sourceIp", "requestTime": "$context.requestTime",
    "httpMethod": "$context.httpMethod", "routeKey": "$context.routeKey", "status": "$context.status",
    "protocol": "$context.protocol", "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency", "integrationError": "$context.integrationErrorMessage",
    "userArn": "$context.identity.userArn",
}, separators=(",", ":"))


@jsii.implements(apigwv2.IAccessLogSettings)
class _AccessLogSettings:
    """JSON access logs in the HTTP API's own variables."""

    def __init__(self, log_group: logs.ILogGroup) -> None:
        self._destination = apigwv2.LogGroupLogDestination(log_group)

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self):  # an aws_apigateway.AccessLogFormat; custom() takes the string as is
        from aws_cdk import aws_apigateway as apigw
        return apigw.AccessLogFormat.custom(ACCESS_LOG_FORMAT)


class Approvals(Construct):
    def __init__(self, scope: Construct, id: str, *, config: AccountConfig, key: kms.IKey) -> None:
        super().__init__(scope, id)
        self.config = config
        self.topic = sns.Topic(
            self, "ApprovalTopic", display_name="Watchkeeper: approval requests", master_key=key, enforce_ssl=True,
        )
        # one subscription per approver, filtered on the message attribute naming them: a request
        # (with that approver's own link) and a one-time code reach that approver alone
        for approver in config.approvers:
            if "@" in approver:
                self.topic.add_subscription(subscriptions.EmailSubscription(approver, filter_policy={
                    "approver": sns.SubscriptionFilter.string_filter(allowlist=[approver_ref(approver)])}))
        self.signing_secret = secretsmanager.Secret(
            self, "SigningSecret",
            description="Watchkeeper: HMAC keys of approval links and one-time codes ({current, previous} during a "
                        "rotation); read by the approval functions only",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps({"previous": ""}), generate_string_key="current",
                password_length=64, exclude_punctuation=True,
            ),
        )
        acknowledge(
            self.signing_secret, "AwsSolutions-SMG4",
            "Rotated by hand in two steps (new key as 'current', old as 'previous', then drop 'previous' after the "
            "longest approval window) so links in flight keep working.",
        )
        self.slack_signing_secret = secretsmanager.Secret(
            self, "SlackSigningSecret",
            description="Watchkeeper: Slack app signing secret ({signing_secret: [new, old]} during a rotation); "
                        "read by the approvals API only",
            secret_object_value={"signing_secret": cdk.SecretValue.unsafe_plain_text("")},
        )
        self.slack_bot_token = secretsmanager.Secret(
            self, "SlackBotToken",
            description="Watchkeeper: Slack bot token ({bot_token}); read by the functions that post to Slack",
            secret_object_value={"bot_token": cdk.SecretValue.unsafe_plain_text("")},
        )
        for secret in (self.slack_signing_secret, self.slack_bot_token):
            acknowledge(secret, "AwsSolutions-SMG4",
                        "Issued by Slack and rotated in the Slack app's settings (two signing secrets are accepted "
                        "during a change-over).")

        access_logs = logs.LogGroup(self, "AccessLogs", retention=logs.RetentionDays.ONE_MONTH,
                                    removal_policy=cdk.RemovalPolicy.DESTROY)
        self.api = apigwv2.HttpApi(
            self, "HttpApi",
            description="Watchkeeper: alert webhooks, approval links, Slack actions and terminal decisions",
            create_default_stage=False,
        )
        self.stage = apigwv2.HttpStage(
            self, "DefaultStage",
            http_api=self.api,
            stage_name="$default",
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(rate_limit=DEFAULT_THROTTLE[0], burst_limit=DEFAULT_THROTTLE[1]),
            access_log_settings=_AccessLogSettings(access_logs),
        )
        stage = self.stage.node.default_child
        stage.route_settings = {route: {"ThrottlingRateLimit": rate, "ThrottlingBurstLimit": burst}
                                for route, (rate, burst) in ROUTE_THROTTLES.items()}
        self.url = self.stage.url
        acknowledge(self.api, "AwsSolutions-APIG4", HMAC_REASON)

    def add_route(self, path: str, method: apigwv2.HttpMethod, integration: apigwv2.HttpRouteIntegration,
                  authorizer: apigwv2.IHttpRouteAuthorizer | None = None) -> None:
        """A route; the stage (and its per-route throttles) is deployed after it exists."""
        for route in self.api.add_routes(path=path, methods=[method], integration=integration, authorizer=authorizer):
            self.stage.node.add_dependency(route)

    def deploy_stage_after_routes(self) -> None:
        """The stage names every route in its throttles: deploy it after all of them (the webhook
        route is added by the ingest construct)."""
        for child in self.api.node.children:
            if isinstance(child, apigwv2.HttpRoute):
                self.stage.node.add_dependency(child)

    def grant_bot_token(self, fn: WatchkeeperFunction) -> None:
        """Posting to Slack (request, thread updates): the bot token and nothing else."""
        self.slack_bot_token.grant_read(fn.role)
        fn.function.add_environment("SLACK_BOT_TOKEN_ARN", self.slack_bot_token.secret_arn)

    def add_request_function(self, factory: FunctionFactory, storage: Storage) -> WatchkeeperFunction:
        """The function behind "Wait for approval": stores the task token and sends each approver their link."""
        fn = factory.create(self, "RequestApproval", FunctionSpec(
            handler="watchkeeper.handlers.request_approval.handler",
            description="Request approval: store the task token, send each approver their own signed link",
            environment={"APPROVAL_API_URL": self.url, "SIGNING_SECRET_ARN": self.signing_secret.secret_arn},
        ))
        storage.grant_baseline(fn.role)
        storage.grant_state_write(fn.role)
        storage.grant_audit_append(fn.role)
        storage.grant_publish(self.topic, fn.role)
        self.signing_secret.grant_read(fn.role)
        self.grant_bot_token(fn)
        self.request_function = fn
        return fn

    def add_api_function(self, factory: FunctionFactory, storage: Storage,
                         state_machine: sfn.StateMachine) -> WatchkeeperFunction:
        """The function behind the approval links, Slack buttons and terminal: resumes the waiting execution."""
        fn = factory.create(self, "ApprovalsApi", FunctionSpec(
            handler="watchkeeper.handlers.approvals_api.handler",
            description="Approvals API: prove the approver, then resume the incident workflow",
            timeout=Duration.seconds(10),
            # Slack gives a button click 3 s: a cold start at 256 MB (a seventh of a vCPU) would spend most
            # of it importing; 1024 MB is four times the CPU, and clicks are few
            memory_size=1024,
            environment={
                "APPROVAL_API_URL": self.url,
                "SIGNING_SECRET_ARN": self.signing_secret.secret_arn,
                "SLACK_SIGNING_SECRET_ARN": self.slack_signing_secret.secret_arn,
                "APPROVER_ARNS": ",".join(self.config.approver_arns),
                "APPROVER_PEOPLE": json.dumps(self.config.people, separators=(",", ":")),
            },
        ))
        storage.grant_baseline(fn.role)
        storage.grant_state_write(fn.role)
        storage.grant_audit_append(fn.role)
        storage.grant_publish(self.topic, fn.role)              # one-time codes, to one approver each
        state_machine.grant_task_response(fn.role)              # SendTaskSuccess / SendTaskHeartbeat
        self.signing_secret.grant_read(fn.role)
        self.slack_signing_secret.grant_read(fn.role)
        self.grant_bot_token(fn)                                # ephemeral answers to the person who clicked
        integration = HttpLambdaIntegration("ApprovalsIntegration", fn.function)
        self.add_route("/approvals/{token}", apigwv2.HttpMethod.GET, integration)
        self.add_route("/approvals/{token}", apigwv2.HttpMethod.POST, integration)
        self.add_route("/slack/actions", apigwv2.HttpMethod.POST, integration)
        self.add_route("/terminal/decisions", apigwv2.HttpMethod.POST, integration, HttpIamAuthorizer())
        self.approver_policy = iam.ManagedPolicy(
            self, "ApproverPolicy",
            description="Attach to the IAM users or roles in approver_arns: lets `watchkeeper approve|reject` call the "
                        "terminal decision route (the approvals API still checks the caller against approver_arns)",
            statements=[iam.PolicyStatement(actions=["execute-api:Invoke"], resources=[cdk.Stack.of(self).format_arn(
                service="execute-api", resource=self.api.api_id, resource_name="$default/POST/terminal/decisions")])],
        )
        self.api_function = fn
        return fn
