"""The expiry timer over the deployer's fakes: one notice, then retirement, all in lineage."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.domain.catalog import RegionEntry
from shared.domain.deploy.expiry import ExpiryPolicy
from shared.domain.lineage.record import RecordKind
from shared.services.deploy.expiry import ExpiryDeps, Swept, sweep
from shared.services.deploy.rollouts import DeployOutcome
from tests.support import deploy_samples as s
from tests.support.deploy_world import World

NS = "model-fraud-detector"
# A canary that bakes 60 min at each of two steps; the region retires canaries after 3 h.
CANARY = {"strategy": "canary", "steps": [10, 50, 100], "bake_minutes": 60}


def _world(cell: RegionEntry, **policy: object) -> World:
    expiry = ExpiryPolicy(canary_hours=3, notice_hours=1, **policy)  # type: ignore[arg-type]
    return World(cell.model_copy(update={"expiry": expiry}))


def _deps(world: World) -> ExpiryDeps:
    return ExpiryDeps(
        cell=world.cell,
        state=world.store,
        lineage=world.lineage,
        bus=world.bus,
        mailer=world.mailer,
        clock=world.clock,
    )


def _stuck_canary(world: World) -> None:
    """v1 is live; v2's canary ran its first step and its next step message was lost."""
    world.run(s.image_request(world.cell, s.image_metadata("rolling", "1")))
    world.deliver(s.image_request(world.cell, s.image_metadata("canary", "2", rollout=CANARY)))
    world.delivered = len(world.bus.sent)  # the step-1 message is lost
    assert world.state().rollout is not None


@pytest.fixture
def world(cell: RegionEntry) -> World:
    return _world(cell)


def test_notice_once_then_retirement_restores_the_stable_version(world: World) -> None:
    _stuck_canary(world)
    v1 = world.state().live
    deps = _deps(world)

    assert sweep(deps) == {}  # 0 h: nothing due
    world.clock.advance(2 * 3600 + 60)  # within the last hour
    (dep_id,) = sweep(deps)
    assert sweep(deps) == {}  # a second run (or host) gives no second notice
    assert sweep(_deps(world)) == {}
    notices = [r for r in world.lineage.records if r.kind is RecordKind.DEPLOYMENT_EXPIRY_NOTICE]
    assert len(notices) == 1 and notices[0].correlation.deployment_id == dep_id
    assert notices[0].actor.identity == "clearance-expiry@westeurope"
    (mail,) = [m for m in world.mailer.sent if "expires" in m.subject]
    assert mail.to == ("owner@contoso.example",)

    world.clock.advance(3600)
    assert sweep(deps) == {dep_id: Swept.RETIRED}
    assert sweep(deps) == {}  # the rollback is queued once (same message id), recorded once
    assert world.drain() == [DeployOutcome.ROLLED_BACK]
    state = world.state()
    assert state.rollout is None and state.live == v1
    assert world.cluster.image(NS, "fraud-detector") == v1.image  # type: ignore[union-attr]
    assert world.cluster.names("Deployment") == ["fraud-detector"]  # no canary left running
    expired = [r for r in world.lineage.records if r.kind is RecordKind.DEPLOYMENT_EXPIRED]
    assert len(expired) == 1 and expired[0].reasons[0].code == "CLR-DEPLOY-EXPIRED"
    rolled_back = world.lineage.records[-1]
    assert rolled_back.kind is RecordKind.DEPLOYMENT_ROLLED_BACK
    assert rolled_back.details["requested_by"] == "clearance-expiry@westeurope"
    assert sweep(deps) == {}  # nothing left to expire


def test_a_healthy_canary_finishes_before_its_expiry_and_is_never_noticed(world: World) -> None:
    world.run(s.image_request(world.cell, s.image_metadata("rolling", "1")))
    outcomes = world.run(
        s.image_request(world.cell, s.image_metadata("canary", "2", rollout=CANARY))
    )

    assert outcomes[-1] is DeployOutcome.SUCCEEDED
    world.clock.advance(10 * 3600)
    assert sweep(_deps(world)) == {}
    assert RecordKind.DEPLOYMENT_EXPIRY_NOTICE not in world.kinds()


def test_the_owners_label_extends_the_expiry_within_the_limit(cell: RegionEntry) -> None:
    world = _world(cell)
    world.run(s.image_request(world.cell, s.image_metadata("rolling", "1")))
    md = s.image_metadata("canary", "2", rollout=CANARY, expiry_hours=10)
    world.deliver(s.image_request(world.cell, md))
    world.delivered = len(world.bus.sent)

    world.clock.advance(4 * 3600)  # past the region's 3 h default
    assert sweep(_deps(world)) == {}
    world.clock.advance(6 * 3600)
    assert list(sweep(_deps(world)).values()) == [Swept.RETIRED]


def test_promote_policy_runs_the_remaining_steps_now(cell: RegionEntry) -> None:
    world = _world(cell, on_expiry="promote")
    _stuck_canary(world)
    world.clock.advance(3 * 3600 + 60)

    assert list(sweep(_deps(world)).values()) == [Swept.RETIRED]
    world.drain()
    state = world.state()
    assert state.rollout is None
    assert state.live is not None and state.live.metadata.version == "2"


def test_a_bus_outage_leaves_the_phase_to_the_next_run(world: World) -> None:
    _stuck_canary(world)
    world.clock.advance(3 * 3600 + 60)
    world.bus.down = True

    with pytest.raises(Exception, match="bus down"):
        sweep(_deps(world))
    assert RecordKind.DEPLOYMENT_EXPIRED not in world.kinds()
    world.bus.down = False
    assert list(sweep(_deps(world)).values()) == [Swept.RETIRED]


def test_rolling_deployments_never_expire(world: World) -> None:
    world.run(s.image_request(world.cell, s.image_metadata("rolling", "1")))
    world.clock.advance(timedelta(days=400).total_seconds())

    assert sweep(_deps(world)) == {}
