"""The service catalog: the estate that alerts talk about."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import StrictConfig

ServiceKind = Literal["api", "worker", "frontend", "batch", "database", "cache", "queue"]
Platform = Literal["eks", "ecs", "lambda", "ec2", "rds"]


class Service(StrictConfig):
    name: str
    kind: ServiceKind = "api"
    platform: Platform = "eks"
    namespace: str | None = None
    workload: str | None = None
    cluster: str | None = None
    log_group: str | None = None
    depends_on: list[str] = Field(default_factory=list)
    owners: list[str] = Field(default_factory=list)
    aliases: list[str] = Field(default_factory=list)
    # four eyes: the author of a change to this service cannot approve its rollback or revert
    four_eyes: bool = False

    @property
    def target(self) -> str:
        """How a responder names the workload: platform/cluster/namespace/workload."""
        parts = [self.platform, self.cluster, self.namespace, self.workload or self.name]
        return "/".join(p for p in parts if p)


class ServiceCatalog(StrictConfig):
    services: list[Service] = Field(default_factory=list)

    def get(self, name: str | None) -> Service | None:
        if not name:
            return None
        return next((s for s in self.services if s.name == name), None)

    def dependents_of(self, name: str) -> list[Service]:
        return [s for s in self.services if name in s.depends_on]
