"""``ServiceBusDeadLetters`` reads through a client of its own, closed after each drain."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from shared.adapters.servicebus.dead_letters import DeadMessage, ServiceBusDeadLetters
from shared.domain.errors import TerminalError, TransientError


class Receiver:
    def __init__(self, messages: list[Any], error: Exception | None = None) -> None:
        self.messages, self.error, self.completed = messages, error, []

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *args: object) -> None:
        return None

    def receive_messages(self, max_message_count: int) -> list[Any]:
        if self.error is not None:
            raise self.error
        return self.messages[:max_message_count]

    def complete_message(self, message: Any) -> None:
        self.completed.append(message)


class Client:
    built: list[Client] = []

    def __init__(self, receiver: Receiver) -> None:
        self.receiver, self.closed = receiver, False
        Client.built.append(self)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *args: object) -> None:
        self.closed = True

    def get_queue_receiver(self, queue: str, **kwargs: Any) -> Receiver:
        assert not self.closed
        return self.receiver


def dead(n: int) -> Any:
    return SimpleNamespace(
        message_id=f"m{n}",
        body=[b"{}"],
        dead_letter_reason="MaxDeliveryCountExceeded",
        dead_letter_error_description="gave up",
    )


def test_each_drain_uses_a_fresh_client_and_closes_it() -> None:
    Client.built.clear()
    receiver = Receiver([dead(1), dead(2)])
    reader = ServiceBusDeadLetters(lambda: Client(receiver))
    seen: list[DeadMessage] = []
    assert reader.drain("deployment-requests", seen.append) == 2
    assert reader.drain("deployment-requests", seen.append) == 2
    assert len(Client.built) == 2 and all(c.closed for c in Client.built)
    assert [m.message_id for m in seen[:2]] == ["m1", "m2"]


def test_a_handler_failure_leaves_the_message_and_closes_the_client() -> None:
    Client.built.clear()
    receiver = Receiver([dead(1)])

    def refuse(message: DeadMessage) -> None:
        raise TransientError("lineage down")

    with pytest.raises(TransientError):
        ServiceBusDeadLetters(lambda: Client(receiver)).drain("q", refuse)
    assert receiver.completed == [] and Client.built[0].closed


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        ("ServiceBusAuthorizationError", TerminalError),
        ("ServiceBusConnectionError", TransientError),
    ],
)
def test_receiver_errors_are_classified(error: str, expected: type[Exception]) -> None:
    import azure.servicebus.exceptions as sb

    receiver = Receiver([], getattr(sb, error)(message="no"))
    with pytest.raises(expected):
        ServiceBusDeadLetters(lambda: Client(receiver)).drain("q", lambda m: None)
