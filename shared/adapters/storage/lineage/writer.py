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
from collections.abc import Iterable, Sequence
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
    LIVE,
    DeploymentEvent,
    current_live,
    deployment_partition,
    former_address,
    idempotency_row_key,
    live_row_key,
    live_scope,
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
# An entity-group transaction holds at most 100 operations: a record and its marker are two.
MAX_BATCH = 100
MAX_RECORDS_PER_COMMIT = 40


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
        return self.append_all([(record, idempotency_key)])[0]

    def append_all(
        self,
        entries: Sequence[tuple[LineageRecord, str | None]],
        *,
        new_chain: bool = False,
    ) -> list[bool]:
        """Append the records, in order, to their artifact's chain in one entity-group
        transaction (records, their idempotency markers and the head row: all or nothing).

        Per entry: True when appended now, False when its idempotency key was appended before
        (those are left out and their index rows rewritten). ``new_chain``: the caller has
        reason to believe the chain is empty (it just claimed a new artifact), so a head this
        process does not remember is not read; if the chain does exist after all, the
        conditional insert of its first row conflicts and the head is read then.
        """
        if not entries:
            return []
        key_hash = entries[0][0].artifact.key_hash
        keys = [key for _, key in entries if key is not None]
        if len(set(keys)) != len(keys):
            raise ValueError("one idempotency key twice in one append")
        for record, _ in entries:
            if self._region is not None and record.region != self._region:
                raise ResidencyViolation(
                    f"a {record.region} record cannot be written to the {self._region} lineage"
                )
            if record.artifact.key_hash != key_hash:
                raise ValueError("append_all takes the records of one artifact")
        if len(entries) > MAX_RECORDS_PER_COMMIT:
            head_part = self.append_all(entries[:MAX_RECORDS_PER_COMMIT], new_chain=new_chain)
            return head_part + self.append_all(entries[MAX_RECORDS_PER_COMMIT:])
        reader = self.reader
        results = [False] * len(entries)
        pending = list(range(len(entries)))
        seen: HeadMark | None = None
        checked = False  # whether ``seen`` came from storage
        for attempt in range(self._max_attempts):
            head: HeadMark | None
            if attempt == 0:
                head = self._heads.get(key_hash)
                if head is None and not new_chain:
                    head, checked = reader.head(key_hash), True
            else:
                head = reader.head(key_hash)
                if checked and head == seen:
                    head = self._repair_head(reader, key_hash, head)
                checked = True
            seen = head
            links: list[Link] = []
            previous = head
            for i in pending:
                link = Link.after(previous, entries[i][0])
                links.append(link)
                previous = link.mark
            outcome = self._commit(key_hash, links, [entries[i][1] for i in pending])
            if outcome == "appended":
                self._heads.put(key_hash, links[-1].mark)
                if links[0].seq == 1:
                    self._first_at.put(key_hash, links[0].record.at)
                for i in pending:
                    results[i] = True
                self.write_indexes(key_hash, links)
                return results
            self._heads.forget(key_hash)
            done = self._appended_before(key_hash, [entries[i][1] for i in pending])
            if done:
                # A retried delivery: those steps are in the chain; complete their indexes.
                self._replay_indexes(reader, key_hash, sorted(done.values()))
                pending = [i for i in pending if entries[i][1] not in done]
                if not pending:
                    return results
                checked = False  # the head may be right: the markers were what conflicted
                continue
            time.sleep(random.uniform(0, min(0.05, 0.002 * (attempt + 1))))  # noqa: S311
        raise TransientError(f"lineage chain {key_hash[:16]}… too contended; retry the step")

    def _commit(self, key_hash: str, links: list[Link], keys: list[str | None]) -> str:
        from azure.core.exceptions import AzureError
        from azure.data.tables import TableTransactionError, UpdateMode

        ops: list[Any] = []
        for link, key in zip(links, keys, strict=True):
            if key is not None:
                ops.append(("create", marker_row(key_hash, key, link.seq)))
            ops.append(("create", chain_row(key_hash, link)))
        ops.append(("upsert", head_row(key_hash, links[-1].mark), {"mode": UpdateMode.REPLACE}))
        try:
            self._client().submit_transaction(ops)
        except TableTransactionError as exc:
            if not _is_conflict(exc):
                raise TransientError(f"lineage store refused the record: {exc}") from exc
            return "conflict"
        except AzureError as exc:
            raise TransientError(f"lineage store unavailable: {exc}") from exc
        return "appended"

    def _appended_before(self, key_hash: str, keys: list[str | None]) -> dict[str, int]:
        """The keys among ``keys`` whose marker exists, with the seq each marker names (one
        query for all of them)."""
        wanted = {idempotency_row_key(k): k for k in keys if k is not None}
        markers = self.reader.links_at(key_hash, wanted)
        return {wanted[row]: int(marker["Seq"]) for row, marker in markers.items()}

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

    def _replay_indexes(self, reader: TableLineageReader, key_hash: str, seqs: list[int]) -> None:
        entities = reader.links_at(key_hash, (seq_row_key(seq) for seq in seqs))
        links = []
        for seq in seqs:
            entity = entities.get(seq_row_key(seq))
            if entity is None:
                raise TransientError("lineage marker without its record; retry")
            try:
                links.append(Link.parse(body_of(entity)))
            except ChainFormatError as exc:
                raise LineageCorrupted(f"lineage record {key_hash[:16]}… seq {seq}: {exc}") from exc
        self.write_indexes(key_hash, links, trust_recent=False)

    # -- indexes ---------------------------------------------------------------------------
    def write_indexes(
        self, key_hash: str, links: Sequence[Link], *, trust_recent: bool = True
    ) -> None:
        """The index rows of ``links`` (one chain), each row once with its final content (a
        row several records touch, such as a name row, is merged as successive upserts would
        have left it), batched per partition."""
        from azure.core.exceptions import AzureError

        if not links:
            return
        try:
            merged: dict[tuple[str, str], dict[str, Any]] = {}
            for link in links:
                for row in index_rows(key_hash, link, self._first_at_of(key_hash, link)):
                    where = (str(row["PartitionKey"]), str(row["RowKey"]))
                    merged.setdefault(where, {}).update(row)
            by_partition: dict[str, list[tuple[tuple[str, str], dict[str, Any], str]]] = {}
            for where, row in merged.items():
                content = _digest(row)
                if trust_recent and self._rows.get(where) == content:
                    continue  # this process wrote exactly this row already
                by_partition.setdefault(where[0], []).append((where, row, content))
            for rows in by_partition.values():
                for start in range(0, len(rows), MAX_BATCH):
                    self._upsert(rows[start : start + MAX_BATCH])
            if not trust_recent:
                self._drop_former_copies(merged)
            scopes = {
                scope: None for link in links if (scope := live_scope(link.record)) is not None
            }
            for model, stage in scopes:
                self._refresh_live(model, stage)
        except AzureError as exc:
            seqs = f"{links[0].seq}" if len(links) == 1 else f"{links[0].seq}-{links[-1].seq}"
            raise TransientError(
                f"lineage index write failed after the record was appended "
                f"({key_hash[:16]}… seq {seqs}); a retry completes it: {exc}"
            ) from exc

    def _drop_former_copies(self, rows: Iterable[tuple[str, str]]) -> None:
        """A replay of a step appended before by-actor rows joined the ``artifacts`` partition
        has just rewritten them there: delete the copies at their former address, so
        ``by-actor`` lists the step once (after the current copy exists: never none)."""
        from azure.core.exceptions import ResourceNotFoundError

        for where in rows:
            former = former_address(*where)
            if former is None:
                continue
            try:
                self._client().delete_entity(*former)
            except ResourceNotFoundError:
                continue  # written after the move: nothing to drop

    def _first_at_of(self, key_hash: str, link: Link) -> datetime:
        if link.seq == 1:
            return link.record.at
        first_at = self._first_at.get(key_hash)
        if first_at is None and needs_names(link):
            first = self.reader.link_at(key_hash, seq_row_key(1))
            if first is None:
                return link.record.at
            first_at = first["At"]
            self._first_at.put(key_hash, first_at)
        return first_at or link.record.at

    def _upsert(self, rows: list[tuple[tuple[str, str], dict[str, Any], str]]) -> None:
        """One partition's rows: a single upsert, or one entity-group transaction."""
        from azure.data.tables import TableTransactionError, UpdateMode

        table = self._client()
        if len(rows) == 1:
            table.upsert_entity(rows[0][1], mode=UpdateMode.MERGE)
        else:
            try:
                table.submit_transaction(
                    [("upsert", row, {"mode": UpdateMode.MERGE}) for _, row, _ in rows]
                )
            except TableTransactionError as exc:
                raise TransientError(f"lineage index batch refused: {exc}") from exc
        for where, _, content in rows:
            self._rows.put(where, content)

    def _refresh_live(self, model: str, stage: str | None = None) -> None:
        """Recompute the live row of the model (in a non-production ``stage``) from its
        deployment log, ETag-guarded. The log holds every stage; a row's ``LiveStage`` says
        which live row it feeds (absent: the model's own)."""
        from azure.core import MatchConditions
        from azure.core.exceptions import (
            ResourceExistsError,
            ResourceModifiedError,
            ResourceNotFoundError,
        )
        from azure.data.tables import UpdateMode

        table, reader, row_key = self._client(), self.reader, live_row_key(model, stage)
        for _ in range(self._max_attempts):
            current = reader.get(LIVE, row_key)
            log_rows, _ = reader.rows(deployment_partition(model))
            events = {_event(e): e for e in log_rows if e.get("LiveStage") == stage}
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
                    **({"Stage": stage} if stage else {}),
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
        where = f"{model} ({stage})" if stage else model
        raise TransientError(f"live row of {where} too contended; retry")

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
