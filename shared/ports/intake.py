"""Intake: the de-duplication ledger."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from shared.domain.intake.ledger import Claim, VersionHolder
from shared.domain.intake.rejection import Rejection

if TYPE_CHECKING:
    pass


class IntakeLedger(Protocol):
    """De-duplication of intake: conditional inserts, safe across concurrent instances."""

    def claim(self, key: str, event_id: str, content: str = "") -> Claim:
        """Claim ``key`` for this delivery (``content``: its content digest, kept with the
        claim so that an exact redelivery of a completed event is recognised in one read)."""
        ...

    def complete(self, key: str, outcome: str, tag: str | None) -> None:
        """The claim's work is done: called after its lineage and messages are written."""
        ...

    def add_tag(self, key: str, tag: str, known: Claim | None = None) -> bool:
        """Remember a new tag of a handled artifact; False when it was already known.
        ``known``: the claim just read (saves reading the row again; a stale one is retried)."""
        ...

    def claim_version(
        self, key: str, digest: str, platform_digests: tuple[str, ...]
    ) -> VersionHolder: ...

    def remember_event(self, event_id: str, content_digest: str) -> str:
        """The content digest first seen with ``event_id`` (``content_digest`` when new)."""
        ...


class RejectionRegistry(Protocol):
    """Terminal intake rejections by artifact key, read by approvals and the deployer."""

    def record(self, key: str, rejection: Rejection) -> bool:
        """Idempotent: the first rejection of a key is kept. True when this one is it."""
        ...

    def find(self, key: str) -> Rejection | None: ...
