"""Per-account configuration, read from cdk.json's context and validated before any construct is built."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from watchkeeper.models.catalog import ServiceCatalog

REPO_ROOT = Path(__file__).resolve().parent.parent
CDK_JSON = REPO_ROOT / "cdk.json"


class ConfigError(ValueError):
    """The selected account's configuration is missing or invalid."""


EMULATOR_ACCOUNT_ID = "123456789012"       # moto's (and the AWS docs') account: the local and test entries
CURRENT_MODEL_EXAMPLE = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
# Bedrock model versions past their end of life on Amazon Bedrock (model lifecycle page, checked 2026-11):
# calls to them fail with "The provided model identifier is invalid". Extend as models retire.
RETIRED_MODELS = {
    "anthropic.claude-v2": date(2025, 7, 21),
    "anthropic.claude-v2:1": date(2025, 7, 21),
    "anthropic.claude-instant-v1": date(2025, 7, 21),
    "anthropic.claude-3-sonnet-20240229-v1:0": date(2025, 7, 21),
    "anthropic.claude-3-5-sonnet-20240620-v1:0": date(2025, 10, 22),
    "anthropic.claude-3-5-sonnet-20241022-v2:0": date(2025, 10, 22),
    "anthropic.claude-3-opus-20240229-v1:0": date(2026, 1, 15),
    "anthropic.claude-3-7-sonnet-20250219-v1:0": date(2026, 4, 28),
}
_GEO = ("us", "eu", "apac", "us-gov", "jp", "au", "ca", "global")
_MODEL_ID = re.compile(r"^(?:(?:" + "|".join(re.escape(g) for g in _GEO) + r")\.)?[a-z0-9-]+\.[a-z0-9][a-z0-9.\-]*(?::\d+)?$")
_PLACEHOLDER_EMAIL = re.compile(r"@(?:[^@]+\.)?(?:example\.(?:com|org|net)|[^@.]+\.(?:example|test|invalid|localhost))$", re.I)
_PLACEHOLDER_SLACK = re.compile(r"(0123|0456|ABCD|EFGH|XXXX|0000)", re.I)


def model_problem(model_id: str, today: date | None = None) -> str | None:
    """Why a Bedrock model id cannot be used (implausible, or past its end of life), or None."""
    if model_id.startswith("arn:"):
        return None if re.match(r"^arn:aws[a-z-]*:bedrock:[a-z0-9-]*:\d{12}?:(inference-profile|application-"
                                r"inference-profile|provisioned-model|custom-model)/.+$", model_id) else (
            f"'{model_id}' is not a Bedrock model, inference profile or provisioned model ARN")
    if not _MODEL_ID.match(model_id):
        return (f"'{model_id}' is not a Bedrock model id (provider.model-version[:n], optionally with a "
                f"cross-region prefix such as 'us.'), e.g. {CURRENT_MODEL_EXAMPLE}")
    base = model_id.split(".", 1)[1] if model_id.split(".", 1)[0] in _GEO else model_id
    retired = RETIRED_MODELS.get(base)
    if retired and retired <= (today or date.today()):
        return (f"'{model_id}' reached end of life on Amazon Bedrock on {retired:%Y-%m-%d}: every call would fail; "
                f"use a current model, e.g. {CURRENT_MODEL_EXAMPLE}")
    return None


def placeholder_approvers(approvers: list[str]) -> list[str]:
    """Approvers that are documentation examples, not people (example.com addresses, U0123ABCD ids)."""
    return [a for a in approvers if (_PLACEHOLDER_EMAIL.search(a) if "@" in a else _PLACEHOLDER_SLACK.search(a))]


# A deployed account's change sources: the journal the change feed writes, and the platforms themselves.
LIVE_CHANGE_SOURCES = ("journal", "kubernetes", "ecs", "lambda", "codedeploy", "ssm", "appconfig")


class AccountConfig(BaseModel):
    """One entry of cdk.json context `accounts`; a typo is an error, not a silent default."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    account_id: str = Field(pattern=r"^\d{12}$")
    region: str = Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    approvers: list[str] = Field(min_length=1)
    slack_channel: str = Field(min_length=1)
    catalog: str = Field(min_length=1, description="Path of the service catalog YAML, relative to the repo root")
    bedrock_model_id: str | None = None
    dry_run: bool
    approval_timeout_seconds: int = Field(ge=1, le=31_536_000)
    settle_seconds: int = Field(ge=0, le=3600)
    retry_interval_seconds: int = Field(ge=1, le=300)
    verify_wait_seconds: int = Field(ge=0, le=3600)
    verify_max_attempts: int = Field(ge=1, le=100)
    alarm_email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+$")
    reserved_concurrency: int | None = Field(
        default=None, ge=1, description="Reserved concurrency of Execute actions (caps parallel remediations)"
    )
    config_parameter_paths: list[str] = Field(
        default_factory=lambda: ["/prod/"],
        description="SSM Parameter Store paths of the services' configuration (config reverts may write there)")
    guardrails: dict[str, Any] = Field(default_factory=dict, description="Guardrail policy: defaults and per-service")
    approver_arns: list[str] = Field(
        default_factory=list, description="IAM users/roles allowed to decide with `watchkeeper approve|reject` "
                                          "(checked against the caller's IAM identity)")
    people: list[list[str]] = Field(
        default_factory=list,
        description="Each approver's identities on every channel (email, Slack user id, IAM user, role session "
                    "name or ARN), one list per person: the four-eyes rule (`four_eyes: true` on a catalog "
                    "service) then knows the author of a change on whichever channel they answer")
    change_sources: list[Literal["journal", "kubernetes", "ecs", "lambda", "codedeploy", "ssm", "appconfig"]] = Field(
        default_factory=lambda: list(LIVE_CHANGE_SOURCES),
        description="Where Gather evidence looks for recent deploys and config changes: by default the journal "
                    "(fed by the change feed) and every platform, asked directly")

    @field_validator("bedrock_model_id")
    @classmethod
    def _current_model(cls, value: str | None) -> str | None:
        problem = model_problem(value) if value else None
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("config_parameter_paths")
    @classmethod
    def _config_paths_exclude_watchkeeper(cls, paths: list[str]) -> list[str]:
        """Config reverts may write under these paths: never over Watchkeeper's own parameters (the kill
        switch, the catalog), which live under /watchkeeper/."""
        for path in paths:
            if not (path.startswith("/") and path.endswith("/") and len(path) > 1):
                raise ValueError(f"'{path}' must be a parameter path like '/prod/' (leading and trailing '/', not '/')")
            if "/watchkeeper/".startswith(path) or path.startswith("/watchkeeper/"):
                raise ValueError(f"'{path}' covers Watchkeeper's own parameters under /watchkeeper/ (the kill "
                                 "switch, the catalog): a config revert could write them")
        return paths

    @field_validator("guardrails")
    @classmethod
    def _valid_guardrails(cls, value: dict[str, Any]) -> dict[str, Any]:
        from watchkeeper.domain.guardrails import GuardrailConfig

        GuardrailConfig.model_validate(value)
        return value


# The catalog is the functions' own model: one definition of a service, validated the same way everywhere.
Catalog = ServiceCatalog


def load_cdk_json_context(path: Path = CDK_JSON) -> dict[str, Any]:
    """The `context` of cdk.json: plain `python -m infra.app` does not read cdk.json, so we do."""
    return dict(json.loads(path.read_text()).get("context", {}))


def _describe(error: ValidationError) -> str:
    parts = []
    for err in error.errors():
        field = ".".join(str(p) for p in err["loc"]) or "<entry>"
        parts.append(f"field '{field}': {err['msg']}")
    return "; ".join(parts)


def select_account(context_accounts: Any, name: str) -> AccountConfig:
    """Validate and return the entry `name` of the `accounts` context."""
    if not isinstance(context_accounts, dict) or not context_accounts:
        raise ConfigError("cdk.json context 'accounts' is missing or empty")
    if name not in context_accounts:
        known = ", ".join(sorted(context_accounts))
        raise ConfigError(f"unknown account '{name}': cdk.json context 'accounts' defines {known}")
    try:
        config = AccountConfig.model_validate(context_accounts[name])
    except ValidationError as error:
        raise ConfigError(f"invalid config for account '{name}' in cdk.json context 'accounts': {_describe(error)}") from None
    placeholders = placeholder_approvers(config.approvers)
    if placeholders and config.account_id != EMULATOR_ACCOUNT_ID:
        raise ConfigError(
            f"invalid config for account '{name}' in cdk.json context 'accounts': field 'approvers': "
            f"{', '.join(placeholders)} {'is a placeholder' if len(placeholders) == 1 else 'are placeholders'}; "
            "name the real people (email addresses, Slack user ids) who may approve writes in this account")
    return config


def load_catalog(config: AccountConfig) -> Catalog:
    path = (REPO_ROOT / config.catalog).resolve()
    if not path.is_file():
        raise ConfigError(f"invalid config field 'catalog': {config.catalog} does not exist")
    from watchkeeper.domain.catalog import CatalogError, parse_catalog

    try:
        return parse_catalog(path.read_text(), strict=True)   # the synth refuses an inconsistent catalog
    except CatalogError as error:
        raise ConfigError(f"invalid service catalog {config.catalog}: {error}") from None
