"""The change feed: EventBridge rules that record deploys and configuration changes in the journal.

One rule per kind of change, each targeting the change feed function (asynchronous: retried by
EventBridge, then by Lambda, then dead-lettered and alarmed):

- ECS "ECS Deployment State Change" (a deployment or rollback starts),
- CodeDeploy "CodeDeploy Deployment State-change Notification" (START),
- Lambda "AWS API Call via CloudTrail" (UpdateFunctionCode, PublishVersion, Create/UpdateAlias,
  UpdateFunctionConfiguration; the account needs a CloudTrail trail for these),
- SSM "Parameter Store Change" under the account's configuration paths,
- AppConfig "On Deployment Start" / "On Deployment Rollback".

Kubernetes rollouts are read from the cluster by Gather (ReplicaSet revisions), not fed here.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import Duration, aws_events as events, aws_events_targets as targets, aws_iam as iam
from constructs import Construct

from infra.config import AccountConfig, Catalog
from infra.constructs.functions import FunctionFactory, FunctionSpec
from infra.constructs.dead_letters import dead_letter_queue
from infra.constructs.storage import Storage
from infra.nag import acknowledge

LAMBDA_CHANGES = ["UpdateFunctionCode20150331v2", "PublishVersion20150331", "CreateAlias20150331",
                  "UpdateAlias20150331", "UpdateFunctionConfiguration20150331v2"]


class ChangeFeed(Construct):
    def __init__(self, scope: Construct, id: str, *, config: AccountConfig, catalog: Catalog,
                 factory: FunctionFactory, storage: Storage) -> None:
        super().__init__(scope, id)
        self.dead_letters = dead_letter_queue(
            self, "DeadLetterQueue", "the change feed rules' targets' and the function's asynchronous invocations'")
        paths = list(config.config_parameter_paths)
        self.function = factory.create(self, "RecordChange", FunctionSpec(
            handler="watchkeeper.handlers.change_feed.handler",
            description="Change feed: record deploys and configuration changes in the journal as they happen",
            environment={"CONFIG_PARAMETER_PATHS": ",".join(paths)},
            async_dead_letter_queue=self.dead_letters,
        ))
        role = self.function.role
        storage.grant_baseline(role)                # the catalog
        storage.grant_state_write(role)             # BatchWriteItem: CHANGE# and CHANGEID# items
        stack = cdk.Stack.of(self)

        def arn(service: str, resource: str, partition: str = stack.partition) -> str:
            return f"arn:{partition}:{service}:{stack.region}:{stack.account}:{resource}"

        ecs_services = sorted({(s.cluster, s.workload or s.name) for s in catalog.services if s.platform == "ecs" and s.cluster})
        if ecs_services:                            # the task definition a deployment rolls out
            role.add_to_principal_policy(iam.PolicyStatement(actions=["ecs:DescribeServices"], resources=[
                arn("ecs", f"service/{c}/{w}") for c, w in ecs_services]))
        # a changed parameter's version (GetParameter without decryption: never a secret's value)
        parameters = [f"parameter/{p.strip('/')}/*" for p in paths]
        role.add_to_principal_policy(iam.PolicyStatement(actions=["ssm:GetParameter"],
                                                         resources=[arn("ssm", r) for r in parameters]))
        acknowledge(role, "AwsSolutions-IAM5",
                    "The change feed reads the version of any parameter under the account's configuration paths "
                    "(the services' configuration), with GetParameter and without decryption.",
                    *[f"Resource::{arn('ssm', r, '<AWS::Partition>')}" for r in parameters])

        target = targets.LambdaFunction(self.function.function, retry_attempts=4, max_event_age=Duration.hours(2),
                                        dead_letter_queue=self.dead_letters)
        patterns = {
            "EcsDeploymentRule": ("ECS deployments and rollbacks starting", events.EventPattern(
                source=["aws.ecs"], detail_type=["ECS Deployment State Change"],
                detail={"eventName": ["SERVICE_DEPLOYMENT_IN_PROGRESS"]})),
            "CodeDeployDeploymentRule": ("CodeDeploy deployments starting", events.EventPattern(
                source=["aws.codedeploy"], detail_type=["CodeDeploy Deployment State-change Notification"],
                detail={"state": ["START"]})),
            "LambdaChangeRule": ("Lambda code, version, alias and configuration updates (CloudTrail)", events.EventPattern(
                source=["aws.lambda"], detail_type=["AWS API Call via CloudTrail"],
                detail={"eventSource": ["lambda.amazonaws.com"], "eventName": LAMBDA_CHANGES})),
            "ParameterChangeRule": ("Parameter Store values created or updated under the configuration paths",
                                    events.EventPattern(source=["aws.ssm"], detail_type=["Parameter Store Change"],
                                                        detail={"operation": ["Create", "Update"],
                                                                "name": [{"prefix": p} for p in paths]})),
            "AppConfigDeploymentRule": ("AppConfig deployments starting or rolling back", events.EventPattern(
                source=["aws.appconfig"], detail_type=["On Deployment Start", "On Deployment Rollback"])),
        }
        self.rules = {name: events.Rule(self, name, description=f"Change feed: {what}", event_pattern=pattern,
                                        targets=[target])
                      for name, (what, pattern) in patterns.items()}
