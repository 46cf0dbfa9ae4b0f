"""``verify``: every chain of a region against itself, its head and the newest signed checkpoint.

Three outcomes (``Outcome``): OK; TAMPERED (a chain, a checkpoint blob or an index row is not
what was written); CANNOT_VERIFY (no signed checkpoint yet, so a truncated or deleted chain
would go unnoticed; the key or the storage unreachable is raised as ``KeyUnavailable`` /
``TransientError`` by the adapters and reported the same way by the CLI).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from itertools import groupby
from operator import itemgetter
from threading import Lock
from typing import Literal

from shared.domain.lineage.chain import HeadMark, Link
from shared.domain.lineage.evidence import read_evidence
from shared.domain.lineage.heads import Checkpoint
from shared.domain.lineage.index import former_address
from shared.domain.lineage.index_check import (
    ChainIndexView,
    IndexFault,
    check_copy,
    check_indexes,
    index_addresses,
)
from shared.domain.lineage.trail import CheckpointTrail, resolve_trail
from shared.domain.lineage.verify import ChainCheck, StoredLink, verify_chain, verify_records
from shared.ports.lineage import (
    BulkChainSource,
    ChainSource,
    CheckpointStore,
    CheckpointVerifier,
    IndexSource,
)


class Outcome(StrEnum):
    OK = "ok"
    TAMPERED = "tampered"
    CANNOT_VERIFY = "cannot_verify"


@dataclass(frozen=True)
class RegionVerification:
    region: str
    trail: CheckpointTrail
    checks: list[ChainCheck]
    index_faults: list[IndexFault] = field(default_factory=list)
    index_rows: int | None = None  # None: indexes not checked

    @property
    def checkpoint(self) -> Checkpoint | None:
        newest = self.trail.newest
        return newest.checkpoint if newest else None

    @property
    def snapshot(self) -> str | None:
        """The blob the chains were anchored to; None: no signed checkpoint yet."""
        newest = self.trail.newest
        return newest.name if newest else None

    @property
    def broken(self) -> list[ChainCheck]:
        return [c for c in self.checks if not c.ok]

    @property
    def records(self) -> int:
        return sum(c.records for c in self.checks)

    @property
    def outcome(self) -> Outcome:
        if self.broken or self.trail.anomalies or self.index_faults:
            return Outcome.TAMPERED
        if self.trail.newest is None:
            return Outcome.CANNOT_VERIFY
        return Outcome.OK

    def coverage(self, key_hash: str) -> tuple[int, datetime] | None:
        """(records covered, checkpoint time) of a chain by the newest signed checkpoint."""
        checkpoint = self.checkpoint
        anchor = checkpoint.anchor(key_hash) if checkpoint else None
        return None if anchor is None or checkpoint is None else (anchor.seq, checkpoint.taken_at)


def checkpoint_trail(
    checkpoints: CheckpointStore, verifier: CheckpointVerifier, region: str
) -> CheckpointTrail:
    return resolve_trail(checkpoints.blobs(), region, verifier.verify)


def verify_region(
    chains: ChainSource,
    checkpoints: CheckpointStore,
    verifier: CheckpointVerifier,
    region: str,
    key_hashes: Iterable[str] | None = None,
    on_chain: Callable[[ChainCheck], None] | None = None,
    workers: int = 8,
    indexes: IndexSource | None = None,
) -> RegionVerification:
    """Verify the given chains (default: every chain the index or the checkpoint knows);
    with ``indexes``, also every index row of those chains against the chain."""
    bulk = chains if key_hashes is None and isinstance(chains, BulkChainSource) else None
    with ThreadPoolExecutor(max_workers=3) as pool:  # independent reads, at once
        trail_read = pool.submit(checkpoint_trail, checkpoints, verifier, region)
        known = pool.submit(_known_chains, chains) if key_hashes is None else None
        heads_read = pool.submit(bulk.all_heads) if bulk is not None else None
        trail = trail_read.result()
        checkpoint = trail.newest.checkpoint if trail.newest else None
        wanted = known.result() if known is not None else set(key_hashes or ())
        if key_hashes is None and checkpoint is not None:
            wanted |= set(checkpoint.chains)
        heads = heads_read.result() if heads_read is not None else {}
    view, lock = ChainIndexView.empty(), Lock()

    def check(
        key_hash: str,
        links: Iterable[StoredLink] | None = None,
        head: HeadMark | Literal["read"] | None = "read",
    ) -> ChainCheck:
        anchor: HeadMark | None = checkpoint.anchor(key_hash) if checkpoint else None
        decoded: list[Link] = []
        result = verify_chain(
            key_hash,
            chains.stored_links(key_hash) if links is None else links,
            chains.head(key_hash) if head == "read" else head,
            anchor,
            on_link=decoded.append if indexes is not None else None,
        )
        if decoded:
            with lock:
                for link in decoded:
                    view.add(key_hash, link)
        if on_chain is not None:
            on_chain(result)
        return result

    if bulk is not None:
        checks = []
        for key_hash, group in groupby(bulk.all_links(heads), key=itemgetter(0)):
            checks.append(check(key_hash, (link for _, link in group), heads.get(key_hash)))
        seen = {c.key_hash for c in checks}
        for key_hash in sorted((wanted | set(heads)) - seen):
            checks.append(check(key_hash, [], heads.get(key_hash)))
        checks.sort(key=lambda c: c.key_hash)
        wanted |= seen
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            checks = list(pool.map(check, sorted(wanted)))
    if indexes is None:
        return RegionVerification(region, trail, checks)
    rows = (r for r in indexes.index_rows() if r.key_hash in wanted)
    live = (r for r in indexes.live_rows() if r.key_hash in wanted)
    count, faults = check_indexes(view, rows, live)
    return RegionVerification(region, trail, checks, faults, count)


def verify_regions(
    jobs: Sequence[Callable[[], RegionVerification]],
) -> list[RegionVerification]:
    """Several regions' verifications at once (each region is its own storage account), the
    results in the order given; the first error raised is raised here."""
    if len(jobs) <= 1:
        return [job() for job in jobs]
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return [f.result() for f in [pool.submit(job) for job in jobs]]


def _known_chains(chains: ChainSource) -> set[str]:
    return {a.key_hash for a in chains.artifacts()}


@dataclass(frozen=True)
class ArtifactVerdict:
    """What the audit page says about one chain: intact, covered, its index copies, anomalies."""

    check: ChainCheck
    covered: tuple[int, datetime] | None  # (records covered, when) by the newest checkpoint
    index_faults: list[IndexFault]
    anomalies: list[str]  # checkpoint blobs that are not genuine (names, described)

    @property
    def verified(self) -> bool:
        """The badge: the chain and its index copies both check out, under a checkpoint."""
        return self.check.ok and self.covered is not None and not self.index_faults

    @property
    def uncovered(self) -> int:
        """Records newer than the newest checkpoint: the blind window, right now."""
        return self.check.records - (self.covered[0] if self.covered else 0)


def verify_artifact(
    chains: ChainSource,
    indexes: IndexSource,
    checkpoints: CheckpointStore,
    verifier: CheckpointVerifier,
    region: str,
    key_hash: str,
) -> ArtifactVerdict:
    """One chain and every index row it implies (point reads), for the audit page."""
    trail = checkpoint_trail(checkpoints, verifier, region)
    checkpoint = trail.newest.checkpoint if trail.newest else None
    anchor = checkpoint.anchor(key_hash) if checkpoint else None
    decoded: list[Link] = []
    check = verify_chain(
        key_hash, chains.stored_links(key_hash), chains.head(key_hash), anchor, decoded.append
    )
    faults = []
    for link in decoded:
        for partition, row_key in index_addresses(key_hash, link):
            # a by-actor row may also sit where it was written before the catalog partition:
            # ``by-actor`` shows that copy too, so it is checked as well (one more point read)
            former = former_address(partition, row_key)
            copies = [
                row
                for address in ((partition, row_key), *([former] if former else []))
                if (row := indexes.index_row(*address)) is not None
            ]
            if not copies:
                faults.append(IndexFault(partition, row_key, "missing"))
            for row in copies:
                fault = check_copy(row, link.hash if row.seq == link.seq else None)
                if fault is not None:
                    faults.append(fault)
    covered = (anchor.seq, checkpoint.taken_at) if anchor and checkpoint and check.ok else None
    return ArtifactVerdict(check, covered, faults, [a.describe() for a in trail.anomalies])


def verify_evidence(
    lines: Iterable[str], verifier_for: Callable[[str], CheckpointVerifier]
) -> Iterator[RegionVerification]:
    """Verify an evidence export offline, region by region (see ``domain.lineage.evidence``),
    each with its cell's public key. Raises ``EvidenceFormatError`` for a file whose structure
    is not an export's.
    """
    for section in read_evidence(lines):
        verifier = verifier_for(section.region)
        trail = resolve_trail(section.blobs, section.region, verifier.verify)
        checkpoint = trail.newest.checkpoint if trail.newest else None
        checks, seen = [], set()
        for chain in section.chains:
            seen.add(chain.key_hash)
            anchor = checkpoint.anchor(chain.key_hash) if checkpoint else None
            checks.append(verify_records(chain.key_hash, chain.records, anchor))
        if checkpoint is not None:
            for key_hash in sorted(set(checkpoint.chains) - seen):
                checks.append(verify_chain(key_hash, [], None, checkpoint.anchor(key_hash)))
        yield RegionVerification(section.region, trail, checks)
