"""What the de-duplication ledger knows about an artifact: the port's value types."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ClaimState(StrEnum):
    NEW = "new"  # this event owns the artifact now
    IN_PROGRESS = "in_progress"  # another delivery is handling it right now
    DONE = "done"  # already handled; ``outcome`` and ``tags`` say how


@dataclass(frozen=True)
class Claim:
    state: ClaimState
    outcome: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class VersionHolder:
    """The digest that first claimed a model version in a registry."""

    digest: str
    platform_digests: tuple[str, ...] = ()

    def same_image_as(self, digest: str, platform_digests: tuple[str, ...]) -> bool:
        return (
            digest == self.digest
            or digest in self.platform_digests
            or self.digest in platform_digests
        )
