"""Intake: the de-duplication ledger."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from shared.domain.intake.ledger import Claim, VersionHolder

if TYPE_CHECKING:
    pass


class IntakeLedger(Protocol):
    """De-duplication of intake: conditional inserts, safe across concurrent instances."""

    def claim(self, key: str, event_id: str) -> Claim: ...

    def complete(self, key: str, outcome: str, tag: str | None) -> None: ...

    def add_tag(self, key: str, tag: str) -> bool:
        """Remember a new tag of a handled artifact; False when it was already known."""
        ...

    def claim_version(
        self, key: str, digest: str, platform_digests: tuple[str, ...]
    ) -> VersionHolder: ...
