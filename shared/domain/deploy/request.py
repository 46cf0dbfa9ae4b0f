"""The message approvals put on ``deployment-requests`` once a request reached its quorum.

A cell approves and deploys for its own region only: a geo-replicated registry raises
ImagePushed in every replica region, and each target region's cell runs its own intake,
approval and deployment. So ``region`` is always the cell's own region.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.domain.lineage.record import ArtifactRef
from shared.domain.metadata.model import ModelMetadata


class Override(BaseModel):
    """An emergency override of a change window or freeze: who (an approver who did not approve
    the deployment itself) and why, recorded with every record of the rollout."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    by: str = Field(min_length=3, max_length=320)
    reason: str = Field(min_length=10, max_length=500)
    at: datetime


class DeploymentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = 1
    approval_id: str = Field(min_length=1, max_length=128)
    region: str
    artifact: ArtifactRef
    metadata: ModelMetadata
    approved_by: tuple[str, ...] = Field(min_length=1)
    approved_at: datetime
    # A rollback is itself approved and recorded: it names the deployment it restores.
    rollback_of: str | None = None
    # Added for deployment: who asked for a rollback and why; the rollout step this message
    # continues (0: the request itself; later steps are scheduled after each bake time); how
    # often it already waited for another rollout of the same model to finish.
    requested_by: str | None = Field(default=None, max_length=320)
    reason: str | None = Field(default=None, max_length=500)
    step: int = Field(default=0, ge=0, le=32)
    waits: int = Field(default=0, ge=0, le=1000)
    # The metric analysis of the gate before ``step``: which measurement this message takes.
    tick: int = Field(default=0, ge=0, le=1_000_000)  # a week of shadow at 1 s: 604,800
    # An index's platform manifests (what the index deploys): a later rejection of any of them,
    # through another index, forbids this artifact too.
    platform_digests: tuple[Annotated[str, Field(pattern=r"^sha256:[0-9a-f]{64}$")], ...] = Field(
        default=(), max_length=64
    )

    # The stage of the region this request deploys to (None: the region's first stage).
    stage: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,19}$")] | None = None
    # An emergency deployment outside the stage's change window: an extra approver and why.
    override: Override | None = None

    @property
    def message_id(self) -> str:
        if self.stage is None:
            return f"{self.approval_id}-{self.region}"
        return f"{self.approval_id}-{self.region}-{self.stage}"
