"""The hash chain: canonical bodies, and verification naming the first broken link."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from shared.domain.lineage.chain import GENESIS, ChainFormatError, HeadMark, Link, seq_row_key
from shared.domain.lineage.record import Actor, ArtifactRef, LineageRecord, RecordKind
from shared.domain.lineage.verify import Fault, StoredLink, verify_chain

ART = ArtifactRef(
    kind="image", registry="r.azurecr.io", repository="m/x", digest="sha256:" + "a" * 64
)


def rec(i: int, at: datetime | None = None) -> LineageRecord:
    return LineageRecord(
        kind=RecordKind.APPROVAL_VOTE,
        at=at or datetime(2026, 3, 1, 9, 0, tzinfo=UTC) + timedelta(minutes=i),
        region="westeurope",
        actor=Actor(identity=f"approver{i}@contoso.example", established_by="signed_link"),
        artifact=ART,
        details={"decision": "approve", "note": 'ünïcødé, "quoted"'},
    )


def chain(n: int) -> list[Link]:
    links: list[Link] = []
    for i in range(n):
        links.append(Link.after(links[-1].mark if links else None, rec(i)))
    return links


def stored(links: list[Link]) -> list[StoredLink]:
    return [StoredLink(ln.row_key, ln.body, ln.hash, ln.prev_hash) for ln in links]


def test_body_is_canonical_utc_json_with_position_and_predecessor() -> None:
    first, second = chain(2)
    doc = json.loads(second.body)
    assert second.body == json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert doc["seq"] == 2 and doc["prev"] == first.hash and first.prev_hash == GENESIS
    assert doc["record"]["at"] == "2026-03-01T09:01:00.000000Z"


def test_the_same_instant_in_any_zone_hashes_the_same() -> None:
    utc = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    cet = utc.astimezone(timezone(timedelta(hours=1)))
    naive = datetime(2026, 3, 1, 9, 0)
    hashes = {Link.make(1, GENESIS, rec(0, at)).hash for at in (utc, cet, naive)}
    assert len(hashes) == 1


def test_parse_reads_back_the_same_link_and_refuses_a_reformatted_body() -> None:
    link = chain(1)[0]
    assert Link.parse(link.body) == link
    pretty = json.dumps(json.loads(link.body), indent=1)
    with pytest.raises(ChainFormatError, match="canonical"):
        Link.parse(pretty)


def test_an_intact_chain_verifies() -> None:
    links = chain(5)
    check = verify_chain("k", stored(links), links[-1].mark, anchor=links[2].mark)
    assert check.ok and check.records == 5


def test_an_edited_record_is_named() -> None:
    links = stored(chain(5))
    body = links[2].body.replace("approver2@", "mallory@")
    links[2] = StoredLink(links[2].row_key, body, links[2].stored_hash, links[2].stored_prev)
    check = verify_chain("k", links, HeadMark(5, links[4].stored_hash))
    assert check.fault is not None
    assert (check.fault.fault, check.fault.row_key) == (Fault.EDITED, seq_row_key(3))


def test_an_edit_with_a_recomputed_hash_breaks_the_next_link() -> None:
    links = chain(5)
    forged = Link.make(3, links[1].hash, rec(99))
    rows = stored(links)
    rows[2] = StoredLink(rows[2].row_key, forged.body, forged.hash, forged.prev_hash)
    check = verify_chain("k", rows, links[-1].mark)
    assert check.fault is not None
    assert (check.fault.fault, check.fault.row_key) == (Fault.BROKEN_LINK, seq_row_key(4))


def test_a_deleted_record_is_a_gap_at_its_position() -> None:
    links = chain(5)
    rows = stored(links)
    del rows[1]
    check = verify_chain("k", rows, links[-1].mark)
    assert check.fault is not None
    assert check.fault.fault is Fault.SEQUENCE_GAP
    assert check.fault.row_key == seq_row_key(2)
    assert seq_row_key(3) in check.fault.detail


def test_swapped_records_are_moved() -> None:
    links = chain(5)
    rows = stored(links)
    a, b = rows[1], rows[2]
    rows[1] = StoredLink(a.row_key, b.body, b.stored_hash, b.stored_prev)
    rows[2] = StoredLink(b.row_key, a.body, a.stored_hash, a.stored_prev)
    check = verify_chain("k", rows, links[-1].mark)
    assert check.fault is not None
    assert (check.fault.fault, check.fault.row_key) == (Fault.MOVED, seq_row_key(2))


def test_a_cut_tail_is_caught_by_the_head_then_by_the_snapshot() -> None:
    links = chain(5)
    cut = stored(links)[:3]
    by_head = verify_chain("k", cut, links[-1].mark)
    assert by_head.fault is not None and by_head.fault.fault is Fault.TRUNCATED
    # the head row was "fixed" too: only the immutable snapshot still knows
    by_anchor = verify_chain("k", cut, links[2].mark, anchor=links[4].mark)
    assert by_anchor.fault is not None and by_anchor.fault.fault is Fault.TRUNCATED


def test_a_chain_rewritten_with_fresh_hashes_disagrees_with_the_snapshot() -> None:
    original = chain(4)
    rewritten: list[Link] = []
    for i in range(4):
        r = rec(i) if i != 1 else rec(77)
        rewritten.append(Link.after(rewritten[-1].mark if rewritten else None, r))
    check = verify_chain("k", stored(rewritten), rewritten[-1].mark, anchor=original[3].mark)
    assert check.fault is not None and check.fault.fault is Fault.REWRITTEN


def test_a_deleted_chain_is_missing() -> None:
    check = verify_chain("k", [], None, anchor=HeadMark(3, "b" * 64))
    assert check.fault is not None and check.fault.fault is Fault.MISSING_CHAIN


def test_intact_chains_are_verified_without_decoding_a_record(monkeypatch: object) -> None:
    """The fast path (what makes verify fast) must be the path an intact chain takes."""
    import pytest

    from shared.domain.lineage import chain as chain_module
    from shared.domain.lineage.verify import StoredLink, verify_chain, verify_records

    links, prev = [], chain_module.GENESIS
    for seq in range(1, 4):
        link = chain_module.Link.make(seq, prev, _fast_record(seq))
        links.append(link)
        prev = link.hash
    stored = [StoredLink(ln.row_key, ln.body, ln.hash, ln.prev_hash) for ln in links]
    mp = pytest.MonkeyPatch()
    mp.setattr(chain_module.Link, "parse", classmethod(lambda cls, body: 1 / 0))
    try:
        assert verify_chain("k" * 64, stored, links[-1].mark, links[1].mark).ok
        assert verify_records("k" * 64, [(ln.hash, ln.body) for ln in links], links[2].mark).ok
    finally:
        mp.undo()
    edited = [(ln.hash, ln.body) for ln in links]
    edited[1] = (edited[1][0], edited[1][1].replace("event-grid", "event-grie"))
    check = verify_records("k" * 64, edited, links[2].mark)
    assert check.fault is not None and check.fault.row_key == "seq-0000000002"


def _fast_record(seq: int) -> object:
    from datetime import UTC, datetime

    from shared.domain.lineage.record import Actor, ArtifactRef, LineageRecord, RecordKind

    return LineageRecord(
        kind=RecordKind.ARTIFACT_RECEIVED,
        at=datetime(2026, 3, 1, 9, seq, tzinfo=UTC),
        region="westeurope",
        actor=Actor(identity="event-grid", established_by="event_grid"),
        artifact=ArtifactRef(kind="image", registry="r", repository="m", digest="sha256:1"),
    )


def test_a_stored_body_edited_to_nest_thousands_deep_is_a_format_error() -> None:
    # Storage edited behind the app's back must be reported by the verifier, not crash it.
    with pytest.raises(ChainFormatError, match="not JSON"):
        Link.parse('{"v": ' + "[" * 100_000 + "]" * 100_000 + "}")


def test_a_row_key_edited_to_other_digits_is_not_a_sequence_number() -> None:
    # Superscript and Arabic-Indic digits pass str.isdigit(); int() raises on the first and
    # reads the second: neither is a row key Clearance wrote.
    from shared.domain.lineage.chain import seq_of

    assert seq_of("seq-000000000\u00b2") is None
    assert seq_of("seq-000000000\u0661") is None
    assert seq_of("seq-0000000001") == 1
