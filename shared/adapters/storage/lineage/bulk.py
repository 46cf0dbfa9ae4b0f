"""Bulk writing of whole chains (benchmark loads, index rebuilds): the writer's exact rows,
grouped by partition into entity-group transactions of up to 100 operations.

Not for live traffic: it assumes it is the only writer of the chains it writes.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from shared.adapters.storage.lineage.entities import (
    Entity,
    chain_row,
    head_row,
    index_rows,
    pointer,
)
from shared.domain.lineage.chain import HeadMark, Link
from shared.domain.lineage.index import (
    LIVE,
    DeploymentEvent,
    LiveScope,
    current_live,
    live_row_key,
    live_scope,
)
from shared.domain.lineage.record import LineageRecord

BATCH = 100
ATTEMPTS = 6


def chain_entities(records: Sequence[LineageRecord]) -> tuple[list[Entity], list[Link]]:
    """Chain rows, head row and index rows of one artifact's records (in order)."""
    if not records:
        return [], []
    key_hash = records[0].artifact.key_hash
    links: list[Link] = []
    head: HeadMark | None = None
    for record in records:
        link = Link.after(head, record)
        links.append(link)
        head = link.mark
    first_at = records[0].at
    rows: list[Entity] = []
    for link in links:
        rows.append(chain_row(key_hash, link))
        rows.extend(index_rows(key_hash, link, first_at))
    assert head is not None
    rows.append(head_row(key_hash, head))
    return rows, links


def live_entities(chains: Iterable[list[Link]]) -> list[Entity]:
    """The ``live`` rows that the deployment records of these chains imply."""
    by_scope: dict[LiveScope, dict[DeploymentEvent, Link]] = defaultdict(dict)
    for links in chains:
        for link in links:
            scope = live_scope(link.record)
            if scope is not None:
                key_hash = link.record.artifact.key_hash
                event = DeploymentEvent(link.record.at, link.record.kind, key_hash, link.seq)
                by_scope[scope][event] = link
    rows = []
    for (model, stage), events in by_scope.items():
        top = current_live(events)
        if top is not None:
            link = events[top]
            rows.append(
                {
                    "PartitionKey": LIVE,
                    "RowKey": live_row_key(model, stage),
                    "Model": model,
                    **({"Stage": stage} if stage else {}),
                    "Since": top.at,
                    **pointer(top.key_hash, link),
                }
            )
    return rows


def write_entities(table: Any, entities: Iterable[Entity], workers: int = 8) -> int:
    """Upsert (merge) entities in per-partition transactions; returns how many transactions."""
    from azure.core.exceptions import ServiceRequestError, ServiceResponseError
    from azure.data.tables import UpdateMode

    merged: dict[tuple[str, str], Entity] = {}
    for e in entities:
        key = (e["PartitionKey"], e["RowKey"])
        merged[key] = {**merged.get(key, {}), **e}
    partitions: dict[str, list[Entity]] = defaultdict(list)
    for (pk, _), e in merged.items():
        partitions[pk].append(e)
    batches = [
        rows[i : i + BATCH] for rows in partitions.values() for i in range(0, len(rows), BATCH)
    ]

    def submit(batch: list[Entity]) -> None:
        ops = [("upsert", e, {"mode": UpdateMode.MERGE}) for e in batch]
        for attempt in range(ATTEMPTS):
            try:
                table.submit_transaction(ops)
                return
            except (ServiceRequestError, ServiceResponseError):
                if attempt == ATTEMPTS - 1:
                    raise
                time.sleep(0.5 * 2**attempt)  # merges are idempotent: resending is safe

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(submit, batches))
    return len(batches)
