"""Dead-lettered bus messages: Service Bus ``$deadletterqueue`` in Azure, ``<queue>-deadletter``
storage queues locally. ``drain`` hands each message to a handler and removes it only after the
handler succeeded."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.adapters.storage.queue_envelope import QueueEnvelope
from shared.domain.errors import TransientError
from shared.queues import dead_letter_queue


@dataclass(frozen=True)
class DeadMessage:
    queue: str
    message_id: str
    body: bytes
    reason: str
    description: str


Handler = Callable[[DeadMessage], None]


class StorageQueueDeadLetters:
    def __init__(self, queue_service: Any) -> None:
        self._service = queue_service

    def drain(self, queue: str, handle: Handler, max_messages: int = 100) -> int:
        from azure.core.exceptions import AzureError, ResourceNotFoundError

        client = self._service.get_queue_client(dead_letter_queue(queue))
        handled = 0
        try:
            for message in client.receive_messages(
                max_messages=max_messages, visibility_timeout=60
            ):
                try:
                    envelope = QueueEnvelope.decode(str(message.content))
                except ValueError:
                    envelope = None
                handle(
                    DeadMessage(
                        queue=queue,
                        message_id=envelope.message_id if envelope else str(message.id),
                        body=envelope.body if envelope else str(message.content).encode(),
                        reason=(envelope.dead_letter_reason if envelope else None) or "unknown",
                        description=(envelope.dead_letter_error_description if envelope else None)
                        or "",
                    )
                )
                client.delete_message(message.id, message.pop_receipt)
                handled += 1
        except ResourceNotFoundError:
            return handled
        except AzureError as exc:
            raise TransientError(f"dead-letter queue of {queue} unavailable: {exc}") from exc
        return handled


class ServiceBusDeadLetters:
    """Reads through a client of its own, built for each drain and closed after it: the SDK's
    clients are not thread-safe, and the bus's client is in use by the triggers' threads."""

    def __init__(self, new_client: Callable[[], Any]) -> None:
        self._new_client = new_client

    def drain(self, queue: str, handle: Handler, max_messages: int = 100) -> int:
        from azure.servicebus import ServiceBusSubQueue

        from shared.adapters.servicebus.bus import translate

        handled = 0
        try:
            with (
                self._new_client() as client,
                client.get_queue_receiver(
                    queue, sub_queue=ServiceBusSubQueue.DEAD_LETTER, max_wait_time=5
                ) as receiver,
            ):
                for message in receiver.receive_messages(max_message_count=max_messages):
                    handle(
                        DeadMessage(
                            queue=queue,
                            message_id=str(message.message_id),
                            body=b"".join(message.body),
                            reason=str(message.dead_letter_reason or "unknown"),
                            description=str(message.dead_letter_error_description or ""),
                        )
                    )
                    receiver.complete_message(message)
                    handled += 1
        except TransientError:
            raise
        except Exception as exc:
            translated = translate(exc, f"dead-letter queue of {queue}")
            if translated is exc:
                raise
            raise translated from exc
        return handled
