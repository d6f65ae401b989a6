"""Deploys and config changes read from where they happen, behind the one `ChangeSource` port.

The journal (adapters/changes.py) records what EventBridge tells us as it happens; these
adapters ask the platforms themselves, so a change the journal missed is still found:
Kubernetes rollout history (ReplicaSet revisions and their creation times), ECS service
deployments (task definition revisions), Lambda versions, CodeDeploy deployments, SSM
Parameter Store history and AppConfig deployments. `CompositeChangeSource` merges them
with the journal, the journal's entry winning when two describe the same revision.
Each adapter maps catalog services to its own resources and never fails the whole read:
a source that errors is skipped and named in `errors`. What the platforms report is recorded
in the journal (by id), so a revert can find the change Gather found.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from ..models import ChangeEvent, ServiceCatalog
from ..ports import ChangeSource

REVISION_ANNOTATION = "deployment.kubernetes.io/revision"


def _utc(dt: datetime | str) -> datetime:
    if isinstance(dt, str):
        dt = datetime.fromisoformat(dt.replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def _within(at: datetime, start: datetime, end: datetime) -> bool:
    return start <= at <= end


class KubernetesRolloutHistory:
    """ReplicaSets of a Deployment: each revision and when its ReplicaSet was created."""

    def __init__(self, catalog: ServiceCatalog, apps_api_for: Callable[[str], Any]):
        self._catalog = catalog
        self._apps_for = apps_api_for          # cluster name -> kubernetes.client.AppsV1Api

    def changes(self, services: Iterable[str], start: datetime, end: datetime) -> list[ChangeEvent]:
        out: list[ChangeEvent] = []
        for name in dict.fromkeys(services):
            info = self._catalog.get(name)
            if info is None or info.platform != "eks" or not info.namespace:
                continue
            apps = self._apps_for(info.cluster or "")
            workload = info.workload or info.name
            found = apps.list_namespaced_replica_set(info.namespace)
            sets = []
            for rs in found.items:
                owners = rs.metadata.owner_references or []
                if not any(o.kind == "Deployment" and o.name == workload for o in owners):
                    continue
                rev = (rs.metadata.annotations or {}).get(REVISION_ANNOTATION)
                if rev is None:
                    continue
                images = [c.image for c in rs.spec.template.spec.containers]
                sets.append((int(rev), _utc(rs.metadata.creation_timestamp), images))
            sets.sort()
            for i, (rev, at, images) in enumerate(sets):
                if not _within(at, start, end):
                    continue
                previous = str(sets[i - 1][0]) if i else None
                tag = images[0].rsplit(":", 1)[-1] if images and ":" in images[0] else None
                out.append(ChangeEvent(id=f"k8s-{name}-rev-{rev}", kind="deploy", service=name, at=at,
                                       revision=str(rev), previous_revision=previous, sha=tag,
                                       description=f"rollout of {workload} revision {rev} ({', '.join(images)})",
                                       source="kubernetes"))
        return out


class EcsDeployments:
    """An ECS service's deployments: each one names the task definition revision it rolls out."""

    def __init__(self, catalog: ServiceCatalog, client: Any):
        self._catalog = catalog
        self._ecs = client

    def changes(self, services: Iterable[str], start: datetime, end: datetime) -> list[ChangeEvent]:
        out: list[ChangeEvent] = []
        for name in dict.fromkeys(services):
            info = self._catalog.get(name)
            if info is None or info.platform != "ecs" or not info.cluster:
                continue
            resp = self._ecs.describe_services(cluster=info.cluster, services=[info.workload or info.name])
            for svc in resp.get("services", []):
                deployments = sorted(svc.get("deployments", []), key=lambda d: _utc(d["createdAt"]))
                for i, d in enumerate(deployments):
                    at = _utc(d["createdAt"])
                    if not _within(at, start, end):
                        continue
                    family_rev = d["taskDefinition"].rsplit("/", 1)[-1]
                    rev = family_rev.rsplit(":", 1)[-1]
                    previous = deployments[i - 1]["taskDefinition"].rsplit(":", 1)[-1] if i else None
                    out.append(ChangeEvent(id=f"ecs-{name}-td-{rev}", kind="deploy", service=name, at=at,
                                           revision=rev, previous_revision=previous,
                                           description=f"ECS deployment {d.get('id', '')} of task definition {family_rev}",
                                           source="ecs"))
        return out


class LambdaVersions:
    """Published versions of a function (the alias moves to one of them when it is deployed)."""

    def __init__(self, catalog: ServiceCatalog, client: Any, alias: str | None = None):
        self._catalog = catalog
        self._lambda = client
        self._alias = alias

    def changes(self, services: Iterable[str], start: datetime, end: datetime) -> list[ChangeEvent]:
        out: list[ChangeEvent] = []
        for name in dict.fromkeys(services):
            info = self._catalog.get(name)
            if info is None or info.platform != "lambda":
                continue
            function = info.workload or info.name
            versions = []
            for page in self._lambda.get_paginator("list_versions_by_function").paginate(FunctionName=function):
                versions += [v for v in page.get("Versions", []) if v["Version"] != "$LATEST"]
            versions.sort(key=lambda v: int(v["Version"]))
            aliases = {}
            for page in self._lambda.get_paginator("list_aliases").paginate(FunctionName=function):
                for a in page.get("Aliases", []):
                    aliases.setdefault(a["FunctionVersion"], []).append(a["Name"])
            for i, v in enumerate(versions):
                at = _utc(v["LastModified"].replace("+0000", "+00:00"))
                if not _within(at, start, end):
                    continue
                live = aliases.get(v["Version"], [])
                out.append(ChangeEvent(
                    id=f"lambda-{function}-v{v['Version']}", kind="deploy", service=name, at=at, revision=v["Version"],
                    previous_revision=versions[i - 1]["Version"] if i else None,
                    sha=(v.get("CodeSha256") or "")[:12] or None,
                    description=f"Publish version {v['Version']} of {function}"
                                + (f"; alias {', '.join(live)} -> {v['Version']}" if live else ""),
                    source="lambda"))
        return out


class CodeDeployDeployments:
    """CodeDeploy deployments of the application named after the service (or its workload)."""

    def __init__(self, catalog: ServiceCatalog, client: Any):
        self._catalog = catalog
        self._cd = client

    def changes(self, services: Iterable[str], start: datetime, end: datetime) -> list[ChangeEvent]:
        out: list[ChangeEvent] = []
        for name in dict.fromkeys(services):
            info = self._catalog.get(name)
            if info is None:
                continue
            for app in dict.fromkeys([name, info.workload or name]):
                try:
                    groups = [g for page in self._cd.get_paginator("list_deployment_groups").paginate(
                        applicationName=app) for g in page.get("deploymentGroups", [])]
                except self._cd.exceptions.ApplicationDoesNotExistException:
                    continue
                ids: list[str] = []
                for group in groups:    # ListDeployments takes an application only together with a group
                    ids += self._cd.list_deployments(applicationName=app, deploymentGroupName=group,
                                                     createTimeRange={"start": start, "end": end}).get("deployments", [])
                if not ids:
                    continue
                infos = [d for i in range(0, len(ids[:100]), 25) for d in self._cd.batch_get_deployments(
                    deploymentIds=ids[i:i + 25]).get("deploymentsInfo", [])]
                for d in sorted(infos, key=lambda d: d["createTime"]):
                    at = _utc(d["createTime"])
                    if not _within(at, start, end):
                        continue
                    out.append(ChangeEvent(id=f"codedeploy-{name}-{d['deploymentId']}", kind="deploy", service=name,
                                           at=at, revision=d["deploymentId"],
                                           description=f"CodeDeploy {d['deploymentId']} of {app} "
                                                       f"({d.get('deploymentGroupName', '')}, {d.get('status', '')})",
                                           source="codedeploy"))
                break
        return out


class SsmParameterHistory:
    """Versions of the parameters under each service's path (default `/prod/<service>/`)."""

    def __init__(self, catalog: ServiceCatalog, client: Any, paths: Sequence[str] = ("/prod/{service}/",)):
        self._catalog = catalog
        self._ssm = client
        self._paths = paths

    def changes(self, services: Iterable[str], start: datetime, end: datetime) -> list[ChangeEvent]:
        out: list[ChangeEvent] = []
        for name in dict.fromkeys(services):
            for template in self._paths:
                path = template.format(service=name)
                names = []
                for page in self._ssm.get_paginator("get_parameters_by_path").paginate(Path=path, Recursive=True):
                    names += [p["Name"] for p in page.get("Parameters", [])]
                for param in names:
                    history = []
                    for page in self._ssm.get_paginator("get_parameter_history").paginate(Name=param):
                        history += page.get("Parameters", [])
                    history.sort(key=lambda h: h["Version"])
                    for i, h in enumerate(history):
                        at = _utc(h["LastModifiedDate"])
                        if i == 0 or not _within(at, start, end):
                            continue
                        prev = history[i - 1]
                        secret = h.get("Type") == "SecureString"
                        values = "" if secret else f": {prev.get('Value')} -> {h.get('Value')}"
                        out.append(ChangeEvent(
                            id=f"ssm-{name}-{param.rsplit('/', 1)[-1]}-v{h['Version']}", kind="config", service=name,
                            at=at, revision=str(h["Version"]), previous_revision=str(prev["Version"]),
                            author=(h.get("LastModifiedUser") or "").rsplit("/", 1)[-1] or None,
                            description=f"Update SSM parameter {param}{values}", source="ssm"))
        return out


class AppConfigDeployments:
    """AppConfig deployments to the environments of the application named after the service."""

    def __init__(self, catalog: ServiceCatalog, client: Any):
        self._catalog = catalog
        self._appconfig = client

    def changes(self, services: Iterable[str], start: datetime, end: datetime) -> list[ChangeEvent]:
        wanted = set(services)
        out: list[ChangeEvent] = []
        apps = self._appconfig.list_applications().get("Items", [])
        for app in apps:
            if app["Name"] not in wanted:
                continue
            for env in self._appconfig.list_environments(ApplicationId=app["Id"]).get("Items", []):
                items = self._appconfig.list_deployments(ApplicationId=app["Id"],
                                                         EnvironmentId=env["Id"]).get("Items", [])
                for d in sorted(items, key=lambda d: d["DeploymentNumber"]):
                    at = _utc(d["StartedAt"])
                    if not _within(at, start, end):
                        continue
                    n = d["DeploymentNumber"]
                    out.append(ChangeEvent(
                        id=f"appconfig-{app['Name']}-{env['Name']}-{n}", kind="config", service=app["Name"], at=at,
                        revision=str(d.get("ConfigurationVersion") or n),
                        description=f"AppConfig deployment {app['Name']}/{env['Name']}: profile "
                                    f"{d.get('ConfigurationName', '')} v{d.get('ConfigurationVersion', '')} "
                                    f"({d.get('DeploymentStrategyId', '')})", source="appconfig"))
        return out


class CompositeChangeSource:
    """The journal first, then every platform source; one change appears once.

    Two entries are the same change when they have the same id, or the same service, kind
    and revision within ten minutes of each other (the journal names changes its own way).
    A failing source is skipped and recorded in `errors`, never fails the evidence step.
    """

    def __init__(self, sources: Sequence[ChangeSource], same_change_within: timedelta = timedelta(minutes=10),
                 remember: Any = None):
        self._sources = list(sources)
        self._within = same_change_within
        self._remember = remember          # the journal: what the platforms told us is recorded there by id,
        self.errors: list[str] = []         # so a revert of a change Gather found can look it up

    def changes(self, services: Iterable[str], start: datetime, end: datetime) -> list[ChangeEvent]:
        services = list(dict.fromkeys(services))
        merged: list[ChangeEvent] = []
        self.errors = []
        for source in self._sources:
            try:
                found = source.changes(services, start, end)
            except Exception as exc:  # one platform's outage must not hide the others' changes
                self.errors.append(f"{type(source).__name__}: {type(exc).__name__}: {exc}"[:200])
                continue
            for c in found:
                if not any(self._same(c, m) for m in merged):
                    merged.append(c)
                    if self._remember is not None and source is not self._remember:
                        try:
                            self._remember.record(c)
                        except Exception as exc:  # the evidence stands without the record
                            self.errors.append(f"recording {c.id}: {type(exc).__name__}: {exc}"[:200])
        return sorted(merged, key=lambda c: c.at)

    def _same(self, a: ChangeEvent, b: ChangeEvent) -> bool:
        if a.id == b.id:
            return True
        return (a.service == b.service and a.kind == b.kind and a.revision is not None and a.revision == b.revision
                and abs(a.at - b.at) <= self._within)
