"""``AcrRegistryReader`` through the real ``ContainerRegistryClient`` over an azure-core
transport: only what the local docker-registry cannot show (the SDK's 4 MB manifest limit, a
registry answering content that does not match its digest). Everything else runs against the
real local registry in tests/integration/test_registry_bridge.py."""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import unquote

import pytest

from shared.adapters.registry.acr import AcrRegistryReader
from shared.domain.errors import TerminalError, TransientError
from tests.support.azure_wire import Reply, Route, WireTransport, error

SERVER = "clearancewire.azurecr.io"
OCI = "application/vnd.oci.image.manifest.v1+json"


def manifest_bytes(pad: int = 0) -> bytes:
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 2,
                   "digest": "sha256:" + "0" * 64},
        "layers": [],
        "annotations": {"pad": "x" * pad},
    }  # fmt: skip
    return json.dumps(doc).encode()


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def reader(t: WireTransport) -> AcrRegistryReader:
    from azure.containerregistry import ContainerRegistryClient

    client = ContainerRegistryClient(
        f"https://{SERVER}", None, audience="https://containerregistry.azure.net",
        transport=t, retry_total=0,
    )  # fmt: skip
    return AcrRegistryReader(lambda server: client)


def manifest_reply(data: bytes, served_digest: str | None = None) -> Reply:
    return Reply(
        200,
        data,
        {"Content-Type": OCI, "Docker-Content-Digest": served_digest or digest(data),
         "Content-Length": str(len(data))},
    )  # fmt: skip


def test_a_manifest_that_matches_its_digest_is_read() -> None:
    data = manifest_bytes()
    t = WireTransport(Route("GET", r"/v2/fraud/manifests/", [manifest_reply(data)]))
    found = reader(t).get_manifest(SERVER, "fraud", digest(data))
    assert found["mediaType"] == OCI
    (get,) = t.seen
    assert unquote(get.path) == f"/v2/fraud/manifests/{digest(data)}"
    assert OCI in {k.lower(): v for k, v in get.headers.items()}["accept"]


def test_a_manifest_that_does_not_match_the_requested_digest_is_terminal() -> None:
    """A registry (or something between) serving other content for a digest: the SDK raises
    ``DigestValidationError``, a ``ValueError`` that used to escape the port."""
    data, other = manifest_bytes(), manifest_bytes(pad=1)
    t = WireTransport(Route("GET", r"/v2/fraud/manifests/", [manifest_reply(other)]))
    with pytest.raises(TerminalError, match="does not match"):
        reader(t).get_manifest(SERVER, "fraud", digest(data))


def test_a_manifest_whose_header_digest_lies_is_terminal() -> None:
    data = manifest_bytes()
    t = WireTransport(
        Route("GET", r"/v2/fraud/manifests/", [manifest_reply(data, "sha256:" + "f" * 64)])
    )
    with pytest.raises(TerminalError, match="server-computed"):
        reader(t).get_manifest(SERVER, "fraud", digest(data))


def test_a_manifest_over_four_megabytes_is_terminal() -> None:
    data = manifest_bytes(pad=4 * 1024 * 1024 + 1)
    t = WireTransport(Route("GET", r"/v2/fraud/manifests/", [manifest_reply(data)]))
    with pytest.raises(TerminalError, match="4MB"):
        reader(t).get_manifest(SERVER, "fraud", digest(data))


def test_throttling_and_refused_credentials_are_transient() -> None:
    data = manifest_bytes()
    t = WireTransport(
        Route("GET", r"/v2/fraud/manifests/", [error(429, "TOOMANYREQUESTS", "slow")])
    )
    with pytest.raises(TransientError):
        reader(t).get_manifest(SERVER, "fraud", digest(data))


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
