"""The writer remembers what it wrote (heads, first-record times, index rows) to save round
trips; storage still decides. Writers with stale memories, a chain moved behind a writer's back,
and replays must all still give one contiguous, verifiable chain and complete indexes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest

from shared.composition import Container
from shared.domain.lineage.index import day_partition
from shared.domain.lineage.record import RecordKind
from shared.domain.lineage.verify import verify_chain
from tests.integration.lineage_support import T0, new_image, record, writer

pytestmark = pytest.mark.stack

Cells = Callable[[str], Container]


@contextmanager
def requests_sent() -> Iterator[list[str]]:
    """Every request the storage clients of this process send, as ``METHOD path``."""
    from urllib.parse import unquote, urlsplit

    from tests.support.request_counts import transports

    sent: list[str] = []
    originals = {cls: cls.send for cls in transports()}

    def counted(original: Callable[..., object]) -> Callable[..., object]:
        def send(transport: object, request: object, **kwargs: object) -> object:
            sent.append(f"{request.method} {unquote(urlsplit(request.url).path)}")  # type: ignore[attr-defined]
            return original(transport, request, **kwargs)

        return send

    for cls, original in originals.items():
        cls.send = counted(original)  # type: ignore[method-assign]
    try:
        yield sent
    finally:
        for cls, original in originals.items():
            cls.send = original  # type: ignore[method-assign]


def test_two_writers_with_stale_heads_still_make_one_contiguous_chain(
    cell_container: Cells,
) -> None:
    cell = cell_container("westeurope")
    a, b = writer(cell), writer(cell)  # two instances of the cell, each with its own memory
    artifact = new_image("westeurope", "stale-heads")
    for i in range(10):
        store = a if i % 3 else b  # each one's remembered head is behind the other's writes
        r = record(artifact, RecordKind.APPROVAL_VOTE, "westeurope", T0 + timedelta(seconds=i))
        assert store.append(r, idempotency_key=f"vote-{i}") is True
    reader = writer(cell).reader
    chain = reader.chain("westeurope", artifact.key_hash)
    assert [e.seq for e in chain] == list(range(1, 11))
    check = verify_chain(
        artifact.key_hash, reader.stored_links(artifact.key_hash), reader.head(artifact.key_hash)
    )
    assert check.ok, check.fault


def test_a_step_after_the_writers_own_step_reads_neither_head_nor_first_record(
    cell_container: Cells,
) -> None:
    cell = cell_container("westeurope")
    store = writer(cell)
    artifact = new_image("westeurope", "no-reread")
    store.append(record(artifact, RecordKind.ARTIFACT_RECEIVED, "westeurope", T0))
    with requests_sent() as sent:
        store.append(record(artifact, RecordKind.ARTIFACT_VALIDATED, "westeurope", T0))
    reads = [r for r in sent if r.startswith("GET ")]
    assert reads == [], reads
    # the chain transaction and the one index row that is new for this record
    assert [r.split(" ")[0] for r in sent] == ["POST", "PATCH"], sent


def test_a_replay_rewrites_every_index_row_even_those_the_writer_remembers(
    cell_container: Cells,
) -> None:
    cell = cell_container("westeurope")
    store = writer(cell)
    artifact = new_image("westeurope", "replay-rewrites")
    r = record(artifact, RecordKind.ARTIFACT_RECEIVED, "westeurope", T0 + timedelta(hours=5))
    assert store.append(r, idempotency_key="evt-9|received") is True
    day, _ = store.reader.rows(day_partition(r.at))
    row = next(e for e in day if e["KeyHash"] == artifact.key_hash)
    cell.table_service.get_table_client("lineage").delete_entity(row["PartitionKey"], row["RowKey"])
    assert store.append(r, idempotency_key="evt-9|received") is False  # the platform's retry
    day, _ = store.reader.rows(day_partition(r.at))
    assert any(e["KeyHash"] == artifact.key_hash for e in day)


def test_a_chain_truncated_behind_the_writers_back_is_not_papered_over(
    cell_container: Cells,
) -> None:
    """An insider deletes the newest records and moves the head row back. The writer's next
    append must not silently continue the truncated chain as if nothing happened: verify still
    sees the damage."""
    cell = cell_container("westeurope")
    store = writer(cell)
    artifact = new_image("westeurope", "truncated")
    for i in range(4):
        store.append(
            record(artifact, RecordKind.APPROVAL_VOTE, "westeurope", T0 + timedelta(seconds=i))
        )
    table = cell.table_service.get_table_client("lineage")
    reader = store.reader
    links = list(reader.stored_links(artifact.key_hash))
    partition = f"c|{artifact.key_hash}"
    for stored in links[2:]:
        table.delete_entity(partition, stored.row_key)
    head = table.get_entity(partition, "head")
    head["Seq"], head["Hash"] = 2, links[1].stored_hash
    table.update_entity(head)

    store.append(
        record(artifact, RecordKind.APPROVAL_VOTE, "westeurope", T0 + timedelta(seconds=9))
    )
    check = verify_chain(
        artifact.key_hash, reader.stored_links(artifact.key_hash), reader.head(artifact.key_hash)
    )
    assert not check.ok
