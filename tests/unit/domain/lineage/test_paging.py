"""Continuation tokens and paging across sources and regions, over an in-memory reader."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.errors import InputError
from shared.domain.lineage.chain import Link
from shared.domain.lineage.index import (
    ARTIFACTS,
    actor_row_key,
    day_partition,
    legacy_actor_partition,
    moment_row_key,
)
from shared.domain.lineage.paging import Cursor, decode_token, encode_token
from shared.domain.lineage.record import Actor, ArtifactRef, LineageRecord, RecordKind
from shared.domain.lineage.views import AuditEntry, IndexedArtifact, LiveEntry
from shared.services.lineage.queries import AuditQueries, every

T0 = datetime(2026, 3, 1, 22, 0, tzinfo=UTC)


class MemoryReader:
    """Partitions of rows, like a table: {partition: {row_key: entry}}."""

    def __init__(self) -> None:
        self.parts: dict[str, dict[str, AuditEntry]] = {}
        self.reads: list[str] = []

    def add(self, partition: str, row_key: str, entry: AuditEntry) -> None:
        self.parts.setdefault(partition, {})[row_key] = entry

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
        self.reads.append(partition)
        rows = sorted(self.parts.get(partition, {}).items())
        rows = [
            (k, e)
            for k, e in rows
            if (after is None or k > after)
            and (lo is None or k >= lo)
            and (hi is None or k < hi)
            and (kind is None or e.record.kind == kind)
        ]
        if limit is not None and len(rows) > limit:
            return rows[:limit], True
        return rows, False

    def live(
        self,
        region: str,
        *,
        after: str | None = None,
        limit: int | None = None,
        stage: str | None = None,
    ) -> tuple[list[tuple[str, LiveEntry]], bool]:
        return [], False

    def named(self, name: str) -> list[IndexedArtifact]:
        return []

    def artifacts(self) -> Iterator[IndexedArtifact]:
        return iter([])


def entry(region: str, i: int, who: str = "ann@contoso.example") -> AuditEntry:
    art = ArtifactRef(kind="image", registry="r", repository="m", digest=f"sha256:{i}")
    record = LineageRecord(
        kind=RecordKind.APPROVAL_VOTE if i % 2 else RecordKind.ARTIFACT_RECEIVED,
        at=T0 + timedelta(minutes=20 * i),
        region=region,
        actor=Actor(identity=who, established_by="signed_link"),
        artifact=art,
    )
    return AuditEntry.of(region, art.key_hash, Link.make(1, "0" * 64, record))


@pytest.fixture
def queries() -> AuditQueries:
    readers = {"westeurope": MemoryReader(), "swedencentral": MemoryReader()}
    for region, reader in readers.items():
        for i in range(13):
            e = entry(region, i)
            r = e.record
            reader.add(day_partition(r.at), moment_row_key(r.at, e.key_hash, e.seq), e)
            who, at = r.actor.identity, r.at
            if i < 4:  # written before by-actor rows moved into the artifacts partition
                reader.add(legacy_actor_partition(who), moment_row_key(at, e.key_hash, 1), e)
            else:
                reader.add(ARTIFACTS, actor_row_key(who, at, e.key_hash, 1, "actor"), e)
    return AuditQueries(readers)


def test_a_token_is_bound_to_its_query() -> None:
    token = encode_token(Cursor("00|t|20260301", "2026-03-01T22:00"), "fp-a")
    assert decode_token(token, "fp-a") == Cursor("00|t|20260301", "2026-03-01T22:00")
    with pytest.raises(InputError, match="different query"):
        decode_token(token, "fp-b")
    with pytest.raises(InputError, match="issued"):
        decode_token("not a token!", "fp-a")


@pytest.mark.parametrize("limit", [1, 2, 5, 12, 13, 26, 1000])
def test_pages_concatenate_to_the_whole_answer_across_days_and_regions(
    queries: AuditQueries, limit: int
) -> None:
    since, until = T0, T0 + timedelta(days=1)
    whole = queries.window(since, until, limit=1000).items
    assert len(whole) == 26  # 13 per region, over two UTC days
    pages, token = [], None
    while True:
        page = queries.window(since, until, limit=limit, token=token)
        assert len(page.items) <= limit
        pages.append(page)
        token = page.continuation
        if token is None:
            break
    assert [e for p in pages for e in p.items] == whole
    assert len(pages) >= 26 // limit
    assert [e.region for e in whole] == ["westeurope"] * 13 + ["swedencentral"] * 13


def test_filters_regions_and_kinds_read_only_their_partitions(queries: AuditQueries) -> None:
    got = list(
        every(
            lambda t: queries.by_actor(
                "ANN@contoso.example", "swedencentral", str(RecordKind.APPROVAL_VOTE), token=t
            )
        )
    )
    assert {e.region for e in got} == {"swedencentral"}
    assert len(got) == 6 and all(e.record.kind is RecordKind.APPROVAL_VOTE for e in got)


@pytest.mark.parametrize("limit", [1, 3, 4, 5, 13, 1000])
def test_by_actor_pages_through_both_layouts_in_time_order(
    queries: AuditQueries, limit: int
) -> None:
    """Rows of the former layout (``x|<identity>`` partitions) come first, then the rows in
    the artifacts partition: one time-ordered answer per region, nothing twice, nothing lost."""
    got = list(every(lambda t: queries.by_actor("ann@contoso.example", limit=limit, token=t)))
    assert len(got) == 26
    for region in ("westeurope", "swedencentral"):
        times = [e.record.at for e in got if e.region == region]
        assert times == sorted(times) and len(times) == 13
    assert len({(e.region, e.key_hash) for e in got}) == 26
    someone_else = list(every(lambda t: queries.by_actor("bob@contoso.example", token=t)))
    assert someone_else == []
    with pytest.raises(InputError, match="own cell"):
        queries.live("eastus")


def test_a_window_must_be_ordered_and_bounded(queries: AuditQueries) -> None:
    with pytest.raises(InputError, match="later"):
        queries.window(T0, T0)
    with pytest.raises(InputError, match="at most"):
        queries.window(T0, T0 + timedelta(days=500))
    with pytest.raises(InputError, match="limit"):
        queries.live(limit=0)
