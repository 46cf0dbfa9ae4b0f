"""Expiry on the local stack: a canary left running gets one notice (mail and lineage, however
many timer runs), then is rolled back by the real host through the real queue, all recorded in
the real lineage table. The timer's clock is moved forward; everything else is real."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.adapters.storage.deployment_state import TableDeploymentStateStore
from shared.composition import Container
from shared.composition.deploy import expiry_deps
from shared.domain.lineage.record import RecordKind
from shared.local.smtp_sink import read_mails
from shared.local.stack import SAMPLE_APPROVERS, LocalStack
from shared.services.deploy.expiry import Swept, sweep
from tests.conftest import wait_for
from tests.integration.approval_flow import Flow, deployments, vote

pytestmark = pytest.mark.stack
ONE, TWO = SAMPLE_APPROVERS
CANARY = {
    "ai.clearance.rollout.strategy": "canary",
    "ai.clearance.rollout.canary.steps": "10,50,100",
    # 10 minutes of baking per step: 10 s on the local stack, long enough to look at the phase
    "ai.clearance.rollout.canary.bake-minutes": "10",
}


def _approve(flow: Flow) -> None:
    flow.wait_open()
    vote(flow, ONE)
    vote(flow, TWO)


def _later(hours: float) -> Any:
    return lambda: datetime.now(UTC) + timedelta(hours=hours)


def test_a_forgotten_canary_is_noticed_once_then_rolled_back(
    hosts: LocalStack, cell: Container
) -> None:
    state = TableDeploymentStateStore(cell.table_service)
    stable = Flow(hosts, cell, "forgotten-canary", "1.0.0")
    _approve(stable)
    deployments(stable)
    canary = Flow(hosts, cell, "forgotten-canary", "2.0.0", **CANARY)
    _approve(canary)

    def baking() -> Any:
        rollout = state.get("westeurope", "forgotten-canary")[0].rollout
        return rollout if rollout is not None and rollout.next_step >= 1 else None

    rollout = wait_for(baking, timeout=30)  # the first canary step ran; it bakes now
    assert rollout.plan.metadata.version == "2.0.0"

    deps = expiry_deps(cell)
    assert cell.settings.cell.expiry.canary_hours == 48
    deps.clock = _later(30)  # within the 24 h notice
    noticed = sweep(deps)
    assert list(noticed.values()) == [Swept.NOTIFIED]
    assert sweep(deps) == {} and sweep(expiry_deps(cell)) == {}  # no second notice
    assert len(canary.records(RecordKind.DEPLOYMENT_EXPIRY_NOTICE)) == 1
    mails = wait_for(
        lambda: [
            m
            for m in read_mails(hosts.maildir)
            if m["To"] == "owner@contoso.example" and "phase expires" in m["Subject"]
        ]
    )
    assert len(mails) == 1

    deps.clock = _later(49)
    assert list(sweep(deps).values()) == [Swept.RETIRED]
    assert sweep(deps) == {}  # the same rollback is not queued or recorded twice
    after = wait_for(
        lambda: (s := state.get("westeurope", "forgotten-canary")[0]).rollout is None and s,
        timeout=60,
    )
    assert after.live is not None and after.live.metadata.version == "1.0.0"
    (expired,) = canary.records(RecordKind.DEPLOYMENT_EXPIRED)
    assert expired.reasons[0].code == "CLR-DEPLOY-EXPIRED"
    assert expired.actor.identity == "clearance-expiry@westeurope"
    rolled_back = wait_for(lambda: canary.records(RecordKind.DEPLOYMENT_ROLLED_BACK))
    assert rolled_back[-1].details["requested_by"] == "clearance-expiry@westeurope"
    assert sweep(deps) == {}
