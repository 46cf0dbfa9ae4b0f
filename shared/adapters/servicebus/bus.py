"""MessageBus over Azure Service Bus (the cell's namespace, managed identity in Azure).

The SDK's clients, senders and receivers are not thread-safe, and sync functions run on a
thread pool (``maxConcurrentCalls``). So: one sender per queue, each used under its own lock
(a send to one queue never waits for a send to another), and the client touched only under
the bus's lock (creating a sender registers a handler on it).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from shared.adapters.telemetry.spans import with_trace_context
from shared.domain.errors import TerminalError, TransientError
from shared.ports.messaging import OutboundMessage

log = logging.getLogger(__name__)


class _Sender:
    def __init__(self, sender: Any) -> None:
        self.sender = sender
        self.lock = threading.Lock()


class ServiceBusMessageBus:
    """Sends through one cached ``ServiceBusClient``; one sender per queue, one send at a time."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._senders: dict[str, _Sender] = {}
        self._lock = threading.Lock()

    def _sender(self, queue: str) -> _Sender:
        with self._lock:
            sender = self._senders.get(queue)
            if sender is None:
                sender = _Sender(self._client.get_queue_sender(queue_name=queue))
                self._senders[queue] = sender
            return sender

    def send(self, queue: str, message: OutboundMessage) -> bool:
        from azure.servicebus import ServiceBusMessage

        sb_message = ServiceBusMessage(
            message.body,
            message_id=message.message_id,
            content_type=message.content_type,
            subject=message.subject,
            correlation_id=message.correlation_id,
            # the consumer's invocation continues this trace (W3C traceparent)
            application_properties=with_trace_context(message.application_properties),  # type: ignore[arg-type]
        )
        try:
            held = self._sender(queue)
            with held.lock:
                if message.scheduled_enqueue_time is not None:
                    held.sender.schedule_messages(sb_message, message.scheduled_enqueue_time)
                else:
                    held.sender.send_messages(sb_message)
        except Exception as exc:
            raise translate(exc, f"service bus send to {queue!r}") from exc
        # Service Bus drops duplicates server-side (duplicate detection on the queue), silently.
        return True

    def close(self) -> None:
        with self._lock:
            for held in self._senders.values():
                with held.lock:
                    held.sender.close()
            self._senders.clear()


def translate(exc: Exception, what: str) -> Exception:
    """Service Bus errors no retry can fix are terminal; the rest transient. Anything else
    (a bug) is returned unchanged for the caller to re-raise."""
    from azure.servicebus.exceptions import (
        MessageSizeExceededError,
        MessagingEntityDisabledError,
        MessagingEntityNotFoundError,
        ServiceBusAuthenticationError,
        ServiceBusAuthorizationError,
        ServiceBusError,
    )

    permanent = (
        MessageSizeExceededError,  # the message is too large for the entity
        ServiceBusAuthenticationError,  # the identity or key is refused
        ServiceBusAuthorizationError,  # no Send/Listen right on the entity
        MessagingEntityNotFoundError,  # the queue does not exist (configuration)
        MessagingEntityDisabledError,
    )
    if isinstance(exc, permanent):
        return TerminalError(f"{what} cannot succeed: {type(exc).__name__}: {exc}")
    if isinstance(exc, ServiceBusError):
        return TransientError(f"{what} failed: {exc}")
    if isinstance(exc, ValueError):  # the SDK refuses a message larger than the link allows
        return TerminalError(f"{what} cannot succeed: {exc}")
    return exc
