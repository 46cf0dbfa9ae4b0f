"""Approvals per stage: which policy asks, the stage's own approval id, and the stages that
need no human approval (intake validation, or the previous stage's verification, suffices).

A promotion (``ApprovalRequest.promotion_of``) inherits the exclusions of the approval it
continues: whoever pushed or registered the artifact can approve no stage of it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from shared.domain.approval.record import Approval, ApprovalState
from shared.domain.approval.request import ApprovalRequest
from shared.domain.catalog import ApprovalPolicy, RegionEntry, UnknownStageError
from shared.domain.deploy.promotion import Unverified, state_key, verify
from shared.domain.deploy.request import DeploymentRequest, Override
from shared.domain.deploy.revision import artifact_identity
from shared.domain.errors import TerminalError
from shared.ports.approval import ApprovalStore
from shared.ports.deploy import DeploymentStateStore

if TYPE_CHECKING:
    from shared.services.approval.requests import ApprovalDeps

AUTOMATIC = "clearance (no human approval for this stage)"
# A stand-in policy for stages without approvers: the record is approved at opening.
_NOBODY = ApprovalPolicy(approvers=("no-approver@clearance.example.com",), min_approvals=1)


def _expired(found: Unverified) -> str:
    return " (CLR-DEPLOY-PROMOTION-EXPIRED)" if found.expired else ""


class StageRefused(TerminalError):
    """The approval request names a stage the region lacks, or a promotion of nothing."""


def stage_policy(request: ApprovalRequest, cell: RegionEntry) -> ApprovalPolicy | None:
    try:
        return cell.stage_approval(request.stage, request.metadata.risk_tier)
    except UnknownStageError as exc:
        raise StageRefused(f"{cell.name} has no stage {request.stage!r}") from exc


def inherit(
    request: ApprovalRequest,
    store: ApprovalStore,
    cell: RegionEntry,
    states: DeploymentStateStore | None,
    now: datetime,
    time_scale: float = 1.0,
) -> ApprovalRequest:
    """A promotion carries the pusher and registrant of the approval it continues, and the
    previous stage's evidence (verified again here: a rollback during the bake time, or a
    digest the previous stage never ran, refuses it)."""
    if request.promotion_of is None:
        return request
    notes = request.notes
    previous = cell.previous_stage(request.stage) if cell.staged else None
    if previous is None:
        raise StageRefused(f"stage {request.stage!r} has no previous stage to promote from")
    if states is not None:
        key = state_key(cell, request.metadata.name, previous.name)
        state, _ = states.get(cell.name, key)
        found = verify(previous, state, artifact_identity(request.artifact), now, time_scale)
        if isinstance(found, Unverified):
            raise StageRefused(f"not promoted{_expired(found)}: {found.reason}")
        notes = (*found.lines(), *notes)
    try:
        earlier, _ = store.get(request.promotion_of)
    except TerminalError as exc:
        raise StageRefused(f"promotion of unknown approval {request.promotion_of}") from exc
    if earlier.artifact.key != request.artifact.key or earlier.state is not ApprovalState.APPROVED:
        raise StageRefused("a promotion continues an approved request of the same artifact")
    return request.model_copy(
        update={
            "pushed_by": earlier.pushed_by,
            "registered_by": earlier.registered_by,
            "registered_by_object_id": next(iter(earlier.excluded_object_ids), None),
            "supply_chain": earlier.supply_chain,
            "platform_digests": earlier.platform_digests,
            "notes": notes,
        }
    )


def staged(
    opened: Approval, request: ApprovalRequest, cell: RegionEntry, policy: ApprovalPolicy | None
) -> Approval:
    """The opened record for the request's stage: its own id (a region without stages keeps
    the ids it always had), and approved at once when the stage needs no human approval."""
    if not cell.staged:
        return opened
    stage = cell.stage(request.stage).name
    first = cell.stage_list[0].name
    approval_id = opened.approval_id
    if stage != first:
        approval_id = stage_approval_id(opened.approval_id, stage)
    update: dict[str, object] = {"approval_id": approval_id, "stage": stage}
    if policy is None:
        update |= {
            "state": ApprovalState.APPROVED,
            "decided_at": opened.created_at,
            "decided_by": (AUTOMATIC,),
            "decision_reason": f"stage {stage} needs no human approval",
        }
    return opened.model_copy(update=update)


def stage_approval_id(first: str, stage: str) -> str:
    """The approval id of a later stage, from the id of the artifact's first-stage approval."""
    return f"apr-{hashlib.sha256(f'{first}|{stage}'.encode()).hexdigest()[:32]}"


def policy_or_nobody(policy: ApprovalPolicy | None) -> ApprovalPolicy:
    return policy if policy is not None else _NOBODY


def auto_approved(approval: Approval) -> bool:
    return approval.decided_by == (AUTOMATIC,)


def request_promotion(
    model: str,
    digest: str,
    to_stage: str,
    identity: str,
    cell: RegionEntry,
    store: ApprovalStore,
    states: DeploymentStateStore,
    now: datetime,
    time_scale: float = 1.0,
) -> ApprovalRequest:
    """The owner asks to promote what the previous stage runs: the request for the approval
    step (``open_request``). Raises ``StageRefused`` (the caller answers 4xx)."""
    from shared.domain.identity import canonical_identity

    if not cell.staged:
        raise StageRefused(f"{cell.name} lists no stages")
    try:
        previous = cell.previous_stage(to_stage)
    except UnknownStageError as exc:
        raise StageRefused(f"{cell.name} has no stage {to_stage!r}") from exc
    if previous is None:
        raise StageRefused(f"{to_stage} is the first stage: an approved artifact goes there")
    state, _ = states.get(cell.name, state_key(cell, model, previous.name))
    live = state.live
    if live is None or live.identity != digest:
        raise StageRefused(f"{digest} is not what {previous.name} runs for {model}")
    if canonical_identity(identity) != canonical_identity(str(live.metadata.owner)):
        raise StageRefused(f"only the owner of {model} may request its promotion")
    found = verify(previous, state, digest, now, time_scale)
    if isinstance(found, Unverified):
        raise StageRefused(f"not promoted{_expired(found)}: {found.reason}")
    return ApprovalRequest(
        artifact=live.artifact,
        source_region=cell.name,
        metadata=live.metadata,
        event_id=f"promotion:{live.approval_id}:{to_stage}",
        received_at=now,
        validated_at=now,
        notes=(f"Promotion requested by {identity}",),
        stage=to_stage,
        promotion_of=live.approval_id,
    )


def record_refusal(request: ApprovalRequest, refused: StageRefused, deps: ApprovalDeps) -> None:
    """A promotion the approval step refuses (a rollback during the bake time, a digest the
    previous stage does not run) is recorded once and not retried."""
    from shared.domain.lineage.record import Actor, Correlation, LineageRecord, Reason, RecordKind

    deps.lineage.append(
        LineageRecord(
            kind=RecordKind.APPROVAL_CANCELLED,
            at=deps.clock(),
            region=deps.cell.name,
            actor=Actor(identity="clearance", established_by="managed_identity"),
            artifact=request.artifact,
            correlation=Correlation(approval_id=request.promotion_of, event_id=request.event_id),
            reasons=(Reason(code="CLR-PROMOTION-REFUSED", message=str(refused)[:1000]),),
            details={"stage": request.stage or "", "promotion_of": request.promotion_of or ""},
        ),
        idempotency_key=f"promotion-refused|{request.event_id}|{request.stage}",
    )


def promote(model: str, digest: str, to_stage: str, identity: str, deps: ApprovalDeps) -> Approval:
    """The owner's explicit promotion (CLI, HTTP): verified, recorded, then opened like any
    approval of the stage (approved at once for a stage without human approval)."""
    from shared.domain.lineage.record import Actor, Correlation, LineageRecord, RecordKind
    from shared.services.approval.requests import open_request

    if deps.stage_state is None:
        raise StageRefused("this cell has no deployment state to verify a promotion against")
    now = deps.clock()
    request = request_promotion(
        model, digest, to_stage, identity, deps.cell, deps.store, deps.stage_state, now,
        deps.time_scale,
    )  # fmt: skip
    deps.lineage.append(
        LineageRecord(
            kind=RecordKind.APPROVAL_REQUESTED,
            at=now,
            region=deps.cell.name,
            actor=Actor(identity=identity, established_by="easy_auth"),
            artifact=request.artifact,
            correlation=Correlation(approval_id=request.promotion_of, event_id=request.event_id),
            details={"stage": to_stage, "promotion_of": request.promotion_of or "", "by": "owner"},
        ),
        idempotency_key=f"promotion|{request.promotion_of}|{to_stage}|{int(now.timestamp())}",
    )
    return open_request(request, deps)


def override(
    approval_id: str,
    identities: Sequence[str],
    groups: Sequence[str],
    reason: str | None,
    deps: ApprovalDeps,
) -> DeploymentRequest:
    """An emergency start of an approved deployment outside its stage's window: an approver
    of the stage who did not approve it, with a reason. The deployer checks it again and
    records it with the rollout."""
    from shared.domain.identity import canonical_identity
    from shared.ports.messaging import OutboundMessage
    from shared.queues import DEPLOYMENT_REQUESTS

    try:
        approval, _ = deps.store.get(approval_id)
    except TerminalError as exc:
        raise StageRefused(f"no approval {approval_id}") from exc
    if approval.region != deps.cell.name or approval.state is not ApprovalState.APPROVED:
        raise StageRefused("only an approved deployment of this region can be overridden")
    text = " ".join((reason or "").split())
    if len(text) < 10:
        raise StageRefused("an emergency override needs a reason (at least 10 characters)")
    mine = {canonical_identity(i, deps.identity) for i in identities}
    listed = mine & set(approval.approvers)
    member = {g.lower() for g in groups} & {g.lower() for g in approval.approver_groups}
    if not listed and not member:
        raise StageRefused("only an approver of this stage can override its change window")
    if mine & {canonical_identity(d, deps.identity) for d in approval.decided_by}:
        raise StageRefused("you approved this deployment: the override needs another approver")
    if mine & approval.excluded:
        raise StageRefused("the owner, pusher or registrant cannot override a change window")
    by = sorted(listed)[0] if listed else sorted(mine)[0]
    now = deps.clock()
    request = DeploymentRequest(
        approval_id=approval.approval_id,
        region=deps.cell.name,
        artifact=approval.artifact,
        metadata=approval.metadata,
        approved_by=approval.decided_by,
        approved_at=approval.decided_at or now,
        platform_digests=approval.platform_digests,
        stage=approval.stage if deps.cell.staged else None,
        override=Override(by=by, reason=text[:500], at=now),
    )
    deps.bus.send(
        DEPLOYMENT_REQUESTS,
        OutboundMessage(
            body=request.model_dump_json().encode(),
            message_id=f"{request.message_id}-override",
            subject=f"override {approval.metadata.name}:{approval.metadata.version}",
            application_properties={"region": deps.cell.name, "approval_id": approval_id},
        ),
    )
    return request
