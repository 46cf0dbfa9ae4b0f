"""The one validated settings object, read from the environment.

In Azure the environment is the Function App's app settings; locally it is the ``Values`` of
``local.settings.json`` (the local host exports them). Nothing is read at import: the first
call to :func:`get_settings` validates everything and fails with the names of the bad keys.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from enum import StrEnum
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import EmailStr, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.domain.catalog import RegionCatalog, RegionEntry, describe_validation_error
from shared.domain.errors import ConfigurationError

# Settings that only the local stack uses; in Azure they stay unset (managed identity, the
# catalog from CLEARANCE_CATALOG_JSON, TLS from public CAs).
LOCAL_ONLY_SETTINGS = frozenset(
    {
        "CLEARANCE_CATALOG_FILE",
        "CLEARANCE_DIRECTORY_FILE",
        "CLEARANCE_STORAGE_CONNECTION_STRING",
        "CLEARANCE_STORAGE_API_VERSION",
        "CLEARANCE_SERVICEBUS_CONNECTION_STRING",
        "CLEARANCE_REGISTRY_CA_FILE",
        "CLEARANCE_REGISTRY_ANONYMOUS",
        "CLEARANCE_SMTP_HOST",
        "CLEARANCE_SMTP_PORT",
        # the local registries' htpasswd login and the stand-in for Azure ML's registrants
        "CLEARANCE_REGISTRY_USERNAME",
        "CLEARANCE_REGISTRY_PASSWORD",
        "CLEARANCE_AML_REGISTRANTS_DIR",
        # the local checkpoint key pair (in Azure: the Key Vault key CLEARANCE_CHECKPOINT_KEY_ID)
        "CLEARANCE_CHECKPOINT_KEY_FILE",
        "CLEARANCE_CHECKPOINT_PUBLIC_KEY_FILE",
        "CLEARANCE_TIMERS_RUN_ON_STARTUP",
        # spans (JSONL) and the Prometheus target files of the local stack's hosts
        "CLEARANCE_TELEMETRY_DIR",
    }
)


class BusKind(StrEnum):
    SERVICE_BUS = "servicebus"
    STORAGE_QUEUE = "storage-queue"


class MailKind(StrEnum):
    ACS = "acs"
    SMTP = "smtp"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_ignore_empty=True, extra="ignore", frozen=True, populate_by_name=False
    )

    region: str = Field(validation_alias="CLEARANCE_REGION", pattern=r"^[a-z][a-z0-9]{2,40}$")
    catalog_json: str | None = Field(default=None, validation_alias="CLEARANCE_CATALOG_JSON")
    catalog_file: Path | None = Field(default=None, validation_alias="CLEARANCE_CATALOG_FILE")
    bus_kind: BusKind = Field(default=BusKind.SERVICE_BUS, validation_alias="CLEARANCE_BUS_KIND")
    storage_connection_string: SecretStr | None = Field(
        default=None, validation_alias="CLEARANCE_STORAGE_CONNECTION_STRING"
    )
    storage_api_version: str | None = Field(
        default=None,
        validation_alias="CLEARANCE_STORAGE_API_VERSION",
        pattern=r"^\d{4}-\d{2}-\d{2}$",
    )
    servicebus_connection_string: SecretStr | None = Field(
        default=None, validation_alias="CLEARANCE_SERVICEBUS_CONNECTION_STRING"
    )
    registry_ca_file: Path | None = Field(
        default=None, validation_alias="CLEARANCE_REGISTRY_CA_FILE"
    )
    registry_anonymous: bool = Field(default=False, validation_alias="CLEARANCE_REGISTRY_ANONYMOUS")
    # A registry without a token service (the local docker-registry with htpasswd users).
    registry_username: str | None = Field(
        default=None, validation_alias="CLEARANCE_REGISTRY_USERNAME"
    )
    registry_password: SecretStr | None = Field(
        default=None, validation_alias="CLEARANCE_REGISTRY_PASSWORD"
    )
    managed_identity_client_id: str | None = Field(
        default=None, validation_alias="CLEARANCE_MANAGED_IDENTITY_CLIENT_ID"
    )
    mail_kind: MailKind = Field(default=MailKind.ACS, validation_alias="CLEARANCE_MAIL_KIND")
    mail_sender: EmailStr | None = Field(default=None, validation_alias="CLEARANCE_MAIL_SENDER")
    acs_endpoint: str | None = Field(
        default=None, validation_alias="CLEARANCE_ACS_ENDPOINT", pattern=r"^https://\S+$"
    )
    smtp_host: str | None = Field(default=None, validation_alias="CLEARANCE_SMTP_HOST")
    smtp_port: int = Field(default=25, ge=1, le=65535, validation_alias="CLEARANCE_SMTP_PORT")
    platform_email: EmailStr | None = Field(
        default=None, validation_alias="CLEARANCE_PLATFORM_EMAIL"
    )
    link_signing_keys_json: SecretStr | None = Field(
        default=None, validation_alias="CLEARANCE_LINK_SIGNING_KEYS"
    )
    teams_webhook_url: SecretStr | None = Field(
        default=None, validation_alias="CLEARANCE_TEAMS_WEBHOOK_URL"
    )
    # Where approver groups are resolved: Microsoft Graph (managed identity, GroupMember.Read.All),
    # a local JSON document (the local stack), or nowhere (group members are then not mailed).
    directory_kind: Literal["graph", "file", "none"] = Field(
        default="graph", validation_alias="CLEARANCE_DIRECTORY_KIND"
    )
    directory_file: Path | None = Field(default=None, validation_alias="CLEARANCE_DIRECTORY_FILE")
    # Rejection mails to one address: the first goes out, the rest wait for one digest after
    # this many seconds (0: every mail goes out at once).
    mail_digest_window_seconds: int = Field(
        default=300, ge=0, le=86400, validation_alias="CLEARANCE_MAIL_DIGEST_WINDOW_SECONDS"
    )
    # Locally: a directory standing in for Azure ML's record of who registered each model.
    aml_registrants_dir: Path | None = Field(
        default=None, validation_alias="CLEARANCE_AML_REGISTRANTS_DIR"
    )
    # The Entra tenant signed-in approvers must belong to (the Easy Auth principal's ``tid``).
    tenant_id: str | None = Field(
        default=None, validation_alias="CLEARANCE_TENANT_ID", pattern=r"^[0-9a-fA-F-]{36}$"
    )
    # Bake times and analysis intervals are multiplied by this (locally 1/60: a minute is a
    # second); 1 in Azure.
    deploy_time_scale: float = Field(
        default=1.0, gt=0, le=1, validation_alias="CLEARANCE_DEPLOY_TIME_SCALE"
    )
    timers_run_on_startup: bool = Field(
        default=False, validation_alias="CLEARANCE_TIMERS_RUN_ON_STARTUP"
    )
    # Azure DevOps checks: the shared secret of the check (a Key Vault reference in Azure) and
    # the organisation URLs a PlanUrl may name (comma-separated, such as
    # https://dev.azure.com/contoso/); without both the endpoint answers 503.
    ado_check_secret: SecretStr | None = Field(
        default=None, validation_alias="CLEARANCE_ADO_CHECK_SECRET"
    )
    ado_organizations: str = Field(default="", validation_alias="CLEARANCE_ADO_ORGANIZATIONS")
    checkpoint_key_id: str | None = Field(
        default=None,
        validation_alias="CLEARANCE_CHECKPOINT_KEY_ID",
        pattern=r"^https://[A-Za-z0-9.-]+/keys/[A-Za-z0-9-]+/?$",
    )
    checkpoint_key_file: Path | None = Field(
        default=None, validation_alias="CLEARANCE_CHECKPOINT_KEY_FILE"
    )
    checkpoint_public_key_file: Path | None = Field(
        default=None, validation_alias="CLEARANCE_CHECKPOINT_PUBLIC_KEY_FILE"
    )

    @model_validator(mode="after")
    def _one_catalog_source(self) -> Settings:
        if (self.catalog_json is None) == (self.catalog_file is None):
            raise ValueError("set exactly one of CLEARANCE_CATALOG_JSON or CLEARANCE_CATALOG_FILE")
        if self.bus_kind is BusKind.STORAGE_QUEUE and self.storage_connection_string is None:
            raise ValueError(
                "CLEARANCE_BUS_KIND=storage-queue needs CLEARANCE_STORAGE_CONNECTION_STRING"
            )
        return self

    @cached_property
    def catalog(self) -> RegionCatalog:
        if self.catalog_json is not None:
            key, raw = "CLEARANCE_CATALOG_JSON", self.catalog_json
        else:
            assert self.catalog_file is not None
            key = "CLEARANCE_CATALOG_FILE"
            try:
                raw = self.catalog_file.read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigurationError(f"{key}: cannot read {self.catalog_file}: {exc}") from exc
        return load_catalog(raw, source=key)

    def link_signing_keys(self) -> dict[str, bytes]:
        """``{key id: secret}``; the greatest key id signs, every key verifies."""
        key = "CLEARANCE_LINK_SIGNING_KEYS"
        if self.link_signing_keys_json is None:
            raise ConfigurationError(f"{key}: missing (needed to sign approval links)")
        try:
            doc = json.loads(self.link_signing_keys_json.get_secret_value())
        except json.JSONDecodeError as exc:
            raise ConfigurationError(f"{key}: not a JSON object of key id -> secret") from exc
        if not isinstance(doc, dict) or not doc:
            raise ConfigurationError(f"{key}: not a JSON object of key id -> secret")
        keys = {}
        for kid, secret in doc.items():
            if not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", str(kid)):
                raise ConfigurationError(f"{key}: key id {kid!r} must be 1-32 of [A-Za-z0-9_-]")
            if not isinstance(secret, str) or len(secret) < 32:
                raise ConfigurationError(f"{key}: the secret of {kid!r} needs 32+ characters")
            keys[str(kid)] = secret.encode("utf-8")
        return keys

    @cached_property
    def cell(self) -> RegionEntry:
        """This cell's own region entry."""
        if not self.catalog.has_region(self.region):
            raise ConfigurationError(
                f"CLEARANCE_REGION: {self.region!r} is not in the region catalog "
                f"(catalog regions: {', '.join(self.catalog.region_names)})"
            )
        return self.catalog.region(self.region)


def load_catalog(raw: str, *, source: str = "catalog") -> RegionCatalog:
    """Parse a catalog document (JSON, or YAML when PyYAML can read it)."""
    try:
        data: Any = json.loads(raw)
    except json.JSONDecodeError:
        import yaml

        try:
            data = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            raise ConfigurationError(f"{source}: neither valid JSON nor YAML: {exc}") from exc
    try:
        return RegionCatalog.model_validate(data)
    except ValidationError as exc:
        details = "; ".join(describe_validation_error(exc))
        raise ConfigurationError(f"{source}: invalid region catalog: {details}") from exc


def _describe(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = err.get("loc") or ()
        key = str(loc[0]) if loc else "settings"
        what = "missing" if err.get("type") == "missing" else err.get("msg", "invalid")
        lines.append(f"{key}: {what}")
    return "; ".join(lines)


def build_settings(environ: dict[str, str] | None = None) -> Settings:
    """Validate settings from ``environ`` (default: the process environment)."""
    env = dict(os.environ if environ is None else environ)
    try:
        # pydantic-settings reads os.environ; pass the mapping explicitly for testability.
        values = {k: v for k, v in env.items() if k.startswith("CLEARANCE_") and v != ""}
        return Settings.model_validate(values)
    except ValidationError as exc:
        raise ConfigurationError(f"invalid Clearance settings: {_describe(exc)}") from exc


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, validated on first use."""
    return build_settings()


def timers_run_on_startup(environ: Mapping[str, str] | None = None) -> bool:
    """``run_on_startup`` for timer triggers, read at import (decorators), so from the raw
    environment: only when CLEARANCE_TIMERS_RUN_ON_STARTUP is true and never in Azure (the
    Functions host sets WEBSITE_INSTANCE_ID), where it would fire on every scale-out."""
    env = os.environ if environ is None else environ
    if env.get("WEBSITE_INSTANCE_ID"):
        return False
    return env.get("CLEARANCE_TIMERS_RUN_ON_STARTUP", "").strip().lower() in ("1", "true", "yes")
