"""Alert intake: CloudWatch alarms (SNS and EventBridge) and third-party webhooks start incident workflows."""

from __future__ import annotations


import aws_cdk as cdk
from aws_cdk import Duration, aws_apigatewayv2 as apigwv2, aws_events as events, aws_events_targets as targets
from aws_cdk import aws_iam as iam, aws_kms as kms, aws_lambda_event_sources as event_sources
from aws_cdk import aws_secretsmanager as secretsmanager, aws_sns as sns, aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs, aws_stepfunctions as sfn
from aws_cdk.aws_apigatewayv2_integrations import HttpLambdaIntegration
from constructs import Construct

from infra.config import AccountConfig
from infra.constructs.functions import FunctionFactory, FunctionSpec, WatchkeeperFunction
from infra.constructs.observability import ALARM_PREFIX
from infra.constructs.storage import Storage
from infra.nag import acknowledge

WEBHOOK_SOURCES = ("pagerduty", "grafana", "datadog")


class Ingest(Construct):
    def __init__(self, scope: Construct, id: str, *, config: AccountConfig, key: kms.IKey) -> None:
        super().__init__(scope, id)
        self.alert_topic = sns.Topic(
            self, "AlertTopic", display_name="Watchkeeper: alerts", master_key=key, enforce_ssl=True,
        )
        self.alert_topic.add_to_resource_policy(iam.PolicyStatement(
            sid="CloudWatchAlarmsPublish",
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["sns:Publish"],
            resources=[self.alert_topic.topic_arn],
            conditions={"StringEquals": {"aws:SourceAccount": cdk.Stack.of(self).account}},
        ))
        self.webhook_secret = secretsmanager.Secret(
            self, "WebhookSecret",
            description="Watchkeeper: one webhook secret per source (a list of two during a rotation), no shared "
                        "fallback; read by the ingest function only",
            secret_object_value={source: cdk.SecretValue.unsafe_plain_text("") for source in WEBHOOK_SOURCES},
        )
        acknowledge(
            self.webhook_secret, "AwsSolutions-SMG4",
            "Webhook signing secrets are issued by PagerDuty, Grafana, Datadog and Slack and rotated in those tools.",
        )

    def add_function(self, factory: FunctionFactory, storage: Storage, *, config: AccountConfig,
                     state_machine: sfn.StateMachine, api: apigwv2.HttpApi) -> WatchkeeperFunction:
        fn = factory.create(self, "Ingest", FunctionSpec(
            handler="watchkeeper.handlers.ingest.handler",
            description="Ingest: normalize an alert, deduplicate it and start the incident workflow",
            timeout=Duration.seconds(15),
            environment={
                "STATE_MACHINE_ARN": state_machine.state_machine_arn,
                "START_EXECUTIONS": "true",
                "SETTLE_SECONDS": str(config.settle_seconds),
                "WEBHOOK_SECRET_ARN": self.webhook_secret.secret_arn,
            },
        ))
        storage.grant_baseline(fn.role)
        storage.grant_state_write(fn.role)
        state_machine.grant_start_execution(fn.role)
        self.webhook_secret.grant_read(fn.role)

        # An alert storm is buffered in a queue: SNS and EventBridge deliver into it, ingest reads
        # batches of up to 100 and reports only the records that must be retried (partial batch response).
        dead_letters = sqs.Queue(self, "AlertDeadLetterQueue", retention_period=Duration.days(14),
                                 encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True)
        acknowledge(dead_letters, "AwsSolutions-SQS3", "This queue is the dead-letter queue of the alert queue.")
        self.alert_queue = sqs.Queue(
            self, "AlertQueue", encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True,
            visibility_timeout=Duration.seconds(6 * 15), retention_period=Duration.days(4),
            dead_letter_queue=sqs.DeadLetterQueue(queue=dead_letters, max_receive_count=5),
        )
        self.alert_topic.add_subscription(subscriptions.SqsSubscription(self.alert_queue, raw_message_delivery=False))
        fn.function.add_event_source(event_sources.SqsEventSource(
            self.alert_queue, batch_size=100, max_batching_window=Duration.seconds(2), report_batch_item_failures=True))
        self.alarm_rule = events.Rule(
            self, "AlarmStateChangeRule",
            description="CloudWatch alarms entering ALARM or OK (Watchkeeper's own alarms excluded)",
            event_pattern=events.EventPattern(
                source=["aws.cloudwatch"],
                detail_type=["CloudWatch Alarm State Change"],
                detail={
                    "state": {"value": ["ALARM", "OK"]},
                    "alarmName": [{"anything-but": {"prefix": ALARM_PREFIX}}],
                },
            ),
            targets=[targets.SqsQueue(self.alert_queue, retry_attempts=4, max_event_age=Duration.hours(1))],
        )
        # GuardDuty and Security Hub findings: every one is a security signal (security triage, no writes)
        self.findings_rule = events.Rule(
            self, "SecurityFindingsRule",
            description="GuardDuty findings and Security Hub findings (new or updated) into the alert queue",
            event_pattern=events.EventPattern(
                source=["aws.guardduty", "aws.securityhub"],
                detail_type=["GuardDuty Finding", "Security Hub Findings - Imported"],
            ),
            targets=[targets.SqsQueue(self.alert_queue, retry_attempts=4, max_event_age=Duration.hours(1))],
        )
        api.add_routes(
            path="/webhooks/{source}", methods=[apigwv2.HttpMethod.POST],
            integration=HttpLambdaIntegration("WebhookIntegration", fn.function),
        )
        self.function = fn
        return fn
