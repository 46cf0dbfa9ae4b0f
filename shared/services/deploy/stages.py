"""The deployer's part of stages: before a rollout starts in a stage, the previous stage must
still have the version verified, the stage's change window must be open (or an emergency
override valid), and only one rollout per model and stage runs — a newer approved version
waits in the one queue slot, superseding an older one waiting there; a rollout whose lease
ran out (its step is overdue: a crashed or lost step) is taken back so the queue moves on.
After a stage's rollout succeeded, an auto-promoting stage asks for the next stage.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from shared.domain.approval.request import ApprovalRequest
from shared.domain.catalog import RegionEntry, Stage
from shared.domain.deploy.codes import DeployCode
from shared.domain.deploy.promotion import Unverified, override_problem, state_key, verify
from shared.domain.deploy.request import DeploymentRequest
from shared.domain.deploy.revision import artifact_identity
from shared.domain.deploy.state import DeploymentState, Rollout
from shared.domain.errors import Violation
from shared.domain.lineage.record import RecordKind
from shared.ports.messaging import OutboundMessage
from shared.queues import APPROVAL_REQUESTS
from shared.services.deploy.records import DeploymentRecorder, tell
from shared.services.owner_mail import header_safe

if TYPE_CHECKING:
    from shared.services.deploy.rollouts import DeployDeps

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=30)  # > pending_retry * max_pending: a live step renews in time


def stage_of(request: DeploymentRequest, cell: RegionEntry) -> Stage | None:
    try:
        return cell.stage(request.stage)
    except KeyError:
        return None


def previous_stage_problem(request: DeploymentRequest, deps: DeployDeps) -> Violation | None:
    """A deployment to a later stage needs the previous stage to run it, verified, now (a
    rollback there since the approval was asked for blocks it)."""
    cell = deps.cell
    previous = cell.previous_stage(request.stage)
    if previous is None or request.rollback_of is not None:
        return None
    key = state_key(cell, request.metadata.name, previous.name)
    state, _ = deps.state.get(cell.name, key)
    found = verify(
        previous, state, artifact_identity(request.artifact), deps.clock(), deps.time_scale
    )
    if isinstance(found, Unverified):
        code = DeployCode.PROMOTION_EXPIRED if found.expired else DeployCode.PROMOTION_UNVERIFIED
        return Violation(code, f"Not promoted: {found.reason}.")
    return None


def window_hold(
    request: DeploymentRequest,
    deps: DeployDeps,
    rec: DeploymentRecorder,
    send: Callable[[DeploymentRequest, str, datetime | None], None],
) -> Violation | bool:
    """True when the rollout waits for the stage's next window (scheduled, recorded, said);
    a Violation when an override is not valid or no window opens; False: go ahead."""
    stage = deps.cell.stage(request.stage)
    windows, now = stage.windows, deps.clock()
    if request.rollback_of is not None or windows.is_open(now):
        return False
    if request.override is not None:
        policy = deps.cell.stage_approval(stage.name, request.metadata.risk_tier)
        problem = override_problem(
            request.override,
            approved_by=request.approved_by,
            owner=str(request.metadata.owner),
            # group members are checked where the caller signs in (the override endpoint)
            approvers=policy.approvers if policy and not policy.approver_groups else (),
        )
        if problem is not None:
            return Violation(DeployCode.OVERRIDE_REFUSED, f"Emergency override refused: {problem}.")
        rec.record(
            RecordKind.DEPLOYMENT_SCHEDULED,
            "override",
            details={
                "stage": stage.name,
                "override": "emergency",
                "override_by": request.override.by,
                "reason": request.override.reason,
                "window": "closed",
            },
        )
        return False
    opening = windows.next_opening(now)
    if opening is None:
        return Violation(
            DeployCode.NO_WINDOW,
            f"Stage {stage.name} has no change window open in the next 400 days.",
        )
    hour = int(now.timestamp()) // 3600
    send(request, f"{rec.deployment_id}-window-{int(opening.timestamp())}-{hour}", opening)
    first = rec.record(
        RecordKind.DEPLOYMENT_SCHEDULED,
        f"scheduled|{int(opening.timestamp())}",
        details={
            "stage": stage.name,
            "scheduled_for": opening.isoformat(),
            "local": windows.describe(opening),
            "frozen": (f.reason or "freeze") if (f := windows.freeze_on(now)) else "",
            "version": request.metadata.version,
        },
    )
    if first:
        _tell_scheduled(request, deps, stage, windows.describe(opening))
    return True


def _tell_scheduled(request: DeploymentRequest, deps: DeployDeps, stage: Stage, when: str) -> None:
    from shared.ports.mail import OutboundMail

    to = [str(request.metadata.owner), *(a for a in request.approved_by if "@" in a)]
    m = request.metadata
    text = (
        f"{m.name} {m.version} was approved outside the change window of stage {stage.name} "
        f"in {request.region}. It is scheduled for the next opening: {when}.\n"
        "An approver who did not approve it can start it earlier with an emergency override "
        "(a reason is required and recorded)."
    )
    subject = header_safe(f"Clearance: {m.name} {m.version} scheduled for {when}")
    import html

    tell(
        deps.mailer,
        OutboundMail(
            to=tuple(dict.fromkeys(to)),
            subject=subject,
            text=text,
            html=f"<p>{html.escape(text)}</p>",
        ),
    )


def lease_expired(rollout: Rollout, now: datetime) -> bool:
    """The rollout's next step is overdue by more than the lease: nobody is carrying it on."""
    a = rollout.analysis
    if a is not None and a.paused_until is not None and a.resumed_by is None:
        return now > a.paused_until + LEASE  # a paused rollout waits for its deadline
    due = rollout.next_at or rollout.started_at
    return now > due + LEASE


def queue_slot(request: DeploymentRequest, deployment_id: str, state: DeploymentState) -> str:
    """``"take"``: this request may hold the queue slot (free, its own, or an older one waits
    there); ``"superseded"``: a later-approved deployment holds the slot."""
    if state.queued == deployment_id or state.queued_at is None:
        return "take"
    if state.queued_at > request.approved_at:
        return "superseded"  # waiting, or already rolled out: a later approval came first
    if state.queued_at == request.approved_at and (state.queued or "") > deployment_id:
        return "superseded"
    return "take"


def after_success(request: DeploymentRequest, deps: DeployDeps, version_live_at: datetime) -> None:
    """An auto-promoting stage asks for the next stage once its bake time has passed (the
    approval step re-verifies the stage then; a rollback meanwhile stops the promotion)."""
    cell = deps.cell
    if not cell.staged or request.rollback_of is not None:
        return
    stage = cell.stage(request.stage)
    following = cell.next_stage(stage.name)
    if following is None or not stage.auto_promote:
        return
    # one minute past the bake time: a clock a little ahead never finds it unfinished
    due = version_live_at + timedelta(seconds=(stage.bake_minutes + 1) * 60 * deps.time_scale)
    promotion = promotion_request(request, following.name, version_live_at, "auto-promotion")
    deps.bus.send(
        APPROVAL_REQUESTS,
        OutboundMessage(
            body=promotion.model_dump_json().encode(),
            message_id=f"{promotion.message_id}-{request.approval_id}",
            subject=f"promote {request.metadata.name} to {following.name}",
            application_properties={"region": cell.name, "stage": following.name},
            scheduled_enqueue_time=due,
        ),
    )


def promotion_request(
    request: DeploymentRequest, to_stage: str, at: datetime, event_id: str
) -> ApprovalRequest:
    return ApprovalRequest(
        artifact=request.artifact,
        source_region=request.region,
        metadata=request.metadata,
        event_id=f"{event_id}:{request.approval_id}:{to_stage}"[:200],
        received_at=at,
        validated_at=at,
        platform_digests=request.platform_digests,
        stage=to_stage,
        promotion_of=request.approval_id,
    )
