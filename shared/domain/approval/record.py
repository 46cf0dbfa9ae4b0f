"""Approvals: the record, its state machine, quorum and separation of duties. Pure.

``pending -> approved | rejected | expired | superseded | cancelled``; every other state is
final. Votes are their own facts: one per approver, counted once however often it is replayed.
The model owner and the identity that pushed or registered the artifact can never approve it.
Every comparison is between canonical identities (``shared.domain.identity``); where the
directory or the catalog gives an Entra object id, a signed-in voter is matched by that id
(and tenant), never by a mutable e-mail claim.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.domain.approval.request import ApprovalRequest
from shared.domain.catalog import ApprovalPolicy
from shared.domain.identity import DEFAULT_RULES, IdentityRules, canonical_identity
from shared.domain.lineage.record import ArtifactRef
from shared.domain.metadata.model import ModelMetadata
from shared.domain.metadata.versions import is_lower
from shared.domain.supply_chain.verdict import SupplyChainEvidence


class ApprovalState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"
    CANCELLED = "cancelled"


Decision = Literal["approve", "reject"]
EstablishedBy = Literal["signed_link", "easy_auth"]


def normalise(identity: str, rules: IdentityRules = DEFAULT_RULES) -> str:
    return canonical_identity(identity, rules)


class Person(BaseModel):
    """Someone who may be asked: a canonical address, and the Entra object id when known."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mail: str
    object_id: str | None = None
    via: str = "listed"  # "listed" (the policy names them) or the group id they belong to


class Vote(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    approver: str
    decision: Decision
    at: datetime
    established_by: EstablishedBy
    reason: str | None = Field(default=None, max_length=2000)
    object_id: str | None = None  # the signed-in principal's immutable ids, when signed in
    tenant_id: str | None = None
    display: str | None = Field(default=None, max_length=320)  # a mutable claim, shown only


class Approval(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    approval_id: str
    region: str
    artifact: ArtifactRef
    metadata: ModelMetadata
    pushed_by: str | None = None
    registered_by: str | None = None  # the Azure ML registrant (creation_context.created_by)
    excluded_object_ids: tuple[str, ...] = ()  # object ids of the pusher / registrant
    owner_identity: str | None = None  # the owner label, canonical under the catalog's rules
    approvers: tuple[str, ...]
    approver_groups: tuple[str, ...] = ()
    people: tuple[Person, ...] = ()  # listed approvers and group members, resolved at opening
    min_approvals: int
    require_sign_in: bool
    created_at: datetime
    expires_at: datetime
    state: ApprovalState = ApprovalState.PENDING
    decided_at: datetime | None = None
    decided_by: tuple[str, ...] = ()
    decision_reason: str | None = None
    superseded_by: str | None = None
    replaces: str | None = None
    dispatched: bool = False  # the deployment request of an approved record was enqueued
    notes: tuple[str, ...] = ()  # shown to approvers on the card, the mail and the review page
    supply_chain: SupplyChainEvidence | None = None  # as verified at intake
    # An index's platform manifests (what the index deploys): a later rejection of any of them,
    # through another index, forbids this artifact too.
    platform_digests: tuple[Annotated[str, Field(pattern=r"^sha256:[0-9a-f]{64}$")], ...] = Field(
        default=(), max_length=64
    )
    stage: str | None = None  # the region's stage it approves (None: a region without stages)

    @property
    def owner(self) -> str:
        return self.owner_identity or normalise(str(self.metadata.owner))

    @property
    def excluded(self) -> frozenset[str]:
        """Canonical identities separation of duties keeps away from this approval."""
        return frozenset(i for i in (self.owner, self.pushed_by, self.registered_by) if i)

    def person(self, mail: str | None = None, object_id: str | None = None) -> Person | None:
        for p in self.people:
            if object_id is not None and p.object_id == object_id:
                return p
        if mail is not None:
            return next((p for p in self.people if p.mail == mail), None)
        return None

    def askable(self) -> tuple[Person, ...]:
        """Everyone to mail a personal link: never the owner, pusher or registrant."""
        seen: dict[str, Person] = {}
        for p in self.people or tuple(Person(mail=a) for a in self.approvers):
            if p.mail in self.excluded or (p.object_id or "") in self.excluded_object_ids:
                continue
            seen.setdefault(p.mail, p)
        return tuple(seen.values())

    @property
    def is_final(self) -> bool:
        return self.state is not ApprovalState.PENDING


def approval_id_for(artifact: ArtifactRef, region: str) -> str:
    digest = hashlib.sha256(f"{artifact.key}|{region}".encode()).hexdigest()
    return f"apr-{digest[:32]}"


def open_approval(
    request: ApprovalRequest,
    policy: ApprovalPolicy,
    region: str,
    now: datetime,
    replaces: str | None = None,
    *,
    rules: IdentityRules = DEFAULT_RULES,
    members: Sequence[Person] = (),
) -> Approval:
    """``members`` are the policy's groups' transitive members, as the directory gave them."""
    approvers = tuple(sorted({normalise(str(a), rules) for a in policy.approvers}))
    ids = dict(policy.approver_object_ids)
    listed = [
        Person(
            mail=a, object_id=next((v for k, v in ids.items() if normalise(k, rules) == a), None)
        )
        for a in approvers
    ]
    grouped = [m.model_copy(update={"mail": normalise(m.mail, rules)}) for m in members]
    return Approval(
        approval_id=approval_id_for(request.artifact, region),
        region=region,
        artifact=request.artifact,
        metadata=request.metadata,
        pushed_by=normalise(request.pushed_by, rules) if request.pushed_by else None,
        registered_by=normalise(request.registered_by, rules) if request.registered_by else None,
        excluded_object_ids=tuple(i for i in (request.registered_by_object_id,) if i),
        owner_identity=normalise(str(request.metadata.owner), rules),
        approvers=approvers,
        people=tuple(listed + grouped),
        approver_groups=tuple(g.lower() for g in policy.approver_groups),
        supply_chain=request.supply_chain,
        platform_digests=request.platform_digests,
        min_approvals=policy.min_approvals,
        require_sign_in=policy.require_sign_in,
        created_at=now,
        expires_at=now + timedelta(hours=policy.expiry_hours),
        replaces=replaces,
        notes=request.notes,
    )


class Refusal(StrEnum):
    """Why a vote changes nothing. Each is explained to the voter, none is an error loop."""

    FINAL = "final"
    EXPIRED = "expired"
    NOT_AN_APPROVER = "not_an_approver"
    OWNER = "owner"
    PUSHER = "pusher"
    REGISTRANT = "registrant"
    ALREADY_VOTED = "already_voted"
    WRONG_PRINCIPAL = "wrong_principal"


def eligibility(
    approval: Approval,
    voter: str,
    groups: Sequence[str] = (),
    object_id: str | None = None,
) -> Refusal | None:
    """Separation of duties first: it holds even for a listed approver.

    ``voter`` is a canonical identity; ``object_id`` the signed-in principal's (None for a
    signed link alone); ``groups`` the approver groups the directory confirms it belongs to.
    """
    who = normalise(voter)
    if who == approval.owner:
        return Refusal.OWNER
    if approval.pushed_by is not None and who == approval.pushed_by:
        return Refusal.PUSHER
    if approval.registered_by is not None and who == approval.registered_by:
        return Refusal.REGISTRANT
    if object_id is not None and object_id in approval.excluded_object_ids:
        return Refusal.REGISTRANT
    known = approval.person(mail=who)
    if object_id is not None and known is not None and known.object_id not in (None, object_id):
        return Refusal.WRONG_PRINCIPAL  # the address is someone else's: ids are immutable
    listed = who in approval.approvers or known is not None
    if object_id is not None:
        listed = listed or approval.person(object_id=object_id) is not None
    in_group = bool(set(approval.approver_groups) & {g.lower() for g in groups})
    if not (listed or in_group):
        return Refusal.NOT_AN_APPROVER
    return None


@dataclass(frozen=True)
class Outcome:
    """The approval after a vote, and whether this vote was counted."""

    approval: Approval
    counted: bool
    refusal: Refusal | None = None

    @property
    def decided_now(self) -> bool:
        return self.counted and self.approval.is_final


def tally(approval: Approval, votes: Sequence[Vote], now: datetime) -> Approval:
    """The state the votes lead to: one rejection rejects, ``min_approvals`` distinct approve."""
    if approval.is_final:
        return approval
    distinct: dict[str, Vote] = {}
    for v in sorted(votes, key=lambda v: v.at):  # one person, one vote: by address and by id
        key = next(
            (k for k, d in distinct.items() if v.object_id and d.object_id == v.object_id),
            v.approver,
        )
        distinct.setdefault(key, v)
    rejections = [v for v in distinct.values() if v.decision == "reject"]
    if rejections:
        first = rejections[0]
        return approval.model_copy(
            update={
                "state": ApprovalState.REJECTED,
                "decided_at": now,
                "decided_by": (first.approver,),
                "decision_reason": first.reason,
            }
        )
    approvals = sorted(
        (v for v in distinct.values() if v.decision == "approve"), key=lambda v: v.at
    )
    if len(approvals) >= approval.min_approvals:
        return approval.model_copy(
            update={
                "state": ApprovalState.APPROVED,
                "decided_at": now,
                "decided_by": tuple(v.approver for v in approvals),
            }
        )
    return approval


def check_vote(
    approval: Approval, existing: Sequence[Vote], vote: Vote, groups: Sequence[str] = ()
) -> Refusal | None:
    """Why ``vote`` cannot be counted, or None. Pure: storage decides atomically afterwards."""
    if approval.is_final:
        return Refusal.FINAL
    if vote.at >= approval.expires_at:
        return Refusal.EXPIRED
    refusal = eligibility(approval, vote.approver, groups, vote.object_id)
    if refusal is not None:
        return refusal
    if any(v.approver == normalise(vote.approver) for v in existing):
        return Refusal.ALREADY_VOTED
    if vote.object_id is not None and any(v.object_id == vote.object_id for v in existing):
        return Refusal.ALREADY_VOTED
    return None


def expire(approval: Approval, now: datetime) -> Approval:
    if approval.is_final or now < approval.expires_at:
        return approval
    return approval.model_copy(update={"state": ApprovalState.EXPIRED, "decided_at": now})


def supersede(approval: Approval, newer_id: str, now: datetime) -> Approval:
    if approval.is_final:
        return approval
    return approval.model_copy(
        update={
            "state": ApprovalState.SUPERSEDED,
            "decided_at": now,
            "superseded_by": newer_id,
        }
    )


def cancel(approval: Approval, reason: str, now: datetime) -> Approval:
    """Withdraw a pending request (its artifact was rejected after it was opened)."""
    if approval.is_final:
        return approval
    return approval.model_copy(
        update={"state": ApprovalState.CANCELLED, "decided_at": now, "decision_reason": reason}
    )


def version_notes(
    approval: Approval, pending: Sequence[Approval], live_version: str | None
) -> tuple[str, ...]:
    """Downgrades approvers must see: below a pending request's version, or below what is live."""
    version = approval.metadata.version
    intent = approval.metadata.version_intent
    marked = f" (marked {intent} by the owner)" if intent else ""
    notes = [
        f"Downgrade: {version} is lower than {p.metadata.version}, which is also waiting for "
        f"approval{marked}."
        for p in pending
        if p.approval_id != approval.approval_id and is_lower(version, p.metadata.version)
    ]
    if live_version and is_lower(version, live_version):
        notes.append(f"Downgrade: {version} is lower than {live_version}, which is live{marked}.")
    return tuple(dict.fromkeys(notes))


def may_supersede(newer: Approval, older: Approval) -> bool:
    """A later request replaces a pending one unless it is a lower version that its owner did
    not mark as a rollback or hotfix (versions without an order keep arrival order)."""
    if older.created_at > newer.created_at:
        return False
    if is_lower(newer.metadata.version, older.metadata.version):
        return newer.metadata.version_intent is not None
    return True
