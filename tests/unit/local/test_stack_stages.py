"""The local stack's catalog: one implicit stage by default, staging → prod when asked."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from shared.domain.catalog import RegionCatalog, RegionEntry, RiskTier
from shared.local.stack import (
    LOCAL_TIME_SCALE,
    REGIONS,
    LocalStack,
    StackPorts,
    StackState,
)
from shared.services.deploy.rollouts import DeployOutcome
from tests.support.deploy_world import World


def test_a_new_stack_keeps_one_implicit_stage(tmp_path: Path) -> None:
    stack = LocalStack(tmp_path, Path.cwd(), ports=StackPorts.free())
    catalog = RegionCatalog.model_validate(stack.catalog())
    assert all(not r.staged for r in catalog.regions)


def test_a_staged_stack_walks_staging_then_prod_on_their_own_paths(tmp_path: Path) -> None:
    stack = LocalStack(tmp_path, Path.cwd(), ports=StackPorts.free(), stages=True)
    catalog = RegionCatalog.model_validate(stack.catalog())
    for region in REGIONS:
        entry = catalog.region(region)
        assert [s.name for s in entry.stage_list] == ["staging", "prod"]
        assert [s.production for s in entry.stage_list] == [False, True]
        staging, prod = entry.for_stage("staging"), entry.for_stage("prod")
        assert staging.gitops is not None and prod.gitops is not None
        assert staging.gitops.path != prod.gitops.path  # separate GitOps paths
        assert entry.stage_approval("staging", RiskTier.MEDIUM) is None  # no human approval
        policy = entry.stage_approval("prod", RiskTier.MEDIUM)
        assert policy is not None and policy.min_approvals == 2
        critical = entry.stage_approval("prod", RiskTier.CRITICAL)
        assert critical is not None and critical.approver_groups  # as the region's policy
        assert entry.stage("staging").auto_promote


def test_the_choice_survives_in_stack_json(tmp_path: Path) -> None:
    stack = LocalStack(tmp_path, Path.cwd(), ports=StackPorts.free(), stages=True)
    assert StackState.from_json(stack.state.to_json()).stages is True
    old = stack.state.to_json().replace('"stages": true', '"unrelated": 1')
    assert StackState.from_json(old).stages is False  # a stack.json from before stages


def test_bake_time_follows_the_time_scale(cell: RegionEntry) -> None:
    """Locally a bake minute lasts a second: a promotion after the scaled bake time passes
    the deployer's verification, one a second short of it does not (as in Azure, minutes)."""
    from tests.unit.services.deploy.test_stages import WEDNESDAY_NOON, req, staged

    for scale, short in ((LOCAL_TIME_SCALE, timedelta(seconds=59)), (1.0, timedelta(minutes=59))):
        w = World(staged(cell))
        w.clock.now = WEDNESDAY_NOON
        w.deps.time_scale = scale
        assert w.run(req(w, "1")) == [DeployOutcome.SUCCEEDED]  # staging, bakes 60 min
        w.clock.now += short
        assert w.run(req(w, "1", "prod")) == [DeployOutcome.FAILED]
        assert "bake time" in w.lineage.records[-1].reasons[0].message
        w.clock.now += timedelta(seconds=1) if scale < 1 else timedelta(minutes=1)
        assert w.run(req(w, "1", "prod")) == [DeployOutcome.SUCCEEDED]
