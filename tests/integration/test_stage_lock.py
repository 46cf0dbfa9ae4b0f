"""One rollout at a time per model and stage, under concurrent approvals, on real Azurite.

Six approved versions of one model arrive for the same stage at the same moment, from six
threads (as six function instances would). The deployment state row in Azurite (ETag) is the
lock: exactly one rollout runs, a newer approval takes the one queue slot from an older one,
and no two rollouts' steps ever interleave on the target.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.adapters.storage.deployment_state import TableDeploymentStateStore
from shared.composition import Container
from shared.domain.deploy.codes import DeployCode
from shared.domain.deploy.plan import DeploymentPlan
from shared.domain.deploy.request import DeploymentRequest
from shared.domain.errors import TransientError
from shared.domain.lineage.record import RecordKind
from shared.ports.deploy import Deployer, Health, StepReport
from shared.services.deploy.rollouts import DeployOutcome
from tests.support import deploy_samples as s
from tests.support.deploy_world import World
from tests.unit.services.deploy.test_stages import staged

pytestmark = pytest.mark.stack


class Watched:
    """The real Kubernetes driver over the fake cluster, slowed down and watched: which
    deployment runs a step, and whether two ever run at once."""

    def __init__(self, inner: Deployer) -> None:
        self.inner, self.lock = inner, threading.Lock()
        self.active: set[str] = set()
        self.overlaps = 0
        self.order: list[str] = []

    def _enter(self, plan: DeploymentPlan) -> None:
        with self.lock:
            if self.active:
                self.overlaps += 1
            self.active.add(plan.deployment_id)
            self.order.append(plan.deployment_id)

    def _leave(self, plan: DeploymentPlan) -> None:
        with self.lock:
            self.active.discard(plan.deployment_id)

    def run_step(self, plan: DeploymentPlan, index: int) -> StepReport:
        self._enter(plan)
        try:
            time.sleep(0.05)
            return self.inner.run_step(plan, index)
        finally:
            self._leave(plan)

    def check_health(self, plan: DeploymentPlan, index: int) -> Health:
        return self.inner.check_health(plan, index)

    def restore(self, plan: DeploymentPlan) -> StepReport:
        return self.inner.restore(plan)


def deliver_with_retries(world: World, request: DeploymentRequest) -> DeployOutcome:
    """As the platform would: a transient error (an ETag conflict) is delivered again."""
    for attempt in range(1, 30):
        try:
            return world.deliver(request, delivery=1)
        except TransientError:
            time.sleep(0.01 * attempt)
    raise AssertionError("never delivered")


def test_concurrent_approvals_never_interleave(cell_container: Callable[[str], Container]) -> None:
    store = TableDeploymentStateStore(cell_container("westeurope").table_service)
    world = World(staged(s.cell(deployer="kubernetes")), store=store)  # type: ignore[arg-type]
    watched = Watched(world.driver)
    world.driver = watched
    world.clock.now = datetime(2026, 12, 2, 11, 0, tzinfo=UTC)
    model = f"lock-{datetime.now(UTC):%H%M%S%f}"
    base = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
    requests = [
        s.image_request(
            world.cell,
            s.image_metadata("canary", str(v)).model_copy(update={"name": model}),
            approved_at=base + timedelta(minutes=v),
        )
        for v in range(1, 7)
    ]
    first = s.image_metadata("rolling", "0").model_copy(update={"name": model})
    assert world.run(s.image_request(world.cell, first, approved_at=base)) == [
        DeployOutcome.SUCCEEDED
    ]  # so each canary after it has steps
    watched.order.clear()
    outcomes: dict[str, Any] = {}
    gate = threading.Barrier(len(requests))

    def one(r: DeploymentRequest) -> None:
        gate.wait()
        outcomes[r.metadata.version] = deliver_with_retries(world, r)

    threads = [threading.Thread(target=one, args=(r,)) for r in requests]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    started = [v for v, o in outcomes.items() if o is DeployOutcome.STEPPED]
    assert len(outcomes) == 6
    assert len(started) == 1, outcomes  # exactly one claimed the stage
    # the rest wait, or found a newer approval already in the queue slot
    assert set(outcomes.values()) <= {
        DeployOutcome.STEPPED,
        DeployOutcome.WAITING,
        DeployOutcome.FAILED,
    }
    row = f"{model}@staging"
    state, _ = store.get(world.cell.name, row)
    assert state.rollout is not None and state.rollout.plan.metadata.version == started[0]

    # everything queued comes back (scheduled retries, the canary's steps), serially
    world.delivered = 0
    world.drain()
    state, _ = store.get(world.cell.name, row)
    assert state.rollout is None and state.live is not None
    assert watched.overlaps == 0
    # each rollout's steps are contiguous: none interleaved with another
    runs = [d for i, d in enumerate(watched.order) if i == 0 or watched.order[i - 1] != d]
    assert len(runs) == len(set(runs)), watched.order
    superseded = [
        r
        for r in world.lineage.records
        if r.kind is RecordKind.DEPLOYMENT_FAILED
        and r.reasons
        and r.reasons[0].code == DeployCode.SUPERSEDED
    ]
    succeeded = {
        r.details["version"]
        for r in world.lineage.records
        if r.kind is RecordKind.DEPLOYMENT_SUCCEEDED
    } - {"0"}
    # the first rollout finished; of those waiting only the newest approval rolled out after it
    assert succeeded == {started[0], "6"} or (started[0] == "6" and succeeded == {"6"})
    assert state.live.metadata.version == "6"
    assert len(superseded) == 6 - len(succeeded)
