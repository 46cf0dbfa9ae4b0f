"""Approvals: open a request, notify, count votes, decide, expire, supersede, dispatch.

Storage decides races: a vote is a conditional insert (a replay counts once) written in one
transaction with the record's ETag-guarded replace (two votes completing a quorum at the same
time decide it once). An approved record is written ``dispatched`` (its deployment request
committed) and keeps its pending index row until the request is enqueued (message id =
approval id + region); any later touch of an approved record whose row is still there sends
the request again (idempotent by message id) and drops the row.
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
    Person,
    Refusal,
    Vote,
    cancel,
    check_vote,
    expire,
    may_supersede,
    normalise,
    open_approval,
    supersede,
    tally,
    version_notes,
)
from shared.domain.approval.request import ApprovalRequest
from shared.domain.approval.view import changes, downgrade
from shared.domain.catalog import RegionEntry
from shared.domain.deploy.request import DeploymentRequest
from shared.domain.deploy.revision import Revision
from shared.domain.errors import ClearanceError, TerminalError, TransientError
from shared.domain.identity import DEFAULT_RULES, IdentityRules
from shared.domain.lineage.record import Actor, Correlation, LineageRecord, Reason, RecordKind
from shared.ports.approval import ApprovalStore, Teams
from shared.ports.deploy import DeploymentStateStore
from shared.ports.directory import Directory, DirectoryError
from shared.ports.intake import RejectionRegistry
from shared.ports.lineage import LineageWriter
from shared.ports.mail import Mailer, OutboundMail
from shared.ports.messaging import MessageBus, OutboundMessage
from shared.queues import APPROVAL_EXPIRATIONS, DEPLOYMENT_REQUESTS
from shared.services.approval import stages
from shared.services.approval.messages import (
    approver_mail,
    decision_mail,
    teams_card,
    withdrawn_card,
)
from shared.services.intake.invariant import rejection_of

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
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    rejections: RejectionRegistry | None = None
    identity: IdentityRules = DEFAULT_RULES
    directory: Directory | None = None
    platform_email: str | None = None
    tenant_id: str | None = None  # the Entra tenant signed-in approvers must belong to
    live_revision: Callable[[str, str], Revision | None] = lambda region, model: None
    stage_state: DeploymentStateStore | None = None  # verifies the stage a promotion leaves
    time_scale: float = 1.0  # of stage bake times (locally a minute lasts a second)

    def owner_recipients(self, approval: Approval) -> tuple[str, ...]:
        """The owner, if their domain is on the allow-list; else the platform address (no
        relay: a label cannot make Clearance mail an arbitrary address)."""
        owner = str(approval.metadata.owner)
        if self.identity.owner_domain_allowed(owner):
            return (owner,)
        return (self.platform_email,) if self.platform_email else ()

    # a signed lineage checkpoint right after a decision (shrinks the blind window), given
    # the key hash of the chain the decision was recorded in
    after_decision: Callable[[str], None] = lambda key_hash: None

    @property
    def region(self) -> str:
        return self.cell.name

    def review_url(self, approval_id: str, token: str | None = None) -> str:
        base = f"{self.cell.function_app_url.rstrip('/')}/api/approvals/{approval_id}/review"
        return f"{base}?t={token}" if token else base


def _send(deps: ApprovalDeps, mail: OutboundMail) -> None:
    if mail.to:
        deps.mailer.send(mail)


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
    stage_policy = stages.stage_policy(request, deps.cell)  # None: no human approval
    policy = stages.policy_or_nobody(stage_policy)
    request = stages.inherit(request, deps.store, deps.cell, deps.stage_state, now, deps.time_scale)
    running = deps.live_revision(deps.region, request.metadata.name)  # read once
    live = running.summary() if running is not None else None
    members = _group_members(policy.approver_groups, deps) if stage_policy else []
    opened = open_approval(
        request, policy, deps.region, now, live, rules=deps.identity, members=members
    )
    opened = stages.staged(opened, request, deps.cell, stage_policy)
    live_version = live.split(" ", 1)[0] if live else None
    # Notes against other pending versions come from the one look-up after the record exists.
    notes = (*opened.notes, *version_notes(opened, (), live_version))
    approval, created = deps.store.create(opened.model_copy(update={"notes": notes}))
    if approval.is_final:
        if stages.auto_approved(approval) and not approval.dispatched:
            return _announce_auto_approval(approval, deps)
        return _ensure_dispatched(approval, deps)
    # Checked after the record exists: a rejection recorded before this point is seen here,
    # one recorded after it finds the record and withdraws it (the invariant, both ways).
    rejected = rejection_of(deps.rejections, approval.artifact, approval.platform_digests)
    if rejected is not None:
        return (
            cancel_request(approval.approval_id, rejected.reason(), deps, notify=False) or approval
        )
    # After the record and its index row exist: of two versions opening at once, at least
    # one sees the other here.
    others = deps.store.pending_for_model(
        deps.region, approval.metadata.name, excluding=approval.approval_id
    )
    full = (*opened.notes, *version_notes(opened, others, live_version))
    if created and full != approval.notes:
        approval = _with_notes(approval, full, deps)
    for older in others:
        # Version order, not arrival order: 1.4.9 never replaces a pending 1.7.0 unless its
        # owner marked it a rollback or hotfix; both then stay, the lower one flagged.
        if older.stage == approval.stage and may_supersede(approval, older):
            _supersede(older, approval, deps)
    _schedule_expiry(approval, deps)
    _notify_approvers(approval, deps, live, running)
    return approval


def _with_notes(approval: Approval, notes: tuple[str, ...], deps: ApprovalDeps) -> Approval:
    """Add the downgrade notes found against other pending versions (before anyone is asked)."""
    for _ in range(5):
        current, etag = deps.store.get(approval.approval_id)
        if current.is_final or current.notes == notes:
            return current
        noted = current.model_copy(update={"notes": notes})
        if deps.store.replace(noted, etag):
            return noted
    return deps.store.get(approval.approval_id)[0]


def _group_members(groups: Sequence[str], deps: ApprovalDeps) -> list[Person]:
    if not groups:
        return []
    if deps.directory is None:
        log.warning("approver groups configured but no directory: members are not mailed")
        return []
    members: list[Person] = []
    for group in groups:
        try:
            users = deps.directory.list_group_members(group)
        except DirectoryError as exc:
            raise TransientError(f"directory: members of group {group}: {exc}") from exc
        members += [
            Person(mail=u.mail, object_id=u.object_id.lower(), via=group.lower())
            for u in users
            if u.mail
        ]
    return members


def _schedule_expiry(approval: Approval, deps: ApprovalDeps, suffix: str = "") -> None:
    deps.bus.send(
        APPROVAL_EXPIRATIONS,
        OutboundMessage.json(
            {"approval_id": approval.approval_id},
            message_id=f"expire-{approval.approval_id}{suffix}",
            scheduled_enqueue_time=approval.expires_at,
        ),
    )


def _asked(approval: Approval) -> tuple[str, ...]:
    """Who was mailed a link (listed approvers and group members, never the excluded)."""
    return tuple(p.mail for p in approval.askable())


def _notify_approvers(
    approval: Approval, deps: ApprovalDeps, live: str | None, running: Revision | None
) -> None:
    asked = approval.askable()  # never the owner, pusher or registrant: they could not vote
    for person in asked:
        token = deps.signer.sign(approval.approval_id, person.mail, approval.expires_at)
        _send(
            deps,
            approver_mail(
                approval, person.mail, deps.review_url(approval.approval_id, token), live
            ),
        )
    if deps.teams is not None:
        deps.teams.post(
            teams_card(
                approval,
                deps.review_url(approval.approval_id),
                live,
                changes(approval, running),
                downgrade(approval, running),
            )
        )
    _record(
        deps,
        approval,
        RecordKind.APPROVAL_NOTIFIED,
        key="notified",
        details={
            "asked": ", ".join(p.mail for p in asked),
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
            to = (*_asked(current), *deps.owner_recipients(current))
            _send(
                deps,
                decision_mail(
                    current.model_copy(update={"state": ApprovalState.SUPERSEDED}),
                    to,
                    f"Version {newer.metadata.version} replaces this request; nothing to do.",
                ),
            )
            return


def cancel_request(
    approval_id: str, reason: Reason, deps: ApprovalDeps, *, notify: bool = True
) -> Approval | None:
    """Withdraw a pending request: state ``cancelled``, the reason recorded, approvers told.

    ``None`` when there is no such request; a final request is left as it is (an approved one
    is then refused by the deployer, which checks the same rejection before every step)."""
    for _ in range(5):
        try:
            current, etag = deps.store.get(approval_id)
        except TerminalError:
            return None
        if current.is_final:
            return current
        cancelled = cancel(current, reason.message, deps.clock())
        if deps.store.replace(cancelled, etag):
            _record(
                deps,
                cancelled,
                RecordKind.APPROVAL_CANCELLED,
                key="cancelled",
                reasons=(reason,),
                details={"state": ApprovalState.CANCELLED.value},
            )
            if notify:
                if deps.teams is not None:
                    deps.teams.post(withdrawn_card(cancelled))
                deps.mailer.send(
                    decision_mail(
                        cancelled,
                        (*current.approvers, current.owner),
                        "This approval request is withdrawn; nothing to do.",
                    )
                )
            log.info("cancelled %s: %s", approval_id, reason.code)
            return cancelled
    return deps.store.get(approval_id)[0]


# -- voting ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class VoteResult:
    approval: Approval
    counted: bool
    refusal: Refusal | None = None


Snapshot = tuple[Approval, str, list[Vote]]  # the record, its ETag, its votes
MAX_VOTE_ATTEMPTS = 20  # each retry means another vote or change committed first


def cast_vote(
    approval_id: str,
    approver: str,
    decision: Decision,
    reason: str | None,
    established_by: EstablishedBy,
    deps: ApprovalDeps,
    groups: Sequence[str] = (),
    *,
    object_id: str | None = None,
    tenant_id: str | None = None,
    display: str | None = None,
    snapshot: Snapshot | None = None,
) -> VoteResult:
    """Count a vote, and decide when it completes the quorum (or rejects).

    ``object_id``/``tenant_id`` are the signed-in principal's (immutable); ``display`` is a
    mutable claim kept for people reading the record, never used to decide. ``snapshot`` is
    what the caller already read (``store.snapshot``): the record is read once per vote.

    Storage decides races: the vote row and the record (decided or unchanged) are written in
    one transaction guarded by the record's ETag, so of two votes read from the same snapshot
    one commits and the other re-reads and counts it (exactly one decision). Then, in order:
    the vote's and the decision's lineage records (handed to the writer together), the
    deployment request (before any mail: a mail failure cannot block or repeat it), the
    owner's mail, and a signed checkpoint requested off this request's path.
    """
    vote = Vote(
        approver=normalise(approver, deps.identity),
        decision=decision,
        at=deps.clock(),
        established_by=established_by,
        reason=reason,
        object_id=object_id,
        tenant_id=tenant_id,
        display=display[:320] if display else None,
    )
    approval, etag, votes = snapshot if snapshot is not None else deps.store.snapshot(approval_id)
    for _ in range(MAX_VOTE_ATTEMPTS):
        refusal = check_vote(approval, votes, vote, groups)
        if refusal is not None:
            _complete_lineage(approval, votes, vote, deps)
            return VoteResult(_ensure_dispatched(approval, deps, etag), False, refusal)
        decided = tally(approval, [*votes, vote], deps.clock())
        withdrawn = None
        if decided.state is ApprovalState.APPROVED:
            withdrawn = rejection_of(deps.rejections, approval.artifact, approval.platform_digests)
            if withdrawn is not None:  # rejected meanwhile: never approved (withdrawn below)
                decided = approval
            else:  # committed with the decision; the pending index row marks it unsent
                decided = decided.model_copy(update={"dispatched": True})
        written = deps.store.record_vote(vote, decided, etag)
        if written is not None:
            break
        # Another vote (or an expiry, a withdrawal) committed first; or this vote was
        # recorded before (a replay): read again and judge the vote against what is there.
        approval, etag, votes = deps.store.snapshot(approval_id)
    else:
        raise TransientError(f"approval {approval_id} too contended; vote again")
    steps = [_vote_record(approval, vote, deps)]
    decision_record = _decision_record(decided, deps)
    if decision_record is not None:
        steps.append(decision_record)
    deps.lineage.append_all(steps)
    if withdrawn is not None:
        return VoteResult(cancel_request(approval_id, withdrawn.reason(), deps) or approval, True)
    if decision_record is None:
        return VoteResult(decided, True)
    decided = _ensure_dispatched(decided, deps, written, fresh=True)
    _tell_owner(decided, deps)
    deps.after_decision(decided.artifact.key_hash)
    return VoteResult(decided, True)


def _complete_lineage(
    approval: Approval, votes: Sequence[Vote], vote: Vote, deps: ApprovalDeps
) -> None:
    """A repeated vote whose stored vote exists: re-append its record and, when it took part
    in the decision, the decision's (idempotency keys: nothing is written twice). Closes the
    gap a process leaves when it stops between the vote's transaction and its records."""
    stored = next(
        (
            v
            for v in votes
            if v.approver == vote.approver or (vote.object_id and v.object_id == vote.object_id)
        ),
        None,
    )
    if stored is None:
        return
    steps = [_vote_record(approval, stored, deps)]
    decision_record = _decision_record(approval, deps)
    if decision_record is not None and stored.approver in approval.decided_by:
        steps.append(decision_record)
    deps.lineage.append_all(steps)


def _entry(
    deps: ApprovalDeps,
    approval: Approval,
    kind: RecordKind,
    *,
    actor: Actor = SYSTEM,
    key: str,
    reasons: Sequence[Reason] = (),
    details: dict[str, str] | None = None,
) -> tuple[LineageRecord, str]:
    record = LineageRecord(
        kind=kind,
        at=deps.clock(),
        region=deps.region,
        actor=actor,
        artifact=approval.artifact,
        correlation=Correlation(approval_id=approval.approval_id),
        reasons=tuple(reasons),
        details=details or {},
    )
    return record, f"{approval.approval_id}|{key}"


def _vote_record(approval: Approval, vote: Vote, deps: ApprovalDeps) -> tuple[LineageRecord, str]:
    return _entry(
        deps,
        approval,
        RecordKind.APPROVAL_VOTE,
        key=f"vote|{vote.approver}",
        actor=Actor(identity=vote.approver, established_by=vote.established_by),
        details={
            "decision": vote.decision,
            **({"reason": vote.reason} if vote.reason else {}),
            **({"object_id": vote.object_id} if vote.object_id else {}),
            **({"tenant_id": vote.tenant_id} if vote.tenant_id else {}),
            **({"display": vote.display} if vote.display else {}),
        },
    )


def _decision_record(approval: Approval, deps: ApprovalDeps) -> tuple[LineageRecord, str] | None:
    if approval.state is ApprovalState.APPROVED:
        return _entry(
            deps,
            approval,
            RecordKind.APPROVAL_APPROVED,
            key="approved",
            details={"approved_by": ", ".join(approval.decided_by)},
        )
    if approval.state is ApprovalState.REJECTED:
        return _entry(
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
    return None


def _announce_auto_approval(approval: Approval, deps: ApprovalDeps) -> Approval:
    """A stage that needs no human approval, approved as it opened: the decision's record,
    then the deployment request, then the owner's mail and the checkpoint (as a vote)."""
    record = _decision_record(approval, deps)
    if record is not None:
        deps.lineage.append_all([record])
    dispatched = _ensure_dispatched(approval, deps)
    _tell_owner(dispatched, deps)
    deps.after_decision(dispatched.artifact.key_hash)
    return dispatched


def _tell_owner(approval: Approval, deps: ApprovalDeps) -> None:
    """The owner's mail, after the deployment request: a mail server that is down loses this
    notice (logged), never the decision nor the deployment."""
    text = (
        "Your model was approved and is being deployed."
        if approval.state is ApprovalState.APPROVED
        else "Your model was rejected."
    )
    try:
        _send(deps, decision_mail(approval, deps.owner_recipients(approval), text))
    except ClearanceError as exc:
        log.error("decision mail for %s not sent: %s", approval.approval_id, exc)


def _ensure_dispatched(
    approval: Approval, deps: ApprovalDeps, etag: str | None = None, *, fresh: bool = False
) -> Approval:
    """Enqueue the deployment request of an approved record (idempotent by message id), then
    drop its pending index row (``fresh``: the caller just decided it, the row is there).
    A record decided before the row was the outbox mark (``dispatched`` False) is marked."""
    if approval.state is not ApprovalState.APPROVED:
        return approval
    if approval.dispatched and not fresh and not deps.store.unsettled(approval):
        return approval
    request = DeploymentRequest(
        approval_id=approval.approval_id,
        region=deps.region,
        artifact=approval.artifact,
        metadata=approval.metadata,
        approved_by=approval.decided_by,
        approved_at=approval.decided_at or deps.clock(),
        platform_digests=approval.platform_digests,
        stage=approval.stage if deps.cell.staged else None,
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
    current = approval
    for _ in range(5 if not approval.dispatched else 0):
        if etag is None:
            current, etag = deps.store.get(approval.approval_id)
        if current.dispatched:
            break
        marked = current.model_copy(update={"dispatched": True})
        if deps.store.replace(marked, etag):
            current = marked
            break
        etag = None
    deps.store.settle(approval)
    return current


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
            silent = [a for a in _asked(approval) if a not in voted]
            _record(
                deps,
                expired,
                RecordKind.APPROVAL_EXPIRED,
                key="expired",
                details={"did_not_answer": ", ".join(silent), "voted": ", ".join(sorted(voted))},
            )
            _send(
                deps,
                decision_mail(
                    expired,
                    (*deps.owner_recipients(expired), *_asked(expired)),
                    "This approval request expired before enough approvers answered.",
                ),
            )
            return expired
    return deps.store.get(approval_id)[0]
