"""Index keys and the "live now" computation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from shared.domain.lineage.index import (
    ARTIFACTS,
    NAME_ROW_PREFIX,
    DeploymentEvent,
    actor_row_key,
    actor_row_range,
    current_address,
    current_live,
    former_address,
    identities_of,
    legacy_actor_partition,
    name_row_key,
    name_row_range,
    names_of,
    window_days,
)
from shared.domain.lineage.record import Actor, ArtifactRef, LineageRecord, RecordKind

T0 = datetime(2026, 3, 1, tzinfo=UTC)
OK, BACK = RecordKind.DEPLOYMENT_SUCCEEDED, RecordKind.DEPLOYMENT_ROLLED_BACK


def ev(hours: int, kind: RecordKind, artifact: str) -> DeploymentEvent:
    return DeploymentEvent(T0 + timedelta(hours=hours), kind, artifact, 1 + hours)


def test_live_is_the_latest_success_not_rolled_back() -> None:
    assert current_live([ev(0, OK, "v1"), ev(1, OK, "v2")]) == ev(1, OK, "v2")
    assert current_live([ev(0, OK, "v1"), ev(1, OK, "v2"), ev(2, BACK, "v2")]) == ev(0, OK, "v1")
    assert current_live([ev(0, OK, "v1"), ev(1, BACK, "v3")]) == ev(0, OK, "v1")
    assert current_live([ev(0, OK, "v1"), ev(1, BACK, "v1")]) is None
    # redeploying an older version makes it live again, since its new deployment
    events = [ev(0, OK, "v1"), ev(1, OK, "v2"), ev(2, OK, "v1")]
    assert current_live(events) == ev(2, OK, "v1")


@given(st.permutations([ev(0, OK, "v1"), ev(1, OK, "v2"), ev(2, BACK, "v2"), ev(3, OK, "v3")]))
def test_live_does_not_depend_on_the_order_entries_were_written(
    events: list[DeploymentEvent],
) -> None:
    assert current_live(events) == ev(3, OK, "v3")


def test_names_and_identities_a_record_is_found_by() -> None:
    record = LineageRecord(
        kind=RecordKind.APPROVAL_NOTIFIED,
        at=T0,
        region="westeurope",
        actor=Actor(identity="clearance", established_by="managed_identity"),
        artifact=ArtifactRef(
            kind="image", registry="r", repository="models/fraud", digest="sha256:1"
        ),
        details={"asked": "Ann@contoso.example, bob@contoso.example", "model": "fraud-detector"},
    )
    assert names_of(record) == ["fraud-detector", "models/fraud", "fraud"]
    assert identities_of(record) == [  # a service identity acting is not indexed
        ("Ann@contoso.example", "asked"),
        ("bob@contoso.example", "asked"),
    ]
    assert actor_row_range("ann@CONTOSO.example ") == actor_row_range("Ann@contoso.example")
    vote = record.model_copy(
        update={"actor": Actor(identity="ann@contoso.example", established_by="signed_link")}
    )
    assert ("ann@contoso.example", "actor") in identities_of(vote)


def test_a_window_reads_the_days_it_touches() -> None:
    since = datetime(2026, 2, 27, 23, 0, tzinfo=UTC)
    assert window_days(since, since + timedelta(hours=2)) == ["t|20260227", "t|20260228"]
    assert window_days(since, datetime(2026, 3, 1, 0, 0, tzinfo=UTC)) == [
        "t|20260227",
        "t|20260228",
    ]
    assert window_days(since, since) == []


def test_catalog_rows_fall_in_their_own_ranges_of_the_artifacts_partition() -> None:
    """Artifact rows (hex key hashes) sort before every name and by-actor row, and each
    name's or identity's rows sit inside its range and outside any other's."""
    key_hash = "f" * 64
    at = datetime(2026, 12, 4, 1, 0, tzinfo=UTC)
    assert key_hash < NAME_ROW_PREFIX and NAME_ROW_PREFIX > "0" * 64
    for name, other in (("fraud", "fraud2"), ("Fraud ", "fraud|x"), ("a", "a}")):
        lo, hi = name_row_range(name)
        assert lo <= name_row_key(name, key_hash) < hi
        olo, ohi = name_row_range(other)
        assert not olo <= name_row_key(name, key_hash) < ohi
    lo, hi = actor_row_range("ann@contoso.example")
    mine = actor_row_key("Ann@contoso.example", at, key_hash, 3, "asked")
    assert lo <= mine < hi and mine > NAME_ROW_PREFIX
    blo, bhi = actor_row_range("bob@contoso.example")
    assert not blo <= mine < bhi


def test_a_former_by_actor_address_maps_onto_its_current_one() -> None:
    at = datetime(2026, 12, 4, 1, 0, tzinfo=UTC)
    key_hash = "a" * 64
    old = (legacy_actor_partition("ann@contoso.example"), f"{at.isoformat()}|{key_hash}|1|actor")
    now = current_address(*old)
    assert now[0] == ARTIFACTS and now[1] == f"{old[0]}|{old[1]}"
    assert current_address(*now) == now  # already current
    assert former_address(*now) == old  # and back
    assert former_address("t|20261204", "k") is None
    assert former_address(ARTIFACTS, key_hash) is None  # an artifact row
    assert former_address(ARTIFACTS, name_row_key("m", key_hash)) is None
    assert former_address(ARTIFACTS, "x|") is None and former_address(ARTIFACTS, "x|abc") is None
    assert current_address("t|20261204", "k") == ("t|20261204", "k")
