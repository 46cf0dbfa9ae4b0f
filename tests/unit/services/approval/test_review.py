"""The review flow over fakes: group-only policies through Teams (Easy Auth) and mailed links,
immutable object ids, tenants and CSRF, and the attacker's variants of each."""

from __future__ import annotations

import json

import pytest

from shared.domain.approval.record import ApprovalState
from shared.domain.catalog import ApprovalPolicy, RegionCatalog
from shared.domain.lineage.record import RecordKind
from shared.services.approval import review
from shared.services.approval.requests import ApprovalDeps, open_request
from tests.support.approval_cell import (
    GROUP,
    OID,
    ONE,
    STRANGER_OID,
    TENANT,
    THREE,
    TWO,
    csrf_in,
    deps_for,
    request_for,
    token_in,
)
from tests.support.approval_fakes import principal_header


def _signed_in_vote(deps: ApprovalDeps, approval_id: str, header: str) -> review.Page:
    shown = review.show(approval_id, "", header, deps)
    assert shown.status == 200, shown.html
    form = {"t": "", "csrf": csrf_in(shown.html), "decision": "approve"}
    return review.decide(approval_id, form, header, deps)


def _link_vote(deps: ApprovalDeps, approval_id: str, token: str) -> review.Page:
    shown = review.show(approval_id, token, None, deps)
    assert shown.status == 200, shown.html
    form = {"t": token, "csrf": csrf_in(shown.html), "decision": "approve"}
    return review.decide(approval_id, form, None, deps)


def test_a_group_only_region_mails_members_except_the_owner_and_posts_the_card(
    group_only: ApprovalDeps,
) -> None:
    approval = open_request(request_for(owner="approver.three+models@contoso.example"), group_only)

    mailed = sorted(m.to[0] for m in group_only.mailer.sent)  # type: ignore[attr-defined]
    assert mailed == [ONE, TWO]
    assert len(group_only.teams.posts) == 1  # type: ignore[union-attr]
    assert {p.mail for p in approval.people} == {ONE, TWO, THREE}


def test_a_group_only_region_reaches_quorum_through_teams_and_a_mailed_link(
    group_only: ApprovalDeps,
) -> None:
    approval = open_request(request_for(), group_only)
    link_of_two = next(m for m in group_only.mailer.sent if m.to == (TWO,))  # type: ignore[attr-defined]

    first = _signed_in_vote(
        group_only, approval.approval_id, principal_header(OID[ONE], ONE, TENANT)
    )
    second = _link_vote(group_only, approval.approval_id, token_in(link_of_two.text))

    assert "confirmation" in first.html
    assert "confirmation" in second.html
    final, _ = group_only.store.get(approval.approval_id)
    assert final.state is ApprovalState.APPROVED
    assert set(final.decided_by) == {ONE, TWO}
    votes = [r for r in group_only.lineage.records if r.kind is RecordKind.APPROVAL_VOTE]  # type: ignore[attr-defined]
    by_teams = next(r for r in votes if r.actor.identity == ONE)
    assert by_teams.details["object_id"] == OID[ONE]
    assert by_teams.details["tenant_id"] == TENANT
    assert by_teams.actor.established_by == "easy_auth"


def test_a_non_member_signed_in_is_refused(group_only: ApprovalDeps) -> None:
    approval = open_request(request_for(), group_only)
    stranger = principal_header(STRANGER_OID, "stranger@contoso.example", TENANT)
    csrf = group_only.signer.csrf_token(f"easyauth|{approval.approval_id}|{STRANGER_OID}")

    shown = review.show(approval.approval_id, "", stranger, group_only)
    posted = review.decide(
        approval.approval_id, {"csrf": csrf, "decision": "approve"}, stranger, group_only
    )

    assert shown.status == 403
    assert "not an approver" in shown.html
    assert posted.status == 403
    assert group_only.store.votes(approval.approval_id) == []


def test_a_renamed_account_claiming_an_approvers_mail_is_refused(group_only: ApprovalDeps) -> None:
    """Mutable claims: preferred_username says approver.one, the object id says otherwise."""
    approval = open_request(request_for(), group_only)

    page = review.show(
        approval.approval_id, "", principal_header(STRANGER_OID, ONE.upper(), TENANT), group_only
    )

    assert page.status == 403
    assert "someone else" in page.html
    assert group_only.store.votes(approval.approval_id) == []


def test_another_tenant_or_no_object_id_must_sign_in(group_only: ApprovalDeps) -> None:
    approval = open_request(request_for(), group_only)
    other_tenant = principal_header(OID[ONE], ONE, "00000000-0000-0000-0000-0000000000ff")

    assert review.show(approval.approval_id, "", other_tenant, group_only).status == 401
    assert (
        review.show(
            approval.approval_id, "", principal_header(None, ONE, TENANT), group_only
        ).status
        == 401
    )
    assert review.show(approval.approval_id, "", None, group_only).status == 401
    assert review.show(approval.approval_id, "", "not base64!", group_only).status == 401


def test_the_signed_in_path_still_needs_its_csrf_token(group_only: ApprovalDeps) -> None:
    approval = open_request(request_for(), group_only)
    one, two = (principal_header(OID[a], a, TENANT) for a in (ONE, TWO))
    csrf_of_two = csrf_in(review.show(approval.approval_id, "", two, group_only).html)

    missing = review.decide(approval.approval_id, {"decision": "approve"}, one, group_only)
    borrowed = review.decide(
        approval.approval_id, {"csrf": csrf_of_two, "decision": "approve"}, one, group_only
    )

    assert missing.status == 403
    assert borrowed.status == 403
    assert group_only.store.votes(approval.approval_id) == []


def test_the_owner_in_the_group_is_shown_no_form_and_cannot_post_one(
    group_only: ApprovalDeps,
) -> None:
    approval = open_request(request_for(owner="Approver.Three+x@contoso.example"), group_only)
    three = principal_header(OID[THREE], THREE, TENANT)
    csrf = group_only.signer.csrf_token(f"easyauth|{approval.approval_id}|{OID[THREE]}")

    shown = review.show(approval.approval_id, "", three, group_only)
    posted = review.decide(
        approval.approval_id, {"csrf": csrf, "decision": "approve"}, three, group_only
    )

    assert shown.status == 403
    assert "separation of duties" in shown.html
    assert "separation of duties" in posted.html
    assert group_only.store.votes(approval.approval_id) == []


def test_sign_in_required_matches_the_link_by_object_id_not_by_mail(catalog: RegionCatalog) -> None:
    policy = ApprovalPolicy(
        approvers=(ONE, TWO),
        min_approvals=1,
        require_sign_in=True,
        approver_object_ids={ONE: OID[ONE]},
    )
    deps = deps_for(catalog, policy)
    approval = open_request(request_for(), deps)
    token = token_in(next(m for m in deps.mailer.sent if m.to == (ONE,)).text)  # type: ignore[attr-defined]

    impostor = review.show(
        approval.approval_id, token, principal_header(STRANGER_OID, ONE, TENANT), deps
    )
    genuine = review.show(
        approval.approval_id,
        token,
        principal_header(OID[ONE], "renamed@contoso.example", TENANT),
        deps,
    )

    assert impostor.status == 403
    assert genuine.status == 200


def test_one_member_cannot_vote_twice_through_both_paths(group_only: ApprovalDeps) -> None:
    approval = open_request(request_for(), group_only)
    link_of_one = next(m for m in group_only.mailer.sent if m.to == (ONE,))  # type: ignore[attr-defined]

    _signed_in_vote(group_only, approval.approval_id, principal_header(OID[ONE], ONE, TENANT))
    again = _link_vote(group_only, approval.approval_id, token_in(link_of_one.text))

    assert "already recorded" in again.html
    assert group_only.store.get(approval.approval_id)[0].state is ApprovalState.PENDING
    assert GROUP in group_only.store.get(approval.approval_id)[0].approver_groups


def test_the_page_shows_pusher_owner_votes_so_far_and_a_downgrade(
    group_only: ApprovalDeps,
) -> None:
    from tests.unit.domain.approval.test_view import _live

    group_only.live_revision = lambda region, model: _live("9.0.0")
    approval = open_request(request_for(pushed_by="CI@contoso.example"), group_only)
    _signed_in_vote(group_only, approval.approval_id, principal_header(OID[ONE], ONE, TENANT))

    page = review.show(
        approval.approval_id, "", principal_header(OID[TWO], TWO, TENANT), group_only
    )

    assert "ci@contoso.example" in page.html
    assert "not the pusher" in page.html
    assert "id='downgrade'" in page.html
    assert "9.0.0" in page.html and "id='changes'" in page.html
    assert f"{ONE}: approve at" in page.html
    card = group_only.teams.posts[0]["attachments"][0]["content"]  # type: ignore[union-attr]
    texts = json.dumps(card)
    assert "Downgrade" in texts and "Changes against live" in texts


def test_group_members_hear_of_expiry_and_the_owner_only_through_the_allow_list(
    catalog: RegionCatalog,
) -> None:
    from datetime import timedelta

    from shared.services.approval.requests import expire_request

    deps = deps_for(catalog, ApprovalPolicy(approver_groups=(GROUP,), min_approvals=2))
    approval = open_request(request_for(owner="someone@elsewhere.example"), deps)
    deps.clock = lambda: approval.expires_at + timedelta(seconds=5)
    sent_before = len(deps.mailer.sent)  # type: ignore[attr-defined]

    expired = expire_request(approval.approval_id, deps)

    assert expired.state is ApprovalState.EXPIRED
    (notice,) = deps.mailer.sent[sent_before:]  # type: ignore[attr-defined]
    assert set(notice.to) == {"platform@contoso.example", ONE, TWO, THREE}
    record = next(r for r in deps.lineage.records if r.kind is RecordKind.APPROVAL_EXPIRED)  # type: ignore[attr-defined]
    assert set(record.details["did_not_answer"].split(", ")) == {ONE, TWO, THREE}


def test_without_a_directory_the_tokens_group_claims_decide(catalog: RegionCatalog) -> None:
    import base64
    import json as _json

    deps = deps_for(
        catalog, ApprovalPolicy(approver_groups=(GROUP,), min_approvals=1), directory=None
    )
    approval = open_request(request_for(), deps)
    doc = _json.loads(base64.b64decode(principal_header(STRANGER_OID, "m@contoso.example", TENANT)))
    doc["claims"].append({"typ": "groups", "val": GROUP.upper()})
    member = base64.b64encode(_json.dumps(doc).encode()).decode()

    assert deps.mailer.sent == []  # type: ignore[attr-defined]  # nobody to mail without a directory
    assert review.show(approval.approval_id, "", member, deps).status == 200
    assert (
        review.show(
            approval.approval_id, "", principal_header(STRANGER_OID, None, TENANT), deps
        ).status
        == 403
    )


@pytest.mark.parametrize(
    "claim",
    [
        "appr\u043ever.one@contoso.example",  # Cyrillic o
        "\uff41pprover.one@contoso.example",  # fullwidth a
        "appro\u03bde r.one@contoso.example".replace(" ", ""),  # Greek nu for v
    ],
)
def test_a_look_alike_sign_in_claim_is_nobody(claim: str) -> None:
    """Easy Auth says who signed in; a directory account named like an approver with one
    look-alike letter must not be folded into that approver (it is someone else)."""
    import base64
    import json

    from shared.services.approval.review import principal_of

    doc = {"claims": [{"typ": "preferred_username", "val": claim}]}
    principal = principal_of(base64.b64encode(json.dumps(doc).encode()).decode())
    assert principal is not None
    assert principal.identities == frozenset()
