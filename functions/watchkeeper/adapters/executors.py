"""Executors behind the actions port: one per platform, each with dry-run and before-state.

A target names the workload as `platform/cluster/namespace/workload` (see
`Service.target`). Every result carries the exact API call, a diff and the before-state
that a revert needs. SDK and Kubernetes errors become `ActionResult(status="failed")`
with the reason; they never escape as tracebacks into the audit trail.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import boto3
from botocore.exceptions import ClientError

from ..models import Action, ActionResult, ChangeEvent


def _result(action: Action, status: str, **kw: Any) -> ActionResult:
    return ActionResult(action_id=action.id, type=action.type, target=action.target, status=status, **kw)


def _parts(target: str) -> list[str]:
    return target.split("/")


class KubernetesExecutor:
    """EKS through the official client (see `kubernetes_actions.KubernetesActions`)."""

    def __init__(self, actions_for_cluster: Callable[[str], Any]):
        self._for_cluster = actions_for_cluster

    def execute(self, action: Action, *, dry_run: bool) -> ActionResult:
        from .kubernetes_actions import ActionError

        _, cluster, namespace, name = (_parts(action.target) + ["", "", "", ""])[:4]
        k8s = self._for_cluster(cluster)
        p = action.params
        try:
            if action.type == "rollback_deployment":
                out = k8s.rollout_undo(namespace, name, p.get("to_revision"), dry_run=dry_run)
            elif action.type == "scale_service":
                current = k8s.describe(namespace, name)["after"].get("replicas") or 1
                replicas = int(p.get("replicas") or math.ceil(current * float(p.get("factor", 1.5))))
                out = k8s.scale(namespace, name, replicas, dry_run=dry_run)
            elif action.type == "restart_pods":
                out = k8s.restart_pods(namespace, name, max_pods=p.get("max_pods"), dry_run=dry_run)
            elif action.type == "increase_memory_limit":
                out = k8s.set_memory_limit(namespace, name, factor=float(p.get("factor", 1.5)), dry_run=dry_run)
            elif action.type == "capture_diagnostics":
                out = k8s.describe(namespace, name)
                return _result(action, "executed", api_call=out["api_call"], after=out["after"])
            else:
                return _result(action, "skipped", error=f"{action.type} is not an EKS action")
        except ActionError as exc:
            return _result(action, "failed", api_call=getattr(exc, "api_call", "") or "", error=str(exc))
        return _result(action, "planned" if dry_run else "executed", api_call=out["api_call"], diff=out.get("diff", ""),
                       before=out.get("before", {}), after=out.get("after", {}))


class EcsExecutor:
    def __init__(self, client: Any = None):
        self._ecs = client or boto3.client("ecs")

    def execute(self, action: Action, *, dry_run: bool) -> ActionResult:
        _, cluster, *rest = _parts(action.target)
        service = rest[-1]
        try:
            desc = self._ecs.describe_services(cluster=cluster, services=[service])["services"]
        except ClientError as exc:
            desc, error = [], str(exc)
        else:
            error = "service not found"
        current = desc[0] if desc else None
        if action.type == "rollback_deployment":
            td = current["taskDefinition"] if current else None
            previous = _previous_task_definition(td) if td else None
            call = f"ecs:UpdateService cluster={cluster} service={service} taskDefinition={previous or '<previous revision>'}"
            before = {"taskDefinition": td}
            change = {"taskDefinition": previous}
            kwargs = {"taskDefinition": previous}
        elif action.type == "scale_service":
            count = current["desiredCount"] if current else None
            target = int(action.params.get("replicas") or math.ceil((count or 1) * float(action.params.get("factor", 1.5))))
            call = f"ecs:UpdateService cluster={cluster} service={service} desiredCount={target}"
            before, change, kwargs = {"desiredCount": count}, {"desiredCount": target}, {"desiredCount": target}
        elif action.type == "restart_pods":
            call = f"ecs:UpdateService cluster={cluster} service={service} forceNewDeployment=true"
            before, change, kwargs = {}, {"forceNewDeployment": True}, {"forceNewDeployment": True}
        else:
            return _result(action, "skipped", error=f"{action.type} is not an ECS action")
        diff = "\n".join(f"- {k}: {before.get(k)}\n+ {k}: {v}" for k, v in change.items())
        if dry_run:
            return _result(action, "planned", api_call=call, diff=diff, before=before, after=change,
                           error=None if current else f"current state unavailable: {error}")
        if current is None or (action.type == "rollback_deployment" and not kwargs.get("taskDefinition")):
            return _result(action, "failed", api_call=call, error=f"cannot act on {action.target}: {error}")
        try:
            self._ecs.update_service(cluster=cluster, service=service, **kwargs)
        except ClientError as exc:
            return _result(action, "failed", api_call=call, error=str(exc))
        return _result(action, "executed", api_call=call, diff=diff, before=before, after=change)


def _previous_task_definition(arn: str) -> str | None:
    m = re.match(r"(.*):(\d+)$", arn)
    if not m or int(m.group(2)) <= 1:
        return None
    return f"{m.group(1)}:{int(m.group(2)) - 1}"


class LambdaExecutor:
    """Lambda rollbacks move the `live` alias back to the previous published version."""

    def __init__(self, client: Any = None, alias: str = "live"):
        self._lambda = client or boto3.client("lambda")
        self._alias = alias

    def execute(self, action: Action, *, dry_run: bool) -> ActionResult:
        function = _parts(action.target)[-1]
        if action.type != "rollback_deployment":
            return _result(action, "skipped", error=f"{action.type} is not a Lambda action")
        try:
            alias = self._lambda.get_alias(FunctionName=function, Name=self._alias)
            current = alias["FunctionVersion"]
        except ClientError as exc:
            current, error = None, str(exc)
        previous = str(int(current) - 1) if current and current.isdigit() and int(current) > 1 else None
        call = f"lambda:UpdateAlias FunctionName={function} Name={self._alias} FunctionVersion={previous or '<previous>'}"
        diff = f"- FunctionVersion: {current}\n+ FunctionVersion: {previous}"
        if dry_run:
            return _result(action, "planned", api_call=call, diff=diff, before={"FunctionVersion": current},
                           after={"FunctionVersion": previous})
        if previous is None:
            return _result(action, "failed", api_call=call, error=f"no previous version to go back to ({current})")
        try:
            self._lambda.update_alias(FunctionName=function, Name=self._alias, FunctionVersion=previous)
        except ClientError as exc:
            return _result(action, "failed", api_call=call, error=str(exc))
        return _result(action, "executed", api_call=call, diff=diff, before={"FunctionVersion": current},
                       after={"FunctionVersion": previous})


class AutoScalingExecutor:
    def __init__(self, client: Any = None):
        self._asg = client or boto3.client("autoscaling")

    def execute(self, action: Action, *, dry_run: bool) -> ActionResult:
        group = _parts(action.target)[-1]
        if action.type != "scale_service":
            return _result(action, "skipped", error=f"{action.type} is not an Auto Scaling action")
        try:
            groups = self._asg.describe_auto_scaling_groups(AutoScalingGroupNames=[group])["AutoScalingGroups"]
        except ClientError:
            groups = []
        current = groups[0]["DesiredCapacity"] if groups else None
        maximum = groups[0]["MaxSize"] if groups else None
        target = int(action.params.get("replicas") or math.ceil((current or 1) * float(action.params.get("factor", 1.5))))
        if maximum is not None:
            target = min(target, maximum)
        call = f"autoscaling:SetDesiredCapacity AutoScalingGroupName={group} DesiredCapacity={target}"
        diff = f"- DesiredCapacity: {current}\n+ DesiredCapacity: {target}"
        if dry_run:
            return _result(action, "planned", api_call=call, diff=diff, before={"DesiredCapacity": current},
                           after={"DesiredCapacity": target})
        try:
            self._asg.set_desired_capacity(AutoScalingGroupName=group, DesiredCapacity=target, HonorCooldown=False)
        except ClientError as exc:
            return _result(action, "failed", api_call=call, error=str(exc))
        return _result(action, "executed", api_call=call, diff=diff, before={"DesiredCapacity": current},
                       after={"DesiredCapacity": target})


_SSM_CHANGE = re.compile(r"SSM parameter (\S+?):?\s")
_APPCONFIG_CHANGE = re.compile(r"AppConfig deployment (\S+?)/(\S+?): profile (\S+) v(\d+)")


class ConfigExecutor:
    """Reverts Parameter Store values (to the previous version) and AppConfig deployments."""

    def __init__(self, change_lookup: Callable[[str], ChangeEvent | None], ssm: Any = None, appconfig: Any = None):
        self._lookup = change_lookup
        self._ssm = ssm or boto3.client("ssm")
        self._appconfig = appconfig

    def execute(self, action: Action, *, dry_run: bool) -> ActionResult:
        change = self._lookup(str(action.params.get("change_id", "")))
        if change is None:
            return _result(action, "failed", error=f"change {action.params.get('change_id')} is not in the journal")
        m = _SSM_CHANGE.search(change.description + " ")
        if change.source == "ssm" and m:
            name = m.group(1)
            call = f"ssm:PutParameter Name={name} Value=<version {change.previous_revision or 'previous'}> Overwrite=true"
            previous, current = self._ssm_versions(name, change)
            diff = f"- {name}: {current}\n+ {name}: {previous}"
            if dry_run:
                return _result(action, "planned", api_call=call, diff=diff, before={"value": current, "name": name},
                               after={"value": previous})
            if previous is None:
                return _result(action, "failed", api_call=call, error=f"no previous value of {name} in its history")
            try:
                self._ssm.put_parameter(Name=name, Value=previous, Overwrite=True, Type="String")
            except ClientError as exc:
                return _result(action, "failed", api_call=call, error=str(exc))
            return _result(action, "executed", api_call=call, diff=diff, before={"value": current, "name": name},
                           after={"value": previous})
        a = _APPCONFIG_CHANGE.search(change.description)
        call = (f"appconfig:StartDeployment Application={a.group(1)} Environment={a.group(2)} "
                f"ConfigurationProfile={a.group(3)} ConfigurationVersion={int(a.group(4)) - 1}") if a else \
            f"revert {change.source} change {change.id} to revision {change.previous_revision}"
        if dry_run:
            return _result(action, "planned", api_call=call, before={"revision": change.revision},
                           after={"revision": change.previous_revision},
                           diff=f"- revision: {change.revision}\n+ revision: {change.previous_revision}")
        return _result(action, "failed", api_call=call, error=f"reverting {change.source} changes is not automated yet")

    def _ssm_versions(self, name: str, change: ChangeEvent) -> tuple[str | None, str | None]:
        try:
            history = self._ssm.get_parameter_history(Name=name)["Parameters"]
        except ClientError:
            return None, None
        if not history:
            return None, None
        history.sort(key=lambda p: p["Version"])
        current = history[-1]["Value"]
        previous = history[-2]["Value"] if len(history) > 1 else None
        return previous, current


class DiskCleanupExecutor:
    """Frees disk space with a fixed SSM Run Command script on the service's instances."""

    def __init__(self, client: Any = None):
        self._ssm = client or boto3.client("ssm")

    def execute(self, action: Action, *, dry_run: bool) -> ActionResult:
        service = _parts(action.target)[-1]
        paths = [p for p in action.params.get("paths", []) if re.fullmatch(r"/[\w./*-]+", p)]
        commands = [f"find {p.rsplit('/', 1)[0] or '/'} -maxdepth 1 -name '{p.rsplit('/', 1)[1] or '*'}' -mtime +1 -delete"
                    for p in paths] + ["df -h"]
        call = f"ssm:SendCommand DocumentName=AWS-RunShellScript Targets=tag:Service={service}"
        diff = "\n".join(f"+ run: {c}" for c in commands)
        if dry_run:
            return _result(action, "planned", api_call=call, diff=diff)
        try:
            resp = self._ssm.send_command(DocumentName="AWS-RunShellScript",
                                          Targets=[{"Key": "tag:Service", "Values": [service]}],
                                          Parameters={"commands": commands}, Comment=f"watchkeeper {action.id}")
        except ClientError as exc:
            return _result(action, "failed", api_call=call, error=str(exc))
        return _result(action, "executed", api_call=call, diff=diff, after={"CommandId": resp["Command"]["CommandId"]})


class PlatformExecutors:
    """Routes an action to its platform's executor."""

    def __init__(self, by_platform: dict[str, Any], config: ConfigExecutor | None = None,
                 disk: DiskCleanupExecutor | None = None):
        self._by_platform = by_platform
        self._config = config
        self._disk = disk

    def execute(self, action: Action, *, dry_run: bool) -> ActionResult:
        if action.type == "revert_config" and self._config:
            return self._config.execute(action, dry_run=dry_run)
        if action.type == "free_disk_space" and self._disk:
            return self._disk.execute(action, dry_run=dry_run)
        platform = _parts(action.target)[0]
        executor = self._by_platform.get(platform)
        if executor is None:
            return _result(action, "failed", error=f"no executor for platform {platform!r}")
        return executor.execute(action, dry_run=dry_run)
