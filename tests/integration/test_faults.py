"""Fault injection on a private stack: storage restarts, registry outages, poison messages.

Events are delivered by the test as Event Grid would (registry notifications are off), so the
test controls every delivery and retry.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from azure.containerregistry import ContainerRegistryClient

from shared.composition import Container
from shared.domain.lineage.record import INTAKE_TERMINAL, ArtifactRef, RecordKind
from shared.local.events import deliver, image_pushed
from shared.local.images import push_image
from shared.local.samples import model_labels
from shared.local.stack import LocalStack, StackPorts
from shared.queues import APPROVAL_REQUESTS, dead_letter_queue
from shared.settings import build_settings
from tests.conftest import wait_for

pytestmark = [pytest.mark.stack, pytest.mark.fault]
REPO = Path(__file__).resolve().parents[2]


def labels(name: str) -> dict[str, str]:
    return model_labels(name)


@pytest.fixture(scope="module")
def quiet_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    stack = LocalStack(
        tmp_path_factory.mktemp("faults"),
        REPO,
        ports=StackPorts.free(),
        registry_notifications=False,
    )
    try:
        stack.up(timeout=120)
        yield stack
    finally:
        stack.down()


@pytest.fixture(scope="module")
def weu(quiet_stack: LocalStack) -> Container:
    return Container(build_settings(quiet_stack.environment("westeurope")))


def registry(stack: LocalStack) -> ContainerRegistryClient:
    return stack.registry_client("westeurope")


def event_for(stack: LocalStack, repository: str, digest: str, tag: str | None) -> dict[str, Any]:
    return image_pushed(stack, "westeurope", repository, digest, tag)


def deliver_until_accepted(
    stack: LocalStack, event: dict[str, Any], attempts: int = 60
) -> list[int]:
    """Event Grid's contract: retry on 5xx or no answer, stop on 2xx."""
    statuses = []
    for _ in range(attempts):
        try:
            status = deliver(stack.host_url("westeurope"), "acr_image_pushed", [event])
        except OSError:
            status = 0
        statuses.append(status)
        if 200 <= status < 300:
            return statuses
        time.sleep(0.5)
    raise AssertionError(f"event {event['id']} never accepted: {statuses[-5:]}")


def terminal(cell: Container, artifact: ArtifactRef) -> list[Any]:
    return [
        r
        for r in cell.lineage.list_for(artifact.key_hash)  # type: ignore[attr-defined]
        if r.kind in INTAKE_TERMINAL
    ]


def test_registry_outage_answers_500_then_succeeds_when_it_returns(
    quiet_stack: LocalStack, weu: Container
) -> None:
    pushed = push_image(registry(quiet_stack), "models/outage", labels("outage"), tag="1.0.0")
    artifact = ArtifactRef(
        kind="image",
        registry=quiet_stack.login_server("westeurope"),
        repository="models/outage",
        digest=pushed.digest,
    )
    event = event_for(quiet_stack, "models/outage", pushed.digest, "1.0.0")
    quiet_stack.stop_part("registry-westeurope")
    try:
        assert deliver(quiet_stack.host_url("westeurope"), "acr_image_pushed", [event]) == 500
        assert terminal(weu, artifact) == []
    finally:
        quiet_stack.start_part("registry-westeurope", timeout=30)
    assert deliver(quiet_stack.host_url("westeurope"), "acr_image_pushed", [event]) == 202
    (final,) = terminal(weu, artifact)
    assert final.kind is RecordKind.APPROVAL_REQUESTED
    received = [
        r
        for r in weu.lineage.list_for(artifact.key_hash)  # type: ignore[attr-defined]
        if r.kind is RecordKind.ARTIFACT_RECEIVED
    ]
    assert len(received) == 1  # the retried delivery did not write its steps twice


def test_storage_restart_mid_burst_loses_nothing_and_doubles_nothing(
    quiet_stack: LocalStack, weu: Container
) -> None:
    client = registry(quiet_stack)
    images = []
    for i in range(24):
        pushed = push_image(client, f"models/burst-{i}", labels(f"burst-{i}"), tag="1.0.0")
        images.append((f"models/burst-{i}", pushed.digest))
    events = [
        event_for(quiet_stack, repo, digest, tag)
        for repo, digest in images
        for tag in ("1.0.0", None)
    ]
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(deliver_until_accepted, quiet_stack, e) for e in events]
        time.sleep(0.3)
        quiet_stack.stop_part("azurite")
        time.sleep(1.5)
        quiet_stack.start_part("azurite", timeout=60)
        results = [f.result() for f in futures]
    assert any(500 in r or 0 in r for r in results), "the outage was not observed"
    requested = 0
    for repo, digest in images:
        artifact = ArtifactRef(
            kind="image",
            registry=quiet_stack.login_server("westeurope"),
            repository=repo,
            digest=digest,
        )
        finals = terminal(weu, artifact)
        kinds = [r.kind for r in finals]
        # each of the artifact's two events ended in exactly one terminal record
        assert sorted(r.correlation.event_id or "" for r in finals) == sorted(
            e["id"] for e in events if e["data"]["target"]["digest"] == digest
        )
        assert kinds.count(RecordKind.APPROVAL_REQUESTED) == 1, kinds
        requested += 1
    assert requested == len(images)


def test_poison_message_dead_letters_with_its_reason_and_the_rest_flow(
    quiet_stack: LocalStack, weu: Container
) -> None:
    from shared.adapters.storage.queue_envelope import QueueEnvelope
    from shared.services.dead_letters import record_bus_dead_letters

    weu.queue_service.get_queue_client(APPROVAL_REQUESTS).send_message('{"not": "a request"}')
    pushed = push_image(
        registry(quiet_stack), "models/after-poison", labels("after-poison"), tag="1.0.0"
    )
    event = event_for(quiet_stack, "models/after-poison", pushed.digest, "1.0.0")
    assert deliver(quiet_stack.host_url("westeurope"), "acr_image_pushed", [event]) == 202
    artifact = ArtifactRef(
        kind="image",
        registry=quiet_stack.login_server("westeurope"),
        repository="models/after-poison",
        digest=pushed.digest,
    )
    wait_for(
        lambda: [
            r
            for r in weu.lineage.list_for(artifact.key_hash)  # type: ignore[attr-defined]
            if r.kind is RecordKind.APPROVAL_NOTIFIED
        ],
        timeout=30,
    )
    dlq = weu.queue_service.get_queue_client(dead_letter_queue(APPROVAL_REQUESTS))

    def dead() -> list[QueueEnvelope]:
        return [QueueEnvelope.decode(m.content) for m in dlq.peek_messages(max_messages=32)]

    (poison,) = wait_for(dead, timeout=90)
    assert poison.dead_letter_reason == "MaxDeliveryCountExceeded"
    assert "ValidationError" in (poison.dead_letter_error_description or "")
    assert record_bus_dead_letters(weu.bus_dead_letters, weu.lineage, "westeurope") == 1
    unknown = ArtifactRef(kind="unknown")
    (record,) = [
        r
        for r in weu.lineage.list_for(unknown.key_hash)  # type: ignore[attr-defined]
        if r.kind is RecordKind.DEAD_LETTERED
    ]
    assert "ValidationError" in record.reasons[0].message
