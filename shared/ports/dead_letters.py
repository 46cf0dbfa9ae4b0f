"""Dead letters: Event Grid dead-letter blobs and bus dead-letter queues."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol


class BusDeadLetterSource(Protocol):
    def drain(self, queue: str, handle: Callable[[Any], None], max_messages: int = 100) -> int: ...


class DeadLetterSource(Protocol):
    def pending(self) -> Iterator[tuple[str, list[dict[str, Any]]]]: ...

    def mark_recorded(self, name: str) -> None: ...
