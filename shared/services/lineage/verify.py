"""``verify``: check every chain of a region against itself, its head and the last snapshot."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from shared.domain.lineage.chain import HeadMark
from shared.domain.lineage.heads import HeadsSnapshot
from shared.domain.lineage.verify import ChainCheck, verify_chain
from shared.ports.lineage import ChainSource, HeadsStore


@dataclass(frozen=True)
class RegionVerification:
    region: str
    snapshot: str | None  # the blob the chains were anchored to; None: no snapshot yet
    checks: list[ChainCheck]

    @property
    def broken(self) -> list[ChainCheck]:
        return [c for c in self.checks if not c.ok]

    @property
    def records(self) -> int:
        return sum(c.records for c in self.checks)


def verify_region(
    chains: ChainSource,
    heads: HeadsStore | None,
    region: str,
    key_hashes: Iterable[str] | None = None,
    on_chain: Callable[[ChainCheck], None] | None = None,
    workers: int = 8,
) -> RegionVerification:
    """Verify the given chains (default: every chain the index or the snapshot knows)."""
    latest = heads.latest() if heads is not None else None
    snapshot: HeadsSnapshot | None = latest[1] if latest else None
    if key_hashes is None:
        wanted = {a.key_hash for a in chains.artifacts()}
        wanted |= set(snapshot.chains) if snapshot else set()
    else:
        wanted = set(key_hashes)

    def check(key_hash: str) -> ChainCheck:
        anchor: HeadMark | None = snapshot.anchor(key_hash) if snapshot else None
        result = verify_chain(
            key_hash, chains.stored_links(key_hash), chains.head(key_hash), anchor
        )
        if on_chain is not None:
            on_chain(result)
        return result

    with ThreadPoolExecutor(max_workers=workers) as pool:
        checks = list(pool.map(check, sorted(wanted)))
    return RegionVerification(region, latest[0] if latest else None, checks)
