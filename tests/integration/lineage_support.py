"""Helpers for the lineage tests: records, artifacts and stores on the session's Azurite."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from shared.adapters.storage.lineage.writer import TableLineageWriter
from shared.composition import Container
from shared.domain.lineage.record import (
    Actor,
    ArtifactRef,
    Correlation,
    EstablishedBy,
    LineageRecord,
    Reason,
    RecordKind,
)

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
SYSTEM = Actor(identity="event-grid", established_by="event_grid")


def new_image(region: str, model: str | None = None, version: str = "1.0.0") -> ArtifactRef:
    """A unique image artifact (fresh digest), optionally naming its model and version."""
    return ArtifactRef(
        kind="image",
        registry=f"clr{region}.azurecr.io",
        repository=f"models/{model or 'm-' + uuid.uuid4().hex[:8]}",
        digest="sha256:" + uuid.uuid4().hex * 2,
        tag=version,
        model=model,
        version=version if model else None,
    )


def record(
    artifact: ArtifactRef,
    kind: RecordKind,
    region: str,
    at: datetime = T0,
    *,
    actor: str = "event-grid",
    established_by: EstablishedBy = "event_grid",
    details: dict[str, str] | None = None,
    where: dict[str, str] | None = None,
    reasons: tuple[Reason, ...] = (),
    correlation: Correlation | None = None,
) -> LineageRecord:
    return LineageRecord(
        kind=kind,
        at=at,
        region=region,
        actor=Actor(identity=actor, established_by=established_by),
        artifact=artifact,
        correlation=correlation or Correlation(event_id=f"evt-{uuid.uuid4().hex[:8]}"),
        reasons=reasons,
        details=details or {},
        where=where or {},
    )


def story(artifact: ArtifactRef, region: str, start: datetime = T0) -> list[LineageRecord]:
    """A full life: pushed, validated, approved by two of three, deployed."""
    step = timedelta(minutes=1)
    approval = Correlation(approval_id=f"apr-{artifact.key_hash[:8]}")
    return [
        record(
            artifact,
            RecordKind.ARTIFACT_RECEIVED,
            region,
            start,
            details={"pushed_by": "pusher@contoso.example"},
        ),
        record(artifact, RecordKind.ARTIFACT_VALIDATED, region, start + step),
        record(artifact, RecordKind.APPROVAL_REQUESTED, region, start + 2 * step),
        record(
            artifact,
            RecordKind.APPROVAL_NOTIFIED,
            region,
            start + 3 * step,
            actor="clearance",
            established_by="managed_identity",
            details={"asked": "ann@contoso.example, bob@contoso.example, cid@contoso.example"},
            correlation=approval,
        ),
        record(
            artifact,
            RecordKind.APPROVAL_VOTE,
            region,
            start + 4 * step,
            actor="ann@contoso.example",
            established_by="signed_link",
            details={"decision": "approve"},
            correlation=approval,
        ),
        record(
            artifact,
            RecordKind.APPROVAL_VOTE,
            region,
            start + 5 * step,
            actor="bob@contoso.example",
            established_by="easy_auth",
            details={"decision": "approve"},
            correlation=approval,
        ),
        record(
            artifact,
            RecordKind.APPROVAL_APPROVED,
            region,
            start + 6 * step,
            actor="clearance",
            established_by="managed_identity",
            details={"approved_by": "ann@contoso.example, bob@contoso.example"},
            correlation=approval,
        ),
        deployed(artifact, region, start + 7 * step),
    ]


def deployed(
    artifact: ArtifactRef,
    region: str,
    at: datetime,
    kind: RecordKind = RecordKind.DEPLOYMENT_SUCCEEDED,
) -> LineageRecord:
    return record(
        artifact,
        kind,
        region,
        at,
        actor="clearance-deployer",
        established_by="managed_identity",
        where={"cluster": f"aks-{region}", "namespace": "models", "gitops_commit": "abc123"},
        correlation=Correlation(
            approval_id=f"apr-{artifact.key_hash[:8]}", deployment_id=f"dep-{uuid.uuid4().hex[:8]}"
        ),
    )


def writer(cell: Container, table: str = "lineage") -> TableLineageWriter:
    return TableLineageWriter(cell.table_service, region=cell.settings.cell.name, table=table)


def fresh_table() -> str:
    return "lin" + uuid.uuid4().hex[:16]
