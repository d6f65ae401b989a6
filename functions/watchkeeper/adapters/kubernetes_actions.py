"""The EKS executor: Watchkeeper's write actions on Kubernetes Deployments.

Every action reads the target, states the exact API call and a diff, and writes only
when ``dry_run`` is false (a dry run still asks the server with ``dryRun=All``, so
permissions, validation and conflicts surface before approval). Results are plain dicts
whose ``before`` is enough to revert. Only the official ``kubernetes`` client is used;
its errors become the project's own exceptions in ``_translate``.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import math
import tempfile
import time
from collections.abc import Callable
from typing import Any

import urllib3
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException
from kubernetes.utils import parse_quantity

REVISION = "deployment.kubernetes.io/revision"
HASH_LABEL = "pod-template-hash"
# Annotations `kubectl rollout undo` keeps from the Deployment instead of the ReplicaSet.
_UNDO_KEEP = {REVISION, "deployment.kubernetes.io/revision-history",
              "deployment.kubernetes.io/desired-replicas", "deployment.kubernetes.io/max-replicas",
              "kubectl.kubernetes.io/last-applied-configuration"}
_MI = 2**20


class ActionError(Exception):
    """A cluster action did not happen as asked."""

    def __init__(self, message: str, *, status: int | None = None, reason: str | None = None,
                 api_call: str | None = None):
        super().__init__(message)
        self.status, self.reason, self.api_call = status, reason, api_call


class ActionConflict(ActionError):
    """The object kept changing under us (409) after bounded re-read-and-retry."""


class ActionForbidden(ActionError):
    """The cluster refused our identity (401) or its permissions (403)."""


class ActionThrottled(ActionError):
    """The API server kept answering 429 after bounded retries."""


class ActionFailed(ActionError):
    """Any other API or transport failure."""


class ActionUnavailable(ActionFailed):
    """A read met a server error or a broken connection after bounded retries: worth retrying later."""


class ActionOutcomeUnknown(ActionFailed):
    """A write met a server error, a timeout or a broken connection: it may or may not have
    happened. Read the live state back before doing anything else."""


class TargetNotFound(ActionError):
    """The Deployment (or pod, HPA) does not exist (404)."""


class ActionRefused(ActionError):
    """The action makes no sense on this target (no previous revision, paused rollout...)."""


# --- EKS authentication ---------------------------------------------------------------

def _retry_policy() -> urllib3.Retry:
    """Retry connection failures only: 429s come back to us, so Retry-After stays bounded."""
    return urllib3.Retry(total=2, connect=2, read=0, redirect=0, status=0,
                         respect_retry_after_header=False, raise_on_status=False)


def _aws_client(session: Any, service: str, region: str) -> Any:
    if hasattr(session, "create_client"):  # botocore.session.Session
        return session.create_client(service, region_name=region)
    return session.client(service, region_name=region)  # boto3.session.Session


def eks_token(cluster_name: str, region: str, session: Any = None) -> str:
    """The bearer token ``aws eks get-token`` prints: ``k8s-aws-v1.`` + base64url of an STS
    GetCallerIdentity URL pre-signed (60 s) with the header ``x-k8s-aws-id: <cluster>``."""
    from botocore.signers import RequestSigner

    if session is None:
        import boto3

        session = boto3.session.Session(region_name=region)
    sts = _aws_client(session, "sts", region)
    signer = RequestSigner(sts.meta.service_model.service_id, region, "sts", "v4",
                           session.get_credentials(), sts.meta.events)
    url = signer.generate_presigned_url(
        {"method": "GET", "url": f"https://sts.{region}.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15",
         "body": {}, "headers": {"x-k8s-aws-id": cluster_name}, "context": {}},
        region_name=region, expires_in=60, operation_name="")
    return "k8s-aws-v1." + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")


def eks_configuration(cluster_name: str, region: str, session: Any = None, *,
                      eks_client: Any = None, token_ttl_seconds: float = 600) -> k8s.Configuration:
    """A client Configuration for an EKS cluster via IAM: DescribeCluster gives endpoint and
    CA; the STS token is re-minted before EKS's 15-minute limit."""
    if session is None:
        import boto3

        session = boto3.session.Session(region_name=region)
    eks = eks_client or _aws_client(session, "eks", region)
    cluster = eks.describe_cluster(name=cluster_name)["cluster"]
    with tempfile.NamedTemporaryFile("wb", prefix=f"eks-{cluster_name}-", suffix=".crt",
                                     delete=False) as ca:
        ca.write(base64.b64decode(cluster["certificateAuthority"]["data"]))
    configuration = k8s.Configuration(host=cluster["endpoint"])
    configuration.ssl_ca_cert = ca.name
    configuration.api_key = {"authorization": eks_token(cluster_name, region, session)}
    configuration.api_key_prefix = {"authorization": "Bearer"}
    configuration.retries = _retry_policy()
    minted = {"at": time.monotonic()}

    def refresh(cfg: k8s.Configuration) -> None:
        if time.monotonic() - minted["at"] > token_ttl_seconds:
            cfg.api_key["authorization"] = eks_token(cluster_name, region, session)
            minted["at"] = time.monotonic()

    configuration.refresh_api_key_hook = refresh
    return configuration


# --- quantities -----------------------------------------------------------------------

def memory_bytes(quantity: str | int) -> int:
    return int(parse_quantity(quantity))


def format_memory(n_bytes: float) -> str:
    """Round up to a whole MiB; say Gi when it is a whole number of GiB."""
    mebibytes = math.ceil(n_bytes / _MI)
    return f"{mebibytes // 1024}Gi" if mebibytes % 1024 == 0 else f"{mebibytes}Mi"


# --- the executor ---------------------------------------------------------------------

class KubernetesActions:
    """Write actions on one cluster, through an injected ``ApiClient`` or ``Configuration``."""

    def __init__(self, api_client: k8s.ApiClient | None = None, *,
                 configuration: k8s.Configuration | None = None,
                 sleep: Callable[[float], None] = time.sleep, max_attempts: int = 3,
                 max_retry_after: float = 2.0, settle_timeout: float = 60.0,
                 poll_interval: float = 0.5, request_timeout: tuple[float, float] = (3.05, 15.0)):
        if api_client is None:
            configuration = copy.deepcopy(configuration or k8s.Configuration.get_default_copy())
            if configuration.retries is None:
                configuration.retries = _retry_policy()
            api_client = k8s.ApiClient(configuration)
        self.api = api_client
        self.apps = k8s.AppsV1Api(api_client)
        self.core = k8s.CoreV1Api(api_client)
        self.autoscaling = k8s.AutoscalingV2Api(api_client)
        self._sleep, self.max_attempts, self.max_retry_after = sleep, max_attempts, max_retry_after
        self.settle_timeout, self.poll_interval = settle_timeout, poll_interval
        self.request_timeout = request_timeout

    @classmethod
    def for_eks(cls, cluster_name: str, region: str, session: Any = None, **kwargs: Any) -> KubernetesActions:
        return cls(configuration=eks_configuration(cluster_name, region, session), **kwargs)

    # the one place SDK errors are translated ---------------------------------------------
    def _call(self, api_call: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run one API call, retrying 429 (Retry-After honoured, capped), translating errors.

        A read that meets a 5xx or a broken connection is retried a bounded number of times,
        then is `ActionUnavailable`; a write that does is `ActionOutcomeUnknown` at once (it
        may have happened: never blindly sent again). A 429 means not done, so it is retried."""
        write = not api_call.startswith("GET ")
        for attempt in range(1, self.max_attempts + 1):
            try:
                return fn(*args, _request_timeout=self.request_timeout, **kwargs)
            except ApiException as error:
                if error.status == 429 and attempt < self.max_attempts:
                    self._sleep(self._retry_after(error, attempt))
                    continue
                if error.status is not None and error.status >= 500 or error.status == 0:
                    if write:
                        raise ActionOutcomeUnknown(f"{api_call}: {error.status} {error.reason}: outcome unknown",
                                                   status=error.status, api_call=api_call) from error
                    if attempt < self.max_attempts:
                        self._sleep(0.05 * attempt)
                        continue
                    raise ActionUnavailable(f"{api_call}: {error.status} {error.reason} (after {attempt} attempts)",
                                            status=error.status, api_call=api_call) from error
                raise _translate(error, api_call, attempt) from error
            except urllib3.exceptions.HTTPError as error:
                if write:
                    raise ActionOutcomeUnknown(f"{api_call}: {type(error).__name__}: outcome unknown",
                                               api_call=api_call) from error
                if attempt < self.max_attempts:
                    self._sleep(0.05 * attempt)
                    continue
                raise ActionUnavailable(f"{api_call}: {error} (after {attempt} attempts)", api_call=api_call) from error
        raise AssertionError("unreachable")

    def _retry_after(self, error: ApiException, attempt: int) -> float:
        header = (error.headers or {}).get("Retry-After")
        try:
            seconds = float(header) if header is not None else 0.2 * 2 ** (attempt - 1)
        except ValueError:
            seconds = 1.0
        return max(0.0, min(seconds, self.max_retry_after))

    def _until_no_conflict(self, write: Callable[[], Any]) -> Any:
        """Re-read and retry a read-modify-write that met a 409, a bounded number of times."""
        for attempt in range(1, self.max_attempts + 1):
            try:
                return write()
            except ActionConflict as conflict:
                if attempt == self.max_attempts:
                    raise ActionConflict(f"{conflict} (gave up after {attempt} attempts)",
                                         status=409, reason="Conflict", api_call=conflict.api_call) from conflict
                self._sleep(0.05 * attempt)
        raise AssertionError("unreachable")

    # reads -------------------------------------------------------------------------------
    def _plain(self, model: Any) -> Any:
        return self.api.sanitize_for_serialization(model)

    def _read_deployment(self, namespace: str, name: str) -> dict:
        return self._plain(self._call(f"GET {_deployment_path(namespace, name)}",
                                      self.apps.read_namespaced_deployment, name, namespace))

    def _replicasets(self, deployment: dict) -> list[dict]:
        ns = deployment["metadata"]["namespace"]
        selector = _selector(deployment)
        found = self._call(f"GET /apis/apps/v1/namespaces/{ns}/replicasets?labelSelector={selector}",
                           self.apps.list_namespaced_replica_set, ns, label_selector=selector)
        return [rs for rs in self._plain(found)["items"] if _owned_by(rs, deployment)]

    def _pods(self, deployment: dict, replicasets: list[dict]) -> list[dict]:
        ns, selector = deployment["metadata"]["namespace"], _selector(deployment)
        found = self._call(f"GET /api/v1/namespaces/{ns}/pods?labelSelector={selector}",
                           self.core.list_namespaced_pod, ns, label_selector=selector)
        return [p for p in self._plain(found)["items"] if any(_owned_by(p, rs) for rs in replicasets)]

    def _hpa_for(self, namespace: str, name: str) -> dict | None:
        found = self._call(f"GET /apis/autoscaling/v2/namespaces/{namespace}/horizontalpodautoscalers",
                           self.autoscaling.list_namespaced_horizontal_pod_autoscaler, namespace)
        for hpa in self._plain(found)["items"]:
            ref = hpa["spec"]["scaleTargetRef"]
            if ref.get("kind") == "Deployment" and ref.get("name") == name:
                return hpa
        return None

    def _state(self, namespace: str, name: str) -> dict:
        deployment = self._read_deployment(namespace, name)
        replicasets = self._replicasets(deployment)
        return _summary(deployment, replicasets, self._pods(deployment, replicasets),
                        self._hpa_for(namespace, name))

    def describe(self, namespace: str, name: str, dry_run: bool = False) -> dict:
        """The Deployment as a responder sees it; nothing is written."""
        state = self._state(namespace, name)
        return _result("describe", namespace, name, f"GET {_deployment_path(namespace, name)}",
                       [], state, state, executed=False, dry_run=dry_run)

    def snapshot(self, namespace: str, name: str) -> dict:
        """The live state the pinned writes compare against (4 reads; nothing is written)."""
        return self._state(namespace, name)

    def apply_scale(self, namespace: str, name: str, replicas: int, hpa_min: int | None,
                    dry_run: bool = False) -> dict:
        """Set exactly these replicas (and the HPA's minReplicas, when given and there is one)."""
        before = self._state(namespace, name)
        return self._apply_scale(namespace, name, replicas, hpa_min, before, dry_run, "scale", [])

    def set_memory(self, namespace: str, name: str, container: str, limit: str | None, request: str | None,
                   dry_run: bool = False) -> dict:
        """Set exactly this memory limit (and request, when given) of one container."""
        before = self._state(namespace, name)
        return self._patch_memory(namespace, name, container, limit, request, before, dry_run, "set_memory_limit")

    def delete_pods(self, namespace: str, name: str, pods: list[tuple[str, str]], *, one_at_a_time: bool = True,
                    guard: Callable[[], str | None] | None = None, dry_run: bool = False) -> dict:
        """Delete exactly these pods (name, uid), one at a time; `guard` is asked before each
        delete and a reason it returns stops the restart there. A pod already gone is skipped."""
        before = self._state(namespace, name)
        present = {p["name"]: p["uid"] for p in before["pods"]}
        todo = [(n, uid) for n, uid in pods if present.get(n) == uid]
        requests: list[dict] = []
        deleted: list[str] = []
        notes: list[str] = [f"pod {n} was already gone" for n, uid in pods if present.get(n) != uid]
        stopped_by = None
        known = set(present)
        for index, (pod, uid) in enumerate(todo):
            if guard is not None:
                stopped_by = guard()
                if stopped_by:
                    notes.append(f"stopped before pod {pod}: {stopped_by}")
                    break
            path = f"/api/v1/namespaces/{namespace}/pods/{pod}"
            request = _request("DELETE", path, "application/json", {"preconditions": {"uid": uid}}, dry_run)
            try:
                self._call(request["call"], self.core.delete_namespaced_pod, pod, namespace,
                           body=k8s.V1DeleteOptions(preconditions=k8s.V1Preconditions(uid=uid)), **_dry(dry_run))
            except (TargetNotFound, ActionConflict):     # replaced meanwhile: nothing of ours to delete
                notes.append(f"pod {pod} was gone before its delete")
                continue
            requests.append(request)
            deleted.append(pod)
            if one_at_a_time and not dry_run and index < len(todo) - 1:
                if not self._wait_for_replacement(namespace, name, known):
                    notes.append(f"stopped after {len(deleted)} pod(s): no Ready replacement within "
                                 f"{self.settle_timeout:g}s")
                    stopped_by = "no Ready replacement"
                    break
                known = {p["name"] for p in self._state(namespace, name)["pods"]}
        after = before if dry_run else self._state(namespace, name)
        result = _result("restart_pods", namespace, name, requests, requests, before, after,
                         executed=not dry_run, dry_run=dry_run, notes=notes, pods_deleted=deleted,
                         stopped_by=stopped_by)
        result["diff"] = "\n".join(f"pod {n}: deleted" for n in deleted)
        return result

    # rollout undo ------------------------------------------------------------------------
    def rollout_undo(self, namespace: str, name: str, to_revision: str | int | None = None,
                     dry_run: bool = False, expect_template: str | None = None) -> dict:
        """Put back the pod template of the previous (or given) revision's ReplicaSet,
        exactly as ``kubectl rollout undo`` does (a JSON patch of template and annotations).
        With ``expect_template`` the revision's template must still hash to it (what was approved)."""
        before = self._state(namespace, name)
        path = _deployment_path(namespace, name)
        notes: list[str] = []

        def write() -> tuple[dict, list[dict], dict]:
            deployment = self._read_deployment(namespace, name)
            if deployment["spec"].get("paused"):
                raise ActionRefused(f"deployment {namespace}/{name} is paused: resume it before rolling back")
            replicasets = self._replicasets(deployment)
            target = _revision_to_restore(deployment, replicasets, to_revision)
            if expect_template is not None and template_hash(target["spec"]["template"]) != expect_template:
                raise ActionRefused(f"revision {to_revision} of {namespace}/{name} no longer has the pod template "
                                    "that was approved")
            template = copy.deepcopy(target["spec"]["template"])
            template["metadata"].get("labels", {}).pop(HASH_LABEL, None)
            annotations = {k: v for k, v in (deployment["metadata"].get("annotations") or {}).items()
                           if k in _UNDO_KEEP}
            annotations.update({k: v for k, v in (target["metadata"].get("annotations") or {}).items()
                                if k not in _UNDO_KEEP})
            body = [{"op": "replace", "path": "/metadata/resourceVersion",
                     "value": deployment["metadata"]["resourceVersion"]},
                    {"op": "replace", "path": "/spec/template", "value": template},
                    {"op": "replace", "path": "/metadata/annotations", "value": annotations}]
            request = _request("PATCH", path, "application/json-patch+json", body, dry_run)
            response = self._plain(self._call(request["call"], self.apps.patch_namespaced_deployment,
                                              name, namespace, body, **_dry(dry_run)))
            return response, [request], target

        response, requests, target = self._until_no_conflict(write)
        restored = target["metadata"]["annotations"][REVISION]
        notes.append(f"restoring the pod template of revision {restored} ({target['metadata']['name']})")
        if dry_run:
            after = dict(before, revision=str(_max_revision(before) + 1),
                         images=_images(response["spec"]["template"]),
                         memory_limits=_limits(response["spec"]["template"], "memory"))
            after.update(_main(after))
        else:
            after = self._state(namespace, name)
        return _result("rollout_undo", namespace, name, requests, requests, before, after,
                       executed=not dry_run, dry_run=dry_run, notes=notes,
                       restored_revision=restored)

    # scale -------------------------------------------------------------------------------
    def scale(self, namespace: str, name: str, replicas: int, dry_run: bool = False) -> dict:
        """Set the replica count; with an HPA, move its minReplicas too and never pass its max."""
        if not isinstance(replicas, int) or replicas < 0:
            raise ActionRefused(f"replicas must be a non-negative integer, not {replicas!r}")
        before = self._state(namespace, name)
        notes: list[str] = []
        target, hpa_min = replicas, None
        if before["hpa"]:
            high = before["hpa"]["max_replicas"]
            if target > high:
                notes.append(f"capped at {high}: HPA {before['hpa']['name']} allows at most {high} replicas")
                target = high
            if target < 1:
                raise ActionRefused(f"HPA {before['hpa']['name']} keeps at least one replica; "
                                    "delete or edit the HPA to scale to zero")
            hpa_min = target
            notes.append(f"HPA {before['hpa']['name']} minReplicas {before['hpa']['min_replicas']} -> {hpa_min}")
        return self._apply_scale(namespace, name, target, hpa_min, before, dry_run, "scale", notes)

    def _apply_scale(self, namespace: str, name: str, replicas: int, hpa_min: int | None, before: dict,
                     dry_run: bool, action: str, notes: list[str]) -> dict:
        requests: list[dict] = []
        if hpa_min is not None and before["hpa"]:
            hpa_name = before["hpa"]["name"]
            hpa_path = f"/apis/autoscaling/v2/namespaces/{namespace}/horizontalpodautoscalers/{hpa_name}"

            def write_hpa() -> None:
                hpa = self._plain(self._call(f"GET {hpa_path}",
                                             self.autoscaling.read_namespaced_horizontal_pod_autoscaler,
                                             hpa_name, namespace))
                body = {"metadata": {"resourceVersion": hpa["metadata"]["resourceVersion"]},
                        "spec": {"minReplicas": hpa_min}}
                request = _request("PATCH", hpa_path, "application/strategic-merge-patch+json", body, dry_run)
                self._call(request["call"], self.autoscaling.patch_namespaced_horizontal_pod_autoscaler,
                           hpa_name, namespace, body, **_dry(dry_run))
                requests.append(request)

            self._until_no_conflict(write_hpa)
        scale_path = _deployment_path(namespace, name) + "/scale"

        def write_scale() -> None:
            current = self._plain(self._call(f"GET {scale_path}", self.apps.read_namespaced_deployment_scale,
                                             name, namespace))
            body = {"metadata": {"resourceVersion": current["metadata"]["resourceVersion"]},
                    "spec": {"replicas": replicas}}
            request = _request("PATCH", scale_path, "application/strategic-merge-patch+json", body, dry_run)
            self._call(request["call"], self.apps.patch_namespaced_deployment_scale,
                       name, namespace, body, **_dry(dry_run))
            requests.append(request)

        self._until_no_conflict(write_scale)
        if dry_run:
            after = dict(before, replicas=replicas)
            if hpa_min is not None and before["hpa"]:
                after["hpa"] = dict(before["hpa"], min_replicas=hpa_min)
        else:
            after = self._state(namespace, name)
        return _result(action, namespace, name, requests, requests, before, after,
                       executed=not dry_run, dry_run=dry_run, notes=notes)

    # restart pods ------------------------------------------------------------------------
    def restart_pods(self, namespace: str, name: str, max_pods: int | None = None,
                     one_at_a_time: bool = True, dry_run: bool = False) -> dict:
        """Delete pods (OOMKilled and most-restarted first) and let the ReplicaSet replace
        them; one at a time waits for each replacement to be Ready before the next."""
        before = self._state(namespace, name)
        order = sorted(before["pods"], key=lambda p: (p["last_termination_reason"] != "OOMKilled",
                                                      -p["restarts"], p["ready"], p["name"]))
        chosen = order if max_pods is None else order[:max_pods]
        requests: list[dict] = []
        deleted: list[str] = []
        notes: list[str] = []
        known = {p["name"] for p in before["pods"]}
        for index, pod in enumerate(chosen):
            path = f"/api/v1/namespaces/{namespace}/pods/{pod['name']}"
            options = {"preconditions": {"uid": pod["uid"]}}
            request = _request("DELETE", path, "application/json", options, dry_run)
            self._call(request["call"], self.core.delete_namespaced_pod, pod["name"], namespace,
                       body=k8s.V1DeleteOptions(preconditions=k8s.V1Preconditions(uid=pod["uid"])),
                       **_dry(dry_run))
            requests.append(request)
            deleted.append(pod["name"])
            if one_at_a_time and not dry_run and index < len(chosen) - 1:
                if not self._wait_for_replacement(namespace, name, known):
                    notes.append(f"stopped after {len(deleted)} pod(s): no Ready replacement within "
                                 f"{self.settle_timeout:g}s")
                    break
                known = {p["name"] for p in self._state(namespace, name)["pods"]}
        after = before if dry_run else self._state(namespace, name)
        result = _result("restart_pods", namespace, name, requests, requests, before, after,
                         executed=not dry_run, dry_run=dry_run, notes=notes, pods_deleted=deleted,
                         pods_created=sorted({p["name"] for p in after["pods"]} - {p["name"] for p in before["pods"]}))
        why = {p["name"]: f"restarts {p['restarts']}, last terminated {p['last_termination_reason']}, "
                          f"{'ready' if p['ready'] else 'not ready'}" for p in before["pods"]}
        result["diff"] = "\n".join([f"pod {n}: deleted ({why[n]})" for n in deleted]
                                   + [f"pod {n}: created" for n in result["pods_created"]])
        return result

    def _wait_for_replacement(self, namespace: str, name: str, known: set[str]) -> bool:
        deadline = time.monotonic() + self.settle_timeout
        while True:
            state = self._state(namespace, name)
            if any(p["name"] not in known and p["ready"] for p in state["pods"]):
                return True
            if time.monotonic() >= deadline:
                return False
            self._sleep(self.poll_interval)

    # memory limit ------------------------------------------------------------------------
    def set_memory_limit(self, namespace: str, name: str, factor: float = 1.5, value: str | None = None,
                         container: str | None = None, dry_run: bool = False) -> dict:
        """Raise (or set) a container's memory limit; the request follows only if it would
        exceed the new limit. The change rolls out as a new revision."""
        before = self._state(namespace, name)
        container = container or before["container"]
        current = before["memory_limits"].get(container)
        if value is None:
            if current is None:
                raise ActionRefused(f"container {container} has no memory limit to multiply; pass value=")
            if factor <= 0:
                raise ActionRefused(f"factor must be positive, not {factor!r}")
            value = format_memory(memory_bytes(current) * factor)
        else:
            value = str(value)
            memory_bytes(value)
        return self._patch_memory(namespace, name, container, value, None, before, dry_run, "set_memory_limit")

    def _patch_memory(self, namespace: str, name: str, container: str, limit: str | None,
                      request_value: str | None, before: dict, dry_run: bool, action: str) -> dict:
        path = _deployment_path(namespace, name)

        def write() -> tuple[dict, dict]:
            deployment = self._read_deployment(namespace, name)
            spec = next((c for c in deployment["spec"]["template"]["spec"]["containers"]
                         if c["name"] == container), None)
            if spec is None:
                raise TargetNotFound(f"deployment {namespace}/{name} has no container {container!r}",
                                     status=404, api_call=f"GET {path}")
            resources: dict[str, Any] = {"limits": {"memory": limit}}
            old_request = ((spec.get("resources") or {}).get("requests") or {}).get("memory")
            new_request = request_value
            if new_request is None and old_request and limit and memory_bytes(old_request) > memory_bytes(limit):
                new_request = limit
            if new_request is not None:
                resources["requests"] = {"memory": new_request}
            body = {"metadata": {"resourceVersion": deployment["metadata"]["resourceVersion"]},
                    "spec": {"template": {"spec": {"containers": [{"name": container, "resources": resources}]}}}}
            req = _request("PATCH", path, "application/strategic-merge-patch+json", body, dry_run)
            response = self._plain(self._call(req["call"], self.apps.patch_namespaced_deployment,
                                              name, namespace, body, **_dry(dry_run)))
            return response, req

        response, req = self._until_no_conflict(write)
        if dry_run:
            template = response["spec"]["template"]
            after = dict(before, memory_limits=_limits(template, "memory"),
                         memory_requests=_requests(template, "memory"),
                         revision=str(_max_revision(before) + 1))
            after.update(_main(after))
        else:
            after = self._state(namespace, name)
        return _result(action, namespace, name, [req], [req], before, after,
                       executed=not dry_run, dry_run=dry_run, container=container)

    # revert ------------------------------------------------------------------------------
    def revert(self, record: dict, dry_run: bool = False) -> dict:
        """Undo an executed action from its record's ``before``."""
        action, before = record.get("action"), record["before"]
        namespace, name = record["target"]["namespace"], record["target"]["name"]
        if not record.get("executed"):
            return _result("revert", namespace, name, [], [], before, before, executed=False,
                           dry_run=dry_run, reverts=action, notes=["nothing to revert: the action was not executed"])
        if action == "scale":
            current = self._state(namespace, name)
            hpa_min = before["hpa"]["min_replicas"] if before.get("hpa") and current["hpa"] else None
            result = self._apply_scale(namespace, name, before["replicas"], hpa_min, current, dry_run, "revert", [])
        elif action == "set_memory_limit":
            container = record["container"]
            current = self._state(namespace, name)
            result = self._patch_memory(namespace, name, container, before["memory_limits"].get(container),
                                        before["memory_requests"].get(container), current, dry_run, "revert")
        elif action == "rollout_undo":
            result = self.rollout_undo(namespace, name, to_revision=before["revision"], dry_run=dry_run)
            result["action"] = "revert"
        elif action in ("restart_pods", "describe", "revert"):
            raise ActionRefused(f"{action} cannot be reverted" + (
                ": deleted pods were replaced by their ReplicaSet" if action == "restart_pods" else ""))
        else:
            raise ActionRefused(f"unknown action {action!r}")
        result["reverts"] = action
        return result


# --- helpers ------------------------------------------------------------------------------

def _translate(error: ApiException, api_call: str, attempts: int) -> ActionError:
    try:
        status_body = json.loads(error.body or "{}")
    except (TypeError, ValueError):
        status_body = {}
    reason = status_body.get("reason") or error.reason
    message = f"{api_call}: {error.status} {reason}: {status_body.get('message') or error.reason}"
    kwargs = {"status": error.status, "reason": reason, "api_call": api_call}
    if error.status in (401, 403):
        return ActionForbidden(message, **kwargs)
    if error.status == 404:
        return TargetNotFound(message, **kwargs)
    if error.status == 409:
        return ActionConflict(message, **kwargs)
    if error.status == 429:
        return ActionThrottled(f"{message} (after {attempts} attempts)", **kwargs)
    return ActionFailed(message, **kwargs)


def _deployment_path(namespace: str, name: str) -> str:
    return f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}"


def _dry(dry_run: bool) -> dict:
    return {"dry_run": "All"} if dry_run else {}


def _request(method: str, path: str, content_type: str, body: Any, dry_run: bool) -> dict:
    full = path + ("?dryRun=All" if dry_run else "")
    return {"call": f"{method} {full}", "method": method, "path": full,
            "content_type": content_type, "body": copy.deepcopy(body)}


def _selector(deployment: dict) -> str:
    labels = deployment["spec"]["selector"].get("matchLabels") or {}
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def _owned_by(obj: dict, owner: dict) -> bool:
    return any(ref.get("uid") == owner["metadata"]["uid"] for ref in obj["metadata"].get("ownerReferences") or [])


def _revision(obj: dict) -> int:
    value = (obj["metadata"].get("annotations") or {}).get(REVISION, "0")
    return int(value) if str(value).isdigit() else 0


def _revision_to_restore(deployment: dict, replicasets: list[dict], to_revision: Any) -> dict:
    ns, name = deployment["metadata"]["namespace"], deployment["metadata"]["name"]
    if to_revision not in (None, 0, "0", ""):
        match = [rs for rs in replicasets if _revision(rs) == int(to_revision)]
        if not match:
            raise ActionRefused(f"unable to find specified revision {to_revision} in history of "
                                f"deployment {ns}/{name}")
        target = match[0]
    else:
        ordered = sorted(replicasets, key=_revision)
        if len(ordered) < 2:
            raise ActionRefused(f"no previous revision of deployment {ns}/{name} to roll back to "
                                f"(current revision {_revision(deployment)})")
        target = ordered[-2]
    if _same_template(target["spec"]["template"], deployment["spec"]["template"]):
        raise ActionRefused(f"skipped rollback of {ns}/{name}: the current template already matches "
                            f"revision {_revision(target)}")
    return target


def template_hash(template: dict) -> str:
    """A hash of a pod template as `kubectl rollout undo` compares them (the ReplicaSet's
    pod-template-hash label and empty annotations left out)."""
    t = copy.deepcopy(template)
    t.setdefault("metadata", {}).setdefault("labels", {}).pop(HASH_LABEL, None)
    if not t["metadata"].get("annotations"):
        t["metadata"].pop("annotations", None)
    if not t["metadata"].get("labels"):
        t["metadata"].pop("labels", None)
    body = json.dumps(t, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def _same_template(a: dict, b: dict) -> bool:
    a, b = copy.deepcopy(a), copy.deepcopy(b)
    for t in (a, b):
        t.setdefault("metadata", {}).setdefault("labels", {}).pop(HASH_LABEL, None)
        if not t["metadata"].get("annotations"):
            t["metadata"].pop("annotations", None)
    return a == b


def _containers(template: dict) -> list[dict]:
    return template.get("spec", {}).get("containers") or []


def _images(template: dict) -> dict[str, str]:
    return {c["name"]: c.get("image") for c in _containers(template)}


def _limits(template: dict, resource: str) -> dict[str, str | None]:
    return {c["name"]: ((c.get("resources") or {}).get("limits") or {}).get(resource) for c in _containers(template)}


def _requests(template: dict, resource: str) -> dict[str, str | None]:
    return {c["name"]: ((c.get("resources") or {}).get("requests") or {}).get(resource) for c in _containers(template)}


def _main(state: dict) -> dict:
    """The headline fields for the main container (named like the Deployment, else the first)."""
    container = state["container"]
    return {"image": state["images"].get(container), "memory_limit": state["memory_limits"].get(container),
            "cpu_limit": state["cpu_limits"].get(container)}


def _max_revision(state: dict) -> int:
    return max([int(r["revision"]) for r in state["revisions"] if str(r["revision"]).isdigit()] or [0])


def _summary(deployment: dict, replicasets: list[dict], pods: list[dict], hpa: dict | None) -> dict:
    meta, spec, status = deployment["metadata"], deployment["spec"], deployment.get("status") or {}
    template = spec["template"]
    names = [c["name"] for c in _containers(template)]
    container = meta["name"] if meta["name"] in names else (names[0] if names else None)
    rs_revision = {rs["metadata"]["name"]: str(_revision(rs)) for rs in replicasets}
    state = {
        "template_hash": template_hash(template),
        "namespace": meta["namespace"], "name": meta["name"], "uid": meta.get("uid"),
        "resource_version": meta.get("resourceVersion"), "generation": meta.get("generation"),
        "revision": (meta.get("annotations") or {}).get(REVISION), "paused": bool(spec.get("paused")),
        "replicas": spec.get("replicas"), "ready": status.get("readyReplicas") or 0,
        "updated": status.get("updatedReplicas") or 0, "available": status.get("availableReplicas") or 0,
        "container": container, "images": _images(template),
        "memory_limits": _limits(template, "memory"), "memory_requests": _requests(template, "memory"),
        "cpu_limits": _limits(template, "cpu"),
        "revisions": sorted(({"revision": str(_revision(rs)), "replicaset": rs["metadata"]["name"],
                              "images": _images(rs["spec"]["template"]),
                              "template_hash": template_hash(rs["spec"]["template"]),
                              "replicas": rs["spec"].get("replicas", 0)} for rs in replicasets),
                            key=lambda r: int(r["revision"])),
        "hpa": None if hpa is None else {"name": hpa["metadata"]["name"],
                                         "min_replicas": hpa["spec"].get("minReplicas", 1),
                                         "max_replicas": hpa["spec"]["maxReplicas"]},
        "pods": [_pod_summary(p, rs_revision) for p in sorted(pods, key=lambda p: p["metadata"]["name"])],
    }
    state.update(_main(state))
    return state


def _pod_summary(pod: dict, rs_revision: dict[str, str]) -> dict:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    conditions = (pod.get("status") or {}).get("conditions") or []
    reasons = [((s.get("lastState") or {}).get("terminated") or {}).get("reason") for s in statuses]
    owner = next((r["name"] for r in pod["metadata"].get("ownerReferences") or [] if r["kind"] == "ReplicaSet"), None)
    return {"name": pod["metadata"]["name"], "uid": pod["metadata"].get("uid"),
            "phase": (pod.get("status") or {}).get("phase"),
            "ready": any(c["type"] == "Ready" and c["status"] == "True" for c in conditions),
            "restarts": sum(s.get("restartCount", 0) for s in statuses),
            "last_termination_reason": next((r for r in reasons if r), None),
            "revision": rs_revision.get(owner), "node": pod.get("spec", {}).get("nodeName")}


_DIFF_FIELDS = ("replicas", "revision", "image", "memory_limit", "images", "memory_limits",
                "memory_requests", "cpu_limits", "hpa")


def _diff(before: dict, after: dict) -> str:
    """``key: old -> new`` for what a responder would notice, sub-keys flattened."""
    lines = []
    for key in _DIFF_FIELDS:
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        if isinstance(old, dict) or isinstance(new, dict):
            old, new = old or {}, new or {}
            if key in ("images", "memory_limits") and len(old) <= 1 and len(new) <= 1:
                continue  # already shown as image / memory_limit
            for sub in sorted(set(old) | set(new)):
                if old.get(sub) != new.get(sub):
                    lines.append(f"{key}.{sub}: {old.get(sub)} -> {new.get(sub)}")
        else:
            lines.append(f"{key}: {old} -> {new}")
    return "\n".join(lines)


def _result(action: str, namespace: str, name: str, api_call: str | list[dict], requests: list[dict],
            before: dict, after: dict, *, executed: bool, dry_run: bool, notes: list[str] | None = None,
            **extra: Any) -> dict:
    call = api_call if isinstance(api_call, str) else "; ".join(r["call"] for r in api_call)
    return {"action": action, "target": {"kind": "Deployment", "namespace": namespace, "name": name},
            "api_call": call, "requests": requests, "before": before, "after": after,
            "diff": _diff(before, after), "executed": executed, "dry_run": dry_run,
            "notes": notes or [], **extra}
