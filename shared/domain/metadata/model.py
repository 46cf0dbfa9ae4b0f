"""The metadata contract: what a model owner declares about a model before Clearance deploys it.

Owners declare it as image labels or AML model tags (see ``label_keys``); ``labels.parse_metadata``
turns those into a ``ModelMetadata``. Names become Kubernetes names and GitOps paths, so every
identifier is strict; free text is carried verbatim and never interpreted.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    field_validator,
)

from shared.domain.analysis.checks import Declared
from shared.domain.catalog import RegionName, RiskTier, ZoneName
from shared.domain.metadata.rollout import RolloutStrategy
from shared.domain.metadata.serving import Serving
from shared.domain.metadata.value_rules import contract_error, first_control_character
from shared.domain.metadata.versions import VersionIntent


class ArtifactKind(StrEnum):
    IMAGE = "image"
    AML_MODEL = "aml_model"


def _plain_address(value: object) -> object:
    # EmailStr would accept 'Ada <ada@example.com>' and keep only the address; refuse instead.
    if isinstance(value, str) and any(c in value for c in "<>,; "):
        raise contract_error("must be a single plain e-mail address, such as ada@example.com")
    return value


def _plain_text(text: str) -> str:
    if first_control_character(text) is not None:
        raise contract_error("must be plain single-line text without control characters")
    return text


# A DNS label (RFC 1123) that starts with a letter: valid as a Kubernetes name and a path segment.
DnsName = Annotated[str, Field(pattern=r"^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$")]
Version = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]*$", max_length=64)]
Owner = Annotated[EmailStr, BeforeValidator(_plain_address)]
Description = Annotated[str, Field(max_length=500), AfterValidator(_plain_text)]
SourceUrl = Annotated[
    str,
    Field(
        pattern=r"^https://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:/[A-Za-z0-9._~%+,;=:@/-]*)?$",
        max_length=1024,
    ),
]
Revision = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/+-]*$", max_length=128)]
# A cost centre becomes a Kubernetes label value verbatim: ASCII only, at most 63 characters.
CostCentre = Annotated[
    str, Field(pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$", max_length=63)
]
ExpiryHours = Annotated[int, Field(strict=True, ge=1, le=24 * 365)]


class ModelMetadata(BaseModel):
    """One model version as its owner declared it; valid on its own, without the catalog."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: DnsName
    version: Version
    owner: Owner
    regions: tuple[RegionName, ...] = Field(min_length=1, max_length=32)
    residency: ZoneName
    risk_tier: RiskTier
    rollout: RolloutStrategy
    serving: Serving
    team: DnsName | None = None
    cost_centre: CostCentre | None = None
    expiry_hours: ExpiryHours | None = None
    description: Description | None = None
    source: SourceUrl | None = None
    revision: Revision | None = None
    version_intent: VersionIntent | None = None
    analysis: Declared = Declared()

    @field_validator("regions")
    @classmethod
    def _distinct(cls, regions: tuple[str, ...]) -> tuple[str, ...]:
        repeated = sorted({r for r in regions if regions.count(r) > 1})
        if repeated:
            raise contract_error(f"must name each region once ({', '.join(repeated)} repeated)")
        return regions

    @property
    def kind(self) -> ArtifactKind:
        return ArtifactKind(self.serving.kind)
