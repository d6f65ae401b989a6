"""Per-account configuration, read from cdk.json's context and validated before any construct is built."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from watchkeeper.models.catalog import ServiceCatalog

REPO_ROOT = Path(__file__).resolve().parent.parent
CDK_JSON = REPO_ROOT / "cdk.json"


class ConfigError(ValueError):
    """The selected account's configuration is missing or invalid."""


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
    change_sources: list[Literal["journal", "kubernetes", "ecs", "lambda", "codedeploy", "ssm", "appconfig"]] = Field(
        default_factory=lambda: ["journal"], description="Where Gather evidence looks for recent deploys and config changes")

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
        return AccountConfig.model_validate(context_accounts[name])
    except ValidationError as error:
        raise ConfigError(f"invalid config for account '{name}' in cdk.json context 'accounts': {_describe(error)}") from None


def load_catalog(config: AccountConfig) -> Catalog:
    path = (REPO_ROOT / config.catalog).resolve()
    if not path.is_file():
        raise ConfigError(f"invalid config field 'catalog': {config.catalog} does not exist")
    from watchkeeper.domain.catalog import CatalogError, parse_catalog

    try:
        return parse_catalog(path.read_text(), strict=True)   # the synth refuses an inconsistent catalog
    except CatalogError as error:
        raise ConfigError(f"invalid service catalog {config.catalog}: {error}") from None
