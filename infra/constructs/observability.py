"""Paging humans: the page topic, and alarms on Watchkeeper's own failures."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import Duration, aws_cloudwatch as cloudwatch, aws_cloudwatch_actions as actions, aws_iam as iam, aws_kms as kms
from aws_cdk import aws_sns as sns, aws_sns_subscriptions as subscriptions, aws_stepfunctions as sfn
from constructs import Construct

from infra.config import AccountConfig
from infra.constructs.functions import WatchkeeperFunction

ALARM_PREFIX = "Watchkeeper-"  # the alert rule ignores these, so Watchkeeper never opens incidents on itself


class Observability(Construct):
    def __init__(self, scope: Construct, id: str, *, account_name: str, config: AccountConfig, key: kms.IKey) -> None:
        super().__init__(scope, id)
        self._prefix = f"{ALARM_PREFIX}{account_name}-"
        self.page_topic = sns.Topic(
            self, "PageTopic", display_name="Watchkeeper: page on-call", master_key=key, enforce_ssl=True,
        )
        # Watchkeeper's alarms about itself page through this topic (the messaging key lets CloudWatch use it too)
        self.page_topic.add_to_resource_policy(iam.PolicyStatement(
            sid="CloudWatchAlarmsPublish",
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["sns:Publish"],
            resources=[self.page_topic.topic_arn],
            conditions={"StringEquals": {"aws:SourceAccount": cdk.Stack.of(self).account}},
        ))
        if config.alarm_email:
            self.page_topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
        self._action = actions.SnsAction(self.page_topic)

    def _alarm(self, id: str, metric: cloudwatch.IMetric, description: str) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self, id,
            alarm_name=f"{self._prefix}{id}",
            alarm_description=description,
            metric=metric,
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(self._action)
        return alarm

    def watch(self, functions: dict[str, WatchkeeperFunction], state_machine: sfn.StateMachine) -> None:
        """Page when an incident workflow fails, a function errors or an async invocation is dead-lettered."""
        period = Duration.minutes(5)
        self._alarm("IncidentWorkflowFailed", state_machine.metric_failed(period=period),
                    "An incident workflow execution failed; the incident may not have been handled.")
        self._alarm("IncidentWorkflowTimedOut", state_machine.metric_timed_out(period=period),
                    "An incident workflow execution timed out.")
        for name, fn in functions.items():
            self._alarm(f"{name}Errors", fn.function.metric_errors(period=period),
                        f"Watchkeeper function {name} raised errors.")
            self._alarm(
                f"{name}DeadLetters",
                fn.dead_letter_queue.metric_approximate_number_of_messages_visible(period=period),
                f"An asynchronous invocation of {name} failed and was dead-lettered.",
            )
