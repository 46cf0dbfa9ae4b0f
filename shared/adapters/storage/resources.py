"""Create-if-missing for storage resources (queues, tables, containers), race-safe."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def ensure_created(create: Callable[[], object]) -> None:
    """Call ``create``; a resource that already exists is fine."""
    from azure.core.exceptions import ResourceExistsError

    try:
        create()
    except ResourceExistsError:
        return


class LazyTable:
    """A table client created (and the table with it) on first use, then reused."""

    def __init__(self, table_service: Any, name: str) -> None:
        self._service, self.name = table_service, name
        self._client: Any = None

    def __call__(self) -> Any:
        if self._client is None:
            client = self._service.get_table_client(self.name)
            ensure_created(client.create_table)
            self._client = client
        return self._client
