"""Cluster state behind the evidence port: how a Kubernetes workload's pods are doing.

Read-only: the Deployment, its ReplicaSets and pods through the same client the
executor uses (`KubernetesActions.describe`), reduced to what a responder reads first —
restarts and the reason the last container terminated (OOMKilled, Error).
"""
from __future__ import annotations

from typing import Any, Callable

from ..models import Service


class KubernetesClusterState:
    def __init__(self, actions_for: Callable[[str], Any]):
        self._actions_for = actions_for     # cluster name -> KubernetesActions

    def workload_state(self, service: Service) -> dict[str, Any] | None:
        if service.platform != "eks" or not service.namespace:
            return None
        actions = self._actions_for(service.cluster or "")
        state = actions.describe(service.namespace, service.workload or service.name)["before"]
        return {"replicas": state.get("replicas"), "ready": state.get("ready"), "revision": state.get("revision"),
                "memory_limits": state.get("memory_limits"),
                "pods": [{"name": p["name"], "phase": p.get("phase"), "restarts": p.get("restarts", 0),
                          "last_termination_reason": p.get("last_termination_reason")} for p in state.get("pods", [])]}
