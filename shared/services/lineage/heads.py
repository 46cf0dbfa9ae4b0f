"""Signed checkpoints: sign every chain's head, chained to the previous checkpoint.

The timer runs every ``CHECKPOINT_SCHEDULE`` and signs a checkpoint only when some head
moved (one Key Vault call per checkpoint, never per record); it reads every chain's head. The
checkpoint right after an approval decision is the same step for the decided chains only
(``only``): the newest genuine checkpoint's entries, with the heads of those chains read again,
so what a decision costs does not grow with the number of chains in the cell; every other
chain's head is the timer's to take, as before. A new checkpoint takes a chain's current head
only if it extends what the previous genuine checkpoint saw (same hash at the old position). A
chain that disappeared, shrank or was rewritten keeps its previous entry and is reported: the
evidence of tampering is carried forward, not overwritten.

Blobs under the checkpoint prefix that are not genuine checkpoints (junk, forgeries, replayed
copies, forks) never stop the timer: each is recorded once as a ``lineage.anomaly`` record in
the cell's own lineage and skipped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

from shared.domain.lineage.chain import HeadMark
from shared.domain.lineage.heads import ChainHead, Checkpoint, SignedCheckpoint
from shared.domain.lineage.record import Actor, ArtifactRef, LineageRecord, RecordKind
from shared.domain.lineage.trail import Anomaly, CheckpointTrail, TrailAnomaly, resolve_trail
from shared.ports.lineage import (
    ChainIndex,
    CheckpointLock,
    CheckpointSigner,
    CheckpointStore,
    CheckpointVerifier,
    LineageWriter,
)

log = logging.getLogger(__name__)
CHECKPOINT_SCHEDULE = "*/20 * * * * *"  # NCRONTAB: every 20 s (blind window <= 20 s + one run)
_ON_ARRIVAL = frozenset({Anomaly.FORGED, Anomaly.REPLAYED, Anomaly.FORK})
MAX_ANOMALY_RECORDS = 50  # per run: a flood of junk blobs cannot flood the lineage
ANOMALIES = ArtifactRef(kind="unknown", repository="clearance/lineage-checkpoints")
SYSTEM = Actor(identity="clearance-checkpoints", established_by="system")


@dataclass(frozen=True)
class CheckpointResult:
    written: SignedCheckpoint | None  # None: nothing changed since the newest checkpoint
    trail: CheckpointTrail
    suspicious: list[str] = field(default_factory=list)  # key hashes carried forward
    anomalies_recorded: int = 0


def take_checkpoint(
    index: ChainIndex,
    store: CheckpointStore,
    signer: CheckpointSigner,
    verifier: CheckpointVerifier,
    region: str,
    *,
    lineage: LineageWriter | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    force: bool = False,
    workers: int = 8,
    lock: CheckpointLock | None = None,
    only: Collection[str] | None = None,
) -> CheckpointResult:
    """Sign a checkpoint if any head moved (see the module doc); ``lock`` serialises writers
    across instances, so two never name the same predecessor. ``only``: read again the heads
    of these chains alone and keep the newest genuine checkpoint's entry of every other chain
    (a full checkpoint when there is none yet)."""
    args = (index, store, signer, verifier, region, lineage, clock, force, workers, only)
    if lock is None:
        return _take(*args)
    with lock.held():
        return _take(*args)


def _take(
    index: ChainIndex,
    store: CheckpointStore,
    signer: CheckpointSigner,
    verifier: CheckpointVerifier,
    region: str,
    lineage: LineageWriter | None,
    clock: Callable[[], datetime],
    force: bool,
    workers: int,
    only: Collection[str] | None,
) -> CheckpointResult:
    scope = f"{region}|{getattr(store, 'container_name', '')}"
    key = f"{scope}|{getattr(verifier, 'fingerprint', id(verifier))}"
    trail = _trail(store, verifier, region, key)
    recorded = 0
    if lineage is not None:
        with _lock:
            waiting = _pending.pop(scope, [])
        recorded = _record_anomalies(waiting + trail.anomalies, lineage, scope, region, clock)
    before = trail.newest.checkpoint if trail.newest else None
    if only is not None and before is not None:
        known = set(only)  # the rest keep the entries ``before`` signed
    else:
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

    if len(known) <= 1:  # a decision's chain: no pool to start for one read
        results = [head_of(k) for k in known]
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(head_of, sorted(known)))
    chains = dict(before.chains) if only is not None and before is not None else {}
    chains.update({k: ChainHead(seq=h.seq, hash=h.hash) for k, h, _ in results if h is not None})
    suspicious = sorted(k for k, _, bad in results if bad)
    if suspicious:
        log.error(
            "lineage chains no longer extend the last checkpoint (kept its heads): %s",
            ", ".join(k[:16] for k in suspicious),
        )
    if before is not None and chains == before.chains and not force:
        return CheckpointResult(None, trail, suspicious, recorded)
    checkpoint = Checkpoint(
        region=region,
        taken_at=clock(),
        chains=chains,
        previous=trail.newest.digest if trail.newest else None,
        key_id=signer.key_id,
    )
    signature, _ = signer.sign(checkpoint.payload())
    signed = SignedCheckpoint.of(checkpoint, signature)
    store.create(signed.name, signed.to_blob())
    with _lock:
        memo = _known.get(key)
        if memo is not None:
            _known[key] = (memo[0] | {signed.name}, signed)
    log.info("lineage checkpoint %s: %d chains", signed.name, len(chains))
    return CheckpointResult(signed, trail, suspicious, recorded)


_recorded: set[tuple[str, str]] = set()
_pending: dict[str, list[TrailAnomaly]] = {}  # anomalies beyond one run's budget
_known: dict[str, tuple[frozenset[str], SignedCheckpoint | None]] = {}
_lock = threading.Lock()


def _trail(
    store: CheckpointStore, verifier: CheckpointVerifier, region: str, scope: str
) -> CheckpointTrail:
    """The newest genuine checkpoint without re-reading every checkpoint on every run.

    The first run of a process reads and judges every blob (the full trail). Later runs list
    the names and judge only blobs not seen before, together with the newest genuine one:
    checkpoints accumulate forever (immutable storage), a run every 20 s must not grow with
    them. The whole trail (gaps, orphans) is ``verify``'s job.
    """
    with _lock:
        known = _known.get(scope)
    if known is None:
        listed = list(store.blobs())
        trail = resolve_trail(listed, region, verifier.verify)
        with _lock:
            _known[scope] = (frozenset(n for n, _ in listed), trail.newest)
        return trail
    seen, newest = known
    current = store.names()
    fresh = [(n, store.read(n)) for n in current if n not in seen]
    if not fresh:
        return CheckpointTrail([newest] if newest else [], [], len(current))
    base = [(newest.name, newest.to_blob())] if newest else []
    trail = resolve_trail(base + fresh, region, verifier.verify)
    anomalies = [a for a in trail.anomalies if a.kind in _ON_ARRIVAL]
    with _lock:
        _known[scope] = (seen | {n for n, _ in fresh}, trail.newest)
    return CheckpointTrail(trail.trail[:1], anomalies, len(current))


def _record_anomalies(
    anomalies: list[TrailAnomaly],
    lineage: LineageWriter,
    scope: str,
    region: str,
    clock: Callable[[], datetime],
) -> int:
    """One ``lineage.anomaly`` record per anomalous blob, ever (idempotency key by name)."""
    count = 0
    for index, anomaly in enumerate(anomalies):
        memo = (scope, f"{anomaly.kind}|{anomaly.name}")
        if memo in _recorded:
            continue
        if count >= MAX_ANOMALY_RECORDS:
            log.error("more than %d checkpoint anomalies; the rest next run", count)
            with _lock:
                _pending[scope] = anomalies[index:]
            break
        record = LineageRecord(
            kind=RecordKind.LINEAGE_ANOMALY,
            at=clock(),
            region=region,
            actor=SYSTEM,
            artifact=ANOMALIES,
            details={
                "anomaly": str(anomaly.kind),
                "blob": anomaly.name[:512],
                "detail": anomaly.detail[:512],
            },
        )
        log.error("lineage checkpoint anomaly: %s", anomaly.describe())
        if lineage.append(record, idempotency_key=f"lineage-anomaly|{scope}|{memo[1][:900]}"):
            count += 1
        _recorded.add(memo)
    return count


class CheckpointSoon:
    """A signed checkpoint shortly after it is asked for, off the asker's thread.

    An approval decision asks for one, naming the chain it was recorded in (``request``: no
    I/O, returns at once); a worker thread of this process waits ``delay`` seconds, so
    decisions close together share one checkpoint (one Key Vault call), and signs one of the
    chains asked for (``take(chains)``; ``None``: a request named none, so every chain). A
    failure is logged; the timer (every 20 s, also on startup) signs what this missed, so the
    window stays bounded even if the process stops before the worker runs. ``flush`` waits
    for what was asked (tests, benchmarks, shutdown).
    """

    def __init__(self, take: Callable[[frozenset[str] | None], object], delay: float = 0.2) -> None:
        self._take = take
        self._delay = delay
        self._cond = threading.Condition()
        self._asked = 0  # requests so far
        self._done = 0  # requests covered by a finished run
        self._chains: set[str] | None = set()  # asked for since the last run began (None: all)
        self._worker: threading.Thread | None = None

    def request(self, chain: str | None = None) -> None:
        with self._cond:
            self._asked += 1
            if chain is None:
                self._chains = None
            elif self._chains is not None:
                self._chains.add(chain)
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(
                    target=self._run, name="checkpoint-soon", daemon=True
                )
                self._worker.start()
            self._cond.notify_all()

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every request so far is covered by a finished run; False on timeout."""
        with self._cond:
            target = self._asked
            return self._cond.wait_for(lambda: self._done >= target, timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._cond.wait_for(lambda: self._asked > self._done, timeout=60):
                    self._worker = None  # idle: the next request starts a new worker
                    return
            time.sleep(self._delay)  # let decisions close together share this checkpoint
            with self._cond:
                covering = self._asked
                chains = None if self._chains is None else frozenset(self._chains)
                self._chains = set()
            try:
                self._take(chains)
            except Exception:  # the timer signs what this run missed
                log.exception("lineage checkpoint after a decision failed")
            with self._cond:
                self._done = max(self._done, covering)
                self._cond.notify_all()
