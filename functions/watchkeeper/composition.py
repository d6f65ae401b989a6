"""The composition root: settings -> adapters -> services. The only place that wires.

Adapters and services are imported where they are built: a function's cold start loads only what
that function uses (the ingest function never loads the executors, Classify never loads Slack).
"""
from __future__ import annotations

import json
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable

from .settings import Settings, settings as env_settings

if TYPE_CHECKING:
    from .adapters.aws_session import Session
    from .adapters.dynamodb_audit import DynamoDBAuditLog
    from .adapters.dynamodb_state import DynamoDBIncidentStore
    from .adapters.executors import PlatformExecutors
    from .adapters.messaging import SsmSettings, StepFunctionsStarter
    from .adapters.slack import SlackNotifier
    from .approvals import ApprovalChannels
    from .domain.guardrails import GuardrailConfig
    from .domain.ingest import Ingestor
    from .models import ServiceCatalog
    from .ports import ChangeSource
    from .steps import Steps


def load_catalog(document: str | None) -> ServiceCatalog:
    """A catalog from its JSON or YAML document; every bad field is a clear error naming it.
    Inconsistencies (a dependency the catalog does not list) are logged, not fatal, at run time."""
    import logging

    from .domain.catalog import parse_catalog
    return parse_catalog(document, strict=False, warn=logging.getLogger(__name__).warning)


class Container:
    """Adapters built once per Lambda container (module scope), from one Settings."""

    def __init__(self, cfg: Settings, session: Session | None = None):
        self.cfg = cfg
        self.session = session or default_session()

    def client(self, name: str) -> Any:
        return _client(self.session, name)

    @property
    def clock(self) -> Any:
        """The one clock of this function: the wall clock, or the scenario's in replay (CLOCK_OFFSET_SECONDS)."""
        from .clock import clock_with_offset
        return clock_with_offset(self.cfg.clock_offset_seconds)

    def agent_metrics(self) -> Any:
        """Watchkeeper's own metrics (EMF through Powertools), dimensioned by account and service."""
        if not hasattr(self, "_agent_metrics"):
            from .agent_metrics import AgentMetrics, file_sink
            self._agent_metrics = AgentMetrics(self.cfg.account_name, clock=self.clock,
                                               sink=file_sink(self.cfg.metrics_file) if self.cfg.metrics_file else None)
        return self._agent_metrics

    @property
    def ssm(self) -> SsmSettings:
        from .adapters.messaging import SsmSettings
        return SsmSettings(self.cfg.catalog_parameter, self.cfg.kill_switch_parameter, self.client("ssm"))

    @property
    def catalog(self) -> ServiceCatalog:
        if not hasattr(self, "_catalog"):
            self._catalog = load_catalog(self.ssm.catalog_document())
        return self._catalog

    def store(self) -> DynamoDBIncidentStore:
        from .adapters.dynamodb_state import DynamoDBIncidentStore
        return DynamoDBIncidentStore(self.cfg.state_table, self.client("dynamodb"))

    def audit(self) -> DynamoDBAuditLog:
        from .adapters.dynamodb_audit import DynamoDBAuditLog
        return DynamoDBAuditLog(self.cfg.audit_table, self.client("dynamodb"), clock=self.clock)

    def starter(self) -> StepFunctionsStarter:
        from .adapters.messaging import StepFunctionsStarter
        return StepFunctionsStarter(self.cfg.state_machine_arn, self.client("stepfunctions"))

    def ingestor(self) -> Ingestor:
        """Built once per container: its service resolver (catalog index and name cache) serves every batch."""
        if not hasattr(self, "_ingestor"):
            from .domain.ingest import Ingestor
            self._ingestor = Ingestor(
                self.store(), self.starter(),
                self.catalog, settle_seconds=self.cfg.settle_seconds, start_executions=self.cfg.start_executions)
        return self._ingestor

    def guardrails(self) -> GuardrailConfig:
        """The account's guardrail policy: GUARDRAILS (env JSON), else GUARDRAILS_PARAMETER (SSM), else defaults."""
        from .domain.guardrails import GuardrailConfig
        document = self.cfg.guardrails
        if not document and self.cfg.guardrails_parameter:
            document = self.client("ssm").get_parameter(Name=self.cfg.guardrails_parameter)["Parameter"]["Value"]
        return GuardrailConfig.parse(document or None)

    def signing_key(self) -> bytes:
        """The current approval-link key (the one new links are signed with)."""
        return self.signing_keys()[0]

    def signing_keys(self) -> tuple[bytes, ...]:
        """The approval-link keys, read once per container (only the approval functions may read
        them): the current one, and during a rotation the previous one. The secret is a bare key
        or JSON {"current": ..., "previous": ...}."""
        if not hasattr(self, "_signing_keys"):
            if not self.cfg.signing_secret_arn:
                self._signing_keys = (b"local-development-signing-key",)
            else:
                raw = self._secret(self.cfg.signing_secret_arn)
                doc = _json_object(raw)
                keys = [doc.get("current"), doc.get("previous")] if doc else [raw]
                self._signing_keys = tuple(str(k).encode() for k in keys if k)
        return self._signing_keys

    def slack_signing_secrets(self) -> tuple[str, ...]:
        """Slack's signing secret (two during a rotation), from its own secret: no fallback to
        any other secret. JSON {"signing_secret": "..." | ["new", "old"]} or a bare string."""
        if not hasattr(self, "_slack_signing"):
            from .domain.webhook_auth import secrets_for
            raw = self._secret(self.cfg.slack_signing_secret_arn) if self.cfg.slack_signing_secret_arn else ""
            doc = _json_object(raw)
            self._slack_signing = secrets_for("signing_secret", doc if doc else {"signing_secret": raw})
        return self._slack_signing

    def slack_bot_token(self) -> str:
        """The Slack bot token (posting only), from its own secret."""
        if not hasattr(self, "_slack_bot_token"):
            raw = self._secret(self.cfg.slack_bot_token_arn) if self.cfg.slack_bot_token_arn else ""
            doc = _json_object(raw)
            self._slack_bot_token = str(doc.get("bot_token") or "") if doc else raw.strip()
        return self._slack_bot_token

    def _secret(self, arn: str) -> str:
        return self.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]

    def slack(self) -> SlackNotifier:
        """Slack through slack_sdk's WebClient; with no bot token (locally) a notifier that only logs."""
        from .adapters.slack import SlackNotifier
        token = self.slack_bot_token()
        client = None
        if token and self.cfg.slack_channel:
            from slack_sdk import WebClient
            client = WebClient(token=token, timeout=5)
        return SlackNotifier(client, self.cfg.slack_channel)

    def approval_channels(self) -> ApprovalChannels:
        from .adapters.messaging import SnsApprovalNotifier
        from .approvals import ApprovalChannels
        email = SnsApprovalNotifier(self.cfg.approval_topic_arn, self.client("sns")) if self.cfg.approval_topic_arn else None
        return ApprovalChannels(email=email, slack=self.slack())

    def executor(self) -> PlatformExecutors:
        from .adapters.changes import ChangeJournal
        from .adapters.executors import (
            AutoScalingExecutor, CodeDeployExecutor, ConfigExecutor, DiskCleanupExecutor, EcsExecutor,
            KubernetesExecutor, LambdaExecutor, PlatformExecutors,
        )
        # by id: the change feed's records and the changes Gather found on the platforms
        lookup = ChangeJournal(self.cfg.state_table, self.client("dynamodb")).get

        def client(name: str) -> Any:     # a plan touches one or two platforms: build only their clients
            return _Lazy(lambda: self.client(name))

        return PlatformExecutors(
            {"eks": KubernetesExecutor(self.kubernetes_for), "ecs": EcsExecutor(client("ecs")),
             "lambda": LambdaExecutor(client("lambda")), "ec2": AutoScalingExecutor(client("autoscaling"))},
            config=ConfigExecutor(lookup, ssm=client("ssm"), appconfig=client("appconfig")),
            disk=DiskCleanupExecutor(client("ssm")), codedeploy=CodeDeployExecutor(client("codedeploy")))

    def kubernetes_for(self, cluster: str):
        from .adapters.kubernetes_actions import KubernetesActions
        if self.cfg.kube_api_url:
            from kubernetes import client as k8s
            conf = k8s.Configuration(host=self.cfg.kube_api_url)
            conf.api_key = {"authorization": "Bearer local-simulator"}
            return KubernetesActions(configuration=conf, settle_timeout=5.0, poll_interval=0.05)
        return KubernetesActions.for_eks(cluster, self.session.region_name, self.session)

    def change_source(self) -> ChangeSource:
        """The journal, plus the platforms named in CHANGE_SOURCES, merged (the journal wins a tie)."""
        from .adapters.change_sources import (
            AppConfigDeployments, CodeDeployDeployments, CompositeChangeSource, EcsDeployments, KubernetesRolloutHistory,
            LambdaVersions, SsmParameterHistory,
        )
        from .adapters.changes import ChangeJournal
        journal = ChangeJournal(self.cfg.state_table, self.client("dynamodb"))
        named = [n for n in dict.fromkeys(self.cfg.change_sources) if n != "journal"]
        if not named:
            return journal
        build = {
            "kubernetes": lambda: KubernetesRolloutHistory(self.catalog, lambda cluster: self.kubernetes_for(cluster).apps),
            "ecs": lambda: EcsDeployments(self.catalog, self.client("ecs")),
            "lambda": lambda: LambdaVersions(self.catalog, self.client("lambda")),
            "codedeploy": lambda: CodeDeployDeployments(self.catalog, self.client("codedeploy")),
            "ssm": lambda: SsmParameterHistory(self.catalog, self.client("ssm")),
            "appconfig": lambda: AppConfigDeployments(self.catalog, self.client("appconfig")),
        }
        return CompositeChangeSource([journal, *(build[n]() for n in named)], remember=journal)

    def steps(self) -> Steps:
        from .adapters.cloudwatch import CloudWatchAlarms, CloudWatchLogSource, CloudWatchMetricSource
        from .adapters.cluster_state import KubernetesClusterState
        from .adapters.dynamodb_rate_limits import DynamoDBRateLimits, DynamoDBWriteLedger
        from .adapters.dynamodb_templates import DynamoDBTemplateStates
        from .adapters.messaging import S3ReportStore, SnsPager
        from .domain import runbooks as runbook_engine
        from .domain.evidence import EvidenceGatherer
        from .domain.report import ConsoleLinks
        from .steps import Steps
        dynamodb = self.client("dynamodb")
        metrics = CloudWatchMetricSource(self.catalog, self.client("cloudwatch"))
        gatherer = EvidenceGatherer(self.catalog, CloudWatchLogSource(self.client("logs"), large_groups=self.cfg.large_log_groups), metrics,
                                    self.change_source(),
                                    cluster=KubernetesClusterState(self.kubernetes_for),
                                    templates=DynamoDBTemplateStates(self.cfg.state_table, dynamodb)
                                    if self.cfg.state_table else None, memory=self.memory())
        refiner = None
        if self.cfg.bedrock_model_id:
            from .adapters.bedrock import BedrockAnalyzer
            from botocore.config import Config
            client = self.session.client("bedrock-runtime", config=Config(read_timeout=30, connect_timeout=5,
                                                                          retries={"max_attempts": 2, "mode": "standard"}))
            refiner = BedrockAnalyzer(self.cfg.bedrock_model_id, client,
                                      known_services=tuple(s.name for s in self.catalog.services))
        runbooks = runbook_engine.load_runbooks(runbook_engine.default_dir() if not self.cfg.runbooks_dir
                                                else __import__("pathlib").Path(self.cfg.runbooks_dir))
        return Steps(
            catalog=self.catalog, store=self.store(), audit=self.audit(), gatherer=gatherer,
            pager=SnsPager(self.cfg.page_topic_arn, self.client("sns")),
            reports=S3ReportStore(self.cfg.report_bucket, self.client("s3")),
            alarms=CloudWatchAlarms(self.client("cloudwatch")), kill_switch=self.ssm, approvals=self.store(),
            # built on first use: only the functions that notify or sign may read those secrets, and the
            # executors' clients are not every step's cold start
            notifier=_Lazy(self.approval_channels), executor=_Lazy(self.executor),
            refiner=refiner, metrics=metrics, runbooks=runbooks, dry_run=self.cfg.dry_run, signing_key=self.signing_key,
            approval_url=self.cfg.approval_api_url, approval_timeout_seconds=self.cfg.approval_timeout_seconds,
            approvers=self.cfg.approvers, region=self.session.region_name or "",
            verify_wait_seconds=self.cfg.verify_wait_seconds, verify_max_attempts=self.cfg.verify_max_attempts,
            guardrails=self.guardrails(),
            rate_limits=DynamoDBRateLimits(self.cfg.state_table, dynamodb) if self.cfg.state_table else None,
            ledger=DynamoDBWriteLedger(self.cfg.state_table, dynamodb) if self.cfg.state_table else None,
            clock=self.clock,
            links=ConsoleLinks(region=self.session.region_name or "", account_id=self.cfg.account_id,
                               dashboard=self.cfg.dashboard_name),
            memory=self.memory(),
        )

    def memory(self) -> Any:
        """The account's incident memory (MEMORY# items on the state table), or None without a table."""
        from .adapters.dynamodb_memory import DynamoDBIncidentMemory
        return DynamoDBIncidentMemory(self.cfg.state_table, self.client("dynamodb")) if self.cfg.state_table else None


def _json_object(raw: str) -> dict[str, Any]:
    try:
        doc = json.loads(raw) if raw and raw.lstrip().startswith("{") else {}
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


class _Lazy:
    """An adapter built when first used."""

    def __init__(self, build: Any):
        self._build, self._built = build, None

    def __getattr__(self, name: str) -> Any:
        if self._built is None:
            self._built = self._build()
        return getattr(self._built, name)


_CLIENTS: dict[tuple[int, str], Any] = {}
_SESSION: Session | None = None


def default_session() -> Session:
    """One session per process: its loaders and endpoint data are read once."""
    global _SESSION
    if _SESSION is None:
        from .adapters.aws_session import Session

        _SESSION = Session()
    return _SESSION


def use_session(session: Session | None) -> None:
    """Share a session (the local runtime's) with the composition root."""
    global _SESSION
    _SESSION = session


def _client(session: Session, name: str) -> Any:
    key = (id(session), name)
    if key not in _CLIENTS:
        _utc_timestamps(session)
        _CLIENTS[key] = session.client(name)
    return _CLIENTS[key]


def _utc_timestamps(session: Session) -> None:
    """Epoch timestamps in responses (GetMetricData's datapoints, ...) become UTC datetimes directly:
    botocore converts each through dateutil's tzlocal, about ten times slower, and Lambda's local
    zone is UTC anyway. Text timestamps are parsed by botocore as before."""
    from datetime import datetime, timezone

    from botocore.utils import parse_timestamp

    def parse(value: Any) -> datetime:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, timezone.utc)
        return parse_timestamp(value)

    session._session.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=parse)


_CONTAINERS: Callable[[], Container | None] | None = None


def use_containers(provider: Callable[[], Container | None] | None) -> None:
    """Let the local runtime give each function its own container (its own environment and
    credentials); None outside a handler falls back to the process's."""
    global _CONTAINERS
    _CONTAINERS = provider


def container() -> Container:
    """The container of this Lambda runtime (in the local runtime: of the function being dispatched)."""
    if _CONTAINERS is not None:
        built = _CONTAINERS()
        if built is not None:
            return built
    return _process_container()


@lru_cache(maxsize=1)
def _process_container() -> Container:
    return Container(env_settings())


container.cache_clear = _process_container.cache_clear  # type: ignore[attr-defined]
