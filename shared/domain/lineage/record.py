"""Lineage records: one immutable record per step, saying who, what, where, when and why."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.domain.errors import Violation


class RecordKind(StrEnum):
    ARTIFACT_RECEIVED = "artifact.received"
    ARTIFACT_VALIDATED = "artifact.validated"
    ARTIFACT_REJECTED = "artifact.rejected"
    ARTIFACT_RETAGGED = "artifact.retagged"
    ARTIFACT_DUPLICATE = "artifact.duplicate"
    ARTIFACT_SKIPPED = "artifact.skipped"
    APPROVAL_REQUESTED = "approval.requested"
    APPROVAL_NOTIFIED = "approval.notified"
    APPROVAL_VOTE = "approval.vote"
    APPROVAL_APPROVED = "approval.approved"
    APPROVAL_REJECTED = "approval.rejected"
    APPROVAL_EXPIRED = "approval.expired"
    APPROVAL_SUPERSEDED = "approval.superseded"
    DEPLOYMENT_STARTED = "deployment.started"
    DEPLOYMENT_SUCCEEDED = "deployment.succeeded"
    DEPLOYMENT_FAILED = "deployment.failed"
    DEPLOYMENT_ROLLED_BACK = "deployment.rolled_back"
    DEPLOYMENT_ANALYSED = "deployment.analysed"
    DEPLOYMENT_EXPIRY_NOTICE = "deployment.expiry_notice"
    DEPLOYMENT_EXPIRED = "deployment.expired"
    PIPELINE_CHECK_COMPLETED = "approval.pipeline_check_completed"
    DEAD_LETTERED = "event.dead_lettered"
    APPROVAL_CANCELLED = "approval.cancelled"
    ARTIFACT_EVENT_CONFLICT = "artifact.event_conflict"
    LINEAGE_ANOMALY = "lineage.anomaly"
    SUPPLY_CHAIN_CHECKED = "artifact.supply_chain_checked"
    # Held for the stage's next change window (or started by an emergency override of it).
    DEPLOYMENT_SCHEDULED = "deployment.scheduled"
    # Taken out of a non-production stage (expired): nothing of the model runs there now.
    DEPLOYMENT_REMOVED = "deployment.removed"


# The record that closes the handling of one intake event; exactly one per event.
INTAKE_TERMINAL = frozenset(
    {
        RecordKind.APPROVAL_REQUESTED,
        RecordKind.ARTIFACT_REJECTED,
        RecordKind.ARTIFACT_RETAGGED,
        RecordKind.ARTIFACT_DUPLICATE,
        RecordKind.ARTIFACT_SKIPPED,
        RecordKind.DEAD_LETTERED,
    }
)

EstablishedBy = Literal[
    "event_grid", "managed_identity", "easy_auth", "signed_link", "system", "unknown"
]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Actor(_Frozen):
    identity: str = Field(max_length=320)
    established_by: EstablishedBy


class ArtifactRef(_Frozen):
    """What the record is about: an image by digest, or an AML model version."""

    kind: Literal["image", "aml_model", "unknown"]
    registry: str | None = None
    repository: str | None = None
    digest: str | None = None
    tag: str | None = None
    workspace: str | None = None
    model: str | None = None
    version: str | None = None

    @property
    def key(self) -> str:
        """The artifact's identity, stable across events, tags and deliveries."""
        if self.kind == "image":
            return f"image|{self.registry}|{self.repository}|{self.digest}"
        if self.kind == "aml_model":
            return f"aml|{self.workspace}|{self.model}|{self.version}"
        return f"unknown|{self.repository or ''}|{self.digest or ''}"

    @property
    def key_hash(self) -> str:
        return hashlib.sha256(self.key.encode("utf-8")).hexdigest()


class Reason(_Frozen):
    code: str
    message: str
    field: str | None = None

    @classmethod
    def of(cls, violation: Violation) -> Reason:
        return cls(code=violation.code, message=violation.message, field=violation.field)


class Correlation(_Frozen):
    event_id: str | None = None
    approval_id: str | None = None
    deployment_id: str | None = None


class LineageRecord(_Frozen):
    kind: RecordKind
    at: datetime
    region: str
    actor: Actor
    artifact: ArtifactRef
    correlation: Correlation = Correlation()
    reasons: tuple[Reason, ...] = ()
    where: dict[str, str] = Field(default_factory=dict)
    details: dict[str, str] = Field(default_factory=dict)

    @field_validator("at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        """Every record time is UTC; a naive time is taken to be UTC already."""
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
