"""The approver's view: who is who, what changes against live, downgrades."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.domain.approval.record import Approval, open_approval
from shared.domain.approval.request import ApprovalRequest
from shared.domain.approval.view import changes, downgrade, people
from shared.domain.catalog import ApprovalPolicy
from shared.domain.deploy.revision import Revision
from shared.domain.lineage.record import ArtifactRef
from shared.domain.metadata.labels import parse_metadata
from shared.domain.metadata.model import ArtifactKind
from shared.local.samples import model_labels

T0 = datetime(2026, 12, 2, tzinfo=UTC)


def _artifact(n: str) -> ArtifactRef:
    return ArtifactRef(kind="image", registry="r", repository="m", digest="sha256:" + n * 64)


def _approval(version: str, pushed_by: str | None, **extra: str) -> Approval:
    labels = model_labels("m", version, owner="Owner+x@contoso.example", extra=extra)
    request = ApprovalRequest(
        artifact=_artifact("2"),
        source_region="westeurope",
        metadata=parse_metadata(labels, kind=ArtifactKind.IMAGE),
        pushed_by=pushed_by,
        event_id="e",
        received_at=T0,
        validated_at=T0,
    )
    return open_approval(
        request, ApprovalPolicy(approvers=("a@contoso.example",), min_approvals=1), "westeurope", T0
    )


def _live(version: str) -> Revision:
    return Revision(
        deployment_id="d",
        approval_id="a",
        approved_by=("a@contoso.example",),
        approved_at=T0,
        artifact=_artifact("1"),
        metadata=parse_metadata(model_labels("m", version), kind=ArtifactKind.IMAGE),
        namespace="n",
        workload="w",
    )


def test_the_owner_is_flagged_when_the_pusher_is_someone_else() -> None:
    rows = dict(people(_approval("2.0.0", "CI-Bot@contoso.example")))

    assert rows["Pushed by"] == "ci-bot@contoso.example"
    assert rows["Owner"].startswith("owner@contoso.example (not the pusher")
    assert (
        dict(people(_approval("2.0.0", "owner@contoso.example")))["Owner"]
        == "owner@contoso.example"
    )
    assert dict(people(_approval("2.0.0", None)))["Pushed by"] == "none recorded"


def test_changes_list_labels_resources_strategy_and_digest() -> None:
    approval = _approval("2.0.0", None, **{"ai.clearance.resources.memory": "1Gi"})

    diff = {c.what: (c.live, c.requested) for c in changes(approval, _live("1.0.0"))}

    assert diff["version"] == ("1.0.0", "2.0.0")
    assert diff["serving.resources.memory"] == ("256Mi", "1Gi")
    assert diff["image digest"] == ("sha256:" + "1" * 64, "sha256:" + "2" * 64)
    assert "owner" in diff
    assert "rollout.strategy" not in diff  # unchanged fields are not listed
    assert changes(approval, None) == []


def test_a_lower_version_than_live_is_a_downgrade() -> None:
    assert downgrade(_approval("1.2.0", None), _live("1.10.0"))
    assert not downgrade(_approval("1.10.0", None), _live("1.2.0"))
    assert not downgrade(_approval("2.0.0-rc1", None), None)
