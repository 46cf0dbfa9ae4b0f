"""Dead-letter blobs hold what failed to be delivered: a hostile one is skipped, never a crash
of every timer run after it (a poison blob)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.adapters.storage.dead_letter_blobs import BlobDeadLetters


@dataclass
class _Blob:
    name: str
    data: bytes
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.data)

    def readall(self) -> bytes:
        return self.data


class _Container:
    def __init__(self, blobs: list[_Blob]) -> None:
        self.blobs = blobs

    def create_container(self) -> None:
        pass

    def list_blobs(self, include: Any = None) -> list[_Blob]:
        return self.blobs

    def download_blob(self, name: str) -> _Blob:
        return next(b for b in self.blobs if b.name == name)


class _Service:
    def __init__(self, container: _Container) -> None:
        self.container = container

    def get_container_client(self, name: str) -> _Container:
        return self.container


def test_a_dead_letter_nested_thousands_deep_is_skipped_not_a_recursion_error() -> None:
    deep = _Blob("deep.json", b"[" * 100_000 + b"]" * 100_000)
    fine = _Blob("fine.json", b'[{"id": "e1"}]')
    letters = BlobDeadLetters(_Service(_Container([deep, fine])))
    assert list(letters.pending()) == [("deep.json", []), ("fine.json", [{"id": "e1"}])]
