"""Index keys and the "live now" computation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from shared.domain.lineage.index import (
    DeploymentEvent,
    actor_partition,
    current_live,
    identities_of,
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
    assert actor_partition("ann@CONTOSO.example ") == actor_partition("Ann@contoso.example")
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
