"""A cell's deployment machinery over fakes: a cluster, a state store, a bus and lineage."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from shared.domain.catalog import RegionEntry
from shared.domain.deploy.request import DeploymentRequest
from shared.domain.lineage.record import RecordKind
from shared.ports.deploy import Deployer
from shared.queues import DEPLOYMENT_REQUESTS
from shared.services.deploy.drivers.kubernetes import KubernetesDeployer
from shared.services.deploy.rollback import RollbackDeps
from shared.services.deploy.rollouts import DeployDeps, DeployOutcome, handle_deployment_request
from tests.support.deploy_fakes import FakeClock, FakeCluster, FakeStateStore
from tests.support.fakes import FakeBus, FakeLineage, FakeMailer


class Ticks:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        self.t += 1.0
        return self.t


@dataclass
class World:
    cell: RegionEntry
    cluster: FakeCluster = field(default_factory=FakeCluster)
    store: FakeStateStore = field(default_factory=FakeStateStore)
    bus: FakeBus = field(default_factory=FakeBus)
    lineage: FakeLineage = field(default_factory=FakeLineage)
    mailer: FakeMailer = field(default_factory=FakeMailer)
    clock: FakeClock = field(default_factory=FakeClock)
    delivered: int = 0
    done: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.driver: Deployer = KubernetesDeployer(
            lambda plan: self.cluster, rollout_timeout=5, monotonic=Ticks()
        )
        self.deps = DeployDeps(
            cell=self.cell,
            state=self.store,
            drivers=lambda kind: self.driver,
            lineage=self.lineage,
            bus=self.bus,
            mailer=self.mailer,
            platform_email="platform@contoso.example",
            clock=self.clock,
            max_deliveries=3,
        )
        self.rollback_deps = RollbackDeps(
            cell=self.cell, state=self.store, bus=self.bus, lineage=self.lineage, clock=self.clock
        )

    def deliver(self, request: DeploymentRequest, delivery: int = 1) -> DeployOutcome:
        return handle_deployment_request(request, self.deps, delivery_count=delivery)

    def _undelivered(self) -> list[int]:
        return [
            i
            for i in range(self.delivered, len(self.bus.sent))
            if i not in self.done and self.bus.sent[i][0] == DEPLOYMENT_REQUESTS
        ]

    def _due(self, index: int) -> datetime | None:
        return self.bus.sent[index][1].scheduled_enqueue_time

    def pending(self) -> list[DeploymentRequest]:
        return [
            DeploymentRequest.model_validate_json(self.bus.sent[i][1].body)
            for i in self._undelivered()
        ]

    def drain(self, limit: int | None = None) -> list[DeployOutcome]:
        """Deliver queued messages, earliest due first (as the queue would), moving the clock
        to each one's scheduled time."""
        outcomes: list[DeployOutcome] = []
        while (waiting := self._undelivered()) and (limit is None or len(outcomes) < limit):
            now = self.clock.now
            index = min(
                waiting, key=lambda i: (self.bus.sent[i][1].scheduled_enqueue_time or now, i)
            )
            self.done.add(index)
            message = self.bus.sent[index][1]
            due = message.scheduled_enqueue_time
            if due is not None and due > self.clock.now:
                self.clock.now = due
            outcomes.append(self.deliver(DeploymentRequest.model_validate_json(message.body)))
        return outcomes

    def run(self, request: DeploymentRequest) -> list[DeployOutcome]:
        self.delivered = len(self.bus.sent)
        return [self.deliver(request), *self.drain()]

    def kinds(self) -> list[RecordKind]:
        return [r.kind for r in self.lineage.records]

    def state(self, model: str = "fraud-detector"):  # type: ignore[no-untyped-def]
        return self.store.state(self.cell.name, model)
