# ruff: noqa: RUF001 - the look-alike characters are the point of these tests
"""Identities end to end on the local stack: authenticated pushers, owner-label variants,
group-only approvals through Teams (Easy Auth) and mailed links, and no relay."""

from __future__ import annotations

import json
import time

import pytest

from shared.composition import Container
from shared.domain.approval.record import ApprovalState
from shared.domain.lineage.record import RecordKind
from shared.local.images import push_image
from shared.local.samples import model_labels
from shared.local.smtp_sink import read_mails
from shared.local.stack import SAMPLE_OWNER, SAMPLE_PEOPLE, LocalStack
from shared.local.teams_sink import read_posts
from tests.conftest import wait_for
from tests.integration.approval_flow import (
    Flow,
    csrf_of,
    deployments,
    http,
    post_url,
    sign_in,
    vote,
)

pytestmark = pytest.mark.stack
ONE, TWO, THREE = (f"approver.{n}@contoso.example" for n in ("one", "two", "three"))
CRITICAL = {"ai.clearance.risk-tier": "critical"}


def _mailed(stack: LocalStack, approval_id: str) -> set[str]:
    return {
        str(m["To"])
        for m in read_mails(stack.maildir)
        if approval_id in m.get_body(("plain",)).get_content()
        and "Approval requested" in str(m["Subject"])
    }


def test_the_registry_names_the_pusher_who_is_neither_mailed_nor_counted(
    hosts: LocalStack, cell: Container
) -> None:
    flow = Flow(hosts, cell, "pushed-by-two", "1.0.0", pushed_as=TWO)
    approval = flow.wait_open()

    assert approval.pushed_by == TWO
    received = wait_for(lambda: flow.records(RecordKind.ARTIFACT_RECEIVED))
    assert received[0].details["pushed_by"] == TWO
    flow.link_for(ONE)
    assert _mailed(hosts, flow.approval_id) == {ONE}
    _, page, _ = http("GET", flow.review_url(flow.token(TWO)))  # a link forged for them
    _, page, _ = http(
        "POST", post_url(flow), {"t": flow.token(TWO), "csrf": csrf_of(page), "decision": "approve"}
    )
    assert "pushed this artifact" in page
    assert flow.store.votes(flow.approval_id) == []


def test_an_owner_label_variant_is_still_the_owner(hosts: LocalStack, cell: Container) -> None:
    flow = Flow(
        hosts,
        cell,
        "owner-variant",
        "1.0.0",
        **{"ai.clearance.owner": "approver.one+x@contoso.example"},
    )
    approval = flow.wait_open()

    assert approval.owner == ONE
    flow.link_for(TWO)
    assert _mailed(hosts, flow.approval_id) == {TWO}
    token = flow.token(ONE)
    _, page, _ = http("GET", flow.review_url(token))
    _, page, _ = http(
        "POST", post_url(flow), {"t": token, "csrf": csrf_of(page), "decision": "approve"}
    )
    assert "You own this model" in page


@pytest.mark.parametrize(
    ("owner", "code"),
    [
        ("ａpprover.one@contoso.example", "CLR-META-CONFUSABLE"),
        ("approver.оne@contoso.example", "CLR-META-MIXED-SCRIPT"),
    ],
)
def test_a_look_alike_owner_is_refused_at_intake_and_mailed_to_the_platform_only(
    hosts: LocalStack, cell: Container, owner: str, code: str
) -> None:
    name = f"look-alike-{code.lower().rsplit('-', 1)[-1]}"
    client = hosts.registry_client("westeurope")
    push_image(client, f"models/{name}", model_labels(name, "1.0.0", owner=owner), tag="1.0.0")

    def rejection() -> list[object]:
        return [
            m
            for m in read_mails(hosts.maildir)
            if name in str(m["Subject"]) and "rejected" in str(m["Subject"])
        ]

    (mail,) = wait_for(rejection, timeout=30)
    assert str(mail["To"]) == "platform-team@contoso.example"
    assert mail["Date"]
    assert code in mail.get_body(("plain",)).get_content()


def test_an_owner_outside_the_allow_list_is_never_mailed(
    hosts: LocalStack, cell: Container
) -> None:
    name = "relay-attempt"
    labels = model_labels(name, "1.0.0", owner="victim@elsewhere.example", risk_tier="urgent!")
    push_image(hosts.registry_client("westeurope"), f"models/{name}", labels, tag="1.0.0")

    (mail,) = wait_for(
        lambda: [
            m
            for m in read_mails(hosts.maildir)
            if name in str(m["Subject"]) and "rejected" in str(m["Subject"])
        ],
        timeout=30,
    )
    assert str(mail["To"]) == "platform-team@contoso.example"
    assert "urgent!" not in mail.get_body(("plain",)).get_content()


def test_a_group_only_tier_reaches_quorum_through_teams_and_a_mailed_link(
    hosts: LocalStack, cell: Container
) -> None:
    flow = Flow(hosts, cell, "group-only", "1.0.0", pushed_as=SAMPLE_OWNER, **CRITICAL)
    approval = flow.wait_open()
    assert approval.approvers == ()
    flow.link_for(ONE)
    wait_for(lambda: _mailed(hosts, flow.approval_id) == {ONE, TWO, THREE}, timeout=30)
    card = wait_for(
        lambda: [p for p in read_posts(hosts.teams_store) if flow.approval_id in json.dumps(p)]
    )
    button = card[0]["body"]["attachments"][0]["content"]["actions"][0]["url"]

    # A non-member signs in from the Teams card: refused before any form is shown.
    outsider = sign_in(hosts, SAMPLE_OWNER)
    status, page, _ = http("GET", button, headers=outsider)
    assert status == 403
    assert http("GET", button)[0] == 401  # not signed in at all

    # approver.one from the Teams card, signed in; approver.two from the mailed link.
    one = sign_in(hosts, ONE)
    status, page, _ = http("GET", button, headers=one)
    assert status == 200, page
    status, page, _ = http(
        "POST", post_url(flow), {"csrf": csrf_of(page), "decision": "approve"}, headers=one
    )
    assert "recorded" in page
    status, page = vote(flow, TWO)
    assert "approved" in page

    assert deployments(flow)
    final = flow.approval()
    assert final.state is ApprovalState.APPROVED
    assert set(final.decided_by) == {ONE, TWO}
    votes = {r.actor.identity: r for r in flow.records(RecordKind.APPROVAL_VOTE)}
    assert votes[ONE].details["object_id"] == SAMPLE_PEOPLE[ONE]
    assert votes[ONE].actor.established_by == "easy_auth"
    assert votes[TWO].actor.established_by == "signed_link"


def test_a_member_removed_from_the_group_is_refused_on_the_teams_path(
    hosts: LocalStack, cell: Container
) -> None:
    """Storage edited behind the app's back: the directory, not the record, decides sign-ins
    of people the record does not know."""
    flow = Flow(hosts, cell, "group-edit", "1.0.0", **CRITICAL)
    flow.wait_open()
    doc = json.loads(hosts.directory_file.read_text())
    stranger = "99999999-0000-0000-0000-000000000099"
    doc["users"].append(
        {"object_id": stranger, "mail": "late@contoso.example", "display_name": "late"}
    )
    original = hosts.directory_file.read_text()
    try:
        hosts.directory_file.write_text(json.dumps(doc))
        late = sign_in(hosts, "late@contoso.example")
        button = post_url(flow)
        assert http("GET", button, headers=late)[0] == 403  # in the directory, not the group
        group = next(iter(doc["groups"]))
        doc["groups"][group]["members"].append(stranger)
        hosts.directory_file.write_text(json.dumps(doc))
        time.sleep(0.1)
        assert http("GET", button, headers=late)[0] == 200  # added since: the directory decides
    finally:
        hosts.directory_file.write_text(original)


def test_the_digest_store_opens_one_window_per_address_on_table_storage(
    stack: LocalStack, cell: Container
) -> None:
    from datetime import UTC, datetime, timedelta

    from shared.adapters.storage.mail_digests import TableDigestStore
    from shared.ports.mail import HeldMail
    from shared.services.mail_digest import DigestingMailer, send_digests
    from tests.support.fakes import FakeMailer

    store, inner = TableDigestStore(cell.table_service), FakeMailer()
    now = datetime.now(UTC)
    address = f"burst-{now.timestamp()}@contoso.example"
    mailer = DigestingMailer(inner, store, clock=lambda: now)
    from shared.ports.mail import OutboundMail

    for n in range(5):
        mailer.send(OutboundMail((address,), f"rejected {n}", "x", "<p>x</p>"))
    assert len(inner.sent) == 1
    assert isinstance(store.due(now + timedelta(minutes=10))[0][1][0], HeldMail)
    assert send_digests(inner, store, now + timedelta(minutes=10)) >= 1
    digest = next(m for m in inner.sent if m.to == (address,) and "digest" in m.subject)
    assert "4 message" in digest.subject
    assert store.open_window(address, now + timedelta(minutes=11))  # closed: a new window


def test_the_azure_ml_registrant_is_read_from_the_workspace_and_cannot_approve(
    hosts: LocalStack, cell: Container
) -> None:
    from shared.adapters.storage.approvals import TableApprovalStore
    from shared.domain.approval.record import approval_id_for
    from shared.domain.lineage.record import ArtifactRef
    from shared.local.events import deliver, model_registered

    name = "aml-registered-by-one"
    tags = {
        "ai.clearance.owner": "owner@contoso.example",
        "ai.clearance.regions": "westeurope",
        "ai.clearance.residency": "EU",
        "ai.clearance.risk-tier": "medium",
        "ai.clearance.rollout.strategy": "blue-green",
    }
    hosts.record_registrant("westeurope", name, "3", ONE)  # what the workspace recorded
    event = model_registered("westeurope", name, 3, tags)
    assert deliver(hosts.host_url("westeurope"), "aml_model_registered", [event]) == 202
    artifact = ArtifactRef(kind="aml_model", workspace="mlw-westeurope", model=name, version="3")
    store = TableApprovalStore(cell.table_service)
    approval_id = approval_id_for(artifact, "westeurope")

    def opened() -> object:
        from shared.domain.errors import TerminalError

        try:
            return store.get(approval_id)[0]
        except TerminalError:
            return None

    approval = wait_for(opened, timeout=30)
    assert approval.registered_by == ONE
    assert approval.excluded_object_ids == (SAMPLE_PEOPLE[ONE],)
    wait_for(lambda: TWO in _mailed(hosts, approval_id), timeout=30)
    assert ONE not in _mailed(hosts, approval_id)
