"""WatchkeeperStack composes the constructs; it holds no resources of its own."""

from __future__ import annotations

import json

import aws_cdk as cdk
from constructs import Construct

from infra.config import AccountConfig, Catalog
from infra.constructs.approvals import Approvals
from infra.constructs.functions import FunctionFactory
from infra.constructs.ingest import Ingest
from infra.constructs.observability import Observability
from infra.constructs.storage import Storage
from infra.constructs.workflow import Workflow


class WatchkeeperStack(cdk.Stack):
    def __init__(self, scope: Construct, id: str, *, account_name: str, config: AccountConfig, catalog: Catalog,
                 **kwargs) -> None:
        super().__init__(scope, id, env=cdk.Environment(account=config.account_id, region=config.region),
                         description=f"Watchkeeper AI on-call agent ({account_name})", **kwargs)
        storage = Storage(self, "Storage", account_name=account_name, config=config, catalog=catalog)
        observability = Observability(self, "Observability", account_name=account_name, config=config,
                                      key=storage.messaging_key)
        approvals = Approvals(self, "Approvals", config=config, key=storage.messaging_key)
        ingest = Ingest(self, "Ingest", config=config, key=storage.messaging_key)

        factory = FunctionFactory(environment={
            "WATCHKEEPER_ACCOUNT_NAME": account_name,
            "AUDIT_TABLE": storage.audit_table.table_name,
            "STATE_TABLE": storage.state_table.table_name,
            "REPORT_BUCKET": storage.report_bucket.bucket_name,
            "PAGE_TOPIC_ARN": observability.page_topic.topic_arn,
            "APPROVAL_TOPIC_ARN": approvals.topic.topic_arn,
            "CATALOG_PARAMETER": storage.catalog_parameter.parameter_name,
            "KILL_SWITCH_PARAMETER": storage.kill_switch_parameter.parameter_name,
            "BEDROCK_MODEL_ID": config.bedrock_model_id or "",
            "DRY_RUN": "true" if config.dry_run else "false",
            "APPROVERS": ",".join(config.approvers),
            "SLACK_CHANNEL": config.slack_channel,
            "APPROVAL_TIMEOUT_SECONDS": str(config.approval_timeout_seconds),
            "GUARDRAILS": json.dumps(config.guardrails, sort_keys=True, separators=(",", ":")),
            "POWERTOOLS_SERVICE_NAME": "watchkeeper",
            "ACCOUNT_ID": cdk.Aws.ACCOUNT_ID,                       # console links in the report
            "DASHBOARD_NAME": observability.dashboard_name,
            "POWERTOOLS_LOG_LEVEL": "INFO",
            "PYDANTIC_DISABLE_PLUGINS": "__all__",    # no entry-point scan at import: a cold-start cost
        })
        request_approval = approvals.add_request_function(factory, storage)
        workflow = Workflow(self, "Workflow", config=config, catalog=catalog, factory=factory, storage=storage,
                            page_topic=observability.page_topic, request_approval=request_approval)
        # one secret per purpose: the report posts to the approval's Slack thread with the bot token only
        approvals.grant_bot_token(workflow.report)
        approvals_api = approvals.add_api_function(factory, storage, workflow.state_machine)
        ingest_fn = ingest.add_function(factory, storage, config=config, state_machine=workflow.state_machine,
                                        api=approvals.api)
        approvals.deploy_stage_after_routes()   # the stage's per-route throttles name every route
        observability.watch(
            {"Ingest": ingest_fn, "RequestApproval": request_approval, "ApprovalsApi": approvals_api,
             **workflow.functions},
            workflow.state_machine,
        )

        self.state_machine = workflow.state_machine
        cdk.CfnOutput(self, "StateMachineArn", value=workflow.state_machine.state_machine_arn)
        cdk.CfnOutput(self, "AlertTopicArn", value=ingest.alert_topic.topic_arn)
        cdk.CfnOutput(self, "HttpApiUrl", value=approvals.url)
        cdk.CfnOutput(self, "ApproverPolicyArn", value=approvals.approver_policy.managed_policy_arn,
                      description="attach to the approver_arns principals for `watchkeeper approve|reject`")
        cdk.CfnOutput(self, "ReportBucketName", value=storage.report_bucket.bucket_name)
        cdk.CfnOutput(self, "AuditTableName", value=storage.audit_table.table_name)
        # what `watchkeeper incidents | show | doctor` read with the caller's credentials
        cdk.CfnOutput(self, "StateTableName", value=storage.state_table.table_name)
        cdk.CfnOutput(self, "KillSwitchParameterName", value=storage.kill_switch_parameter.parameter_name)
        cdk.CfnOutput(self, "WebhookSecretArn", value=ingest.webhook_secret.secret_arn)
        cdk.Tags.of(self).add("project", "watchkeeper")
        cdk.Tags.of(self).add("watchkeeper:account", account_name)
