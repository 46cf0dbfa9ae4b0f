"""The hash-chained lineage store on Azurite: appends, races, idempotency, indexes, residency."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from datetime import timedelta

import pytest

from shared.adapters.storage.lineage.reader import TableLineageReader
from shared.adapters.storage.lineage.writer import ResidencyViolation
from shared.composition import Container
from shared.domain.lineage.chain import GENESIS
from shared.domain.lineage.index import (
    ARTIFACTS,
    LIVE,
    actor_row_range,
    day_partition,
    legacy_name_partition,
    live_row_key,
    name_row_range,
)
from shared.domain.lineage.record import RecordKind
from shared.domain.lineage.verify import verify_chain
from shared.services.lineage.queries import live_now
from tests.integration.lineage_support import T0, deployed, new_image, record, story, writer

pytestmark = pytest.mark.stack

Cells = Callable[[str], Container]


def test_a_story_becomes_one_linear_chain_with_its_index_rows(cell_container: Cells) -> None:
    cell = cell_container("westeurope")
    store = writer(cell)
    artifact = new_image("westeurope", "story-model")
    for r in story(artifact, "westeurope"):
        assert store.append(r) is True

    chain = store.reader.chain("westeurope", artifact.key_hash)
    assert [e.seq for e in chain] == list(range(1, 9))
    assert chain[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(chain))
    assert [e.record.kind for e in chain] == [r.kind for r in story(artifact, "westeurope")]

    reader = store.reader
    names = {a.key_hash for a in reader.named("story-model")}
    assert artifact.key_hash in names
    day, _ = reader.rows(day_partition(T0))
    assert sum(1 for e in day if e["KeyHash"] == artifact.key_hash) == 8
    lo, hi = actor_row_range("CID@contoso.example")  # identities: case-blind
    asked, _ = reader.rows(ARTIFACTS, lo=lo, hi=hi)
    assert [(e["KeyHash"], e["Role"]) for e in asked if e["KeyHash"] == artifact.key_hash] == [
        (artifact.key_hash, "asked")
    ]
    live = reader.get(LIVE, live_row_key("story-model"))
    assert live is not None
    assert (live["KeyHash"], live["Seq"]) == (artifact.key_hash, 8)


def test_concurrent_appends_make_one_linear_chain_and_lose_nothing(cell_container: Cells) -> None:
    cell = cell_container("westeurope")
    artifact = new_image("westeurope")
    threads, per_thread = 6, 8
    results: dict[str, bool] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def work(t: int) -> None:
        store = writer(cell)  # one writer per thread, like separate function instances
        start.wait()
        try:
            for i in range(per_thread):
                r = record(artifact, RecordKind.APPROVAL_VOTE, "westeurope", actor=f"t{t}-{i}")
                results[f"t{t}-{i}"] = store.append(r, idempotency_key=f"t{t}-{i}")
                # a retried delivery of the same step must not write it twice
                assert store.append(r, idempotency_key=f"t{t}-{i}") is False
        except BaseException as exc:
            errors.append(exc)

    pool = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()

    assert errors == []
    assert all(results.values()) and len(results) == threads * per_thread
    reader = writer(cell).reader
    chain = reader.chain("westeurope", artifact.key_hash)
    assert [e.seq for e in chain] == list(range(1, threads * per_thread + 1))
    assert sorted(e.record.actor.identity for e in chain) == sorted(results)
    check = verify_chain(
        artifact.key_hash, reader.stored_links(artifact.key_hash), reader.head(artifact.key_hash)
    )
    assert check.ok, check.fault
    assert check.records == threads * per_thread


def test_a_replay_after_a_failed_index_write_restores_the_index(cell_container: Cells) -> None:
    cell = cell_container("westeurope")
    store = writer(cell)
    artifact = new_image("westeurope")
    r = record(artifact, RecordKind.ARTIFACT_RECEIVED, "westeurope", T0 + timedelta(hours=3))
    assert store.append(r, idempotency_key="evt-1|received") is True
    table = cell.table_service.get_table_client("lineage")
    day, _ = store.reader.rows(day_partition(r.at))
    row = next(e for e in day if e["KeyHash"] == artifact.key_hash)
    table.delete_entity(row["PartitionKey"], row["RowKey"])  # as if the index write had failed

    assert store.append(r, idempotency_key="evt-1|received") is False
    day, _ = store.reader.rows(day_partition(r.at))
    assert [e["Seq"] for e in day if e["KeyHash"] == artifact.key_hash] == [1]
    assert len(store.reader.chain("westeurope", artifact.key_hash)) == 1


def test_live_follows_deployments_and_rollbacks(cell_container: Cells) -> None:
    cell = cell_container("swedencentral")
    store = writer(cell)
    v1 = new_image("swedencentral", "live-model", "1.0.0")
    v2 = new_image("swedencentral", "live-model", "2.0.0")
    v3 = new_image("swedencentral", "live-model", "3.0.0")

    def live() -> str | None:
        row = store.reader.get(LIVE, live_row_key("live-model"))
        return None if row is None else str(row["KeyHash"])

    store.append(deployed(v1, "swedencentral", T0))
    store.append(deployed(v2, "swedencentral", T0 + timedelta(hours=1)))
    assert live() == v2.key_hash
    # a canary of v3 fails and is rolled back: v2 stays live
    store.append(
        deployed(v3, "swedencentral", T0 + timedelta(hours=2), RecordKind.DEPLOYMENT_ROLLED_BACK)
    )
    assert live() == v2.key_hash
    # v2 is rolled back: v1 is live again, since its own deployment
    store.append(
        deployed(v2, "swedencentral", T0 + timedelta(hours=3), RecordKind.DEPLOYMENT_ROLLED_BACK)
    )
    assert live() == v1.key_hash
    assert live_now(store.reader, "swedencentral", "LIVE-MODEL") == (
        f"1.0.0 ({v1.digest}) since 2026-03-01 09:00 UTC"
    )
    store.append(
        deployed(v1, "swedencentral", T0 + timedelta(hours=4), RecordKind.DEPLOYMENT_ROLLED_BACK)
    )
    assert live() is None
    assert live_now(store.reader, "swedencentral", "live-model") is None


def test_residency_a_swedencentral_artifact_never_reaches_westeurope(cell_container: Cells) -> None:
    west, sweden = cell_container("westeurope"), cell_container("swedencentral")
    artifact = new_image("swedencentral", "resident-model")
    for r in story(artifact, "swedencentral"):
        writer(sweden).append(r, idempotency_key=f"{r.kind}")
    with pytest.raises(ResidencyViolation):
        writer(west).append(record(artifact, RecordKind.ARTIFACT_RECEIVED, "swedencentral"))

    def mentions(cell: Container) -> int:
        rows = TableLineageReader(cell.table_service).scan()
        return sum(1 for e in rows if any(artifact.digest in str(v) for v in e.values()))

    assert mentions(sweden) >= 8  # chain rows, index copies
    assert mentions(west) == 0
    reader = TableLineageReader(west.table_service)
    assert artifact.key_hash not in {a.key_hash for a in reader.named("resident-model")}
    lo, hi = name_row_range("resident-model")
    assert reader.rows(ARTIFACTS, lo=lo, hi=hi)[0] == []
    assert reader.rows(legacy_name_partition("resident-model"))[0] == []


def test_name_rows_share_the_artifacts_partition_and_never_pose_as_artifacts(
    cell_container: Cells,
) -> None:
    cell = cell_container("westeurope")
    store = writer(cell)
    artifacts = [new_image("westeurope", "catalog-model") for _ in range(3)]
    for artifact in artifacts:
        for r in story(artifact, "westeurope")[:2]:
            store.append(r)
    reader = store.reader
    lo, hi = name_row_range("Catalog-Model ")  # names are case- and space-blind
    rows, _ = reader.rows(ARTIFACTS, lo=lo, hi=hi)
    assert {r["RowKey"].rsplit("|", 1)[-1] for r in rows} == {a.key_hash for a in artifacts}
    listed = [a.key_hash for a in reader.artifacts()]
    assert len(listed) == len(set(listed))  # one row per chain, whatever names it has
    assert {a.key_hash for a in artifacts} <= set(listed)
    assert all("|" not in key for key in listed)


def test_name_rows_written_before_the_move_are_still_read(cell_container: Cells) -> None:
    """Rows of the former layout (partition ``n|<name>``) answer ``history`` beside the new
    ones; an artifact found in both is listed once, from its new row."""
    cell = cell_container("westeurope")
    store = writer(cell)
    moved, old_only = new_image("westeurope", "moved-model"), new_image("westeurope", "moved-model")
    for r in story(moved, "westeurope")[:2]:
        store.append(r)
    table = cell.table_service.get_table_client("lineage")
    for artifact, version in ((moved, "stale"), (old_only, "0.9.0")):
        table.upsert_entity(
            {
                "PartitionKey": legacy_name_partition("moved-model"),
                "RowKey": artifact.key_hash,
                "Name": "moved-model",
                "ArtifactKey": artifact.key,
                "Artifact": artifact.model_dump_json(),
                "Region": "westeurope",
                "FirstAt": T0,
                "Version": version,
            }
        )
    found = {a.key_hash: a for a in store.reader.named("moved-model")}
    assert set(found) == {moved.key_hash, old_only.key_hash}
    assert found[old_only.key_hash].version == "0.9.0"
    assert found[moved.key_hash].version != "stale"


def test_a_replay_moves_by_actor_rows_of_the_former_layout(cell_container: Cells) -> None:
    """A step appended before by-actor rows joined the artifacts partition, replayed after
    (a platform retry finding its marker): its rows are rewritten at their current address and
    the former copies dropped, so by-actor lists the step once."""
    from shared.domain.lineage.index import former_address
    from shared.services.lineage.queries import AuditQueries, every

    cell = cell_container("westeurope")
    store = writer(cell)
    artifact = new_image("westeurope", "replayed-model")
    steps = story(artifact, "westeurope")[:4]
    for i, r in enumerate(steps):
        assert store.append(r, idempotency_key=f"step-{i}") is True
    table = cell.table_service.get_table_client("lineage")
    lo, hi = actor_row_range("ann@contoso.example")
    mine = [
        e
        for e in store.reader.rows(ARTIFACTS, lo=lo, hi=hi)[0]
        if e["KeyHash"] == artifact.key_hash
    ]
    assert mine
    for row in mine:  # as the former code left them
        former = former_address(ARTIFACTS, row["RowKey"])
        assert former is not None
        table.delete_entity(ARTIFACTS, row["RowKey"])
        table.upsert_entity({**row, "PartitionKey": former[0], "RowKey": former[1]})
    for i, r in enumerate(steps):
        assert store.append(r, idempotency_key=f"step-{i}") is False  # replayed
    for row in mine:
        former = former_address(ARTIFACTS, row["RowKey"])
        assert former is not None and store.reader.get(*former) is None
        assert store.reader.get(ARTIFACTS, row["RowKey"]) is not None
    queries = AuditQueries({"westeurope": store.reader})
    listed = [
        (e.key_hash, e.seq, e.role)
        for e in every(lambda t: queries.by_actor("ann@contoso.example", token=t))
        if e.key_hash == artifact.key_hash
    ]
    assert len(listed) == len(mine) == len(set(listed))


def test_a_forged_continuation_token_stays_inside_the_identitys_rows(cell_container: Cells) -> None:
    """Tokens are not secret (their fingerprint is computable): an ``after`` below the
    identity's range must not read other identities' rows, nor the artifact and name rows
    (which carry no record and would read as corrupted)."""
    from shared.domain.lineage.index import normalise_identity
    from shared.domain.lineage.paging import Cursor, encode_token, query_fingerprint
    from shared.services.lineage.queries import AuditQueries

    cell = cell_container("westeurope")
    store = writer(cell)
    artifact = new_image("westeurope", "forged-token-model")
    for r in story(artifact, "westeurope")[:4]:
        store.append(r)
    queries = AuditQueries({"westeurope": store.reader})
    who = "cid@contoso.example"
    fp = query_fingerprint("actor-2", normalise_identity(who), None, None)
    honest = queries.by_actor(who, limit=1000).items
    assert honest
    for after in ("", "0", "n|", "x|", "x|0"):
        token = encode_token(Cursor("00|1", after), fp)
        forged = queries.by_actor(who, limit=1000, token=token).items
        assert forged and all(e in honest for e in forged), after
