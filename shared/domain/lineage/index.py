"""What a record is indexed under, so that every auditor question reads known partitions.

Partition keys (one table per cell; see docs/lineage.md):

- ``c|<artifact key hash>``  the chain: ``seq-…`` rows, the ``head`` row, ``idem-…`` markers
- ``artifacts``               one row per chain, row key ``<artifact key hash>`` (what exists;
                              drives snapshots and ``verify --all``), and the artifacts by model
                              name / repository, row key ``n|<sha256(name)>|<artifact key hash>``
                              (``history``): one partition, so a record's catalog rows are one
                              entity-group transaction
- ``n|<sha256(name)>``        the name rows of records written before 2026-12-04 (read, never
                              written)
- ``t|<yyyymmdd>``            records by UTC day (``list --since --until``)
- ``artifacts`` again          records by the identities involved (``by-actor``), row key
                              ``x|<sha256(identity)>|<moment>|<role>``
- ``x|<sha256(identity)>``    the by-actor rows of records written before 2026-12-04 (read and
                              verified, never written)
- ``d|<sha256(model)>``       deployments and rollbacks of one model (feeds ``live``)
- ``live``                    what runs in this region now, one row per model and
                              non-production stage (``live``)

Names and identities are hashed into keys because table keys may not contain ``/ \\ # ?``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.domain.lineage.chain import utc_iso
from shared.domain.lineage.record import LineageRecord, RecordKind

ARTIFACTS = "artifacts"
LIVE = "live"
HEAD_ROW = "head"
IDEMPOTENCY_PREFIX = "idem-"
DEPLOYMENT_KINDS = frozenset(
    {
        RecordKind.DEPLOYMENT_SUCCEEDED,
        RecordKind.DEPLOYMENT_ROLLED_BACK,
        RecordKind.DEPLOYMENT_REMOVED,
    }
)
PRODUCTION_DETAIL = "production"  # "false" on deployment records of a non-production stage
SERVICE_ESTABLISHED = frozenset({"event_grid", "managed_identity", "system"})
# details keys that list identities who were involved without acting (comma separated)
_IDENTITY_LISTS = {"asked": "asked", "pushed_by": "pushed", "registered_by": "pushed"}
_SEPARATORS = re.compile(r"[,;\s]+")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def normalise_name(name: str) -> str:
    return name.strip().casefold()


def normalise_identity(identity: str) -> str:
    return identity.strip().casefold()


def chain_partition(key_hash: str) -> str:
    return f"c|{key_hash}"


NAME_ROW_PREFIX = "n|"  # sorts after every artifact row (hex digits) of ``artifacts``


def name_row_key(name: str, key_hash: str) -> str:
    """The row of artifact ``key_hash`` under ``name`` in the ``artifacts`` partition."""
    return f"{NAME_ROW_PREFIX}{_digest(normalise_name(name))}|{key_hash}"


def name_row_range(name: str) -> tuple[str, str]:
    """[lo, hi) of the name's rows in the ``artifacts`` partition (``}`` follows ``|``)."""
    stem = f"{NAME_ROW_PREFIX}{_digest(normalise_name(name))}"
    return f"{stem}|", f"{stem}}}"


def legacy_name_partition(name: str) -> str:
    """Where name rows were written before they joined the ``artifacts`` partition."""
    return f"n|{_digest(normalise_name(name))}"


def day_partition(at: datetime) -> str:
    return f"t|{utc_iso(at)[:10].replace('-', '')}"


ACTOR_ROW_PREFIX = "x|"


def legacy_actor_partition(identity: str) -> str:
    """Where by-actor rows were written before they joined the ``artifacts`` partition; also
    the stem of their row keys there."""
    return f"{ACTOR_ROW_PREFIX}{_digest(normalise_identity(identity))}"


def actor_row_key(identity: str, at: datetime, key_hash: str, seq: int, role: str) -> str:
    """``x|<sha256(identity)>|<moment>|<role>`` in the ``artifacts`` partition."""
    return f"{legacy_actor_partition(identity)}|{moment_row_key(at, key_hash, seq, role)}"


def actor_row_range(identity: str) -> tuple[str, str]:
    """[lo, hi) of the identity's rows in the ``artifacts`` partition, in time order."""
    stem = legacy_actor_partition(identity)
    return f"{stem}|", f"{stem}}}"


def former_address(partition: str, row_key: str) -> tuple[str, str] | None:
    """Where the row at a current address was written before the ``artifacts`` partition held
    by-actor rows (the inverse of ``current_address``); None for every other row."""
    if partition != ARTIFACTS or not row_key.startswith(ACTOR_ROW_PREFIX):
        return None
    parts = row_key.split("|", 2)
    if len(parts) != 3 or not parts[1] or not parts[2]:
        return None
    return f"{ACTOR_ROW_PREFIX}{parts[1]}", parts[2]


def current_address(partition: str, row_key: str) -> tuple[str, str]:
    """Where a row of the former layout lives now: a by-actor row ``(x|<identity>, key)`` is
    ``(artifacts, x|<identity>|key)``; any other address is unchanged."""
    if partition.startswith(ACTOR_ROW_PREFIX):
        return ARTIFACTS, f"{partition}|{row_key}"
    return partition, row_key


def deployment_partition(model: str) -> str:
    return f"d|{_digest(normalise_name(model))}"


def live_row_key(model: str, stage: str | None = None) -> str:
    """The model's own row (unstaged regions, a region's production stage), or one row per
    non-production stage. A newline cannot occur in a model or stage name."""
    name = normalise_name(model)
    return _digest(name if stage is None else f"{name}\n{normalise_name(stage)}")


def idempotency_row_key(idempotency_key: str) -> str:
    return IDEMPOTENCY_PREFIX + _digest(idempotency_key)


def moment_row_key(at: datetime, key_hash: str, seq: int, suffix: str = "") -> str:
    """Time-ordered and unique: ``<UTC time>|<artifact>|<seq>[|suffix]``."""
    base = f"{utc_iso(at)}|{key_hash}|{seq:010d}"
    return f"{base}|{suffix}" if suffix else base


def model_of(record: LineageRecord) -> str | None:
    """The model a record is about: the AML name, a writer's ``details[model]``, or the
    image repository's last segment (images carry no model name until a writer adds it)."""
    a = record.artifact
    if a.model:
        return a.model
    if record.details.get("model"):
        return record.details["model"]
    if a.repository:
        return a.repository.rsplit("/", 1)[-1]
    return None


def live_stage(record: LineageRecord) -> str | None:
    """The non-production stage whose live row a deployment record feeds; None for the model's
    own row. Deployers mark records of a non-production stage ``details[production]=false``;
    records without the mark (unstaged regions, the production stage, records written before
    the mark existed) keep feeding the model's own row."""
    stage = record.details.get("stage")
    if stage and record.details.get(PRODUCTION_DETAIL) == "false":
        return stage
    return None


LiveScope = tuple[str, str | None]  # (model, non-production stage or None)


def live_scope(record: LineageRecord) -> LiveScope | None:
    """Which live row a record changes, or None when it changes none."""
    model = model_of(record)
    if record.kind in DEPLOYMENT_KINDS and model:
        return (model, live_stage(record))
    return None


def version_of(record: LineageRecord) -> str | None:
    return record.artifact.version or record.details.get("version") or None


def names_of(record: LineageRecord) -> list[str]:
    """Every name ``history`` finds the artifact by (model name, repository, its last segment)."""
    a = record.artifact
    basename = a.repository.rsplit("/", 1)[-1] if a.repository else None
    found = [a.model, record.details.get("model"), a.repository, basename]
    out: list[str] = []
    for name in found:
        if name and normalise_name(name) not in {normalise_name(n) for n in out}:
            out.append(name)
    return out


def identities_of(record: LineageRecord) -> list[tuple[str, str]]:
    """(identity, role) pairs: a person acting, and the identities a step names (asked, pushed).

    Service identities (Event Grid, managed identities, the system) act in nearly every record;
    indexing them would only build one ever-growing partition per cell that repeats the time
    index. Their steps are found with ``list --kind``.
    """
    pairs = []
    if record.actor.established_by not in SERVICE_ESTABLISHED:
        pairs.append((record.actor.identity, "actor"))
    for key, role in _IDENTITY_LISTS.items():
        for identity in _SEPARATORS.split(record.details.get(key, "")):
            if identity and (identity, role) not in pairs:
                pairs.append((identity, role))
    seen: set[str] = set()
    unique = []
    for identity, role in pairs:
        marker = f"{normalise_identity(identity)}|{role}"
        if marker not in seen:
            seen.add(marker)
            unique.append((identity, role))
    return unique


@dataclass(frozen=True)
class DeploymentEvent:
    """A deployment log entry: one succeeded or rolled-back deployment of a model."""

    at: datetime
    kind: RecordKind
    key_hash: str
    seq: int

    @property
    def order(self) -> tuple[str, str, int]:
        return (utc_iso(self.at), self.key_hash, self.seq)


def current_live(events: Iterable[DeploymentEvent]) -> DeploymentEvent | None:
    """What is live after these events, independent of the order they were written in.

    Replayed in time order: a success puts its artifact on top (moving it if it was there
    before), a rollback removes its artifact, and the top is what runs. So rolling back the
    live version restores the one before it, and rolling back a version that never went live
    changes nothing. A removal (an expired non-production deployment taken out of its stage)
    empties the stack: nothing runs there until the next success.
    """
    stack: list[DeploymentEvent] = []
    for event in sorted(events, key=lambda e: e.order):
        if event.kind is RecordKind.DEPLOYMENT_REMOVED:
            stack = []
            continue
        stack = [e for e in stack if e.key_hash != event.key_hash]
        if event.kind is RecordKind.DEPLOYMENT_SUCCEEDED:
            stack.append(event)
    return stack[-1] if stack else None


def window_days(since: datetime, until: datetime) -> Sequence[str]:
    """The ``t|…`` partitions a [since, until) window reads, oldest first."""
    if until <= since:
        return []
    days, day = [], since
    last = day_partition(until - timedelta(microseconds=1))
    while True:
        part = day_partition(day)
        days.append(part)
        if part >= last:
            return days
        day += timedelta(days=1)
