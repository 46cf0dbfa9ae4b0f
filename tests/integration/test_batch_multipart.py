"""Entity-group transactions against Azurite with the lean multipart code, and with azure-core's
own (email-based) code as the control: the same outcomes, the same errors."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from azure.core import MatchConditions
from azure.data.tables import TableClient, TableServiceClient, TableTransactionError, UpdateMode

from shared.adapters import multipart
from shared.adapters.http_pool import cell_transport
from shared.local.stack import REGIONS, LocalStack

pytestmark = pytest.mark.stack

VARIANTS = ("lean", "email")


@contextlib.contextmanager
def variant(name: str) -> Iterator[None]:
    with multipart.originals() if name == "email" else contextlib.nullcontext():
        yield


@pytest.fixture(scope="module")
def service(stack: LocalStack) -> TableServiceClient:
    conn = stack.connection_string(REGIONS[0])
    return TableServiceClient.from_connection_string(conn, transport=cell_transport({}))


@pytest.fixture
def table(service: TableServiceClient) -> Iterator[TableClient]:
    name = "batch" + uuid.uuid4().hex[:12]
    client = service.create_table(name)
    yield client
    service.delete_table(name)


def rows(table: TableClient) -> dict[str, dict[str, Any]]:
    return {e["RowKey"]: dict(e) for e in table.query_entities("PartitionKey eq 'p'")}


@pytest.mark.parametrize("name", VARIANTS)
def test_a_conflicting_insert_names_its_operation_and_commits_nothing(
    table: TableClient, name: str
) -> None:
    table.create_entity({"PartitionKey": "p", "RowKey": "taken", "V": 0})
    ops: list[Any] = [("create", {"PartitionKey": "p", "RowKey": f"n{i}"}) for i in range(5)]
    ops.insert(3, ("create", {"PartitionKey": "p", "RowKey": "taken", "V": 1}))
    with variant(name), pytest.raises(TableTransactionError) as caught:
        table.submit_transaction(ops)
    assert caught.value.index == 3
    assert caught.value.status_code == 409
    assert caught.value.error_code == "EntityAlreadyExists"
    assert set(rows(table)) == {"taken"} and rows(table)["taken"]["V"] == 0


@pytest.mark.parametrize("name", VARIANTS)
def test_a_stale_etag_names_its_operation(table: TableClient, name: str) -> None:
    first = table.create_entity({"PartitionKey": "p", "RowKey": "a", "V": 0})
    table.update_entity({"PartitionKey": "p", "RowKey": "a", "V": 1})
    ops = [
        ("upsert", {"PartitionKey": "p", "RowKey": "b"}),
        (
            "update",
            {"PartitionKey": "p", "RowKey": "a", "V": 2},
            {"etag": first["etag"], "match_condition": MatchConditions.IfNotModified},
        ),
    ]
    with variant(name), pytest.raises(TableTransactionError) as caught:
        table.submit_transaction(ops)
    assert caught.value.index == 1 and caught.value.status_code == 412
    assert set(rows(table)) == {"a"}


@pytest.mark.parametrize("name", VARIANTS)
def test_a_hundred_operations_with_awkward_text_round_trip(table: TableClient, name: str) -> None:
    awkward = "é日本\r\nline\nbreak\r--batch_x\r\n--changeset_y--\u2028\x00"
    ops: list[Any] = [
        ("upsert", {"PartitionKey": "p", "RowKey": f"r{i:03d}", "T": f"{awkward}{i}", "N": i})
        for i in range(97)
    ]
    big = "x" * 30000 + "é"  # near the 64 KiB limit of a string property (UTF-16)
    ops += [("create", {"PartitionKey": "p", "RowKey": f"big{i}", "T": big}) for i in range(3)]
    with variant(name):
        results = table.submit_transaction(ops)
    assert len(results) == 100 and all(r.get("etag") for r in results)
    stored = rows(table)
    assert len(stored) == 100
    assert stored["r042"]["T"] == f"{awkward}42" and stored["r042"]["N"] == 42
    assert stored["big2"]["T"] == big


@pytest.mark.parametrize("name", VARIANTS)
def test_every_kind_of_operation_in_one_changeset(table: TableClient, name: str) -> None:
    for key in ("m", "r", "d"):
        table.create_entity({"PartitionKey": "p", "RowKey": key, "A": 1, "B": 1})
    ops: list[Any] = [
        ("create", {"PartitionKey": "p", "RowKey": "c", "A": 1}),
        ("update", {"PartitionKey": "p", "RowKey": "m", "B": 2}, {"mode": UpdateMode.MERGE}),
        ("update", {"PartitionKey": "p", "RowKey": "r", "B": 3}, {"mode": UpdateMode.REPLACE}),
        ("delete", {"PartitionKey": "p", "RowKey": "d"}),
        ("upsert", {"PartitionKey": "p", "RowKey": "u", "A": 5}, {"mode": UpdateMode.REPLACE}),
    ]
    with variant(name):
        results = table.submit_transaction(ops)
    assert len(results) == 5
    stored = rows(table)
    assert set(stored) == {"c", "m", "r", "u"}
    assert (stored["m"]["A"], stored["m"]["B"]) == (1, 2)
    assert "A" not in stored["r"] and stored["r"]["B"] == 3
