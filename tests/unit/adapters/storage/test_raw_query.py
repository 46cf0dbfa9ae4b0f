"""Plain-JSON table queries and the range reads of ``verify --all``, through the SDK's real
pipeline over a fake table service (``tests.support.azure_wire``)."""

from __future__ import annotations

import itertools
import random
import re
import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from azure.data.tables import TableServiceClient

from shared.adapters.storage.lineage.raw_query import (
    odata_filter,
    range_bounds,
    raw_pages,
    sharded,
)
from shared.domain.errors import TransientError
from tests.support.azure_wire import Reply, Route, WireTransport

CONN = (
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
    "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
    "TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;"
)


def table(transport: Any) -> Any:
    return TableServiceClient.from_connection_string(CONN, transport=transport).get_table_client(
        "lineage"
    )


class TableService(WireTransport):
    """Answers range queries (``PartitionKey ge/lt``, ``RowKey ge/lt``) over ``rows`` in key
    order, ``$top`` rows per page with continuation headers, as the service does."""

    def __init__(self, rows: list[dict[str, Any]], delay: float = 0.0) -> None:
        super().__init__()
        self.rows = sorted(rows, key=lambda r: (r["PartitionKey"], r["RowKey"]))
        self.delay = delay
        self.active = 0
        self.most_active = 0

    def _match(self, seen: Any) -> Reply | None:
        q = {k: v[0] for k, v in parse_qs(urlsplit(seen.url).query).items()}
        flt, top = q["$filter"], int(q["$top"])
        keep = [r for r in self.rows if _matches(flt, r)]
        if "NextPartitionKey" in q:
            at = (q["NextPartitionKey"], q.get("NextRowKey", ""))
            keep = [r for r in keep if (r["PartitionKey"], r["RowKey"]) >= at]
        page, rest = keep[:top], keep[top:]
        headers = {}
        if rest:
            headers = {
                "x-ms-continuation-NextPartitionKey": rest[0]["PartitionKey"],
                "x-ms-continuation-NextRowKey": rest[0]["RowKey"],
            }
        return Reply(200, {"value": page}, headers, delay=self.delay)


def _matches(flt: str, row: dict[str, Any]) -> bool:
    for prop, op, literal in re.findall(r"(\w+) (ge|lt|eq) '((?:[^']|'')*)'", flt):
        value, bound = row[prop], literal.replace("''", "'")
        if not {"ge": value >= bound, "lt": value < bound, "eq": value == bound}[op]:
            return False
    return True


def rows(partitions: dict[str, int]) -> list[dict[str, Any]]:
    return [
        {"PartitionKey": pk, "RowKey": f"seq-{i:010d}", "Body": f"{pk}/{i}"}
        for pk, n in partitions.items()
        for i in range(1, n + 1)
    ]


def test_a_filter_quotes_its_values_as_odata_literals() -> None:
    flt = odata_filter("PartitionKey eq @pk and RowKey ge @p", {"pk": "it's", "p": "a'b"})
    assert flt == "PartitionKey eq 'it''s' and RowKey ge 'a''b'"


def test_range_bounds_cover_everything_in_pages_of_at_most_the_size() -> None:
    rng = random.Random(3)
    sizes = {f"c|{rng.randbytes(8).hex()}": rng.randrange(0, 400) for _ in range(200)}
    sizes |= {"a|outside": 5000, "d|outside": 5000, "c|huge": 5000, "c|negative": -7}
    bounds = range_bounds(sizes, "c|", "c}", 1000)
    assert bounds[0] == "c|" and bounds[-1] == "c}" and bounds == sorted(set(bounds))
    for lo, hi in itertools.pairwise(bounds):
        inside = [n for p, n in sizes.items() if lo <= p < hi]
        assert sum(max(0, n) for n in inside) <= 1000 or len(inside) == 1
    assert range_bounds({}, "c|", "c}") == ["c|", "c}"]


def test_pages_follow_the_continuation_and_ask_for_plain_json() -> None:
    service = TableService(rows({"c|a": 2500}))
    pages = list(raw_pages(table(service), "PartitionKey ge 'c|'", ["RowKey", "Body"]))
    assert [len(p) for p in pages] == [1000, 1000, 500]
    assert [r["Body"] for p in pages for r in p] == [f"c|a/{i}" for i in range(1, 2501)]
    first, second = service.seen[0], service.seen[1]
    assert first.headers["Accept"] == "application/json;odata=nometadata"
    assert parse_qs(urlsplit(first.url).query)["$select"] == ["RowKey,Body"]
    assert parse_qs(urlsplit(second.url).query)["NextRowKey"] == ["seq-0000001001"]


@pytest.mark.parametrize(
    ("reply", "rows_or_error"),
    [
        (Reply(404, {"odata.error": {"code": "TableNotFound"}}), []),
        (Reply(403, {"odata.error": {"code": "AuthorizationFailure"}}), TransientError),
        (Reply(200, "<html>a proxy's page</html>"), TransientError),
        (Reply(200, {"value": {"not": "a list"}}), TransientError),
        (Reply(200, {"nothing": []}), TransientError),
    ],
)
def test_a_missing_table_is_empty_and_anything_else_unexpected_is_transient(
    reply: Reply, rows_or_error: Any
) -> None:
    tc = table(WireTransport(Route("GET", r"lineage\(\)", [reply])))
    if rows_or_error is TransientError:
        with pytest.raises(TransientError):
            list(raw_pages(tc, "PartitionKey eq 'x'", None))
    else:
        assert list(raw_pages(tc, "PartitionKey eq 'x'", None)) == rows_or_error


def test_sharded_reads_return_every_row_once_in_key_order_with_ranges_in_parallel() -> None:
    parts = {f"c|{i:02x}": 150 + i for i in range(40)} | {"c|!": 3, "c|zz": 4, "d|x": 9}
    service = TableService(rows(parts), delay=0.005)
    bounds = range_bounds({p: n for p, n in parts.items() if p.startswith("c|0")}, "c|", "c}")
    got = list(sharded(table(service), bounds, "RowKey ge 'seq-'", None, workers=4))
    expected = [r for r in service.rows if "c|" <= r["PartitionKey"] < "c}"]
    assert got == expected  # the size hints named a few partitions only: all are read
    assert service.overlaps > 0  # ranges were fetched at once


def test_an_error_in_one_range_reaches_the_reader_and_closing_early_stops_the_fetchers() -> None:
    service = TableService(rows({f"c|{i:02x}": 1000 for i in range(12)}), delay=0.01)
    bounds = ["c|", *(f"c|{i:02x}" for i in range(1, 12)), "c}"]
    before = threading.active_count()
    reads = sharded(table(service), bounds, "RowKey ge 'seq-'", None, workers=4)
    assert next(reads)["PartitionKey"] == "c|00"
    started = time.monotonic()
    reads.close()
    assert time.monotonic() - started < 2 and threading.active_count() <= before
    assert len(service.seen) < 12  # the later ranges were never asked for

    broken = WireTransport(
        Route("GET", r"lineage\(\)", [Reply(200, {"value": [{"PartitionKey": "c|0"}]})]),
    )
    broken.add("GET", r"lineage\(\)", Reply(200, {"value": []}), Reply(403, {}))
    with pytest.raises(TransientError):
        list(sharded(table(broken), ["c|", "c|5", "c}"], "RowKey ge 'seq-'", None))
