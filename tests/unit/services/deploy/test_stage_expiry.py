"""Expiry of deployments to a non-production stage, over the deployer's fakes: one notice,
then removal by the driver, ``deployment.expired`` + ``deployment.removed`` once, the state row
without a live revision, the stage's lineage ``live`` empty, and a promotion from it refused."""

from __future__ import annotations

import pytest

from shared.domain.catalog import RegionEntry
from shared.domain.deploy.codes import DeployCode
from shared.domain.deploy.expiry import ExpiryPolicy
from shared.domain.deploy.promotion import verify
from shared.domain.errors import TransientError
from shared.domain.lineage.index import DeploymentEvent, current_live, live_scope
from shared.domain.lineage.record import RecordKind
from shared.services.deploy.expiry import ExpiryDeps, Swept, sweep
from shared.services.deploy.rollouts import DeployOutcome
from tests.support import deploy_samples as s
from tests.support.deploy_world import World
from tests.unit.services.deploy.test_stages import WEDNESDAY_NOON, staged

STG_NS = "stg-model-fraud-detector"
KEY = "fraud-detector@staging"


@pytest.fixture
def world(cell: RegionEntry) -> World:
    policy = ExpiryPolicy(non_production_hours=24, notice_hours=2)
    w = World(staged(cell).model_copy(update={"expiry": policy}))
    w.clock.now = WEDNESDAY_NOON
    return w


def _deps(world: World) -> ExpiryDeps:
    return ExpiryDeps(
        cell=world.cell,
        state=world.store,
        lineage=world.lineage,
        bus=world.bus,
        mailer=world.mailer,
        clock=world.clock,
        removers=lambda kind: world.driver,  # type: ignore[arg-type,return-value]
    )


def _in_staging(world: World, version: str = "1") -> None:
    r = s.image_request(world.cell, s.image_metadata("rolling", version))
    assert world.run(r)[0] == DeployOutcome.SUCCEEDED
    assert world.store.state(world.cell.name, KEY).live is not None


def _live(world: World, stage: str | None) -> object:
    events = [
        DeploymentEvent(r.at, r.kind, r.artifact.key_hash, i)
        for i, r in enumerate(world.lineage.records)
        if live_scope(r) == ("fraud-detector", stage)
    ]
    return current_live(events)


def test_notice_once_then_removed_from_the_stage_once(world: World) -> None:
    _in_staging(world)
    assert world.cluster.names("Deployment") and _live(world, "staging") is not None
    succeeded = next(r for r in world.lineage.records if r.kind is RecordKind.DEPLOYMENT_SUCCEEDED)
    assert succeeded.details == succeeded.details | {"stage": "staging", "production": "false"}
    deps, mails = _deps(world), len(world.mailer.sent)

    world.clock.advance(21 * 3600)
    assert sweep(deps) == {}  # 3 h before: not yet
    world.clock.advance(2 * 3600)
    assert list(sweep(deps).values()) == [Swept.NOTIFIED]
    assert sweep(deps) == {} and sweep(_deps(world)) == {}  # once, across runs and hosts
    assert len(world.mailer.sent) == mails + 1
    assert "removed from staging" in world.mailer.sent[-1].text

    world.clock.advance(3600 + 60)
    assert list(sweep(deps).values()) == [Swept.REMOVED]
    assert [n for n in world.cluster.names("Deployment")] == []
    assert not [ref for ref in world.cluster.objects if ref.namespace == STG_NS]
    state = world.store.state(world.cell.name, KEY)
    assert state.live is None and state.expired is not None
    assert sweep(deps) == {} and sweep(_deps(world)) == {}  # nothing left to do
    kinds = [r.kind for r in world.lineage.records]
    assert kinds.count(RecordKind.DEPLOYMENT_EXPIRED) == 1
    assert kinds.count(RecordKind.DEPLOYMENT_REMOVED) == 1
    assert kinds.count(RecordKind.DEPLOYMENT_EXPIRY_NOTICE) == 1
    assert _live(world, "staging") is None  # the stage's live row goes
    assert len(world.mailer.sent) == mails + 2
    assert world.state().live is None  # prod's row never touched


def test_a_removal_interrupted_by_the_cluster_is_finished_by_the_next_run(world: World) -> None:
    _in_staging(world)
    world.clock.advance(25 * 3600)
    world.cluster.unreachable = True
    with pytest.raises(TransientError):
        sweep(_deps(world))
    assert world.store.state(world.cell.name, KEY).live is not None  # still claimed as live
    world.cluster.unreachable = False
    assert list(sweep(_deps(world)).values()) == [Swept.REMOVED]
    kinds = [r.kind for r in world.lineage.records]
    assert kinds.count(RecordKind.DEPLOYMENT_EXPIRED) == 1
    assert kinds.count(RecordKind.DEPLOYMENT_REMOVED) == 1


def test_a_promotion_from_an_expired_stage_is_refused_with_its_own_code(world: World) -> None:
    _in_staging(world)
    world.clock.advance(25 * 3600)  # Thursday noon: prod's window is open
    sweep(_deps(world))
    state = world.store.state(world.cell.name, KEY)
    digest = s.image_request(world.cell, s.image_metadata("rolling", "1")).artifact.digest
    found = verify(world.cell.stage("staging"), state, str(digest), world.clock())
    assert getattr(found, "expired", False) is True
    promote = s.image_request(world.cell, s.image_metadata("rolling", "1"), stage="prod")
    world.delivered = len(world.bus.sent)
    assert world.deliver(promote) == DeployOutcome.FAILED
    failed = world.lineage.records[-1]
    assert failed.kind is RecordKind.DEPLOYMENT_FAILED
    assert [r.code for r in failed.reasons] == [DeployCode.PROMOTION_EXPIRED]
    assert world.state().live is None


def test_production_and_rolling_out_stages_never_expire(world: World) -> None:
    _in_staging(world)
    world.clock.advance(24 * 365 * 3600)
    prod = world.store.state(world.cell.name, "fraud-detector")
    assert prod.live is None
    # nothing runs in prod; staging's row is the only one the timer may touch
    assert list(sweep(_deps(world)).values()) == [Swept.REMOVED]


def test_without_a_driver_the_deployment_is_noticed_but_never_removed(world: World) -> None:
    _in_staging(world)
    world.clock.advance(25 * 3600)
    deps = _deps(world)
    deps.removers = None
    assert sweep(deps) == {}
    assert world.store.state(world.cell.name, KEY).live is not None
    assert RecordKind.DEPLOYMENT_REMOVED not in [r.kind for r in world.lineage.records]


def test_chargeback_stage_label_is_the_real_stage(world: World) -> None:
    _in_staging(world)
    objects = [m for ref, m in world.cluster.objects.items() if ref.namespace == STG_NS]
    assert objects
    for manifest in objects:
        assert manifest["metadata"]["labels"]["clearance.ai/stage"] == "staging"
    (deployment,) = [m for m in objects if m["kind"] == "Deployment"]
    pod = deployment["spec"]["template"]["metadata"]["labels"]
    assert pod["clearance.ai/stage"] == "staging"
