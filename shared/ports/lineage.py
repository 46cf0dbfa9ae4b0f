"""Lineage: appending records, reading chains, heads and indexes, snapshot storage."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from shared.domain.lineage.record import LineageRecord
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager

from shared.domain.errors import TransientError
from shared.domain.lineage.chain import HeadMark
from shared.domain.lineage.index_check import IndexRow
from shared.domain.lineage.verify import StoredLink
from shared.domain.lineage.views import AuditEntry, IndexedArtifact, LiveEntry


class LineageWriter(Protocol):
    """Appends one immutable record to the artifact's history in this region."""

    def append(self, record: LineageRecord, *, idempotency_key: str | None = None) -> bool:
        """False when a record with the same idempotency key was already appended."""
        ...

    def append_all(self, entries: Sequence[tuple[LineageRecord, str | None]]) -> list[bool]:
        """Several records of one artifact, in order, with their idempotency keys (one
        transaction where the adapter can); per entry as ``append``."""
        ...


class BatchLineageWriter(LineageWriter, Protocol):
    """A writer that appends several records of one artifact in one transaction."""

    def append_all(
        self, entries: Sequence[tuple[LineageRecord, str | None]], *, new_chain: bool = False
    ) -> list[bool]:
        """Append (record, idempotency key) pairs in order, all or nothing; per entry False
        when its key was appended before. ``new_chain``: the caller believes the chain is
        empty, so an unknown head need not be read (a conflict still decides)."""
        ...


class _Artifact(Protocol):
    @property
    def key_hash(self) -> str: ...


class ChainIndex(Protocol):
    def artifacts(self) -> Iterable[_Artifact]: ...
    def head(self, key_hash: str) -> HeadMark | None: ...
    def hash_at(self, key_hash: str, seq: int) -> str | None: ...


class IndexSource(Protocol):
    """Every index row (time, by-actor, deployment) and every live row, as stored."""

    def index_rows(self) -> Iterator[IndexRow]: ...
    def live_rows(self) -> Iterator[IndexRow]: ...
    def index_row(self, partition: str, row_key: str) -> IndexRow | None: ...


class CheckpointStore(Protocol):
    """The cell's checkpoint blobs: what is stored under ``heads/``, and adding one."""

    def blobs(self) -> Iterator[tuple[str, bytes]]:
        """Every blob under the prefix as (name, content), in no promised order."""
        ...

    def create(self, name: str, data: bytes) -> None:
        """Create a new blob; never overwrites."""
        ...

    def names(self) -> list[str]:
        """The names under the prefix (a listing, no content)."""
        ...

    def read(self, name: str) -> bytes:
        """One blob's content (empty when it is gone or too large to be a checkpoint)."""
        ...


class CheckpointLock(Protocol):
    """One checkpoint writer at a time per cell (across instances)."""

    def held(self) -> AbstractContextManager[bool]:
        """Held for the block; False inside when it could not be taken in time."""
        ...


class CheckpointSigner(Protocol):
    """Signs checkpoint payloads with a key the storage account cannot reach (ES256)."""

    @property
    def key_id(self) -> str:
        """The key's stable id (Key Vault: the versionless key id), written into checkpoints."""
        ...

    def sign(self, data: bytes) -> tuple[bytes, str]:
        """The raw ``r || s`` ES256 signature of ``data`` and the signing key's id."""
        ...


class CheckpointVerifier(Protocol):
    """Checks a checkpoint signature with the cell's public key."""

    def verify(self, data: bytes, signature: bytes, key_id: str) -> bool: ...


class KeyUnavailable(TransientError):
    """The signing or public key cannot be read (missing file, Key Vault refused or down)."""


class ChainSource(ChainIndex, Protocol):
    def stored_links(self, key_hash: str) -> Iterator[StoredLink]: ...


@runtime_checkable
class BulkChainSource(Protocol):
    """Every chain at once (one range query), for ``verify --all`` on a large store."""

    def all_links(self, heads: Mapping[str, HeadMark]) -> Iterator[tuple[str, StoredLink]]:
        """(key hash, link) chain by chain, each chain in row order: every chain row stored,
        whatever ``heads`` (from ``all_heads``, a hint for splitting the read) says."""
        ...

    def all_heads(self) -> dict[str, HeadMark]: ...


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
        self,
        region: str,
        *,
        after: str | None = None,
        limit: int | None = None,
        stage: str | None = None,
    ) -> tuple[list[tuple[str, LiveEntry]], bool]: ...

    def named(self, name: str) -> list[IndexedArtifact]: ...

    def artifacts(self) -> Iterator[IndexedArtifact]: ...


class LiveLookup(Protocol):
    def live_of(self, region: str, model: str, stage: str | None = None) -> LiveEntry | None: ...
