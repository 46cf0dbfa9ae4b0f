"""An approver's decision on a rollout whose metric analysis was inconclusive: continue.

(Rolling back is ``rollback.request_rollback``, which aborts the rollout under way.) The
decision is a recorded fact on the rollout's state (ETag), then a message wakes the deployer,
which runs the step. Only an approver of the model's risk tier in this region may continue,
and only before the deadline; after it, the rollout rolls back on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shared.domain.deploy.promotion import stage_for_key
from shared.domain.deploy.request import DeploymentRequest
from shared.domain.identity import canonical_identity
from shared.domain.lineage.record import (
    Actor,
    Correlation,
    EstablishedBy,
    LineageRecord,
    RecordKind,
)
from shared.ports.deploy import StateConflict
from shared.ports.messaging import OutboundMessage
from shared.queues import DEPLOYMENT_REQUESTS
from shared.services.deploy.rollback import RollbackDeps, RollbackRefused, _authorise


@dataclass(frozen=True)
class Continued:
    deployment_id: str
    model: str
    step: int
    continued_by: str
    already: bool = False


def continue_rollout(
    model: str,
    identities: Sequence[str],
    established_by: EstablishedBy,
    reason: str | None,
    deps: RollbackDeps,
    *,
    groups: Sequence[str] = (),
    deployment_id: str | None = None,
    object_id: str | None = None,
) -> Continued:
    """Let the paused rollout of ``model`` run its next step. Raises ``RollbackRefused``."""
    region, now = deps.cell.name, deps.clock()
    state, etag = deps.state.get(region, model)
    rollout = state.rollout
    a = rollout.analysis if rollout is not None else None
    if rollout is None or a is None or a.paused_until is None or a.step != rollout.next_step:
        raise RollbackRefused(409, f"No rollout of {model} in {region} waits for a decision.")
    if deployment_id is not None and deployment_id != rollout.deployment_id:
        raise RollbackRefused(409, "That rollout is over; another one waits now.")
    plan = rollout.plan
    identity = _authorise(identities, groups, object_id, plan.release, deps.cell)
    owner = canonical_identity(str(plan.release.metadata.owner))
    if owner in {canonical_identity(i) for i in identities}:
        # Separation of duties: continuing is approving the promotion; rolling back is not.
        raise RollbackRefused(403, f"You own {model}: another approver decides to continue.")
    if a.resumed_by is not None:
        return Continued(plan.deployment_id, model, a.step, a.resumed_by, already=True)
    if now >= a.paused_until:
        raise RollbackRefused(409, "The deadline has passed; the previous version is restored.")
    resumed = a.model_copy(update={"resumed_by": identity})
    try:
        deps.state.put(state.analysing(plan.deployment_id, resumed, now), etag)
    except StateConflict:
        raise RollbackRefused(
            409, "The rollout changed meanwhile; reload and decide again."
        ) from None
    release = plan.release
    request = DeploymentRequest(
        approval_id=release.approval_id,
        region=region,
        artifact=release.artifact,
        metadata=release.metadata,
        approved_by=release.approved_by,
        approved_at=release.approved_at,
        step=a.step,
        tick=a.tick,
        stage=stage_for_key(deps.cell, model),
    )
    deps.lineage.append(
        LineageRecord(
            kind=RecordKind.DEPLOYMENT_ANALYSED,
            at=now,
            region=region,
            actor=Actor(identity=identity, established_by=established_by),
            artifact=release.artifact,
            correlation=Correlation(
                approval_id=release.approval_id, deployment_id=plan.deployment_id
            ),
            details={
                "verdict": "continued",
                "gate": f"step {a.step + 1}/{rollout.steps}",
                "continued_by": identity,
                "reason": (reason or "").strip()[:500],
            },
        ),
        idempotency_key=f"{plan.deployment_id}|analysis|{a.step}|continued",
    )
    deps.bus.send(
        DEPLOYMENT_REQUESTS,
        OutboundMessage(
            body=request.model_dump_json().encode(),
            message_id=f"{plan.deployment_id}-s{a.step}-continue",
            subject=f"continue {model}",
            application_properties={"region": region, "step": a.step},
        ),
    )
    return Continued(plan.deployment_id, model, a.step, identity)
