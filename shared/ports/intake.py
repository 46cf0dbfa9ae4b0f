"""Intake: the de-duplication ledger."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from shared.domain.intake.ledger import Claim, VersionHolder
from shared.domain.intake.rejection import Rejection

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

    def remember_event(self, event_id: str, content_digest: str) -> str:
        """The content digest first seen with ``event_id`` (``content_digest`` when new)."""
        ...


class RejectionRegistry(Protocol):
    """Terminal intake rejections by artifact key, read by approvals and the deployer."""

    def record(self, key: str, rejection: Rejection) -> None:
        """Idempotent: the first rejection of a key is kept."""
        ...

    def find(self, key: str) -> Rejection | None: ...
