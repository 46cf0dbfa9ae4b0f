"""Playing the attacker with the account key against the local stack's real Azurite.

The attacker can write the table and the checkpoint container (a Storage Data Contributor or
a leaked key) but not the signing key (Key Vault in Azure; the stack's ``keys/`` locally).
Every test prints what ``clearance lineage verify`` prints for the tampered store (run with
``-s`` to read them); the docs quote these outputs.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from shared.adapters.storage.lineage.checkpoint_lock import TableCheckpointLock
from shared.adapters.storage.lineage.heads_blobs import BlobCheckpoints
from shared.adapters.storage.lineage.reader import TableLineageReader
from shared.adapters.storage.lineage.writer import TableLineageWriter
from shared.cli import lineage as cli
from shared.composition import Container
from shared.domain.lineage.chain import seq_row_key
from shared.domain.lineage.heads import Checkpoint, SignedCheckpoint
from shared.domain.lineage.index import (
    ARTIFACTS,
    LIVE,
    actor_row_range,
    chain_partition,
    current_address,
    live_row_key,
)
from shared.domain.lineage.record import ArtifactRef, RecordKind
from shared.domain.lineage.trail import Anomaly
from shared.domain.lineage.verify import Fault
from shared.local.stack import LocalStack
from shared.services.lineage.heads import CheckpointResult, take_checkpoint
from shared.services.lineage.verify import Outcome, RegionVerification, verify_region
from tests.integration.lineage_support import (
    T0,
    deployed,
    fresh_table,
    new_image,
    record,
    story,
    writer,
)
from tests.support.checkpoint_fakes import MemorySigner

pytestmark = pytest.mark.stack
REGION = "westeurope"


@dataclass
class Stores:
    cell: Container
    table: str
    writer: TableLineageWriter
    reader: TableLineageReader
    heads: BlobCheckpoints
    artifact: ArtifactRef

    @property
    def client(self) -> Any:
        return self.cell.table_service.get_table_client(self.table)

    @property
    def blobs(self) -> Any:
        return self.cell.blob_service.get_container_client(self.heads.container_name)

    def row(self, seq: int, artifact: ArtifactRef | None = None) -> dict[str, Any]:
        key_hash = (artifact or self.artifact).key_hash
        return dict(self.client.get_entity(chain_partition(key_hash), seq_row_key(seq)))

    def put(self, entity: dict[str, Any]) -> None:
        from azure.data.tables import UpdateMode

        self.client.upsert_entity(entity, mode=UpdateMode.REPLACE)

    def actor_rows(self, identity: str) -> list[dict[str, Any]]:
        """This artifact's by-actor rows of ``identity`` (in the artifacts partition)."""
        lo, hi = actor_row_range(identity)
        flt = "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi"
        rows = self.client.query_entities(flt, parameters={"pk": ARTIFACTS, "lo": lo, "hi": hi})
        return [dict(r) for r in rows if r["KeyHash"] == self.artifact.key_hash]

    def cut_tail(self, artifact: ArtifactRef | None = None) -> None:
        """Delete the chain's newest record and move the head row back onto the one before."""
        key_hash = (artifact or self.artifact).key_hash
        pk = chain_partition(key_hash)
        head = self.client.get_entity(pk, "head")
        before = self.row(head["Seq"] - 1, artifact)
        self.client.delete_entity(pk, seq_row_key(head["Seq"]))
        self.put(
            {"PartitionKey": pk, "RowKey": "head", "Seq": before["Seq"], "Hash": before["Hash"]}
        )

    def checkpoint(self) -> CheckpointResult:
        return take_checkpoint(
            self.reader,
            self.heads,
            self.cell.checkpoint_signer,
            self.cell.checkpoint_verifier,
            REGION,
            lineage=self.writer,
            lock=TableCheckpointLock(self.cell.table_service, self.table),
        )

    def verify(self, *, indexes: bool = False) -> RegionVerification:
        return verify_region(
            self.reader,
            self.heads,
            self.cell.checkpoint_verifier,
            REGION,
            indexes=self.reader if indexes else None,
        )


@pytest.fixture
def stores(cell_container: Callable[[str], Container]) -> Iterator[Stores]:
    """A private table and checkpoint container holding one 8-record chain and a bystander."""
    cell = cell_container(REGION)
    table = fresh_table()
    w = writer(cell, table)
    artifact = new_image(REGION, "tamper-model")
    for r in story(artifact, REGION) + story(new_image(REGION), REGION):
        w.append(r)
    heads = BlobCheckpoints(cell.blob_service, container=f"heads-{uuid.uuid4().hex[:12]}")
    yield Stores(cell, table, w, TableLineageReader(cell.table_service, table), heads, artifact)
    from azure.core.exceptions import ResourceNotFoundError

    cell.table_service.delete_table(table)
    with contextlib.suppress(ResourceNotFoundError):
        cell.blob_service.delete_container(heads.container_name)


def shown(result: RegionVerification, capsys: pytest.CaptureFixture[str]) -> tuple[str, int]:
    """What ``clearance lineage verify`` prints for this result, and its exit code."""
    capsys.readouterr()
    cli._report(result, {})
    code = 0
    try:
        cli._finish([result])
    except typer.Exit as done:
        code = done.exit_code
    out = capsys.readouterr().out
    with capsys.disabled():
        print(f"\n--- verify output (exit {code}) ---\n{out}", end="")
    return out, code


def faults(result: RegionVerification) -> list[tuple[Fault, str | None]]:
    return [(c.fault.fault, c.fault.row_key) for c in result.broken if c.fault is not None]


def test_an_untouched_store_verifies(stores: Stores, capsys: pytest.CaptureFixture[str]) -> None:
    assert stores.verify().outcome is Outcome.CANNOT_VERIFY  # no checkpoint yet: says so
    stores.checkpoint()
    result = stores.verify(indexes=True)
    assert result.outcome is Outcome.OK and result.records == 16 and len(result.checks) == 2
    out, code = shown(result, capsys)
    assert code == 0 and out.splitlines()[-1].startswith("OK: 2 chain(s), 16 record(s)")


def test_a_forged_checkpoint_sorting_first_is_no_anchor(
    stores: Stores, capsys: pytest.CaptureFixture[str]
) -> None:
    genuine = stores.checkpoint().written
    assert genuine is not None
    stores.cut_tail()
    # the attacker writes the truncated head into a checkpoint that lists first, signed with
    # a key of their own and naming the genuine checkpoint as its predecessor
    truncated = dict(genuine.checkpoint.chains)
    row7 = stores.row(7)
    truncated[stores.artifact.key_hash] = truncated[stores.artifact.key_hash].model_copy(
        update={"seq": 7, "hash": row7["Hash"]}
    )
    forged = Checkpoint(
        region=REGION,
        taken_at=datetime.now(UTC),
        chains=truncated,
        previous=genuine.digest,
        key_id=genuine.checkpoint.key_id,
    )
    signature, _ = MemorySigner().sign(forged.payload())
    blob = SignedCheckpoint.of(forged, signature).to_blob()
    stores.blobs.upload_blob("heads/0000000000000-x.json", blob)
    # ... and replays a genuine checkpoint under another first-sorting name
    stores.blobs.upload_blob("heads/0000000000001-y.json", genuine.to_blob())

    result = stores.verify()
    assert result.snapshot == genuine.name  # the genuine trail still anchors the chains
    assert faults(result) == [(Fault.TRUNCATED, None)]
    kinds = sorted((a.kind, a.name) for a in result.trail.anomalies)
    assert kinds == [
        (Anomaly.FORGED, "heads/0000000000000-x.json"),
        (Anomaly.REPLAYED, "heads/0000000000001-y.json"),
    ]
    out, code = shown(result, capsys)
    assert code == cli.EXIT_TAMPERED
    assert out.splitlines()[-1] == "TAMPERED: forged checkpoint (2), truncated (1)"
    # the next genuine checkpoint still chains to the genuine one and keeps the longer head
    later = stores.checkpoint().written
    assert later is not None and later.checkpoint.previous == genuine.digest
    assert later.checkpoint.chains[stores.artifact.key_hash].seq == 8


def test_a_fork_is_reported_and_the_trail_still_verifies(
    stores: Stores, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two checkpoints naming one predecessor (only a signing-key holder can make one)."""
    first = stores.checkpoint().written
    assert first is not None
    stores.writer.append(record(stores.artifact, RecordKind.DEPLOYMENT_STARTED, REGION))
    second = stores.checkpoint().written
    assert second is not None
    fork = second.checkpoint.model_copy(update={"taken_at": first.checkpoint.taken_at.replace(
        microsecond=(first.checkpoint.taken_at.microsecond + 1) % 1_000_000)})  # fmt: skip
    signature, _ = stores.cell.checkpoint_signer.sign(fork.payload())
    signed_fork = SignedCheckpoint.of(fork, signature)
    stores.blobs.upload_blob(signed_fork.name, signed_fork.to_blob())
    result = stores.verify()
    assert result.snapshot == second.name and result.broken == []
    assert [(a.kind, a.name) for a in result.trail.anomalies] == [(Anomaly.FORK, signed_fork.name)]
    out, code = shown(result, capsys)
    assert code == cli.EXIT_TAMPERED and "checkpoint fork (1)" in out


def test_truncation_older_than_the_newest_checkpoint_is_detected(
    stores: Stores, capsys: pytest.CaptureFixture[str]
) -> None:
    stores.checkpoint()
    stores.cut_tail()
    result = stores.verify()
    assert faults(result) == [(Fault.TRUNCATED, None)]
    out, code = shown(result, capsys)
    assert code == cli.EXIT_TAMPERED and "truncated" in out
    # and the next checkpoint keeps the longer head: the cut stays visible
    later = stores.checkpoint()
    assert later.suspicious == [stores.artifact.key_hash]
    assert faults(stores.verify()) == [(Fault.TRUNCATED, None)]


def test_the_blind_window_measured_by_cutting_the_newest_record_at_different_ages(
    stores: Stores, capsys: pytest.CaptureFixture[str]
) -> None:
    """A checkpoint loop at INTERVAL (the production timer runs every 20 s) covers every new
    record within one interval plus one checkpoint run. A record cut before a checkpoint
    covered it is the blind window (not detected); cut after, it is detected."""
    interval = 2.0
    stop = threading.Event()
    runs: list[tuple[float, float]] = []  # (start, end) of each checkpoint run, monotonic

    def loop() -> None:
        while not stop.wait(interval):
            started = time.monotonic()
            stores.checkpoint()
            runs.append((started, time.monotonic()))

    stores.checkpoint()
    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    trials: list[tuple[float, float, float, bool]] = []  # age, appended, cut, detected
    said: list[tuple[str, int]] = []  # verify's last line and exit code, per trial
    try:
        for age in (0.0, 0.5, 1.0, 1.5, 2.5, 3.5, 5.0):
            artifact = new_image(REGION)
            for r in story(artifact, REGION)[:2]:
                stores.writer.append(r)
            appended = time.monotonic()
            time.sleep(age)
            cut = time.monotonic()
            stores.cut_tail(artifact)
            time.sleep(interval + 1.0)  # let the loop see the cut chain
            result = verify_region(
                stores.reader,
                stores.heads,
                stores.cell.checkpoint_verifier,
                REGION,
                [artifact.key_hash],
            )
            trials.append((age, appended, cut, not result.checks[0].ok))
            out, code = shown(result, capsys)
            said.append((out.splitlines()[-1], code))
    finally:
        stop.set()
        thread.join(timeout=10)
    longest = max(end - start for start, end in runs)
    print(f"\nblind window, checkpoint loop every {interval} s (a run takes <= {longest:.2f} s):")
    latencies = []
    for (age, appended, cut, detected), (line, code) in zip(trials, said, strict=True):
        covering = [end for start, end in runs if start >= appended]
        latency = min(covering) - appended
        latencies.append(latency)
        seen = "detected" if detected else "NOT detected (blind window)"
        print(f"  newest record cut at age {age:.1f} s: {seen}; the next checkpoint run "
              f"ended {latency:.2f} s after the append; verify: {line!r} "
              f"(exit {code})")  # fmt: skip
        assert code == (cli.EXIT_TAMPERED if detected else 0)
        covered_before_cut = any(start >= appended and end <= cut for start, end in runs)
        untouched = not any(start >= appended and start <= cut <= end for start, end in runs)
        if untouched:  # no run straddles the cut: the outcome is exactly the coverage
            assert detected == covered_before_cut, (age, runs, appended, cut)
        assert latency <= interval + longest + 0.5
    print(f"  measured window: <= {max(latencies):.2f} s (interval {interval} s + one run)")
    assert any(not t[3] for t in trials) and any(t[3] for t in trials)


def test_junk_under_the_checkpoint_prefix_is_reported_and_the_timer_goes_on(
    stores: Stores, capsys: pytest.CaptureFixture[str]
) -> None:
    stores.checkpoint()
    stores.blobs.upload_blob("heads/0000000000000-junk.json", b"\x00\xffnot a checkpoint")
    stores.blobs.upload_blob("heads/zz-empty.json", b"")
    stores.blobs.upload_blob("heads/deep.json", b"[" * 100_000)
    result = stores.verify()
    assert sorted(a.name for a in result.trail.anomalies) == [
        "heads/0000000000000-junk.json",
        "heads/deep.json",
        "heads/zz-empty.json",
    ]
    assert result.broken == []
    out, code = shown(result, capsys)
    assert code == cli.EXIT_TAMPERED and "forged checkpoint (3)" in out and "Traceback" not in out
    stores.writer.append(record(stores.artifact, RecordKind.DEPLOYMENT_STARTED, REGION))
    again = stores.checkpoint()  # the timer: skips the junk, signs, records the anomaly
    assert again.written is not None and again.anomalies_recorded == 3
    anomalies = [
        e.record
        for e in stores.reader.chain(REGION, again_key())
        if e.record.kind is RecordKind.LINEAGE_ANOMALY
    ]
    assert sorted(r.details["blob"] for r in anomalies) == sorted(
        a.name for a in result.trail.anomalies
    )
    assert stores.checkpoint().anomalies_recorded == 0  # recorded once, not on every run


def test_a_checkpoint_container_deleted_behind_the_app_is_created_again(stores: Stores) -> None:
    assert stores.checkpoint().written is not None  # the first: the upload creates the container
    stores.blobs.delete_container()
    stores.writer.append(record(stores.artifact, RecordKind.DEPLOYMENT_STARTED, REGION))
    again = stores.checkpoint()  # the upload finds no container, creates it and signs
    assert again.written is not None
    assert [b.name for b in stores.blobs.list_blobs()] == [again.written.name]


def again_key() -> str:
    from shared.services.lineage.heads import ANOMALIES

    return ANOMALIES.key_hash


def test_an_edited_and_rehashed_index_row_is_named(
    stores: Stores, capsys: pytest.CaptureFixture[str]
) -> None:
    stores.checkpoint()
    pk = ARTIFACTS
    vote = next(r for r in stores.actor_rows("ann@contoso.example") if r["Kind"] == "approval.vote")
    vote["Body"] = vote["Body"].replace('"decision":"approve"', '"decision":"reject"')
    vote["Hash"] = hashlib.sha256(vote["Body"].encode()).hexdigest()
    stores.put(vote)
    assert stores.verify().outcome is Outcome.OK  # the chain itself is untouched
    result = stores.verify(indexes=True)
    assert [(f.partition, f.row_key) for f in result.index_faults] == [(pk, vote["RowKey"])]
    out, code = shown(result, capsys)
    assert code == cli.EXIT_TAMPERED and f"diverging index row {pk} / {vote['RowKey']}" in out


def test_a_deleted_or_moved_index_row_is_named(stores: Stores) -> None:
    stores.checkpoint()
    row = stores.actor_rows("bob@contoso.example")[0]
    stores.client.delete_entity(ARTIFACTS, row["RowKey"])
    bob, _ = actor_row_range("bob@contoso.example")
    mallory, _ = actor_row_range("mallory@contoso.example")  # blame someone else for bob's vote
    moved = mallory + row["RowKey"][len(bob) :]
    stores.put({**row, "RowKey": moved})
    result = stores.verify(indexes=True)
    named = sorted((f.partition, f.row_key) for f in result.index_faults)
    assert named == sorted([(ARTIFACTS, row["RowKey"]), (ARTIFACTS, moved)])


def test_by_actor_rows_of_the_former_layout_are_verified_where_they_are(stores: Stores) -> None:
    """A row written before by-actor rows moved (partition ``x|<identity>``) is a valid copy;
    edited there, or filed under another identity there, it is named at its own address."""
    stores.checkpoint()
    row = stores.actor_rows("bob@contoso.example")[0]
    stores.client.delete_entity(ARTIFACTS, row["RowKey"])
    bob, _ = actor_row_range("bob@contoso.example")
    legacy_pk, legacy_rk = bob[:-1], row["RowKey"][len(bob) :]
    assert current_address(legacy_pk, legacy_rk) == (ARTIFACTS, row["RowKey"])
    stores.put({**row, "PartitionKey": legacy_pk, "RowKey": legacy_rk})
    assert stores.verify(indexes=True).index_faults == []  # the former layout still counts

    edited = {**row, "PartitionKey": legacy_pk, "RowKey": legacy_rk}
    edited["Body"] = edited["Body"].replace("bob@contoso.example", "eve@contoso.example")
    edited["Hash"] = hashlib.sha256(edited["Body"].encode()).hexdigest()
    stores.put(edited)
    faults = stores.verify(indexes=True).index_faults
    assert [(f.partition, f.row_key) for f in faults] == [(legacy_pk, legacy_rk)]

    stores.client.delete_entity(legacy_pk, legacy_rk)
    mallory, _ = actor_row_range("mallory@contoso.example")
    stores.put({**row, "PartitionKey": mallory[:-1], "RowKey": legacy_rk})
    named = sorted((f.partition, f.row_key) for f in stores.verify(indexes=True).index_faults)
    assert named == sorted([(ARTIFACTS, row["RowKey"]), (mallory[:-1], legacy_rk)])


def test_stage_live_rows_are_their_own_and_an_edited_one_is_named(stores: Stores) -> None:
    """In a staged region, staging succeeding after prod keeps prod's live row; the staging
    row is checked against the chain like every other (edited into prod's row: named)."""
    from datetime import timedelta

    v1 = new_image(REGION, "staged-model", "1.0.0")
    v2 = new_image(REGION, "staged-model", "2.0.0")

    def at_stage(r: Any, stage: str, production: bool) -> Any:
        mark = {} if production else {"production": "false"}
        return r.model_copy(update={"details": {**r.details, "stage": stage, **mark}})

    stores.writer.append(at_stage(deployed(v1, REGION, T0), "prod", True))
    stores.writer.append(at_stage(deployed(v2, REGION, T0 + timedelta(hours=1)), "staging", False))
    prod = stores.reader.live_of(REGION, "staged-model")
    staging = stores.reader.live_of(REGION, "staged-model", "staging")
    assert prod is not None and prod.record.artifact == v1 and prod.stage == "prod"
    assert staging is not None and staging.record.artifact == v2 and staging.stage == "staging"
    only, _ = stores.reader.live(REGION, stage="staging")
    assert [e.record.artifact for _, e in only] == [v2]
    stores.checkpoint()
    assert stores.verify(indexes=True).index_faults == []

    row = dict(stores.client.get_entity(LIVE, live_row_key("staged-model", "staging")))
    stores.put({**row, "RowKey": live_row_key("staged-model")})  # staging's record as prod's
    result = stores.verify(indexes=True)
    assert [(f.partition, f.row_key) for f in result.index_faults] == [
        (LIVE, live_row_key("staged-model"))
    ]


def test_editing_a_record_names_it(stores: Stores, capsys: pytest.CaptureFixture[str]) -> None:
    stores.checkpoint()
    row = stores.row(3)
    row["Body"] = row["Body"].replace("event-grid", "someone-else")
    stores.put(row)
    result = stores.verify()
    assert faults(result) == [(Fault.EDITED, seq_row_key(3))]
    assert shown(result, capsys)[1] == cli.EXIT_TAMPERED


def test_editing_a_record_and_its_hash_names_the_broken_link(
    stores: Stores, capsys: pytest.CaptureFixture[str]
) -> None:
    stores.checkpoint()
    row = stores.row(3)
    row["Body"] = row["Body"].replace("event-grid", "someone-else")
    row["Hash"] = hashlib.sha256(row["Body"].encode()).hexdigest()
    stores.put(row)
    result = stores.verify()
    assert faults(result) == [(Fault.BROKEN_LINK, seq_row_key(4))]
    assert shown(result, capsys)[1] == cli.EXIT_TAMPERED


def test_rewriting_the_whole_tail_with_fresh_hashes_is_caught_by_the_checkpoint(
    stores: Stores, capsys: pytest.CaptureFixture[str]
) -> None:
    """Re-hash seq 5..8 consistently (and the head): only the signed checkpoint tells."""
    from shared.domain.lineage.chain import Link

    stores.checkpoint()
    prev = stores.row(4)["Hash"]
    last = None
    for seq in range(5, 9):
        row = stores.row(seq)
        link = Link.parse(row["Body"])
        doc = link.record.model_copy(update={"details": {**link.record.details, "x": "y"}})
        new = Link.make(seq, prev, doc)
        stores.put({**row, "Body": new.body, "Hash": new.hash, "PrevHash": prev})
        prev, last = new.hash, new
    assert last is not None
    pk = chain_partition(stores.artifact.key_hash)
    stores.put({"PartitionKey": pk, "RowKey": "head", "Seq": 8, "Hash": last.hash})
    result = stores.verify()
    assert faults(result) == [(Fault.REWRITTEN, seq_row_key(8))]
    assert shown(result, capsys)[1] == cli.EXIT_TAMPERED


def test_deleting_a_record_names_it(stores: Stores) -> None:
    stores.checkpoint()
    stores.client.delete_entity(chain_partition(stores.artifact.key_hash), seq_row_key(5))
    assert faults(stores.verify()) == [(Fault.SEQUENCE_GAP, seq_row_key(5))]


def test_reordering_records_names_the_first_moved(
    stores: Stores, capsys: pytest.CaptureFixture[str]
) -> None:
    stores.checkpoint()
    two, three = stores.row(2), stores.row(3)
    for target, source in ((two, three), (three, two)):
        swapped = {**source, "PartitionKey": target["PartitionKey"], "RowKey": target["RowKey"]}
        stores.put(swapped)
    result = stores.verify()
    assert faults(result) == [(Fault.MOVED, seq_row_key(2))]
    assert shown(result, capsys)[1] == cli.EXIT_TAMPERED


def test_deleting_a_whole_chain_is_detected(stores: Stores) -> None:
    stores.checkpoint()
    key_hash = stores.artifact.key_hash
    for e in list(
        stores.client.query_entities(
            "PartitionKey eq @pk", parameters={"pk": chain_partition(key_hash)}
        )
    ):
        stores.client.delete_entity(e["PartitionKey"], e["RowKey"])
    stores.client.delete_entity(ARTIFACTS, key_hash)  # a careful attacker cleans the index too
    assert faults(stores.verify()) == [(Fault.MISSING_CHAIN, None)]
    later = stores.checkpoint()
    assert later.suspicious == [key_hash]
    assert faults(stores.verify()) == [(Fault.MISSING_CHAIN, None)]


def test_the_cli_verifies_exports_and_checks_them_offline(
    stack: LocalStack, cell_container: Callable[[str], Container], tmp_path: Path
) -> None:
    cell = cell_container(REGION)
    model = f"cli-tamper-{uuid.uuid4().hex[:8]}"
    artifact = new_image(REGION, model)
    for r in story(artifact, REGION):
        writer(cell).append(r)
    runner = CliRunner()
    root = ["--root", str(stack.root)]
    args = ["verify", model, "--region", REGION, *root]
    take_checkpoint(
        TableLineageReader(cell.table_service),
        BlobCheckpoints(cell.blob_service),
        cell.checkpoint_signer,
        cell.checkpoint_verifier,
        REGION,
    )
    ok = runner.invoke(cli.app, args)
    assert ok.exit_code == 0, ok.output
    assert ok.stdout.splitlines()[-1].startswith("OK: ")

    export = tmp_path / "evidence.txt"
    done = runner.invoke(
        cli.app, ["export", "--format", "evidence", "-o", str(export), "--region", REGION, *root]
    )
    assert done.exit_code == 0, done.output
    key = ["--public-key", str(stack.checkpoint_public_key(REGION))]
    offline = runner.invoke(cli.app, ["verify", "--export", str(export), *key])
    assert offline.exit_code == 0, offline.output
    print(f"\n--- offline verify of the export (exit 0) ---\n{offline.stdout}")

    data = bytearray(export.read_bytes())
    line = next(
        ln
        for ln in data.decode().splitlines()
        if ln[65:].startswith('{"prev"') and model in ln and '"approve"' in ln
    )
    at = data.decode().index(line) + line.index('"approve"') + 2  # approve -> bpprove
    data[at] = ord("b")
    export.write_bytes(bytes(data))
    edited = runner.invoke(cli.app, ["verify", "--export", str(export), *key])
    print(f"--- offline verify, one byte edited (exit {edited.exit_code}) ---\n{edited.stdout}")
    assert edited.exit_code == cli.EXIT_TAMPERED
    assert f"[{artifact.key_hash}]: edited at seq-" in edited.stdout
    assert edited.stdout.splitlines()[-1] == "TAMPERED: edited (1)"

    other = tmp_path / "other.pem"
    from shared.adapters.signing.es256 import ensure_key_pair

    other = ensure_key_pair(tmp_path / "k")[1]
    wrong = runner.invoke(cli.app, ["verify", "--export", str(export), "--public-key", str(other)])
    assert wrong.exit_code == cli.EXIT_TAMPERED and "forged checkpoint" in wrong.stdout
    missing = runner.invoke(cli.app, ["verify", "--export", str(export), "--public-key", "/nope"])
    assert missing.exit_code == cli.EXIT_CANNOT_VERIFY and "key unavailable" in missing.stdout
    garbage = tmp_path / "garbage.txt"
    garbage.write_bytes(b"\x00\xff" * 100)
    junk = runner.invoke(cli.app, ["verify", "--export", str(garbage), *key])
    assert (junk.exit_code == cli.EXIT_TAMPERED and junk.exception is None) or isinstance(
        junk.exception, SystemExit
    )
    nothing = runner.invoke(cli.app, ["verify", "no-such-model", "--region", REGION, *root])
    assert nothing.exit_code == cli.EXIT_CANNOT_VERIFY


def test_a_decision_is_covered_by_a_signed_checkpoint_at_once(
    cell_container: Callable[[str], Container],
) -> None:
    """No waiting for the timer: the vote that decides asks for a checkpoint, signed off the
    vote's request path within a second or so, covering the decision."""
    import dataclasses

    from shared.domain.approval.request import ApprovalRequest
    from shared.domain.metadata.labels import parse_metadata
    from shared.domain.metadata.model import ArtifactKind
    from shared.local.samples import model_labels
    from shared.services.approval.requests import cast_vote, open_request
    from tests.support.fakes import FakeBus, FakeMailer

    cell = cell_container(REGION)
    deps = dataclasses.replace(cell.approvals(), mailer=FakeMailer(), bus=FakeBus(), teams=None)
    artifact = ArtifactRef(
        kind="image",
        registry="r.example",
        repository=f"models/decided-{uuid.uuid4().hex[:6]}",
        digest="sha256:" + uuid.uuid4().hex * 2,
    )
    now = datetime.now(UTC)
    approval = open_request(
        ApprovalRequest(
            artifact=artifact,
            source_region=REGION,
            metadata=parse_metadata(model_labels("decided", "1"), kind=ArtifactKind.IMAGE),
            event_id=f"e-{uuid.uuid4().hex[:8]}",
            received_at=now,
            validated_at=now,
        ),
        deps,
    )
    heads = BlobCheckpoints(cell.blob_service)
    before = set(heads.names())
    for approver in approval.approvers[: approval.min_approvals]:
        cast_vote(approval.approval_id, approver, "approve", None, "signed_link", deps)
    decided = time.monotonic()
    assert cell.decision_checkpoints.flush(timeout=10)  # no timer runs in this process
    took = time.monotonic() - decided
    print(f"\ndecision -> signed checkpoint: {took:.2f} s (off the vote's request path)")
    assert took < 5  # the timer's 20 s bound is the backstop, not what happens here
    assert set(heads.names()) - before  # a new checkpoint blob
    reader = TableLineageReader(cell.table_service)
    head = reader.head(artifact.key_hash)
    kinds = [e.record.kind for e in reader.chain(REGION, artifact.key_hash)]
    assert head is not None and RecordKind.APPROVAL_APPROVED in kinds
    result = verify_region(
        reader, BlobCheckpoints(cell.blob_service), cell.checkpoint_verifier, REGION,
        [artifact.key_hash],
    )  # fmt: skip
    assert result.coverage(artifact.key_hash) is not None
    covered, _ = result.coverage(artifact.key_hash) or (0, None)
    assert covered == head.seq  # the decision record is covered, with no timer run


def test_the_audit_page_badge_needs_the_chain_the_checkpoint_and_the_indexes(
    stores: Stores,
) -> None:
    from shared.services.lineage.http_api import answer
    from shared.services.lineage.queries import AuditQueries
    from shared.services.lineage.verify import verify_artifact

    def page() -> str:
        result = answer(
            "audit",
            stores.artifact.key_hash,
            {},
            AuditQueries({REGION: stores.reader}),
            REGION,
            lambda key_hash: verify_artifact(
                stores.reader,
                stores.reader,
                stores.heads,
                stores.cell.checkpoint_verifier,
                REGION,
                key_hash,
            ),
        )
        assert result.status == 200, result.body
        return result.body

    assert "NOT verified" in page() and "No signed checkpoint covers" in page()
    stores.checkpoint()
    assert "badge verified" in page() and "Records 1-8 are covered" in page()
    stores.writer.append(record(stores.artifact, RecordKind.DEPLOYMENT_STARTED, REGION))
    assert "1 newer record(s) are not covered yet" in page()
    stores.blobs.upload_blob("heads/0000000000000-<script>.json", b"junk")
    html = page()
    assert "not genuine" in html and "<script>" not in html and "&lt;script&gt;" in html
    pk = ARTIFACTS
    vote = next(r for r in stores.actor_rows("ann@contoso.example") if r["Kind"] == "approval.vote")
    vote["Body"] = vote["Body"].replace('"decision":"approve"', '"decision":"reject"')
    vote["Hash"] = hashlib.sha256(vote["Body"].encode()).hexdigest()
    stores.put(vote)
    html = page()
    assert "NOT verified" in html and f"diverging index row {pk} / " in html


def test_the_audit_page_verifies_by_actor_rows_of_the_former_layout(stores: Stores) -> None:
    """Every by-actor row moved back to where it was written before the catalog partition
    (``x|<identity>`` partitions): the badge still says verified; one of them edited there, or
    deleted from both places, is named."""
    from shared.domain.lineage.index import former_address
    from shared.services.lineage.verify import verify_artifact

    def faults() -> list[tuple[str, str, str]]:
        verdict = verify_artifact(
            stores.reader, stores.reader, stores.heads, stores.cell.checkpoint_verifier,
            REGION, stores.artifact.key_hash,
        )  # fmt: skip
        return [(f.partition, f.row_key, f.detail) for f in verdict.index_faults]

    stores.checkpoint()
    assert faults() == []
    # an edited copy planted at the former address of a current row: by-actor would show it
    genuine = stores.actor_rows("ann@contoso.example")[0]
    planted_at = former_address(ARTIFACTS, genuine["RowKey"])
    assert planted_at is not None
    planted = {**genuine, "PartitionKey": planted_at[0], "RowKey": planted_at[1]}
    planted["Body"] = planted["Body"].replace("contoso.example", "fabrikam.example")
    planted["Hash"] = hashlib.sha256(planted["Body"].encode()).hexdigest()
    stores.put(planted)
    assert [(p, r) for p, r, _ in faults()] == [planted_at]
    stores.client.delete_entity(*planted_at)
    moved = []
    for who in ("ann", "bob", "cid"):
        for row in stores.actor_rows(f"{who}@contoso.example"):
            former = former_address(ARTIFACTS, row["RowKey"])
            assert former is not None
            stores.client.delete_entity(ARTIFACTS, row["RowKey"])
            stores.put({**row, "PartitionKey": former[0], "RowKey": former[1]})
            moved.append((row["RowKey"], former))
    assert len(moved) >= 5 and faults() == []

    current, (pk, rk) = moved[0]
    edited = dict(stores.client.get_entity(pk, rk))
    edited["Body"] = edited["Body"].replace("contoso.example", "fabrikam.example")
    edited["Hash"] = hashlib.sha256(edited["Body"].encode()).hexdigest()
    stores.put(edited)
    assert [(p, r) for p, r, _ in faults()] == [(pk, rk)]
    stores.client.delete_entity(pk, rk)
    assert faults() == [(ARTIFACTS, current, "missing")]


def test_concurrent_checkpoint_writers_never_fork(stores: Stores) -> None:
    """The timer on one instance and a decision on another sign at the same moment."""
    from concurrent.futures import ThreadPoolExecutor

    stores.checkpoint()
    for round_ in range(3):
        stores.writer.append(record(stores.artifact, RecordKind.DEPLOYMENT_STARTED, REGION))
        with ThreadPoolExecutor(max_workers=3) as pool:
            list(pool.map(lambda _: stores.checkpoint(), range(3)))
        result = stores.verify()
        assert result.trail.anomalies == [], (round_, result.trail.anomalies)
        assert result.outcome is Outcome.OK


def test_verify_all_reads_every_chain_row_whatever_the_ranges_and_heads_say(
    stores: Stores, capsys: pytest.CaptureFixture[str]
) -> None:
    """``verify --all`` reads the chain partitions in range queries sized from the head rows;
    an attacker who deletes head rows or writes rows under partitions no head names (sorting
    before, between and after the key hashes) still has every row read and judged."""
    for _ in range(6):
        for r in story(new_image(REGION), REGION):
            stores.writer.append(r)
    stores.checkpoint()

    def verify(range_rows: int) -> RegionVerification:
        reader = TableLineageReader(stores.cell.table_service, stores.table, range_rows)
        return verify_region(reader, stores.heads, stores.cell.checkpoint_verifier, REGION)

    clean = verify(10)  # eight chains of 8 records, in seven ranges
    assert clean.outcome is Outcome.OK and clean.records == verify(1000).records == 64
    heads = stores.reader.all_heads()
    victim = sorted(heads)[4]  # a chain in a middle range
    stores.client.delete_entity(chain_partition(victim), "head")
    edited = sorted(heads)[-1]
    row = dict(stores.client.get_entity(chain_partition(edited), seq_row_key(2)))
    row["Body"] = row["Body"].replace("event-grid", "someone-else")
    stores.put(row)
    first = stores.row(1)
    for pk in ("c|!before", "c|5zz-between", "c|zzz-after"):
        stores.put({**first, "PartitionKey": pk})  # a copied record under a foreign name
    for range_rows in (1, 10, 1000):
        result = verify(range_rows)
        found = sorted((c.key_hash, c.fault.fault) for c in result.broken if c.fault)
        assert found == sorted(
            [
                (victim, Fault.HEAD_MISMATCH),
                (edited, Fault.EDITED),
                ("!before", Fault.HEAD_MISMATCH),  # a chain of one record and no head
                ("5zz-between", Fault.HEAD_MISMATCH),
                ("zzz-after", Fault.HEAD_MISMATCH),
            ]
        ), range_rows
        assert result.records == 64 - 7 + 3  # the edited chain stops before its seq 2
    _out, code = shown(verify(10), capsys)
    assert code == cli.EXIT_TAMPERED
