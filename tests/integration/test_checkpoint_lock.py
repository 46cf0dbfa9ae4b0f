"""The checkpoint writers' lock row against Azurite: taken, released, taken over, never lost."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.adapters.storage.lineage.checkpoint_lock import PARTITION, ROW, TableCheckpointLock
from shared.composition import Container
from tests.integration.lineage_support import fresh_table

pytestmark = pytest.mark.stack


def lock_row(client: Any) -> dict[str, Any] | None:
    from azure.core.exceptions import ResourceNotFoundError

    try:
        return dict(client.get_entity(PARTITION, ROW))
    except ResourceNotFoundError:
        return None


@pytest.fixture
def parts(cell_container: Callable[[str], Container]) -> tuple[Any, str]:
    cell = cell_container("westeurope")
    return cell.table_service, fresh_table()


def test_the_lock_is_held_for_the_block_and_released_after(parts: tuple[Any, str]) -> None:
    service, table = parts
    lock = TableCheckpointLock(service, table)
    client = service.get_table_client(table)
    with lock.held() as taken:
        assert taken and lock_row(client) is not None
        with TableCheckpointLock(service, table, wait=0.5).held() as second:
            assert not second  # held by the first: the second gives up after ``wait``
        assert lock_row(client) is not None  # the second's exit deleted nothing
    assert lock_row(client) is None
    with lock.held() as again:  # released: taken again at once
        assert again


def test_a_holder_that_overran_does_not_release_the_lock_taken_over_from_it(
    parts: tuple[Any, str],
) -> None:
    from azure.data.tables import UpdateMode

    service, table = parts
    client = service.get_table_client(table)
    taker = TableCheckpointLock(service, table, wait=2).held()
    with TableCheckpointLock(service, table).held() as slow:
        assert slow
        row = lock_row(client)
        assert row is not None
        row["Until"] = datetime.now(UTC) - timedelta(seconds=1)  # its hold ran out
        client.update_entity(row, mode=UpdateMode.REPLACE)
        assert taker.__enter__()  # a stale lock is taken over (the slow one still runs)
        taken_over = lock_row(client)
        assert taken_over is not None and taken_over["Owner"] != row["Owner"]
    assert lock_row(client) == taken_over  # the slow holder's exit left the taker's row
    taker.__exit__(None, None, None)
    assert lock_row(client) is None  # the taker released its own
