"""Executors behind the actions port: one per platform, each writing exactly a pinned target.

A target names the workload as `platform/cluster/namespace/workload` (see `Service.target`).
Every executor computes a `Pin` from the live state and the evidence the plan carries (a
dry run: the exact call, a diff, the target and the before-state it assumes), writes exactly
a pin's target, observes the live state in the pin's terms (for the drift check and to
reconcile an unknown outcome) and gives the pin that puts the before-state back.

Rollback targets come from the evidence, never from "N-1": the revision the culprit change
replaced (`params.change.previous_revision`) or a revision named in the runbook.

Errors: a permanent refusal (403, 404, validation, no target) is an `ActionResult` with
status `failed` and the reason; a throttle or a failed read is retried a bounded number of
times, then raised as `TransientError` (the state machine retries the step); a write that
timed out, met a 5xx or a broken connection raises `OutcomeUnknown` (never sent again
blindly: the step reads the live state back first).
"""
from __future__ import annotations

import hashlib
import math
import re
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from botocore.exceptions import (
    BotoCoreError, ClientError, ConnectionError as BotoConnectionError, HTTPClientError,
)

from ..domain.pinning import inverse as inverse_pin, make_pin
from ..domain.runbooks import capability
from ..models import Action, ActionResult, ChangeEvent, Pin
from ..ports import OutcomeUnknown, TransientError
from .aws_session import default_client

_THROTTLED = {"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded",
              "LimitExceededException", "ProvisionedThroughputExceededException", "SlowDown"}
_SERVER = {"InternalFailure", "InternalError", "InternalServerError", "ServiceUnavailable",
           "ServiceUnavailableException", "ServerException", "RequestTimeout", "RequestTimeoutException"}

Guard = Callable[[], "str | None"]


class ExecutorError(Exception):
    """A call or a target that failed for good: the message says which and why."""


def _result(action: Action, status: str, **kw: Any) -> ActionResult:
    return ActionResult(action_id=action.id, type=action.type, target=action.target, status=status, **kw)


def _parts(target: str) -> list[str]:
    return target.split("/")


def _diff(before: dict, after: dict) -> str:
    return "\n".join(f"- {k}: {before.get(k)}\n+ {k}: {v}" for k, v in after.items())


def _change(action: Action) -> ChangeEvent | None:
    raw = action.params.get("change")
    if isinstance(raw, ChangeEvent):
        return raw
    if isinstance(raw, dict):
        try:
            return ChangeEvent.model_validate(raw)
        except ValueError:
            return None
    return None


def _explicit_revision(action: Action) -> str | None:
    """A revision the runbook names (`to_revision: 41`, or `to: 41`); `to: previous_revision` is not one."""
    for key in ("to_revision", "to"):
        value = action.params.get(key)
        if value not in (None, "", "previous_revision", "previous", "previous_value") and str(value).isdigit():
            return str(value)
    return None


def _sha(value: Any) -> str:
    return hashlib.sha256(str(value).encode()).hexdigest()[:16]


class AwsCaller:
    """Runs one AWS call.

    Throttling (the call was not done) is retried with capped backoff; a read's timeout,
    broken connection or 5xx is retried too; all of them then raise `TransientError`. A
    write's timeout, broken connection or 5xx raises `OutcomeUnknown` at once. Anything
    else is an `ExecutorError` (permanent)."""

    def __init__(self, sleep: Callable[[float], None] = time.sleep, attempts: int = 4, base_delay: float = 0.5):
        self._sleep, self._attempts, self._base = sleep, attempts, base_delay

    def __call__(self, what: str, fn: Callable[..., Any], *, write: bool = False, **kwargs: Any) -> Any:
        for attempt in range(1, self._attempts + 1):
            try:
                return fn(**kwargs)
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                message = exc.response.get("Error", {}).get("Message", "")
                status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
                if code in _THROTTLED:
                    if attempt < self._attempts:
                        self._backoff(attempt)
                        continue
                    raise TransientError(f"{what}: {code}: {message} (throttled {attempt} times, gave up)") from exc
                if code in _SERVER or status >= 500:
                    if write:
                        raise OutcomeUnknown(f"{what}: {code or status}: {message}: outcome unknown") from exc
                    if attempt < self._attempts:
                        self._backoff(attempt)
                        continue
                    raise TransientError(f"{what}: {code or status}: {message} (after {attempt} attempts)") from exc
                raise ExecutorError(f"{what}: {code}: {message}") from exc
            except HTTPClientError as exc:          # a read timeout, a closed connection: it may have been processed
                if write:
                    raise OutcomeUnknown(f"{what}: {type(exc).__name__}: outcome unknown") from exc
                if attempt < self._attempts:
                    self._backoff(attempt)
                    continue
                raise TransientError(f"{what}: {exc}") from exc
            except BotoConnectionError as exc:                          # never reached the service
                if attempt < self._attempts:
                    self._backoff(attempt)
                    continue
                raise TransientError(f"{what}: {exc}") from exc
            except BotoCoreError as exc:
                raise ExecutorError(f"{what}: {exc}") from exc
            except (TransientError, ExecutorError):
                raise
            except Exception as exc:  # noqa: BLE001 - e.g. an API the emulator does not implement
                if write:
                    raise OutcomeUnknown(f"{what}: {type(exc).__name__}: {exc}: outcome unknown") from exc
                raise ExecutorError(f"{what}: {type(exc).__name__}: {exc}") from exc
        raise AssertionError("unreachable")

    def _backoff(self, attempt: int) -> None:
        self._sleep(min(self._base * 2 ** (attempt - 1), 8.0))


class PinnedExecutor:
    """The shared shape: `plan` computes a pin, `write` performs one, `observe` reads one back."""

    verb = "executed"

    def execute(self, action: Action, *, dry_run: bool, pin: Pin | None = None,
                guard: Guard | None = None) -> ActionResult:
        try:
            pin = pin or self.plan(action)
        except ExecutorError as exc:
            return _result(action, "failed", api_call=self.call_of(action, None), error=str(exc))
        call = self.call_of(action, pin)
        diff = self.diff_of(action, pin)
        if dry_run:
            return _result(action, "planned", api_call=call, diff=diff, before=pin.before, after=pin.target, pin=pin)
        try:
            done = self.write(action, pin, guard)
        except ExecutorError as exc:
            return _result(action, "failed", api_call=call, diff=diff, before=pin.before, error=str(exc), pin=pin)
        status = done.pop("status", "executed")
        return _result(action, status, api_call=done.pop("api_call", call), diff=diff, before=pin.before,
                       after=done.pop("after", pin.target), pin=pin, **done)

    def revert(self, result: ActionResult, *, dry_run: bool = False) -> ActionResult:
        """Put `result`'s before-state back (through its inverse pin); `reverted` when done."""
        action = Action(id=f"{result.action_id}-revert", type=result.type, target=result.target, params={})
        back, why = self.inverse(action, result.pin) if result.pin is not None else (None, "no pinned before-state")
        if back is None:
            return _result(action, "skipped", error=why)
        out = self.execute(action, dry_run=dry_run, pin=back)
        return out.model_copy(update={"status": "reverted"}) if out.status == "executed" else out

    # each platform implements these
    def plan(self, action: Action) -> Pin:
        raise ExecutorError(f"{action.type} is not supported on {action.target}")

    def write(self, action: Action, pin: Pin, guard: Guard | None) -> dict[str, Any]:
        raise ExecutorError(f"{action.type} is not supported on {action.target}")

    def observe(self, action: Action, pin: Pin) -> dict[str, Any]:
        raise ExecutorError(f"{action.type} is not supported on {action.target}")

    def inverse(self, action: Action, pin: Pin) -> tuple[Pin | None, str]:
        return inverse_pin(pin, summary=f"put back {', '.join(f'{k}={v}' for k, v in pin.before.items())}"), ""

    def call_of(self, action: Action, pin: Pin | None) -> str:
        return f"{action.type} {action.target}"

    def diff_of(self, action: Action, pin: Pin) -> str:
        return _diff(pin.before, pin.target)


# --- EKS --------------------------------------------------------------------------------

class KubernetesExecutor(PinnedExecutor):
    """EKS through the official client (see `kubernetes_actions.KubernetesActions`)."""

    def __init__(self, actions_for_cluster: Callable[[str], Any]):
        self._for_cluster = actions_for_cluster

    def _where(self, action: Action) -> tuple[Any, str, str]:
        _, cluster, namespace, name = (_parts(action.target) + ["", "", "", ""])[:4]
        return self._for_cluster(cluster), namespace, name

    def _guarded(self, fn: Callable[[], Any]) -> Any:
        from .kubernetes_actions import (
            ActionError, ActionOutcomeUnknown, ActionThrottled, ActionUnavailable,
        )
        try:
            return fn()
        except ActionOutcomeUnknown as exc:
            raise OutcomeUnknown(str(exc)) from exc
        except (ActionUnavailable, ActionThrottled) as exc:
            raise TransientError(str(exc)) from exc
        except ActionError as exc:
            raise ExecutorError(str(exc)) from exc
        except (TransientError, ExecutorError):
            raise
        except ClientError as exc:       # EKS DescribeCluster (credentials) refused
            code = exc.response.get("Error", {}).get("Code", "")
            if code in _THROTTLED or code in _SERVER:
                raise TransientError(f"eks:DescribeCluster: {code}") from exc
            raise ExecutorError(f"{code}: {exc.response.get('Error', {}).get('Message', '')}") from exc
        except (BotoConnectionError, HTTPClientError) as exc:
            raise TransientError(f"{type(exc).__name__}: {exc}") from exc

    def _snapshot(self, action: Action) -> dict:
        k8s, namespace, name = self._where(action)
        return k8s.snapshot(namespace, name)

    def execute(self, action: Action, *, dry_run: bool, pin: Pin | None = None,
                guard: Guard | None = None) -> ActionResult:
        if action.type == "capture_diagnostics":
            try:
                state = self._guarded(lambda: self._snapshot(action))
            except ExecutorError as exc:
                return _result(action, "failed", error=str(exc))
            return _result(action, "executed", api_call=f"GET {action.target}", after=state)
        result = super().execute(action, dry_run=dry_run, pin=pin, guard=guard)
        if dry_run and result.status == "planned" and result.pin is not None:
            # ask the API server too (dryRun=All): RBAC, admission and validation answer before anyone approves
            try:
                out = self.write(action, result.pin, None, dry_run=True)
            except ExecutorError as exc:
                return result.model_copy(update={"status": "failed", "error": f"the server-side dry run refused: {exc}"})
            result = result.model_copy(update={"api_call": out.get("api_call", result.api_call)})
        return result

    def plan(self, action: Action) -> Pin:
        state = self._guarded(lambda: self._snapshot(action))
        p = action.params
        if action.type == "rollback_deployment":
            return self._plan_rollback(action, state)
        if action.type == "scale_service":
            current = state.get("replicas") or 0
            replicas = int(p.get("replicas") or math.ceil(max(current, 1) * float(p.get("factor", 1.5))))
            hpa = state.get("hpa")
            note = ""
            if hpa and replicas > hpa["max_replicas"]:
                replicas, note = hpa["max_replicas"], f" (capped at HPA {hpa['name']}'s maximum)"
            before = {"replicas": current, "hpa_min": hpa["min_replicas"] if hpa else None,
                      "hpa_max": hpa["max_replicas"] if hpa else None}
            target = {"replicas": replicas, **({"hpa_min": replicas} if hpa else {})}
            if target["replicas"] == current and (not hpa or hpa["min_replicas"] == replicas):
                raise ExecutorError(f"{action.target} already runs {current} replicas: nothing to scale")
            return make_pin(target, before, summary=f"scale {current} -> {replicas} replicas{note}")
        if action.type == "restart_pods":
            order = sorted(state["pods"], key=lambda x: (x["last_termination_reason"] != "OOMKilled",
                                                         -x["restarts"], x["ready"], x["name"]))
            limit = p.get("max_pods")
            chosen = order if limit is None else order[:int(limit)]
            if not chosen:
                raise ExecutorError(f"{action.target} has no pod to restart")
            why = {x["name"]: f"restarts {x['restarts']}, last terminated {x['last_termination_reason']}, "
                              f"{'ready' if x['ready'] else 'not ready'}" for x in chosen}
            before = {"revision": state.get("revision"), "pods": {x["name"]: x["uid"] for x in chosen}}
            return make_pin({"pods": {x["name"]: None for x in chosen}}, before,
                            call={"why": why, "one_at_a_time": bool(p.get("one_at_a_time", True))},
                            summary=f"delete {len(chosen)} pod(s): {', '.join(x['name'] for x in chosen)}")
        if action.type == "increase_memory_limit":
            from .kubernetes_actions import format_memory, memory_bytes
            container = p.get("container") or state["container"]
            current = state["memory_limits"].get(container)
            request = state["memory_requests"].get(container)
            if p.get("value"):
                value = str(p["value"])
            elif current is None:
                raise ExecutorError(f"container {container} has no memory limit to multiply")
            else:
                value = format_memory(memory_bytes(current) * float(p.get("factor", 1.5)))
            before = {"revision": state.get("revision"), "memory_limit": current, "memory_request": request}
            target = {"memory_limit": value}
            if request and memory_bytes(request) > memory_bytes(value):
                target["memory_request"] = value
            return make_pin(target, before, call={"container": container},
                            summary=f"memory limit of {container}: {current} -> {value}")
        raise ExecutorError(f"{action.type} is not an EKS action")

    def _plan_rollback(self, action: Action, state: dict) -> Pin:
        change = _change(action)
        revisions = {r["revision"]: r for r in state["revisions"]}
        wanted = _explicit_revision(action) or (change.previous_revision if change else None)
        if wanted is None and change is not None and change.revision and str(change.revision).isdigit():
            older = [int(r) for r in revisions if r.isdigit() and int(r) < int(change.revision)]
            wanted = str(max(older)) if older else None
        if wanted is None:
            raise ExecutorError(f"no evidence of the revision of {action.target} before the culprit change "
                                "(the plan carries none): Watchkeeper does not guess N-1")
        target_rs = revisions.get(str(wanted))
        if target_rs is None:
            raise ExecutorError(f"revision {wanted} of {action.target} (before the culprit change) is no longer in "
                                f"its history ({', '.join(sorted(revisions, key=lambda r: int(r) if r.isdigit() else 0))})")
        if target_rs["template_hash"] == state["template_hash"]:
            raise ExecutorError(f"{action.target} already runs the pod template of revision {wanted}: nothing to roll back")
        culprit = revisions.get(str(change.revision)) if change and change.revision else None
        before_is_culprit = bool(change) and (state.get("revision") == str(change.revision) or (
            culprit is not None and culprit["template_hash"] == state["template_hash"]))
        before = {"revision": state.get("revision"), "template": state["template_hash"], "images": state["images"]}
        target = {"template": target_rs["template_hash"], "images": target_rs["images"]}
        images = ", ".join(str(i) for i in target_rs["images"].values())
        return make_pin(target, before, call={"to_revision": str(wanted)}, culprit=change.id if change else None,
                        before_is_culprit=before_is_culprit, summary=f"restore revision {wanted} ({images})")

    def write(self, action: Action, pin: Pin, guard: Guard | None, dry_run: bool = False) -> dict[str, Any]:
        k8s, namespace, name = self._where(action)
        if action.type == "rollback_deployment":
            out = self._guarded(lambda: k8s.rollout_undo(namespace, name, to_revision=pin.call["to_revision"],
                                                         expect_template=pin.target["template"], dry_run=dry_run))
            return {"api_call": out["api_call"], "notes": out.get("notes", []),
                    "after": {"revision": out["after"].get("revision"), "template": out["after"].get("template_hash"),
                              "images": out["after"].get("images")}}
        if action.type == "scale_service":
            out = self._guarded(lambda: k8s.apply_scale(namespace, name, pin.target["replicas"],
                                                        pin.target.get("hpa_min"), dry_run=dry_run))
            hpa = out["after"].get("hpa")
            return {"api_call": out["api_call"],
                    "after": {"replicas": out["after"].get("replicas"), "hpa_min": hpa["min_replicas"] if hpa else None}}
        if action.type == "restart_pods":
            pods = [(n, uid) for n, uid in pin.before["pods"].items()]
            out = self._guarded(lambda: k8s.delete_pods(namespace, name, pods, guard=guard, dry_run=dry_run,
                                                        one_at_a_time=pin.call.get("one_at_a_time", True)))
            done: dict[str, Any] = {"after": {"pods_deleted": out["pods_deleted"]}, "notes": out["notes"],
                                    "api_call": out["api_call"] or self.call_of(action, pin)}
            stopped = out.get("stopped_by")
            if stopped:
                by_guard = stopped != "no Ready replacement"
                done.update(status="blocked" if by_guard else "failed", blocked_by="kill_switch" if by_guard else None,
                            error=f"restart stopped after {len(out['pods_deleted'])} of {len(pods)} pod(s): {stopped}")
            return done
        if action.type == "increase_memory_limit":
            out = self._guarded(lambda: k8s.set_memory(namespace, name, pin.call["container"],
                                                       pin.target.get("memory_limit"), pin.target.get("memory_request"),
                                                       dry_run=dry_run))
            c = pin.call["container"]
            return {"api_call": out["api_call"], "after": {"memory_limit": out["after"]["memory_limits"].get(c),
                              "memory_request": out["after"]["memory_requests"].get(c)}}
        raise ExecutorError(f"{action.type} is not an EKS action")

    def observe(self, action: Action, pin: Pin) -> dict[str, Any]:
        state = self._guarded(lambda: self._snapshot(action))
        if action.type == "rollback_deployment":
            return {"revision": state.get("revision"), "template": state["template_hash"], "images": state["images"]}
        if action.type == "scale_service":
            hpa = state.get("hpa")
            return {"replicas": state.get("replicas"), "hpa_min": hpa["min_replicas"] if hpa else None,
                    "hpa_max": hpa["max_replicas"] if hpa else None}
        if action.type == "restart_pods":
            live = {x["name"]: x["uid"] for x in state["pods"]}
            return {"revision": state.get("revision"),
                    "pods": {n: (uid if live.get(n) == uid else None) for n, uid in pin.before.get("pods", {}).items()}}
        if action.type == "increase_memory_limit":
            c = pin.call.get("container") or state["container"]
            return {"revision": state.get("revision"), "memory_limit": state["memory_limits"].get(c),
                    "memory_request": state["memory_requests"].get(c)}
        raise ExecutorError(f"{action.type} is not an EKS action")

    def inverse(self, action: Action, pin: Pin) -> tuple[Pin | None, str]:
        if action.type == "restart_pods":
            return None, "deleted pods were replaced by their ReplicaSet: a restart cannot be undone"
        if action.type == "rollback_deployment":
            return make_pin({"template": pin.before.get("template"), "images": pin.before.get("images")},
                            {"template": pin.target.get("template"), "images": pin.target.get("images")},
                            call={"to_revision": pin.before.get("revision")},
                            summary=f"restore revision {pin.before.get('revision')}"), ""
        if action.type == "increase_memory_limit":
            back = inverse_pin(pin, call=dict(pin.call), summary=f"memory limit back to {pin.before.get('memory_limit')}")
            return back, ""
        if action.type == "scale_service":
            target = {"replicas": pin.before.get("replicas")}
            if "hpa_min" in pin.target:
                target["hpa_min"] = pin.before.get("hpa_min")
            return make_pin(target, {k: pin.target[k] for k in target},
                            summary=f"scale back to {pin.before.get('replicas')} replicas"), ""
        return None, f"{action.type} cannot be reverted"

    def call_of(self, action: Action, pin: Pin | None) -> str:
        _, cluster, namespace, name = (_parts(action.target) + ["", "", "", ""])[:4]
        path = f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}"
        if action.type == "rollback_deployment":
            return f"PATCH {path} (pod template of revision {pin.call.get('to_revision') if pin else '?'})"
        if action.type == "scale_service":
            hpa = " + PATCH horizontalpodautoscaler minReplicas" if pin and "hpa_min" in pin.target else ""
            return f"PATCH {path}/scale replicas={pin.target.get('replicas') if pin else '?'}{hpa}"
        if action.type == "restart_pods":
            pods = ", ".join(pin.before.get("pods", {})) if pin else "?"
            return f"DELETE /api/v1/namespaces/{namespace}/pods/{{{pods}}} (uid preconditions, one at a time)"
        if action.type == "increase_memory_limit":
            return (f"PATCH {path} container {pin.call.get('container') if pin else '?'} "
                    f"memory limit {pin.target.get('memory_limit') if pin else '?'}")
        return f"{action.type} {action.target}"

    def diff_of(self, action: Action, pin: Pin) -> str:
        if action.type == "restart_pods":
            why = pin.call.get("why", {})
            return "\n".join(f"pod {n}: deleted ({why.get(n, '')})" for n in pin.before.get("pods", {}))
        if action.type == "rollback_deployment":
            before, after = pin.before.get("images", {}), pin.target.get("images", {})
            lines = [f"revision: {pin.before.get('revision')} -> {pin.call.get('to_revision')}'s template (new revision)"]
            lines += [f"image.{c}: {before.get(c)} -> {after.get(c)}" for c in sorted(set(before) | set(after))
                      if before.get(c) != after.get(c)]
            return "\n".join(lines)
        return super().diff_of(action, pin)


# --- ECS --------------------------------------------------------------------------------

class EcsExecutor(PinnedExecutor):
    """Rollback to the task definition before the culprit deployment, desired count, task restarts."""

    def __init__(self, client: Any = None, caller: AwsCaller | None = None, settle_timeout: float = 60.0,
                 poll_interval: float = 2.0, sleep: Callable[[float], None] = time.sleep):
        self._ecs = client or default_client("ecs")
        self._call = caller or AwsCaller()
        self._settle, self._poll, self._sleep = settle_timeout, poll_interval, sleep

    @staticmethod
    def _names(action: Action) -> tuple[str, str]:
        _, cluster, *rest = _parts(action.target)
        return cluster, (rest[-1] if rest else cluster)

    def _service(self, action: Action) -> dict:
        cluster, service = self._names(action)
        found = self._call("ecs:DescribeServices", self._ecs.describe_services, cluster=cluster,
                           services=[service]).get("services", [])
        if not found:
            raise ExecutorError(f"cannot act on {action.target}: service not found")
        return found[0]

    def plan(self, action: Action) -> Pin:
        svc = self._service(action)
        if action.type == "rollback_deployment":
            current = svc["taskDefinition"]
            change = _change(action)
            wanted = _explicit_revision(action) or (change.previous_revision if change else None)
            family_arn = current.rsplit(":", 1)[0]
            if wanted is not None:
                target = f"{family_arn}:{wanted}"
            else:   # the deployment the service ran before the culprit, while ECS still lists it
                older = [d["taskDefinition"] for d in svc.get("deployments", []) if d.get("status") != "PRIMARY"]
                if not older:
                    raise ExecutorError(f"no evidence of the task definition {action.target} ran before the culprit "
                                        "deployment: Watchkeeper does not guess N-1")
                target = older[0]
            if target == current:
                raise ExecutorError(f"{action.target} already runs {current}: nothing to roll back")
            described = self._call("ecs:DescribeTaskDefinition", self._ecs.describe_task_definition,
                                   taskDefinition=target)["taskDefinition"]
            if described.get("status") not in (None, "ACTIVE"):
                raise ExecutorError(f"{target} is {described.get('status')}: it cannot be deployed again")
            before_is_culprit = bool(change and change.revision and current.rsplit(":", 1)[-1] == str(change.revision))
            return make_pin({"taskDefinition": described.get("taskDefinitionArn", target)}, {"taskDefinition": current},
                            culprit=change.id if change else None, before_is_culprit=before_is_culprit,
                            summary=f"task definition {current.rsplit('/', 1)[-1]} -> "
                                    f"{described.get('taskDefinitionArn', target).rsplit('/', 1)[-1]}")
        if action.type == "scale_service":
            count = svc["desiredCount"]
            target = int(action.params.get("replicas") or math.ceil(max(count, 1) * float(action.params.get("factor", 1.5))))
            if target == count:
                raise ExecutorError(f"{action.target} already wants {count} tasks: nothing to scale")
            return make_pin({"desiredCount": target}, {"desiredCount": count}, summary=f"desired count {count} -> {target}")
        if action.type == "restart_pods":
            cluster, service = self._names(action)
            arns = self._call("ecs:ListTasks", self._ecs.list_tasks, cluster=cluster, serviceName=service,
                              desiredStatus="RUNNING").get("taskArns", [])
            if not arns:
                raise ExecutorError(f"{action.target} has no running task to restart")
            tasks = self._call("ecs:DescribeTasks", self._ecs.describe_tasks, cluster=cluster, tasks=arns)["tasks"]
            tasks.sort(key=lambda t: str(t.get("startedAt") or t.get("createdAt") or ""))
            limit = action.params.get("max_pods")
            chosen = tasks if limit is None else tasks[:int(limit)]
            return make_pin({"tasks": {t["taskArn"]: "STOPPED" for t in chosen}},
                            {"taskDefinition": svc["taskDefinition"], "tasks": {t["taskArn"]: "RUNNING" for t in chosen}},
                            call={"one_at_a_time": bool(action.params.get("one_at_a_time", True))},
                            summary=f"stop {len(chosen)} task(s) (the service replaces them)")
        raise ExecutorError(f"{action.type} is not supported on ECS")

    def write(self, action: Action, pin: Pin, guard: Guard | None) -> dict[str, Any]:
        cluster, service = self._names(action)
        if action.type == "restart_pods":
            return self._stop_tasks(action, pin, guard)
        call = self.call_of(action, pin)
        self._call(call, self._ecs.update_service, write=True, cluster=cluster, service=service, **pin.target)
        return {}

    def _stop_tasks(self, action: Action, pin: Pin, guard: Guard | None) -> dict[str, Any]:
        cluster, service = self._names(action)
        state = self.observe(action, pin)["tasks"]
        todo = [arn for arn, status in state.items() if status == "RUNNING"]
        stopped: list[str] = []
        for index, arn in enumerate(todo):
            reason = guard() if guard is not None else None
            if reason:
                return {"status": "blocked", "blocked_by": "kill_switch" if "kill switch" in reason else None,
                        "error": f"restart stopped after {len(stopped)} of {len(todo)} task(s): {reason}",
                        "after": {"tasks_stopped": stopped}}
            self._call(f"ecs:StopTask cluster={cluster} task={arn}", self._ecs.stop_task, write=True, cluster=cluster,
                       task=arn, reason="Watchkeeper restart (approved remediation)")
            stopped.append(arn)
            if pin.call.get("one_at_a_time", True) and index < len(todo) - 1:
                self._wait_for_service(cluster, service)
        return {"after": {"tasks_stopped": stopped}}

    def _wait_for_service(self, cluster: str, service: str) -> None:
        deadline = time.monotonic() + self._settle
        while time.monotonic() < deadline:
            svc = self._call("ecs:DescribeServices", self._ecs.describe_services, cluster=cluster,
                             services=[service])["services"][0]
            if svc.get("runningCount", 0) >= svc.get("desiredCount", 0):
                return
            self._sleep(self._poll)

    def observe(self, action: Action, pin: Pin) -> dict[str, Any]:
        if action.type == "restart_pods":
            cluster, _ = self._names(action)
            arns = list(pin.before.get("tasks", {}))
            found = self._call("ecs:DescribeTasks", self._ecs.describe_tasks, cluster=cluster, tasks=arns)["tasks"]
            status = {t["taskArn"]: ("STOPPED" if t.get("desiredStatus") == "STOPPED" else "RUNNING") for t in found}
            svc = self._service(action)
            return {"taskDefinition": svc["taskDefinition"], "tasks": {a: status.get(a, "STOPPED") for a in arns}}
        svc = self._service(action)
        return {"taskDefinition": svc["taskDefinition"], "desiredCount": svc["desiredCount"]}

    def inverse(self, action: Action, pin: Pin) -> tuple[Pin | None, str]:
        if action.type == "restart_pods":
            return None, "stopped tasks were replaced by the service: a restart cannot be undone"
        return super().inverse(action, pin)

    def call_of(self, action: Action, pin: Pin | None) -> str:
        cluster, service = self._names(action)
        if action.type == "restart_pods":
            return f"ecs:StopTask cluster={cluster} service={service} ({len(pin.before.get('tasks', {})) if pin else '?'} task(s), one at a time)"
        what = " ".join(f"{k}={v}" for k, v in pin.target.items()) if pin else f"<{action.type}>"
        return f"ecs:UpdateService cluster={cluster} service={service} {what}"


# --- Lambda -----------------------------------------------------------------------------

class LambdaExecutor(PinnedExecutor):
    """Lambda rollbacks move the alias back to the version it served before the culprit publish."""

    def __init__(self, client: Any = None, alias: str = "live", caller: AwsCaller | None = None):
        self._lambda = client or default_client("lambda")
        self._alias = alias
        self._call = caller or AwsCaller()

    def _alias_of(self, action: Action) -> str:
        return str(action.params.get("alias") or self._alias)

    def _read(self, action: Action) -> dict:
        function = _parts(action.target)[-1]
        alias = self._call("lambda:GetAlias", self._lambda.get_alias, FunctionName=function, Name=self._alias_of(action))
        weights = (alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
        return {"FunctionVersion": alias["FunctionVersion"], "RevisionId": alias.get("RevisionId"),
                "routing": dict(weights)}

    def plan(self, action: Action) -> Pin:
        if action.type != "rollback_deployment":
            raise ExecutorError(f"{action.type} is not supported on Lambda")
        function = _parts(action.target)[-1]
        live = self._read(action)
        change = _change(action)
        wanted = _explicit_revision(action) or (change.previous_revision if change else None)
        if wanted is None:
            raise ExecutorError(f"no evidence of the version alias {self._alias_of(action)} of {function} served before "
                                "the culprit publish: Watchkeeper does not guess N-1")
        versions: set[str] = set()
        kwargs: dict[str, Any] = {"FunctionName": function}
        while True:
            page = self._call("lambda:ListVersionsByFunction", self._lambda.list_versions_by_function, **kwargs)
            versions |= {v["Version"] for v in page.get("Versions", [])}
            if not page.get("NextMarker"):
                break
            kwargs["Marker"] = page["NextMarker"]
        if str(wanted) not in versions:
            raise ExecutorError(f"version {wanted} of {function} (before the culprit publish) no longer exists")
        if live["FunctionVersion"] == str(wanted) and not live["routing"]:
            raise ExecutorError(f"alias {self._alias_of(action)} of {function} already serves version {wanted}")
        before_is_culprit = bool(change and change.revision and live["FunctionVersion"] == str(change.revision))
        return make_pin({"FunctionVersion": str(wanted), "routing": {}}, live, culprit=change.id if change else None,
                        before_is_culprit=before_is_culprit,
                        summary=f"alias {self._alias_of(action)}: version {live['FunctionVersion']} -> {wanted}")

    def write(self, action: Action, pin: Pin, guard: Guard | None) -> dict[str, Any]:
        function = _parts(action.target)[-1]
        kwargs: dict[str, Any] = {"FunctionName": function, "Name": self._alias_of(action),
                                  "FunctionVersion": pin.target["FunctionVersion"],
                                  "RoutingConfig": {"AdditionalVersionWeights": pin.target.get("routing") or {}}}
        if pin.before.get("RevisionId"):
            kwargs["RevisionId"] = pin.before["RevisionId"]     # refused if the alias moved since it was read
        try:
            self._call(self.call_of(action, pin), self._lambda.update_alias, write=True, **kwargs)
        except ExecutorError as exc:
            if "PreconditionFailed" in str(exc):
                raise ExecutorError(f"alias {self._alias_of(action)} of {function} changed since it was approved; "
                                    f"nothing was written ({exc})") from exc
            raise
        return {"after": {"FunctionVersion": pin.target["FunctionVersion"], "routing": pin.target.get("routing") or {}}}

    def observe(self, action: Action, pin: Pin) -> dict[str, Any]:
        return self._read(action)

    def inverse(self, action: Action, pin: Pin) -> tuple[Pin | None, str]:
        target = {"FunctionVersion": pin.before.get("FunctionVersion"), "routing": pin.before.get("routing") or {}}
        return make_pin(target, dict(pin.target), summary=f"alias back to version {target['FunctionVersion']}"), ""

    def call_of(self, action: Action, pin: Pin | None) -> str:
        function = _parts(action.target)[-1]
        version = pin.target.get("FunctionVersion") if pin else "<version before the culprit>"
        return f"lambda:UpdateAlias FunctionName={function} Name={self._alias_of(action)} FunctionVersion={version}"

    def diff_of(self, action: Action, pin: Pin) -> str:
        return _diff({k: pin.before.get(k) for k in ("FunctionVersion", "routing")}, pin.target)


# --- EC2 Auto Scaling -------------------------------------------------------------------

class AutoScalingExecutor(PinnedExecutor):
    def __init__(self, client: Any = None, caller: AwsCaller | None = None):
        self._asg = client or default_client("autoscaling")
        self._call = caller or AwsCaller()

    def _group(self, action: Action) -> dict:
        name = _parts(action.target)[-1]
        groups = self._call("autoscaling:DescribeAutoScalingGroups", self._asg.describe_auto_scaling_groups,
                            AutoScalingGroupNames=[name])["AutoScalingGroups"]
        if not groups:
            raise ExecutorError(f"Auto Scaling group {name} not found")
        return groups[0]

    def plan(self, action: Action) -> Pin:
        if action.type != "scale_service":
            raise ExecutorError(f"{action.type} is not supported on EC2 Auto Scaling")
        group = self._group(action)
        current, maximum = group["DesiredCapacity"], group["MaxSize"]
        target = int(action.params.get("replicas") or math.ceil(max(current, 1) * float(action.params.get("factor", 1.5))))
        target = min(target, maximum)
        if target == current:
            raise ExecutorError(f"{action.target} is already at {current} (its maximum is {maximum}): nothing to scale")
        return make_pin({"DesiredCapacity": target}, {"DesiredCapacity": current, "MaxSize": maximum},
                        summary=f"desired capacity {current} -> {target} (max {maximum})")

    def write(self, action: Action, pin: Pin, guard: Guard | None) -> dict[str, Any]:
        self._call(self.call_of(action, pin), self._asg.set_desired_capacity, write=True,
                   AutoScalingGroupName=_parts(action.target)[-1], DesiredCapacity=pin.target["DesiredCapacity"],
                   HonorCooldown=False)
        return {}

    def observe(self, action: Action, pin: Pin) -> dict[str, Any]:
        group = self._group(action)
        return {"DesiredCapacity": group["DesiredCapacity"], "MaxSize": group["MaxSize"]}

    def inverse(self, action: Action, pin: Pin) -> tuple[Pin | None, str]:
        return make_pin({"DesiredCapacity": pin.before.get("DesiredCapacity")}, dict(pin.target),
                        summary=f"desired capacity back to {pin.before.get('DesiredCapacity')}"), ""

    def call_of(self, action: Action, pin: Pin | None) -> str:
        value = pin.target.get("DesiredCapacity") if pin else "<target>"
        return f"autoscaling:SetDesiredCapacity AutoScalingGroupName={_parts(action.target)[-1]} DesiredCapacity={value}"

    def diff_of(self, action: Action, pin: Pin) -> str:
        return _diff({"DesiredCapacity": pin.before.get("DesiredCapacity")}, pin.target)


# --- EC2 (CodeDeploy) ---------------------------------------------------------------------

_DEPLOYMENT_ID = re.compile(r"\bd-[A-Z0-9]{4,}\b")
_CD_FINAL = ("Succeeded", "Failed", "Stopped")


def _location(revision: dict[str, Any] | None) -> str | None:
    """A CodeDeploy RevisionLocation as one comparable string (S3 bucket/key[@version][#eTag],
    GitHub repository@commit, or a digest of an inline AppSpec)."""
    if not revision:
        return None
    s3, github = revision.get("s3Location") or {}, revision.get("gitHubLocation") or {}
    if s3:
        return (f"s3://{s3.get('bucket')}/{s3.get('key')}" + (f"@{s3['version']}" if s3.get("version") else "")
                + (f"#{s3['eTag']}" if s3.get("eTag") else ""))
    if github:
        return f"github:{github.get('repository')}@{github.get('commitId')}"
    inline = revision.get("appSpecContent") or revision.get("string") or {}
    if inline:
        return f"{str(revision.get('revisionType', 'inline')).lower()}:{inline.get('sha256') or _sha(inline.get('content'))}"
    return None


def codedeploy_deployment_id(change: ChangeEvent) -> str | None:
    """A CodeDeploy change's deployment id: the change feed records it as the revision, a change id is
    `codedeploy-<service>-<deployment id>`, and people write it in the description."""
    for text in (change.revision or "", change.id.removeprefix(f"codedeploy-{change.service}-"), change.description):
        found = _DEPLOYMENT_ID.search(str(text))
        if found:
            return found.group(0)
    return None


def _label(location: str | None) -> str:
    return (location or "none").rsplit("/", 1)[-1]


class CodeDeployExecutor(PinnedExecutor):
    """Rolls an EC2 / Auto Scaling service back through CodeDeploy: a new deployment, to the culprit's
    application and deployment group, of the revision that was live before the culprit deployment
    (its `previousRevision`, else the group's last successful deployment before it).

    The live state is the deployment group's target revision and last attempted deployment. The
    deployment's description carries the idempotency key, so an unknown outcome (a timeout on
    CreateDeployment) is found with ListDeployments/GetDeployment instead of deploying twice; the
    write is done when the deployment ends Succeeded (Failed or Stopped is a failure), polled up to
    `wait_seconds` (well inside the Execute and Verify functions' 300 s), after which the outcome is
    unknown and the step's retry reads it back."""

    def __init__(self, client: Any = None, caller: AwsCaller | None = None, wait_seconds: float = 180.0,
                 poll_interval: float = 5.0, sleep: Callable[[float], None] = time.sleep):
        self._cd = client or default_client("codedeploy")
        self._call = caller or AwsCaller()
        self._wait, self._poll, self._sleep = wait_seconds, poll_interval, sleep
        self._deadlines: dict[str, float] = {}      # deployment id -> when this invocation stops waiting

    # reads ----------------------------------------------------------------------------------
    def _deployment(self, deployment_id: str) -> dict:
        return self._call("codedeploy:GetDeployment", self._cd.get_deployment,
                          deploymentId=deployment_id)["deploymentInfo"]

    def _group(self, application: str, group: str) -> dict:
        return self._call("codedeploy:GetDeploymentGroup", self._cd.get_deployment_group, applicationName=application,
                          deploymentGroupName=group)["deploymentGroupInfo"]

    def _list(self, application: str, group: str, **kw: Any) -> list[str]:
        ids: list[str] = []
        token: str | None = None
        for _ in range(20):
            page = self._call("codedeploy:ListDeployments", self._cd.list_deployments, applicationName=application,
                              deploymentGroupName=group, **kw, **({"nextToken": token} if token else {}))
            ids += page.get("deployments", [])
            token = page.get("nextToken")
            if not token:
                break
        return ids

    @staticmethod
    def _live(info: dict) -> dict[str, Any]:
        return {"revision": _location(info.get("targetRevision")),
                "last_deployment": (info.get("lastAttemptedDeployment") or {}).get("deploymentId")}

    def plan(self, action: Action) -> Pin:
        if action.type != "rollback_deployment":
            raise ExecutorError(f"{action.type} is not a CodeDeploy action")
        change = _change(action)
        if change is None or change.source != "codedeploy":
            raise ExecutorError(f"no CodeDeploy deployment is the culprit of {action.target} (the plan carries "
                                f"{'a ' + (change.source or 'untyped') + ' change' if change else 'no change'}): "
                                "Watchkeeper does not guess what to redeploy")
        culprit_id = codedeploy_deployment_id(change)
        if culprit_id is None:
            raise ExecutorError(f"change {change.id} names no CodeDeploy deployment id")
        culprit = self._deployment(culprit_id)
        application, group = culprit["applicationName"], culprit["deploymentGroupName"]
        info = self._group(application, group)
        workload = _parts(action.target)[-1]
        if workload not in (info.get("autoScalingGroups") or []) and application not in (change.service, workload):
            raise ExecutorError(f"the culprit deployment {culprit_id} is of {application}/{group}, which deploys "
                                f"neither {change.service} nor the Auto Scaling group {workload}")
        bad = _location(culprit.get("revision"))
        previous = culprit.get("previousRevision") or self._last_good_before(application, group, culprit, bad)
        good = _location(previous)
        if good is None:
            raise ExecutorError(f"no revision of {application}/{group} is known to have run before the culprit "
                                f"deployment {culprit_id}: Watchkeeper does not guess N-1")
        if good == bad:
            raise ExecutorError(f"the revision before {culprit_id} is the culprit's own revision ({_label(bad)})")
        live = self._live(info)
        if live["revision"] == good:
            raise ExecutorError(f"{application}/{group} already targets {_label(good)} (the revision before "
                                f"{culprit_id}): nothing to roll back")
        before = {**live, "deployment": None}
        return make_pin({"revision": good, "deployment": "Succeeded"}, before,
                        call={"application": application, "group": group, "revision": previous,
                              "before_revision": info.get("targetRevision") or None, "culprit_deployment": culprit_id,
                              "config": action.params.get("deployment_config")},
                        culprit=change.id, before_is_culprit=live["revision"] == bad,
                        summary=f"redeploy {_label(good)} to {application}/{group} (the revision before "
                                f"{culprit_id}, which deployed {_label(bad)})")

    def _last_good_before(self, application: str, group: str, culprit: dict, bad: str | None) -> dict | None:
        """The revision of the group's last successful deployment created before the culprit."""
        created = culprit.get("createTime")
        ids = self._list(application, group, includeOnlyStatuses=["Succeeded"],
                         **({"createTimeRange": {"end": created}} if created else {}))
        found = [self._deployment(i) for i in ids[-25:] if i != culprit.get("deploymentId")]
        earlier = sorted((d for d in found if not created or d.get("createTime") < created),
                         key=lambda d: d.get("createTime"))
        earlier = [d for d in earlier if _location(d.get("revision")) != bad]
        return earlier[-1].get("revision") if earlier else None

    # the write -------------------------------------------------------------------------------
    @staticmethod
    def _marker(pin: Pin, action: Action) -> str:
        return f"watchkeeper {pin.call.get('key') or action.id}:"

    def write(self, action: Action, pin: Pin, guard: Guard | None) -> dict[str, Any]:
        c = pin.call
        if _location(c.get("revision")) != pin.target.get("revision"):
            raise ExecutorError("the pinned revision does not match its location: nothing was written")
        kwargs: dict[str, Any] = {
            "applicationName": c["application"], "deploymentGroupName": c["group"], "revision": c["revision"],
            "description": f"{self._marker(pin, action)} roll back {c.get('culprit_deployment') or 'the culprit'} "
                           f"to {_label(pin.target['revision'])}"[:1000]}
        if c.get("config"):
            kwargs["deploymentConfigName"] = str(c["config"])
        deployment_id = self._call(self.call_of(action, pin), self._cd.create_deployment, write=True,
                                   **kwargs)["deploymentId"]
        return self._final(deployment_id, pin)

    def _settled(self, info: dict) -> dict | None:
        """The deployment once it ended (polled, bounded by the wait), or None while it still runs.

        One wait per deployment per invocation: after a write's wait ran out, the reconcile that
        follows reads once and hands over to the step's retry (which waits again), so an
        invocation never waits twice as long as its function may run."""
        deployment_id = info["deploymentId"]
        deadline = self._deadlines.setdefault(deployment_id, time.monotonic() + self._wait)
        delay = min(0.5, self._poll)
        while info.get("status") not in _CD_FINAL:
            if time.monotonic() >= deadline:
                return None
            self._sleep(delay)
            delay = min(delay * 2, self._poll)
            info = self._deployment(deployment_id)
        self._deadlines.pop(deployment_id, None)
        return info

    def _final(self, deployment_id: str, pin: Pin) -> dict[str, Any]:
        """The write's result is the deployment's final status; still running after the wait is an
        unknown outcome (the step's retry reads it back)."""
        info = self._settled(self._deployment(deployment_id))
        if info is None:
            raise OutcomeUnknown(f"CodeDeploy deployment {deployment_id} still InProgress after {self._wait:g}s")
        after = {"revision": _location(info.get("revision")), "deployment": info["status"],
                 "deployment_id": deployment_id}
        if info["status"] != "Succeeded":
            error = (info.get("errorInformation") or {}).get("message") or ""
            return {"status": "failed", "after": after,
                    "error": f"CodeDeploy deployment {deployment_id} of {_label(after['revision'])} ended "
                             f"{info['status']}" + (f": {error}" if error else "")}
        return {"after": after}

    def observe(self, action: Action, pin: Pin) -> dict[str, Any]:
        """The group's live revision, and the final status of the deployment this write created
        (found by the idempotency key in its description), if it did."""
        c = pin.call
        live = self._live(self._group(c["application"], c["group"]))
        live["deployment"] = None
        if not c.get("key"):
            return live
        kw: dict[str, Any] = {}
        if c.get("since"):         # the intent's time, less a margin for clock skew
            kw["createTimeRange"] = {"start": datetime.fromisoformat(c["since"]) - timedelta(minutes=5)}
        marker = self._marker(pin, action)
        for deployment_id in reversed(self._list(c["application"], c["group"], **kw)):
            info = self._deployment(deployment_id)
            if str(info.get("description") or "").startswith(marker):
                settled = self._settled(info)
                if settled is None:
                    self._deadlines.pop(deployment_id, None)      # the retry waits afresh
                    raise TransientError(f"CodeDeploy deployment {deployment_id} is still running")
                info = settled
                live["deployment"] = info["status"]
                if info["status"] == "Succeeded":
                    live["revision"] = _location(info.get("revision"))
                return live
        return live

    def inverse(self, action: Action, pin: Pin) -> tuple[Pin | None, str]:
        if pin.before_is_culprit:
            return None, (f"the revision before the rollback is the culprit {pin.culprit or ''}'s: redeploying it "
                          "would bring the failure back; paging instead").replace("  ", " ")
        before = pin.call.get("before_revision")
        if not before or _location(before) != pin.before.get("revision"):
            return None, "no revision was live before the rollback"
        return make_pin({"revision": pin.before["revision"], "deployment": "Succeeded"},
                        {"revision": pin.target.get("revision"), "deployment": None},
                        call={**{k: v for k, v in pin.call.items() if k not in ("key", "since")},
                              "revision": before, "before_revision": pin.call.get("revision")},
                        summary=f"redeploy {_label(pin.before['revision'])} to {pin.call['application']}/"
                                f"{pin.call['group']}"), ""

    def call_of(self, action: Action, pin: Pin | None) -> str:
        if pin is None:
            return f"codedeploy:CreateDeployment <the revision before the culprit deployment> ({action.target})"
        c = pin.call
        return (f"codedeploy:CreateDeployment applicationName={c['application']} deploymentGroupName={c['group']} "
                f"revision={pin.target.get('revision')}, then codedeploy:GetDeployment until it ends")

    def diff_of(self, action: Action, pin: Pin) -> str:
        c = pin.call
        return (f"- {c['application']}/{c['group']}: {pin.before.get('revision')} "
                f"(last deployment {pin.before.get('last_deployment')})\n"
                f"+ {c['application']}/{c['group']}: {pin.target.get('revision')} (a new deployment)")


# --- configuration (SSM Parameter Store, AppConfig) ---------------------------------------

_SSM_CHANGE = re.compile(r"SSM parameter (\S+?):?(\s|$)")
_APPCONFIG_CHANGE = re.compile(r"AppConfig (?:deployment )?(\S+?)/(\S+?): profile (\S+) v(\d+)")
_IN_PROGRESS = {"DEPLOYING", "BAKING", "VALIDATING"}


class ConfigExecutor(PinnedExecutor):
    """Reverts the culprit configuration change: a Parameter Store value to the version before it,
    an AppConfig environment to the configuration version deployed before it."""

    def __init__(self, change_lookup: Callable[[str], ChangeEvent | None], ssm: Any = None, appconfig: Any = None,
                 caller: AwsCaller | None = None, strategy: str = "AppConfig.AllAtOnce"):
        self._lookup = change_lookup
        self._ssm = ssm or default_client("ssm")
        self._appconfig = appconfig
        self._call = caller or AwsCaller()
        self._strategy = strategy

    def _appconfig_client(self) -> Any:
        if self._appconfig is None:
            self._appconfig = default_client("appconfig")
        return self._appconfig

    def _change_of(self, action: Action) -> ChangeEvent:
        change = _change(action) or self._lookup(str(action.params.get("change_id", "")))
        if change is None:
            raise ExecutorError(f"change {action.params.get('change_id')} is not in the journal")
        return change

    @staticmethod
    def _kind(change: ChangeEvent) -> str:
        if change.source == "ssm" and _SSM_CHANGE.search(change.description):
            return "ssm"
        if change.source == "appconfig" and _APPCONFIG_CHANGE.search(change.description):
            return "appconfig"
        raise ExecutorError(f"reverting {change.source or 'this'} change {change.id} is not supported "
                            "(only Parameter Store and AppConfig changes are)")

    def plan(self, action: Action) -> Pin:
        change = self._change_of(action)
        return self._plan_ssm(change) if self._kind(change) == "ssm" else self._plan_appconfig(action, change)

    def write(self, action: Action, pin: Pin, guard: Guard | None) -> dict[str, Any]:
        if pin.call.get("kind") == "ssm":
            history = self._ssm_history(pin.call["name"])
            source = next((h for h in history if str(h["Version"]) == str(pin.call["from_version"])), None)
            if source is None or _sha(source["Value"]) != pin.target["value_sha"]:
                raise ExecutorError(f"version {pin.call['from_version']} of {pin.call['name']} is no longer in its "
                                    "history with the approved value")
            self._call(self.call_of(action, pin), self._ssm.put_parameter, write=True, Name=pin.call["name"],
                       Value=source["Value"], Overwrite=True, Type=pin.call.get("type") or "String")
            return {}
        client, c = self._appconfig_client(), pin.call
        if c.get("stop"):
            self._call(self.call_of(action, pin), client.stop_deployment, write=True, ApplicationId=c["application_id"],
                       EnvironmentId=c["environment_id"], DeploymentNumber=int(c["stop"]),
                       AllowRevert=bool(c.get("allow_revert")))
        else:
            self._call(self.call_of(action, pin), client.start_deployment, write=True,
                       ApplicationId=c["application_id"], EnvironmentId=c["environment_id"],
                       ConfigurationProfileId=c["profile_id"], ConfigurationVersion=str(pin.target["deployed_version"]),
                       DeploymentStrategyId=c.get("strategy") or self._strategy,
                       LatestDeploymentNumber=int(pin.before["latest_deployment"]),
                       Description=f"watchkeeper {c.get('key') or action.id}: revert {c.get('culprit', '')}"[:1024])
        return {}

    def observe(self, action: Action, pin: Pin) -> dict[str, Any]:
        if pin.call.get("kind") == "ssm":
            history = self._ssm_history(pin.call["name"])
            return {"version": history[-1]["Version"] if history else None,
                    "value_sha": _sha(history[-1]["Value"]) if history else None}
        c = pin.call
        return self._appconfig_state(c["application_id"], c["environment_id"], c["profile"])

    def inverse(self, action: Action, pin: Pin) -> tuple[Pin | None, str]:
        if pin.call.get("kind") == "ssm":
            return make_pin({"value_sha": pin.before.get("value_sha")}, {"value_sha": pin.target.get("value_sha")},
                            call={**pin.call, "from_version": pin.before.get("version")},
                            summary=f"{pin.call['name']} back to version {pin.before.get('version')}'s value"), ""
        return None, "an AppConfig revert is not undone automatically: it would deploy the culprit configuration again"

    def call_of(self, action: Action, pin: Pin | None) -> str:
        if pin is None:
            return f"revert_config {action.params.get('change_id', '')}".strip()
        c = pin.call
        if c.get("kind") == "ssm":
            return (f"ssm:PutParameter Name={c['name']} Value=<version {c['from_version']}'s value> Overwrite=true")
        if c.get("stop"):
            return (f"appconfig:StopDeployment ApplicationId={c['application_id']} EnvironmentId={c['environment_id']} "
                    f"DeploymentNumber={c['stop']}" + (" AllowRevert=true" if c.get("allow_revert") else ""))
        return (f"appconfig:StartDeployment ApplicationId={c['application_id']} EnvironmentId={c['environment_id']} "
                f"ConfigurationProfileId={c['profile_id']} ConfigurationVersion={pin.target.get('deployed_version')} "
                f"DeploymentStrategyId={c.get('strategy') or self._strategy} "
                f"LatestDeploymentNumber={pin.before.get('latest_deployment')}")

    def diff_of(self, action: Action, pin: Pin) -> str:
        c = pin.call
        if c.get("kind") == "ssm":
            return f"- {c['name']}: {c.get('current_value')}\n+ {c['name']}: {c.get('target_value')}"
        return (f"- {c['profile']} on {c['application']}/{c['environment']}: version {pin.before.get('deployed_version')}"
                f"\n+ {c['profile']} on {c['application']}/{c['environment']}: version {pin.target.get('deployed_version')}")

    # Parameter Store ----------------------------------------------------------------------------
    def _ssm_history(self, name: str) -> list[dict]:
        history: list[dict] = []
        kwargs: dict[str, Any] = {"Name": name}
        while True:
            page = self._call(f"ssm:GetParameterHistory Name={name}", self._ssm.get_parameter_history, **kwargs)
            history += page.get("Parameters", [])
            if not page.get("NextToken"):
                break
            kwargs["NextToken"] = page["NextToken"]
        history.sort(key=lambda p: p["Version"])
        if history and history[-1].get("Type") == "SecureString":
            raise ExecutorError(f"{name} is a SecureString: Watchkeeper does not read or write secrets")
        return history

    def _plan_ssm(self, change: ChangeEvent) -> Pin:
        name = _SSM_CHANGE.search(change.description).group(1)
        history = self._ssm_history(name)
        if not history:
            raise ExecutorError(f"{name} has no history")
        current = history[-1]
        culprit = int(change.revision) if change.revision and str(change.revision).isdigit() else None
        if change.previous_revision and str(change.previous_revision).isdigit():
            wanted = int(change.previous_revision)
        elif culprit is not None:
            older = [h["Version"] for h in history if h["Version"] < culprit]
            wanted = max(older) if older else None
        else:
            wanted = None
        if wanted is None:
            raise ExecutorError(f"no evidence of the version of {name} before the culprit change {change.id}")
        source = next((h for h in history if h["Version"] == wanted), None)
        if source is None:
            raise ExecutorError(f"version {wanted} of {name} (before the culprit change) is no longer in its history")
        if source["Value"] == current["Value"]:
            raise ExecutorError(f"{name} already has version {wanted}'s value: nothing to revert")
        before_is_culprit = culprit is not None and (current["Version"] == culprit or any(
            h["Version"] == culprit and h["Value"] == current["Value"] for h in history))
        return make_pin({"value_sha": _sha(source["Value"])},
                        {"version": current["Version"], "value_sha": _sha(current["Value"])},
                        call={"kind": "ssm", "name": name, "from_version": wanted,
                              "type": current.get("Type", "String"), "current_value": current["Value"],
                              "target_value": source["Value"]},
                        culprit=change.id, before_is_culprit=before_is_culprit,
                        summary=f"{name}: version {current['Version']} -> version {wanted}'s value")

    # AppConfig ---------------------------------------------------------------------------------
    def _ids(self, application: str, environment: str, profile: str) -> tuple[str, str, str]:
        client = self._appconfig_client()

        def find(what: str, fn: Callable[..., Any], name: str, **kw: Any) -> str:
            token: str | None = None
            while True:
                page = self._call(what, fn, **kw, **({"NextToken": token} if token else {}))
                for item in page.get("Items", []):
                    if item.get("Name") == name:
                        return item["Id"]
                token = page.get("NextToken")
                if not token:
                    raise ExecutorError(f"AppConfig {what.split(':', 1)[1][4:].lower()} {name!r} not found")

        app_id = find("appconfig:ListApplications", client.list_applications, application)
        env_id = find("appconfig:ListEnvironments", client.list_environments, environment, ApplicationId=app_id)
        profile_id = find("appconfig:ListConfigurationProfiles", client.list_configuration_profiles, profile,
                          ApplicationId=app_id)
        return app_id, env_id, profile_id

    def _deployments(self, app_id: str, env_id: str) -> list[dict]:
        client, items, token = self._appconfig_client(), [], None
        while True:
            page = self._call("appconfig:ListDeployments", client.list_deployments, ApplicationId=app_id,
                              EnvironmentId=env_id, **({"NextToken": token} if token else {}))
            items += page.get("Items", [])
            token = page.get("NextToken")
            if not token:
                return sorted(items, key=lambda d: d["DeploymentNumber"])

    def _appconfig_state(self, app_id: str, env_id: str, profile: str) -> dict[str, Any]:
        deployments = self._deployments(app_id, env_id)
        mine = [d for d in deployments if d.get("ConfigurationName") == profile]
        live = [d for d in mine if d.get("State") not in ("ROLLED_BACK", "REVERTED", "ROLLING_BACK")]
        return {"latest_deployment": deployments[-1]["DeploymentNumber"] if deployments else 0,
                "deployed_version": str(live[-1]["ConfigurationVersion"]) if live else None,
                "state": live[-1].get("State") if live else None}

    def _plan_appconfig(self, action: Action, change: ChangeEvent) -> Pin:
        application, environment, profile, version = _APPCONFIG_CHANGE.search(change.description).groups()
        app_id, env_id, profile_id = self._ids(application, environment, profile)
        deployments = [d for d in self._deployments(app_id, env_id) if d.get("ConfigurationName") == profile]
        culprit = next((d for d in reversed(deployments) if str(d.get("ConfigurationVersion")) == version), None)
        if culprit is None:
            raise ExecutorError(f"no AppConfig deployment of {profile} v{version} to {application}/{environment}")
        earlier = [d for d in deployments if d["DeploymentNumber"] < culprit["DeploymentNumber"]
                   and d.get("State") == "COMPLETE" and str(d.get("ConfigurationVersion")) != version]
        if not earlier:
            raise ExecutorError(f"no completed deployment of {profile} before the culprit v{version}: "
                                "nothing known-good to go back to")
        previous = str(earlier[-1]["ConfigurationVersion"])
        state = self._appconfig_state(app_id, env_id, profile)
        call = {"kind": "appconfig", "application": application, "environment": environment, "profile": profile,
                "application_id": app_id, "environment_id": env_id, "profile_id": profile_id, "culprit": change.id,
                "strategy": str(action.params.get("deployment_strategy") or self._strategy)}
        if culprit.get("State") in _IN_PROGRESS and state["latest_deployment"] == culprit["DeploymentNumber"]:
            call.update(stop=culprit["DeploymentNumber"], allow_revert=culprit.get("State") == "BAKING")
        before = {"latest_deployment": state["latest_deployment"], "deployed_version": state["deployed_version"]}
        return make_pin({"deployed_version": previous}, before, call=call, culprit=change.id,
                        before_is_culprit=state["deployed_version"] == version,
                        summary=f"{profile} on {application}/{environment}: version {state['deployed_version']} -> "
                                f"{previous}" + (" (stop the culprit deployment)" if call.get("stop") else ""))


# --- disk clean-up (SSM Run Command) ---------------------------------------------------------

_SAFE_PATH = re.compile(r"/(var/log|tmp|var/tmp)(/[\w.*-]+)+")
_DONE = {"Success", "Failed", "TimedOut", "Cancelled"}


class DiskCleanupExecutor(PinnedExecutor):
    """Frees disk space with a fixed SSM Run Command script on the service's instances, and
    reports the command's final status (polled, bounded), not merely that it was sent.

    Only files under /var/log, /tmp and /var/tmp, older than a day, matched by a name
    pattern (never a directory): a runbook cannot turn this into `rm -rf /`. The command's
    comment carries the idempotency key, so a retry finds the command instead of sending it
    again."""

    def __init__(self, client: Any = None, caller: AwsCaller | None = None, wait_seconds: float = 120.0,
                 poll_interval: float = 3.0, sleep: Callable[[float], None] = time.sleep):
        self._ssm = client or default_client("ssm")
        self._call = caller or AwsCaller()
        self._wait, self._poll, self._sleep = wait_seconds, poll_interval, sleep

    @staticmethod
    def _script(action: Action) -> tuple[list[str], list[str], list[str]]:
        paths = [p for p in action.params.get("paths", []) if _SAFE_PATH.fullmatch(p) and ".." not in p]
        refused = sorted(set(action.params.get("paths", [])) - set(paths))
        commands = ["df -h"] + [f"find {p.rsplit('/', 1)[0]} -maxdepth 1 -type f -name '{p.rsplit('/', 1)[1]}' "
                                f"-mtime +1 -delete" for p in paths] + ["df -h"]
        return paths, refused, commands

    def plan(self, action: Action) -> Pin:
        paths, refused, commands = self._script(action)
        if not paths:
            raise ExecutorError("no path the clean-up may touch" + (f" (refused: {', '.join(refused)})" if refused else ""))
        return make_pin({"command": "Success"}, {"command": None},
                        call={"commands": commands, "refused": refused, "service": _parts(action.target)[-1]},
                        summary=f"run the clean-up script on the instances tagged Service={_parts(action.target)[-1]}")

    def execute(self, action: Action, *, dry_run: bool, pin: Pin | None = None,
                guard: Guard | None = None) -> ActionResult:
        if pin is None and not self._script(action)[0]:
            _, refused, commands = self._script(action)
            diff = "\n".join(f"+ run: {c}" for c in commands) + "".join(f"\n! refused path: {p}" for p in refused)
            return _result(action, "failed", api_call=self.call_of(action, None), diff=diff,
                           error="no path the clean-up may touch")
        return super().execute(action, dry_run=dry_run, pin=pin, guard=guard)

    def write(self, action: Action, pin: Pin, guard: Guard | None) -> dict[str, Any]:
        key = pin.call.get("key") or action.id
        resp = self._call(self.call_of(action, pin), self._ssm.send_command, write=True,
                          DocumentName="AWS-RunShellScript",
                          Targets=[{"Key": "tag:Service", "Values": [pin.call["service"]]}],
                          Parameters={"commands": pin.call["commands"]}, Comment=_comment(key),
                          MaxConcurrency="1", MaxErrors="1", TimeoutSeconds=600)
        return self._final(resp["Command"])

    def _final(self, command: dict) -> dict[str, Any]:
        """Poll the command until it finishes (bounded); still running then is an unknown outcome."""
        deadline = time.monotonic() + self._wait
        command_id = command["CommandId"]
        while command.get("Status") not in _DONE:
            if time.monotonic() >= deadline:
                raise OutcomeUnknown(f"ssm command {command_id} still {command.get('Status')} after {self._wait:g}s")
            self._sleep(self._poll)
            found = self._call("ssm:ListCommands", self._ssm.list_commands, CommandId=command_id).get("Commands", [])
            command = found[0] if found else command
        after = {"CommandId": command_id, "Status": command.get("Status"), "TargetCount": command.get("TargetCount"),
                 "CompletedCount": command.get("CompletedCount"), "ErrorCount": command.get("ErrorCount")}
        if command["Status"] != "Success":
            return {"status": "failed", "after": after,
                    "error": f"ssm command {command_id} ended {command['Status']} "
                             f"({command.get('ErrorCount', 0)} of {command.get('TargetCount', 0)} instance(s) failed)"}
        if not command.get("TargetCount"):
            return {"status": "failed", "after": after,
                    "error": "no instance is tagged for this service (and watchkeeper:managed): nothing was cleaned"}
        return {"after": after}

    def observe(self, action: Action, pin: Pin) -> dict[str, Any]:
        """The command this write sent, found by the idempotency key in its comment."""
        comment = _comment(pin.call.get("key") or action.id)
        filters = [{"key": "DocumentName", "value": "AWS-RunShellScript"}]
        if pin.call.get("since"):       # the intent's time, less a margin for clock skew
            since = datetime.fromisoformat(pin.call["since"]) - timedelta(minutes=5)
            filters.append({"key": "InvokedAfter", "value": since.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")})
        token: str | None = None
        for _ in range(20):
            page = self._call("ssm:ListCommands", self._ssm.list_commands, Filters=filters,
                              **({"NextToken": token} if token else {}))
            for command in page.get("Commands", []):
                if command.get("Comment") == comment:
                    status = command.get("Status")
                    if status not in _DONE:
                        raise TransientError(f"ssm command {command['CommandId']} is still {status}")
                    outcome = self._final(command)
                    return {"command": "Success" if outcome.get("status") != "failed" else status,
                            "detail": outcome}
            token = page.get("NextToken")
            if not token:
                break
        return {"command": None}

    def inverse(self, action: Action, pin: Pin) -> tuple[Pin | None, str]:
        return None, "deleted files cannot be restored"

    def call_of(self, action: Action, pin: Pin | None) -> str:
        return (f"ssm:SendCommand DocumentName=AWS-RunShellScript Targets=tag:Service={_parts(action.target)[-1]}, "
                "then ssm:ListCommands until it finishes")

    def diff_of(self, action: Action, pin: Pin) -> str:
        return "\n".join(f"+ run: {c}" for c in pin.call["commands"]) + "".join(
            f"\n! refused path: {p}" for p in pin.call.get("refused", []))


def _comment(key: str) -> str:
    return f"watchkeeper {key}"[:100]


# --- routing ------------------------------------------------------------------------------

class PlatformExecutors:
    """Routes an action to its platform's executor, through the capability table: a pair the
    table does not list is refused here too, never sent anywhere."""

    def __init__(self, by_platform: dict[str, Any], config: ConfigExecutor | None = None,
                 disk: DiskCleanupExecutor | None = None, codedeploy: CodeDeployExecutor | None = None):
        self._by_platform = by_platform
        self._config = config
        self._disk = disk
        self._codedeploy = codedeploy

    def _route(self, action: Action) -> tuple[Any, str]:
        platform = _parts(action.target)[0]
        ok, why = capability(action.type, platform, action.params.get("change"))
        if not ok:
            return None, why
        if action.type == "revert_config":
            return self._config, "no configuration executor"
        if action.type == "free_disk_space":
            return self._disk, "no disk clean-up executor"
        if action.type == "rollback_deployment" and platform == "ec2":
            return self._codedeploy, "no CodeDeploy executor"
        executor = self._by_platform.get(platform)
        return executor, f"no executor for platform {platform!r}"

    def execute(self, action: Action, *, dry_run: bool, pin: Pin | None = None,
                guard: Guard | None = None) -> ActionResult:
        action = self._with_change(action)
        executor, why = self._route(action)
        if executor is None:
            return _result(action, "failed", error=why)
        return executor.execute(action, dry_run=dry_run, pin=pin, guard=guard)

    def _with_change(self, action: Action) -> Action:
        """A rollback that names its culprit change only by id gets the change from the journal (the
        revision it replaced is the target)."""
        if action.type != "rollback_deployment" or action.params.get("change") or not action.params.get("change_id"):
            return action
        lookup = getattr(self._config, "_lookup", None)
        change = lookup(str(action.params["change_id"])) if lookup is not None else None
        if change is None:
            return action
        return action.model_copy(update={"params": {**action.params, "change": change.model_dump(mode="json")}})

    def observe(self, action: Action, pin: Pin) -> dict[str, Any]:
        executor, why = self._route(action)
        if executor is None:
            raise ExecutorError(why)
        return executor.observe(action, pin)

    def inverse(self, action: Action, pin: Pin) -> tuple[Pin | None, str]:
        executor, why = self._route(action)
        if executor is None:
            return None, why
        return executor.inverse(action, pin)

    def revert(self, result: ActionResult, *, dry_run: bool = False) -> ActionResult:
        action = Action(id=result.action_id, type=result.type, target=result.target)
        executor, why = self._route(action)
        if executor is None:
            return ActionResult(action_id=f"{result.action_id}-revert", type=result.type, target=result.target,
                                status="skipped", error=why)
        return executor.revert(result, dry_run=dry_run)
