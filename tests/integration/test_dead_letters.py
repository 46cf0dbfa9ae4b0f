"""Event Grid dead letters in the cell's storage end as one lineage record each, with the cause."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import pytest

from shared.adapters.storage.dead_letter_blobs import CONTAINER, BlobDeadLetters
from shared.composition import Container
from shared.domain.lineage.record import ArtifactRef, RecordKind
from shared.local.samples import model_labels
from shared.services.dead_letters import record_dead_letters

pytestmark = pytest.mark.stack


def test_dead_lettered_events_are_recorded_once_with_their_cause(
    cell_container: Callable[[str], Container],
) -> None:
    cell = cell_container("swedencentral")
    login = cell.settings.cell.registry.login_server
    digest = "sha256:" + uuid.uuid4().hex * 2
    event = {
        "id": f"dl-{uuid.uuid4()}",
        "eventType": "Microsoft.ContainerRegistry.ImagePushed",
        "subject": "models/lost:1",
        "eventTime": "2026-11-21T10:00:00Z",
        "dataVersion": "1.0",
        "topic": "/registries/x",
        "data": {
            "target": {"repository": "models/lost", "digest": digest, "tag": "1"},
            "request": {"host": login},
            "location": "swedencentral",
        },
        "deadLetterReason": "MaxDeliveryAttemptsExceeded",
        "deliveryAttempts": 30,
        "lastDeliveryOutcome": "Probation",
    }
    container = cell.blob_service.get_container_client(CONTAINER)
    BlobDeadLetters(cell.blob_service).pending()  # creates the container
    list(BlobDeadLetters(cell.blob_service).pending())
    container.upload_blob(f"topic/2026/11/21/{uuid.uuid4()}.json", json.dumps([event]))
    container.upload_blob(f"topic/garbage-{uuid.uuid4()}.json", b"not json")

    assert (
        record_dead_letters(BlobDeadLetters(cell.blob_service), cell.lineage, "swedencentral") >= 1
    )
    again = record_dead_letters(BlobDeadLetters(cell.blob_service), cell.lineage, "swedencentral")
    assert again == 0  # recorded blobs are marked; nothing is written twice

    artifact = ArtifactRef(kind="image", registry=login, repository="models/lost", digest=digest)
    records = [r for r in cell.lineage.list_for(artifact.key_hash)]  # type: ignore[attr-defined]
    (record,) = records
    assert record.kind is RecordKind.DEAD_LETTERED
    assert record.correlation.event_id == event["id"]
    assert "MaxDeliveryAttemptsExceeded" in record.reasons[0].message
    assert record.reasons[0].code == "CLR-EVENT-DEAD-LETTERED"


def test_dead_lettered_bus_messages_are_recorded_and_the_owner_told(
    cell_container: Callable[[str], Container],
) -> None:
    from datetime import UTC, datetime

    from shared.adapters.servicebus.dead_letters import StorageQueueDeadLetters
    from shared.adapters.storage.queue_envelope import QueueEnvelope
    from shared.adapters.storage.resources import ensure_created
    from shared.domain.approval.request import ApprovalRequest
    from shared.domain.metadata.labels import parse_metadata
    from shared.domain.metadata.model import ArtifactKind
    from shared.queues import APPROVAL_REQUESTS, dead_letter_queue
    from shared.services.dead_letters import record_bus_dead_letters
    from tests.support.fakes import FakeMailer

    cell = cell_container("westeurope")
    digest = "sha256:" + uuid.uuid4().hex * 2
    artifact = ArtifactRef(
        kind="image", registry="r.example", repository="models/dlq", digest=digest
    )
    labels = model_labels("dlq", "1", owner="dlq.owner@contoso.example")
    now = datetime.now(UTC)
    request = ApprovalRequest(
        artifact=artifact,
        source_region="westeurope",
        metadata=parse_metadata(labels, kind=ArtifactKind.IMAGE),
        event_id="e",
        received_at=now,
        validated_at=now,
    )
    dlq = cell.queue_service.get_queue_client(dead_letter_queue(APPROVAL_REQUESTS))
    ensure_created(dlq.create_queue)
    envelope = QueueEnvelope(
        message_id=f"m-{uuid.uuid4()}",
        body=request.model_dump_json().encode(),
        content_type="application/json",
        enqueued_time_utc=now,
        dead_letter_reason="MaxDeliveryCountExceeded",
        dead_letter_error_description="delivered 5 times; last failure: RuntimeError: boom",
    )
    dlq.send_message(envelope.encode())
    mailer = FakeMailer()
    source = StorageQueueDeadLetters(cell.queue_service)
    assert record_bus_dead_letters(source, cell.lineage, "westeurope", mailer) >= 1
    assert record_bus_dead_letters(source, cell.lineage, "westeurope", mailer) == 0
    (record,) = cell.lineage.list_for(artifact.key_hash)  # type: ignore[attr-defined]
    assert record.kind is RecordKind.DEAD_LETTERED
    assert "RuntimeError: boom" in record.reasons[0].message
    assert record.reasons[0].code == "CLR-BUS-DEAD-LETTERED"
    assert record.details["queue"] == APPROVAL_REQUESTS
    assert [m.to for m in mailer.sent] == [("dlq.owner@contoso.example",)]
