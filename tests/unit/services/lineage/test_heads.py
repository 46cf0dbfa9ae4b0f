"""Chain-head snapshots never go backwards: damaged chains keep their last good head."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from shared.domain.lineage.chain import HeadMark
from shared.domain.lineage.heads import ChainHead, HeadsSnapshot, snapshot_blob_name
from shared.services.lineage.heads import snapshot_heads

H = {c: c * 64 for c in "abcdef"}


@dataclass(frozen=True)
class Art:
    key_hash: str


@dataclass
class Chains:
    heads: dict[str, HeadMark]
    hashes: dict[tuple[str, int], str] = field(default_factory=dict)

    def artifacts(self) -> list[Art]:
        return [Art(k) for k in self.heads]

    def head(self, key_hash: str) -> HeadMark | None:
        return self.heads.get(key_hash)

    def hash_at(self, key_hash: str, seq: int) -> str | None:
        return self.hashes.get((key_hash, seq))


@dataclass
class Blobs:
    written: dict[str, HeadsSnapshot] = field(default_factory=dict)

    def latest(self) -> tuple[str, HeadsSnapshot, str] | None:
        if not self.written:
            return None
        name = min(self.written)  # names sort newest first
        return name, self.written[name], "f" * 64

    def write(self, snapshot: HeadsSnapshot) -> str:
        name = snapshot_blob_name(snapshot.taken_at)
        assert name not in self.written  # never overwrites
        self.written[name] = snapshot
        return name


def at(minute: int) -> datetime:
    return datetime(2026, 3, 1, 9, minute, tzinfo=UTC)


def test_snapshots_follow_growing_chains_and_keep_damaged_ones() -> None:
    chains = Chains(
        {
            "grows": HeadMark(2, H["a"]),
            "cut": HeadMark(5, H["b"]),
            "deleted": HeadMark(1, H["c"]),
            "rewritten": HeadMark(2, H["d"]),
        }
    )
    blobs = Blobs()
    first = snapshot_heads(chains, blobs, "westeurope", clock=lambda: at(0))
    assert first.suspicious == [] and first.snapshot.previous is None

    chains.heads = {
        "grows": HeadMark(4, H["e"]),  # extends: the old head is still at seq 2
        "cut": HeadMark(3, H["f"]),  # shorter than the snapshot saw
        "rewritten": HeadMark(3, H["f"]),  # longer, but seq 2 has another hash now
        "new": HeadMark(1, H["a"]),
    }
    chains.hashes = {("grows", 2): H["a"], ("rewritten", 2): H["e"]}
    second = snapshot_heads(chains, blobs, "westeurope", clock=lambda: at(15))

    s = second.snapshot
    assert s.chains["grows"] == ChainHead(seq=4, hash=H["e"])
    assert s.chains["new"] == ChainHead(seq=1, hash=H["a"])
    assert s.chains["cut"] == ChainHead(seq=5, hash=H["b"])
    assert s.chains["deleted"] == ChainHead(seq=1, hash=H["c"])
    assert s.chains["rewritten"] == ChainHead(seq=2, hash=H["d"])
    assert second.suspicious == ["cut", "deleted", "rewritten"]
    assert s.previous == first.name and s.previous_sha256 == "f" * 64
    assert snapshot_blob_name(at(15)) < snapshot_blob_name(at(0))  # newest sorts first
