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


def _sdk_reader(body: bytes) -> AcrRegistryReader:
    """The real SDK client over a transport that streams ``body`` (get_manifest streams)."""
    from azure.containerregistry import ContainerRegistryClient
    from azure.core.rest._http_response_impl import RestHttpClientTransportResponse

    from tests.support.azure_transport import RecordedTransport, _Raw

    class Streamed(RestHttpClientTransportResponse):
        def iter_bytes(self, **kwargs: Any) -> Any:
            return iter([self.content])

    class Transport(RecordedTransport):
        def send(self, request: Any, **kwargs: Any) -> Any:
            response = Streamed(request=request, internal_response=_Raw(200, body))
            response.read()
            return response

    transport = Transport(lambda request: (200, body))

    def client_for(server: str) -> Any:
        return ContainerRegistryClient(f"https://{server}", None, transport=transport)

    return AcrRegistryReader(client_for)


def test_a_manifest_nested_thousands_deep_is_terminal_not_a_recursion_error() -> None:
    # The registry accepts unknown fields nested far deeper than Python's json recursion limit;
    # the SDK parses the manifest with json.loads.
    body = b'{"schemaVersion": 2, "x": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    with pytest.raises(TerminalError, match="manifest"):
        _sdk_reader(body).get_manifest("r.example", "models/m", digest)


def test_a_manifest_that_does_not_match_its_digest_is_terminal() -> None:
    # The SDK raises DigestValidationError, a ValueError: unanswered, intake retried it.
    with pytest.raises(TerminalError, match="digest"):
        _sdk_reader(b'{"schemaVersion": 2}').get_manifest(
            "r.example", "models/m", "sha256:" + "0" * 64
        )
