"""A fake of the AMQP links under azure-servicebus: the SDK's ``ServiceBusClient`` and
``ServiceBusSender`` run unchanged (message encoding, retry policy, scheduling through the
management link, exception mapping) and only the pyamqp ``SendClient`` is replaced.

Each fake link records what was sent and counts overlapping uses: the SDK documents its
senders as not thread-safe, so ``overlaps`` must stay 0 however many threads send.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

CONNECTION = (
    "Endpoint=sb://wire.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=a2V5"
)


@dataclass
class Link:
    target: str
    sent: list[Any] = field(default_factory=list)
    scheduled: list[Any] = field(default_factory=list)
    errors: list[Exception] = field(default_factory=list)
    overlaps: int = 0
    hold: float = 0.002  # seconds a send takes: long enough for threads to collide
    _busy: int = 0
    _guard: threading.Lock = field(default_factory=threading.Lock)

    @contextmanager
    def use(self) -> Iterator[None]:
        with self._guard:
            self._busy += 1
            if self._busy > 1:
                self.overlaps += 1
        try:
            time.sleep(self.hold)
            yield
        finally:
            with self._guard:
                self._busy -= 1


class _Remote:
    remote_max_message_size = 256 * 1024
    remote_properties = None


class FakeSendClient:
    def __init__(self, link: Link) -> None:
        self.link = link
        self._link = _Remote()

    def open(self, connection: Any = None) -> None:
        return None

    def client_ready(self) -> bool:
        return True

    def close(self) -> None:
        return None

    def send_message(self, message: Any, timeout: Any = None) -> None:
        with self.link.use():
            if self.link.errors:
                raise self.link.errors.pop(0)
            size = sum(len(part) for part in message.data or ())
            if size > self._link.remote_max_message_size:  # what the service answers
                from azure.servicebus._pyamqp.error import AMQPLinkError, ErrorCondition

                raise AMQPLinkError(
                    condition=ErrorCondition.LinkMessageSizeExceeded, description="too large"
                )
            self.link.sent.append(message)

    def mgmt_request(self, message: Any, **kwargs: Any) -> tuple[int, str, Any]:
        from azure.servicebus._pyamqp.message import Message

        with self.link.use():
            if self.link.errors:
                raise self.link.errors.pop(0)
            self.link.scheduled.append(message)
            number = len(self.link.scheduled)
            return (
                200,
                "OK",
                Message(value={b"sequence-numbers": [number]}, application_properties={}),
            )


class AmqpWire:
    """The links the SDK opened, by entity path."""

    def __init__(self) -> None:
        self.links: dict[str, Link] = {}
        self._lock = threading.Lock()

    def link(self, queue: str) -> Link:
        with self._lock:
            return self.links.setdefault(queue, Link(queue))

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from azure.servicebus._transport._pyamqp_transport import PyamqpTransport

        def create_send_client(config: Any, **kwargs: Any) -> FakeSendClient:
            queue = str(kwargs["target"]).rstrip("/").rsplit("/", 1)[-1]
            return FakeSendClient(self.link(queue))

        monkeypatch.setattr(PyamqpTransport, "create_send_client", staticmethod(create_send_client))
