"""The change feed: deploys and configuration changes, as EventBridge delivers them, as journal entries.

One event in, at most one `ChangeEvent` out, named the way the platform adapters name the same
change (`adapters/change_sources.py`), so Gather sees one change whichever way it learnt of it:

- ECS "ECS Deployment State Change" (SERVICE_DEPLOYMENT_IN_PROGRESS: a deployment or a rollback
  starts; the task definition it rolls out is looked up by its deployment id),
- CodeDeploy "CodeDeploy Deployment State-change Notification" (state START),
- Lambda through CloudTrail ("AWS API Call via CloudTrail": UpdateFunctionCode, PublishVersion,
  CreateAlias / UpdateAlias, UpdateFunctionConfiguration),
- SSM "Parameter Store Change" (Create / Update of a parameter under the configuration paths, the
  version looked up: the revert needs it),
- AppConfig "On Deployment Start" / "On Deployment Rollback".

Events about resources the catalog does not know are not changes of the estate: they are skipped
(with the reason), never an error. Lookups sit behind a small port; none is needed to parse.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

from ..models import ChangeEvent, ServiceCatalog

LAMBDA_CHANGES = ("UpdateFunctionCode20150331v2", "PublishVersion20150331", "CreateAlias20150331",
                  "UpdateAlias20150331", "UpdateFunctionConfiguration20150331v2")
APPCONFIG_CHANGES = ("On Deployment Start", "On Deployment Rollback")


class FeedLookups(Protocol):
    def ecs_task_definition(self, cluster: str, service: str, deployment_id: str) -> str | None:
        """'family:revision' of the task definition an ECS deployment rolls out."""
        ...

    def parameter_version(self, name: str) -> int | None:
        """The current version of an SSM parameter."""
        ...


class NoLookups:
    def ecs_task_definition(self, cluster: str, service: str, deployment_id: str) -> str | None:
        return None

    def parameter_version(self, name: str) -> int | None:
        return None


@dataclass
class FeedResult:
    change: ChangeEvent | None
    skipped: str | None = None          # why an event is not a change of the estate


def change_from_event(event: dict[str, Any], catalog: ServiceCatalog, config_paths: tuple[str, ...] = ("/prod/",),
                      lookups: FeedLookups | None = None) -> FeedResult:
    lookups = lookups or NoLookups()
    source, kind = event.get("source"), event.get("detail-type")
    detail = event.get("detail") or {}
    at = _time(event.get("time")) or datetime.now(timezone.utc)
    if source == "aws.ecs" and kind == "ECS Deployment State Change":
        return _ecs(event, detail, at, catalog, lookups)
    if source == "aws.codedeploy" and kind == "CodeDeploy Deployment State-change Notification":
        return _codedeploy(detail, at, catalog)
    if source == "aws.lambda" and kind == "AWS API Call via CloudTrail":
        return _lambda(detail, at, catalog)
    if source == "aws.ssm" and kind == "Parameter Store Change":
        return _ssm(detail, at, catalog, config_paths, lookups)
    if source == "aws.appconfig" and kind in APPCONFIG_CHANGES:
        return _appconfig(kind, detail, at, catalog)
    return FeedResult(None, f"not a change event: {source} / {kind}")


def _ecs(event: dict[str, Any], detail: dict[str, Any], at: datetime, catalog: ServiceCatalog,
         lookups: FeedLookups) -> FeedResult:
    if detail.get("eventName") != "SERVICE_DEPLOYMENT_IN_PROGRESS":
        return FeedResult(None, f"ECS {detail.get('eventName')}: only a starting deployment is a change")
    arn = next((r for r in event.get("resources") or [] if ":service/" in r), "")
    cluster, _, workload = arn.split(":service/", 1)[-1].rpartition("/")
    service = next((s for s in catalog.services if s.platform == "ecs" and (s.workload or s.name) == workload
                    and (not s.cluster or not cluster or s.cluster == cluster)), None)
    if service is None:
        return FeedResult(None, f"ECS service {cluster}/{workload} is not in the catalog")
    deployment = str(detail.get("deploymentId") or "")
    task_definition = lookups.ecs_task_definition(cluster or service.cluster or "", workload, deployment)
    revision = task_definition.rsplit(":", 1)[-1] if task_definition else None
    reason = str(detail.get("reason", "")).lower()
    rollback = "rollback" in reason or "rolling back" in reason
    change_id = f"ecs-{service.name}-td-{revision}" if revision else f"ecs-{service.name}-{deployment.rsplit('/', 1)[-1]}"
    return FeedResult(ChangeEvent(
        id=change_id, kind="deploy", service=service.name, at=_time(detail.get("updatedAt")) or at, revision=revision,
        previous_revision=str(int(revision) - 1) if revision and revision.isdigit() and int(revision) > 1 else None,
        description=(f"ECS {'rollback' if rollback else 'deployment'} {deployment}"
                     + (f" of task definition {task_definition}" if task_definition else "")),
        source="ecs"))


def _codedeploy(detail: dict[str, Any], at: datetime, catalog: ServiceCatalog) -> FeedResult:
    if detail.get("state") != "START":
        return FeedResult(None, f"CodeDeploy {detail.get('state')}: only a starting deployment is a change")
    app = str(detail.get("application") or "")
    service = next((s for s in catalog.services if app in (s.name, s.workload)), None)
    if service is None:
        return FeedResult(None, f"CodeDeploy application {app} is not a catalog service")
    deployment = str(detail.get("deploymentId") or "")
    return FeedResult(ChangeEvent(
        id=f"codedeploy-{service.name}-{deployment}", kind="deploy", service=service.name, at=at, revision=deployment,
        description=f"CodeDeploy {deployment} of {app} ({detail.get('deploymentGroup', '')}, START)",
        source="codedeploy"))


def _lambda(detail: dict[str, Any], at: datetime, catalog: ServiceCatalog) -> FeedResult:
    name = str(detail.get("eventName") or "")
    if detail.get("eventSource") != "lambda.amazonaws.com" or name not in LAMBDA_CHANGES:
        return FeedResult(None, f"Lambda {name}: not a code, version, alias or configuration change")
    if detail.get("errorCode"):
        return FeedResult(None, f"Lambda {name} failed ({detail['errorCode']}): nothing changed")
    request, response = detail.get("requestParameters") or {}, detail.get("responseElements") or {}
    function = str(response.get("functionName") or request.get("functionName") or "").rsplit(":function:", 1)[-1]
    function = function.split(":", 1)[0]
    service = next((s for s in catalog.services if s.platform == "lambda" and (s.workload or s.name) == function), None)
    if service is None:
        return FeedResult(None, f"Lambda function {function} is not in the catalog")
    at = _time(detail.get("eventTime")) or at
    who = _who(detail)
    sha = str(response.get("codeSha256") or "")[:12] or None
    if name.startswith("PublishVersion"):
        version = str(response.get("version") or "")
        return FeedResult(ChangeEvent(
            id=f"lambda-{function}-v{version}", kind="deploy", service=service.name, at=at, revision=version,
            previous_revision=str(int(version) - 1) if version.isdigit() and int(version) > 1 else None, sha=sha,
            author=who, description=f"Publish version {version} of {function}", source="lambda"))
    if "Alias" in name:
        alias = str(request.get("name") or response.get("name") or "")
        version = str(response.get("functionVersion") or request.get("functionVersion") or "")
        return FeedResult(ChangeEvent(
            id=f"lambda-{function}-alias-{alias}-v{version}", kind="deploy", service=service.name, at=at,
            revision=version, author=who, description=f"alias {alias} of {function} -> version {version}",
            source="lambda"))
    revision = str(response.get("revisionId") or detail.get("eventID") or "")[:8]
    if name.startswith("UpdateFunctionCode"):
        return FeedResult(ChangeEvent(
            id=f"lambda-{function}-code-{sha or revision}", kind="deploy", service=service.name, at=at,
            revision=str(response.get("version") or "$LATEST"), sha=sha, author=who,
            description=f"Update the code of {function} ($LATEST)", source="lambda"))
    return FeedResult(ChangeEvent(
        id=f"lambda-{function}-config-{revision}", kind="config", service=service.name, at=at, author=who,
        description=f"Update the configuration of {function}", source="lambda"))


def _ssm(detail: dict[str, Any], at: datetime, catalog: ServiceCatalog, config_paths: tuple[str, ...],
         lookups: FeedLookups) -> FeedResult:
    operation, name = detail.get("operation"), str(detail.get("name") or "")
    if operation not in ("Create", "Update"):
        return FeedResult(None, f"SSM {operation} of {name}: not a new value")
    prefix = next((p for p in config_paths if name.startswith(p)), None)
    if prefix is None:
        return FeedResult(None, f"SSM parameter {name} is outside the configuration paths")
    service_name = name[len(prefix):].split("/", 1)[0]
    if catalog.get(service_name) is None:
        return FeedResult(None, f"SSM parameter {name}: {service_name} is not a catalog service")
    version = lookups.parameter_version(name)
    leaf = name.rsplit("/", 1)[-1]
    return FeedResult(ChangeEvent(
        id=f"ssm-{service_name}-{leaf}-v{version}" if version else f"ssm-{service_name}-{leaf}-{at:%Y%m%dT%H%M%S}",
        kind="config", service=service_name, at=at, revision=str(version) if version else None,
        previous_revision=str(version - 1) if version and version > 1 else None,
        description=f"{operation} SSM parameter {name}", source="ssm"))


def _appconfig(kind: str, detail: dict[str, Any], at: datetime, catalog: ServiceCatalog) -> FeedResult:
    app = str((detail.get("Application") or {}).get("Name") or "")
    env = str((detail.get("Environment") or {}).get("Name") or "")
    profile = str((detail.get("ConfigurationProfile") or {}).get("Name") or "")
    if catalog.get(app) is None:
        return FeedResult(None, f"AppConfig application {app} is not a catalog service")
    number, version = detail.get("DeploymentNumber"), str(detail.get("ConfigurationVersion") or "")
    rollback = kind == "On Deployment Rollback"
    return FeedResult(ChangeEvent(
        id=f"appconfig-{app}-{env}-{number}" + ("-rollback" if rollback else ""), kind="config", service=app, at=at,
        revision=version or str(number),
        description=f"AppConfig deployment {app}/{env}: profile {profile} v{version}"
                    + (" (rolled back)" if rollback else ""), source="appconfig"))


def _who(detail: dict[str, Any]) -> str | None:
    identity = detail.get("userIdentity") or {}
    arn = str(identity.get("arn") or identity.get("principalId") or "")
    return arn.rsplit("/", 1)[-1] or None


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        at = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)
