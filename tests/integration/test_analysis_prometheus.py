"""Metric analysis against the real Prometheus of the local stack, scraping the model stand-in.

Real time, scaled down (a minute lasts a second): a canary of 10/50/100 % baking 5 "minutes" per
step is measured every second over a 5 s window; the GitOps driver commits to a real repository.
"""

from __future__ import annotations

import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared.adapters.gitops.repository import GitRepository
from shared.adapters.metrics.prometheus import PrometheusProvider
from shared.domain.analysis.checks import AnalysisPolicy, AnalysisSettings
from shared.domain.deploy.codes import DeployCode
from shared.domain.deploy.request import DeploymentRequest
from shared.domain.lineage.record import RecordKind
from shared.local.model_standin import write_control
from shared.local.stack import LOCAL_TIME_SCALE, LocalStack
from shared.services.deploy.analysis import AnalysisDeps
from shared.services.deploy.decisions import continue_rollout
from shared.services.deploy.drivers.gitops import GitOpsDeployer
from shared.services.deploy.rollback import request_rollback
from shared.services.deploy.rollouts import DeployOutcome
from tests.conftest import wait_for
from tests.support import deploy_samples as s
from tests.support.deploy_world import World

pytestmark = pytest.mark.stack
APPROVER = ["approver.one@contoso.example"]
CANARY = {"strategy": "canary", "steps": [10, 50, 100], "bake_minutes": 5}


class RealClock:
    """``now`` is the wall clock; setting it (the world's drain) waits until then."""

    @property
    def now(self) -> datetime:
        return datetime.now(UTC)

    @now.setter
    def now(self, when: datetime) -> None:
        time.sleep(max((when - datetime.now(UTC)).total_seconds(), 0.0))

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def world(stack: LocalStack, tmp_path: Path) -> World:
    entry = s.cell(tmp_path, deployer="gitops")
    assert entry.gitops is not None
    remote = Path(entry.gitops.repository_url)
    remote.parent.mkdir(parents=True)
    subprocess.run(["git", "init", "--bare", "-q", "-b", "main", str(remote)], check=True)
    settings = AnalysisSettings(
        provider="prometheus",
        endpoint=stack.prometheus_url,
        default=AnalysisPolicy(decision_minutes=2),  # two seconds to decide
    )
    w = World(entry.model_copy(update={"analysis": settings}), clock=RealClock())  # type: ignore[arg-type]
    repo = GitRepository(entry.gitops.repository_url, "main", tmp_path / "clone")
    w.driver = GitOpsDeployer(lambda plan: repo)
    w.deps.analysis = AnalysisDeps(
        provider_for=lambda plan: PrometheusProvider(stack.prometheus_url), retry_pause=0.2
    )
    w.deps.time_scale = LOCAL_TIME_SCALE
    return w


def release(world: World, version: str) -> DeploymentRequest:
    return s.image_request(world.cell, s.image_metadata("canary", version, rollout=CANARY))


def scraped(stack: LocalStack, *versions: str) -> None:
    """Until Prometheus has a full window of every version's requests."""
    provider = PrometheusProvider(stack.prometheus_url)

    def ready() -> bool:
        for v in versions:
            q = f'sum(increase(model_requests_total{{model="fraud-detector",revision="{v}"}}[5s]))'
            value = provider.run_query(q)
            if value is None or value < 60:
                return False
        return True

    wait_for(ready, timeout=30, interval=0.5)


def live(world: World, stack: LocalStack, old: str, new: str, health: str) -> DeploymentRequest:
    write_control(stack.standin_control, {old: "healthy", new: health})
    assert world.run(release(world, old))[-1] is DeployOutcome.SUCCEEDED
    scraped(stack, old)
    return release(world, new)


def rolled_back_reason(world: World) -> str:
    rolled = [r for r in world.lineage.records if r.kind is RecordKind.DEPLOYMENT_ROLLED_BACK]
    return rolled[-1].reasons[0].code


def until_paused(world: World, request: DeploymentRequest) -> None:
    world.delivered = len(world.bus.sent)
    outcomes = [world.deliver(request)]
    while outcomes[-1] is not DeployOutcome.PAUSED:
        got = world.drain(limit=1)
        assert got and got[-1] is not DeployOutcome.ROLLED_BACK, outcomes
        outcomes += got


def test_a_healthy_canary_passes_on_real_prometheus(world: World, stack: LocalStack) -> None:
    request = live(world, stack, "p1", "p2", "healthy")
    scraped(stack, "p2")
    outcomes = world.run(request)
    assert outcomes[-1] is DeployOutcome.SUCCEEDED, outcomes
    runs = [r for r in world.lineage.records if r.kind is RecordKind.DEPLOYMENT_ANALYSED]
    assert runs[-1].details["verdict"] == "pass"
    assert float(runs[-1].details["check.success-rate.candidate"]) > 99


def test_a_bad_canary_is_restored_automatically(world: World, stack: LocalStack) -> None:
    request = live(world, stack, "f1", "f2", "bad")
    scraped(stack, "f2")
    outcomes = world.run(request)
    assert outcomes[-1] is DeployOutcome.ROLLED_BACK, outcomes
    assert rolled_back_reason(world) == DeployCode.ANALYSIS_FAILED
    assert world.state().live.metadata.version == "f1"  # type: ignore[union-attr]
    remote = Path(world.cell.gitops.repository_url)  # type: ignore[union-attr]
    log = subprocess.run(
        ["git", "-C", str(remote), "log", "-1", "--format=%s", "main"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "restore" in log


def test_inconclusive_then_an_approver_continues(world: World, stack: LocalStack) -> None:
    request = live(world, stack, "c1", "c2", "quiet")
    until_paused(world, request)
    write_control(stack.standin_control, {"c1": "healthy", "c2": "healthy"})
    continue_rollout("fraud-detector", APPROVER, "easy_auth", "quiet hour", world.rollback_deps)
    scraped(stack, "c2")
    outcomes = world.drain()
    assert DeployOutcome.SUCCEEDED in outcomes, outcomes


def test_inconclusive_then_an_approver_rolls_back(world: World, stack: LocalStack) -> None:
    request = live(world, stack, "r1", "r2", "quiet")
    until_paused(world, request)
    request_rollback("fraud-detector", APPROVER, "easy_auth", "not today", world.rollback_deps)
    assert world.drain()[0] is DeployOutcome.ROLLED_BACK
    assert world.state().live.metadata.version == "r1"  # type: ignore[union-attr]


def test_inconclusive_and_nobody_decides_rolls_back_at_the_deadline(
    world: World, stack: LocalStack
) -> None:
    request = live(world, stack, "d1", "d2", "quiet")
    until_paused(world, request)
    assert world.drain()[-1] is DeployOutcome.ROLLED_BACK
    assert rolled_back_reason(world) == DeployCode.ANALYSIS_DEADLINE
