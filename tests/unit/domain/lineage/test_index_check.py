"""Index rows are checked against the chain record they copy, not against their own hash."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from shared.domain.lineage.chain import Link
from shared.domain.lineage.index import LIVE, live_row_key
from shared.domain.lineage.index_check import (
    ChainIndexView,
    IndexRow,
    check_indexes,
    index_addresses,
)
from shared.domain.lineage.record import Actor, ArtifactRef, LineageRecord, RecordKind

ART = ArtifactRef(kind="image", registry="r", repository="models/m", digest="sha256:" + "1" * 64)
KEY = ART.key_hash


def link(seq: int, prev: str, kind: RecordKind, who: str = "ann@contoso.example",
         decision: str = "approve") -> Link:  # fmt: skip
    record = LineageRecord(
        kind=kind,
        at=datetime(2026, 3, 1, 9, seq, tzinfo=UTC),
        region="westeurope",
        actor=Actor(identity=who, established_by="signed_link"),
        artifact=ART,
        details={"decision": decision, "model": "m"},
    )
    return Link.make(seq, prev, record)


def rows_of(view_links: list[Link]) -> list[IndexRow]:
    return [
        IndexRow(pk, rk, KEY, ln.seq, ln.hash, ln.body)
        for ln in view_links
        for pk, rk in index_addresses(KEY, ln)
    ]


def setup() -> tuple[ChainIndexView, list[Link]]:
    one = link(1, "0" * 64, RecordKind.APPROVAL_VOTE)
    two = link(2, one.hash, RecordKind.DEPLOYMENT_SUCCEEDED, who="deployer")
    view = ChainIndexView.empty()
    for ln in (one, two):
        view.add(KEY, ln)
    return view, [one, two]


def live_row(ln: Link) -> IndexRow:
    return IndexRow(LIVE, live_row_key("m"), KEY, ln.seq, ln.hash, ln.body)


def test_faithful_copies_pass() -> None:
    view, links = setup()
    count, faults = check_indexes(view, rows_of(links), [live_row(links[1])])
    assert faults == [] and count == len(rows_of(links)) + 1


def test_an_edited_and_rehashed_copy_is_named() -> None:
    view, links = setup()
    rows = rows_of(links)
    vote = rows[1]  # the by-actor row of the vote
    body = vote.body.replace('"approve"', '"reject"')
    forged = IndexRow(
        vote.partition, vote.row_key, KEY, 1, hashlib.sha256(body.encode()).hexdigest(), body
    )
    _, faults = check_indexes(
        view, [forged if r == vote else r for r in rows], [live_row(links[1])]
    )
    assert [(f.partition, f.row_key) for f in faults] == [(vote.partition, vote.row_key)]


def test_a_copy_with_the_chain_hash_but_another_body_is_named() -> None:
    view, links = setup()
    rows = rows_of(links)
    vote = rows[1]
    edited = IndexRow(
        vote.partition, vote.row_key, KEY, 1, vote.hash, vote.body.replace("approve", "reject")
    )
    _, faults = check_indexes(
        view, [edited if r == vote else r for r in rows], [live_row(links[1])]
    )
    assert "edited copy" in faults[0].detail


def test_missing_moved_and_lying_live_rows_are_named() -> None:
    view, links = setup()
    rows = rows_of(links)
    vote = rows[1]
    moved = IndexRow("x|" + "f" * 64, vote.row_key, KEY, 1, vote.hash, vote.body)
    lying = live_row(links[0])  # says the vote is what runs
    _, faults = check_indexes(view, [moved if r == vote else r for r in rows], [lying])
    named = {(f.partition, f.row_key) for f in faults}
    assert named == {(vote.partition, vote.row_key), (moved.partition, moved.row_key),
                     (LIVE, live_row_key("m"))}  # fmt: skip
    _, gone = check_indexes(view, rows, [])
    assert [f.partition for f in gone] == [LIVE]


def staged(seq: int, prev: str, stage: str, production: bool) -> Link:
    details = {"model": "m", "stage": stage} | ({} if production else {"production": "false"})
    record = LineageRecord(
        kind=RecordKind.DEPLOYMENT_SUCCEEDED,
        at=datetime(2026, 3, 1, 9, seq, tzinfo=UTC),
        region="westeurope",
        actor=Actor(identity="deployer", established_by="managed_identity"),
        artifact=ART,
        details=details,
    )
    return Link.make(seq, prev, record)


def staged_setup() -> tuple[ChainIndexView, list[Link], IndexRow, IndexRow]:
    """prod succeeded first, then staging: each stage keeps its own live row."""
    prod = staged(1, "0" * 64, "prod", production=True)
    staging = staged(2, prod.hash, "staging", production=False)
    view = ChainIndexView.empty()
    for ln in (prod, staging):
        view.add(KEY, ln)
    prod_row = IndexRow(LIVE, live_row_key("m"), KEY, prod.seq, prod.hash, prod.body)
    staging_row = IndexRow(
        LIVE, live_row_key("m", "staging"), KEY, staging.seq, staging.hash, staging.body
    )
    return view, [prod, staging], prod_row, staging_row


def test_a_staging_success_does_not_replace_the_production_live_row() -> None:
    view, links, prod_row, staging_row = staged_setup()
    assert set(view.live()) == {(LIVE, live_row_key("m")), (LIVE, live_row_key("m", "staging"))}
    assert live_row_key("m", "staging") != live_row_key("m") != live_row_key("m", "prod")
    count, faults = check_indexes(view, rows_of(links), [prod_row, staging_row])
    assert faults == [] and count == len(rows_of(links)) + 2


def test_stage_live_rows_edited_moved_or_deleted_are_found() -> None:
    view, links, prod_row, staging_row = staged_setup()
    # the staging record copied into the production row (what a model-only key used to do)
    moved = IndexRow(LIVE, prod_row.row_key, KEY, staging_row.seq, staging_row.hash,
                     staging_row.body)  # fmt: skip
    _, faults = check_indexes(view, rows_of(links), [moved, staging_row])
    assert [f.row_key for f in faults] == [prod_row.row_key] and "says seq 2" in faults[0].detail
    # the staging row's body edited (another digest), hash left alone
    body = staging_row.body.replace('"staging"', '"stagin9"')
    edited = IndexRow(LIVE, staging_row.row_key, KEY, 2, staging_row.hash, body)
    _, faults = check_indexes(view, rows_of(links), [prod_row, edited])
    assert [f.row_key for f in faults] == [staging_row.row_key] and "edited" in faults[0].detail
    # the staging row deleted
    _, faults = check_indexes(view, rows_of(links), [prod_row])
    assert [f.row_key for f in faults] == [staging_row.row_key]
    assert "missing" in faults[0].detail
    # a row under a stage the chain never deployed to
    ghost = IndexRow(LIVE, live_row_key("m", "canary"), KEY, 2, staging_row.hash,
                     staging_row.body)  # fmt: skip
    _, faults = check_indexes(view, rows_of(links), [prod_row, staging_row, ghost])
    assert [f.row_key for f in faults] == [ghost.row_key] and "nothing runs" in faults[0].detail


def test_records_without_the_non_production_mark_keep_the_models_own_row() -> None:
    """Unstaged regions, the production stage, and records written before the mark."""
    old = staged(1, "0" * 64, "staging", production=True)  # no ``production=false`` mark
    view = ChainIndexView.empty()
    view.add(KEY, old)
    assert set(view.live()) == {(LIVE, live_row_key("m"))}
