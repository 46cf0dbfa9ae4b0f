"""The approval state machine, one transition at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.approval.record import (
    Approval,
    ApprovalState,
    Refusal,
    Vote,
    check_vote,
    eligibility,
    expire,
    open_approval,
    supersede,
    tally,
)
from shared.domain.approval.request import ApprovalRequest
from shared.domain.catalog import ApprovalPolicy
from shared.domain.lineage.record import ArtifactRef
from shared.domain.metadata.labels import parse_metadata
from shared.domain.metadata.model import ArtifactKind
from shared.local.samples import model_labels

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
A, B, C = "a@contoso.example", "b@contoso.example", "c@contoso.example"
OWNER, PUSHER = "owner@contoso.example", "ci-bot@contoso.example"
LABELS = model_labels("m", "1", owner=OWNER)


def approval(min_approvals: int = 2, approvers: tuple[str, ...] = (A, B, C, OWNER)) -> Approval:
    request = ApprovalRequest(
        artifact=ArtifactRef(
            kind="image", registry="r", repository="m", digest="sha256:" + "1" * 64
        ),
        source_region="westeurope",
        metadata=parse_metadata(LABELS, kind=ArtifactKind.IMAGE),
        pushed_by=PUSHER.upper(),
        event_id="e",
        received_at=T0,
        validated_at=T0,
    )
    policy = ApprovalPolicy(approvers=approvers, min_approvals=min_approvals, expiry_hours=72)
    return open_approval(request, policy, "westeurope", T0)


def vote(who: str, decision: str = "approve", minutes: int = 1) -> Vote:
    return Vote(
        approver=who,
        decision=decision,
        at=T0 + timedelta(minutes=minutes),  # type: ignore[arg-type]
        established_by="signed_link",
        reason="no" if decision == "reject" else None,
    )


def test_opens_pending_with_normalised_identities_and_expiry() -> None:
    a = approval()
    assert a.state is ApprovalState.PENDING
    assert a.pushed_by == PUSHER
    assert a.expires_at == T0 + timedelta(hours=72)
    assert a.approval_id.startswith("apr-")


def test_quorum_is_reached_step_by_step() -> None:
    a = approval()
    after_one = tally(a, [vote(A)], T0)
    assert after_one.state is ApprovalState.PENDING
    after_two = tally(after_one, [vote(A), vote(B, minutes=2)], T0)
    assert after_two.state is ApprovalState.APPROVED
    assert after_two.decided_by == (A, B)
    assert after_two.is_final


def test_one_person_counts_once() -> None:
    a = approval()
    assert tally(a, [vote(A), vote(A, minutes=2)], T0).state is ApprovalState.PENDING
    assert check_vote(a, [vote(A)], vote(A, minutes=3)) is Refusal.ALREADY_VOTED


def test_a_rejection_decides_with_its_reason() -> None:
    rejected = tally(approval(), [vote(A), vote(B, "reject", 2)], T0)
    assert rejected.state is ApprovalState.REJECTED
    assert rejected.decided_by == (B,)
    assert rejected.decision_reason == "no"


@pytest.mark.parametrize(
    ("who", "refusal"),
    [
        (OWNER, Refusal.OWNER),
        (OWNER.upper(), Refusal.OWNER),
        (PUSHER, Refusal.PUSHER),
        ("stranger@contoso.example", Refusal.NOT_AN_APPROVER),
    ],
)
def test_separation_of_duties_and_membership(who: str, refusal: Refusal) -> None:
    assert eligibility(approval(), who) is refusal


def test_group_membership_makes_an_approver() -> None:
    a = approval().model_copy(update={"approver_groups": ("11111111-2222-3333-4444-555555555555",)})
    assert eligibility(a, "x@contoso.example", ["11111111-2222-3333-4444-555555555555"]) is None


def test_final_states_refuse_votes_and_do_not_move() -> None:
    approved = tally(approval(), [vote(A), vote(B)], T0)
    assert check_vote(approved, [], vote(C)) is Refusal.FINAL
    assert tally(approved, [vote(C, "reject")], T0) is approved
    assert expire(approved, T0 + timedelta(days=9)) is approved
    assert supersede(approved, "apr-x", T0) is approved


def test_expiry_only_after_its_time() -> None:
    a = approval()
    assert expire(a, T0 + timedelta(hours=71)) is a
    expired = expire(a, T0 + timedelta(hours=72))
    assert expired.state is ApprovalState.EXPIRED
    late = vote(A, minutes=72 * 60)
    assert check_vote(a, [], late) is Refusal.EXPIRED


def test_supersession_names_the_newer_request() -> None:
    s = supersede(approval(), "apr-newer", T0)
    assert s.state is ApprovalState.SUPERSEDED
    assert s.superseded_by == "apr-newer"
