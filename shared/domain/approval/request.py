"""The message intake puts on ``approval-requests``: everything the approval step needs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.domain.lineage.record import ArtifactRef
from shared.domain.metadata.model import ModelMetadata
from shared.domain.supply_chain.verdict import SupplyChainEvidence


class ApprovalRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = 1
    artifact: ArtifactRef
    source_region: str
    metadata: ModelMetadata
    pushed_by: str | None = None
    registered_by: str | None = None
    registered_by_object_id: str | None = None
    event_id: str
    received_at: datetime
    validated_at: datetime
    # What approvers must notice (a tag that names another version, a downgrade, ...).
    notes: tuple[str, ...] = ()
    # An index's platform manifests (what the index deploys): a later rejection of any of them,
    # through another index, forbids this artifact too.
    platform_digests: tuple[Annotated[str, Field(pattern=r"^sha256:[0-9a-f]{64}$")], ...] = Field(
        default=(), max_length=64
    )
    # Signatures and attestations found and verified at intake (None: the region checks none).
    supply_chain: SupplyChainEvidence | None = None

    # The region's stage this approval is for (None: the first); a promotion names the
    # approval of the previous stage, whose pusher and registrant stay excluded.
    stage: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,19}$")] | None = None
    promotion_of: str | None = Field(default=None, max_length=128)

    @property
    def message_id(self) -> str:
        """Stable per artifact (and stage), so Service Bus duplicate detection drops a resend."""
        suffix = f"-{self.stage}" if self.stage and self.promotion_of else ""
        return f"approval-request-{self.artifact.key_hash}{suffix}"
