"""Stages in the deployer: promotion needs the previous stage verified, windows schedule,
overrides need an extra approver and a reason, one rollout per model and stage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.domain.catalog import RegionEntry
from shared.domain.deploy.codes import DeployCode
from shared.domain.deploy.request import DeploymentRequest, Override
from shared.domain.lineage.record import RecordKind
from shared.queues import APPROVAL_REQUESTS
from shared.services.deploy import stages
from shared.services.deploy.rollouts import DeployOutcome
from tests.support import deploy_samples as s
from tests.support.deploy_world import World

WEDNESDAY_NOON = datetime(2026, 12, 2, 11, 0, tzinfo=UTC)  # 12:00 Amsterdam
SATURDAY = datetime(2026, 12, 5, 11, 0, tzinfo=UTC)


def staged(cell: RegionEntry, **prod: Any) -> RegionEntry:
    doc = cell.model_dump(mode="json")
    prod_approval = {
        "default": {
            "approvers": [
                "approver.one@contoso.example",
                "approver.two@contoso.example",
                "approver.three@contoso.example",
            ],
            "min_approvals": 2,
        }
    }
    doc["stages"] = [
        {"name": "staging", "name_prefix": "stg", "bake_minutes": 60, "auto_promote": True},
        {
            "name": "prod",
            "approval": prod_approval,
            "windows": {
                "time_zone": "Europe/Amsterdam",
                "weekly": [
                    {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"}
                ],
            },
            **prod,
        },
    ]
    return RegionEntry.model_validate(doc)


@pytest.fixture
def world(cell: RegionEntry) -> World:
    w = World(staged(cell))
    w.clock.now = WEDNESDAY_NOON
    return w


def req(world: World, version: str, stage: str | None = None, **extra: Any) -> DeploymentRequest:
    return s.image_request(world.cell, s.image_metadata("rolling", version), stage=stage, **extra)


def staging_state(world: World):  # type: ignore[no-untyped-def]
    return world.store.state(world.cell.name, "fraud-detector@staging")


def test_an_approved_artifact_goes_to_the_first_stage_with_its_own_namespace(world: World) -> None:
    r = req(world, "1")
    assert world.run(r) == [DeployOutcome.SUCCEEDED]
    assert staging_state(world).live.identity == r.artifact.digest
    assert world.state().live is None  # prod untouched
    done = world.lineage.records[-1]
    assert done.where["namespace"] == "stg-model-fraud-detector"
    # auto-promotion: the promotion request for prod is due after staging's bake time
    (promotion,) = [m for q, m in world.bus.sent if q == APPROVAL_REQUESTS]
    assert promotion.scheduled_enqueue_time == world.clock.now + timedelta(minutes=61)


def test_promotion_needs_the_previous_stage_to_run_the_digest(world: World) -> None:
    world.run(req(world, "1"))
    world.clock.now += timedelta(hours=2)
    never = req(world, "2", "prod")  # staging never ran 2
    assert world.run(never) == [DeployOutcome.FAILED]
    (failed,) = [r for r in world.lineage.records if r.kind is RecordKind.DEPLOYMENT_FAILED]
    assert failed.reasons[0].code == DeployCode.PROMOTION_UNVERIFIED
    assert "not live in staging" in failed.reasons[0].message
    assert world.state().live is None


def test_promotion_before_the_bake_time_is_refused(world: World) -> None:
    world.run(req(world, "1"))
    world.clock.now += timedelta(minutes=59)
    assert world.run(req(world, "1", "prod")) == [DeployOutcome.FAILED]
    assert "bake time" in world.lineage.records[-1].reasons[0].message


def test_a_rollback_during_the_bake_time_blocks_the_promotion(world: World) -> None:
    world.run(req(world, "1"))
    world.run(req(world, "2"))
    state = staging_state(world)
    # roll staging back to 1 (as an approver's rollback would)
    back = req(world, "1", "staging", rollback_of=state.live.deployment_id, approval_id="apr-x")
    back = back.model_copy(update={"artifact": state.previous.artifact})
    world.run(back)
    assert staging_state(world).live.metadata.version == "1"
    world.clock.now += timedelta(hours=3)
    assert world.run(req(world, "2", "prod")) == [DeployOutcome.FAILED]
    assert world.state().live is None


def test_a_verified_promotion_deploys_to_prod_with_the_stage_recorded(world: World) -> None:
    r = req(world, "1")
    world.run(r)
    world.clock.now += timedelta(hours=1)
    assert world.run(req(world, "1", "prod")) == [DeployOutcome.SUCCEEDED]
    assert world.state().live.identity == r.artifact.digest
    prod = [x for x in world.lineage.records if x.details.get("stage") == "prod"]
    assert prod and prod[-1].where["namespace"] == "model-fraud-detector"


def test_outside_the_window_the_rollout_is_scheduled_for_the_next_opening(world: World) -> None:
    world.run(req(world, "1"))
    world.clock.now = SATURDAY
    world.delivered = len(world.bus.sent)
    assert world.deliver(req(world, "1", "prod")) == DeployOutcome.SCHEDULED
    assert len(world.pending()) == 1
    monday = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    assert world.bus.sent[-1][1].scheduled_enqueue_time == monday
    rec = world.lineage.records[-1]
    assert (
        rec.kind is RecordKind.DEPLOYMENT_SCHEDULED
        and rec.details["scheduled_for"] == monday.isoformat()
    )
    told = world.mailer.sent[-1]
    assert "owner@contoso.example" in told.to and "approver.one@contoso.example" in told.to
    assert "2026-12-07 09:00 Europe/Amsterdam" in told.subject
    # the scheduled message arrives on Monday and rolls out
    assert world.drain() == [DeployOutcome.SUCCEEDED]
    assert world.state().live is not None


def test_an_override_by_an_extra_approver_with_a_reason_starts_now(world: World) -> None:
    world.run(req(world, "1"))
    world.clock.now = SATURDAY
    o = Override(
        by="approver.three@contoso.example", reason="fraud spike, hotfix needed", at=SATURDAY
    )
    assert world.run(req(world, "1", "prod", override=o)) == [DeployOutcome.SUCCEEDED]
    rec = next(r for r in world.lineage.records if r.kind is RecordKind.DEPLOYMENT_SCHEDULED)
    assert rec.details["override_by"] == o.by and rec.details["reason"] == o.reason


@pytest.mark.parametrize(
    ("by", "reason", "problem"),
    [
        ("approver.one@contoso.example", "fraud spike, hotfix needed", "already approved"),
        ("APPROVER.ONE@contoso.example", "fraud spike, hotfix needed", "already approved"),
        ("owner@contoso.example", "fraud spike, hotfix needed", "owner"),
        ("mallory@contoso.example", "fraud spike, hotfix needed", "not an approver"),
        ("approver.three@contoso.example", "          .", "reason"),
    ],
)
def test_an_override_without_an_extra_approver_or_a_reason_is_refused(
    world: World, by: str, reason: str, problem: str
) -> None:
    world.run(req(world, "1"))
    world.clock.now = SATURDAY
    o = Override(by=by, reason=reason, at=SATURDAY)
    assert world.run(req(world, "1", "prod", override=o)) == [DeployOutcome.FAILED]
    failed = world.lineage.records[-1]
    assert (
        failed.reasons[0].code == DeployCode.OVERRIDE_REFUSED
        and problem in failed.reasons[0].message
    )
    assert world.state().live is None


def test_an_override_without_any_reason_is_not_even_a_valid_request() -> None:
    with pytest.raises(ValueError, match="at least 10 characters"):
        Override(by="approver.three@contoso.example", reason="", at=SATURDAY)


def test_a_stage_of_no_region_is_refused_not_retried(world: World) -> None:
    assert world.run(req(world, "1", "qa")) == [DeployOutcome.FAILED]
    assert world.lineage.records[-1].reasons[0].code == DeployCode.UNKNOWN_STAGE


def test_a_newer_waiting_version_supersedes_the_older_waiting_one(world: World) -> None:
    world.run(req(world, "1"))
    world.deliver(s.image_request(world.cell, s.image_metadata("canary", "2")))  # holds staging
    world.delivered = len(world.bus.sent)
    older = req(world, "3")
    newer = req(world, "4", approved_at=older.approved_at + timedelta(minutes=1))
    assert world.deliver(older) == DeployOutcome.WAITING
    assert world.deliver(newer) == DeployOutcome.WAITING
    assert staging_state(world).queued is not None
    # the older one's retry finds it superseded
    assert world.deliver(older.model_copy(update={"waits": 1})) == DeployOutcome.FAILED
    assert world.lineage.records[-1].reasons[0].code == DeployCode.SUPERSEDED


def test_an_older_approval_never_rolls_out_after_a_newer_one_that_started_first(
    world: World,
) -> None:
    """The newer approval claims the free stage without ever waiting; the older one that then
    waits (and takes the empty queue slot) is superseded, not rolled out after it."""
    world.run(req(world, "1"))
    older = s.image_request(world.cell, s.image_metadata("canary", "2"))
    newer = s.image_request(
        world.cell,
        s.image_metadata("canary", "3"),
        approved_at=older.approved_at + timedelta(minutes=1),
    )
    assert world.deliver(newer) == DeployOutcome.STEPPED  # holds staging, slot never used
    assert staging_state(world).queued_at == newer.approved_at
    assert world.deliver(older) == DeployOutcome.FAILED
    assert world.lineage.records[-1].reasons[0].code == DeployCode.SUPERSEDED
    world.drain()
    assert staging_state(world).live.metadata.version == "3"
    succeeded = [
        r.details.get("version")
        for r in world.lineage.records
        if r.kind is RecordKind.DEPLOYMENT_SUCCEEDED
    ]
    assert "2" not in succeeded


def test_a_newer_approval_starting_takes_the_slot_from_an_older_one_waiting_there(
    world: World,
) -> None:
    world.run(req(world, "1"))
    world.delivered = len(world.bus.sent)
    world.deliver(s.image_request(world.cell, s.image_metadata("canary", "2")))  # holds staging
    older = s.image_request(world.cell, s.image_metadata("canary", "3"))
    assert world.deliver(older) == DeployOutcome.WAITING
    assert staging_state(world).queued is not None
    # only canary 2's own steps arrive: it finishes while the older approval still waits
    while staging_state(world).rollout is not None:
        index = next(
            i for i in world._undelivered() if b'"version":"2"' in world.bus.sent[i][1].body
        )
        world.done.add(index)
        message = world.bus.sent[index][1]
        if message.scheduled_enqueue_time and message.scheduled_enqueue_time > world.clock.now:
            world.clock.now = message.scheduled_enqueue_time
        world.deliver(DeploymentRequest.model_validate_json(message.body))
    newer = s.image_request(
        world.cell,
        s.image_metadata("canary", "4"),
        approved_at=older.approved_at + timedelta(minutes=1),
    )
    assert world.deliver(newer) == DeployOutcome.STEPPED  # the stage was free: it starts
    assert staging_state(world).queued is None  # the older waiter lost the slot
    world.drain()  # the older one's retry comes back: superseded, never rolled out
    succeeded = [
        r.details.get("version")
        for r in world.lineage.records
        if r.kind is RecordKind.DEPLOYMENT_SUCCEEDED
    ]
    assert "3" not in succeeded and "4" in succeeded
    assert staging_state(world).live.metadata.version == "4"
    assert any(
        r.reasons and r.reasons[0].code == DeployCode.SUPERSEDED for r in world.lineage.records
    )


def test_a_rollout_whose_lease_ran_out_is_taken_back_for_the_next(world: World) -> None:
    world.run(req(world, "1"))
    world.deliver(s.image_request(world.cell, s.image_metadata("canary", "2")))
    world.clock.now += timedelta(days=1)  # its next step never came
    assert world.deliver(req(world, "3")) == DeployOutcome.SUCCEEDED
    codes = [
        r.reasons[0].code
        for r in world.lineage.records
        if r.kind is RecordKind.DEPLOYMENT_ROLLED_BACK
    ]
    assert codes == [DeployCode.LEASE_EXPIRED]
    assert staging_state(world).live.metadata.version == "3"


def test_a_region_without_stages_keeps_its_single_prod_stage(cell: RegionEntry) -> None:
    assert [x.name for x in cell.stage_list] == ["prod"] and cell.stage_list[0].production
    w = World(cell)
    r = s.image_request(cell, s.image_metadata("rolling", "1"))
    assert w.run(r) == [DeployOutcome.SUCCEEDED]
    assert w.state().live is not None and "stage" not in w.lineage.records[-1].details
    assert stages.stage_of(r, cell) is not None


def test_rollback_in_a_staged_region_acts_on_the_stage_of_the_row(world: World) -> None:
    from shared.services.deploy.rollback import request_rollback

    for version in ("1", "2"):
        world.run(req(world, version))
        world.clock.now += timedelta(hours=1)
        assert world.run(req(world, version, "prod")) == [DeployOutcome.SUCCEEDED]
    world.delivered = len(world.bus.sent)
    request_rollback(
        "fraud-detector", ["approver.one@contoso.example"], "easy_auth", "bad", world.rollback_deps
    )
    world.drain()
    assert world.state().live.metadata.version == "1"  # prod restored
    assert staging_state(world).live.metadata.version == "2"  # staging untouched
    request_rollback(
        "fraud-detector@staging", ["approver.one@contoso.example"], "easy_auth", None,
        world.rollback_deps,
    )  # fmt: skip
    world.drain()
    assert staging_state(world).live.metadata.version == "1"
