"""Index rows bound to the chain: each copy must be the chain record it claims to copy.

The by-actor, time, deployment and live rows repeat a chain record so that queries read one
partition. Their own ``Hash`` field proves nothing (whoever edits the row recomputes it), so
each is checked against the *chain*: the chain holds a record at (artifact, seq) with the
same hash, the copy's body is byte for byte that record's body, and the row sits under the
keys that record is indexed under. Every row the chain implies must exist (a deleted copy
hides a step from ``by-actor``), and the live row of each model must be what the chain's
deployment records say runs now (one per non-production stage as well).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from shared.domain.lineage.chain import Link
from shared.domain.lineage.index import (
    ARTIFACTS,
    DEPLOYMENT_KINDS,
    LIVE,
    DeploymentEvent,
    LiveScope,
    actor_row_key,
    current_address,
    current_live,
    day_partition,
    deployment_partition,
    identities_of,
    live_row_key,
    live_scope,
    model_of,
    moment_row_key,
)

# Index partitions by prefix (``x|``: by-actor rows of the former layout), and the row-key
# prefixes of index rows inside the ``artifacts`` partition.
INDEX_PREFIXES = ("t|", "x|", "d|")
ARTIFACTS_INDEX_PREFIXES = ("x|",)
RowAddress = tuple[str, str]  # (partition key, row key)
Position = tuple[str, int]  # (artifact key hash, seq)


@dataclass(frozen=True)
class IndexRow:
    """An index row as the table holds it."""

    partition: str
    row_key: str
    key_hash: str
    seq: int
    hash: str
    body: str


@dataclass(frozen=True)
class IndexFault:
    partition: str
    row_key: str
    detail: str

    def describe(self) -> str:
        return f"diverging index row {self.partition} / {self.row_key}: {self.detail}"


def index_addresses(key_hash: str, link: Link) -> list[RowAddress]:
    """Every time, by-actor and deployment row that copies ``link`` (what the writer writes)."""
    record = link.record
    out = [(day_partition(record.at), moment_row_key(record.at, key_hash, link.seq))]
    for identity, role in identities_of(record):
        out.append((ARTIFACTS, actor_row_key(identity, record.at, key_hash, link.seq, role)))
    model = model_of(record)
    if record.kind in DEPLOYMENT_KINDS and model:
        out.append((deployment_partition(model), moment_row_key(record.at, key_hash, link.seq)))
    return out


def check_copy(row: IndexRow, chain_hash: str | None) -> IndexFault | None:
    """The row against the chain record at its (artifact, seq); None when it is that record."""
    where = f"chain {row.key_hash[:16]}… seq {row.seq}"
    if chain_hash is None:
        return IndexFault(row.partition, row.row_key, f"copies {where}, which the chain lacks")
    if row.hash != chain_hash:
        return IndexFault(
            row.partition,
            row.row_key,
            f"its hash {row.hash[:16]}… is not {where}'s {chain_hash[:16]}…",
        )
    if hashlib.sha256(row.body.encode("utf-8")).hexdigest() != chain_hash:
        return IndexFault(
            row.partition, row.row_key, f"its body is not {where}'s body (edited copy)"
        )
    return None


@dataclass
class ChainIndexView:
    """What the verified chains imply about the indexes: built link by link."""

    hashes: dict[Position, str]
    expected: dict[RowAddress, Position]
    deployments: dict[LiveScope, list[DeploymentEvent]]

    @classmethod
    def empty(cls) -> ChainIndexView:
        return cls({}, {}, {})

    def add(self, key_hash: str, link: Link) -> None:
        self.hashes[(key_hash, link.seq)] = link.hash
        for address in index_addresses(key_hash, link):
            self.expected[address] = (key_hash, link.seq)
        scope = live_scope(link.record)
        if scope is not None:
            event = DeploymentEvent(link.record.at, link.record.kind, key_hash, link.seq)
            self.deployments.setdefault(scope, []).append(event)

    def live(self) -> dict[RowAddress, Position]:
        """The live row each model (and non-production stage) should have: (``live``, row
        key) -> the record it copies."""
        out = {}
        for (model, stage), events in self.deployments.items():
            top = current_live(events)
            if top is not None:
                out[(LIVE, live_row_key(model, stage))] = (top.key_hash, top.seq)
        return out


def check_indexes(
    view: ChainIndexView, rows: Iterable[IndexRow], live_rows: Iterable[IndexRow]
) -> tuple[int, list[IndexFault]]:
    """Every index and live row against the chains; then the rows the chains imply but lack."""
    faults: list[IndexFault] = []
    seen: set[RowAddress] = set()
    count = 0
    for row in rows:
        count += 1
        address = current_address(row.partition, row.row_key)  # a former-layout row counts
        seen.add(address)
        fault = check_copy(row, view.hashes.get((row.key_hash, row.seq)))
        if fault is None and view.expected.get(address) != (row.key_hash, row.seq):
            fault = IndexFault(
                row.partition,
                row.row_key,
                f"filed under a key the chain record (seq {row.seq}) is not indexed under",
            )
        if fault is not None:
            faults.append(fault)
    for address in sorted(set(view.expected) - seen):
        key_hash, seq = view.expected[address]
        faults.append(
            IndexFault(*address, f"missing: the copy of chain {key_hash[:16]}… seq {seq}")
        )
    live = view.live()
    live_seen: set[RowAddress] = set()
    for row in live_rows:
        count += 1
        address = (row.partition, row.row_key)
        live_seen.add(address)
        fault = check_copy(row, view.hashes.get((row.key_hash, row.seq)))
        wanted = live.get(address)
        if fault is None and wanted != (row.key_hash, row.seq):
            says = f"chain {wanted[0][:16]}… seq {wanted[1]}" if wanted else "nothing runs"
            fault = IndexFault(
                row.partition, row.row_key, f"says seq {row.seq} is live; the chain says {says}"
            )
        if fault is not None:
            faults.append(fault)
    for address in sorted(set(live) - live_seen):
        key_hash, seq = live[address]
        faults.append(IndexFault(*address, f"missing: chain {key_hash[:16]}… seq {seq} is live"))
    return count, faults
