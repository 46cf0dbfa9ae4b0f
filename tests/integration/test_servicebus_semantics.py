"""Service Bus queue triggers on the local host, fed from Azurite queues (the local bus)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from shared.adapters.storage.queue_envelope import QueueEnvelope
from shared.composition import Container
from shared.local.devhost.server import DevHost
from shared.ports.messaging import OutboundMessage
from tests.apps import probe_app
from tests.conftest import wait_for

pytestmark = pytest.mark.stack

HOST_JSON = {
    "extensions": {
        "queues": {
            "maxDequeueCount": 3,
            "visibilityTimeout": "00:00:01",
            "maxPollingInterval": "00:00:00.2",
        },
        "serviceBus": {"maxConcurrentCalls": 4},
    }
}


@pytest.fixture(scope="module")
def cell(cell_container: Callable[[str], Container]) -> Container:
    return cell_container("westeurope")


@pytest.fixture(scope="module")
def host(cell: Container) -> Iterator[DevHost]:
    h = DevHost(
        probe_app.app, port=0, host_json=HOST_JSON, container=cell, registry_event_function=None
    ).start()
    yield h
    h.stop()


@pytest.fixture(autouse=True)
def _clean() -> None:
    probe_app.reset()


def send(cell: Container, message_id: str, body: dict[str, object], **kwargs: object) -> bool:
    return cell.bus.send("probe-work", OutboundMessage.json(body, message_id=message_id, **kwargs))


def deliveries(message_id: str) -> list[dict[str, object]]:
    return [d for d in probe_app.RECORD["deliveries"] if d["message_id"] == message_id]


def queue_depth(cell: Container, name: str) -> int:
    props = cell.queue_service.get_queue_client(name).get_queue_properties()
    return int(props.approximate_message_count)


def test_success_delivers_once_with_properties_and_deletes(host: DevHost, cell: Container) -> None:
    assert send(cell, "ok-1", {"n": 1}, application_properties={"kind": "probe", "n": 7})
    (d,) = wait_for(lambda: deliveries("ok-1"))
    assert d["delivery_count"] == 1
    assert d["application_properties"] == {"kind": "probe", "n": 7}
    assert d["body"] == {"n": 1}
    assert isinstance(d["enqueued_time_utc"], datetime)
    time.sleep(1.5)  # longer than the back-off: a kept message would have come back
    assert len(deliveries("ok-1")) == 1
    assert queue_depth(cell, "probe-work") == 0


def test_failure_redelivers_with_increasing_delivery_count(host: DevHost, cell: Container) -> None:
    send(cell, "retry-1", {"succeed_on_delivery": 3})
    wait_for(lambda: len(deliveries("retry-1")) == 3, timeout=30)
    assert [d["delivery_count"] for d in deliveries("retry-1")] == [1, 2, 3]
    time.sleep(1.5)
    assert len(deliveries("retry-1")) == 3
    assert queue_depth(cell, "probe-work-deadletter") == 0


def test_dead_letter_after_max_delivery_count_with_reason(host: DevHost, cell: Container) -> None:
    send(cell, "poison-1", {"always_fail": True})
    wait_for(lambda: len(deliveries("poison-1")) == 3, timeout=30)
    dlq = cell.queue_service.get_queue_client("probe-work-deadletter")

    def dead_lettered() -> list[QueueEnvelope]:
        msgs = dlq.peek_messages(max_messages=32)
        envelopes = [QueueEnvelope.decode(m.content) for m in msgs]
        return [e for e in envelopes if e.message_id == "poison-1"]

    (dead,) = wait_for(dead_lettered)
    assert dead.dead_letter_reason == "MaxDeliveryCountExceeded"
    assert "failing delivery 3 on purpose" in (dead.dead_letter_error_description or "")
    assert json.loads(dead.body) == {"always_fail": True}
    time.sleep(1.5)
    assert len(deliveries("poison-1")) == 3  # never delivered again


def test_scheduled_message_is_not_delivered_before_its_time(host: DevHost, cell: Container) -> None:
    due = datetime.now(UTC) + timedelta(seconds=3)
    send(cell, "later-1", {"n": 2}, scheduled_enqueue_time=due)
    time.sleep(1.5)
    assert deliveries("later-1") == []
    (d,) = wait_for(lambda: deliveries("later-1"), timeout=15)
    assert d["at"] >= due.timestamp() - 1.0  # visibility granularity is one second


def test_duplicate_message_ids_are_dropped_like_service_bus(host: DevHost, cell: Container) -> None:
    assert send(cell, "dup-1", {"n": 3}) is True
    assert send(cell, "dup-1", {"n": 3}) is False
    wait_for(lambda: deliveries("dup-1"))
    time.sleep(1.0)
    assert len(deliveries("dup-1")) == 1


def test_a_raw_message_from_another_tool_still_reaches_the_function(
    host: DevHost, cell: Container
) -> None:
    cell.queue_service.get_queue_client("probe-work").send_message('{"n": 4}')
    d = wait_for(lambda: [x for x in probe_app.RECORD["deliveries"] if x["body"] == {"n": 4}])
    assert d[0]["delivery_count"] == 1
