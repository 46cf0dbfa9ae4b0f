"""``AcrRegistryReader`` through the real ``ContainerRegistryClient`` over an azure-core
transport: only what the local docker-registry cannot show (the SDK's 4 MB manifest limit, a
registry answering content that does not match its digest). Everything else runs against the
real local registry in tests/integration/test_registry_bridge.py."""

from __future__ import annotations

import hashlib
import json
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
