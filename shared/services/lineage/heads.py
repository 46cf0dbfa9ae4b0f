"""Chain-head snapshots: write every chain's head to immutable storage, never going backwards.

A new snapshot takes a chain's current head only if it extends what the previous snapshot saw
(same hash at the old position). A chain that disappeared, shrank or was rewritten keeps its
previous entry and is reported: the evidence of tampering is carried forward, not overwritten.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

from shared.domain.lineage.chain import HeadMark
from shared.domain.lineage.heads import ChainHead, HeadsSnapshot
from shared.ports.lineage import ChainIndex, HeadsStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SnapshotResult:
    name: str
    snapshot: HeadsSnapshot
    suspicious: list[str] = field(default_factory=list)  # key hashes carried forward


def snapshot_heads(
    index: ChainIndex,
    store: HeadsStore,
    region: str,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    workers: int = 8,
) -> SnapshotResult:
    previous = store.latest()
    before = previous[1] if previous else None
    known = {a.key_hash for a in index.artifacts()}
    if before is not None:
        known |= set(before.chains)

    def head_of(key_hash: str) -> tuple[str, HeadMark | None, bool]:
        anchor = before.anchor(key_hash) if before else None
        head = index.head(key_hash)
        if head is None or anchor is None or head == anchor:
            return key_hash, head or anchor, head is None and anchor is not None
        extends = head.seq > anchor.seq and index.hash_at(key_hash, anchor.seq) == anchor.hash
        return key_hash, head if extends else anchor, not extends

    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(head_of, sorted(known)))
    chains = {k: ChainHead(seq=h.seq, hash=h.hash) for k, h, _ in results if h is not None}
    suspicious = sorted(k for k, _, bad in results if bad)
    snapshot = HeadsSnapshot(
        region=region,
        taken_at=clock(),
        chains=chains,
        previous=previous[0] if previous else None,
        previous_sha256=previous[2] if previous else None,
    )
    name = store.write(snapshot)
    if suspicious:
        log.error(
            "lineage chains no longer extend the last snapshot (kept its heads): %s",
            ", ".join(k[:16] for k in suspicious),
        )
    log.info("chain-head snapshot %s: %d chains", name, len(chains))
    return SnapshotResult(name, snapshot, suspicious)
