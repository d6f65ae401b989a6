"""`watchkeeper doctor -c account=NAME`: the account's configuration checked against the account.

Every check is a read with the caller's credentials (sts:GetCallerIdentity, eks:DescribeCluster
plus a Kubernetes read of each deployment, ecs:DescribeServices, lambda:GetFunction,
autoscaling:DescribeAutoScalingGroups, rds:DescribeDBInstances, logs:DescribeLogGroups,
cloudwatch:DescribeAlarms, secretsmanager:GetSecretValue on the webhook secret,
ssm:GetParameter on the kill switch, bedrock:GetFoundationModelAvailability /
GetInferenceProfile). Each problem names its fix; nothing is changed.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Callable

from botocore.exceptions import BotoCoreError, ClientError

from ..models import Service, ServiceCatalog

GEO_PREFIXES = ("us.", "eu.", "apac.", "us-gov.", "jp.", "au.", "ca.", "global.")


@dataclass
class Finding:
    check: str
    status: str            # ok | problem | warning | skipped
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def _code(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return exc.response["Error"].get("Code", "")
    return type(exc).__name__


def _message(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return f"{exc.response['Error'].get('Code')}: {exc.response['Error'].get('Message')}"
    return str(exc)


class Doctor:
    def __init__(self, account: str, config: Any, catalog: ServiceCatalog, session: Any, outputs: dict[str, str] | None,
                 *, catalog_file: str = "", kubernetes_for: Callable[[str], Any] | None = None):
        self.account, self.config, self.catalog, self.session = account, config, catalog, session
        self.outputs = outputs
        self.catalog_file = catalog_file or getattr(config, "catalog", "the catalog")
        self.kubernetes_for = kubernetes_for
        self.findings: list[Finding] = []

    def _add(self, check: str, status: str, detail: str, fix: str = "") -> None:
        self.findings.append(Finding(check, status, detail, fix))

    def run(self) -> list[Finding]:
        self._identity()
        self._stack()
        alarms = self._alarms()
        for service in self.catalog.services:
            self._service(service, alarms)
        self._secrets_and_slack()
        self._kill_switch()
        self._bedrock()
        return self.findings

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.status == "problem"]

    # --- the account and the stack ----------------------------------------------------------
    def _identity(self) -> None:
        try:
            who = self.session.client("sts").get_caller_identity()
        except (ClientError, BotoCoreError) as exc:
            self._add("credentials", "problem", f"cannot call AWS: {_message(exc)}",
                      "set credentials for the account (AWS_PROFILE, or `aws sso login`)")
            return
        if who["Account"] != self.config.account_id:
            self._add("credentials", "problem", f"the credentials are for account {who['Account']}, "
                      f"cdk.json says {self.account} is {self.config.account_id}",
                      f"use credentials for {self.config.account_id}, or correct account_id in cdk.json")
        else:
            self._add("credentials", "ok", f"{who['Arn']} in {self.config.account_id} ({self.session.region_name})")

    def _stack(self) -> None:
        if self.outputs is None:
            self._add("stack", "problem", f"no Watchkeeper stack for {self.account} in {self.session.region_name}",
                      f"deploy it: `npx aws-cdk@2 deploy -c account={self.account}`")
        else:
            self._add("stack", "ok", f"deployed ({len(self.outputs)} outputs)")

    # --- the catalog against what exists ----------------------------------------------------
    def _service(self, s: Service, alarms: list[dict[str, Any]] | None) -> None:
        name = f"{s.name} ({s.platform})"
        where = f"in {self.catalog_file}"
        workload = s.workload or s.name
        try:
            if s.platform == "eks":
                self._eks(s, workload, where)
            elif s.platform == "ecs":
                cluster = s.cluster or "default"
                resp = self.session.client("ecs").describe_services(cluster=cluster, services=[workload])
                live = [x for x in resp.get("services", []) if x.get("status") == "ACTIVE"]
                if live:
                    self._add(f"{name} service", "ok", f"ECS service {workload} in cluster {cluster}: "
                              f"{live[0].get('runningCount', 0)}/{live[0].get('desiredCount', 0)} running")
                else:
                    self._add(f"{name} service", "problem", f"no active ECS service {workload} in cluster {cluster}",
                              f"correct `workload`/`cluster` of {s.name} {where}")
            elif s.platform == "lambda":
                self.session.client("lambda").get_function(FunctionName=workload)
                self._add(f"{name} function", "ok", f"Lambda function {workload} exists")
            elif s.platform == "ec2":
                groups = self.session.client("autoscaling").describe_auto_scaling_groups(
                    AutoScalingGroupNames=[workload]).get("AutoScalingGroups", [])
                if groups:
                    self._add(f"{name} group", "ok", f"Auto Scaling group {workload}: "
                              f"{len(groups[0].get('Instances', []))}/{groups[0].get('DesiredCapacity')} instances")
                else:
                    self._add(f"{name} group", "problem", f"no Auto Scaling group {workload}",
                              f"correct `workload` of {s.name} {where} (the group's name)")
            elif s.platform == "rds":
                self.session.client("rds").describe_db_instances(DBInstanceIdentifier=workload)
                self._add(f"{name} database", "ok", f"RDS instance {workload} exists")
        except ClientError as exc:
            missing = _code(exc) in ("ResourceNotFoundException", "DBInstanceNotFound", "DBInstanceNotFoundFault",
                                     "ClusterNotFoundException", "ServiceNotFoundException")
            if missing:
                self._add(f"{name} workload", "problem", f"{workload} not found: {_message(exc)}",
                          f"correct `workload` of {s.name} {where}, or remove the service")
            else:
                self._add(f"{name} workload", "problem", f"cannot check {workload}: {_message(exc)}",
                          "run the doctor with read access to the service (see the README's IAM notes)")
        except BotoCoreError as exc:
            self._add(f"{name} workload", "problem", f"cannot check {workload}: {exc}", "check the network and region")
        self._log_group(s, where)
        self._alarm_coverage(s, alarms)

    def _eks(self, s: Service, workload: str, where: str) -> None:
        name = f"{s.name} (eks)"
        if not s.cluster:
            self._add(f"{name} cluster", "problem", "the catalog names no EKS cluster", f"set `cluster` of {s.name} {where}")
            return
        try:
            cluster = self.session.client("eks").describe_cluster(name=s.cluster)["cluster"]
        except ClientError as exc:
            if _code(exc) == "ResourceNotFoundException":
                self._add(f"{name} cluster", "problem", f"EKS cluster {s.cluster} not found in {self.session.region_name}",
                          f"correct `cluster` of {s.name} {where}")
                return
            raise
        self._add(f"{name} cluster", "ok", f"EKS cluster {s.cluster} ({cluster.get('status', '?')}, "
                  f"Kubernetes {cluster.get('version', '?')})")
        if self.kubernetes_for is None:
            return
        try:
            api = self.kubernetes_for(s.cluster)
            dep = api.apps.read_namespaced_deployment(workload, s.namespace or "default", _request_timeout=(3.05, 10))
            ready = dep.status.ready_replicas or 0
            self._add(f"{name} deployment", "ok", f"{s.namespace}/{workload}: {ready}/{dep.spec.replicas} ready")
        except Exception as exc:  # noqa: BLE001 - kubernetes ApiException, urllib3 and credential errors alike
            status = getattr(exc, "status", None)
            if status == 404:
                self._add(f"{name} deployment", "problem", f"no deployment {s.namespace}/{workload} in {s.cluster}",
                          f"correct `namespace`/`workload` of {s.name} {where}")
            elif status in (401, 403):
                self._add(f"{name} deployment", "problem", f"no access to {s.cluster}'s Kubernetes API ({status})",
                          "add an EKS access entry for your role and the Watchkeeper function roles (README: "
                          "Deploying to an AWS account)")
            else:
                self._add(f"{name} deployment", "problem", f"cannot read {s.namespace}/{workload}: {exc}",
                          f"check the cluster endpoint's reachability and access for {s.cluster}")

    def _log_group(self, s: Service, where: str) -> None:
        if not s.log_group:
            self._add(f"{s.name} logs", "warning", "no log group in the catalog: diagnoses will cite no log evidence",
                      f"set `log_group` of {s.name} {where}")
            return
        try:
            groups = self.session.client("logs").describe_log_groups(logGroupNamePrefix=s.log_group).get("logGroups", [])
        except (ClientError, BotoCoreError) as exc:
            self._add(f"{s.name} logs", "problem", f"cannot read log group {s.log_group}: {_message(exc)}",
                      "grant yourself logs:DescribeLogGroups")
            return
        if any(g["logGroupName"] == s.log_group for g in groups):
            self._add(f"{s.name} logs", "ok", f"log group {s.log_group}")
        else:
            close = ", ".join(g["logGroupName"] for g in groups[:3])
            self._add(f"{s.name} logs", "problem", f"log group {s.log_group} does not exist"
                      + (f" (similar: {close})" if close else ""), f"correct `log_group` of {s.name} {where}")

    def _alarms(self) -> list[dict[str, Any]] | None:
        try:
            alarms: list[dict[str, Any]] = []
            for page in self.session.client("cloudwatch").get_paginator("describe_alarms").paginate(
                    AlarmTypes=["MetricAlarm"]):
                alarms += page.get("MetricAlarms", [])
            return alarms
        except (ClientError, BotoCoreError) as exc:
            self._add("alarms", "problem", f"cannot list CloudWatch alarms: {_message(exc)}",
                      "grant yourself cloudwatch:DescribeAlarms")
            return None

    def _alarm_coverage(self, s: Service, alarms: list[dict[str, Any]] | None) -> None:
        if alarms is None:
            return
        names = {s.name, s.workload or s.name, *s.aliases}
        watching = [a["AlarmName"] for a in alarms
                    if any(d.get("Value") in names for d in a.get("Dimensions", []))
                    or any(n in a["AlarmName"] for n in names)]
        if watching:
            self._add(f"{s.name} alarms", "ok", f"{len(watching)} alarm(s): " + ", ".join(watching[:3])
                      + (" …" if len(watching) > 3 else ""))
        else:
            topic = (self.outputs or {}).get("AlertTopicArn", "the stack's AlertTopicArn")
            self._add(f"{s.name} alarms", "warning", "no CloudWatch alarm watches it: Watchkeeper hears of its "
                      "incidents only through webhooks", f"create an alarm on its metrics with the action {topic}")

    # --- secrets, Slack, kill switch, model -------------------------------------------------
    def _secrets_and_slack(self) -> None:
        arn = (self.outputs or {}).get("WebhookSecretArn")
        if not arn:
            self._add("secrets", "skipped", "no deployed stack: the webhook and Slack secret cannot be checked")
            return
        try:
            raw = self.session.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]
        except (ClientError, BotoCoreError) as exc:
            self._add("secrets", "problem", f"cannot read the webhook secret: {_message(exc)}",
                      f"grant yourself secretsmanager:GetSecretValue on {arn}")
            return
        try:
            doc = json.loads(raw) if raw.lstrip().startswith("{") else {"shared": raw}
        except ValueError:
            self._add("secrets", "problem", "the webhook secret is not valid JSON",
                      f"store a JSON object in {arn}: {{\"slack_bot_token\": ..., \"slack\": ..., \"pagerduty\": ...}}")
            return
        self._add("secrets", "ok", "webhook secret readable; keys: " + ", ".join(sorted(doc)))
        channel = self.config.slack_channel
        missing = [k for k in ("slack_bot_token", "slack") if not doc.get(k)]
        if not channel:
            self._add("slack", "warning", "no Slack channel configured: approvals go by email only",
                      "set slack_channel in cdk.json")
        elif missing:
            self._add("slack", "problem", f"Slack channel {channel} is configured but the secret has no value for "
                      + " and ".join(missing) + " (the bot token and the signing secret)",
                      f"add {', '.join(missing)} to the JSON in {arn} (aws secretsmanager put-secret-value, "
                      "keeping the other keys)")
        else:
            token = str(doc["slack_bot_token"])
            if not token.startswith("xoxb-"):
                self._add("slack", "warning", f"Slack channel {channel}: the bot token does not look like one (xoxb-…)",
                          "use the app's Bot User OAuth Token")
            else:
                self._add("slack", "ok", f"Slack channel {channel}, bot token and signing secret set")

    def _kill_switch(self) -> None:
        name = (self.outputs or {}).get("KillSwitchParameterName")
        if not name:
            self._add("kill switch", "skipped", "no deployed stack: the kill switch cannot be read")
            return
        try:
            value = self.session.client("ssm").get_parameter(Name=name)["Parameter"]["Value"].strip().lower()
        except (ClientError, BotoCoreError) as exc:
            self._add("kill switch", "problem", f"cannot read {name}: {_message(exc)}",
                      f"grant yourself ssm:GetParameter on {name}")
            return
        if value == "on":
            self._add("kill switch", "warning", f"{name} is ON: every write is blocked",
                      f"`watchkeeper killswitch off --parameter {name}` when the writes may resume")
        else:
            self._add("kill switch", "ok", f"{name} readable ({value or 'off'})")

    def _bedrock(self) -> None:
        model = self.config.bedrock_model_id
        if not model:
            self._add("model", "ok", "no model configured: the deterministic analyzer diagnoses")
            return
        client = self.session.client("bedrock")
        base = model
        try:
            if model.startswith(GEO_PREFIXES) or model.startswith("arn:"):
                profile = client.get_inference_profile(inferenceProfileIdentifier=model)
                if profile.get("status") != "ACTIVE":
                    self._add("model", "problem", f"inference profile {model} is {profile.get('status')}",
                              "choose an active inference profile for bedrock_model_id")
                    return
                base = model.split(".", 1)[1] if model.startswith(GEO_PREFIXES) else model
            availability = client.get_foundation_model_availability(modelId=base)
        except (ClientError, BotoCoreError) as exc:
            self._add("model", "problem", f"cannot check access to {model}: {_message(exc)}",
                      "enable the model in the Bedrock console (Model access) for this region, or set "
                      "bedrock_model_id to null")
            return
        blocked = {k: availability.get(k) for k in ("authorizationStatus", "entitlementAvailability",
                                                    "regionAvailability", "agreementAvailability")}
        agreement = (blocked.pop("agreementAvailability") or {}).get("status", "AVAILABLE")
        bad = {k: v for k, v in blocked.items() if v not in ("AUTHORIZED", "AVAILABLE")}
        if agreement not in ("AVAILABLE", "NOT_REQUIRED"):
            bad["agreement"] = agreement
        if bad:
            self._add("model", "problem", f"{model} is not usable here: "
                      + ", ".join(f"{k} {v}" for k, v in bad.items()),
                      "request access to the model in the Bedrock console (Model access), in "
                      f"{self.session.region_name}")
        else:
            self._add("model", "ok", f"{model}: access granted in {self.session.region_name}")
