"""The incident workflow `Watchkeeper-<account>-Incident`: the steps a human responder would take, in order."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import Duration, aws_iam as iam, aws_logs as logs, aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn, aws_stepfunctions_tasks as tasks
from constructs import Construct

from infra.config import AccountConfig, Catalog
from infra.constructs.functions import FunctionFactory, FunctionSpec, WatchkeeperFunction
from infra.constructs.storage import Storage
from infra.nag import acknowledge, arn_of

TRANSIENT_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "TransientError",
]
GEO_PREFIXES = ("us.", "eu.", "apac.", "us-gov.", "jp.", "au.", "ca.", "global.")


class Workflow(Construct):
    def __init__(self, scope: Construct, id: str, *, config: AccountConfig, catalog: Catalog,
                 factory: FunctionFactory, storage: Storage, page_topic: sns.ITopic,
                 request_approval: WatchkeeperFunction) -> None:
        super().__init__(scope, id)
        self._config = config
        self._retry_interval = Duration.seconds(config.retry_interval_seconds)
        stack = cdk.Stack.of(self)
        self._partition, self._region, self._account = stack.partition, stack.region, stack.account

        functions_scope = Construct(self, "Functions")  # state names use the readable ids in `self`

        def fn(id: str, spec: FunctionSpec) -> WatchkeeperFunction:
            created = factory.create(functions_scope, id, spec)
            storage.grant_baseline(created.role)
            storage.grant_audit_append(created.role)     # every step appends its record to the audit trail
            return created

        self.classify = fn("ClassifyAlert", FunctionSpec(
            handler="watchkeeper.handlers.classify.handler",
            description="Classify alert: severity, service, and correlation with open incidents"))
        storage.grant_state_write(self.classify.role)
        self.gather = fn("GatherEvidence", FunctionSpec(
            handler="watchkeeper.handlers.gather.handler", memory_size=1024, timeout=Duration.seconds(90),
            xray_subsegments=True,
            actions_asset=True,   # reads pods' restarts and termination reasons with the kubernetes client
            description="Gather evidence: logs, metrics and recent changes of the affected services"))
        self._grant_gather(catalog)
        storage.grant_state_write(self.gather.role)       # each service's log-template history (TEMPLATES#)
        self.gather.function.add_environment("CHANGE_SOURCES", ",".join(config.change_sources))
        self._grant_change_sources(catalog)
        eks_clusters = sorted({s.cluster for s in catalog.services if s.platform == "eks" and s.cluster})
        if eks_clusters:
            self.gather.add_to_policy(iam.PolicyStatement(
                actions=["eks:DescribeCluster"], resources=[self._arn("eks", f"cluster/{c}") for c in eks_clusters]))
        self.diagnose = fn("Diagnose", FunctionSpec(
            handler="watchkeeper.handlers.diagnose.handler", memory_size=512, timeout=Duration.seconds(120),
            # no X-Ray SDK (30 ms of a cold start): active tracing still times the invocation, mostly the model call
            description="Diagnose: rank root-cause hypotheses from the evidence"))
        self._grant_bedrock()
        self.plan = fn("PlanRemediation", FunctionSpec(
            handler="watchkeeper.handlers.plan.handler",
            description="Plan remediation: select a runbook and apply the guardrails"))
        self.execute = fn("ExecuteActions", FunctionSpec(
            handler="watchkeeper.handlers.execute.handler", memory_size=512, timeout=Duration.seconds(300),
            xray_subsegments=True,
            actions_asset=True, reserved_concurrent_executions=config.reserved_concurrency,
            description="Execute actions: run the approved runbook steps (unless the kill switch is on)"))
        storage.grant_state_write(self.execute.role)      # rate limits and the write lock (RATE#/LOCK# items)
        self._grant_execute(self.execute, catalog)
        self.verify = fn("VerifyRecovery", FunctionSpec(
            handler="watchkeeper.handlers.verify.handler", timeout=Duration.seconds(300), actions_asset=True,
            xray_subsegments=True,
            description="Verify recovery: check the alarms and metrics that opened the incident",
            environment={"VERIFY_WAIT_SECONDS": str(config.verify_wait_seconds),
                         "VERIFY_MAX_ATTEMPTS": str(config.verify_max_attempts)}))
        self._grant_verify()
        # a failed verification reverts the executed writes: the same remediation rights as Execute actions
        storage.grant_state_write(self.verify.role)
        self._grant_execute(self.verify, catalog)
        self.report = fn("WriteReport", FunctionSpec(
            handler="watchkeeper.handlers.report.handler", memory_size=512, timeout=Duration.seconds(60),
            description="Write report: the incident timeline, diagnosis and actions, to S3"))
        storage.grant_state_write(self.report.role)       # the incident's final status and its memory (MEMORY#<service>)
        self.report.add_to_policy(iam.PolicyStatement(
            actions=["s3:PutObject"], resources=[storage.report_bucket.arn_for_objects("reports/*")]))
        # the report's chart draws the service's metrics (ListMetrics finds them, GetMetricData reads them)
        self.report.add_to_policy(iam.PolicyStatement(
            actions=["cloudwatch:GetMetricData", "cloudwatch:ListMetrics"], resources=["*"]))
        acknowledge(self.report.role, "AwsSolutions-IAM5",
                    "Reports are written under reports/<incident id>/; object keys are not known in advance. "
                    "GetMetricData and ListMetrics have no resource-level permissions; both are read-only.",
                    f"Resource::{arn_of(storage.report_bucket)}/reports/*", "Resource::*")
        self.escalate = fn("Escalate", FunctionSpec(
            handler="watchkeeper.handlers.escalate.handler",
            description="Page on-call: publish the incident summary to the page topic"))
        storage.grant_state_write(self.escalate.role)     # the incident's escalation
        storage.grant_publish(page_topic, self.escalate.role)

        self.functions = {
            "ClassifyAlert": self.classify, "GatherEvidence": self.gather, "Diagnose": self.diagnose,
            "PlanRemediation": self.plan, "ExecuteActions": self.execute, "VerifyRecovery": self.verify,
            "WriteReport": self.report, "Escalate": self.escalate,
        }
        self.state_machine = self._state_machine(request_approval)

    # -- the state machine ------------------------------------------------------------------

    def _retry(self, task: sfn.TaskStateBase) -> None:
        task.add_retry(errors=TRANSIENT_ERRORS, interval=self._retry_interval, max_attempts=3, backoff_rate=2.0)

    def _step(self, name: str, fn: WatchkeeperFunction, key: str, on_failure: sfn.IChainable) -> tasks.LambdaInvoke:
        task = tasks.LambdaInvoke(self, name, lambda_function=fn.function, payload_response_only=True,
                                  retry_on_service_exceptions=False,
                                  result_path=f"$.{key}")
        self._retry(task)
        task.add_catch(on_failure, errors=["States.ALL"], result_path="$.error")
        return task

    def _state_machine(self, request_approval: WatchkeeperFunction) -> sfn.StateMachine:
        record_failure = tasks.LambdaInvoke(
            self, "Record failure and page", lambda_function=self.escalate.function,
            payload_response_only=True, retry_on_service_exceptions=False, result_path="$.escalation")
        self._retry(record_failure)
        record_failure.add_catch(sfn.Fail(self, "Escalation failed", error="EscalationFailed",
                                          cause="Watchkeeper could not record the failure or page on-call"),
                                 errors=["States.ALL"], result_path="$.error")
        record_failure.next(sfn.Succeed(self, "Escalated after failure"))

        write_report = self._step("Write report", self.report, "report", record_failure)
        write_report.next(sfn.Succeed(self, "Incident handled"))
        page = self._step("Page on-call", self.escalate, "escalation", record_failure)
        page.next(write_report)

        verify = self._step("Verify recovery", self.verify, "verification", record_failure)
        recheck = sfn.Wait(self, "Wait before re-checking",
                           time=sfn.WaitTime.seconds_path("$.verification.wait_seconds"))
        recheck.next(verify)
        verify.next(sfn.Choice(self, "Recovered?")
                    .when(sfn.Condition.string_equals("$.verification.status", "recovered"), write_report)
                    .when(sfn.Condition.string_equals("$.verification.status", "pending"), recheck)
                    .otherwise(page))

        execute = self._step("Execute actions", self.execute, "execution", record_failure)
        execute.next(sfn.Choice(self, "Executed?")
                     .when(sfn.Condition.string_equals("$.execution.status", "executed"), verify)
                     .when(sfn.Condition.string_equals("$.execution.status", "planned"), write_report)
                     .otherwise(page))

        wait_for_approval = tasks.LambdaInvoke(
            self, "Wait for approval",
            lambda_function=request_approval.function,
            integration_pattern=sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
            retry_on_service_exceptions=False,
            payload=sfn.TaskInput.from_object({
                "task_token": sfn.JsonPath.task_token,
                "incident_id": sfn.JsonPath.string_at("$.incident_id"),
                "incident": sfn.JsonPath.object_at("$.incident"),
                "diagnosis": sfn.JsonPath.object_at("$.diagnosis"),
                "plan": sfn.JsonPath.object_at("$.plan"),
                "evidence": sfn.JsonPath.object_at("$.evidence"),
                "preview": sfn.JsonPath.object_at("$.preview"),
                # the approvers see the real window (counted from here) and a link to this execution
                "entered_at": sfn.JsonPath.string_at("$$.State.EnteredTime"),
                "execution_arn": sfn.JsonPath.string_at("$$.Execution.Id"),
            }),
            result_path="$.approval",
            # one window, the one every channel announces: no heartbeat timeout (a page view proves no
            # one is there; heartbeats are sent only after a proven approver acts, to check it still waits)
            task_timeout=sfn.Timeout.duration(Duration.seconds(self._config.approval_timeout_seconds)),
        )
        self._retry(wait_for_approval)
        wait_for_approval.add_catch(sfn.Pass(self, "Approval timed out").next(page),
                                    errors=["States.Timeout", "States.HeartbeatTimeout"], result_path="$.error")
        wait_for_approval.add_catch(record_failure, errors=["States.ALL"], result_path="$.error")
        wait_for_approval.next(sfn.Choice(self, "Approved?")
                               .when(sfn.Condition.boolean_equals("$.approval.approved", True), execute)
                               .otherwise(write_report))

        # the dry run of each proposed write, by the function that holds the executors (read-only here);
        # if it cannot be computed the request still goes out and says so
        preview = tasks.LambdaInvoke(
            self, "Preview actions", lambda_function=self.execute.function, payload_response_only=True,
            retry_on_service_exceptions=False,
            payload=sfn.TaskInput.from_object({
                "mode": "preview",
                "incident_id": sfn.JsonPath.string_at("$.incident_id"),
                "incident": sfn.JsonPath.object_at("$.incident"),
                "plan": sfn.JsonPath.object_at("$.plan"),
            }),
            result_path="$.preview",
        )
        self._retry(preview)
        preview.add_catch(wait_for_approval, errors=["States.ALL"], result_path="$.preview")
        preview.next(wait_for_approval)

        plan = self._step("Plan remediation", self.plan, "plan", record_failure)
        plan.next(sfn.Choice(self, "Needs approval?")
                  .when(sfn.Condition.string_equals("$.plan.decision", "approve"), preview)
                  .when(sfn.Condition.string_equals("$.plan.decision", "execute"), execute)
                  .otherwise(page))

        gather = self._step("Gather evidence", self.gather, "evidence", record_failure)
        gather.next(self._step("Diagnose", self.diagnose, "diagnosis", record_failure)).next(plan)

        classify = self._step("Classify alert", self.classify, "incident", record_failure)
        classify.next(sfn.Choice(self, "Merged into another incident?")
                      .when(sfn.Condition.string_equals("$.incident.status", "merged"),
                            sfn.Succeed(self, "Merged into another incident"))
                      .otherwise(gather))
        start = sfn.Wait(self, "Wait for related alerts", time=sfn.WaitTime.seconds_path("$.settle_seconds"))
        start.next(classify)

        log_group = logs.LogGroup(self, "ExecutionLogs", retention=logs.RetentionDays.ONE_MONTH,
                                  removal_policy=cdk.RemovalPolicy.DESTROY)
        machine = sfn.StateMachine(
            self, "StateMachine",
            # named after the stack (Watchkeeper-<account>): several stacks can share an account and region
            state_machine_name=f"{cdk.Stack.of(self).stack_name}-Incident",
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_chainable(start),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
        )
        invoked = [request_approval, *self.functions.values()]
        acknowledge(
            machine.role, "AwsSolutions-IAM5",
            "lambda:InvokeFunction on <function ARN>:* lets the workflow invoke the function's versions and aliases "
            "(CDK LambdaInvoke grant); X-Ray and CloudWatch Logs delivery actions do not support resource-level "
            "permissions.",
            "Resource::*", *(f"Resource::{arn_of(f.function)}:*" for f in invoked),
        )
        return machine

    # -- least-privilege grants for the outside world --------------------------------------

    def _arn(self, service: str, resource: str, region: bool = True, account: bool = True) -> str:
        return (f"arn:{self._partition}:{service}:{self._region if region else ''}:"
                f"{self._account if account else ''}:{resource}")

    def _nag_arn(self, service: str, resource: str, region: bool = True, account: bool = True) -> str:
        return (f"arn:<AWS::Partition>:{service}:{self._region if region else ''}:"
                f"{self._account if account else ''}:{resource}")

    def _grant_gather(self, catalog: Catalog) -> None:
        """Evidence is read wherever the alerts point: any log group, any metric (read-only).

        An alert can name a service the catalog does not list yet, and a replay rehearses another
        estate on the same stack; every write, by contrast, is scoped to the catalog's resources."""
        self.gather.add_to_policy(iam.PolicyStatement(
            actions=["logs:FilterLogEvents", "logs:StartQuery"], resources=[self._arn("logs", "log-group:*")]))
        self.gather.add_to_policy(iam.PolicyStatement(
            actions=["logs:GetQueryResults", "logs:StopQuery", "cloudwatch:GetMetricData", "cloudwatch:ListMetrics"],
            resources=["*"]))
        acknowledge(
            self.gather.role, "AwsSolutions-IAM5",
            "Evidence is read from any log group an alert points at (read-only: FilterLogEvents, StartQuery); "
            "GetQueryResults, StopQuery, GetMetricData and ListMetrics do not support resource-level permissions.",
            "Resource::*", f"Resource::{self._nag_arn('logs', 'log-group:*')}",
        )

    def _grant_bedrock(self) -> None:
        model_id = self._config.bedrock_model_id
        if not model_id:
            return
        actions = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]  # Converse uses InvokeModel
        if model_id.startswith(GEO_PREFIXES):
            base = model_id.split(".", 1)[1]
            self.diagnose.add_to_policy(iam.PolicyStatement(actions=actions, resources=[
                self._arn("bedrock", f"inference-profile/{model_id}"),
                self._arn("bedrock", f"foundation-model/{base}", region=False, account=False).replace(
                    "bedrock:::", "bedrock:*::"),
            ]))
            acknowledge(self.diagnose.role, "AwsSolutions-IAM5",
                        "A cross-region inference profile routes to the same foundation model in several regions.",
                        f"Resource::arn:<AWS::Partition>:bedrock:*::foundation-model/{base}")
        else:
            self.diagnose.add_to_policy(iam.PolicyStatement(actions=actions, resources=[
                self._arn("bedrock", f"foundation-model/{model_id}", account=False)]))

    def _grant_execute(self, target: WatchkeeperFunction, catalog: Catalog) -> None:
        """Writes only on the catalog's resources; the reads a dry run needs (the before-state) anywhere."""
        services = catalog.services
        wildcards = ["Resource::*"]
        eks_clusters = sorted({s.cluster for s in services if s.platform == "eks" and s.cluster})
        if eks_clusters:
            target.add_to_policy(iam.PolicyStatement(
                actions=["eks:DescribeCluster"], resources=[self._arn("eks", f"cluster/{c}") for c in eks_clusters]))
        # before-states for the dry run and the revert: read-only
        reads = [("ecs:DescribeServices", self._arn("ecs", "service/*")),
                 ("lambda:GetAlias", self._arn("lambda", "function:*")),
                 ("lambda:ListVersionsByFunction", self._arn("lambda", "function:*")),
                 ("lambda:ListAliases", self._arn("lambda", "function:*"))]
        for action, resource in reads:
            target.add_to_policy(iam.PolicyStatement(actions=[action], resources=[resource]))
        wildcards += [f"Resource::{self._nag_arn('ecs', 'service/*')}", f"Resource::{self._nag_arn('lambda', 'function:*')}"]
        ecs = sorted({(s.cluster, s.workload or s.name) for s in services if s.platform == "ecs" and s.cluster})
        if ecs:
            target.add_to_policy(iam.PolicyStatement(
                actions=["ecs:UpdateService"], resources=[self._arn("ecs", f"service/{c}/{w}") for c, w in ecs]))
            # restart_pods on ECS: stop the chosen tasks of the catalog's clusters (the service replaces them)
            clusters = sorted({c for c, _ in ecs})
            target.add_to_policy(iam.PolicyStatement(
                actions=["ecs:StopTask", "ecs:DescribeTasks"],
                resources=[self._arn("ecs", f"task/{c}/*") for c in clusters]))
            target.add_to_policy(iam.PolicyStatement(
                actions=["ecs:ListTasks"], resources=["*"],
                conditions={"ArnEquals": {"ecs:cluster": [self._arn("ecs", f"cluster/{c}") for c in clusters]}}))
            wildcards += [f"Resource::{self._nag_arn('ecs', f'task/{c}/*')}" for c in clusters]
        lambdas = sorted({s.workload or s.name for s in services if s.platform == "lambda"})
        if lambdas:
            target.add_to_policy(iam.PolicyStatement(
                actions=["lambda:UpdateAlias"],
                resources=[arn for name in lambdas for arn in (self._arn("lambda", f"function:{name}"),
                                                              self._arn("lambda", f"function:{name}:*"))]))
            wildcards += [f"Resource::{self._nag_arn('lambda', f'function:{name}:*')}" for name in lambdas]
        asgs = sorted({s.workload or s.name for s in services if s.platform == "ec2"})
        if asgs:
            target.add_to_policy(iam.PolicyStatement(
                actions=["autoscaling:SetDesiredCapacity"],
                resources=[self._arn("autoscaling", f"autoScalingGroup:*:autoScalingGroupName/{n}") for n in asgs]))
            wildcards += [f"Resource::{self._nag_arn('autoscaling', f'autoScalingGroup:*:autoScalingGroupName/{n}')}"
                          for n in asgs]
        # EC2 rollback through CodeDeploy: read any deployment group's deployments (the before-state of a dry
        # run: a culprit deployment, the revision before it, the group's live revision); deploy only to the
        # catalog's EC2 services' applications (named after the service or its Auto Scaling group), with
        # the revision they already ran and a deployment configuration CodeDeploy checks on CreateDeployment.
        target.add_to_policy(iam.PolicyStatement(
            actions=["codedeploy:GetDeployment", "codedeploy:GetDeploymentGroup", "codedeploy:ListDeployments"],
            resources=[self._arn("codedeploy", "deploymentgroup:*")]))
        wildcards.append(f"Resource::{self._nag_arn('codedeploy', 'deploymentgroup:*')}")
        apps = sorted({a for s in services if s.platform == "ec2" for a in (s.name, s.workload or s.name)})
        if apps:
            target.add_to_policy(iam.PolicyStatement(
                actions=["codedeploy:CreateDeployment"],
                resources=[self._arn("codedeploy", f"deploymentgroup:{a}/*") for a in apps]))
            target.add_to_policy(iam.PolicyStatement(
                actions=["codedeploy:GetApplicationRevision"],
                resources=[self._arn("codedeploy", f"application:{a}") for a in apps]))
            target.add_to_policy(iam.PolicyStatement(
                actions=["codedeploy:GetDeploymentConfig"], resources=[self._arn("codedeploy", "deploymentconfig:*")]))
            wildcards += [f"Resource::{self._nag_arn('codedeploy', f'deploymentgroup:{a}/*')}" for a in apps]
            wildcards.append(f"Resource::{self._nag_arn('codedeploy', 'deploymentconfig:*')}")
        # Config revert: the history of any parameter (read-only), writes only under the configuration paths.
        paths = self._config.config_parameter_paths
        target.add_to_policy(iam.PolicyStatement(
            actions=["ssm:GetParameterHistory"], resources=[self._arn("ssm", "parameter/*")]))
        target.add_to_policy(iam.PolicyStatement(
            actions=["ssm:PutParameter"], resources=[self._arn("ssm", f"parameter{p.rstrip('/')}/*") for p in paths]))
        wildcards += [f"Resource::{self._nag_arn('ssm', 'parameter' + p.rstrip('/') + '/*')}" for p in paths]
        wildcards.append(f"Resource::{self._nag_arn('ssm', 'parameter/*')}")
        # Config revert on AppConfig: find the application, environment and profile by name, read the
        # environment's deployments, start the version deployed before the culprit (or stop the culprit
        # while it still rolls out). AppConfig ids are generated, so the ARNs are wildcards.
        appconfig = ("application/*", "application/*/environment/*", "application/*/environment/*/deployment/*",
                     "application/*/configurationprofile/*", "deploymentstrategy/*")
        target.add_to_policy(iam.PolicyStatement(
            actions=["appconfig:ListEnvironments", "appconfig:ListConfigurationProfiles", "appconfig:ListDeployments",
                     "appconfig:StartDeployment", "appconfig:StopDeployment"],
            resources=[self._arn("appconfig", r) for r in appconfig]))
        wildcards += [f"Resource::{self._nag_arn('appconfig', r)}" for r in appconfig]
        # Read-only lookups without resource-level permissions; Run Command's final status.
        target.add_to_policy(iam.PolicyStatement(
            actions=["ecs:DescribeTaskDefinition", "autoscaling:DescribeAutoScalingGroups", "appconfig:ListApplications",
                     "ssm:ListCommands", "ssm:ListCommandInvocations"], resources=["*"]))
        # Run Command only on instances tagged for Watchkeeper, only with the shell-script document.
        target.add_to_policy(iam.PolicyStatement(
            actions=["ssm:SendCommand"], resources=[self._arn("ec2", "instance/*")],
            conditions={"StringEquals": {"ssm:resourceTag/watchkeeper:managed": "true"}}))
        target.add_to_policy(iam.PolicyStatement(
            actions=["ssm:SendCommand"],
            resources=[self._arn("ssm", "document/AWS-RunShellScript", account=False)]))
        wildcards.append(f"Resource::{self._nag_arn('ec2', 'instance/*')}")
        acknowledge(
            target.role, "AwsSolutions-IAM5",
            "Writes are scoped to the catalog's clusters, services and functions; the remaining wildcards are "
            "read-only Describe/Get/List calls for the before-state of a dry run, Lambda alias qualifiers, ASG ARNs' "
            "generated ids, ECS task ids of the catalog's clusters, AppConfig's generated application, environment, "
            "profile and deployment ids, instances limited by the watchkeeper:managed tag condition, the deployment "
            "groups of the catalog's CodeDeploy applications (a rollback deploys to the culprit's group) and the "
            "deployment configurations CreateDeployment checks (read-only).",
            *wildcards,
        )

    def _grant_change_sources(self, catalog: Catalog) -> None:
        """Read access to the platforms Gather evidence asks for recent changes (cdk.json change_sources)."""
        sources, wildcards = set(self._config.change_sources), []
        if "ecs" in sources:
            self.gather.add_to_policy(iam.PolicyStatement(
                actions=["ecs:DescribeServices"], resources=[self._arn("ecs", "service/*")]))
            wildcards.append(f"Resource::{self._nag_arn('ecs', 'service/*')}")
        if "lambda" in sources:
            self.gather.add_to_policy(iam.PolicyStatement(
                actions=["lambda:ListVersionsByFunction", "lambda:ListAliases"], resources=[self._arn("lambda", "function:*")]))
            wildcards.append(f"Resource::{self._nag_arn('lambda', 'function:*')}")
        if "ssm" in sources:
            paths = self._config.config_parameter_paths
            self.gather.add_to_policy(iam.PolicyStatement(
                actions=["ssm:GetParametersByPath", "ssm:GetParameterHistory"],
                resources=[self._arn("ssm", f"parameter{p.rstrip('/')}/*") for p in paths]))
            wildcards += [f"Resource::{self._nag_arn('ssm', 'parameter' + p.rstrip('/') + '/*')}" for p in paths]
        listing = [a for name, acts in (("codedeploy", ["codedeploy:ListDeploymentGroups", "codedeploy:ListDeployments",
                                                        "codedeploy:BatchGetDeployments"]),
                                        ("appconfig", ["appconfig:ListApplications", "appconfig:ListEnvironments",
                                                       "appconfig:ListDeployments"])) if name in sources for a in acts]
        if listing:
            self.gather.add_to_policy(iam.PolicyStatement(actions=listing, resources=["*"]))
        if wildcards:
            acknowledge(self.gather.role, "AwsSolutions-IAM5",
                        "Deploy and configuration history is read-only: ECS services and Lambda versions anywhere "
                        "in the account, parameters under the account's configuration paths.", *wildcards)

    def _grant_verify(self) -> None:
        self.verify.add_to_policy(iam.PolicyStatement(
            # ListMetrics finds the deviated series of incidents that no CloudWatch alarm opened
            actions=["cloudwatch:DescribeAlarms", "cloudwatch:GetMetricData", "cloudwatch:ListMetrics"], resources=["*"]))
        acknowledge(self.verify.role, "AwsSolutions-IAM5",
                    "Incidents can come from any alarm in the account, and GetMetricData has no resource-level "
                    "permissions; both calls are read-only.",
                    "Resource::*")
