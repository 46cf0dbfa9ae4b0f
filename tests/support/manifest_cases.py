"""Plans of every strategy, with a previous revision, rendered the same way every time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shared.domain.catalog import RegionEntry
from shared.domain.deploy.manifests.phases import K8sPhase, phase_for, restore_phase
from shared.domain.deploy.plan import DeploymentPlan, build_plan
from shared.domain.deploy.steps import steps_for
from shared.domain.metadata.model import ModelMetadata
from tests.support import deploy_samples as s

SINCE = datetime(2025, 1, 1, tzinfo=UTC)


def plan_for(cell: RegionEntry, metadata: ModelMetadata, **request: Any) -> DeploymentPlan:
    old_md = metadata.model_copy(
        update={"version": "0.9.0", "rollout": s.image_metadata("rolling").rollout}
    )
    old = build_plan(s.image_request(cell, old_md), cell, None).release
    return build_plan(
        s.image_request(cell, metadata, **request), cell, old.model_copy(update={"since": SINCE})
    )


def phases(plan: DeploymentPlan) -> list[K8sPhase]:
    return [phase_for(plan, i) for i in range(len(steps_for(plan)))] + [restore_phase(plan)]


def describe(phase: K8sPhase) -> dict[str, Any]:
    """A phase as data for a golden file: full objects applied, references for the rest."""
    return {
        "step": phase.step,
        "gate": list(phase.gate),
        "first": list(phase.first),
        "ready": list(phase.ready),
        "then": list(phase.then),
        "keep": [f"{m['kind']}/{m['metadata']['name']}" for m in phase.keep],
        "delete": [f"{r.kind}/{r.name}" for r in phase.delete],
    }
