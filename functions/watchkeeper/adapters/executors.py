"""Executors behind the actions port: one per platform, each with dry-run and before-state.

A target names the workload as `platform/cluster/namespace/workload` (see
`Service.target`). Every result carries the exact API call, a diff and the before-state
that a revert needs; `revert(result)` puts that before-state back. SDK and Kubernetes
errors become `ActionResult(status="failed")` with the reason; they never escape as
tracebacks into the audit trail. AWS throttling is retried a bounded number of times.
"""
from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from ..models import Action, ActionResult, ChangeEvent

_THROTTLED = {"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded",
              "LimitExceededException", "ProvisionedThroughputExceededException"}


class ExecutorError(Exception):
    """An AWS call that failed for good: the message says which call and why."""


def _result(action: Action, status: str, **kw: Any) -> ActionResult:
    return ActionResult(action_id=action.id, type=action.type, target=action.target, status=status, **kw)


def _reverted(result: ActionResult, status: str, **kw: Any) -> ActionResult:
    return ActionResult(action_id=f"{result.action_id}-revert", type=result.type, target=result.target, status=status,
                        **kw)


def _parts(target: str) -> list[str]:
    return target.split("/")


def _diff(before: dict, after: dict) -> str:
    return "\n".join(f"- {k}: {before.get(k)}\n+ {k}: {v}" for k, v in after.items())


class AwsCaller:
    """Runs one AWS call; throttling is retried with capped backoff, every failure is an ExecutorError."""

    def __init__(self, sleep: Callable[[float], None] = time.sleep, attempts: int = 4, base_delay: float = 0.5):
        self._sleep, self._attempts, self._base = sleep, attempts, base_delay

    def __call__(self, what: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
        for attempt in range(1, self._attempts + 1):
            try:
                return fn(**kwargs)
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                message = exc.response.get("Error", {}).get("Message", "")
                if code in _THROTTLED and attempt < self._attempts:
                    self._sleep(min(self._base * 2 ** (attempt - 1), 8.0))
                    continue
                suffix = f" (throttled {attempt} times, gave up)" if code in _THROTTLED else ""
                raise ExecutorError(f"{what}: {code}: {message}{suffix}") from exc
            except BotoCoreError as exc:
                raise ExecutorError(f"{what}: {exc}") from exc
        raise AssertionError("unreachable")


# --- EKS --------------------------------------------------------------------------------

_K8S_RECORD = {"rollback_deployment": "rollout_undo", "scale_service": "scale", "increase_memory_limit": "set_memory_limit"}


class KubernetesExecutor:
    """EKS through the official client (see `kubernetes_actions.KubernetesActions`)."""

    def __init__(self, actions_for_cluster: Callable[[str], Any]):
        self._for_cluster = actions_for_cluster

    def execute(self, action: Action, *, dry_run: bool) -> ActionResult:
        from .kubernetes_actions import ActionError

        _, cluster, namespace, name = (_parts(action.target) + ["", "", "", ""])[:4]
        p = action.params
        try:
            k8s = self._for_cluster(cluster)
            if action.type == "rollback_deployment":
                out = k8s.rollout_undo(namespace, name, p.get("to_revision"), dry_run=dry_run)
            elif action.type == "scale_service":
                current = k8s.describe(namespace, name)["after"].get("replicas") or 1
                replicas = int(p.get("replicas") or math.ceil(current * float(p.get("factor", 1.5))))
                out = k8s.scale(namespace, name, replicas, dry_run=dry_run)
            elif action.type == "restart_pods":
                out = k8s.restart_pods(namespace, name, max_pods=p.get("max_pods"),
                                       one_at_a_time=bool(p.get("one_at_a_time", True)), dry_run=dry_run)
            elif action.type == "increase_memory_limit":
                out = k8s.set_memory_limit(namespace, name, factor=float(p.get("factor", 1.5)), dry_run=dry_run)
            elif action.type == "capture_diagnostics":
                out = k8s.describe(namespace, name)
                return _result(action, "executed", api_call=out["api_call"], after=out["after"])
            else:
                return _result(action, "skipped", error=f"{action.type} is not an EKS action")
        except ActionError as exc:
            return _result(action, "failed", api_call=getattr(exc, "api_call", "") or "", error=str(exc))
        except Exception as exc:  # noqa: BLE001 - e.g. EKS DescribeCluster refused: still a result, not a traceback
            return _result(action, "failed", error=f"{type(exc).__name__}: {exc}")
        before = dict(out.get("before", {}))
        if out.get("container"):
            before["_container"] = out["container"]
        return _result(action, "planned" if dry_run else "executed", api_call=out["api_call"], diff=out.get("diff", ""),
                       before=before, after=out.get("after", {}))

    def revert(self, result: ActionResult, *, dry_run: bool = False) -> ActionResult:
        from .kubernetes_actions import ActionError

        _, cluster, namespace, name = (_parts(result.target) + ["", "", "", ""])[:4]
        if result.type not in _K8S_RECORD:
            return _reverted(result, "skipped", error=f"{result.type} cannot be reverted")
        before = {k: v for k, v in result.before.items() if k != "_container"}
        record = {"action": _K8S_RECORD[result.type], "target": {"namespace": namespace, "name": name},
                  "before": before, "executed": result.status == "executed",
                  "container": result.before.get("_container") or before.get("container")}
        try:
            out = self._for_cluster(cluster).revert(record, dry_run=dry_run)
        except ActionError as exc:
            return _reverted(result, "failed", api_call=getattr(exc, "api_call", "") or "", error=str(exc))
        except Exception as exc:  # noqa: BLE001
            return _reverted(result, "failed", error=f"{type(exc).__name__}: {exc}")
        return _reverted(result, "planned" if dry_run else "reverted", api_call=out["api_call"],
                         diff=out.get("diff", ""), before=out.get("before", {}), after=out.get("after", {}))


# --- ECS --------------------------------------------------------------------------------

class EcsExecutor:
    """Rollback to the previous task definition revision, desired count, forced redeployment."""

    def __init__(self, client: Any = None, caller: AwsCaller | None = None):
        self._ecs = client or boto3.client("ecs")
        self._call = caller or AwsCaller()

    def execute(self, action: Action, *, dry_run: bool) -> ActionResult:
        _, cluster, *rest = _parts(action.target)
        service = rest[-1] if rest else cluster
        try:
            desc = self._call("ecs:DescribeServices", self._ecs.describe_services, cluster=cluster,
                              services=[service])["services"]
            error = "service not found"
        except ExecutorError as exc:
            desc, error = [], str(exc)
        current = desc[0] if desc else None
        if action.type == "rollback_deployment":
            td = current["taskDefinition"] if current else None
            previous = _previous_task_definition(td) if td else None
            call = f"ecs:UpdateService cluster={cluster} service={service} taskDefinition={previous or '<previous revision>'}"
            before, change = {"taskDefinition": td}, {"taskDefinition": previous}
            if current is not None and previous is None:
                error = f"no previous revision of {td}"
        elif action.type == "scale_service":
            count = current["desiredCount"] if current else None
            target = int(action.params.get("replicas") or math.ceil((count or 1) * float(action.params.get("factor", 1.5))))
            call = f"ecs:UpdateService cluster={cluster} service={service} desiredCount={target}"
            before, change = {"desiredCount": count}, {"desiredCount": target}
        elif action.type == "restart_pods":
            call = f"ecs:UpdateService cluster={cluster} service={service} forceNewDeployment=true"
            before, change = {"taskDefinition": current["taskDefinition"] if current else None}, {"forceNewDeployment": True}
        else:
            return _result(action, "skipped", error=f"{action.type} is not an ECS action")
        diff = _diff(before, change)
        ready = current is not None and all(v is not None for v in change.values())
        if dry_run:
            return _result(action, "planned", api_call=call, diff=diff, before=before, after=change,
                           error=None if ready else f"cannot act on {action.target}: {error}")
        if not ready:
            return _result(action, "failed", api_call=call, error=f"cannot act on {action.target}: {error}")
        try:
            self._call(call, self._ecs.update_service, cluster=cluster, service=service, **change)
        except ExecutorError as exc:
            return _result(action, "failed", api_call=call, before=before, error=str(exc))
        return _result(action, "executed", api_call=call, diff=diff, before=before, after=change)

    def revert(self, result: ActionResult, *, dry_run: bool = False) -> ActionResult:
        _, cluster, *rest = _parts(result.target)
        service = rest[-1] if rest else cluster
        if result.type == "restart_pods" or not result.before or any(v is None for v in result.before.values()):
            return _reverted(result, "skipped", error=f"{result.type} on ECS has no before-state to restore")
        call = f"ecs:UpdateService cluster={cluster} service={service} " + " ".join(
            f"{k}={v}" for k, v in result.before.items())
        diff = _diff(result.after, result.before)
        if dry_run:
            return _reverted(result, "planned", api_call=call, diff=diff, before=result.after, after=result.before)
        try:
            self._call(call, self._ecs.update_service, cluster=cluster, service=service, **result.before)
        except ExecutorError as exc:
            return _reverted(result, "failed", api_call=call, error=str(exc))
        return _reverted(result, "reverted", api_call=call, diff=diff, before=result.after, after=result.before)


def _previous_task_definition(arn: str) -> str | None:
    m = re.match(r"(.*):(\d+)$", arn)
    if not m or int(m.group(2)) <= 1:
        return None
    return f"{m.group(1)}:{int(m.group(2)) - 1}"


# --- Lambda -----------------------------------------------------------------------------

class LambdaExecutor:
    """Lambda rollbacks move the `live` alias back to the previous published version."""

    def __init__(self, client: Any = None, alias: str = "live", caller: AwsCaller | None = None):
        self._lambda = client or boto3.client("lambda")
        self._alias = alias
        self._call = caller or AwsCaller()

    def execute(self, action: Action, *, dry_run: bool) -> ActionResult:
        function = _parts(action.target)[-1]
        if action.type != "rollback_deployment":
            return _result(action, "skipped", error=f"{action.type} is not a Lambda action")
        error = None
        try:
            current = self._call("lambda:GetAlias", self._lambda.get_alias, FunctionName=function,
                                 Name=self._alias)["FunctionVersion"]
        except ExecutorError as exc:
            current, error = None, str(exc)
        previous = self._previous_version(function, current) if current else None
        call = f"lambda:UpdateAlias FunctionName={function} Name={self._alias} FunctionVersion={previous or '<previous>'}"
        before, after = {"FunctionVersion": current}, {"FunctionVersion": previous}
        if dry_run:
            return _result(action, "planned", api_call=call, diff=_diff(before, after), before=before, after=after,
                           error=error)
        if previous is None:
            return _result(action, "failed", api_call=call,
                           error=error or f"no previous version to go back to (alias {self._alias} is at {current})")
        try:
            self._call(call, self._lambda.update_alias, FunctionName=function, Name=self._alias, FunctionVersion=previous)
        except ExecutorError as exc:
            return _result(action, "failed", api_call=call, before=before, error=str(exc))
        return _result(action, "executed", api_call=call, diff=_diff(before, after), before=before, after=after)

    def _previous_version(self, function: str, current: str) -> str | None:
        """The highest published version below the alias's (versions can be deleted, so not just n-1)."""
        if not current.isdigit():
            return None
        try:
            pages = self._call("lambda:ListVersionsByFunction", self._lambda.list_versions_by_function,
                               FunctionName=function)
            versions = [int(v["Version"]) for v in pages.get("Versions", []) if v["Version"].isdigit()]
        except ExecutorError:
            versions = []
        older = [v for v in versions if v < int(current)]
        if older:
            return str(max(older))
        return str(int(current) - 1) if int(current) > 1 and not versions else None

    def revert(self, result: ActionResult, *, dry_run: bool = False) -> ActionResult:
        function = _parts(result.target)[-1]
        version = result.before.get("FunctionVersion")
        if not version:
            return _reverted(result, "skipped", error="no version to go back to")
        call = f"lambda:UpdateAlias FunctionName={function} Name={self._alias} FunctionVersion={version}"
        diff = _diff(result.after, result.before)
        if dry_run:
            return _reverted(result, "planned", api_call=call, diff=diff, before=result.after, after=result.before)
        try:
            self._call(call, self._lambda.update_alias, FunctionName=function, Name=self._alias, FunctionVersion=version)
        except ExecutorError as exc:
            return _reverted(result, "failed", api_call=call, error=str(exc))
        return _reverted(result, "reverted", api_call=call, diff=diff, before=result.after, after=result.before)


# --- EC2 Auto Scaling -------------------------------------------------------------------

class AutoScalingExecutor:
    def __init__(self, client: Any = None, caller: AwsCaller | None = None):
        self._asg = client or boto3.client("autoscaling")
        self._call = caller or AwsCaller()

    def execute(self, action: Action, *, dry_run: bool) -> ActionResult:
        group = _parts(action.target)[-1]
        if action.type != "scale_service":
            return _result(action, "skipped", error=f"{action.type} is not an Auto Scaling action")
        error = None
        try:
            groups = self._call("autoscaling:DescribeAutoScalingGroups", self._asg.describe_auto_scaling_groups,
                                AutoScalingGroupNames=[group])["AutoScalingGroups"]
            if not groups:
                error = f"Auto Scaling group {group} not found"
        except ExecutorError as exc:
            groups, error = [], str(exc)
        current = groups[0]["DesiredCapacity"] if groups else None
        maximum = groups[0]["MaxSize"] if groups else None
        target = int(action.params.get("replicas") or math.ceil((current or 1) * float(action.params.get("factor", 1.5))))
        if maximum is not None:
            target = min(target, maximum)
        call = f"autoscaling:SetDesiredCapacity AutoScalingGroupName={group} DesiredCapacity={target}"
        before, after = {"DesiredCapacity": current}, {"DesiredCapacity": target}
        if dry_run:
            return _result(action, "planned", api_call=call, diff=_diff(before, after), before=before, after=after,
                           error=error)
        if current is None:
            return _result(action, "failed", api_call=call, error=error)
        try:
            self._call(call, self._asg.set_desired_capacity, AutoScalingGroupName=group, DesiredCapacity=target,
                       HonorCooldown=False)
        except ExecutorError as exc:
            return _result(action, "failed", api_call=call, before=before, error=str(exc))
        return _result(action, "executed", api_call=call, diff=_diff(before, after), before=before, after=after)

    def revert(self, result: ActionResult, *, dry_run: bool = False) -> ActionResult:
        group = _parts(result.target)[-1]
        capacity = result.before.get("DesiredCapacity")
        if capacity is None:
            return _reverted(result, "skipped", error="no desired capacity to go back to")
        call = f"autoscaling:SetDesiredCapacity AutoScalingGroupName={group} DesiredCapacity={capacity}"
        diff = _diff(result.after, result.before)
        if dry_run:
            return _reverted(result, "planned", api_call=call, diff=diff, before=result.after, after=result.before)
        try:
            self._call(call, self._asg.set_desired_capacity, AutoScalingGroupName=group, DesiredCapacity=capacity,
                       HonorCooldown=False)
        except ExecutorError as exc:
            return _reverted(result, "failed", api_call=call, error=str(exc))
        return _reverted(result, "reverted", api_call=call, diff=diff, before=result.after, after=result.before)


# --- configuration (SSM Parameter Store, AppConfig) ---------------------------------------

_SSM_CHANGE = re.compile(r"SSM parameter (\S+?):?\s")
_APPCONFIG_CHANGE = re.compile(r"AppConfig deployment (\S+?)/(\S+?): profile (\S+) v(\d+)")


class ConfigExecutor:
    """Reverts Parameter Store values (to the previous version) and AppConfig deployments."""

    def __init__(self, change_lookup: Callable[[str], ChangeEvent | None], ssm: Any = None, appconfig: Any = None,
                 caller: AwsCaller | None = None):
        self._lookup = change_lookup
        self._ssm = ssm or boto3.client("ssm")
        self._appconfig = appconfig
        self._call = caller or AwsCaller()

    def execute(self, action: Action, *, dry_run: bool) -> ActionResult:
        change = self._lookup(str(action.params.get("change_id", "")))
        if change is None:
            return _result(action, "failed", error=f"change {action.params.get('change_id')} is not in the journal")
        m = _SSM_CHANGE.search(change.description + " ")
        if change.source == "ssm" and m:
            name = m.group(1)
            call = f"ssm:PutParameter Name={name} Value=<version {change.previous_revision or 'previous'}> Overwrite=true"
            try:
                previous, current, kind = self._ssm_versions(name)
                error = None if previous is not None else f"no previous value of {name} in its history"
            except ExecutorError as exc:
                previous, current, kind, error = None, None, "String", str(exc)
            diff = f"- {name}: {current}\n+ {name}: {previous}"
            before, after = {"name": name, "value": current, "type": kind}, {"name": name, "value": previous}
            if dry_run:
                return _result(action, "planned", api_call=call, diff=diff, before=before, after=after, error=error)
            if previous is None:
                return _result(action, "failed", api_call=call, error=error)
            try:
                self._call(call, self._ssm.put_parameter, Name=name, Value=previous, Overwrite=True, Type=kind)
            except ExecutorError as exc:
                return _result(action, "failed", api_call=call, before=before, error=str(exc))
            return _result(action, "executed", api_call=call, diff=diff, before=before, after=after)
        a = _APPCONFIG_CHANGE.search(change.description)
        call = (f"appconfig:StartDeployment Application={a.group(1)} Environment={a.group(2)} "
                f"ConfigurationProfile={a.group(3)} ConfigurationVersion={int(a.group(4)) - 1}") if a else \
            f"revert {change.source} change {change.id} to revision {change.previous_revision}"
        if dry_run:
            return _result(action, "planned", api_call=call, before={"revision": change.revision},
                           after={"revision": change.previous_revision},
                           diff=f"- revision: {change.revision}\n+ revision: {change.previous_revision}")
        return _result(action, "failed", api_call=call, error=f"reverting {change.source} changes is not automated yet")

    def _ssm_versions(self, name: str) -> tuple[str | None, str | None, str]:
        history: list[dict] = []
        kwargs: dict[str, Any] = {"Name": name}
        while True:
            page = self._call(f"ssm:GetParameterHistory Name={name}", self._ssm.get_parameter_history, **kwargs)
            history += page.get("Parameters", [])
            if not page.get("NextToken"):
                break
            kwargs["NextToken"] = page["NextToken"]
        if not history:
            return None, None, "String"
        history.sort(key=lambda p: p["Version"])
        kind = history[-1].get("Type", "String")
        if kind == "SecureString":
            raise ExecutorError(f"{name} is a SecureString: Watchkeeper does not read or write secrets")
        current = history[-1]["Value"]
        previous = next((p["Value"] for p in reversed(history[:-1]) if p["Value"] != current), None)
        return previous, current, kind

    def revert(self, result: ActionResult, *, dry_run: bool = False) -> ActionResult:
        name, value = result.before.get("name"), result.before.get("value")
        if not name or value is None:
            return _reverted(result, "skipped", error="only Parameter Store values are reverted automatically")
        call = f"ssm:PutParameter Name={name} Value=<the value before Watchkeeper's change> Overwrite=true"
        diff = f"- {name}: {result.after.get('value')}\n+ {name}: {value}"
        if dry_run:
            return _reverted(result, "planned", api_call=call, diff=diff, before=result.after, after=result.before)
        try:
            self._call(call, self._ssm.put_parameter, Name=name, Value=value, Overwrite=True,
                       Type=result.before.get("type") or "String")
        except ExecutorError as exc:
            return _reverted(result, "failed", api_call=call, error=str(exc))
        return _reverted(result, "reverted", api_call=call, diff=diff, before=result.after, after=result.before)


# --- disk clean-up (SSM Run Command) ---------------------------------------------------------

_SAFE_PATH = re.compile(r"/(var/log|tmp|var/tmp)(/[\w.*-]+)+")


class DiskCleanupExecutor:
    """Frees disk space with a fixed SSM Run Command script on the service's instances.

    Only files under /var/log, /tmp and /var/tmp, older than a day, matched by a name
    pattern (never a directory): a runbook cannot turn this into `rm -rf /`."""

    def __init__(self, client: Any = None, caller: AwsCaller | None = None):
        self._ssm = client or boto3.client("ssm")
        self._call = caller or AwsCaller()

    def execute(self, action: Action, *, dry_run: bool) -> ActionResult:
        service = _parts(action.target)[-1]
        paths = [p for p in action.params.get("paths", []) if _SAFE_PATH.fullmatch(p) and ".." not in p]
        refused = sorted(set(action.params.get("paths", [])) - set(paths))
        commands = ["df -h"] + [f"find {p.rsplit('/', 1)[0]} -maxdepth 1 -type f -name '{p.rsplit('/', 1)[1]}' "
                                f"-mtime +1 -delete" for p in paths] + ["df -h"]
        call = f"ssm:SendCommand DocumentName=AWS-RunShellScript Targets=tag:Service={service}"
        diff = "\n".join(f"+ run: {c}" for c in commands) + "".join(f"\n! refused path: {p}" for p in refused)
        if not paths:
            return _result(action, "failed", api_call=call, diff=diff, error="no path the clean-up may touch")
        if dry_run:
            return _result(action, "planned", api_call=call, diff=diff)
        try:
            resp = self._call(call, self._ssm.send_command, DocumentName="AWS-RunShellScript",
                              Targets=[{"Key": "tag:Service", "Values": [service]}],
                              Parameters={"commands": commands}, Comment=f"watchkeeper {action.id}"[:100],
                              MaxConcurrency="1", MaxErrors="1")
        except ExecutorError as exc:
            return _result(action, "failed", api_call=call, error=str(exc))
        return _result(action, "executed", api_call=call, diff=diff, after={"CommandId": resp["Command"]["CommandId"]})

    def revert(self, result: ActionResult, *, dry_run: bool = False) -> ActionResult:
        return _reverted(result, "skipped", error="deleted files cannot be restored")


# --- routing ------------------------------------------------------------------------------

class PlatformExecutors:
    """Routes an action (and its revert) to its platform's executor."""

    def __init__(self, by_platform: dict[str, Any], config: ConfigExecutor | None = None,
                 disk: DiskCleanupExecutor | None = None):
        self._by_platform = by_platform
        self._config = config
        self._disk = disk

    def _route(self, kind: str, target: str) -> Any:
        if kind == "revert_config" and self._config:
            return self._config
        if kind == "free_disk_space" and self._disk:
            return self._disk
        return self._by_platform.get(_parts(target)[0])

    def execute(self, action: Action, *, dry_run: bool) -> ActionResult:
        executor = self._route(action.type, action.target)
        if executor is None:
            return _result(action, "failed", error=f"no executor for platform {_parts(action.target)[0]!r}")
        return executor.execute(action, dry_run=dry_run)

    def revert(self, result: ActionResult, *, dry_run: bool = False) -> ActionResult:
        executor = self._route(result.type, result.target)
        if executor is None or not hasattr(executor, "revert"):
            return _reverted(result, "skipped", error=f"no revert for {result.type} on {result.target}")
        return executor.revert(result, dry_run=dry_run)
