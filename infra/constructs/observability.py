"""Watching Watchkeeper: the page topic, alarms on its own failures, and its CloudWatch dashboard.

The functions publish the agent's metrics as EMF in their logs (namespace `Watchkeeper`,
dimensions `account` and `account, service`, see `functions/watchkeeper/agent_metrics.py`):
CloudWatch extracts them from the log groups, so no function needs cloudwatch:PutMetricData.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import Duration, aws_cloudwatch as cloudwatch, aws_cloudwatch_actions as actions, aws_iam as iam
from aws_cdk import aws_kms as kms, aws_sns as sns, aws_sns_subscriptions as subscriptions, aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.config import AccountConfig
from infra.constructs.functions import WatchkeeperFunction

ALARM_PREFIX = "Watchkeeper-"  # the alert rule ignores these, so Watchkeeper never opens incidents on itself
NAMESPACE = "Watchkeeper"       # agent_metrics.NAMESPACE
WIDTH = 24                      # a dashboard row


class Observability(Construct):
    def __init__(self, scope: Construct, id: str, *, account_name: str, config: AccountConfig, key: kms.IKey) -> None:
        super().__init__(scope, id)
        self._account = account_name
        self._model_id = config.bedrock_model_id
        self._prefix = f"{ALARM_PREFIX}{account_name}-"
        self.dashboard_name = f"Watchkeeper-{account_name}"
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
        # Watchkeeper's alarms about itself page through this topic (the messaging key lets CloudWatch use it too)
        self.page_topic.add_to_resource_policy(iam.PolicyStatement(
            sid="CloudWatchAlarmsPublish",
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["sns:Publish"],
            resources=[self.page_topic.topic_arn],
            conditions={"StringEquals": {"aws:SourceAccount": cdk.Stack.of(self).account}},
        ))
        self._action = actions.SnsAction(self.page_topic)
        self.alarms: list[cloudwatch.Alarm] = []
        self._queues: dict[str, sqs.IQueue] = {}
        self._dlq_widget: cloudwatch.GraphWidget | None = None

    def _alarm(self, id: str, metric: cloudwatch.IMetric, description: str, threshold: float = 1,
               evaluation_periods: int = 1) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self, id,
            alarm_name=f"{self._prefix}{id}",
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            evaluation_periods=evaluation_periods,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(self._action)
        self.alarms.append(alarm)
        return alarm

    def agent_metric(self, name: str, statistic: str = "Sum", period: Duration = Duration.hours(1),
                     label: str | None = None) -> cloudwatch.Metric:
        """One of the agent's own metrics for this account (the `account` dimension set)."""
        return cloudwatch.Metric(namespace=NAMESPACE, metric_name=name, dimensions_map={"account": self._account},
                                 statistic=statistic, period=period, label=label)

    def watch_queue(self, name: str, queue: sqs.IQueue, description: str | None = None) -> cloudwatch.Alarm:
        """A dead-letter queue: an alarm as soon as a message is in it, and its depth on the dashboard."""
        self._queues[name] = queue
        if self._dlq_widget is not None:      # a queue watched after the dashboard was drawn
            self._dlq_widget.add_left_metric(self._depth(name, queue))
        return self._alarm(
            f"{name}DeadLetters",
            queue.metric_approximate_number_of_messages_visible(period=Duration.minutes(5), statistic="Maximum"),
            description or f"A message from {name} failed and was dead-lettered; nothing retries it on its own.")

    @staticmethod
    def _depth(name: str, queue: sqs.IQueue) -> cloudwatch.IMetric:
        return queue.metric_approximate_number_of_messages_visible(period=Duration.minutes(5), statistic="Maximum",
                                                                  label=name)

    def watch(self, functions: dict[str, WatchkeeperFunction], state_machine: sfn.StateMachine) -> None:
        """Page when incident workflows fail or approvals time out, a function errors or a message is dead-lettered;
        and draw the dashboard."""
        period = Duration.minutes(5)
        self._alarm("IncidentWorkflowFailed", state_machine.metric_failed(period=period),
                    "An incident workflow execution failed; the incident may not have been handled.")
        self._alarm("IncidentWorkflowTimedOut", state_machine.metric_timed_out(period=period),
                    "An incident workflow execution timed out.")
        self._alarm("WorkflowStepFailures", self.agent_metric("WorkflowStepFailures", period=Duration.minutes(15)),
                    "A step of an incident workflow failed after its retries (Record failure and page ran): "
                    "on-call was paged, but Watchkeeper could not handle the incident. Read the execution's history.")
        self._alarm("ApprovalsTimedOut", self.agent_metric("ApprovalsTimedOut", period=Duration.hours(1)),
                    "An approval request expired without a decision: the approvers did not see it or could not "
                    "act. Check the Slack channel and the approvers list.")
        if self._model_id:
            self._alarm("ModelNotUsable", self.agent_metric("ModelFallbacks", period=Duration.hours(1)),
                        f"Bedrock's answers ({self._model_id}) could not be used 3 times within an hour (throttled, "
                        "denied, model retired or invalid, unusable tool call): incidents are diagnosed by the "
                        "deterministic analyzer alone. The Diagnose function's log says why.", threshold=3)
        for name, fn in functions.items():
            self._alarm(f"{name}Errors", fn.function.metric_errors(period=period),
                        f"Watchkeeper function {name} raised errors.")
            if fn.dead_letter_queue is not None:     # only an asynchronously invoked function has one
                self.watch_queue(name, fn.dead_letter_queue,
                                 f"An asynchronous invocation of {name} failed and was dead-lettered.")
        self._dashboard(functions, state_machine)

    def watch_metric(self, name: str, metric: cloudwatch.IMetric, description: str) -> cloudwatch.Alarm:
        """Page when a metric of Watchkeeper's own reaches 1 (e.g. records failed through partial batch responses)."""
        return self._alarm(name, metric, description)

    # --- the dashboard ----------------------------------------------------------------------
    def _graph(self, title: str, metrics: list[cloudwatch.IMetric], *, width: int = 8, height: int = 6,
               left_label: str | None = None, stacked: bool = False) -> cloudwatch.GraphWidget:
        return cloudwatch.GraphWidget(title=title, left=metrics, width=width, height=height, stacked=stacked,
                                      left_y_axis=cloudwatch.YAxisProps(label=left_label, show_units=False, min=0))

    def _dashboard(self, functions: dict[str, WatchkeeperFunction], state_machine: sfn.StateMachine) -> None:
        m = self.agent_metric
        hour = Duration.hours(1)
        self._dlq_widget = self._graph("Dead-letter queue depth", [self._depth(n, q) for n, q in self._queues.items()],
                                       width=12, left_label="messages")
        board = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=self.dashboard_name,
                                     default_interval=Duration.days(7))
        board.add_widgets(cloudwatch.TextWidget(
            markdown=f"# Watchkeeper ({self._account})\nHow well the on-call agent does its job: incidents, "
                     "time to diagnosis, approval and mitigation, what it did and refused, what the model cost; "
                     "next to the incident workflow's executions and the functions' errors. Per-service figures: "
                     f"metrics `{NAMESPACE}` with dimensions `account, service`.", width=WIDTH, height=2))
        board.add_widgets(cloudwatch.AlarmStatusWidget(title="Alarms: on-call is paged for these", alarms=self.alarms,
                                                       width=WIDTH, height=3))
        board.add_widgets(
            self._graph("Incidents", [m("IncidentsOpened"), m("IncidentsMerged"), m("IncidentsResolved"),
                                      m("IncidentsEscalated")], left_label="per hour"),
            self._graph("Alerts", [m("AlertsReceived"), m("AlertsInvalid"), m("AlertsResolved")], left_label="per hour"),
            self._graph("Time from the first alert (p50 / p90)", [
                m("TimeToDiagnosis", "p50", hour, "to diagnosis p50"), m("TimeToDiagnosis", "p90", hour, "to diagnosis p90"),
                m("TimeToApprovalDecision", "p50", hour, "to approval decision p50"),
                m("TimeToMitigation", "p50", hour, "to mitigation p50"),
                m("TimeToMitigation", "p90", hour, "to mitigation p90")], left_label="seconds"),
        )
        board.add_widgets(
            self._graph("Actions", [m("ActionsExecuted"), m("ActionsBlocked"), m("ActionsReverted"), m("Abstentions")],
                        left_label="per hour"),
            self._graph("Approvals", [m("ApprovalsApproved"), m("ApprovalsRejected"), m("ApprovalsTimedOut")],
                        left_label="per hour", stacked=True),
            cloudwatch.GraphWidget(title="Model (Bedrock) tokens and cost", width=8, height=6,
                                   left=[m("ModelInputTokens"), m("ModelOutputTokens")], right=[m("ModelCost")],
                                   left_y_axis=cloudwatch.YAxisProps(label="tokens per hour", show_units=False, min=0),
                                   right_y_axis=cloudwatch.YAxisProps(label="USD per hour", show_units=False, min=0)),
        )
        five = Duration.minutes(5)
        board.add_widgets(
            self._graph("Incident workflow executions", [
                state_machine.metric_started(period=five, label="started"),
                state_machine.metric_succeeded(period=five, label="succeeded"),
                state_machine.metric_failed(period=five, label="failed"),
                state_machine.metric_timed_out(period=five, label="timed out"),
                m("WorkflowStepFailures", period=five, label="caught step failures (paged)")], width=12),
            self._graph("Function errors", [fn.function.metric_errors(period=five, label=name)
                                            for name, fn in functions.items()], width=12),
        )
        board.add_widgets(
            self._graph("Function duration p90", [fn.function.metric_duration(period=five, statistic="p90", label=name)
                                                  for name, fn in functions.items()], width=12, left_label="ms"),
            self._dlq_widget,
        )
        self.dashboard = board
        stack = cdk.Stack.of(self)
        cdk.CfnOutput(stack, "DashboardName", value=self.dashboard_name)
        cdk.CfnOutput(stack, "DashboardUrl", value=f"https://{stack.region}.console.aws.amazon.com/cloudwatch/home"
                                                    f"?region={stack.region}#dashboards/dashboard/{self.dashboard_name}")
