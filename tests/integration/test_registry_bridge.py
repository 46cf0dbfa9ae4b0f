"""Real pushes to the local TLS registry become ACR ImagePushed events, exactly as Azure sends."""

from __future__ import annotations

import base64
import io
import json
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from azure.containerregistry import ContainerRegistryClient

from shared.composition import Container
from shared.local.devhost.server import EVENTGRID_DEADLETTER_CONTAINER, DevHost
from shared.local.images import push_image, push_index
from shared.local.stack import SAMPLE_OWNER, LocalStack
from tests.apps import probe_app
from tests.conftest import wait_for

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def weu_host(stack: LocalStack, cell_container: Callable[[str], Container]) -> Iterator[DevHost]:
    h = DevHost(
        probe_app.app,
        port=stack.ports.host["westeurope"],
        container=cell_container("westeurope"),
        registry_event_function="acr_image_pushed",
    ).start()
    yield h
    h.stop()


@pytest.fixture
def registry(stack: LocalStack) -> ContainerRegistryClient:
    return stack.registry_client("westeurope")


@pytest.fixture(autouse=True)
def _clean() -> None:
    probe_app.reset()


def events_for(repository: str) -> list[Any]:
    return [
        e for e in probe_app.RECORD["events"] if e.get_json()["target"]["repository"] == repository
    ]


def test_manifest_push_raises_one_schema_correct_event(
    weu_host: DevHost, registry: ContainerRegistryClient, stack: LocalStack
) -> None:
    pushed = push_image(registry, "models/fraud", {"a": "b"}, tag="v1")
    (event,) = wait_for(lambda: events_for("models/fraud"))
    time.sleep(1.0)
    assert len(events_for("models/fraud")) == 1  # blobs (config, layer) raised nothing
    assert event.event_type == "Microsoft.ContainerRegistry.ImagePushed"
    assert event.subject == "models/fraud:v1"
    assert event.topic.endswith("/registries/clrwesteurope")
    data = event.get_json()
    assert set(data) == {"id", "timestamp", "action", "location", "target", "request", "actor"}
    assert data["actor"] == {"name": SAMPLE_OWNER}  # the authenticated registry user, as ACR
    assert data["action"] == "push"
    assert data["location"] == "westeurope"
    assert data["target"] == {
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "size": pushed.size,
        "digest": pushed.digest,
        "length": pushed.size,
        "repository": "models/fraud",
        "tag": "v1",
    }
    assert data["request"]["host"] == stack.login_server("westeurope")
    assert data["request"]["method"] == "PUT"
    assert set(data["request"]) == {"id", "host", "method", "useragent"}


def test_blob_upload_alone_raises_no_event(
    weu_host: DevHost, registry: ContainerRegistryClient
) -> None:
    registry.upload_blob("models/blobs-only", io.BytesIO(b"just a layer"))
    push_image(registry, "models/marker", {}, tag="t")  # a later push proves delivery works
    wait_for(lambda: events_for("models/marker"))
    assert events_for("models/blobs-only") == []


def test_push_by_digest_has_no_tag(weu_host: DevHost, registry: ContainerRegistryClient) -> None:
    pushed = push_image(registry, "models/untagged", {"x": "y"})
    (event,) = wait_for(lambda: events_for("models/untagged"))
    assert event.subject == f"models/untagged@{pushed.digest}"
    assert "tag" not in event.get_json()["target"]


def test_image_index_raises_one_event_per_manifest_push(
    weu_host: DevHost, registry: ContainerRegistryClient
) -> None:
    amd = push_image(registry, "models/multi", {"k": "v"}, platform=("linux", "amd64"))
    arm = push_image(registry, "models/multi", {"k": "v"}, platform=("linux", "arm64"))
    index = push_index(registry, "models/multi", [amd, arm], tag="v2")
    wait_for(lambda: len(events_for("models/multi")) == 3)
    by_digest = {e.get_json()["target"]["digest"]: e for e in events_for("models/multi")}
    assert set(by_digest) == {amd.digest, arm.digest, index.digest}
    index_target = by_digest[index.digest].get_json()["target"]
    assert index_target["mediaType"] == "application/vnd.oci.image.index.v1+json"
    assert index_target["tag"] == "v2"


def test_failing_handler_is_retried_then_dead_lettered_to_blob(
    stack: LocalStack, cell_container: Callable[[str], Container]
) -> None:
    cell = cell_container("swedencentral")
    host = DevHost(
        probe_app.app,
        port=stack.ports.host["swedencentral"],
        container=cell,
        registry_event_function="always_fails",
        eventgrid_retry_delays=(0.1, 0.2),
    ).start()
    try:
        client = stack.registry_client("swedencentral")
        pushed = push_image(client, "models/doomed", {}, tag="v1")
        container = cell.blob_service.get_container_client(EVENTGRID_DEADLETTER_CONTAINER)

        def dead_letters() -> list[dict[str, Any]]:
            if not container.exists():
                return []
            docs = []
            for blob in container.list_blobs():
                try:  # other tests leave unreadable blobs here on purpose
                    docs.append(json.loads(container.download_blob(blob.name).readall())[0])
                except (ValueError, KeyError, IndexError):
                    continue
            return [d for d in docs if d["data"]["target"]["digest"] == pushed.digest]

        (dead,) = wait_for(dead_letters, timeout=30)
        assert dead["deadLetterReason"] == "MaxDeliveryAttemptsExceeded"
        assert dead["deliveryAttempts"] == 3
        assert dead["eventType"] == "Microsoft.ContainerRegistry.ImagePushed"
    finally:
        host.stop()


def test_an_anonymous_or_wrong_password_request_is_refused(stack: LocalStack) -> None:
    """The local registries require authentication, so every push names its pusher."""
    url = f"https://{stack.login_server('westeurope')}/v2/"
    ctx = ssl.create_default_context(cafile=str(stack.ca_file))
    user, password = stack.registry_credentials("westeurope", SAMPLE_OWNER)

    def status(authorization: str | None) -> int:
        headers = {"Authorization": authorization} if authorization else {}
        try:
            with urllib.request.urlopen(
                urllib.request.Request(url, headers=headers), context=ctx, timeout=5
            ) as r:
                return int(r.status)
        except urllib.error.HTTPError as e:
            return e.code

    def basic(u: str, p: str) -> str:
        return "Basic " + base64.b64encode(f"{u}:{p}".encode()).decode()

    assert status(None) == 401
    assert status(basic(user, password + "x")) == 401
    assert status(basic(user.upper(), password)) == 401  # registry users are exact
    assert status(basic(user, password)) == 200
