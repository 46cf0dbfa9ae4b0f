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

from shared.domain.catalog import ApprovalPolicy, RegionEntry
from shared.domain.deploy.plan import deployment_id_for
from shared.domain.deploy.promotion import stage_for_key
from shared.domain.deploy.request import DeploymentRequest
from shared.domain.deploy.revision import Revision
from shared.domain.errors import ClearanceError, Violation
from shared.domain.identity import canonical_identity, identity_problem
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
    object_id: str | None = None,
) -> RollbackTicket:
    """Queue the rollback of ``model`` in this cell's region for the caller known by
    ``identities`` (and Entra ``groups``). Raises ``RollbackRefused``."""
    region = deps.cell.name
    # Authorise before looking anything up: a caller who approves nothing here learns nothing
    # (not even whether the model runs), and gets the very answer an unknown model gets.
    if not _approver_anywhere(identities, groups, object_id, deps.cell):
        raise _not_yours(model, region)
    state, _ = deps.state.get(region, model)
    if state.live is None and state.rollout is None:
        raise _not_yours(model, region)
    rollout = state.rollout
    if rollout is not None:
        target: Revision = rollout.plan.release
        restoring = rollout.plan.replaces or target
        restores = rollout.plan.replaces.summary() if rollout.plan.replaces else "nothing"
    elif state.live is not None and state.previous is not None:
        target, restoring = state.live, state.previous
        restores = restoring.summary()
    else:
        target = state.live  # type: ignore[assignment]  # live is set: checked above
        restoring, restores = target, "nothing"
    identity = _authorise(identities, groups, object_id, target, deps.cell)
    if rollout is None and state.previous is None:
        raise RollbackRefused(409, f"{model} has no previous revision in {region} to restore.")
    actor = Actor(identity=identity, established_by=established_by)
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
        stage=stage_for_key(deps.cell, model),
    )
    deployment_id = deployment_id_for(
        request.approval_id, region, request.rollback_of, request.stage
    )
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


def _not_yours(model: str, region: str) -> RollbackRefused:
    return RollbackRefused(404, f"There is no model {model} in {region} that you may roll back.")


def _may_approve(
    identities: Sequence[str],
    groups: Sequence[str],
    object_id: str | None,
    policy: ApprovalPolicy,
) -> str | None:
    """The caller's identity that makes them an approver under ``policy``, or None. An object
    id the policy lists decides on its own; a mail claim counts only for approvers the policy
    gives no object id."""
    # a look-alike claim names no one (see shared.services.approval.review.principal_of)
    known = sorted(
        {canonical_identity(i) for i in identities if i.strip() and identity_problem(i) is None}
    )
    ids = {canonical_identity(str(a)): oid.lower() for a, oid in policy.approver_object_ids.items()}
    if object_id is not None:
        for mail, oid in ids.items():
            if oid == object_id.lower():
                return mail
    approvers = {canonical_identity(str(a)) for a in policy.approvers}
    for identity in known:
        if identity in approvers and identity not in ids:
            return identity
    wanted = {g.lower() for g in policy.approver_groups}
    if (known or object_id) and {g.lower() for g in groups} & wanted:
        return known[0] if known else f"oid:{object_id}"
    return None


def _policies(cell: RegionEntry) -> list[ApprovalPolicy]:
    return [cell.approval.default, *cell.approval.by_risk_tier.values()]


def _approver_anywhere(
    identities: Sequence[str], groups: Sequence[str], object_id: str | None, cell: RegionEntry
) -> bool:
    return any(_may_approve(identities, groups, object_id, p) for p in _policies(cell))


def _authorise(
    identities: Sequence[str],
    groups: Sequence[str],
    object_id: str | None,
    target: Revision,
    cell: RegionEntry,
) -> str:
    """The caller's identity that makes them an approver for ``target``'s risk tier."""
    policy = cell.approval.for_tier(target.metadata.risk_tier)
    identity = _may_approve(identities, groups, object_id, policy)
    if identity is None:
        raise _not_yours(target.metadata.name, cell.name)
    return identity
