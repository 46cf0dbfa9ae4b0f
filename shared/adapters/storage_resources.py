"""Create-if-missing for storage resources (queues, tables, containers), race-safe."""

from __future__ import annotations

from collections.abc import Callable


def ensure_created(create: Callable[[], object]) -> None:
    """Call ``create``; a resource that already exists is fine."""
    from azure.core.exceptions import ResourceExistsError

    try:
        create()
    except ResourceExistsError:
        return
