"""Opening requests against fakes: supersession follows version order, downgrades are flagged."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared.domain.approval.links import LinkSigner
from shared.domain.approval.record import Approval, ApprovalState
from shared.domain.approval.request import ApprovalRequest
from shared.domain.lineage.record import ArtifactRef
from shared.domain.metadata.labels import parse_metadata
from shared.domain.metadata.model import ArtifactKind
from shared.local.samples import model_labels
from shared.local.stack import LocalStack, StackPorts
from shared.services.approval.messages import facts, teams_card
from shared.services.approval.requests import ApprovalDeps, open_request
from shared.settings import load_catalog
from tests.support.fakes import FakeApprovalStore, FakeBus, FakeLineage, FakeMailer

REPO = Path(__file__).resolve().parents[4]
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def deps(tmp_path: Path) -> ApprovalDeps:
    catalog = load_catalog(json.dumps(LocalStack(tmp_path, REPO, ports=StackPorts()).catalog()))
    return ApprovalDeps(
        cell=catalog.region("westeurope"),
        store=FakeApprovalStore(),
        lineage=FakeLineage(),
        bus=FakeBus(),
        mailer=FakeMailer(),
        signer=LinkSigner({"k1": b"0" * 32}),
        clock=Clock(),
    )


def request(version: str, notes: tuple[str, ...] = (), **extra: str) -> ApprovalRequest:
    metadata = parse_metadata(model_labels(version=version, extra=extra), kind=ArtifactKind.IMAGE)
    return ApprovalRequest(
        artifact=ArtifactRef(
            kind="image", registry="r.example", repository="models/fraud", digest=f"d-{version}"
        ),
        source_region="westeurope",
        metadata=metadata,
        event_id=f"e-{version}",
        received_at=T0,
        validated_at=T0,
        notes=notes,
    )


def state(deps: ApprovalDeps, approval: Approval) -> ApprovalState:
    return deps.store.get(approval.approval_id)[0].state


def test_a_higher_version_supersedes_a_pending_lower_one(deps: ApprovalDeps) -> None:
    old = open_request(request("1.4.9"), deps)
    new = open_request(request("1.7.0"), deps)
    assert state(deps, old) is ApprovalState.SUPERSEDED
    assert state(deps, new) is ApprovalState.PENDING and new.notes == ()


def test_a_lower_version_never_supersedes_a_higher_pending_one(deps: ApprovalDeps) -> None:
    high = open_request(request("1.7.0"), deps)
    low = open_request(request("1.4.9"), deps)
    assert state(deps, high) is ApprovalState.PENDING
    assert state(deps, low) is ApprovalState.PENDING
    (note,) = low.notes
    assert note.startswith("Downgrade: 1.4.9 is lower than 1.7.0")
    # what approvers see: the card and the review page/mail facts lead with it
    assert facts(low, None)[0] == ("Attention", note)
    card = json.dumps(teams_card(low, "https://x.example/review", None))
    assert "Downgrade" in card


def test_a_hotfix_or_rollback_may_replace_a_higher_pending_version(deps: ApprovalDeps) -> None:
    high = open_request(request("1.7.0"), deps)
    fix = open_request(request("1.4.9", **{"ai.clearance.version.intent": "hotfix"}), deps)
    assert state(deps, high) is ApprovalState.SUPERSEDED
    assert "marked hotfix" in fix.notes[0]
    assert ("Version intent", "hotfix") in facts(fix, None)


def test_a_downgrade_from_the_live_version_is_flagged(deps: ApprovalDeps) -> None:
    from tests.unit.domain.approval.test_view import _live

    deps.live_revision = lambda region, model: _live("2.0.0")
    low = open_request(request("1.9.0"), deps)
    assert low.notes == ("Downgrade: 1.9.0 is lower than 2.0.0, which is live.",)


def test_versions_without_an_order_keep_arrival_order(deps: ApprovalDeps) -> None:
    old = open_request(request("build-a"), deps)
    open_request(request("1.0.0"), deps)
    assert state(deps, old) is ApprovalState.SUPERSEDED


def test_intake_notes_reach_the_request(deps: ApprovalDeps) -> None:
    opened = open_request(request("2.0.1", notes=("Tag/version mismatch: x",)), deps)
    assert opened.notes == ("Tag/version mismatch: x",)
