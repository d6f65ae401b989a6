"""Configuration reaches the functions only through environment variables, read once."""
from __future__ import annotations

import json
import os
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, field_validator


# The journal (EventBridge-fed, always read) and the platforms Gather can ask directly.
CHANGE_SOURCE_NAMES = ("journal", "kubernetes", "ecs", "lambda", "codedeploy", "ssm", "appconfig")


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    account_name: str = "local"
    audit_table: str = ""
    state_table: str = ""
    report_bucket: str = ""
    page_topic_arn: str = ""
    approval_topic_arn: str = ""
    state_machine_arn: str = ""
    catalog_parameter: str = ""
    kill_switch_parameter: str = ""
    signing_secret_arn: str = ""
    webhook_secret_arn: str = ""
    slack_signing_secret_arn: str = ""   # SLACK_SIGNING_SECRET_ARN: read by the approvals API only
    slack_bot_token_arn: str = ""        # SLACK_BOT_TOKEN_ARN: the functions that post to Slack
    approver_arns: tuple[str, ...] = ()  # APPROVER_ARNS: IAM principals who may decide from the terminal
    # APPROVER_PEOPLE: JSON list of people, each the list of their identities (email, Slack user id, IAM
    # user, role session name or ARN): the four-eyes rule knows one person on every channel
    approver_people: tuple[tuple[str, ...], ...] = ()
    bedrock_model_id: str = ""
    dry_run: bool = False
    approvers: tuple[str, ...] = ()
    slack_channel: str = ""
    approval_api_url: str = ""
    approval_timeout_seconds: int = 900
    settle_seconds: int = 60
    start_executions: bool = True
    verify_wait_seconds: int = 60
    verify_max_attempts: int = 10
    kube_api_url: str = ""          # local only: the Kubernetes API simulator
    runbooks_dir: str = ""
    guardrails: str = ""            # GUARDRAILS: the account's guardrail policy as JSON (cdk.json `guardrails`)
    guardrails_parameter: str = ""  # GUARDRAILS_PARAMETER: or an SSM parameter holding that JSON
    large_log_groups: tuple[str, ...] = ()  # LARGE_LOG_GROUPS: read with Logs Insights from the start
    change_sources: tuple[str, ...] = ("journal",)  # CHANGE_SOURCES: where Gather looks for recent changes
    config_parameter_paths: tuple[str, ...] = ("/prod/",)  # CONFIG_PARAMETER_PATHS: the services' SSM configuration
    clock_offset_seconds: float = 0.0  # CLOCK_OFFSET_SECONDS: local only, scenario time minus wall time (clock.py)
    account_id: str = ""            # ACCOUNT_ID: for console links in the report
    dashboard_name: str = ""        # DASHBOARD_NAME: the CloudWatch dashboard the report links to
    metrics_file: str = ""          # METRICS_FILE: local only, where the agent's EMF metrics go instead of stdout

    @field_validator("change_sources", mode="before")
    @classmethod
    def _known_sources(cls, v: object) -> object:
        names = tuple(x.strip().lower() for x in v.split(",") if x.strip()) if isinstance(v, str) else tuple(v)
        unknown = [n for n in names if n not in CHANGE_SOURCE_NAMES]
        if unknown:
            raise ValueError(f"unknown change source(s) {', '.join(unknown)}; known: {', '.join(CHANGE_SOURCE_NAMES)}")
        return names or ("journal",)

    @field_validator("approver_people", mode="before")
    @classmethod
    def _people(cls, v: object) -> object:
        if isinstance(v, str):
            v = json.loads(v) if v.strip() else []
        return tuple(tuple(str(i) for i in person) for person in (v or ()))

    @field_validator("approvers", "large_log_groups", "approver_arns", "config_parameter_paths", mode="before")
    @classmethod
    def _split(cls, v: object) -> object:
        if isinstance(v, str):
            return tuple(x.strip() for x in v.split(",") if x.strip())
        return v

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Settings":
        env = dict(os.environ if env is None else env)
        values = {}
        for name in cls.model_fields:
            key = "WATCHKEEPER_ACCOUNT_NAME" if name == "account_name" else (
                "WATCHKEEPER_KUBE_URL" if name == "kube_api_url" else name.upper())
            if key in env:
                raw = env[key]
                if cls.model_fields[name].annotation is bool:
                    values[name] = raw.strip().lower() in ("1", "true", "yes", "on")
                else:
                    values[name] = raw
        return cls(**values)


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings.from_env()
