"""MessageBus over Azure Service Bus (the cell's namespace, managed identity in Azure)."""

from __future__ import annotations

import logging
import threading
from typing import Any

from shared.domain.errors import TransientError
from shared.ports.messaging import OutboundMessage

log = logging.getLogger(__name__)


class ServiceBusMessageBus:
    """Sends through one cached ``ServiceBusClient``; one sender per queue, reused."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._senders: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _sender(self, queue: str) -> Any:
        with self._lock:
            sender = self._senders.get(queue)
            if sender is None:
                sender = self._client.get_queue_sender(queue_name=queue)
                self._senders[queue] = sender
            return sender

    def send(self, queue: str, message: OutboundMessage) -> bool:
        from azure.servicebus import ServiceBusMessage
        from azure.servicebus.exceptions import ServiceBusError

        sb_message = ServiceBusMessage(
            message.body,
            message_id=message.message_id,
            content_type=message.content_type,
            subject=message.subject,
            correlation_id=message.correlation_id,
            application_properties={k: v for k, v in message.application_properties.items()},
        )
        try:
            sender = self._sender(queue)
            if message.scheduled_enqueue_time is not None:
                sender.schedule_messages(sb_message, message.scheduled_enqueue_time)
            else:
                sender.send_messages(sb_message)
        except ServiceBusError as exc:
            raise TransientError(f"service bus send to {queue!r} failed: {exc}") from exc
        # Service Bus drops duplicates server-side (duplicate detection on the queue), silently.
        return True

    def close(self) -> None:
        with self._lock:
            for sender in self._senders.values():
                sender.close()
            self._senders.clear()
