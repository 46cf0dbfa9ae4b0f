"""Where an artifact came from: the cell that received its event, and its exact origin.

An image is only ever known by digest, so what was checked is what gets deployed.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.domain.catalog import LoginServer, RegionName

# The OCI distribution spec's repository name grammar.
Repository = Annotated[
    str,
    Field(
        pattern=r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$",
        max_length=255,
    ),
]
Digest = Annotated[str, Field(pattern=r"^sha256:[0-9a-f]{64}$")]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ImageArtifact(_Frozen):
    kind: Literal["image"] = "image"
    source_region: RegionName
    registry: LoginServer
    repository: Repository
    digest: Digest


class AmlModelArtifact(_Frozen):
    kind: Literal["aml_model"] = "aml_model"
    source_region: RegionName
    subscription_id: Annotated[str, Field(pattern=r"^[0-9a-fA-F-]{36}$")]
    resource_group: Annotated[str, Field(pattern=r"^[A-Za-z0-9._()-]{1,90}$")]
    workspace: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{1,63}$")]


Artifact = Annotated[ImageArtifact | AmlModelArtifact, Field(discriminator="kind")]
