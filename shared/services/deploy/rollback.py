"""Asking for a rollback: an approver of the model's region and risk tier takes it back.

The request restores the revision that ran before the live one (or aborts a rollout under
way) and travels as a ``DeploymentRequest`` with ``rollback_of`` on ``deployment-requests``,
so the cell's own deployer carries it out, in order with everything else for that model. The
restored revision keeps its own approval; who asked for the rollback, and why, is recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from shared.domain.catalog import RegionEntry
from shared.domain.deploy.plan import deployment_id_for
from shared.domain.deploy.request import DeploymentRequest
from shared.domain.deploy.revision import Revision
from shared.domain.errors import ClearanceError, Violation
from shared.domain.lineage.record import (
    Actor,
    Correlation,
    EstablishedBy,
    LineageRecord,
    Reason,
    RecordKind,
)
from shared.ports.deploy import DeploymentStateStore
from shared.ports.lineage import LineageWriter
from shared.ports.messaging import MessageBus, OutboundMessage
from shared.queues import DEPLOYMENT_REQUESTS


class RollbackRefused(ClearanceError):
    """The rollback cannot be asked for; ``status`` is the HTTP status that says why."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(message)


@dataclass
class RollbackDeps:
    cell: RegionEntry
    state: DeploymentStateStore
    bus: MessageBus
    lineage: LineageWriter
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class RollbackTicket:
    deployment_id: str
    model: str
    region: str
    rolls_back: str  # summary of what is taken back
    restores: str  # summary of what will serve again, or "nothing"
    aborts_rollout: bool


def request_rollback(
    model: str,
    identities: Sequence[str],
    established_by: EstablishedBy,
    reason: str | None,
    deps: RollbackDeps,
    *,
    groups: Sequence[str] = (),
) -> RollbackTicket:
    """Queue the rollback of ``model`` in this cell's region for the caller known by
    ``identities`` (and Entra ``groups``). Raises ``RollbackRefused``."""
    region = deps.cell.name
    state, _ = deps.state.get(region, model)
    rollout = state.rollout
    if rollout is not None:
        target: Revision = rollout.plan.release
        restoring = rollout.plan.replaces or target
        restores = rollout.plan.replaces.summary() if rollout.plan.replaces else "nothing"
    elif state.live is not None and state.previous is not None:
        target, restoring = state.live, state.previous
        restores = restoring.summary()
    elif state.live is not None:
        raise RollbackRefused(409, f"{model} has no previous revision in {region} to restore.")
    else:
        raise RollbackRefused(404, f"{model} does not run in {region}.")
    actor = Actor(
        identity=_authorise(identities, groups, target, deps.cell), established_by=established_by
    )
    request = DeploymentRequest(
        approval_id=restoring.approval_id,
        region=region,
        artifact=restoring.artifact,
        metadata=restoring.metadata,
        approved_by=restoring.approved_by,
        approved_at=restoring.approved_at,
        rollback_of=target.deployment_id,
        requested_by=actor.identity,
        reason=(reason or "").strip()[:500] or None,
    )
    deployment_id = deployment_id_for(request.approval_id, region, request.rollback_of)
    deps.bus.send(
        DEPLOYMENT_REQUESTS,
        OutboundMessage(
            body=request.model_dump_json().encode(),
            message_id=deployment_id,
            subject=f"rollback {model}",
            application_properties={"region": region, "rollback_of": target.deployment_id},
        ),
    )
    deps.lineage.append(
        LineageRecord(
            kind=RecordKind.DEPLOYMENT_STARTED,
            at=deps.clock(),
            region=region,
            actor=actor,
            artifact=target.artifact,
            correlation=Correlation(approval_id=target.approval_id, deployment_id=deployment_id),
            reasons=(Reason.of(Violation("CLR-DEPLOY-ROLLBACK-REQUESTED", request.reason or "-")),),
            details={
                "action": "rollback requested",
                "rolls_back": target.summary(),
                "restores": restores,
                "aborts_rollout": str(rollout is not None).lower(),
            },
        ),
        idempotency_key=f"{deployment_id}|requested",
    )
    return RollbackTicket(
        deployment_id=deployment_id,
        model=model,
        region=region,
        rolls_back=target.summary(),
        restores=restores,
        aborts_rollout=rollout is not None,
    )


def _authorise(
    identities: Sequence[str], groups: Sequence[str], target: Revision, cell: RegionEntry
) -> str:
    """The caller's identity that makes them an approver for ``target``'s risk tier."""
    policy = cell.approval.for_tier(target.metadata.risk_tier)
    approvers = {str(a).lower() for a in policy.approvers}
    known = sorted(i.strip().lower() for i in identities if i.strip())
    for identity in known:
        if identity in approvers:
            return identity
    if known and set(groups) & set(policy.approver_groups):
        return known[0]
    raise RollbackRefused(
        403,
        f"Only approvers of {target.metadata.risk_tier} risk models in {cell.name} may roll "
        f"back {target.metadata.name}.",
    )
