"""The checkpoint trail: which stored checkpoints are genuine, and which one anchors the chains.

Anyone who can write the storage account can add blobs under ``heads/`` (immutable storage
stops overwrites and deletes, not new blobs), so nothing here trusts a blob's name, order or
content until its signature verifies with the cell's public key. Among the validly signed
checkpoints of this region the newest (by its signed time) anchors verification, and the walk
follows predecessor digests from it back to the first checkpoint. Everything else is reported
by name and counted, and verification still runs on the genuine trail:

- ``forged``: not a checkpoint, another region's, or a signature that does not verify;
- ``replayed``: a genuine checkpoint copied to a name it was not written under;
- ``fork``: a second signed checkpoint naming the same predecessor as one on the trail;
- ``orphan``: signed, but not on the trail (its successor or predecessor is gone);
- ``gap``: a checkpoint on the trail whose predecessor is missing (deleted where WORM is off).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from shared.domain.lineage.heads import (
    CheckpointFormatError,
    SignedCheckpoint,
    checkpoint_blob_name,
    parse_blob,
)

# (payload, signature, key id) -> does the signature verify with the cell's public key?
SignatureCheck = Callable[[bytes, bytes, str], bool]


class Anomaly(StrEnum):
    FORGED = "forged"
    REPLAYED = "replayed"
    FORK = "fork"
    ORPHAN = "orphan"
    GAP = "gap"


@dataclass(frozen=True)
class TrailAnomaly:
    kind: Anomaly
    name: str  # the blob
    detail: str

    def describe(self) -> str:
        return f"{self.kind} checkpoint {self.name[:200]!r}: {self.detail}"


@dataclass(frozen=True)
class CheckpointTrail:
    trail: list[SignedCheckpoint]  # newest first: the genuine chain of checkpoints
    anomalies: list[TrailAnomaly] = field(default_factory=list)
    blobs: int = 0

    @property
    def newest(self) -> SignedCheckpoint | None:
        return self.trail[0] if self.trail else None


def resolve_trail(
    blobs: Iterable[tuple[str, bytes]], region: str, genuine: SignatureCheck
) -> CheckpointTrail:
    """Sort the stored blobs into the genuine trail and the anomalies (see the module doc)."""
    anomalies: list[TrailAnomaly] = []
    signed: dict[str, SignedCheckpoint] = {}
    count = 0
    for name, raw in blobs:
        count += 1
        found = _genuine(name, raw, region, genuine, anomalies)
        if found is None:
            continue
        expected = checkpoint_blob_name(found.checkpoint.taken_at, found.digest)
        if name != expected or found.digest in signed:
            anomalies.append(
                TrailAnomaly(
                    Anomaly.REPLAYED,
                    name,
                    f"a copy of the checkpoint written as {expected!r}",
                )
            )
            continue
        signed[found.digest] = found
    if not signed:
        return CheckpointTrail([], anomalies, count)
    newest = max(signed.values(), key=lambda s: (s.checkpoint.taken_at, s.digest))
    trail, seen = [newest], {newest.digest}
    current = newest
    while current.checkpoint.previous is not None:
        before = signed.get(current.checkpoint.previous)
        if before is None or before.digest in seen:
            anomalies.append(
                TrailAnomaly(
                    Anomaly.GAP,
                    current.name,
                    f"its predecessor {current.checkpoint.previous[:16]}… is missing (deleted?)",
                )
            )
            break
        if before.checkpoint.taken_at >= current.checkpoint.taken_at:
            anomalies.append(
                TrailAnomaly(Anomaly.GAP, current.name, "its predecessor is not older than it")
            )
            break
        trail.append(before)
        seen.add(before.digest)
        current = before
    on_trail = {s.checkpoint.previous: s for s in trail}
    for digest, other in sorted(signed.items(), key=lambda kv: kv[1].name):
        if digest in seen:
            continue
        sibling = on_trail.get(other.checkpoint.previous)
        if sibling is not None:
            detail = f"names the same predecessor as {sibling.name!r}"
            anomalies.append(TrailAnomaly(Anomaly.FORK, other.name, detail))
        else:
            detail = "validly signed but not on the trail from the newest checkpoint"
            anomalies.append(TrailAnomaly(Anomaly.ORPHAN, other.name, detail))
    return CheckpointTrail(trail, anomalies, count)


def _genuine(
    name: str,
    raw: bytes,
    region: str,
    genuine: SignatureCheck,
    anomalies: list[TrailAnomaly],
) -> SignedCheckpoint | None:
    try:
        found = parse_blob(name, raw)
    except CheckpointFormatError as exc:
        anomalies.append(TrailAnomaly(Anomaly.FORGED, name, f"not a checkpoint: {exc}"))
        return None
    if found.checkpoint.region != region:
        detail = f"claims region {found.checkpoint.region[:64]!r}, this is {region}"
        anomalies.append(TrailAnomaly(Anomaly.FORGED, name, detail))
        return None
    if not genuine(found.payload, found.signature, found.checkpoint.key_id):
        anomalies.append(
            TrailAnomaly(Anomaly.FORGED, name, "the signature does not verify with the cell's key")
        )
        return None
    return found
