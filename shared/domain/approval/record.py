"""Approvals: the record, its state machine, quorum and separation of duties. Pure.

``pending -> approved | rejected | expired | superseded | cancelled``; every other state is
final. Votes are their own facts: one per approver, counted once however often it is replayed.
The model owner and the identity that pushed or registered the artifact can never approve it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.domain.approval.request import ApprovalRequest
from shared.domain.catalog import ApprovalPolicy
from shared.domain.lineage.record import ArtifactRef
from shared.domain.metadata.model import ModelMetadata
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


def normalise(identity: str) -> str:
    return identity.strip().lower()


class Vote(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    approver: str
    decision: Decision
    at: datetime
    established_by: EstablishedBy
    reason: str | None = Field(default=None, max_length=2000)


class Approval(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    approval_id: str
    region: str
    artifact: ArtifactRef
    metadata: ModelMetadata
    pushed_by: str | None = None
    approvers: tuple[str, ...]
    approver_groups: tuple[str, ...] = ()
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
    supply_chain: SupplyChainEvidence | None = None  # as verified at intake

    @property
    def owner(self) -> str:
        return normalise(str(self.metadata.owner))

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
) -> Approval:
    return Approval(
        approval_id=approval_id_for(request.artifact, region),
        region=region,
        artifact=request.artifact,
        metadata=request.metadata,
        pushed_by=normalise(request.pushed_by) if request.pushed_by else None,
        supply_chain=request.supply_chain,
        approvers=tuple(sorted({normalise(str(a)) for a in policy.approvers})),
        approver_groups=tuple(policy.approver_groups),
        min_approvals=policy.min_approvals,
        require_sign_in=policy.require_sign_in,
        created_at=now,
        expires_at=now + timedelta(hours=policy.expiry_hours),
        replaces=replaces,
    )


class Refusal(StrEnum):
    """Why a vote changes nothing. Each is explained to the voter, none is an error loop."""

    FINAL = "final"
    EXPIRED = "expired"
    NOT_AN_APPROVER = "not_an_approver"
    OWNER = "owner"
    PUSHER = "pusher"
    ALREADY_VOTED = "already_voted"


def eligibility(approval: Approval, voter: str, groups: Sequence[str] = ()) -> Refusal | None:
    """Separation of duties first: it holds even for a listed approver."""
    who = normalise(voter)
    if who == approval.owner:
        return Refusal.OWNER
    if approval.pushed_by is not None and who == approval.pushed_by:
        return Refusal.PUSHER
    listed = who in approval.approvers
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
    distinct = {v.approver: v for v in sorted(votes, key=lambda v: v.at)}
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
    refusal = eligibility(approval, vote.approver, groups)
    if refusal is not None:
        return refusal
    if any(v.approver == normalise(vote.approver) for v in existing):
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
