"""Event Grid dead letters in the cell's storage end as one lineage record each, with the cause."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import pytest

from shared.adapters.blob_dead_letters import CONTAINER, BlobDeadLetters
from shared.composition import Container
from shared.domain.lineage import ArtifactRef, RecordKind
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
