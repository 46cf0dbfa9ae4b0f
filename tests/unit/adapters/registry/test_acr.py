"""The ACR reader's config blobs: pushed by owners, so read within size and depth limits."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from shared.adapters.registry.acr import AcrRegistryReader
from shared.domain.errors import TerminalError


class _Client:
    def __init__(self, blob: bytes) -> None:
        self.blob = blob

    def download_blob(self, repository: str, digest: str) -> Any:
        return iter([self.blob])


def _read(blob: bytes) -> dict[str, Any]:
    reader = AcrRegistryReader(lambda server: _Client(blob))
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    return reader.get_json_blob("r.example", "models/m", digest, max_bytes=1024 * 1024)


def test_a_config_blob_parses() -> None:
    assert _read(b'{"config": {"Labels": {"a": "b"}}}') == {"config": {"Labels": {"a": "b"}}}


def test_a_config_nested_thousands_deep_is_terminal_not_a_recursion_error() -> None:
    # A RecursionError escapes every handler: the intake trigger would retry until dead-letter.
    with pytest.raises(TerminalError, match="not JSON"):
        _read(b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}")
