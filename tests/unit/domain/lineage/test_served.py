"""Which revisions served when, replayed from deployment records one record at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.domain.lineage.chain import GENESIS, Link
from shared.domain.lineage.record import (
    Actor,
    ArtifactRef,
    Correlation,
    LineageRecord,
    RecordKind,
)
from shared.domain.lineage.served import served_at
from shared.domain.lineage.views import AuditEntry

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
DEPLOYER = Actor(identity="clearance-deployer@westeurope", established_by="managed_identity")


def image(version: str) -> ArtifactRef:
    return ArtifactRef(
        kind="image",
        registry="r.example",
        repository="models/m",
        digest="sha256:" + version * 64,
        tag=version,
    )


def entries(*steps: tuple[int, RecordKind, str, dict[str, str]]) -> list[AuditEntry]:
    out, prev = [], GENESIS
    for seq, (minute, kind, version, details) in enumerate(steps, start=1):
        record = LineageRecord(
            kind=kind,
            at=T0 + timedelta(minutes=minute),
            region="westeurope",
            actor=DEPLOYER,
            artifact=image(version),
            correlation=Correlation(deployment_id=f"dep-{version}"),
            details={"version": version, **details},
        )
        link = Link.make(seq, prev, record)
        prev = link.hash
        out.append(AuditEntry.of("westeurope", "a" * 64, link))
    return out


def at(minute: int, log: list[AuditEntry]) -> list[tuple[str, int, str, int]]:
    served = served_at("m", "westeurope", T0 + timedelta(minutes=minute), log)
    return [(r.version, r.weight, r.role, r.mirrored) for r in served.revisions]


S, OK, BACK = (
    RecordKind.DEPLOYMENT_STARTED,
    RecordKind.DEPLOYMENT_SUCCEEDED,
    RecordKind.DEPLOYMENT_ROLLED_BACK,
)


def test_a_shadow_answers_nothing_and_mirrors_its_share() -> None:
    log = entries(
        (0, OK, "1", {}),
        (10, S, "2", {"step": "shadow", "traffic": "20"}),
        (70, S, "2", {"step": "promote"}),
        (71, OK, "2", {}),
    )
    assert at(30, log) == [("1", 100, "stable", 0), ("2", 0, "shadow", 20)]
    assert at(80, log) == [("2", 100, "stable", 0)]


def test_blue_green_switches_all_at_once_and_a_rollback_switches_back() -> None:
    log = entries(
        (0, OK, "1", {}),
        (10, S, "2", {"step": "deploy-green"}),
        (12, S, "2", {"step": "switch"}),
        (20, BACK, "2", {"step": "retire"}),
    )
    assert at(11, log) == [("1", 100, "stable", 0), ("2", 0, "idle", 0)]
    assert at(15, log) == [("2", 100, "candidate", 0)]
    assert at(25, log) == [("1", 100, "stable", 0)]


def test_records_from_another_region_or_the_future_do_not_count() -> None:
    log = entries((0, OK, "1", {}), (10, S, "2", {"step": "canary-10"}))
    assert at(5, log) == [("1", 100, "stable", 0)]
    assert served_at("m", "swedencentral", T0 + timedelta(hours=1), log).revisions == []


def test_a_hostile_traffic_detail_is_not_believed() -> None:
    log = entries(
        (0, OK, "1", {}),
        (10, S, "2", {"step": "shadow", "traffic": "9999"}),
        (20, S, "3", {"step": "canary-999"}),
    )
    assert at(15, log)[1] == ("2", 0, "shadow", 0)
    assert at(25, log)[-1][1] == 100  # clamped to the whole traffic


def test_a_traffic_detail_in_other_digits_is_not_believed_nor_a_crash() -> None:
    # "\u00b2".isdigit() is True and int() of it raises: served answered 500.
    log = entries((0, OK, "1", {}), (10, S, "2", {"step": "shadow", "traffic": "\u00b2"}))
    assert at(15, log)[1] == ("2", 0, "shadow", 0)


def test_served_answers_per_stage() -> None:
    log = entries(
        (0, RecordKind.DEPLOYMENT_SUCCEEDED, "1", {"stage": "staging"}),
        (5, RecordKind.DEPLOYMENT_SUCCEEDED, "1", {"stage": "prod"}),
        (10, RecordKind.DEPLOYMENT_SUCCEEDED, "2", {"stage": "staging"}),
    )
    later = T0 + timedelta(minutes=20)
    staging = served_at("m", "westeurope", later, log, "staging")
    prod = served_at("m", "westeurope", later, log, "prod")
    assert [r.version for r in staging.revisions] == ["2"] and staging.stage == "staging"
    assert [r.version for r in prod.revisions] == ["1"]
    assert served_at("m", "westeurope", later, log, "qa").revisions == []
