"""Approvals on the local stack: real mails (SMTP), Teams posts, the review page over HTTP."""

from __future__ import annotations

import base64
import json
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from shared.composition import Container
from shared.domain.approval.record import ApprovalState
from shared.domain.lineage.record import RecordKind
from shared.local.smtp_sink import read_mails
from shared.local.stack import SAMPLE_APPROVERS, LocalStack
from shared.local.teams_sink import read_posts
from shared.ports.messaging import OutboundMessage
from shared.queues import APPROVAL_EXPIRATIONS
from tests.conftest import wait_for
from tests.integration.approval_flow import (
    Flow,
    deployments,
    form_of,
    http,
    post_url,
    sign_in,
    vote,
)

pytestmark = pytest.mark.stack
ONE, TWO = SAMPLE_APPROVERS


# -- notifications ---------------------------------------------------------------------------
def test_each_approver_gets_a_personal_link_and_teams_gets_a_card(
    hosts: LocalStack, cell: Container
) -> None:
    flow = Flow(
        hosts,
        cell,
        "notify-me",
        "1.0.0",
        **{"org.opencontainers.image.description": "<b>bold</b> [x](http://evil)"},
    )
    approval = flow.wait_open()
    assert approval.state is ApprovalState.PENDING
    assert approval.approvers == tuple(sorted(SAMPLE_APPROVERS))
    one, two = flow.link_for(ONE), flow.link_for(TWO)
    assert one != two  # personal links
    card_posts = wait_for(
        lambda: [p for p in read_posts(hosts.teams_store) if flow.approval_id in json.dumps(p)]
    )
    body = card_posts[0]["body"]
    assert body["type"] == "message"
    (attachment,) = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard"
    facts = {f["title"]: f["value"] for f in card["body"][1]["facts"]}
    assert facts["Model"] == "notify-me"  # no stray backslashes
    assert facts["Digest"] == flow.pushed.digest.removeprefix("sha256:")[:12]
    assert facts["Residency zone"] == "EU"
    (action,) = card["actions"]
    assert action["type"] == "Action.OpenUrl"
    assert action["url"].endswith(f"/api/approvals/{flow.approval_id}/review")
    notified = wait_for(lambda: flow.records(RecordKind.APPROVAL_NOTIFIED))
    assert ONE in notified[0].details["asked"] and TWO in notified[0].details["asked"]


# -- the review page ---------------------------------------------------------------------------
def test_get_shows_details_and_decides_nothing(hosts: LocalStack, cell: Container) -> None:
    flow = Flow(hosts, cell, "look-only", "1.0.0")
    flow.wait_open()
    link = flow.link_for(ONE)
    for _ in range(3):  # a mail scanner, an unfurler, the approver
        status, page, headers = http("GET", link)
        assert status == 200
    assert "look-only" in page and "Approve" in page and "Reject" in page
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert headers["Referrer-Policy"] == "no-referrer"
    assert flow.approval().state is ApprovalState.PENDING
    assert flow.store.votes(flow.approval_id) == []


def test_tampered_expired_and_cross_request_links_are_refused(
    hosts: LocalStack, cell: Container
) -> None:
    flow = Flow(hosts, cell, "guarded", "1.0.0")
    other = Flow(hosts, cell, "guarded-other", "1.0.0")
    flow.wait_open()
    other.wait_open()
    good = flow.token(ONE)
    _, signature = good.split(".")
    forged = (
        base64.urlsafe_b64encode(
            json.dumps(
                {"aid": flow.approval_id, "sub": TWO, "exp": 9999999999, "kid": "k1"}
            ).encode()
        )
        .decode()
        .rstrip("=")
    )
    assert http("GET", flow.review_url(f"{forged}.{signature}"))[0] == 403
    assert http("GET", flow.review_url(good[:-2] + "AA"))[0] == 403
    assert http("GET", flow.review_url("garbage"))[0] == 403
    expired = flow.token(ONE, datetime.now(UTC) - timedelta(seconds=1))
    assert http("GET", flow.review_url(expired))[0] == 410
    # a link of another request opens nothing here
    assert http("GET", flow.review_url(other.token(ONE)))[0] == 403


def test_post_without_csrf_is_refused_and_reject_needs_a_reason(
    hosts: LocalStack, cell: Container
) -> None:
    flow = Flow(hosts, cell, "csrf-check", "1.0.0")
    flow.wait_open()
    token = flow.token(ONE)
    assert http("POST", post_url(flow), {"t": token, "decision": "approve"})[0] == 403
    _, page, _ = http("GET", flow.review_url(token))
    bad_reject = {**form_of(page), "decision": "reject", "reason": "  "}
    assert http("POST", post_url(flow), bad_reject)[0] == 400
    assert flow.store.votes(flow.approval_id) == []


def test_quorum_of_two_approves_once_and_enqueues_the_deployment(
    hosts: LocalStack, cell: Container
) -> None:
    flow = Flow(hosts, cell, "quorum", "1.0.0")
    flow.wait_open()
    status, page = vote(flow, ONE, comment="looks fine")
    assert status == 200 and "waits for more approvals" in page
    status, page = vote(flow, ONE)  # replayed vote
    assert "already recorded" in page
    assert len(flow.store.votes(flow.approval_id)) == 1
    status, page = vote(flow, TWO)
    assert "approved" in page
    approval = flow.approval()
    assert approval.state is ApprovalState.APPROVED
    assert set(approval.decided_by) == {ONE, TWO}
    assert approval.dispatched  # the deployment request was enqueued
    (deployed,) = deployments(flow)  # and the region's deployer ran it, once
    assert deployed.correlation.approval_id == flow.approval_id
    assert deployed.details["identity"] == flow.pushed.digest
    assert len(flow.records(RecordKind.APPROVAL_VOTE)) == 2
    assert len(flow.records(RecordKind.APPROVAL_APPROVED)) == 1
    owner_mail = wait_for(
        lambda: [
            m
            for m in read_mails(hosts.maildir)
            if m["To"] == "owner@contoso.example"
            and "quorum" in m["Subject"]
            and "approved" in m["Subject"]
        ]
    )
    assert owner_mail
    # the decided request now shows who decided and when, for everyone
    status, page, _ = http("GET", flow.link_for(TWO))
    assert status == 200 and "approved" in page and ONE in page


def test_concurrent_votes_both_count_and_decide_once(hosts: LocalStack, cell: Container) -> None:
    flow = Flow(hosts, cell, "race", "1.0.0")
    flow.wait_open()
    forms = {}
    for approver in (ONE, TWO):
        _, page, _ = http("GET", flow.link_for(approver))
        forms[approver] = {**form_of(page), "decision": "approve"}
    results: list[int] = []
    threads = [
        threading.Thread(target=lambda f=f: results.append(http("POST", post_url(flow), f)[0]))
        for f in forms.values()
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200, 200]
    assert flow.approval().state is ApprovalState.APPROVED
    assert len(flow.store.votes(flow.approval_id)) == 2
    assert len(deployments(flow)) == 1
    time.sleep(1.0)
    assert len(flow.records(RecordKind.DEPLOYMENT_SUCCEEDED)) == 1  # decided and deployed once
    assert len(flow.records(RecordKind.APPROVAL_APPROVED)) == 1


def test_rejection_needs_one_approver_and_tells_the_owner(
    hosts: LocalStack, cell: Container
) -> None:
    flow = Flow(hosts, cell, "rejected-one", "1.0.0")
    flow.wait_open()
    status, page = vote(flow, TWO, "reject", reason="latency budget exceeded")
    assert status == 200
    approval = flow.approval()
    assert approval.state is ApprovalState.REJECTED
    assert approval.decision_reason == "latency budget exceeded"
    (record,) = wait_for(lambda: flow.records(RecordKind.APPROVAL_REJECTED))
    assert record.reasons[0].message == "latency budget exceeded"
    # the link now shows who decided and when (no form, no error loop)
    status, page, _ = http("GET", flow.link_for(ONE))
    assert status == 200
    assert "rejected" in page
    assert TWO in page
    assert "name='csrf'" not in page
    # a vote posted after the decision changes nothing and says why
    token = flow.token(ONE)
    late = {"t": token, "csrf": flow.signer.csrf_token(token), "decision": "approve"}
    status, page, _ = http("POST", post_url(flow), late)
    assert status == 200
    assert "rejected" in page
    assert flow.approval().state is ApprovalState.REJECTED
    assert len(flow.store.votes(flow.approval_id)) == 1


def test_owner_cannot_approve_own_model(hosts: LocalStack, cell: Container) -> None:
    flow = Flow(hosts, cell, "self-approval", "1.0.0", **{"ai.clearance.owner": ONE})
    flow.wait_open()
    # the owner is a listed approver, yet gets no link; a forged-by-us valid one is refused too
    token = flow.token(ONE)
    _, page, _ = http("GET", flow.review_url(token))
    status, page, _ = http("POST", post_url(flow), {**form_of(page), "decision": "approve"})
    assert status == 200
    assert "separation of duties" in page
    assert flow.store.votes(flow.approval_id) == []


def test_signed_in_region_requires_the_matching_principal(
    hosts: LocalStack, cell: Container
) -> None:
    flow = Flow(hosts, cell, "signed-in", "1.0.0")
    approval = flow.wait_open()
    _, etag = flow.store.get(flow.approval_id)
    flow.store.replace(approval.model_copy(update={"require_sign_in": True}), etag)
    token = flow.token(ONE)
    assert http("GET", flow.review_url(token))[0] == 403

    forged = {"auth_typ": "aad", "claims": [{"typ": "preferred_username", "val": ONE}]}
    header = {"X-MS-CLIENT-PRINCIPAL": base64.b64encode(json.dumps(forged).encode()).decode()}
    assert http("GET", flow.review_url(token), headers=header)[0] == 403  # the host drops it

    def principal(email: str) -> dict[str, str]:
        return sign_in(hosts, email)

    assert http("GET", flow.review_url(token), headers=principal(TWO))[0] == 403
    status, page, _ = http("GET", flow.review_url(token), headers=principal(ONE))
    assert status == 200
    status, page, _ = http(
        "POST", post_url(flow), {**form_of(page), "decision": "approve"}, headers=principal(ONE)
    )
    assert "recorded" in page
    (vote_record,) = flow.records(RecordKind.APPROVAL_VOTE)
    assert vote_record.actor.established_by == "easy_auth"


def test_expiry_arrives_through_the_scheduled_message(hosts: LocalStack, cell: Container) -> None:
    flow = Flow(hosts, cell, "expiring", "1.0.0")
    approval = flow.wait_open()
    soon = datetime.now(UTC) + timedelta(seconds=3)
    _, etag = flow.store.get(flow.approval_id)
    flow.store.replace(approval.model_copy(update={"expires_at": soon}), etag)
    cell.bus.send(
        APPROVAL_EXPIRATIONS,
        OutboundMessage.json(
            {"approval_id": flow.approval_id},
            message_id=f"test-expire-{flow.approval_id}",
            scheduled_enqueue_time=soon,
        ),
    )
    wait_for(lambda: flow.approval().state is ApprovalState.EXPIRED, timeout=30)
    (record,) = wait_for(lambda: flow.records(RecordKind.APPROVAL_EXPIRED))
    assert ONE in record.details["did_not_answer"]
    assert datetime.now(UTC) >= soon
    token = flow.token(ONE)
    late = {"t": token, "csrf": flow.signer.csrf_token(token), "decision": "approve"}
    _, page, _ = http("POST", post_url(flow), late)
    assert "expired" in page
    assert flow.store.votes(flow.approval_id) == []


def test_newer_version_supersedes_the_pending_older_request(
    hosts: LocalStack, cell: Container
) -> None:
    old = Flow(hosts, cell, "evolving", "1.0.0")
    old.wait_open()
    new = Flow(hosts, cell, "evolving", "1.1.0")
    new.wait_open()
    wait_for(lambda: old.approval().state is ApprovalState.SUPERSEDED, timeout=30)
    assert old.approval().superseded_by == new.approval_id
    assert new.approval().state is ApprovalState.PENDING
    (record,) = old.records(RecordKind.APPROVAL_SUPERSEDED)
    assert record.details["by_version"] == "1.1.0"
    status, page, _ = http("GET", old.link_for(ONE))
    assert status == 200 and "superseded" in page
    told = [
        m
        for m in read_mails(hosts.maildir)
        if "evolving 1.0.0" in m["Subject"] and "superseded" in m["Subject"]
    ]
    assert told
