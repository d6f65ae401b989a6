"""Audit trail, incident state, reports and the runtime configuration (catalog, kill switch)."""

from __future__ import annotations

import json

import aws_cdk as cdk
from aws_cdk import Duration, aws_dynamodb as dynamodb, aws_iam as iam, aws_kms as kms, aws_s3 as s3, aws_sns as sns, aws_ssm as ssm
from aws_cdk import custom_resources as cr
from constructs import Construct

from infra.config import AccountConfig, Catalog
from infra.nag import acknowledge


class Storage(Construct):
    def __init__(self, scope: Construct, id: str, *, account_name: str, config: AccountConfig, catalog: Catalog) -> None:
        super().__init__(scope, id)
        self.key = kms.Key(
            self, "DataKey",
            description="Watchkeeper: encrypts the audit and state tables",
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        self.messaging_key = kms.Key(
            self, "MessagingKey",
            description="Watchkeeper: encrypts the alert, approval and page topics",
            enable_key_rotation=True,
        )
        # CloudWatch alarms publish to the encrypted alert and page topics.
        self.messaging_key.add_to_resource_policy(iam.PolicyStatement(
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey"],
            resources=["*"],  # in a key policy, "*" means this key
            conditions={"StringEquals": {"aws:SourceAccount": cdk.Stack.of(self).account}},
        ))
        self.audit_table = self._table("AuditTable", "incident_id", "seq")
        self.state_table = self._table("StateTable", "pk", "sk")

        self.access_log_bucket = s3.Bucket(
            self, "AccessLogBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,  # server access logs only support SSE-S3
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(365))],
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        acknowledge(
            self.access_log_bucket, "AwsSolutions-S1",
            "This bucket receives the report bucket's server access logs; logging it to itself would loop.",
        )
        self.report_bucket = s3.Bucket(
            self, "ReportBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_log_bucket,
            server_access_logs_prefix="reports/",
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )

        self.catalog_parameter = ssm.StringParameter(
            self, "CatalogParameter",
            parameter_name=f"/watchkeeper/{account_name}/catalog",
            description="Watchkeeper service catalog (JSON of the account's catalog YAML)",
            string_value=json.dumps(catalog.model_dump(mode="json", exclude_none=True), sort_keys=True),
            tier=ssm.ParameterTier.ADVANCED,
        )
        self.kill_switch_parameter = self._kill_switch(f"/watchkeeper/{account_name}/kill-switch")

    def _kill_switch(self, name: str) -> ssm.IStringParameter:
        """The kill switch is created once, `off`, and never written by a deploy again.

        A CloudFormation parameter resource would set its value on every update that touches it,
        switching a tripped kill switch back off; so a custom resource creates it only if it does
        not exist (an operator may have created it first, `on`) and the stack only reads it."""
        arn = cdk.Stack.of(self).format_arn(service="ssm", resource="parameter", resource_name=name.lstrip("/"))
        cr.AwsCustomResource(
            self, "KillSwitchCreatedOnce",
            on_create=cr.AwsSdkCall(
                service="SSM", action="putParameter",
                parameters={"Name": name, "Value": "off", "Type": "String", "Overwrite": False,
                            "Description": "Set to 'on' to stop Watchkeeper from executing any remediation; "
                                           "anything but exactly 'off' stops it too"},
                physical_resource_id=cr.PhysicalResourceId.of(name),
                ignore_error_codes_matching="ParameterAlreadyExists"),
            on_delete=cr.AwsSdkCall(service="SSM", action="deleteParameter", parameters={"Name": name},
                                    ignore_error_codes_matching="ParameterNotFound"),
            policy=cr.AwsCustomResourcePolicy.from_statements([iam.PolicyStatement(
                actions=["ssm:PutParameter", "ssm:DeleteParameter"], resources=[arn])]),
            install_latest_aws_sdk=False,
        )
        # the provider function is a stack-level singleton of aws-cdk-lib
        acknowledge(cdk.Stack.of(self), "AwsSolutions-IAM4",
                    "The custom-resource provider that creates the kill switch once uses the basic Lambda execution "
                    "role for its own logs only; it runs at deploy time, never during an incident.",
                    "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")
        return ssm.StringParameter.from_string_parameter_name(self, "KillSwitchParameter", name)

    def _table(self, id: str, partition_key: str, sort_key: str) -> dynamodb.Table:
        return dynamodb.Table(
            self, id,
            partition_key=dynamodb.Attribute(name=partition_key, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=sort_key, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True,
            ),
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=self.key,
            time_to_live_attribute="expires_at",
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )

    def grant_baseline(self, grantee: iam.IGrantable) -> None:
        """What every function may do: read incident state, the audit trail, the catalog and the kill switch."""
        self.state_table.grant_read_data(grantee)
        self.audit_table.grant_read_data(grantee)
        self.catalog_parameter.grant_read(grantee)
        self.kill_switch_parameter.grant_read(grantee)

    def grant_state_write(self, grantee: iam.IGrantable) -> None:
        """Item writes on the state table; explicit KMS actions instead of CDK's kms:ReEncrypt*/GenerateDataKey*."""
        self.state_table.grant(grantee, "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
                               "dynamodb:BatchWriteItem")
        self.key.grant(grantee, "kms:Encrypt", "kms:GenerateDataKey", "kms:Decrypt", "kms:DescribeKey")

    def grant_publish(self, topic: sns.ITopic, grantee: iam.IGrantable) -> None:
        """sns:Publish on one topic encrypted with the messaging key (no kms:GenerateDataKey* wildcard)."""
        iam.Grant.add_to_principal(grantee=grantee, actions=["sns:Publish"], resource_arns=[topic.topic_arn])
        self.messaging_key.grant(grantee, "kms:GenerateDataKey", "kms:Decrypt")

    def grant_audit_append(self, grantee: iam.IGrantable) -> None:
        """Append-only: PutItem (conditional puts), never Update or Delete."""
        self.audit_table.grant(grantee, "dynamodb:PutItem")
        self.key.grant(grantee, "kms:Encrypt", "kms:GenerateDataKey", "kms:Decrypt", "kms:DescribeKey")
