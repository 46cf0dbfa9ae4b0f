"""One approved model version as it runs (or is about to run) in one region.

A revision carries everything needed to render it again: its metadata, its artifact by digest
(or AML registration), its approval and where it runs. A rollback re-renders the previous
revision exactly as it was, so Kubernetes recognises the pod template and reuses its ReplicaSet.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.domain.lineage.record import ArtifactRef
from shared.domain.metadata.model import ModelMetadata

Track = Literal["stable", "blue", "green", "canary", "shadow"]


def artifact_identity(artifact: ArtifactRef) -> str:
    if artifact.kind == "image":
        return str(artifact.digest)
    return f"azureml:{artifact.model}:{artifact.version}"


class Revision(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    deployment_id: str = Field(min_length=1, max_length=64)
    approval_id: str = Field(min_length=1, max_length=128)
    approved_by: tuple[str, ...]
    approved_at: datetime
    artifact: ArtifactRef
    metadata: ModelMetadata
    namespace: str
    workload: str
    track: Track = "stable"
    # Set once the revision serves: since when, where (commit, cluster, endpoint), and for a
    # revision restored by a rollback, the deployment it was first rolled out by.
    since: datetime | None = None
    where: dict[str, str] = Field(default_factory=dict)
    restored_from: str | None = None
    # The stage it runs in (its chargeback ``stage`` label); "prod" for a region without stages.
    stage: str = Field(default="prod", pattern=r"^[a-z][a-z0-9-]{1,19}$")

    @property
    def model(self) -> str:
        return self.metadata.name

    @property
    def identity(self) -> str:
        """What "the same thing is live" compares: the digest, or the AML model version."""
        return artifact_identity(self.artifact)

    @property
    def image(self) -> str | None:
        a = self.artifact
        if a.kind != "image":
            return None
        return f"{a.registry}/{a.repository}@{a.digest}"

    def summary(self) -> str:
        return f"{self.metadata.version} ({self.identity})"
