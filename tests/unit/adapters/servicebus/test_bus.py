"""``ServiceBusMessageBus`` through the real SDK over fake AMQP links."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from shared.adapters.servicebus.bus import ServiceBusMessageBus
from shared.domain.errors import TerminalError, TransientError
from shared.ports.messaging import OutboundMessage
from tests.support.amqp_wire import CONNECTION, AmqpWire


@pytest.fixture
def wire(monkeypatch: pytest.MonkeyPatch) -> AmqpWire:
    w = AmqpWire()
    w.install(monkeypatch)
    return w


@pytest.fixture
def bus(wire: AmqpWire) -> Iterator[ServiceBusMessageBus]:
    from azure.servicebus import ServiceBusClient

    client = ServiceBusClient.from_connection_string(
        CONNECTION, retry_total=1, retry_backoff_factor=0.01
    )
    bus = ServiceBusMessageBus(client)
    yield bus
    bus.close()


def message(n: int, due: datetime | None = None) -> OutboundMessage:
    return OutboundMessage(
        body=f'{{"n": {n}}}'.encode(),
        message_id=f"m-{n}",
        subject="s",
        application_properties={"step": n},
        scheduled_enqueue_time=due,
    )


def test_concurrent_sends_never_use_a_sender_at_the_same_time(
    wire: AmqpWire, bus: ServiceBusMessageBus
) -> None:
    """The finding: the lock guarded the sender cache only; eight function threads then sent
    through one sender at once. Sixteen threads, two queues, sends and schedules mixed."""
    due = datetime.now(UTC) + timedelta(minutes=5)
    start = threading.Barrier(16)

    def send(n: int) -> None:
        start.wait()
        for k in range(10):
            queue = "deployment-requests" if (n + k) % 2 else "approval-requests"
            bus.send(queue, message(n * 100 + k, due if k % 3 == 0 else None))

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(send, range(16)))
    links = wire.links
    assert set(links) == {"deployment-requests", "approval-requests"}
    assert sum(len(link.sent) + len(link.scheduled) for link in links.values()) == 160
    assert [link.overlaps for link in links.values()] == [0, 0]


def test_what_is_sent_is_the_message_the_port_was_given(
    wire: AmqpWire, bus: ServiceBusMessageBus
) -> None:
    bus.send("deployment-requests", message(7))
    (sent,) = wire.link("deployment-requests").sent
    assert sent.properties.message_id in ("m-7", b"m-7")
    assert b"".join(sent.data) == b'{"n": 7}'
    assert dict(sent.application_properties) in ({b"step": 7}, {"step": 7})


def test_a_scheduled_message_goes_through_the_management_link(
    wire: AmqpWire, bus: ServiceBusMessageBus
) -> None:
    bus.send("deployment-requests", message(1, datetime.now(UTC) + timedelta(minutes=15)))
    link = wire.link("deployment-requests")
    assert link.sent == [] and len(link.scheduled) == 1


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("UnauthorizedAccess", TerminalError),
        ("LinkMessageSizeExceeded", TerminalError),
        ("NotFound", TerminalError),
        ("ResourceLimitExceeded", TransientError),
        ("InternalError", TransientError),
    ],
)
def test_service_bus_errors_are_classified(
    wire: AmqpWire, bus: ServiceBusMessageBus, condition: str, expected: type[Exception]
) -> None:
    from azure.servicebus._pyamqp.error import AMQPLinkError, ErrorCondition

    error = AMQPLinkError(condition=getattr(ErrorCondition, condition), description=condition)
    wire.link("deployment-requests").errors.extend([error] * 5)
    with pytest.raises(expected) as caught:
        bus.send("deployment-requests", message(1))
    if expected is TerminalError:
        assert not isinstance(caught.value, TransientError)


def test_a_message_larger_than_the_link_allows_is_terminal(bus: ServiceBusMessageBus) -> None:
    big = OutboundMessage(body=b"x" * (300 * 1024), message_id="big")
    with pytest.raises(TerminalError):
        bus.send("deployment-requests", big)
