"""Table queries read as plain JSON, for the bulk reads of ``verify`` and ``export``.

The SDK's ``query_entities`` turns every row into a generated model and then into a
``TableEntity`` with typed properties: most of the host CPU of reading a large chain. Verify
needs a handful of string properties of each row, so these queries go through the same
client pipeline (authentication, retries, transport) as every other request, but ask for
``application/json;odata=nometadata`` with ``$select`` and large pages, and decode each page
once with ``json``. A property is whatever JSON value the service returns (no type
annotations): callers treat everything as untrusted text, as they do with the SDK's values.

``sharded`` splits a partition-key range into ranges fetched by a small thread pool while
the caller consumes them in key order; each range hands over at most ``PREFETCH`` pages ahead
of the consumer, so memory stays bounded whatever the table holds.
"""

from __future__ import annotations

import itertools
import json
import queue
import threading
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

from shared.domain.errors import TransientError

Entity = dict[str, Any]
PAGE = 1000  # the service's maximum
PREFETCH = 2  # pages each range may fetch ahead of the consumer
_ACCEPT = "application/json;odata=nometadata"
_DONE = object()


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def odata_filter(template: str, params: dict[str, str]) -> str:
    """``@name`` placeholders replaced by quoted string literals (as the SDK does)."""
    for name in sorted(params, key=len, reverse=True):
        template = template.replace(f"@{name}", _literal(params[name]))
    return template


def raw_pages(
    table: Any, flt: str, select: Sequence[str] | None, page: int = PAGE
) -> Iterator[list[Entity]]:
    """The pages of one query as lists of plain dicts; nothing if the table does not exist.

    ``table`` is an ``azure.data.tables.TableClient``: its generated client's
    ``send_request`` runs the request through the client's own pipeline (the SDK sends its
    entity-group transactions the same way).
    """
    from azure.core.exceptions import AzureError
    from azure.core.rest import HttpRequest

    base = f"/{quote(table.table_name, safe='')}()?$filter={quote(flt, safe='')}&$top={page}"
    if select:
        base += "&$select=" + quote(",".join(select), safe="")
    headers = {"Accept": _ACCEPT, "DataServiceVersion": "3.0", "x-ms-version": table.api_version}
    token: tuple[str, str | None] | None = None
    while True:
        url = base
        if token is not None:
            url += f"&NextPartitionKey={quote(token[0], safe='')}"
            if token[1] is not None:
                url += f"&NextRowKey={quote(token[1], safe='')}"
        try:
            response = table._client.send_request(
                HttpRequest("GET", url, headers=headers), stream=True
            )
            body = response.read()
        except AzureError as exc:
            raise TransientError(f"lineage store unavailable: {exc}") from exc
        status = response.status_code
        if status == 404:
            return  # no table yet: nothing was ever recorded in this cell
        if status != 200:
            raise TransientError(f"lineage store unavailable: HTTP {status} on a query")
        try:
            rows = json.loads(body)["value"]
        except (ValueError, KeyError, TypeError) as exc:
            raise TransientError("lineage store answered a query with no JSON rows") from exc
        if not isinstance(rows, list):
            raise TransientError("lineage store answered a query with no JSON rows")
        yield rows
        next_pk = response.headers.get("x-ms-continuation-NextPartitionKey")
        if not next_pk:
            return
        token = (next_pk, response.headers.get("x-ms-continuation-NextRowKey"))


def raw_rows(table: Any, flt: str, select: Sequence[str] | None) -> Iterator[Entity]:
    for rows in raw_pages(table, flt, select):
        yield from rows


def range_bounds(sizes: Mapping[str, int], lo: str, hi: str, per_range: int = PAGE) -> list[str]:
    """Bounds splitting [lo, hi) into ranges of at most ``per_range`` rows (one page: one
    query each), given the rows each partition is expected to hold; a partition larger than
    that is a range of its own. The first bound is ``lo`` and the last ``hi``, whatever
    ``sizes`` holds, so the ranges cover every partition in between."""
    bounds, total = [lo], 0
    for partition in sorted(p for p in sizes if lo < p < hi):
        size = max(0, sizes[partition])
        if total and total + size > per_range:
            bounds.append(partition)
            total = 0
        total += size
    bounds.append(hi)
    return bounds


def sharded(
    table: Any,
    bounds: Sequence[str],
    flt: str,
    select: Sequence[str] | None,
    workers: int = 4,
) -> Iterator[Entity]:
    """Rows of ``PartitionKey ge bounds[i] and PartitionKey lt bounds[i+1]`` (and ``flt``),
    range after range: every row in [bounds[0], bounds[-1]) exactly once, in key order.

    Up to ``workers`` ranges are fetched at once, each at most ``PREFETCH`` pages ahead.
    Closing the iterator early stops the fetchers.
    """
    ranges = list(itertools.pairwise(bounds))
    if not ranges:
        return
    stop = threading.Event()
    pipes: list[queue.Queue[object]] = [queue.Queue(maxsize=PREFETCH) for _ in ranges]

    def fetch(i: int) -> None:
        lo, hi = ranges[i]
        where = odata_filter("PartitionKey ge @lo and PartitionKey lt @hi", {"lo": lo, "hi": hi})
        # whatever ends this range early reaches the consumer: never a silently short read
        item: object = TransientError(f"reading lineage range [{lo!r}, {hi!r}) stopped")
        try:
            for rows in raw_pages(table, f"{where} and ({flt})", select):
                if not _put(pipes[i], rows, stop):
                    return
            item = _DONE
        except Exception as exc:  # noqa: BLE001 - handed to the consumer, raised there
            item = exc
        finally:
            _put(pipes[i], item, stop)

    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="lineage-read")
    try:
        for i in range(len(ranges)):
            pool.submit(fetch, i)
        for pipe in pipes:
            while True:
                item = pipe.get()
                if item is _DONE:
                    break
                if isinstance(item, BaseException):
                    raise item
                assert isinstance(item, list)
                yield from item
    finally:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)


def _put(pipe: queue.Queue[object], item: object, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            pipe.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False
