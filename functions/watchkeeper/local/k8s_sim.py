"""A local Kubernetes API server for the few endpoints Watchkeeper acts through.

No kube-apiserver can run here, so the official ``kubernetes`` client talks over real
HTTP to this simulator instead: apps/v1 Deployments (and their ``scale`` subresource),
ReplicaSets, core/v1 Pods and autoscaling/v2 HorizontalPodAutoscalers. It answers with
realistic objects and ``Status`` errors, plays the deployment, ReplicaSet and HPA
controllers instantly (a template change rolls out a new ReplicaSet, a deleted pod is
replaced), honours ``dryRun=All`` and optimistic concurrency on ``resourceVersion``,
and can inject faults. Standard library only.
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
import re
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
HASH_LABEL = "pod-template-hash"
_SAFE = "bcdfghjklmnpqrstvwxz2456789"  # Kubernetes' alphabet for generated names
_PHASES = {"Pending", "Running", "Succeeded", "Failed", "Unknown"}
_EXIT_CODES = {"OOMKilled": 137, "Error": 1, "Completed": 0, "ContainerCannotRun": 128}
# Strategic-merge keys of the lists Watchkeeper patches (from the Kubernetes API types).
_MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "env": "name", "volumes": "name",
    "volumeMounts": "mountPath", "ports": "containerPort", "conditions": "type",
    "imagePullSecrets": "name",
}
_GROUP = {"deployments": "apps", "replicasets": "apps", "pods": "",
          "horizontalpodautoscalers": "autoscaling"}
_LIST_KIND = {"deployments": ("DeploymentList", "apps/v1"),
              "replicasets": ("ReplicaSetList", "apps/v1"),
              "pods": ("PodList", "v1"),
              "horizontalpodautoscalers": ("HorizontalPodAutoscalerList", "autoscaling/v2")}
_NS = r"/namespaces/(?P<ns>[a-z0-9-]+)"
_NAME = r"/(?P<name>[a-z0-9.-]+)"
_ROUTES: list[tuple[re.Pattern[str], str, str | None]] = [
    (re.compile(rf"^/apis/apps/v1{_NS}/(?P<kind>deployments|replicasets)$"), "collection", None),
    (re.compile(rf"^/apis/apps/v1{_NS}/deployments{_NAME}/scale$"), "object", "scale"),
    (re.compile(rf"^/apis/apps/v1{_NS}/(?P<kind>deployments|replicasets){_NAME}$"), "object", None),
    (re.compile(rf"^/api/v1{_NS}/(?P<kind>pods)$"), "collection", None),
    (re.compile(rf"^/api/v1{_NS}/(?P<kind>pods){_NAME}$"), "object", None),
    (re.compile(rf"^/apis/autoscaling/v2{_NS}/(?P<kind>horizontalpodautoscalers)$"), "collection", None),
    (re.compile(rf"^/apis/autoscaling/v2{_NS}/(?P<kind>horizontalpodautoscalers){_NAME}$"), "object", None),
]
_ALLOWED = {  # (route shape, kind or subresource) -> methods
    ("collection", "deployments"): {"GET"}, ("collection", "replicasets"): {"GET"},
    ("collection", "pods"): {"GET"}, ("collection", "horizontalpodautoscalers"): {"GET"},
    ("object", "deployments"): {"GET", "PATCH", "PUT"}, ("object", "scale"): {"GET", "PATCH", "PUT"},
    ("object", "replicasets"): {"GET"}, ("object", "pods"): {"GET", "DELETE"},
    ("object", "horizontalpodautoscalers"): {"GET", "PATCH"},
}

WriteCallback = Callable[[str, str, str, str, Any], None]


class ApiError(Exception):
    """An API failure, rendered to the client as a ``Status`` object."""

    def __init__(self, code: int, reason: str, message: str, details: dict | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message
        self.details, self.headers = details, headers or {}

    def status(self) -> dict:
        body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": self.message, "reason": self.reason, "code": self.code}
        if self.details:
            body["details"] = self.details
        return body


def _not_found(kind: str, name: str) -> ApiError:
    group = _GROUP[kind]
    resource = f"{kind}.{group}" if group else kind
    return ApiError(404, "NotFound", f'{resource} "{name}" not found',
                    {"name": name, "group": group, "kind": kind})


def _conflict(kind: str, name: str) -> ApiError:
    group = _GROUP[kind]
    resource = f"{kind}.{group}" if group else kind
    return ApiError(409, "Conflict", f'Operation cannot be fulfilled on {resource} "{name}": the '
                    "object has been modified; please apply your changes to the latest version "
                    "and try again", {"name": name, "group": group, "kind": kind})


def _invalid(kind: str, name: str, message: str) -> ApiError:
    return ApiError(422, "Invalid", f'{kind} "{name}" is invalid: {message}',
                    {"name": name, "group": _GROUP.get(kind, ""), "kind": kind})


# --- patches --------------------------------------------------------------------------

def json_merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, ``null`` deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = json_merge_patch(result.get(key), value)
    return result


def strategic_merge_patch(target: Any, patch: Any, field: str | None = None) -> Any:
    """Kubernetes strategic merge: like JSON merge, but lists with a merge key (containers
    by name, ...) merge element-wise, and ``$patch: replace|delete`` directives apply."""
    if isinstance(patch, dict):
        directive = patch.get("$patch")
        if directive == "delete":
            return None
        body = {k: v for k, v in patch.items() if k != "$patch"}
        if directive == "replace" or not isinstance(target, dict):
            return copy.deepcopy(body)
        result = copy.deepcopy(target)
        for key, value in body.items():
            if value is None:
                result.pop(key, None)
            else:
                merged = strategic_merge_patch(result.get(key), value, key)
                if merged is None:
                    result.pop(key, None)
                else:
                    result[key] = merged
        return result
    if isinstance(patch, list) and field in _MERGE_KEYS and isinstance(target, list):
        key = _MERGE_KEYS[field]
        result = copy.deepcopy(target)
        for item in patch:
            if not isinstance(item, dict) or key not in item:
                raise ValueError(f"{field}: every element needs its merge key {key!r}")
            index = next((i for i, old in enumerate(result) if old.get(key) == item[key]), None)
            if index is None:
                if item.get("$patch") != "delete":
                    result.append({k: v for k, v in item.items() if k != "$patch"})
            else:
                merged = strategic_merge_patch(result[index], item, None)
                if merged is None:
                    del result[index]
                else:
                    result[index] = merged
        return result
    return copy.deepcopy(patch)


def json_patch(target: Any, operations: list) -> Any:
    """RFC 6902 (add, remove, replace, test, copy, move), as ``kubectl rollout undo`` sends."""
    doc = copy.deepcopy(target)

    def walk(pointer: str) -> tuple[Any, str | int]:
        if not pointer.startswith("/"):
            raise ValueError(f"invalid JSON pointer {pointer!r}")
        parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer[1:].split("/")]
        node = doc
        for part in parts[:-1]:
            node = node[int(part)] if isinstance(node, list) else node[part]
        last = parts[-1]
        return node, (len(node) if last == "-" else int(last)) if isinstance(node, list) else last

    def get(pointer: str) -> Any:
        parent, key = walk(pointer)
        return parent[key]

    for op in operations:
        kind, path = op.get("op"), op.get("path", "")
        if kind == "test":
            if get(path) != op.get("value"):
                raise ValueError(f"test operation failed at {path}")
            continue
        value = copy.deepcopy(op.get("value"))
        if kind in ("copy", "move"):
            value = copy.deepcopy(get(op["from"]))
            if kind == "move":
                parent, key = walk(op["from"])
                del parent[key]
            kind = "add"
        parent, key = walk(path)
        if kind == "add":
            if isinstance(parent, list):
                parent.insert(key, value)
            else:
                parent[key] = value
        elif kind == "replace":
            parent[key]  # noqa: B018 - replace requires the target to exist
            parent[key] = value
        elif kind == "remove":
            del parent[key]
        else:
            raise ValueError(f"unknown JSON patch op {kind!r}")
    return doc


def _apply_patch(content_type: str, target: dict, patch: Any) -> dict:
    media = content_type.split(";")[0].strip().lower()
    if media == "application/strategic-merge-patch+json":
        return strategic_merge_patch(target, patch)
    if media == "application/merge-patch+json":
        return json_merge_patch(target, patch)
    if media == "application/json-patch+json":
        if not isinstance(patch, list):
            raise ValueError("a JSON patch must be a list of operations")
        return json_patch(target, patch)
    raise ApiError(415, "UnsupportedMediaType",
                   f"the body of the request was in an unknown format - accepted media types "
                   f"include: application/json-patch+json, application/merge-patch+json, "
                   f"application/strategic-merge-patch+json (got {media!r})")


# --- label selectors and quantities ---------------------------------------------------

def _selector_matches(selector: str, labels: dict[str, str]) -> bool:
    """Equality (``a=b``, ``a!=b``), set (``a in (x,y)``, ``a notin (x)``) and existence
    (``a``, ``!a``) requirements, comma-separated."""
    for requirement in re.findall(r"[^,(]+(?:\([^)]*\))?", selector or ""):
        req = requirement.strip()
        if not req:
            continue
        if m := re.fullmatch(r"([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)", req):
            key, op, values = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",")}
            if (labels.get(key) in values) != (op == "in") or (op == "in" and key not in labels):
                return False
        elif m := re.fullmatch(r"([\w./-]+)\s*(!=|==|=)\s*([\w.-]*)", req):
            key, op, value = m.groups()
            if (labels.get(key) == value) != (op != "!="):
                return False
        elif req.startswith("!"):
            if req[1:].strip() in labels:
                return False
        elif req not in labels:
            return False
    return True


def _selector_string(match_labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(match_labels.items()))


_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50,
          "m": 1e-3, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "": 1}


def _quantity_bytes(quantity: str | None) -> float | None:
    if quantity is None:
        return None
    m = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|m|k|M|G|T|P)?", str(quantity).strip())
    if not m:
        raise ValueError(f"quantities must match the regular expression "
                         f"'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': {quantity!r}")
    return float(m.group(1)) * _UNITS[m.group(2) or ""]


# --- the simulator --------------------------------------------------------------------

class KubernetesSimulator:
    """A threaded HTTP Kubernetes API over an in-memory cluster loaded from a scenario.

    Use as a context manager (``with KubernetesSimulator(cluster) as sim:``); point the
    client at ``sim.url`` with any bearer token (or one starting with ``required_token``).
    """

    def __init__(self, cluster_state: dict | None = None, *, required_token: str | None = None,
                 clock: Callable[[], datetime] | None = None, seed: int = 0):
        self.required_token = required_token
        self._clock = clock or (lambda: datetime.now(UTC))
        self._seed = seed
        self._lock = threading.RLock()
        self._objects: dict[tuple[str, str, str], dict] = {}
        self._rv = 1000
        self._rng = random.Random(seed)
        self._faults: list[dict] = []
        self._events: list[dict] = []
        self._callbacks: list[WriteCallback] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url: str | None = None
        if cluster_state:
            self.load(cluster_state)

    # lifecycle ---------------------------------------------------------------------------
    def start(self) -> str:
        """Serve on 127.0.0.1 on a free port; return the base URL."""
        if self._server is None:
            self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
            self._server.daemon_threads = True
            self._thread = threading.Thread(target=self._server.serve_forever,
                                            kwargs={"poll_interval": 0.05},
                                            name="k8s-sim", daemon=True)
            self._thread.start()
            self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
            self._thread = None

    def __enter__(self) -> KubernetesSimulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def client_configuration(self, token: str = "local-simulator-token") -> Any:
        """A ``kubernetes.client.Configuration`` aimed at this simulator (imports the client
        lazily: the server itself needs only the standard library)."""
        from kubernetes.client import Configuration

        configuration = Configuration(host=self.start())
        configuration.api_key = {"authorization": token}
        configuration.api_key_prefix = {"authorization": "Bearer"}
        return configuration

    # scenario loading --------------------------------------------------------------------
    def load(self, cluster_state: dict) -> None:
        """Replace the cluster with a scenario's ``cluster:`` block."""
        with self._lock:
            self._objects.clear()
            self._events.clear()
            self._rng = random.Random(self._seed)
            pods_by_deployment: dict[tuple[str, str], list[dict]] = {}
            for pod in cluster_state.get("pods") or []:
                key = (pod["namespace"], pod.get("deployment") or "")
                pods_by_deployment.setdefault(key, []).append(pod)
            for spec in cluster_state.get("deployments") or []:
                self._load_deployment(spec, pods_by_deployment.get((spec["namespace"], spec["name"]), []))
            for spec in cluster_state.get("hpas") or []:
                self._load_hpa(spec)

    def _load_deployment(self, spec: dict, listed_pods: list[dict]) -> None:
        ns, name = spec["namespace"], spec["name"]
        replicas, revision = int(spec.get("replicas", 1)), str(spec.get("revision", "1"))
        ready = int(spec.get("ready", replicas))
        labels = {"app": name}
        template = self._pod_template(name, spec["image"], spec.get("memory_limit"), spec.get("cpu_limit"))
        deployment = {
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": self._metadata(ns, name, labels=dict(labels),
                                       annotations={REVISION: revision}),
            "spec": {"replicas": replicas, "selector": {"matchLabels": dict(labels)},
                     "template": template, "revisionHistoryLimit": 10,
                     "progressDeadlineSeconds": 600,
                     "strategy": {"type": "RollingUpdate",
                                  "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}},
            "status": {},
        }
        deployment["metadata"]["generation"] = 1
        self._objects[("deployments", ns, name)] = deployment
        previous = spec.get("previous_revision") or (
            str(int(revision) - 1) if revision.isdigit() and int(revision) > 1 else None)
        if previous:
            image = spec.get("previous_image") or _previous_image(spec["image"])
            old = self._pod_template(name, image, spec.get("previous_memory_limit", spec.get("memory_limit")),
                                     spec.get("cpu_limit"))
            self._create_replicaset(deployment, old, previous, 0)
        current_hash = _hash_from_pod_names(name, [p["name"] for p in listed_pods])
        rs = self._create_replicaset(deployment, template, revision, replicas, current_hash)
        unhealthy = sorted(listed_pods, key=lambda p: (p.get("phase", "Running") == "Running"
                                                        and not p.get("last_termination_reason"),
                                                        -int(p.get("restarts") or 0)))
        not_ready = {p["name"] for p in unhealthy[: max(replicas - ready, 0)]}
        for pod in listed_pods:
            self._create_pod(rs, pod["name"], phase=pod.get("phase") or "Running",
                             restarts=int(pod.get("restarts") or 0),
                             last_reason=pod.get("last_termination_reason"),
                             ready=pod["name"] not in not_ready)
        for _ in range(replicas - len(listed_pods)):
            self._create_pod(rs)
        pods = self._pods_of(rs)  # synthetic pods take up the rest of the not-ready count
        ready_now = sum(_pod_ready(p) for p in pods)
        for pod in pods:
            if ready_now > ready and _pod_ready(pod) and pod["metadata"]["name"] not in not_ready:
                _set_ready(pod, False)
                ready_now -= 1
        self._refresh_status(ns, name)

    def _load_hpa(self, spec: dict) -> None:
        ns, name = spec["namespace"], spec["name"]
        target = spec.get("target") or name
        current = self._objects.get(("deployments", ns, target), {}).get("spec", {}).get("replicas", 0)
        self._objects[("horizontalpodautoscalers", ns, name)] = {
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": self._metadata(ns, name, labels={"app": target}),
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
                     "minReplicas": int(spec.get("min_replicas", 1)),
                     "maxReplicas": int(spec["max_replicas"]),
                     "metrics": [{"type": "Resource", "resource": {
                         "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]},
            "status": {"currentReplicas": current, "desiredReplicas": current,
                       "currentMetrics": [], "conditions": []},
        }
        self._objects[("horizontalpodautoscalers", ns, name)]["metadata"]["generation"] = 1

    # object builders ---------------------------------------------------------------------
    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    def _now(self) -> str:
        return self._clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def _metadata(self, ns: str, name: str, labels: dict | None = None,
                  annotations: dict | None = None) -> dict:
        return {"name": name, "namespace": ns,
                "uid": str(uuid.UUID(int=self._rng.getrandbits(128), version=4)),
                "resourceVersion": self._next_rv(), "creationTimestamp": self._now(),
                "labels": labels or {}, "annotations": annotations or {}}

    @staticmethod
    def _pod_template(name: str, image: str, memory: str | None, cpu: str | None) -> dict:
        limits = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
        return {"metadata": {"labels": {"app": name}, "annotations": {}},
                "spec": {"containers": [{
                    "name": name, "image": image, "imagePullPolicy": "IfNotPresent",
                    "ports": [{"containerPort": 8080, "name": "http", "protocol": "TCP"}],
                    "resources": {"limits": dict(limits), "requests": dict(limits)},
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File"}],
                    "restartPolicy": "Always", "terminationGracePeriodSeconds": 30,
                    "dnsPolicy": "ClusterFirst", "serviceAccountName": name}}

    def _random_suffix(self, n: int) -> str:
        return "".join(self._rng.choice(_SAFE) for _ in range(n))

    def _create_replicaset(self, deployment: dict, template: dict, revision: str, replicas: int,
                           pod_hash: str | None = None) -> dict:
        ns, dname = deployment["metadata"]["namespace"], deployment["metadata"]["name"]
        pod_hash = pod_hash or _template_hash(template)
        template = copy.deepcopy(template)
        template["metadata"].setdefault("labels", {})[HASH_LABEL] = pod_hash
        name = f"{dname}-{pod_hash}"
        selector = dict(deployment["spec"]["selector"]["matchLabels"], **{HASH_LABEL: pod_hash})
        rs = {
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": self._metadata(ns, name, labels=dict(template["metadata"]["labels"]),
                                       annotations={REVISION: revision,
                                                    "deployment.kubernetes.io/desired-replicas": str(replicas),
                                                    "deployment.kubernetes.io/max-replicas": str(replicas + 1)}),
            "spec": {"replicas": replicas, "selector": {"matchLabels": selector}, "template": template},
            "status": {"replicas": 0, "observedGeneration": 1},
        }
        rs["metadata"]["generation"] = 1
        rs["metadata"]["ownerReferences"] = [{
            "apiVersion": "apps/v1", "kind": "Deployment", "name": dname,
            "uid": deployment["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}]
        self._objects[("replicasets", ns, name)] = rs
        return rs

    def _create_pod(self, rs: dict, name: str | None = None, *, phase: str = "Running",
                    restarts: int = 0, last_reason: str | None = None, ready: bool = True) -> dict:
        ns, rs_name = rs["metadata"]["namespace"], rs["metadata"]["name"]
        while name is None or ("pods", ns, name) in self._objects:
            name = f"{rs_name}-{self._random_suffix(5)}"
        template = rs["spec"]["template"]
        waiting = None
        if phase not in _PHASES:  # e.g. CrashLoopBackOff is a container state, not a phase
            phase, waiting, ready = "Running", phase, False
        now = self._now()
        statuses = []
        for container in template["spec"]["containers"]:
            state = ({"waiting": {"reason": waiting}} if waiting
                     else {"running": {"startedAt": now}} if phase == "Running"
                     else {"waiting": {"reason": "ContainerCreating"}})
            status = {"name": container["name"], "image": container["image"],
                      "imageID": "", "ready": ready, "started": phase == "Running",
                      "restartCount": restarts, "state": state, "lastState": {},
                      "containerID": f"containerd://{self._rng.getrandbits(128):032x}"}
            if last_reason:
                status["lastState"] = {"terminated": {
                    "reason": last_reason, "exitCode": _EXIT_CODES.get(last_reason, 1),
                    "startedAt": now, "finishedAt": now}}
            statuses.append(status)
        pod = {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": self._metadata(ns, name, labels=dict(template["metadata"]["labels"]),
                                       annotations=dict(template["metadata"].get("annotations") or {})),
            "spec": dict(copy.deepcopy(template["spec"]),
                         nodeName=f"ip-10-0-{self._rng.randint(0, 255)}-{self._rng.randint(1, 254)}.ec2.internal"),
            "status": {"phase": phase, "conditions": [], "containerStatuses": statuses,
                       "hostIP": "10.0.0.1", "podIP": f"10.0.{self._rng.randint(0, 255)}.{self._rng.randint(1, 254)}",
                       "startTime": now, "qosClass": "Guaranteed"},
        }
        pod["metadata"]["generateName"] = f"{rs_name}-"
        pod["metadata"]["ownerReferences"] = [{
            "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs_name,
            "uid": rs["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}]
        _set_ready(pod, ready)
        self._objects[("pods", ns, name)] = pod
        return pod

    # controllers -------------------------------------------------------------------------
    def _owned(self, kind: str, ns: str, owner_uid: str) -> list[dict]:
        return [o for (k, n, _), o in sorted(self._objects.items())
                if k == kind and n == ns
                and any(r.get("uid") == owner_uid for r in o["metadata"].get("ownerReferences", []))]

    def _replicasets_of(self, deployment: dict) -> list[dict]:
        return self._owned("replicasets", deployment["metadata"]["namespace"], deployment["metadata"]["uid"])

    def _pods_of(self, rs: dict) -> list[dict]:
        return self._owned("pods", rs["metadata"]["namespace"], rs["metadata"]["uid"])

    def _reconcile_deployment(self, ns: str, name: str) -> None:
        """The deployment controller, instantly: find or create the ReplicaSet for the
        current template, give it the next revision, scale the others to zero."""
        deployment = self._objects[("deployments", ns, name)]
        template = deployment["spec"]["template"]
        owned = self._replicasets_of(deployment)
        current = next((rs for rs in owned if _same_template(rs["spec"]["template"], template)), None)
        revisions = [int(rs["metadata"]["annotations"].get(REVISION, "0") or 0) for rs in owned]
        top = max(revisions, default=0)
        if current is None:
            current = self._create_replicaset(deployment, template, str(top + 1), 0)
        elif current["metadata"]["annotations"].get(REVISION) != str(top):
            old = current["metadata"]["annotations"].get(REVISION)
            history = current["metadata"]["annotations"].get(REVISION_HISTORY)
            current["metadata"]["annotations"][REVISION_HISTORY] = ",".join(filter(None, [history, old]))
            current["metadata"]["annotations"][REVISION] = str(top + 1)
            current["metadata"]["resourceVersion"] = self._next_rv()
        deployment["metadata"]["annotations"][REVISION] = current["metadata"]["annotations"][REVISION]
        replicas = deployment["spec"]["replicas"]
        for rs in self._replicasets_of(deployment):
            want = replicas if rs is current else 0
            if rs["spec"]["replicas"] != want:
                rs["spec"]["replicas"] = want
                rs["metadata"]["generation"] += 1
                rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] = str(replicas)
                rs["metadata"]["resourceVersion"] = self._next_rv()
            self._reconcile_replicaset(rs)
        self._refresh_status(ns, name)

    def _reconcile_replicaset(self, rs: dict) -> None:
        """The ReplicaSet controller: create or delete pods (not-ready, then newest first)."""
        ns = rs["metadata"]["namespace"]
        pods = self._pods_of(rs)
        want = rs["spec"]["replicas"]
        for _ in range(want - len(pods)):
            self._create_pod(rs)
        if len(pods) > want:
            doomed = sorted(pods, key=lambda p: (_pod_ready(p), -int(p["metadata"]["resourceVersion"])))
            for pod in doomed[: len(pods) - want]:
                self._objects.pop(("pods", ns, pod["metadata"]["name"]), None)
        pods = self._pods_of(rs)
        ready = sum(_pod_ready(p) for p in pods)
        rs["status"] = {"replicas": len(pods), "fullyLabeledReplicas": len(pods),
                        "readyReplicas": ready, "availableReplicas": ready,
                        "observedGeneration": rs["metadata"]["generation"]}

    def _refresh_status(self, ns: str, name: str) -> None:
        deployment = self._objects[("deployments", ns, name)]
        sets = self._replicasets_of(deployment)
        revision = deployment["metadata"]["annotations"].get(REVISION)
        pods = [p for rs in sets for p in self._pods_of(rs)]
        updated = [p for rs in sets if rs["metadata"]["annotations"].get(REVISION) == revision
                   for p in self._pods_of(rs)]
        for rs in sets:
            rs_pods = self._pods_of(rs)
            ready_rs = sum(_pod_ready(p) for p in rs_pods)
            rs["status"].update(replicas=len(rs_pods), readyReplicas=ready_rs, availableReplicas=ready_rs)
        ready = sum(_pod_ready(p) for p in pods)
        replicas = deployment["spec"]["replicas"]
        now = self._now()
        available = ready >= replicas - max(replicas // 4, 0)
        deployment["status"] = {
            "observedGeneration": deployment["metadata"]["generation"],
            "replicas": len(pods), "updatedReplicas": len(updated), "readyReplicas": ready,
            "availableReplicas": ready, "unavailableReplicas": max(replicas - ready, 0),
            "conditions": [
                {"type": "Available", "status": "True" if available else "False",
                 "reason": "MinimumReplicasAvailable" if available else "MinimumReplicasUnavailable",
                 "message": "Deployment has minimum availability." if available
                 else "Deployment does not have minimum availability.",
                 "lastUpdateTime": now, "lastTransitionTime": now},
                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                 "message": f'ReplicaSet "{name}-{_hash_of(sets, revision)}" has successfully progressed.',
                 "lastUpdateTime": now, "lastTransitionTime": now}],
        }
        for (kind, hns, _), hpa in self._objects.items():
            if kind == "horizontalpodautoscalers" and hns == ns and hpa["spec"]["scaleTargetRef"]["name"] == name:
                hpa["status"]["currentReplicas"] = len(pods)
                hpa["status"]["desiredReplicas"] = replicas

    def _reconcile_hpa(self, hpa: dict) -> None:
        """The HPA controller: keep the target's replicas within [minReplicas, maxReplicas]."""
        ns, target = hpa["metadata"]["namespace"], hpa["spec"]["scaleTargetRef"]["name"]
        deployment = self._objects.get(("deployments", ns, target))
        if deployment is None:
            return
        low, high = hpa["spec"].get("minReplicas", 1), hpa["spec"]["maxReplicas"]
        replicas = deployment["spec"]["replicas"]
        clamped = min(max(replicas, low), high)
        if clamped != replicas:
            deployment["spec"]["replicas"] = clamped
            deployment["metadata"]["generation"] += 1
            deployment["metadata"]["resourceVersion"] = self._next_rv()
            self._reconcile_deployment(ns, target)

    # request handling (called by the HTTP handler) ----------------------------------------
    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes
               ) -> tuple[int, dict, dict[str, str]]:
        split = urlsplit(raw_path)
        path, query = split.path.rstrip("/") or "/", parse_qs(split.query)
        try:
            self._authenticate(headers.get("authorization", ""))
            self._maybe_fault(method, path)
            if path == "/version":
                return 200, {"major": "1", "minor": "31", "gitVersion": "v1.31.2-eks-7f9249a",
                             "platform": "linux/amd64"}, {}
            route = self._route(method, path)
            payload = json.loads(body) if body else None
            dry_run = "All" in query.get("dryRun", [])
            if method == "GET":
                return 200, self._get(route, query), {}
            with self._lock:
                snapshot = (copy.deepcopy(self._objects), self._rv, self._rng.getstate())
                try:
                    result, event = self._write(method, route, headers.get("content-type", ""), payload)
                except BaseException:
                    self._restore(snapshot)
                    raise
                if dry_run:  # dryRun=All: answer with the would-be object, persist nothing
                    self._restore(snapshot)
                event.update(path=path, dry_run=dry_run, status=200)
                self._events.append(event)
                callbacks = [] if dry_run else list(self._callbacks)
            for callback in callbacks:
                callback(event["verb"], event["kind"], event["namespace"], event["name"], payload)
            return 200, result, {}
        except ApiError as error:
            if method != "GET":
                with self._lock:
                    self._events.append({"verb": method.lower(), "path": path, "status": error.code,
                                         "dry_run": "All" in query.get("dryRun", []), "body": None})
            return error.code, error.status(), error.headers
        except (ValueError, KeyError, IndexError, TypeError) as error:
            bad = ApiError(422 if body else 400, "Invalid" if body else "BadRequest", str(error))
            return bad.code, bad.status(), {}
        except Exception as error:  # noqa: BLE001 - a server answers, it does not crash
            failure = ApiError(500, "InternalError", f"Internal error occurred: {error!r}")
            return failure.code, failure.status(), {}

    def _restore(self, snapshot: tuple) -> None:
        self._objects, self._rv = snapshot[0], snapshot[1]
        self._rng.setstate(snapshot[2])

    def _authenticate(self, authorization: str) -> None:
        token = authorization[len("Bearer "):] if authorization.startswith("Bearer ") else None
        if self.required_token is not None and not (token and token.startswith(self.required_token)):
            raise ApiError(401, "Unauthorized", "Unauthorized")

    def _maybe_fault(self, method: str, path: str) -> None:
        with self._lock:
            for fault in self._faults:
                if fault["method"] in ("*", method) and fault["regex"].search(path) and fault["times"] != 0:
                    fault["times"] -= 1
                    raise ApiError(fault["status"], fault["reason"], fault["message"],
                                   fault["details"], fault["headers"])

    def _route(self, method: str, path: str) -> dict:
        for pattern, shape, subresource in _ROUTES:
            if m := pattern.match(path):
                route = dict(m.groupdict(), shape=shape, subresource=subresource)
                route.setdefault("kind", "deployments")
                allowed = _ALLOWED[(shape, subresource or route["kind"])]
                if method not in allowed:
                    raise ApiError(405, "MethodNotAllowed",
                                   "the server does not allow this method on the requested resource")
                return route
        raise ApiError(404, "NotFound", "the server could not find the requested resource",
                       {"causes": [{"reason": "UnexpectedServerResponse", "message": "404 page not found"}]})

    def _get(self, route: dict, query: dict) -> dict:
        kind, ns = route["kind"], route["ns"]
        with self._lock:
            if route["shape"] == "collection":
                selector = query.get("labelSelector", [""])[0]
                items = [copy.deepcopy(o) for (k, n, _), o in sorted(self._objects.items())
                         if k == kind and n == ns and _selector_matches(selector, o["metadata"]["labels"])]
                for item in items:  # list items carry no kind/apiVersion, as from the real API
                    item.pop("kind", None)
                    item.pop("apiVersion", None)
                list_kind, api_version = _LIST_KIND[kind]
                return {"kind": list_kind, "apiVersion": api_version,
                        "metadata": {"resourceVersion": str(self._rv)}, "items": items}
            obj = self._find(kind, ns, route["name"])
            return self._scale_of(obj) if route["subresource"] == "scale" else copy.deepcopy(obj)

    def _find(self, kind: str, ns: str, name: str) -> dict:
        obj = self._objects.get((kind, ns, name))
        if obj is None:
            raise _not_found(kind, name)
        return obj

    @staticmethod
    def _scale_of(deployment: dict) -> dict:
        meta = deployment["metadata"]
        return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion",
                                                   "creationTimestamp")},
                "spec": {"replicas": deployment["spec"]["replicas"]},
                "status": {"replicas": deployment["status"].get("replicas", 0),
                           "selector": _selector_string(deployment["spec"]["selector"]["matchLabels"])}}

    def _write(self, method: str, route: dict, content_type: str, payload: Any) -> tuple[dict, dict]:
        kind, ns, name = route["kind"], route["ns"], route["name"]
        obj = self._find(kind, ns, name)
        event = {"verb": {"PATCH": "patch", "PUT": "update", "DELETE": "delete"}[method],
                 "kind": kind, "subresource": route["subresource"], "namespace": ns, "name": name,
                 "content_type": content_type.split(";")[0], "body": payload}
        if method == "DELETE":
            preconditions = (payload or {}).get("preconditions") or {}
            for field, actual in (("uid", obj["metadata"]["uid"]),
                                  ("resourceVersion", obj["metadata"]["resourceVersion"])):
                if preconditions.get(field) not in (None, actual):
                    raise ApiError(409, "Conflict", f"Precondition failed: {field.upper() if field == 'uid' else field} "
                                   f"in precondition: {preconditions[field]}, {field} in object meta: {actual}",
                                   {"name": name, "kind": kind})
            return self._delete_pod(obj), event
        current = self._scale_of(obj) if route["subresource"] == "scale" else obj
        if method == "PUT":
            desired = copy.deepcopy(payload)
            desired.setdefault("metadata", {}).setdefault("resourceVersion", current["metadata"]["resourceVersion"])
        else:
            desired = _apply_patch(content_type, current, payload)
        if desired.get("metadata", {}).get("resourceVersion") != current["metadata"]["resourceVersion"]:
            raise _conflict(kind, name)
        if desired.get("metadata", {}).get("name", name) != name:
            raise _invalid(kind, name, "metadata.name: Invalid value: field is immutable")
        if route["subresource"] == "scale":
            self._set_replicas(obj, desired.get("spec", {}).get("replicas"))
            return self._scale_of(obj), event
        if kind == "deployments":
            self._update_deployment(obj, desired)
        else:
            self._update_hpa(obj, desired)
        return copy.deepcopy(obj), event

    def _set_replicas(self, deployment: dict, replicas: Any) -> None:
        name = deployment["metadata"]["name"]
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise _invalid("deployments", name, f"spec.replicas: Invalid value: {replicas!r}: "
                           "must be greater than or equal to 0")
        deployment["metadata"]["resourceVersion"] = self._next_rv()
        if replicas != deployment["spec"]["replicas"]:
            deployment["spec"]["replicas"] = replicas
            deployment["metadata"]["generation"] += 1
        self._reconcile_deployment(deployment["metadata"]["namespace"], name)
        self._clamp_by_hpa(deployment)

    def _clamp_by_hpa(self, deployment: dict) -> None:
        ns, name = deployment["metadata"]["namespace"], deployment["metadata"]["name"]
        for (kind, hns, _), hpa in list(self._objects.items()):
            if kind == "horizontalpodautoscalers" and hns == ns and hpa["spec"]["scaleTargetRef"]["name"] == name:
                self._reconcile_hpa(hpa)

    def _update_deployment(self, deployment: dict, desired: dict) -> None:
        name, spec = deployment["metadata"]["name"], desired.get("spec") or {}
        containers = (spec.get("template") or {}).get("spec", {}).get("containers") or []
        if not containers or any(not c.get("name") or not c.get("image") for c in containers):
            raise _invalid("deployments", name, "spec.template.spec.containers: Required value")
        for c in containers:
            resources = c.get("resources") or {}
            for resource, limit in (resources.get("limits") or {}).items():
                request = (resources.get("requests") or {}).get(resource)
                if resource == "memory" and request and _quantity_bytes(request) > _quantity_bytes(limit):
                    raise _invalid("deployments", name, f"spec.template.spec.containers[0].resources."
                                   f"requests: Invalid value: {request!r}: must be less than or equal "
                                   f"to memory limit of {limit}")
                _quantity_bytes(limit)
        labels = (spec.get("template") or {}).get("metadata", {}).get("labels") or {}
        if not _selector_matches(_selector_string(spec.get("selector", {}).get("matchLabels", {})), labels):
            raise _invalid("deployments", name, "spec.template.metadata.labels: Invalid value: "
                           "`selector` does not match template `labels`")
        replicas = spec.get("replicas", 1)
        if not isinstance(replicas, int) or replicas < 0:
            raise _invalid("deployments", name, f"spec.replicas: Invalid value: {replicas!r}")
        if spec != deployment["spec"]:
            deployment["metadata"]["generation"] += 1
        deployment["spec"] = spec
        meta = desired.get("metadata") or {}
        deployment["metadata"]["annotations"] = dict(meta.get("annotations") or {})
        deployment["metadata"]["labels"] = dict(meta.get("labels") or {})
        deployment["metadata"]["resourceVersion"] = self._next_rv()
        self._reconcile_deployment(deployment["metadata"]["namespace"], name)
        self._clamp_by_hpa(deployment)

    def _update_hpa(self, hpa: dict, desired: dict) -> None:
        name, spec = hpa["metadata"]["name"], desired.get("spec") or {}
        low, high = spec.get("minReplicas", 1), spec.get("maxReplicas")
        if not isinstance(high, int) or not isinstance(low, int) or low < 1 or low > high:
            raise _invalid("horizontalpodautoscalers", name,
                           f"spec.minReplicas: Invalid value: {low!r}: must be between 1 and "
                           f"maxReplicas ({high!r})")
        if spec != hpa["spec"]:
            hpa["metadata"]["generation"] += 1
        hpa["spec"] = spec
        hpa["metadata"]["resourceVersion"] = self._next_rv()
        self._reconcile_hpa(hpa)

    def _delete_pod(self, pod: dict) -> dict:
        ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        gone = copy.deepcopy(pod)
        gone["metadata"]["deletionTimestamp"] = self._now()
        gone["metadata"]["deletionGracePeriodSeconds"] = 30
        gone["metadata"]["resourceVersion"] = self._next_rv()
        del self._objects[("pods", ns, name)]
        owner = next((r for r in pod["metadata"].get("ownerReferences", []) if r["kind"] == "ReplicaSet"), None)
        rs = self._objects.get(("replicasets", ns, owner["name"])) if owner else None
        if rs is not None:
            self._reconcile_replicaset(rs)
            deployment_ref = rs["metadata"]["ownerReferences"][0]["name"]
            if ("deployments", ns, deployment_ref) in self._objects:
                self._refresh_status(ns, deployment_ref)
        return gone

    # test and demo helpers ----------------------------------------------------------------
    def inject_fault(self, method: str, path_regex: str, status: int, times: int | None = 1,
                     reason: str | None = None, message: str | None = None,
                     retry_after: int | None = None) -> None:
        """Fail the next ``times`` requests (``None``: all of them) whose method and path match."""
        reasons = {401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 409: "Conflict",
                   422: "Invalid", 429: "TooManyRequests", 500: "InternalError",
                   503: "ServiceUnavailable", 504: "Timeout"}
        messages = {403: 'deployments.apps is forbidden: User "watchkeeper" cannot perform this '
                         'action in this namespace',
                    409: "Operation cannot be fulfilled: the object has been modified; please apply "
                         "your changes to the latest version and try again",
                    429: "Too many requests, please try again later.",
                    500: "Internal error occurred: etcdserver: request timed out"}
        headers, details = {}, None
        if status == 429 or retry_after is not None:
            seconds = 1 if retry_after is None else retry_after
            headers["Retry-After"] = str(seconds)
            details = {"retryAfterSeconds": seconds}
        with self._lock:
            self._faults.append({"method": method.upper(), "regex": re.compile(path_regex),
                                 "status": status, "times": -1 if times is None else times,
                                 "reason": reason or reasons.get(status, "Unknown"),
                                 "message": message or messages.get(status, f"injected {status}"),
                                 "headers": headers, "details": details})

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def on_write(self, callback: WriteCallback) -> None:
        """Call ``callback(verb, kind, namespace, name, body)`` after each persisted write."""
        self._callbacks.append(callback)

    @property
    def events(self) -> list[dict]:
        """Write calls received, in order, with ``status`` and ``dry_run`` (copies)."""
        with self._lock:
            return copy.deepcopy(self._events)

    def deployment(self, ns: str, name: str) -> dict:
        with self._lock:
            return copy.deepcopy(self._find("deployments", ns, name))

    def replicasets(self, ns: str, deployment: str) -> list[dict]:
        with self._lock:
            owner = self._find("deployments", ns, deployment)
            return copy.deepcopy(self._replicasets_of(owner))

    def pods(self, ns: str, deployment: str) -> list[dict]:
        with self._lock:
            owner = self._find("deployments", ns, deployment)
            return copy.deepcopy([p for rs in self._replicasets_of(owner) for p in self._pods_of(rs)])

    def hpa(self, ns: str, name: str) -> dict:
        with self._lock:
            return copy.deepcopy(self._find("horizontalpodautoscalers", ns, name))

    def set_pod_status(self, ns: str, name: str, *, ready: bool | None = None,
                       restarts: int | None = None, last_termination_reason: str | None = None) -> None:
        """Let a demo make the world react (a pod crashes again, or becomes ready)."""
        with self._lock:
            pod = self._find("pods", ns, name)
            for status in pod["status"]["containerStatuses"]:
                if restarts is not None:
                    status["restartCount"] = restarts
                if last_termination_reason is not None:
                    status["lastState"] = {"terminated": {
                        "reason": last_termination_reason,
                        "exitCode": _EXIT_CODES.get(last_termination_reason, 1),
                        "startedAt": self._now(), "finishedAt": self._now()}}
            if ready is not None:
                _set_ready(pod, ready)
            pod["metadata"]["resourceVersion"] = self._next_rv()
            owner = pod["metadata"]["ownerReferences"][0]["name"]
            rs = self._objects.get(("replicasets", ns, owner))
            if rs is not None:
                self._refresh_status(ns, rs["metadata"]["ownerReferences"][0]["name"])


# --- helpers --------------------------------------------------------------------------

def _previous_image(image: str) -> str:
    repository, sep, tag = image.rpartition(":")
    if not sep or "/" in tag:
        return f"{image}:previous"
    return f"{repository}:{tag}-prev"


def _template_hash(template: dict) -> str:
    stripped = copy.deepcopy(template)
    stripped.get("metadata", {}).get("labels", {}).pop(HASH_LABEL, None)
    digest = hashlib.sha256(json.dumps(stripped, sort_keys=True).encode()).digest()
    return "".join(_SAFE[b % len(_SAFE)] for b in digest[:10])


def _same_template(rs_template: dict, template: dict) -> bool:
    a, b = copy.deepcopy(rs_template), copy.deepcopy(template)
    for t in (a, b):
        t.setdefault("metadata", {}).setdefault("labels", {}).pop(HASH_LABEL, None)
        if not t["metadata"].get("annotations"):
            t["metadata"].pop("annotations", None)
    return a == b


def _hash_from_pod_names(deployment: str, names: list[str]) -> str | None:
    hashes = {n[len(deployment) + 1:].rsplit("-", 1)[0] for n in names
              if n.startswith(deployment + "-") and n.count("-") > deployment.count("-") + 1}
    return hashes.pop() if len(hashes) == 1 else None


def _hash_of(sets: list[dict], revision: str | None) -> str:
    rs = next((s for s in sets if s["metadata"]["annotations"].get(REVISION) == revision), None)
    return rs["metadata"]["labels"].get(HASH_LABEL, "") if rs else ""


def _pod_ready(pod: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"]["conditions"])


def _set_ready(pod: dict, ready: bool) -> None:
    value = "True" if ready else "False"
    now = pod["status"].get("startTime")
    pod["status"]["conditions"] = [
        {"type": "Initialized", "status": "True", "lastTransitionTime": now},
        {"type": "Ready", "status": value, "lastTransitionTime": now},
        {"type": "ContainersReady", "status": value, "lastTransitionTime": now},
        {"type": "PodScheduled", "status": "True", "lastTransitionTime": now}]
    for status in pod["status"].get("containerStatuses", []):
        status["ready"] = ready


def _handler_for(simulator: KubernetesSimulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True
        wbufsize = 1 << 16  # headers and body leave in one segment; flushed per request
        server_version = "watchkeeper-k8s-sim"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, payload, extra = simulator.handle(self.command, self.path, headers, body)
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Audit-Id", str(uuid.uuid4()))
            for key, value in extra.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PATCH = do_PUT = do_DELETE = do_POST = _serve

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            pass

    return Handler
