"""Which revision(s) served a model in a region at a moment, and with what share of traffic.

Replayed from the deployment records, oldest first, up to the moment: a ``deployment.started``
record of a step names the traffic it gives the candidate from then on (``canary-<w>``: w %,
``shadow``: mirrored, its answers discarded, ``deploy-<colour>``: none yet, ``switch``,
``promote`` and ``restore``: all); ``deployment.succeeded`` makes its revision the stable one;
``deployment.rolled_back`` takes the candidate's traffic back. Each answer names the records it
rests on (chain and sequence), so an auditor can verify them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime

from shared.domain.lineage.record import RecordKind
from shared.domain.lineage.views import AuditEntry

_CANARY = re.compile(r"^canary-([0-9]{1,3})$")
_ALL = {"switch", "promote", "restore"}


@dataclass(frozen=True)
class ServedRevision:
    version: str
    identity: str
    weight: int  # percent of requests this revision answered
    role: str  # stable, canary, shadow (mirrored, answers discarded), idle, candidate
    since: datetime
    deployment_id: str
    evidence: str  # "<key hash>#<seq>" of the record this rests on
    mirrored: int = 0  # percent of requests copied to a shadow


@dataclass(frozen=True)
class Served:
    model: str
    region: str
    at: datetime
    revisions: list[ServedRevision] = field(default_factory=list)
    stage: str | None = None  # None: every deployment record of the region


def _version(entry: AuditEntry) -> str:
    r = entry.record
    return r.details.get("version") or r.artifact.version or r.artifact.tag or ""


def _identity(entry: AuditEntry) -> str:
    a = entry.record.artifact
    if a.kind == "image":
        return a.digest or ""
    return f"azureml:{a.model}:{a.version}"


def _evidence(entry: AuditEntry) -> str:
    return f"{entry.key_hash}#{entry.seq}"


def served_at(
    model: str,
    region: str,
    at: datetime,
    entries: Iterable[AuditEntry],
    stage: str | None = None,
) -> Served:
    """``stage``: only that stage's deployment records (``details.stage``; a region without
    stages writes none, so ask it without a stage)."""
    stable: ServedRevision | None = None
    candidate: ServedRevision | None = None
    ordered = sorted(
        (
            e
            for e in entries
            if e.region == region
            and e.record.at <= at
            and (stage is None or e.record.details.get("stage") == stage)
        ),
        key=lambda e: (e.record.at, e.key_hash, e.seq),
    )
    for e in ordered:
        r, dep = e.record, e.record.correlation.deployment_id or ""
        if r.kind is RecordKind.DEPLOYMENT_SUCCEEDED:
            stable = ServedRevision(
                _version(e), _identity(e), 100, "stable", r.at, dep, _evidence(e)
            )
            candidate = None
        elif r.kind is RecordKind.DEPLOYMENT_ROLLED_BACK:
            if candidate is not None and candidate.deployment_id == dep:
                candidate = None
        elif r.kind is RecordKind.DEPLOYMENT_STARTED and r.details.get("step"):
            step, role = r.details["step"], _role(r.details["step"])
            same = candidate is not None and candidate.deployment_id == dep
            since = candidate.since if same and candidate and candidate.role == role else r.at
            weight, mirrored = _traffic(step, r.details.get("traffic", ""))
            candidate = ServedRevision(
                _version(e), _identity(e), weight, role, since, dep, _evidence(e), mirrored
            )
    revisions: list[ServedRevision] = []
    share = candidate.weight if candidate is not None else 0
    if stable is not None and share < 100:
        revisions.append(replace(stable, weight=100 - share))
    if candidate is not None:
        revisions.append(candidate)
    return Served(model, region, at, revisions, stage)


def _role(step: str) -> str:
    if _CANARY.match(step):
        return "canary"
    if step == "shadow":
        return "shadow"
    if step.startswith("deploy-"):
        return "idle"
    return "candidate"


def _traffic(step: str, traffic: str) -> tuple[int, int]:
    """(share of answers, share mirrored) the candidate has from this step on; ``traffic`` is
    the step's weight as the started record gives it."""
    canary = _CANARY.match(step)
    if canary:
        return min(int(canary.group(1)), 100), 0
    if step == "shadow":
        digits = traffic.isascii() and traffic.isdigit()  # not "²", which int() refuses
        return 0, int(traffic) if digits and int(traffic) <= 100 else 0
    if step in _ALL or step == "retire":
        return 100, 0
    return 0, 0
