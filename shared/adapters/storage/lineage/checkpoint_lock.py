"""One checkpoint writer at a time per cell, across instances: a lock row in the lineage table.

Two instances signing at once (the timer on one, an approval decision on another) would both
name the same predecessor: a fork, which verify reports. The lock is a row
``checkpoints/lock`` created with a conditional insert and an expiry; a stale lock (its holder
died) is taken over with an ETag-guarded replace. Whoever can write the table can hold the
lock (a denial of service); after ``wait`` seconds the writer proceeds anyway and the worst
outcome is a fork that verify reports, never a hidden change.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.adapters.storage.lineage.reader import TABLE
from shared.adapters.storage.resources import LazyTable
from shared.domain.errors import TransientError

log = logging.getLogger(__name__)
PARTITION, ROW = "checkpoints", "lock"


class TableCheckpointLock:
    def __init__(
        self, table_service: Any, table: str = TABLE, hold: float = 30.0, wait: float = 10.0
    ) -> None:
        self._table = LazyTable(table_service, table)
        self._hold, self._wait = hold, wait

    @contextmanager
    def held(self) -> Iterator[bool]:
        """Hold the lock for the block; yields False when it could not be taken in time."""
        etag = self._acquire(uuid.uuid4().hex)
        try:
            yield etag is not None
        finally:
            if etag is not None:
                self._release(etag)

    def _acquire(self, owner: str) -> str | None:
        """The lock row's ETag once taken; None when it could not be taken in time."""
        from azure.core import MatchConditions
        from azure.core.exceptions import (
            AzureError,
            ResourceExistsError,
            ResourceModifiedError,
            ResourceNotFoundError,
        )
        from azure.data.tables import UpdateMode

        deadline = time.monotonic() + self._wait
        while True:
            now = datetime.now(UTC)
            row = {
                "PartitionKey": PARTITION,
                "RowKey": ROW,
                "Owner": owner,
                "Until": now + timedelta(seconds=self._hold),
            }
            try:
                return str(self._table().create_entity(row)["etag"])
            except ResourceExistsError:
                pass
            except AzureError as exc:
                raise TransientError(f"checkpoint lock unavailable: {exc}") from exc
            try:
                current = self._table().get_entity(PARTITION, ROW)
                until = current.get("Until")
                if not isinstance(until, datetime) or until < now:
                    taken = self._table().update_entity(
                        row,
                        mode=UpdateMode.REPLACE,
                        etag=current.metadata["etag"],
                        match_condition=MatchConditions.IfNotModified,
                    )
                    return str(taken["etag"])
            except (ResourceModifiedError, ResourceNotFoundError):
                continue
            except AzureError as exc:
                raise TransientError(f"checkpoint lock unavailable: {exc}") from exc
            if time.monotonic() > deadline:
                log.error("checkpoint lock held by %s; signing without it", current.get("Owner"))
                return None
            time.sleep(0.2)

    def _release(self, etag: str) -> None:
        """Delete the row only as this holder left it (one request): a row taken over since
        (this holder overran ``hold``) or already gone is not this holder's to delete."""
        from azure.core import MatchConditions
        from azure.core.exceptions import AzureError, ResourceModifiedError, ResourceNotFoundError

        try:
            self._table().delete_entity(
                PARTITION, ROW, etag=etag, match_condition=MatchConditions.IfNotModified
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            log.warning("checkpoint lock was taken over before its release (held too long)")
        except AzureError as exc:
            log.warning("checkpoint lock not released (it expires): %s", exc)
