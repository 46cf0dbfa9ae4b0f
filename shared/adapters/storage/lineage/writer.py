"""LineageWriter over Azure Table Storage: one hash chain per artifact, in the region's account.

Append = read the chain's head row, then one entity-group transaction in the chain's partition:
create ``seq-<n+1>`` (a conditional insert: two writers can never both create it), create the
idempotency marker (when a key is given), replace the head row. A conflict means another writer
won the race (re-read the head and try again) or this step was already appended (the marker
exists: return False). Index rows in other partitions are written after the chain commit; if
that fails the caller gets ``TransientError``, the platform retries, and the retry, finding its
marker, rewrites the indexes and returns False. See docs/lineage.md.

Round trips: the writer remembers, per process and bounded, what it wrote itself — each
chain's head after its own commit, each chain's first-record time, and the index rows it
upserted. The next step of the same chain starts from the remembered head (a conditional insert
still decides: if another writer moved the chain, the commit conflicts and the head is re-read
from storage), never re-reads the first record for its time, and skips an index row whose exact
content it already wrote. A replay (the marker says the step was appended before: a platform
retry, possibly after a partial failure) trusts none of that and rewrites every index row of
the step. Storage stays the only source of truth.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar

from shared.adapters.storage.lineage.entities import (
    body_of,
    chain_row,
    head_row,
    index_rows,
    marker_row,
    needs_names,
)
from shared.adapters.storage.lineage.reader import TABLE, LineageCorrupted, TableLineageReader
from shared.adapters.storage.resources import LazyTable
from shared.domain.errors import TerminalError, TransientError
from shared.domain.lineage.chain import ChainFormatError, HeadMark, Link, seq_of, seq_row_key
from shared.domain.lineage.index import (
    DEPLOYMENT_KINDS,
    LIVE,
    DeploymentEvent,
    current_live,
    deployment_partition,
    idempotency_row_key,
    live_row_key,
    model_of,
)
from shared.domain.lineage.record import LineageRecord, RecordKind

log = logging.getLogger(__name__)

__all__ = ["TABLE", "ResidencyViolation", "TableLineageWriter"]


class ResidencyViolation(TerminalError):
    """A record of another region was about to be written into this region's account."""


K = TypeVar("K")
V = TypeVar("V")


class _Recent(Generic[K, V]):
    """A small thread-safe LRU map: what this process wrote last, never a source of truth."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def forget(self, key: K) -> None:
        with self._lock:
            self._items.pop(key, None)


# Chains a host works on at once are few; index rows are a handful per record.
RECENT_CHAINS = 4096
RECENT_ROWS = 16384


class TableLineageWriter:
    def __init__(
        self,
        table_service: Any,
        *,
        region: str | None = None,
        table: str = TABLE,
        max_attempts: int = 50,
    ) -> None:
        self._service = table_service
        self._table_name = table
        self._region = region
        self._max_attempts = max_attempts
        self._client = LazyTable(table_service, table)
        self._reader: TableLineageReader | None = None
        self._heads: _Recent[str, HeadMark] = _Recent(RECENT_CHAINS)
        self._first_at: _Recent[str, datetime] = _Recent(RECENT_CHAINS)
        self._rows: _Recent[tuple[str, str], str] = _Recent(RECENT_ROWS)

    @property
    def reader(self) -> TableLineageReader:
        if self._reader is None:
            self._client()
            self._reader = TableLineageReader(self._service, self._table_name)
        return self._reader

    # -- append ----------------------------------------------------------------------------
    def append(self, record: LineageRecord, *, idempotency_key: str | None = None) -> bool:
        """Append to the artifact's chain; False when ``idempotency_key`` was appended before."""
        if self._region is not None and record.region != self._region:
            raise ResidencyViolation(
                f"a {record.region} record cannot be written to the {self._region} lineage"
            )
        key_hash = record.artifact.key_hash
        reader = self.reader
        seen: HeadMark | None = None
        for attempt in range(self._max_attempts):
            remembered = self._heads.get(key_hash) if attempt == 0 else None
            head = remembered if remembered is not None else reader.head(key_hash)
            if attempt > 0 and head == seen:
                head = self._repair_head(reader, key_hash, head)
            seen = head
            link = Link.after(head, record)
            outcome = self._commit(key_hash, link, idempotency_key)
            if outcome == "appended":
                self._heads.put(key_hash, link.mark)
                if link.seq == 1:
                    self._first_at.put(key_hash, link.record.at)
                self.write_indexes(key_hash, link)
                return True
            self._heads.forget(key_hash)
            if outcome == "duplicate":
                self._replay_indexes(reader, key_hash, idempotency_key)
                return False
            time.sleep(random.uniform(0, min(0.05, 0.002 * (attempt + 1))))  # noqa: S311
        raise TransientError(f"lineage chain {key_hash[:16]}… too contended; retry the step")

    def append_all(self, entries: Sequence[tuple[LineageRecord, str | None]]) -> list[bool]:
        """Several steps of one artifact, in order (a service hands a handler's steps over
        together; the hot-path work batches them into one transaction)."""
        return [self.append(record, idempotency_key=key) for record, key in entries]

    def _commit(self, key_hash: str, link: Link, idempotency_key: str | None) -> str:
        from azure.core.exceptions import AzureError
        from azure.data.tables import TableTransactionError, UpdateMode

        ops: list[Any] = []
        if idempotency_key is not None:
            ops.append(("create", marker_row(key_hash, idempotency_key, link.seq)))
        ops.append(("create", chain_row(key_hash, link)))
        ops.append(("upsert", head_row(key_hash, link.mark), {"mode": UpdateMode.REPLACE}))
        try:
            self._client().submit_transaction(ops)
        except TableTransactionError as exc:
            if not _is_conflict(exc):
                raise TransientError(f"lineage store refused the record: {exc}") from exc
            if idempotency_key is not None and self._marker_seq(key_hash, idempotency_key):
                return "duplicate"
            return "conflict"
        except AzureError as exc:
            raise TransientError(f"lineage store unavailable: {exc}") from exc
        return "appended"

    def _marker_seq(self, key_hash: str, idempotency_key: str) -> int | None:
        marker = self.reader.link_at(key_hash, idempotency_row_key(idempotency_key))
        return None if marker is None else int(marker["Seq"])

    def _repair_head(
        self, reader: TableLineageReader, key_hash: str, head: HeadMark | None
    ) -> HeadMark | None:
        """The head did not move although a conflict said the next seq exists: the head row is
        stale (edited or deleted by hand). Continue after the true last record; ``verify``
        reports the damage."""
        last = None
        for stored in reader.stored_links(key_hash):
            last = HeadMark(seq_of(stored.row_key) or 0, stored.stored_hash)
        if last != head:
            log.warning("lineage head of %s is stale (%s, last %s)", key_hash[:16], head, last)
        return last

    def _replay_indexes(
        self, reader: TableLineageReader, key_hash: str, idempotency_key: str | None
    ) -> None:
        assert idempotency_key is not None
        seq = self._marker_seq(key_hash, idempotency_key)
        entity = reader.link_at(key_hash, seq_row_key(seq)) if seq else None
        if entity is None:
            raise TransientError("lineage marker without its record; retry")
        try:
            link = Link.parse(body_of(entity))
        except ChainFormatError as exc:
            raise LineageCorrupted(f"lineage record {key_hash[:16]}… seq {seq}: {exc}") from exc
        self.write_indexes(key_hash, link, trust_recent=False)

    # -- indexes ---------------------------------------------------------------------------
    def write_indexes(self, key_hash: str, link: Link, *, trust_recent: bool = True) -> None:
        from azure.core.exceptions import AzureError
        from azure.data.tables import UpdateMode

        try:
            first_at = link.record.at if link.seq == 1 else self._first_at.get(key_hash)
            if first_at is None and needs_names(link):
                first = self.reader.link_at(key_hash, seq_row_key(1))
                first_at = first["At"] if first is not None else link.record.at
                if first is not None:
                    self._first_at.put(key_hash, first_at)
            for row in index_rows(key_hash, link, first_at or link.record.at):
                where, content = (str(row["PartitionKey"]), str(row["RowKey"])), _digest(row)
                if trust_recent and self._rows.get(where) == content:
                    continue  # this process wrote exactly this row already
                self._client().upsert_entity(row, mode=UpdateMode.MERGE)
                self._rows.put(where, content)
            model = model_of(link.record)
            if link.record.kind in DEPLOYMENT_KINDS and model:
                self._refresh_live(model)
        except AzureError as exc:
            raise TransientError(
                f"lineage index write failed after the record was appended "
                f"({key_hash[:16]}… seq {link.seq}); a retry completes it: {exc}"
            ) from exc

    def _refresh_live(self, model: str) -> None:
        """Recompute the model's live row from its deployment log (ETag-guarded)."""
        from azure.core import MatchConditions
        from azure.core.exceptions import (
            ResourceExistsError,
            ResourceModifiedError,
            ResourceNotFoundError,
        )
        from azure.data.tables import UpdateMode

        table, reader, row_key = self._client(), self.reader, live_row_key(model)
        for _ in range(self._max_attempts):
            current = reader.get(LIVE, row_key)
            log_rows, _ = reader.rows(deployment_partition(model))
            events = {_event(e): e for e in log_rows}
            top = current_live(events)
            try:
                if top is None:
                    if current is not None:
                        table.delete_entity(
                            LIVE,
                            row_key,
                            etag=_etag(current),
                            match_condition=MatchConditions.IfNotModified,
                        )
                    return
                source = events[top]
                if current is not None and (current.get("KeyHash"), current.get("Seq")) == (
                    top.key_hash,
                    top.seq,
                ):
                    return
                entity = {
                    "PartitionKey": LIVE,
                    "RowKey": row_key,
                    "Model": model,
                    "Since": top.at,
                    **{k: v for k, v in source.items() if k not in ("PartitionKey", "RowKey")},
                }
                if current is None:
                    table.create_entity(entity)
                else:
                    table.update_entity(
                        entity,
                        mode=UpdateMode.REPLACE,
                        etag=_etag(current),
                        match_condition=MatchConditions.IfNotModified,
                    )
                return
            except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError):
                continue  # another writer changed it between our read and write: recompute
        raise TransientError(f"live row of {model} too contended; retry")

    # -- reads for the CLI walkthroughs and tests --------------------------------------------
    def list_for(self, artifact_key_hash: str) -> list[LineageRecord]:
        """The artifact's records in chain order."""
        return [e.record for e in self.reader.chain(self._region or "", artifact_key_hash)]


def _event(e: dict[str, Any]) -> DeploymentEvent:
    return DeploymentEvent(
        at=e["At"], kind=RecordKind(e["Kind"]), key_hash=str(e["KeyHash"]), seq=int(e["Seq"])
    )


def _digest(row: dict[str, Any]) -> str:
    text = json.dumps(row, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _etag(entity: Any) -> str:
    return str(entity.metadata["etag"])


def _is_conflict(exc: Any) -> bool:
    code = str(getattr(exc, "error_code", "") or "")
    return getattr(exc, "status_code", None) == 409 or "EntityAlreadyExists" in f"{code} {exc}"
