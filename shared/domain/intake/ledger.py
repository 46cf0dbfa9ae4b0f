"""What the de-duplication ledger knows about an artifact: the port's value types."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from shared.domain.intake.rejection import Rejection


class ClaimState(StrEnum):
    NEW = "new"  # this event owns the artifact now
    IN_PROGRESS = "in_progress"  # another delivery is handling it right now
    DONE = "done"  # already handled; ``outcome`` and ``tags`` say how


@dataclass(frozen=True)
class Claim:
    state: ClaimState
    outcome: str | None = None
    tags: tuple[str, ...] = ()
    # The delivery that holds (or completed) the claim: its event id and content digest (rows
    # written before content was stored have none).
    event_id: str | None = None
    content: str | None = None
    fresh: bool = False  # NEW by a first insert: nothing was ever recorded for the artifact
    version: str | None = None  # the ledger row's version, for a conditional update
    # The artifact's own rejection, read with the claim (its row shares the claim's
    # partition): ``rejection_read`` says whether the claim's read covered it at all.
    rejection_read: bool = False
    rejection: Rejection | None = None

    def completed_by(self, event_id: str, content: str) -> bool:
        """This exact delivery (same id, same content) was handled to its end before: its
        records, indexes and messages are all written, so a redelivery has nothing to do."""
        return (
            self.state is ClaimState.DONE
            and self.event_id == event_id
            and bool(content)
            and self.content == content
        )


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
