"""What auditor queries answer: records in their chain position, what is live, pages of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from shared.domain.lineage.chain import Link
from shared.domain.lineage.record import ArtifactRef, LineageRecord, RecordKind

T = TypeVar("T")


class AuditEntry(BaseModel):
    """One record with the proof of its place: region, chain, sequence, hashes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    region: str
    key_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    seq: int = Field(ge=1)
    hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    prev_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    role: str | None = None  # by-actor: how the identity took part (actor, asked, pushed)
    record: LineageRecord

    @classmethod
    def of(cls, region: str, key_hash: str, link: Link, role: str | None = None) -> AuditEntry:
        return cls(
            region=region,
            key_hash=key_hash,
            seq=link.seq,
            hash=link.hash,
            prev_hash=link.prev_hash,
            role=role,
            record=link.record,
        )

    def proves_itself(self) -> bool:
        """The record, its position and predecessor hash to the hash it claims (offline check)."""
        return Link.make(self.seq, self.prev_hash, self.record).hash == self.hash


class LiveEntry(BaseModel):
    """What runs in a region now for one model, since when, and the record that says so."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    region: str
    model: str
    since: datetime
    entry: AuditEntry

    @property
    def record(self) -> LineageRecord:
        return self.entry.record

    @property
    def stage(self) -> str | None:
        """The stage it runs in (from the verified record; None in a region without stages)."""
        return self.entry.record.details.get("stage") or None


@dataclass(frozen=True)
class IndexedArtifact:
    """An artifact as the ``artifacts`` and name indexes know it."""

    key_hash: str
    artifact: ArtifactRef
    first_at: datetime | None
    version: str | None = None
    tag: str | None = None


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    continuation: str | None = None


@dataclass(frozen=True)
class ArtifactSummary:
    """The auditor's short answers about one artifact, derived from its history."""

    artifact_key: str
    pushed_by: list[str] = field(default_factory=list)
    asked: list[str] = field(default_factory=list)
    voted: dict[str, str] = field(default_factory=dict)  # identity -> decision
    did_not_answer: list[str] = field(default_factory=list)
    approved_by: list[str] = field(default_factory=list)
    rejections: list[str] = field(default_factory=list)
    deployed: list[str] = field(default_factory=list)
    rolled_back: list[str] = field(default_factory=list)
    final_kind: RecordKind | None = None
    # Metric analysis, one line per gate: its latest verdict and how many measurements it took.
    analyses: list[str] = field(default_factory=list)


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.replace(";", ",").split(",") if v.strip()]


def _analyses(entries: list[AuditEntry]) -> list[str]:
    gates: dict[tuple[str, str], tuple[str, int]] = {}
    for e in entries:
        r = e.record
        if r.kind is RecordKind.DEPLOYMENT_ANALYSED:
            key = (r.correlation.deployment_id or "", r.details.get("gate", ""))
            _, count = gates.get(key, ("", 0))
            gates[key] = (r.details.get("verdict", ""), count + 1)
    return [
        f"{gate}: {verdict} ({count} record(s), {deployment})"
        for (deployment, gate), (verdict, count) in gates.items()
    ]


def _where(e: AuditEntry) -> str:
    """The region, and the stage in a region with stages: ``westeurope (staging)``."""
    stage = e.record.details.get("stage")
    return f"{e.region} ({stage})" if stage else e.region


def summarise(entries: list[AuditEntry]) -> ArtifactSummary:
    """Who pushed, who was asked, who voted how, who never answered, what was rejected/rolled back.

    Reads the conventions of docs/lineage.md ("Writing records"): ``details.pushed_by`` on any
    record, ``details.asked`` on approval.notified, votes as approval.vote records by their
    actor with ``details.decision``.
    """
    if not entries:
        raise ValueError("no records to summarise")
    s = ArtifactSummary(artifact_key=entries[0].record.artifact.key)
    for e in entries:
        r = e.record
        pushers = r.details.get("pushed_by", "") + "," + r.details.get("registered_by", "")
        for who in _split(pushers):  # an AML model's registrant pushed it, in effect
            if who not in s.pushed_by:
                s.pushed_by.append(who)
        if r.kind is RecordKind.APPROVAL_NOTIFIED:
            s.asked.extend(w for w in _split(r.details.get("asked", "")) if w not in s.asked)
        elif r.kind is RecordKind.APPROVAL_VOTE:
            s.voted[r.actor.identity] = r.details.get("decision", "voted")
        elif r.kind is RecordKind.APPROVAL_APPROVED:
            s.approved_by.extend(_split(r.details.get("approved_by", "")) or [r.actor.identity])
        elif r.kind in (
            RecordKind.ARTIFACT_REJECTED,
            RecordKind.APPROVAL_REJECTED,
            RecordKind.APPROVAL_CANCELLED,
        ):
            why = "; ".join(f"{x.code}: {x.message}" for x in r.reasons) or "no reason recorded"
            s.rejections.append(f"{r.kind} by {r.actor.identity}: {why}")
        elif r.kind is RecordKind.DEPLOYMENT_SUCCEEDED:
            s.deployed.append(f"{_where(e)} since {r.at:%Y-%m-%d %H:%M:%S} UTC")
        elif r.kind is RecordKind.DEPLOYMENT_ROLLED_BACK:
            why = "; ".join(x.message for x in r.reasons) or r.details.get("reason", "")
            s.rolled_back.append(f"{_where(e)} at {r.at:%Y-%m-%d %H:%M:%S} UTC {why}".strip())
    s.analyses.extend(_analyses(entries))
    voted = {v.casefold() for v in s.voted}
    s.did_not_answer.extend(w for w in s.asked if w.casefold() not in voted)
    return ArtifactSummary(**{**s.__dict__, "final_kind": entries[-1].record.kind})
