"""The deployment service, step by step, against fakes of every port it uses."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.domain.catalog import RegionEntry
from shared.domain.deploy.codes import DeployCode
from shared.domain.errors import TransientError
from shared.domain.lineage.record import RecordKind
from shared.services.deploy.rollback import RollbackRefused, request_rollback
from shared.services.deploy.rollouts import DeployOutcome
from tests.support import deploy_samples as s
from tests.support.deploy_fakes import DEADLINE, DEGRADES
from tests.support.deploy_world import World

NS = "model-fraud-detector"
APPROVER = ["approver.one@contoso.example"]


@pytest.fixture
def world(cell: RegionEntry) -> World:
    return World(cell)


def v(world: World, version: str, strategy: str = "rolling"):  # type: ignore[no-untyped-def]
    return s.image_request(world.cell, s.image_metadata(strategy, version))


def test_a_rolling_deployment_goes_live_and_is_recorded(world: World) -> None:
    request = v(world, "1")
    assert world.run(request) == [DeployOutcome.SUCCEEDED]
    state = world.state()
    assert state.live is not None and state.live.identity == request.artifact.digest
    assert state.live.since == world.clock.now and state.rollout is None
    assert (
        world.cluster.image(
            NS,
            "fraud-detector",
        )
        is not None
    )
    assert world.kinds() == [RecordKind.DEPLOYMENT_STARTED, RecordKind.DEPLOYMENT_SUCCEEDED]
    done = world.lineage.records[-1]
    assert done.correlation.approval_id == request.approval_id
    assert done.where["namespace"] == NS and done.where["cluster"] == "aks-westeurope"


def test_a_redelivered_request_does_not_roll_out_twice(world: World) -> None:
    request = v(world, "1")
    world.run(request)
    applied = len(world.cluster.applied)
    assert world.deliver(request, delivery=2) == DeployOutcome.ALREADY_LIVE
    assert len(world.cluster.applied) == applied
    assert world.kinds().count(RecordKind.DEPLOYMENT_SUCCEEDED) == 1


def test_the_same_digest_approved_again_is_not_rolled_out_again(world: World) -> None:
    request = v(world, "1")
    world.run(request)
    again = request.model_copy(update={"approval_id": "apr-another"})
    assert world.deliver(again) == DeployOutcome.ALREADY_LIVE


def test_canary_steps_are_scheduled_after_each_bake_time(world: World) -> None:
    world.run(v(world, "1"))
    start = world.clock.now
    request = v(world, "2", "canary")
    assert world.deliver(request) == DeployOutcome.STEPPED
    (step1,) = world.pending()
    assert step1.step == 1
    message = world.bus.sent[-1][1]
    assert message.scheduled_enqueue_time == start + timedelta(minutes=15)
    assert world.cluster.image(NS, "fraud-detector-canary") is not None
    assert world.drain() == [DeployOutcome.STEPPED, DeployOutcome.SUCCEEDED]
    assert world.clock.now == start + timedelta(minutes=30)
    state = world.state()
    assert state.live is not None and state.live.metadata.version == "2"
    assert state.previous is not None and state.previous.metadata.version == "1"
    started = [
        r.details["step"]
        for r in world.lineage.records
        if r.kind is RecordKind.DEPLOYMENT_STARTED and r.details.get("version") == "2"
    ]
    assert started == ["canary-10", "canary-50", "promote"]  # fmt: skip


def test_a_redelivered_step_does_not_run_twice(world: World) -> None:
    world.run(v(world, "1"))
    request = v(world, "2", "canary")
    world.deliver(request)
    sent = len(world.bus.sent)
    applied = len(world.cluster.applied)
    assert world.deliver(request, delivery=2) == DeployOutcome.SKIPPED
    assert len(world.cluster.applied) == applied
    assert len(world.bus.sent) == sent  # the continuation is re-sent with its own id: deduped


@pytest.mark.fault  # a driver failing mid-rollout
def test_a_failed_health_gate_rolls_back_and_says_why(world: World) -> None:
    world.run(v(world, "1"))
    v1_image = world.cluster.image(NS, "fraud-detector")
    request = v(world, "2", "canary")
    world.cluster.behaviour[str(request.artifact.digest)] = DEGRADES
    assert world.run(request) == [DeployOutcome.STEPPED, DeployOutcome.ROLLED_BACK]
    assert world.cluster.image(NS, "fraud-detector") == v1_image
    assert world.cluster.names("Deployment") == ["fraud-detector"]
    rolled = world.lineage.records[-1]
    assert rolled.kind is RecordKind.DEPLOYMENT_ROLLED_BACK
    assert rolled.reasons[0].code == DeployCode.HEALTH_GATE
    assert "crash-looping" in rolled.reasons[0].message
    assert rolled.details["step"] == "canary-50"
    state = world.state()
    assert state.live is not None and state.live.metadata.version == "1"
    assert state.rollout is None
    (mail,) = world.mailer.sent
    assert mail.to == ("owner@contoso.example",) and "rolled back" in mail.subject


@pytest.mark.fault  # a driver failing mid-rollout
def test_a_rollout_past_its_deadline_restores_the_previous_digest(world: World) -> None:
    world.run(v(world, "1"))
    v1 = world.state().live
    request = v(world, "2")
    world.cluster.behaviour[str(request.artifact.digest)] = DEADLINE
    assert world.run(request) == [DeployOutcome.ROLLED_BACK]
    assert world.cluster.image(NS, "fraud-detector") == v1.image  # type: ignore[union-attr]
    assert world.lineage.records[-1].reasons[0].code == DeployCode.PROGRESS_DEADLINE


@pytest.mark.fault  # a driver failing mid-rollout
def test_an_unreachable_cluster_is_retried_then_recorded_and_the_owner_told(
    world: World,
) -> None:
    request = v(world, "1")
    world.cluster.unreachable = True
    for delivery in (1, 2):
        with pytest.raises(TransientError):
            world.deliver(request, delivery)
    assert RecordKind.DEPLOYMENT_FAILED not in world.kinds()
    assert world.state().rollout is not None  # retries resume the same rollout
    with pytest.raises(TransientError):
        world.deliver(request, 3)
    failed = world.lineage.records[-1]
    assert failed.kind is RecordKind.DEPLOYMENT_FAILED
    assert failed.reasons[0].code == DeployCode.DEAD_LETTERED
    assert "API server unreachable" in failed.reasons[0].message
    assert world.state().rollout is None  # the model is not blocked for later versions
    (mail,) = world.mailer.sent
    assert mail.to == ("owner@contoso.example", "platform@contoso.example")
    attempts = [r.details["attempt"] for r in world.lineage.records
                if r.kind is RecordKind.DEPLOYMENT_STARTED]  # fmt: skip
    assert attempts == ["1", "2", "3"]


def test_a_second_version_waits_for_the_running_rollout(world: World) -> None:
    world.run(v(world, "1"))
    world.deliver(v(world, "2", "canary"))
    world.delivered = len(world.bus.sent)
    assert world.deliver(v(world, "3")) == DeployOutcome.WAITING
    (retry,) = world.pending()
    assert retry.waits == 1 and retry.metadata.version == "3"
    assert world.bus.sent[-1][1].scheduled_enqueue_time == world.clock.now + timedelta(minutes=5)


def test_another_regions_request_is_recorded_and_not_deployed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    catalog = s.catalog(tmp_path, deployer="kubernetes")
    world = World(catalog.region("swedencentral"))
    request = v(World(catalog.region("westeurope")), "1")
    assert world.deliver(request) == DeployOutcome.FAILED
    assert world.cluster.applied == []
    assert world.lineage.records[-1].reasons[0].code == DeployCode.WRONG_REGION


def test_rollback_restores_exactly_the_previous_digest(world: World) -> None:
    world.run(v(world, "1"))
    v1 = world.state().live
    assert v1 is not None
    world.run(v(world, "2"))
    v2 = world.state().live
    assert v2 is not None and v2.identity != v1.identity
    ticket = request_rollback(
        "fraud-detector", APPROVER, "easy_auth", "errors up", world.rollback_deps
    )
    assert (ticket.rolls_back, ticket.restores) == (v2.summary(), v1.summary())
    assert world.drain() == [DeployOutcome.SUCCEEDED]
    assert world.cluster.image(NS, "fraud-detector") == v1.image
    live = world.state().live
    assert live is not None
    assert (live.identity, live.approval_id) == (v1.identity, v1.approval_id)
    assert live.restored_from == v1.deployment_id
    rolled = next(r for r in world.lineage.records if r.kind is RecordKind.DEPLOYMENT_ROLLED_BACK)
    assert rolled.artifact == v2.artifact
    assert rolled.details["requested_by"] == "approver.one@contoso.example"
    requested = next(r for r in world.lineage.records if r.actor.established_by == "easy_auth")
    assert requested.details["action"] == "rollback requested"
    with pytest.raises(RollbackRefused) as again:
        request_rollback("fraud-detector", APPROVER, "easy_auth", None, world.rollback_deps)
    assert again.value.status == 409


def test_rollback_within_the_blue_green_keep_window_switches_back(world: World) -> None:
    world.run(v(world, "1", "blue-green"))
    v1 = world.state().live
    assert v1 is not None and v1.workload == "fraud-detector-blue"
    world.delivered = len(world.bus.sent)
    world.deliver(v(world, "2", "blue-green"))  # deploy-green
    assert world.drain(limit=1) == [DeployOutcome.STEPPED]  # switch; retire is scheduled
    blue = world.cluster.get("Deployment", NS, "fraud-detector-blue")
    assert world.cluster.selector(NS, "fraud-detector") == {
        "clearance.ai/workload": "fraud-detector-green"
    }
    request_rollback("fraud-detector", APPROVER, "easy_auth", "latency", world.rollback_deps)
    assert world.drain() == [DeployOutcome.ROLLED_BACK, DeployOutcome.SKIPPED]  # retire: stale
    assert world.cluster.selector(NS, "fraud-detector") == {
        "clearance.ai/workload": "fraud-detector-blue"
    }
    assert world.cluster.get("Deployment", NS, "fraud-detector-blue") == blue  # untouched
    assert world.cluster.names("Deployment") == ["fraud-detector-blue"]
    live = world.state().live
    assert live is not None and live.identity == v1.identity


def test_rollback_during_a_canary_aborts_it(world: World) -> None:
    world.run(v(world, "1"))
    v1 = world.state().live
    request = v(world, "2", "canary")
    world.deliver(request)
    world.delivered = len(world.bus.sent) - 1  # the step-1 message stays queued
    ticket = request_rollback("fraud-detector", APPROVER, "easy_auth", "stop", world.rollback_deps)
    assert ticket.aborts_rollout
    step1, rollback = world.pending()
    # the rollback overtakes the scheduled step
    world.delivered = len(world.bus.sent)
    assert world.deliver(rollback) == DeployOutcome.ROLLED_BACK
    assert world.deliver(step1) == DeployOutcome.SKIPPED
    assert world.cluster.names("Deployment") == ["fraud-detector"]
    assert world.cluster.image(NS, "fraud-detector") == v1.image  # type: ignore[union-attr]
    assert world.state().rollout is None


def test_only_approvers_of_the_models_risk_tier_may_roll_back(world: World) -> None:
    world.run(v(world, "1"))
    world.run(v(world, "2"))
    with pytest.raises(RollbackRefused) as exc:
        request_rollback("fraud-detector", ["owner@contoso.example"], "easy_auth", None,
                         world.rollback_deps)  # fmt: skip
    assert exc.value.status == 404  # the same answer as an unknown model: nothing leaks
    with pytest.raises(RollbackRefused) as missing:
        request_rollback("other-model", APPROVER, "easy_auth", None, world.rollback_deps)
    assert missing.value.status == 404


class Scripted:
    """The world's driver, except that ``run_step`` first raises the scripted errors."""

    def __init__(self, inner: object, *errors: Exception) -> None:
        self.inner, self.errors = inner, list(errors)

    def run_step(self, plan, index):  # type: ignore[no-untyped-def]
        if self.errors:
            raise self.errors.pop(0)
        return self.inner.run_step(plan, index)  # type: ignore[attr-defined]

    def check_health(self, plan, index):  # type: ignore[no-untyped-def]
        return self.inner.check_health(plan, index)  # type: ignore[attr-defined]

    def restore(self, plan):  # type: ignore[no-untyped-def]
        return self.inner.restore(plan)  # type: ignore[attr-defined]


def test_a_step_still_provisioning_runs_again_later_instead_of_moving_on(world: World) -> None:
    from shared.ports.deploy import StepPending

    world.driver = Scripted(world.driver, StepPending("still provisioning"))
    start = world.clock.now
    request = v(world, "1")
    assert world.deliver(request) == DeployOutcome.PENDING
    (again,) = world.pending()
    assert again.step == 0 and again.waits == 1
    assert world.bus.sent[-1][1].scheduled_enqueue_time == start + timedelta(minutes=1)
    state = world.state()
    assert state.rollout is not None and state.live is None  # nothing serves yet
    assert world.drain() == [DeployOutcome.SUCCEEDED]
    assert world.state().live is not None


def test_a_step_pending_for_too_long_rolls_back(world: World) -> None:
    from shared.ports.deploy import StepPending

    world.deps.max_pending = 2
    world.driver = Scripted(world.driver, *[StepPending("still provisioning")] * 5)
    outcomes = world.run(v(world, "1"))
    assert outcomes == [DeployOutcome.PENDING, DeployOutcome.PENDING, DeployOutcome.ROLLED_BACK]
    assert world.state().rollout is None
    rolled = world.lineage.records[-1]
    assert rolled.kind == RecordKind.DEPLOYMENT_ROLLED_BACK
    assert rolled.reasons[0].code == DeployCode.TIMEOUT


def test_an_untranslated_sdk_error_on_the_last_delivery_still_gives_up(world: World) -> None:
    """``kubernetes.dynamic`` raises plain ``Exception`` subclasses; an adapter that misses one
    must not leave the model claimed ("rolling out") behind a dead-lettered message."""

    class ResourceNotFoundError(Exception):  # the shape of kubernetes.dynamic's
        pass

    world.driver = Scripted(world.driver, *[ResourceNotFoundError("no kind Foo")] * 3)
    request = v(world, "1")
    for delivery in (1, 2):
        with pytest.raises(ResourceNotFoundError):
            world.deliver(request, delivery=delivery)
        assert world.state().rollout is not None  # retried: still claimed
    with pytest.raises(ResourceNotFoundError):
        world.deliver(request, delivery=3)
    assert world.state().rollout is None
    failed = world.lineage.records[-1]
    assert failed.kind == RecordKind.DEPLOYMENT_FAILED
    assert failed.reasons[0].code == DeployCode.DEAD_LETTERED
    assert any("gave up" in m.subject.lower() for m in world.mailer.sent)
