"""Reads of one cell's lineage table: chains, heads and index partitions, never a table scan.

(``scan`` is the exception by name: the benchmark's baseline, never used by a query.)
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from shared.adapters.storage.lineage.entities import Entity, body_of
from shared.adapters.storage.lineage.raw_query import (
    PAGE,
    odata_filter,
    range_bounds,
    raw_rows,
    sharded,
)
from shared.domain.errors import TerminalError, TransientError
from shared.domain.lineage.chain import SEQ_PREFIX, ChainFormatError, HeadMark, Link, seq_row_key
from shared.domain.lineage.index import (
    ARTIFACTS,
    HEAD_ROW,
    LIVE,
    NAME_ROW_PREFIX,
    chain_partition,
    legacy_name_partition,
    live_row_key,
    name_row_range,
)
from shared.domain.lineage.index_check import ARTIFACTS_INDEX_PREFIXES, INDEX_PREFIXES, IndexRow
from shared.domain.lineage.record import ArtifactRef
from shared.domain.lineage.verify import StoredLink
from shared.domain.lineage.views import AuditEntry, IndexedArtifact, LiveEntry

log = logging.getLogger(__name__)
TABLE = "lineage"
MAX_PAGE = 1000
_LINK_PROPERTIES = ["RowKey", "Hash", "PrevHash", "Body", "Body1"]


class LineageCorrupted(TerminalError):
    """A row does not match the hash it carries: someone edited the table. Run ``verify``."""


def entry_of(region: str, entity: Entity) -> AuditEntry:
    """A row carrying a record (chain or index) as an audit entry, checked against its hash."""
    where = f"{entity.get('PartitionKey')}/{entity.get('RowKey')}"
    try:
        link = Link.parse(body_of(entity))
    except ChainFormatError as exc:
        raise LineageCorrupted(f"lineage row {where} is unreadable: {exc}") from exc
    if link.hash != entity.get("Hash") or link.seq != entity.get("Seq"):
        raise LineageCorrupted(f"lineage row {where} does not match its hash; run verify")
    return AuditEntry.of(region, str(entity["KeyHash"]), link, role=entity.get("Role"))


class TableLineageReader:
    def __init__(self, table_service: Any, table: str = TABLE, range_rows: int = PAGE) -> None:
        """``range_rows``: the records one range query of ``all_links`` is sized for."""
        self._table = table_service.get_table_client(table)
        self._range_rows = range_rows

    # -- raw partition reads -------------------------------------------------------------
    def rows(
        self,
        partition: str,
        *,
        lo: str | None = None,
        hi: str | None = None,
        after: str | None = None,
        kind: str | None = None,
        limit: int | None = None,
    ) -> tuple[list[Entity], bool]:
        """Rows of one partition in row-key order within [lo, hi), after ``after``.

        Returns up to ``limit`` rows and whether more follow. ``after`` comes from a
        continuation token, which anyone can forge: the range still bounds the read (an
        ``after`` below ``lo`` reads from ``lo``, never another identity's or name's rows).
        """
        clauses, params = ["PartitionKey eq @pk"], {"pk": partition}
        if after is not None:
            clauses.append("RowKey gt @after")
            params["after"] = after
        if lo is not None:
            clauses.append("RowKey ge @lo")
            params["lo"] = lo
        if hi is not None:
            clauses.append("RowKey lt @hi")
            params["hi"] = hi
        if kind is not None:
            clauses.append("Kind eq @kind")
            params["kind"] = kind
        page = min(MAX_PAGE, limit + 1) if limit is not None else MAX_PAGE
        out: list[Entity] = []
        for entity in self._query(" and ".join(clauses), params, page):
            if limit is not None and len(out) == limit:
                return out, True
            out.append(entity)
        return out, False

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
    ) -> tuple[list[tuple[str, AuditEntry]], bool]:
        """A page of records from a chain or an index partition, each checked against its hash."""
        rows, more = self.rows(partition, lo=lo, hi=hi, after=after, kind=kind, limit=limit)
        return [(str(e["RowKey"]), entry_of(region, e)) for e in rows], more

    def live(
        self,
        region: str,
        *,
        after: str | None = None,
        limit: int | None = None,
        stage: str | None = None,
    ) -> tuple[list[tuple[str, LiveEntry]], bool]:
        """A page of live rows; with ``stage``, only what runs in that stage (judged by the
        verified record, not by a row property someone could edit)."""
        out: list[tuple[str, LiveEntry]] = []
        while True:
            want = None if limit is None else limit - len(out)
            rows, more = self.rows(LIVE, after=after, limit=want)
            for e in rows:
                live = _live_entry(region, e)
                if stage is None or live.stage == stage:
                    out.append((str(e["RowKey"]), live))
            if not more or not rows or (limit is not None and len(out) >= limit):
                return out, more
            after = str(rows[-1]["RowKey"])

    def live_of(self, region: str, model: str, stage: str | None = None) -> LiveEntry | None:
        """What runs for ``model`` (in a non-production ``stage``) now: one point read."""
        e = self.get(LIVE, live_row_key(model, stage))
        if e is None:
            return None
        return _live_entry(region, e)

    def _query(
        self, flt: str, params: dict[str, str], page: int, select: list[str] | None = None
    ) -> Iterator[Entity]:
        from azure.core.exceptions import AzureError, ResourceNotFoundError

        try:
            yield from self._table.query_entities(
                flt, parameters=params, results_per_page=page, select=select
            )
        except ResourceNotFoundError:
            return  # no table yet: nothing was ever recorded in this cell
        except AzureError as exc:
            raise TransientError(f"lineage store unavailable: {exc}") from exc

    def get(self, partition: str, row: str) -> Entity | None:
        from azure.core.exceptions import AzureError, ResourceNotFoundError

        try:
            entity: Entity = self._table.get_entity(partition, row)
        except ResourceNotFoundError:
            return None
        except AzureError as exc:
            raise TransientError(f"lineage store unavailable: {exc}") from exc
        return entity

    # -- chains --------------------------------------------------------------------------
    def stored_links(self, key_hash: str) -> Iterator[StoredLink]:
        """The chain's rows, only the properties verify reads, as plain JSON (a body split over
        more than two properties is read whole, row by row: records that large are rare)."""
        pk = chain_partition(key_hash)
        flt = odata_filter(
            "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi",
            {"pk": pk, "lo": SEQ_PREFIX, "hi": "seq."},
        )
        for e in raw_rows(self._table, flt, _LINK_PROPERTIES):
            yield self._stored_link(pk, e)

    def all_links(
        self, heads: Mapping[str, HeadMark], workers: int = 4
    ) -> Iterator[tuple[str, StoredLink]]:
        """Every chain row of the table, chain by chain in row order (what ``verify --all``
        reads): range queries over the chain partitions, fetched by ``workers`` threads while
        the caller verifies (no table scan, no query per chain).

        ``heads`` (from ``all_heads``) only sizes the ranges, about one page of records each;
        the ranges cover every chain partition whatever the head rows say."""
        flt = odata_filter("RowKey ge @lo and RowKey lt @hi", {"lo": SEQ_PREFIX, "hi": "seq."})
        select = ["PartitionKey", *_LINK_PROPERTIES]
        sizes = {chain_partition(k): h.seq for k, h in heads.items()}
        bounds = range_bounds(sizes, "c|", "c}", self._range_rows)
        for e in sharded(self._table, bounds, flt, select, workers):
            pk = str(e.get("PartitionKey"))
            yield pk[2:], self._stored_link(pk, e)

    def _stored_link(self, pk: str, e: Entity) -> StoredLink:
        if e.get("Body1") is not None:
            e = self.get(pk, str(e.get("RowKey"))) or e
        return StoredLink(
            row_key=str(e.get("RowKey")),
            body=body_of(e),
            stored_hash=str(e.get("Hash") or ""),
            stored_prev=str(e.get("PrevHash") or ""),
        )

    def all_heads(self) -> dict[str, HeadMark]:
        """Every chain's head row (one range query)."""
        flt = odata_filter(
            "PartitionKey ge @lo and PartitionKey lt @hi and RowKey eq @head",
            {"lo": "c|", "hi": "c}", "head": HEAD_ROW},
        )
        out = {}
        for e in raw_rows(self._table, flt, ["PartitionKey", "Seq", "Hash"]):
            seq = e.get("Seq")
            if type(seq) is int:
                out[str(e.get("PartitionKey"))[2:]] = HeadMark(seq, str(e.get("Hash") or ""))
        return out

    def chain(self, region: str, key_hash: str) -> list[AuditEntry]:
        rows, _ = self.rows(chain_partition(key_hash), lo=SEQ_PREFIX, hi="seq.")
        return [entry_of(region, e) for e in rows]

    def head(self, key_hash: str) -> HeadMark | None:
        e = self.get(chain_partition(key_hash), HEAD_ROW)
        return None if e is None else HeadMark(int(e["Seq"]), str(e["Hash"]))

    def link_at(self, key_hash: str, row_key: str) -> Entity | None:
        return self.get(chain_partition(key_hash), row_key)

    def links_at(self, key_hash: str, row_keys: Iterable[str]) -> dict[str, Entity]:
        """Several rows of one chain partition in one request (a filter naming each row key;
        row keys are the writer's own ``seq-…`` / ``idem-…`` keys, never outside text)."""
        wanted = sorted(set(row_keys))
        if not wanted:
            return {}
        params = {"pk": chain_partition(key_hash)}
        params.update({f"r{i}": row for i, row in enumerate(wanted)})
        rows = " or ".join(f"RowKey eq @r{i}" for i in range(len(wanted)))
        # the SDK substitutes only whitespace-separated ``@name`` words: keep them apart
        found = self._query(f"PartitionKey eq @pk and ( {rows} )", params, len(wanted))
        return {str(e["RowKey"]): e for e in found}

    def hash_at(self, key_hash: str, seq: int) -> str | None:
        e = self.link_at(key_hash, seq_row_key(seq))
        return None if e is None else str(e.get("Hash"))

    # -- index partitions ----------------------------------------------------------------
    def index_rows(self) -> Iterator[IndexRow]:
        """Every time, by-actor and deployment row: one range query per index, not a scan."""
        for prefix in INDEX_PREFIXES:
            flt = "PartitionKey ge @lo and PartitionKey lt @hi"
            for e in self._query(flt, {"lo": prefix, "hi": _after(prefix)}, MAX_PAGE):
                yield _index_row(e)
        for prefix in ARTIFACTS_INDEX_PREFIXES:
            flt = "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi"
            params = {"pk": ARTIFACTS, "lo": prefix, "hi": _after(prefix)}
            for e in self._query(flt, params, MAX_PAGE):
                yield _index_row(e)

    def index_row(self, partition: str, row_key: str) -> IndexRow | None:
        e = self.get(partition, row_key)
        return None if e is None else _index_row(e)

    def live_rows(self) -> Iterator[IndexRow]:
        for e in self._query("PartitionKey eq @pk", {"pk": LIVE}, MAX_PAGE):
            yield _index_row(e)

    def artifacts(self) -> Iterator[IndexedArtifact]:
        """One per chain: the ``artifacts`` partition's rows before its name rows."""
        flt = "PartitionKey eq @pk and RowKey lt @names"
        for e in self._query(flt, {"pk": ARTIFACTS, "names": NAME_ROW_PREFIX}, MAX_PAGE):
            yield _artifact_row(e)

    def named(self, name: str) -> list[IndexedArtifact]:
        """The artifacts under ``name``: its rows in the ``artifacts`` partition, and those
        written before name rows moved there (a row in both places is read from the new one)."""
        lo, hi = name_row_range(name)
        rows, _ = self.rows(ARTIFACTS, lo=lo, hi=hi)
        found = {art.key_hash: art for art in map(_artifact_row, rows)}
        legacy, _ = self.rows(legacy_name_partition(name))
        for art in map(_artifact_row, legacy):
            found.setdefault(art.key_hash, art)
        return sorted(found.values(), key=lambda art: art.key_hash)

    def scan(self, flt: str | None = None) -> Iterator[Entity]:
        """Every row of the table (matching ``flt``): a full scan, for baselines and tests only."""
        from azure.core.exceptions import AzureError, ResourceNotFoundError

        try:
            if flt is None:
                yield from self._table.list_entities(results_per_page=MAX_PAGE)
            else:
                yield from self._table.query_entities(flt, results_per_page=MAX_PAGE)
        except ResourceNotFoundError:
            return
        except AzureError as exc:
            raise TransientError(f"lineage store unavailable: {exc}") from exc


def _after(prefix: str) -> str:
    """The first key past every key starting with ``prefix``."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _live_entry(region: str, e: Entity) -> LiveEntry:
    return LiveEntry(
        region=region, model=str(e["Model"]), since=e["Since"], entry=entry_of(region, e)
    )


def _index_row(e: Entity) -> IndexRow:
    """Whatever the row holds, as text: a row edited into nonsense diverges, it does not raise."""
    seq = e.get("Seq")
    return IndexRow(
        partition=str(e.get("PartitionKey")),
        row_key=str(e.get("RowKey")),
        key_hash=str(e.get("KeyHash", "")),
        seq=seq if isinstance(seq, int) else -1,
        hash=str(e.get("Hash", "")),
        body=body_of(e),
    )


def _artifact_row(e: Entity) -> IndexedArtifact:
    return IndexedArtifact(
        key_hash=str(e["RowKey"]).rsplit("|", 1)[-1],  # ``n|<name>|<key hash>`` or the hash
        artifact=ArtifactRef.model_validate_json(str(e["Artifact"])),
        first_at=e.get("FirstAt"),
        version=e.get("Version"),
        tag=e.get("Tag"),
    )
