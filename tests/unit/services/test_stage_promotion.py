"""Intake approval -> staging (no human approval) -> verified -> promotion approval (quorum,
the staging evidence shown) -> prod; and the promotion requests an attacker would send."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from shared.domain.approval.links import LinkSigner
from shared.domain.approval.record import ApprovalState
from shared.domain.approval.request import ApprovalRequest
from shared.domain.catalog import RegionEntry
from shared.domain.identity import IdentityRules
from shared.queues import APPROVAL_REQUESTS, DEPLOYMENT_REQUESTS
from shared.services.approval import stages as approval_stages
from shared.services.approval.messages import facts
from shared.services.approval.requests import ApprovalDeps, cast_vote, open_request
from shared.services.approval.stages import StageRefused, request_promotion
from shared.services.deploy.rollouts import DeployOutcome
from tests.support import deploy_samples as s
from tests.support.approval_fakes import FakeApprovalStore
from tests.support.deploy_world import World
from tests.unit.services.deploy.test_stages import WEDNESDAY_NOON, staged

OWNER = "owner@contoso.example"


class Cell:
    def __init__(self, cell: RegionEntry) -> None:
        self.world = World(staged(cell))
        self.world.clock.now = WEDNESDAY_NOON
        self.store = FakeApprovalStore()
        self.approvals = ApprovalDeps(
            cell=self.world.cell,
            store=self.store,
            lineage=self.world.lineage,
            bus=self.world.bus,
            mailer=self.world.mailer,
            signer=LinkSigner({"k1": b"k" * 32}),
            clock=self.world.clock,
            identity=IdentityRules(owner_domains=("contoso.example",)),
            stage_state=self.world.store,
        )

    def intake(self, version: str = "1", **extra: Any) -> ApprovalRequest:
        d = s.image_request(self.world.cell, s.image_metadata("rolling", version))
        return ApprovalRequest(
            artifact=d.artifact,
            source_region=self.world.cell.name,
            metadata=d.metadata,
            pushed_by="pusher@contoso.example",
            event_id=f"e-{version}",
            received_at=self.world.clock.now,
            validated_at=self.world.clock.now,
            **extra,
        )

    def deploy_all(self) -> list[DeployOutcome]:
        self.world.delivered = 0
        return self.world.drain()

    def promotion_messages(self) -> list[ApprovalRequest]:
        return [
            ApprovalRequest.model_validate_json(m.body)
            for q, m in self.world.bus.sent
            if q == APPROVAL_REQUESTS
        ]


@pytest.fixture
def c(cell: RegionEntry) -> Cell:
    return Cell(cell)


def test_staging_needs_no_human_approval_and_prod_its_quorum(c: Cell) -> None:
    first = open_request(c.intake(), c.approvals)
    assert first.state is ApprovalState.APPROVED and first.stage == "staging"
    assert first.decided_by == (approval_stages.AUTOMATIC,)
    assert c.deploy_all() == [DeployOutcome.SUCCEEDED]
    staging = c.world.store.state(c.world.cell.name, "fraud-detector@staging")
    assert staging.live is not None

    # the auto-promotion message arrives after the bake time; the approval step verifies
    (promotion,) = c.promotion_messages()
    c.world.clock.now += timedelta(minutes=61)
    prod = open_request(promotion, c.approvals)
    assert prod.state is ApprovalState.PENDING and prod.stage == "prod"
    assert prod.approval_id != first.approval_id and prod.pushed_by == "pusher@contoso.example"
    # the evidence from staging leads the card, the mail and the review page
    rows = facts(prod, None)
    assert rows[0][0] == "Attention" and "Promotion from staging" in rows[0][1]
    assert any("no rollback since" in v for _, v in rows)
    assert ("Stage", "prod") in rows
    # the pusher cannot approve prod either
    refused = cast_vote(
        prod.approval_id, "pusher@contoso.example", "approve", None, "easy_auth", c.approvals
    )
    assert not refused.counted
    for who in ("approver.one@contoso.example", "approver.two@contoso.example"):
        cast_vote(prod.approval_id, who, "approve", None, "easy_auth", c.approvals)
    assert c.store.get(prod.approval_id)[0].state is ApprovalState.APPROVED
    c.world.delivered = len(c.world.bus.sent) - 1
    assert c.world.drain() == [DeployOutcome.SUCCEEDED]
    assert c.world.state().live.identity == promotion.artifact.digest
    stages_seen = {r.details.get("stage") for r in c.world.lineage.records}
    assert {"staging", "prod"} <= stages_seen


def test_a_promotion_after_a_rollback_during_the_bake_time_is_refused(c: Cell) -> None:
    open_request(c.intake("1"), c.approvals)
    c.deploy_all()
    open_request(c.intake("2"), c.approvals)
    c.deploy_all()
    promotions = c.promotion_messages()
    state = c.world.store.state(c.world.cell.name, "fraud-detector@staging")
    back = s.image_request(
        c.world.cell,
        s.image_metadata("rolling", "1"),
        stage="staging",
        rollback_of=state.live.deployment_id,
        approval_id="apr-rollback",
    ).model_copy(update={"artifact": state.previous.artifact})
    c.world.run(back)
    c.world.clock.now += timedelta(hours=2)
    v2 = next(p for p in promotions if p.metadata.version == "2")
    with pytest.raises(StageRefused, match="not live in staging"):
        open_request(v2, c.approvals)


def test_the_owner_requests_a_promotion_of_what_staging_runs(c: Cell) -> None:
    open_request(c.intake(), c.approvals)
    c.deploy_all()
    digest = c.world.store.state(c.world.cell.name, "fraud-detector@staging").live.identity
    args = (c.world.cell, c.store, c.world.store)
    with pytest.raises(StageRefused, match="bake time"):
        request_promotion("fraud-detector", digest, "prod", OWNER, *args, c.world.clock.now)
    later = c.world.clock.now + timedelta(hours=1)
    with pytest.raises(StageRefused, match="only the owner"):
        request_promotion("fraud-detector", digest, "prod", "mallory@contoso.example", *args, later)
    with pytest.raises(StageRefused, match="is not what staging runs"):
        request_promotion("fraud-detector", "sha256:" + "0" * 64, "prod", OWNER, *args, later)
    with pytest.raises(StageRefused, match="no stage"):
        request_promotion("fraud-detector", digest, "production", OWNER, *args, later)
    with pytest.raises(StageRefused, match="first stage"):
        request_promotion("fraud-detector", digest, "staging", OWNER, *args, later)
    # the owner's address in another case is still the owner
    asked = request_promotion("fraud-detector", digest, "prod", OWNER.upper(), *args, later)
    c.world.clock.now = later
    opened = open_request(asked, c.approvals)
    assert opened.state is ApprovalState.PENDING and opened.stage == "prod"
    # replayed: the same record, not a second approval
    again = open_request(asked, c.approvals)
    assert again.approval_id == opened.approval_id
    assert len(c.store.pending_for_model(c.world.cell.name, "fraud-detector")) == 1


def test_forged_promotion_requests_are_refused(c: Cell) -> None:
    first = open_request(c.intake(), c.approvals)
    c.deploy_all()
    c.world.clock.now += timedelta(hours=2)
    (promotion,) = c.promotion_messages()
    with pytest.raises(StageRefused, match="unknown approval"):
        open_request(promotion.model_copy(update={"promotion_of": "apr-forged"}), c.approvals)
    other = c.intake("9")
    with pytest.raises(StageRefused, match="not live in staging"):
        open_request(
            other.model_copy(update={"stage": "prod", "promotion_of": first.approval_id}),
            c.approvals,
        )
    with pytest.raises(StageRefused, match="no stage"):
        open_request(promotion.model_copy(update={"stage": "qa"}), c.approvals)
    # a promotion into the first stage has nothing to promote from
    with pytest.raises(StageRefused, match="no previous stage"):
        open_request(promotion.model_copy(update={"stage": "staging"}), c.approvals)
    # a prod deployment request that skips the approval: the deployer re-verifies staging
    d = s.image_request(c.world.cell, s.image_metadata("rolling", "9"), stage="prod")
    assert c.world.run(d) == [DeployOutcome.FAILED]
    assert DEPLOYMENT_REQUESTS


def test_a_stage_in_another_region_is_not_this_cells(c: Cell, tmp_path: Any) -> None:
    other = s.catalog(tmp_path, deployer="kubernetes").region("swedencentral")
    d = s.image_request(other, s.image_metadata("rolling", "1"), stage="prod")
    assert c.world.run(d) == [DeployOutcome.FAILED]
    assert c.world.lineage.records[-1].reasons[0].code == "CLR-DEPLOY-WRONG-REGION"


def test_a_refused_promotion_is_recorded_once_not_retried(c: Cell) -> None:
    open_request(c.intake(), c.approvals)
    c.deploy_all()
    (promotion,) = c.promotion_messages()  # arrives too early: the bake time is not over
    for _ in range(2):  # a redelivery records nothing new
        with pytest.raises(StageRefused) as refused:
            open_request(promotion, c.approvals)
        approval_stages.record_refusal(promotion, refused.value, c.approvals)
    refusals = [r for r in c.world.lineage.records if r.details.get("promotion_of")]
    assert len(refusals) == 1 and refusals[0].reasons[0].code == "CLR-PROMOTION-REFUSED"
