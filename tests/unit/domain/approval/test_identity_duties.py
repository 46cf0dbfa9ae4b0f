# ruff: noqa: RUF001 - the look-alike characters are the point of these tests
"""Separation of duties on canonical identities and immutable object ids (attacker's view)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.approval.record import (
    Approval,
    Person,
    Refusal,
    Vote,
    check_vote,
    eligibility,
    open_approval,
    tally,
)
from shared.domain.approval.request import ApprovalRequest
from shared.domain.catalog import ApprovalPolicy
from shared.domain.identity import IdentityRules
from shared.domain.lineage.record import ArtifactRef
from shared.domain.metadata.labels import parse_metadata
from shared.domain.metadata.model import ArtifactKind
from shared.local.samples import model_labels

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
ONE, TWO = "approver.one@contoso.example", "approver.two@contoso.example"
GROUP = "11111111-2222-3333-4444-555555555555"
OID_ONE, OID_TWO, OID_X = (f"{n}" * 8 + "-0000-0000-0000-" + f"{n}" * 12 for n in "123")
RULES = IdentityRules(subaddress={"contoso.example": "+"})


def _approval(
    owner: str,
    *,
    pushed_by: str | None = None,
    registered_by: str | None = None,
    registrant_oid: str | None = None,
    policy: ApprovalPolicy | None = None,
    members: tuple[Person, ...] = (),
) -> Approval:
    metadata = parse_metadata(
        model_labels("m", "1", owner="x@contoso.example"), kind=ArtifactKind.IMAGE
    )
    metadata = metadata.model_copy(update={"owner": owner})  # as if intake had let it through
    request = ApprovalRequest(
        artifact=ArtifactRef(
            kind="image", registry="r", repository="m", digest="sha256:" + "1" * 64
        ),
        source_region="westeurope",
        metadata=metadata,
        pushed_by=pushed_by,
        registered_by=registered_by,
        registered_by_object_id=registrant_oid,
        event_id="e",
        received_at=T0,
        validated_at=T0,
    )
    policy = policy or ApprovalPolicy(approvers=(ONE, TWO), min_approvals=1)
    return open_approval(request, policy, "westeurope", T0, rules=RULES, members=members)


@pytest.mark.parametrize(
    "owner",
    [
        "approver.one+x@contoso.example",
        "ａpprover.one@contoso.example",  # fullwidth a
        "approver.оne@contoso.example",  # Cyrillic o
        " Approver.One@Contoso.Example ",
    ],
)
def test_an_owner_label_variant_is_still_the_owner(owner: str) -> None:
    approval = _approval(owner)

    assert approval.owner == ONE
    assert eligibility(approval, ONE) is Refusal.OWNER
    assert [p.mail for p in approval.askable()] == [TWO]  # the owner is not even mailed


@pytest.mark.parametrize(
    "pusher", ["approver.two+ci@contoso.example", "APPROVER.TWO@contoso.example"]
)
def test_a_pusher_variant_is_still_the_pusher(pusher: str) -> None:
    approval = _approval("owner@contoso.example", pushed_by=pusher)

    assert eligibility(approval, TWO) is Refusal.PUSHER
    assert TWO not in [p.mail for p in approval.askable()]


def test_the_registrant_cannot_approve_by_address_or_by_object_id() -> None:
    approval = _approval("owner@contoso.example", registered_by=ONE, registrant_oid=OID_X)
    members = (Person(mail="someone@contoso.example", object_id=OID_X, via=GROUP),)
    grouped = _approval(
        "owner@contoso.example",
        registrant_oid=OID_X,
        policy=ApprovalPolicy(approver_groups=(GROUP,), min_approvals=1),
        members=members,
    )

    assert eligibility(approval, ONE) is Refusal.REGISTRANT
    assert eligibility(grouped, "someone@contoso.example", (GROUP,), OID_X) is Refusal.REGISTRANT
    assert grouped.askable() == ()


def test_a_signed_in_voter_is_matched_by_object_id_not_by_a_mutable_mail_claim() -> None:
    policy = ApprovalPolicy(
        approvers=(ONE, TWO), min_approvals=1, approver_object_ids={ONE: OID_ONE}
    )
    approval = _approval("owner@contoso.example", policy=policy)

    assert eligibility(approval, ONE, object_id=OID_ONE) is None
    # Someone whose (mutable) mail claim was changed to approver.one: a different object id.
    assert eligibility(approval, ONE, object_id=OID_X) is Refusal.WRONG_PRINCIPAL


def test_group_members_are_asked_and_a_non_member_is_refused() -> None:
    members = (
        Person(mail="Approver.One@contoso.example", object_id=OID_ONE, via=GROUP),
        Person(mail="approver.two@contoso.example", object_id=OID_TWO, via=GROUP),
    )
    approval = _approval(
        "approver.two@contoso.example",
        policy=ApprovalPolicy(approver_groups=(GROUP.upper(),), min_approvals=1),
        members=members,
    )

    assert [p.mail for p in approval.askable()] == [ONE]
    assert eligibility(approval, ONE) is None  # via the personal link mailed to the member
    assert eligibility(approval, ONE, object_id=OID_ONE) is None  # signed in, Teams path
    assert eligibility(approval, TWO, object_id=OID_TWO) is Refusal.OWNER
    assert eligibility(approval, "x@contoso.example", object_id=OID_X) is Refusal.NOT_AN_APPROVER
    assert eligibility(approval, "x@contoso.example", (GROUP,), OID_X) is None  # live member


def test_one_person_votes_once_by_link_and_by_sign_in() -> None:
    members = (Person(mail=ONE, object_id=OID_ONE, via=GROUP),)
    policy = ApprovalPolicy(approver_groups=(GROUP,), min_approvals=2)
    approval = _approval("owner@contoso.example", policy=policy, members=members)
    by_link = Vote(approver=ONE, decision="approve", at=T0, established_by="signed_link")
    by_sign_in = Vote(
        approver="renamed@contoso.example",
        decision="approve",
        at=T0 + timedelta(minutes=1),
        established_by="easy_auth",
        object_id=OID_ONE,
    )
    earlier_by_sign_in = by_sign_in.model_copy(update={"approver": ONE})

    assert check_vote(approval, [earlier_by_sign_in], by_sign_in, (GROUP,)) is Refusal.ALREADY_VOTED
    assert (
        tally(approval, [by_link.model_copy(update={"object_id": OID_ONE}), by_sign_in], T0).state
        == "pending"
    )
