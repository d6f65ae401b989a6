"""The one place that decides how a Watchkeeper Lambda function is built."""

from __future__ import annotations

from dataclasses import dataclass, field

import aws_cdk as cdk
from aws_cdk import Duration, aws_iam as iam, aws_lambda as lambda_, aws_logs as logs, aws_sqs as sqs
from constructs import Construct

from infra import bundling
from infra.nag import acknowledge


@dataclass(frozen=True)
class FunctionSpec:
    handler: str
    description: str
    memory_size: int = 256
    timeout: Duration = field(default_factory=lambda: Duration.seconds(30))
    actions_asset: bool = False
    environment: dict[str, str] = field(default_factory=dict)
    reserved_concurrent_executions: int | None = None
    xray_subsegments: bool = False      # load the X-Ray SDK for subsegments of the function's outside calls


def code_asset(requirements: list[str], bundle: str) -> lambda_.Code:
    """The `functions/` directory bundled locally with `requirements` (no Docker)."""
    return lambda_.Code.from_asset(
        str(bundling.SOURCE_DIR),
        asset_hash_type=cdk.AssetHashType.OUTPUT,
        bundling=cdk.BundlingOptions(
            image=cdk.DockerImage.from_registry("unused"),  # never pulled: the local bundler always succeeds
            local=bundling.LocalPythonBundler(requirements),
            command=["false"],
            environment={"WATCHKEEPER_BUNDLE": bundle},
        ),
        exclude=["**/__pycache__", "*.egg-info"],
    )


class WatchkeeperFunction(Construct):
    """A function with its own role, log group and async-invocation DLQ."""

    def __init__(self, scope: Construct, id: str, *, spec: FunctionSpec, code: lambda_.Code,
                 environment: dict[str, str], log_retention: logs.RetentionDays) -> None:
        super().__init__(scope, id)
        self.role = iam.Role(
            self, "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Watchkeeper {id}: {spec.description}",
        )
        self.log_group = logs.LogGroup(
            self, "Logs", retention=log_retention, removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        self.log_group.grant_write(self.role)
        self.dead_letter_queue = sqs.Queue(
            self, "DeadLetterQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        self.function = lambda_.Function(
            self, "Function",
            runtime=bundling.RUNTIME,
            architecture=bundling.ARCHITECTURE,
            handler=spec.handler,
            code=code,
            description=spec.description,
            role=self.role,
            log_group=self.log_group,
            tracing=lambda_.Tracing.ACTIVE,
            memory_size=spec.memory_size,
            timeout=spec.timeout,
            reserved_concurrent_executions=spec.reserved_concurrent_executions,
            dead_letter_queue=self.dead_letter_queue,
            environment={**environment, **spec.environment,
                         **({"WATCHKEEPER_XRAY_SUBSEGMENTS": "true"} if spec.xray_subsegments else {})},
        )
        # which code asset the function ships (benchmarks/cold_start.py imports each handler from it)
        self.function.node.default_child.add_metadata("watchkeeper:asset", "actions" if spec.actions_asset else "common")
        acknowledge(
            self.role, "AwsSolutions-IAM5",
            "X-Ray PutTraceSegments/PutTelemetryRecords do not support resource-level permissions (active tracing).",
            "Resource::*",
        )
        acknowledge(
            self.dead_letter_queue, "AwsSolutions-SQS3",
            "This queue is itself the dead-letter queue of the function's asynchronous invocations.",
        )
        acknowledge(
            self.function, "AwsSolutions-L1",
            "Pinned to python3.12: the bundled wheels are resolved for cp312 and the handlers are tested on it.",
        )

    def add_to_policy(self, *statements: iam.PolicyStatement) -> None:
        for statement in statements:
            self.role.add_to_principal_policy(statement)


class FunctionFactory:
    """Builds every Watchkeeper function with the same runtime, architecture, tracing, logs and environment."""

    def __init__(self, *, environment: dict[str, str],
                 log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH) -> None:
        self._environment = dict(environment)
        self._log_retention = log_retention
        self._common_code = code_asset(bundling.common_requirements(), "common")
        self._actions_code: lambda_.Code | None = None

    def _code(self, actions: bool) -> lambda_.Code:
        if not actions:
            return self._common_code
        if self._actions_code is None:
            self._actions_code = code_asset(bundling.actions_requirements(), "actions")
        return self._actions_code

    def create(self, scope: Construct, id: str, spec: FunctionSpec) -> WatchkeeperFunction:
        return WatchkeeperFunction(
            scope, id, spec=spec, code=self._code(spec.actions_asset),
            environment=self._environment, log_retention=self._log_retention,
        )
