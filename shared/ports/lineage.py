"""Lineage: appending records, reading chains, heads and indexes, snapshot storage."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from shared.domain.lineage.record import LineageRecord
from collections.abc import Iterable, Iterator

from shared.domain.lineage.chain import HeadMark
from shared.domain.lineage.heads import HeadsSnapshot
from shared.domain.lineage.verify import StoredLink
from shared.domain.lineage.views import AuditEntry, IndexedArtifact, LiveEntry


class LineageWriter(Protocol):
    """Appends one immutable record to the artifact's history in this region."""

    def append(self, record: LineageRecord, *, idempotency_key: str | None = None) -> bool:
        """False when a record with the same idempotency key was already appended."""
        ...


class _Artifact(Protocol):
    @property
    def key_hash(self) -> str: ...


class ChainIndex(Protocol):
    def artifacts(self) -> Iterable[_Artifact]: ...
    def head(self, key_hash: str) -> HeadMark | None: ...
    def hash_at(self, key_hash: str, seq: int) -> str | None: ...


class HeadsStore(Protocol):
    def latest(self) -> tuple[str, HeadsSnapshot, str] | None: ...
    def write(self, snapshot: HeadsSnapshot) -> str: ...


class ChainSource(ChainIndex, Protocol):
    def stored_links(self, key_hash: str) -> Iterator[StoredLink]: ...


class RegionReader(Protocol):
    """What the queries need from one region's lineage store."""

    def entries(
        self,
        region: str,
        partition: str,
        *,
        lo: str | None = None,
        hi: str | None = None,
        after: str | None = None,
        kind: str | None = None,
        limit: int | None = None,
    ) -> tuple[list[tuple[str, AuditEntry]], bool]: ...

    def live(
        self, region: str, *, after: str | None = None, limit: int | None = None
    ) -> tuple[list[tuple[str, LiveEntry]], bool]: ...

    def named(self, name: str) -> list[IndexedArtifact]: ...

    def artifacts(self) -> Iterator[IndexedArtifact]: ...


class LiveLookup(Protocol):
    def live_of(self, region: str, model: str) -> LiveEntry | None: ...
