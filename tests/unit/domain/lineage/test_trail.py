"""The checkpoint trail trusts signatures, never names or order: forgeries, replays, forks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.lineage.heads import (
    ChainHead,
    Checkpoint,
    CheckpointFormatError,
    SignedCheckpoint,
    parse_blob,
)
from shared.domain.lineage.trail import Anomaly, resolve_trail
from tests.support.checkpoint_fakes import MemorySigner

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
SIGNER = MemorySigner()
GENUINE = SIGNER.verifier().verify


def signed(
    minute: int,
    previous: SignedCheckpoint | None,
    seq: int = 1,
    signer: MemorySigner = SIGNER,
    region: str = "westeurope",
) -> SignedCheckpoint:
    cp = Checkpoint(
        region=region,
        taken_at=T0 + timedelta(minutes=minute),
        chains={"a" * 64: ChainHead(seq=seq, hash="b" * 64)},
        previous=previous.digest if previous else None,
        key_id=signer.key_id,
    )
    return SignedCheckpoint.of(cp, signer.sign(cp.payload())[0])


def blobs(*items: SignedCheckpoint) -> list[tuple[str, bytes]]:
    return [(s.name, s.to_blob()) for s in items]


def test_the_trail_walks_predecessors_from_the_newest_signed_checkpoint() -> None:
    one = signed(0, None)
    two = signed(1, one, 2)
    three = signed(2, two, 3)
    trail = resolve_trail(reversed(blobs(one, two, three)), "westeurope", GENUINE)
    assert [s.name for s in trail.trail] == [three.name, two.name, one.name]
    assert trail.anomalies == [] and trail.blobs == 3


def test_forgeries_sorting_first_replays_and_junk_are_reported_by_name() -> None:
    one = signed(0, None)
    two = signed(1, one, 8)
    forged = signed(5, two, 7, signer=MemorySigner())  # newer, but not our key
    foreign = signed(6, two, 9, region="swedencentral")
    stored = [
        ("heads/0000000000000-x.json", forged.to_blob()),
        ("heads/0000000000001-x.json", two.to_blob()),  # a genuine one, replayed
        ("heads/0000000000002-x.json", foreign.to_blob()),
        ("heads/junk", b"\x00\xff"),
        ("heads/deep", b"[" * 50_000),
        ("heads/v1", b'{"v":1,"region":"westeurope","taken_at":"x","chains":{}}'),
        *blobs(one, two),
    ]
    trail = resolve_trail(stored, "westeurope", GENUINE)
    assert trail.newest == two
    found = {(a.kind, a.name) for a in trail.anomalies}
    assert found == {
        (Anomaly.FORGED, "heads/0000000000000-x.json"),
        (Anomaly.REPLAYED, "heads/0000000000001-x.json"),
        (Anomaly.FORGED, "heads/0000000000002-x.json"),
        (Anomaly.FORGED, "heads/junk"),
        (Anomaly.FORGED, "heads/deep"),
        (Anomaly.FORGED, "heads/v1"),
    }


def test_a_fork_and_a_gap_are_reported_and_the_trail_still_anchors() -> None:
    one = signed(0, None)
    two = signed(1, one, 2)
    rival = signed(2, one, 3)  # also names one: a fork (needs the key)
    three = signed(3, two, 4)
    trail = resolve_trail(blobs(one, two, rival, three), "westeurope", GENUINE)
    assert trail.newest == three and [a.kind for a in trail.anomalies] == [Anomaly.FORK]
    gap = resolve_trail(blobs(one, three), "westeurope", GENUINE)  # two deleted
    assert gap.newest == three
    assert {a.kind for a in gap.anomalies} == {Anomaly.GAP, Anomaly.ORPHAN}


def test_an_edited_payload_or_signature_does_not_verify() -> None:
    one = signed(0, None)
    blob = one.to_blob().replace(b'\\"seq\\":1', b'\\"seq\\":2')
    assert blob != one.to_blob()
    trail = resolve_trail([(one.name, blob)], "westeurope", GENUINE)
    assert trail.newest is None and trail.anomalies[0].kind is Anomaly.FORGED
    with pytest.raises(CheckpointFormatError, match="algorithm"):
        parse_blob("x", b'{"alg":"none","payload":"{}","signature":""}')
