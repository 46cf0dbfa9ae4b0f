"""Tampering directly in Azurite: every edit, deletion or re-ordering makes verify fail by name."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from typer.testing import CliRunner

from shared.adapters.storage.lineage.heads_blobs import BlobChainHeads
from shared.adapters.storage.lineage.reader import TableLineageReader
from shared.adapters.storage.lineage.writer import TableLineageWriter
from shared.cli import lineage as cli
from shared.composition import Container
from shared.domain.lineage.chain import seq_row_key
from shared.domain.lineage.index import ARTIFACTS, chain_partition
from shared.domain.lineage.record import ArtifactRef
from shared.domain.lineage.verify import Fault
from shared.local.stack import LocalStack
from shared.services.lineage.heads import snapshot_heads
from shared.services.lineage.verify import RegionVerification, verify_region
from tests.integration.lineage_support import fresh_table, new_image, story, writer

pytestmark = pytest.mark.stack


@dataclass
class Stores:
    cell: Container
    table: str
    writer: TableLineageWriter
    reader: TableLineageReader
    heads: BlobChainHeads
    artifact: ArtifactRef

    @property
    def client(self) -> Any:
        return self.cell.table_service.get_table_client(self.table)

    def row(self, seq: int) -> dict[str, Any]:
        return dict(
            self.client.get_entity(chain_partition(self.artifact.key_hash), seq_row_key(seq))
        )

    def put(self, entity: dict[str, Any]) -> None:
        from azure.data.tables import UpdateMode

        self.client.upsert_entity(entity, mode=UpdateMode.REPLACE)

    def verify(self) -> RegionVerification:
        return verify_region(self.reader, self.heads, "westeurope")


@pytest.fixture
def stores(cell_container: Callable[[str], Container]) -> Iterator[Stores]:
    """A private table and snapshot container holding one 8-record chain and a bystander."""
    cell = cell_container("westeurope")
    table = fresh_table()
    w = writer(cell, table)
    artifact = new_image("westeurope", "tamper-model")
    for r in story(artifact, "westeurope") + story(new_image("westeurope"), "westeurope"):
        w.append(r)
    heads = BlobChainHeads(cell.blob_service, container=f"heads-{uuid.uuid4().hex[:12]}")
    yield Stores(cell, table, w, TableLineageReader(cell.table_service, table), heads, artifact)
    from azure.core.exceptions import ResourceNotFoundError

    cell.table_service.delete_table(table)
    with contextlib.suppress(ResourceNotFoundError):
        cell.blob_service.delete_container(heads.container_name)


def only_fault(result: RegionVerification) -> tuple[Fault, str | None]:
    assert len(result.broken) == 1, [c.fault for c in result.broken]
    fault = result.broken[0].fault
    assert fault is not None
    return fault.fault, fault.row_key


def test_an_untouched_table_verifies(stores: Stores) -> None:
    result = stores.verify()
    assert result.broken == [] and len(result.checks) == 2 and result.records == 16


def test_editing_a_record_names_it(stores: Stores) -> None:
    row = stores.row(3)
    row["Body"] = row["Body"].replace("event-grid", "someone-else")
    stores.put(row)
    assert only_fault(stores.verify()) == (Fault.EDITED, seq_row_key(3))


def test_editing_a_record_and_its_hash_names_the_broken_link(stores: Stores) -> None:
    import hashlib

    row = stores.row(3)
    row["Body"] = row["Body"].replace("event-grid", "someone-else")
    row["Hash"] = hashlib.sha256(row["Body"].encode()).hexdigest()
    stores.put(row)
    assert only_fault(stores.verify()) == (Fault.BROKEN_LINK, seq_row_key(4))


def test_deleting_a_record_names_it(stores: Stores) -> None:
    stores.client.delete_entity(chain_partition(stores.artifact.key_hash), seq_row_key(5))
    assert only_fault(stores.verify()) == (Fault.SEQUENCE_GAP, seq_row_key(5))


def test_reordering_records_names_the_first_moved(stores: Stores) -> None:
    two, three = stores.row(2), stores.row(3)
    for target, source in ((two, three), (three, two)):
        swapped = {**source, "PartitionKey": target["PartitionKey"], "RowKey": target["RowKey"]}
        stores.put(swapped)
    assert only_fault(stores.verify()) == (Fault.MOVED, seq_row_key(2))


def test_deleting_the_tail_and_fixing_the_head_is_caught_by_the_snapshot(stores: Stores) -> None:
    snapshot_heads(stores.reader, stores.heads, "westeurope")
    pk = chain_partition(stores.artifact.key_hash)
    seven = stores.row(7)
    stores.client.delete_entity(pk, seq_row_key(8))
    stores.put({"PartitionKey": pk, "RowKey": "head", "Seq": 7, "Hash": seven["Hash"]})
    assert only_fault(stores.verify()) == (Fault.TRUNCATED, None)


def test_deleting_a_whole_chain_is_detected(stores: Stores) -> None:
    snapshot_heads(stores.reader, stores.heads, "westeurope")
    key_hash = stores.artifact.key_hash
    for e in list(
        stores.client.query_entities(
            "PartitionKey eq @pk", parameters={"pk": chain_partition(key_hash)}
        )
    ):
        stores.client.delete_entity(e["PartitionKey"], e["RowKey"])
    stores.client.delete_entity(ARTIFACTS, key_hash)  # a careful attacker cleans the index too
    assert only_fault(stores.verify()) == (Fault.MISSING_CHAIN, None)
    # and the next snapshot keeps the deleted chain's head, so it stays detectable
    later = snapshot_heads(stores.reader, stores.heads, "westeurope")
    assert later.suspicious == [key_hash]
    assert only_fault(stores.verify()) == (Fault.MISSING_CHAIN, None)


def test_the_cli_prints_the_broken_link_and_exits_non_zero(
    stack: LocalStack, cell_container: Callable[[str], Container]
) -> None:
    cell = cell_container("westeurope")
    model = f"cli-tamper-{uuid.uuid4().hex[:8]}"
    artifact = new_image("westeurope", model)
    for r in story(artifact, "westeurope"):
        writer(cell).append(r)
    runner = CliRunner()
    args = ["verify", model, "--root", str(stack.root)]
    ok = runner.invoke(cli.app, args)
    assert ok.exit_code == 0, ok.output
    assert "OK" in ok.stdout

    table = cell.table_service.get_table_client("lineage")
    pk, rk = chain_partition(artifact.key_hash), seq_row_key(6)
    original = dict(table.get_entity(pk, rk))
    try:
        table.upsert_entity({**original, "Body": original["Body"].replace("approve", "reject")})
        broken = runner.invoke(cli.app, args)
        assert broken.exit_code == 1
        assert f"BROKEN {artifact.key}" in broken.stdout
        assert f"edited at {rk}" in broken.stdout
    finally:
        table.upsert_entity(original)
    assert runner.invoke(cli.app, args).exit_code == 0
    missing = runner.invoke(cli.app, ["verify", "no-such-model", "--root", str(stack.root)])
    assert missing.exit_code == 1
