"""Signed checkpoints: never going backwards, chained, signed only when a head moved, and
never stopped by junk under the checkpoint prefix."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from shared.domain.lineage.chain import HeadMark
from shared.domain.lineage.heads import ChainHead, SignedCheckpoint, parse_blob
from shared.domain.lineage.record import RecordKind
from shared.domain.lineage.trail import Anomaly
from shared.services.lineage.heads import take_checkpoint
from tests.support.checkpoint_fakes import MemoryCheckpoints, MemorySigner
from tests.support.fakes import FakeLineage

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


def at(minute: int) -> datetime:
    return datetime(2026, 3, 1, 9, 0, tzinfo=UTC) + timedelta(minutes=minute)


def written(result: object) -> SignedCheckpoint:
    signed = getattr(result, "written", None)
    assert signed is not None
    return signed


def test_checkpoints_follow_growing_chains_and_keep_damaged_ones() -> None:
    chains = Chains(
        {
            "grows": HeadMark(2, H["a"]),
            "cut": HeadMark(5, H["b"]),
            "deleted": HeadMark(1, H["c"]),
            "rewritten": HeadMark(2, H["d"]),
        }
    )
    blobs, signer = MemoryCheckpoints(), MemorySigner()
    first = written(take_checkpoint(chains, blobs, signer, signer.verifier(), "westeurope",
                                    clock=lambda: at(0)))  # fmt: skip
    assert first.checkpoint.previous is None and first.checkpoint.key_id == "test-key"

    chains.heads = {
        "grows": HeadMark(4, H["e"]),  # extends: the old head is still at seq 2
        "cut": HeadMark(3, H["f"]),  # shorter than the checkpoint saw
        "rewritten": HeadMark(3, H["f"]),  # longer, but seq 2 has another hash now
        "new": HeadMark(1, H["a"]),
    }
    chains.hashes = {("grows", 2): H["a"], ("rewritten", 2): H["e"]}
    result = take_checkpoint(chains, blobs, signer, signer.verifier(), "westeurope",
                             clock=lambda: at(1))  # fmt: skip
    s = written(result).checkpoint
    assert s.chains["grows"] == ChainHead(seq=4, hash=H["e"])
    assert s.chains["new"] == ChainHead(seq=1, hash=H["a"])
    assert s.chains["cut"] == ChainHead(seq=5, hash=H["b"])
    assert s.chains["deleted"] == ChainHead(seq=1, hash=H["c"])
    assert s.chains["rewritten"] == ChainHead(seq=2, hash=H["d"])
    assert result.suspicious == ["cut", "deleted", "rewritten"]
    assert s.previous == first.digest
    assert written(result).name < first.name  # newest sorts first (for people; not trusted)


def test_nothing_is_signed_when_no_head_moved() -> None:
    chains = Chains({"a": HeadMark(1, H["a"])})
    blobs, signer = MemoryCheckpoints(), MemorySigner()
    take_checkpoint(chains, blobs, signer, signer.verifier(), "westeurope", clock=lambda: at(0))
    again = take_checkpoint(chains, blobs, signer, signer.verifier(), "westeurope",
                            clock=lambda: at(1))  # fmt: skip
    assert again.written is None and signer.signed == 1 and len(blobs.stored) == 1
    chains.heads["a"] = HeadMark(2, H["b"])
    chains.hashes[("a", 1)] = H["a"]
    moved = take_checkpoint(chains, blobs, signer, signer.verifier(), "westeurope",
                            clock=lambda: at(2))  # fmt: skip
    assert moved.written is not None and signer.signed == 2


def test_junk_and_forgeries_are_recorded_once_and_never_stop_the_timer() -> None:
    chains = Chains({"a": HeadMark(1, H["a"])})
    blobs, signer, lineage = MemoryCheckpoints(), MemorySigner(), FakeLineage()
    genuine = written(take_checkpoint(chains, blobs, signer, signer.verifier(), "westeurope",
                                      clock=lambda: at(0)))  # fmt: skip
    attacker = MemorySigner("https://kv.vault.azure.net/keys/lineage-checkpoints")
    forged = SignedCheckpoint.of(
        genuine.checkpoint.model_copy(update={"chains": {}, "taken_at": at(5)}),
        attacker.sign(b"x")[0],
    )
    blobs.put("heads/0000000000000-x.json", forged.to_blob())  # sorts first
    blobs.put("heads/junk.json", b"\x00\xff not json")
    blobs.put("heads/" + "\u202e" * 300, b"{}")
    for minute in (1, 2):
        chains.heads["a"] = HeadMark(1 + minute, H["b"] if minute == 1 else H["c"])
        chains.hashes[("a", 1)] = H["a"]
        chains.hashes[("a", 2)] = H["b"]
        result = take_checkpoint(chains, blobs, signer, signer.verifier(), "westeurope",
                                 lineage=lineage, clock=lambda m=minute: at(m))  # fmt: skip
        assert result.written is not None
        assert result.written.checkpoint.chains["a"].seq == 1 + minute  # the forgery is no anchor
    kinds = {r.details["anomaly"] for r in lineage.records}
    assert kinds == {str(Anomaly.FORGED)} and len(lineage.records) == 3  # once each, not per run
    assert {r.kind for r in lineage.records} == {RecordKind.LINEAGE_ANOMALY}
    newest = parse_blob("", written(result).to_blob())
    assert newest.checkpoint.previous is not None


def test_a_flood_of_junk_is_recorded_a_bounded_number_per_run_and_all_in_the_end() -> None:
    from shared.services.lineage.heads import MAX_ANOMALY_RECORDS

    chains = Chains({"a": HeadMark(1, H["a"])})
    blobs, signer, lineage = MemoryCheckpoints(), MemorySigner(), FakeLineage()
    take_checkpoint(chains, blobs, signer, signer.verifier(), "westeurope", clock=lambda: at(0))
    for i in range(MAX_ANOMALY_RECORDS + 20):
        blobs.put(f"heads/junk-{i:03d}", b"junk")
    runs = []
    for minute in (1, 2, 3):
        result = take_checkpoint(chains, blobs, signer, signer.verifier(), "westeurope",
                                 lineage=lineage, clock=lambda m=minute: at(m))  # fmt: skip
        runs.append(result.anomalies_recorded)
    assert runs == [MAX_ANOMALY_RECORDS, 20, 0]
    assert len({r.details["blob"] for r in lineage.records}) == MAX_ANOMALY_RECORDS + 20


@dataclass
class CountingChains(Chains):
    """Chains that note whose head was read: what a checkpoint costs."""

    read: list[str] = field(default_factory=list)

    def artifacts(self) -> list[Art]:
        self.read.append("*artifacts*")
        return super().artifacts()

    def head(self, key_hash: str) -> HeadMark | None:
        self.read.append(key_hash)
        return super().head(key_hash)


def test_a_decision_checkpoint_reads_the_decided_chains_only_and_keeps_every_other_entry() -> None:
    chains = CountingChains({k: HeadMark(1, H[k]) for k in "abcde"})
    blobs, signer = MemoryCheckpoints(), MemorySigner()
    first = written(take_checkpoint(chains, blobs, signer, signer.verifier(), "westeurope",
                                    clock=lambda: at(0)))  # fmt: skip
    chains.read.clear()
    for k in "abcde":  # every chain moved since; only "b" was decided
        chains.heads[k] = HeadMark(2, H["f"])
        chains.hashes[(k, 1)] = H[k]
    result = take_checkpoint(chains, blobs, signer, signer.verifier(), "westeurope",
                             clock=lambda: at(1), only={"b"})  # fmt: skip
    s = written(result).checkpoint
    assert chains.read == ["b"]  # no listing, no head of another chain: O(decided), not O(cell)
    assert s.chains["b"] == ChainHead(seq=2, hash=H["f"])
    assert {k: v for k, v in s.chains.items() if k != "b"} == {
        k: v for k, v in first.checkpoint.chains.items() if k != "b"
    }  # the others keep the entries the previous checkpoint signed (the timer takes them)
    assert s.previous == first.digest
    timer = written(take_checkpoint(chains, blobs, signer, signer.verifier(), "westeurope",
                                    clock=lambda: at(2)))  # fmt: skip
    assert all(timer.checkpoint.chains[k] == ChainHead(seq=2, hash=H["f"]) for k in "abcde")
    assert timer.checkpoint.previous == written(result).digest


def test_a_decision_checkpoint_never_anchors_a_rewritten_or_shortened_decided_chain() -> None:
    chains = CountingChains({"cut": HeadMark(4, H["a"]), "rewritten": HeadMark(2, H["b"])})
    blobs, signer = MemoryCheckpoints(), MemorySigner()
    take_checkpoint(chains, blobs, signer, signer.verifier(), "westeurope", clock=lambda: at(0))
    chains.heads = {"cut": HeadMark(2, H["c"]), "rewritten": HeadMark(3, H["d"])}
    chains.hashes = {("rewritten", 2): H["e"]}  # seq 2 is no longer what was signed
    result = take_checkpoint(chains, blobs, signer, signer.verifier(), "westeurope",
                             clock=lambda: at(1), only={"cut", "rewritten"})  # fmt: skip
    assert result.written is None  # nothing may move: both keep what was signed
    assert result.suspicious == ["cut", "rewritten"]
    chains.heads.pop("cut")  # deleted outright
    gone = take_checkpoint(chains, blobs, signer, signer.verifier(), "westeurope",
                           clock=lambda: at(2), only={"cut"})  # fmt: skip
    assert gone.written is None and gone.suspicious == ["cut"]


def test_a_decision_checkpoint_with_no_checkpoint_before_it_covers_every_chain() -> None:
    chains = CountingChains({k: HeadMark(1, H[k]) for k in "abc"})
    blobs, signer = MemoryCheckpoints(), MemorySigner()
    result = take_checkpoint(chains, blobs, signer, signer.verifier(), "westeurope",
                             clock=lambda: at(0), only={"a"})  # fmt: skip
    assert set(written(result).checkpoint.chains) == {"a", "b", "c"}
    unknown = take_checkpoint(chains, blobs, signer, signer.verifier(), "westeurope",
                              clock=lambda: at(1), only={"f" * 64})  # fmt: skip
    assert unknown.written is None  # a chain that does not exist adds no entry
