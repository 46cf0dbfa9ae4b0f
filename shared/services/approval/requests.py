"""Approvals: open a request, notify, count votes, decide, expire, supersede, dispatch.

Storage decides races: votes are conditional inserts (a replay counts once) and the record is
replaced with its ETag (two votes completing a quorum at the same time decide it once). An
approved record is dispatched (deployment request enqueued, message id = approval id + region)
and marked so; any later touch of an approved, undispatched record dispatches it again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from shared.domain.approval.links import LinkSigner
from shared.domain.approval.record import (
    Approval,
    ApprovalState,
    Decision,
    EstablishedBy,
    Refusal,
    Vote,
    check_vote,
    expire,
    normalise,
    open_approval,
    supersede,
    tally,
)
from shared.domain.approval.request import ApprovalRequest
from shared.domain.catalog import RegionEntry
from shared.domain.deploy.request import DeploymentRequest
from shared.domain.lineage.record import Actor, Correlation, LineageRecord, Reason, RecordKind
from shared.ports.approval import ApprovalStore, Teams
from shared.ports.lineage import LineageWriter
from shared.ports.mail import Mailer
from shared.ports.messaging import MessageBus, OutboundMessage
from shared.queues import APPROVAL_EXPIRATIONS, DEPLOYMENT_REQUESTS
from shared.services.approval.messages import approver_mail, decision_mail, teams_card

log = logging.getLogger(__name__)
SYSTEM = Actor(identity="clearance", established_by="managed_identity")


@dataclass
class ApprovalDeps:
    cell: RegionEntry
    store: ApprovalStore
    lineage: LineageWriter
    bus: MessageBus
    mailer: Mailer
    signer: LinkSigner
    teams: Teams | None = None
    live_now: Callable[[str, str], str | None] = lambda region, model: None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    # a signed lineage checkpoint right after a decision (shrinks the blind window)
    after_decision: Callable[[], None] = lambda: None

    @property
    def region(self) -> str:
        return self.cell.name

    def review_url(self, approval_id: str, token: str | None = None) -> str:
        base = f"{self.cell.function_app_url.rstrip('/')}/api/approvals/{approval_id}/review"
        return f"{base}?t={token}" if token else base


def _record(
    deps: ApprovalDeps,
    approval: Approval,
    kind: RecordKind,
    *,
    actor: Actor = SYSTEM,
    key: str,
    reasons: Sequence[Reason] = (),
    details: dict[str, str] | None = None,
) -> None:
    deps.lineage.append(
        LineageRecord(
            kind=kind,
            at=deps.clock(),
            region=deps.region,
            actor=actor,
            artifact=approval.artifact,
            correlation=Correlation(approval_id=approval.approval_id),
            reasons=tuple(reasons),
            details=details or {},
        ),
        idempotency_key=f"{approval.approval_id}|{key}",
    )


# -- opening ------------------------------------------------------------------------------
def open_request(request: ApprovalRequest, deps: ApprovalDeps) -> Approval:
    now = deps.clock()
    policy = deps.cell.approval.for_tier(request.metadata.risk_tier)
    live = deps.live_now(deps.region, request.metadata.name)
    approval, _ = deps.store.create(open_approval(request, policy, deps.region, now, live))
    if approval.is_final:
        return _ensure_dispatched(approval, deps)
    for older in deps.store.pending_for_model(deps.region, approval.metadata.name):
        if older.approval_id != approval.approval_id and older.created_at <= approval.created_at:
            _supersede(older, approval, deps)
    _schedule_expiry(approval, deps)
    _notify_approvers(approval, deps, live)
    return approval


def _schedule_expiry(approval: Approval, deps: ApprovalDeps, suffix: str = "") -> None:
    deps.bus.send(
        APPROVAL_EXPIRATIONS,
        OutboundMessage.json(
            {"approval_id": approval.approval_id},
            message_id=f"expire-{approval.approval_id}{suffix}",
            scheduled_enqueue_time=approval.expires_at,
        ),
    )


def _notify_approvers(approval: Approval, deps: ApprovalDeps, live: str | None) -> None:
    for approver in approval.approvers:
        if approver in (approval.owner, approval.pushed_by):
            continue  # separation of duties: they could never use the link
        token = deps.signer.sign(approval.approval_id, approver, approval.expires_at)
        deps.mailer.send(
            approver_mail(approval, approver, deps.review_url(approval.approval_id, token), live)
        )
    if deps.teams is not None:
        deps.teams.post(teams_card(approval, deps.review_url(approval.approval_id), live))
    _record(
        deps,
        approval,
        RecordKind.APPROVAL_NOTIFIED,
        key="notified",
        details={
            "asked": ", ".join(approval.approvers),
            "groups": ", ".join(approval.approver_groups),
            "quorum": str(approval.min_approvals),
            "expires_at": approval.expires_at.isoformat(),
            "teams": "yes" if deps.teams else "no",
        },
    )


def _supersede(older: Approval, newer: Approval, deps: ApprovalDeps) -> None:
    for _ in range(5):
        current, etag = deps.store.get(older.approval_id)
        if current.is_final:
            return
        if deps.store.replace(supersede(current, newer.approval_id, deps.clock()), etag):
            _record(
                deps,
                current,
                RecordKind.APPROVAL_SUPERSEDED,
                key="superseded",
                details={"superseded_by": newer.approval_id, "by_version": newer.metadata.version},
            )
            to = (*current.approvers, current.owner)
            deps.mailer.send(
                decision_mail(
                    current.model_copy(update={"state": ApprovalState.SUPERSEDED}),
                    to,
                    f"Version {newer.metadata.version} replaces this request; nothing to do.",
                )
            )
            return


# -- voting ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class VoteResult:
    approval: Approval
    counted: bool
    refusal: Refusal | None = None


def cast_vote(
    approval_id: str,
    approver: str,
    decision: Decision,
    reason: str | None,
    established_by: EstablishedBy,
    deps: ApprovalDeps,
    groups: Sequence[str] = (),
) -> VoteResult:
    approval, _ = deps.store.get(approval_id)
    vote = Vote(
        approver=normalise(approver),
        decision=decision,
        at=deps.clock(),
        established_by=established_by,
        reason=reason,
    )
    refusal = check_vote(approval, deps.store.votes(approval_id), vote, groups)
    if refusal is not None:
        return VoteResult(_ensure_dispatched(approval, deps), False, refusal)
    if not deps.store.add_vote(approval_id, vote):
        return VoteResult(approval, False, Refusal.ALREADY_VOTED)
    _record(
        deps,
        approval,
        RecordKind.APPROVAL_VOTE,
        key=f"vote|{vote.approver}",
        actor=Actor(identity=vote.approver, established_by=established_by),
        details={"decision": decision, **({"reason": reason} if reason else {})},
    )
    return VoteResult(_decide(approval_id, deps), True)


def _decide(approval_id: str, deps: ApprovalDeps) -> Approval:
    for _ in range(10):
        approval, etag = deps.store.get(approval_id)
        decided = tally(approval, deps.store.votes(approval_id), deps.clock())
        if decided == approval:
            return _ensure_dispatched(approval, deps)
        if deps.store.replace(decided, etag):
            _announce(decided, deps)
            return _ensure_dispatched(decided, deps)
    return deps.store.get(approval_id)[0]


def _announce(approval: Approval, deps: ApprovalDeps) -> None:
    if approval.state is ApprovalState.APPROVED:
        _record(
            deps,
            approval,
            RecordKind.APPROVAL_APPROVED,
            key="approved",
            details={"approved_by": ", ".join(approval.decided_by)},
        )
        deps.mailer.send(
            decision_mail(
                approval, (approval.owner,), "Your model was approved and is being deployed."
            )
        )
    elif approval.state is ApprovalState.REJECTED:
        _record(
            deps,
            approval,
            RecordKind.APPROVAL_REJECTED,
            key="rejected",
            actor=Actor(identity=approval.decided_by[0], established_by="signed_link"),
            reasons=(
                Reason(
                    code="CLR-APPROVAL-REJECTED",
                    message=approval.decision_reason or "no reason given",
                ),
            ),
        )
        deps.mailer.send(decision_mail(approval, (approval.owner,), "Your model was rejected."))
    if approval.state in (ApprovalState.APPROVED, ApprovalState.REJECTED):
        deps.after_decision()


def _ensure_dispatched(approval: Approval, deps: ApprovalDeps) -> Approval:
    """Enqueue the deployment request of an approved record (idempotent by message id)."""
    if approval.state is not ApprovalState.APPROVED or approval.dispatched:
        return approval
    request = DeploymentRequest(
        approval_id=approval.approval_id,
        region=deps.region,
        artifact=approval.artifact,
        metadata=approval.metadata,
        approved_by=approval.decided_by,
        approved_at=approval.decided_at or deps.clock(),
    )
    deps.bus.send(
        DEPLOYMENT_REQUESTS,
        OutboundMessage(
            body=request.model_dump_json().encode(),
            message_id=request.message_id,
            subject=f"{approval.metadata.name}:{approval.metadata.version}",
            application_properties={"region": deps.region, "approval_id": approval.approval_id},
        ),
    )
    for _ in range(5):
        current, etag = deps.store.get(approval.approval_id)
        if current.dispatched:
            return current
        marked = current.model_copy(update={"dispatched": True})
        if deps.store.replace(marked, etag):
            return marked
    return approval


# -- expiry -----------------------------------------------------------------------------------
def expire_request(approval_id: str, deps: ApprovalDeps) -> Approval:
    """The scheduled expiry message arrived: expire if still pending. A message that arrives
    early (clock skew between instances) is tolerated by one second; an earlier one schedules
    a new expiry message for the expiry time."""
    for _ in range(5):
        approval, etag = deps.store.get(approval_id)
        if approval.is_final:
            return _ensure_dispatched(approval, deps)
        now = deps.clock()
        expired = expire(approval, now + timedelta(seconds=1))
        if expired is approval:  # too early: come back at the expiry time
            _schedule_expiry(approval, deps, suffix=f"-{int(now.timestamp())}")
            return approval
        if deps.store.replace(expired, etag):
            voted = {v.approver for v in deps.store.votes(approval_id)}
            silent = [a for a in approval.approvers if a not in voted]
            _record(
                deps,
                expired,
                RecordKind.APPROVAL_EXPIRED,
                key="expired",
                details={"did_not_answer": ", ".join(silent), "voted": ", ".join(sorted(voted))},
            )
            deps.mailer.send(
                decision_mail(
                    expired,
                    (expired.owner, *expired.approvers),
                    "This approval request expired before enough approvers answered.",
                )
            )
            return expired
    return deps.store.get(approval_id)[0]
