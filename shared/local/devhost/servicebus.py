"""Service Bus queue triggers, fed from Azure Storage queues of the same name (Azurite).

Semantics kept from Service Bus + the Functions host (autoCompleteMessages):
- a message is deleted only after the function returned;
- an exception abandons it: visible again after a back-off that grows with the delivery count;
- after ``maxDeliveryCount`` deliveries it moves to ``<queue>-deadletter`` with the reason;
- ``delivery_count``, ``message_id``, ``enqueued_time_utc``, application properties arrive
  on an ``azure.functions.ServiceBusMessage``;
- scheduled messages stay invisible until their time (the queue's initial visibility delay).
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.core.exceptions import AzureError
from azure.functions.servicebus import ServiceBusMessage

from shared.adapters.storage.queue_envelope import QueueEnvelope
from shared.adapters.storage.resources import ensure_created
from shared.local.devhost.app_index import IndexedFunction
from shared.queues import dead_letter_queue

log = logging.getLogger(__name__)

MAX_DESCRIPTION = 4096


@dataclass(frozen=True)
class DeliveryPolicy:
    max_delivery_count: int = 5
    backoff: timedelta = timedelta(seconds=2)
    max_backoff: timedelta = timedelta(seconds=60)
    lock_duration: timedelta = timedelta(minutes=5)
    max_concurrent_calls: int = 8
    batch_size: int = 16
    max_polling_interval: timedelta = timedelta(seconds=1)

    @classmethod
    def from_host_json(cls, host: dict[str, Any]) -> DeliveryPolicy:
        ext = host.get("extensions") or {}
        queues = ext.get("queues") or {}
        bus = ext.get("serviceBus") or {}
        return cls(
            max_delivery_count=int(queues.get("maxDequeueCount", 5)),
            backoff=_timespan(queues.get("visibilityTimeout"), timedelta(seconds=2)),
            max_concurrent_calls=int(bus.get("maxConcurrentCalls", 8)),
            batch_size=min(32, int(queues.get("batchSize", 16))),
            max_polling_interval=_timespan(queues.get("maxPollingInterval"), timedelta(seconds=1)),
        )

    def retry_delay(self, delivery_count: int) -> timedelta:
        return min(self.max_backoff, self.backoff * max(1, delivery_count))


def _timespan(text: str | None, default: timedelta) -> timedelta:
    if not text:
        return default
    h, m, s = text.split(":")
    return timedelta(hours=int(h), minutes=int(m), seconds=float(s))


def to_binding(queue_message: Any, envelope: QueueEnvelope) -> ServiceBusMessage:
    now = datetime.now(UTC)
    props: dict[str, object] = dict(envelope.application_properties)
    return ServiceBusMessage(
        body=envelope.body,
        message_id=envelope.message_id,
        content_type=envelope.content_type,
        correlation_id=envelope.correlation_id,
        subject=envelope.subject,
        label=envelope.subject,
        delivery_count=int(queue_message.dequeue_count or 1),
        enqueued_time_utc=envelope.enqueued_time_utc,
        scheduled_enqueue_time_utc=envelope.scheduled_enqueue_time_utc,
        locked_until=now + timedelta(minutes=5),
        lock_token=queue_message.pop_receipt,
        sequence_number=None,
        dead_letter_reason=envelope.dead_letter_reason,
        dead_letter_error_description=envelope.dead_letter_error_description,
        application_properties=props,
        user_properties=props,
    )


def read_envelope(queue_message: Any) -> QueueEnvelope:
    """Our envelope, or a raw message (sent by another tool) wrapped as one."""
    content = queue_message.content
    text = content.decode("utf-8", "replace") if isinstance(content, bytes) else str(content)
    try:
        return QueueEnvelope.decode(text)
    except ValueError:
        inserted = queue_message.inserted_on or datetime.now(UTC)
        return QueueEnvelope(
            message_id=str(queue_message.id),
            body=text.encode("utf-8"),
            content_type=None,
            enqueued_time_utc=inserted,
        )


class QueueTriggerRunner:
    """Polls one queue for one function until stopped."""

    def __init__(self, fn: IndexedFunction, queue_service: Any, policy: DeliveryPolicy) -> None:
        self.fn = fn
        self.queue_name: str = fn.trigger.queue_name
        self._service = queue_service
        self._policy = policy
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(
            max_workers=policy.max_concurrent_calls, thread_name_prefix=f"sb-{self.queue_name}"
        )
        self._slots = threading.Semaphore(policy.max_concurrent_calls)
        self._thread = threading.Thread(
            target=self._loop, name=f"poll-{self.queue_name}", daemon=True
        )

    def start(self) -> None:
        for name in (self.queue_name, dead_letter_queue(self.queue_name)):
            ensure_created(self._service.get_queue_client(name).create_queue)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._pool.shutdown(wait=True, cancel_futures=False)

    def _loop(self) -> None:
        client = self._service.get_queue_client(self.queue_name)
        idle = timedelta(milliseconds=50)
        while not self._stop.is_set():
            try:
                got = self._poll_once(client)
            except AzureError as exc:
                log.warning("polling %s failed: %s", self.queue_name, exc)
                got = 0
            if got:
                idle = timedelta(milliseconds=50)
                continue
            self._stop.wait(idle.total_seconds())
            idle = min(self._policy.max_polling_interval, idle * 2)

    def _poll_once(self, client: Any) -> int:
        free = self._policy.batch_size
        messages = client.receive_messages(
            messages_per_page=free,
            max_messages=free,
            visibility_timeout=int(self._policy.lock_duration.total_seconds()),
        )
        count = 0
        for message in messages:
            count += 1
            self._slots.acquire()
            self._pool.submit(self._deliver, client, message)
        return count

    def _deliver(self, client: Any, message: Any) -> None:
        try:
            self.process(client, message)
        except Exception:
            log.exception("could not settle a message on %s", self.queue_name)
        finally:
            self._slots.release()

    def process(self, client: Any, message: Any) -> None:
        envelope = read_envelope(message)
        binding = to_binding(message, envelope)
        try:
            self.fn.invoke(binding)
        except Exception as exc:  # noqa: BLE001 - any failure abandons the message
            self._abandon(client, message, envelope, exc)
            return
        client.delete_message(message.id, message.pop_receipt)

    def _abandon(self, client: Any, message: Any, envelope: QueueEnvelope, exc: Exception) -> None:
        count = int(message.dequeue_count or 1)
        reason = f"{type(exc).__name__}: {exc}"[:MAX_DESCRIPTION]
        if count >= self._policy.max_delivery_count:
            log.error(
                "%s: message %s dead-lettered after %d deliveries: %s",
                self.queue_name,
                envelope.message_id,
                count,
                reason,
            )
            dead = QueueEnvelope(
                message_id=envelope.message_id,
                body=envelope.body,
                content_type=envelope.content_type,
                enqueued_time_utc=envelope.enqueued_time_utc,
                subject=envelope.subject,
                correlation_id=envelope.correlation_id,
                application_properties=envelope.application_properties,
                scheduled_enqueue_time_utc=envelope.scheduled_enqueue_time_utc,
                dead_letter_reason="MaxDeliveryCountExceeded",
                dead_letter_error_description=(f"delivered {count} times; last failure: {reason}")[
                    :MAX_DESCRIPTION
                ],
            )
            dlq = self._service.get_queue_client(dead_letter_queue(self.queue_name))
            dlq.send_message(dead.encode())
            client.delete_message(message.id, message.pop_receipt)
            return
        delay = self._policy.retry_delay(count)
        log.warning(
            "%s: delivery %d of message %s failed (%s); retry in %ss",
            self.queue_name,
            count,
            envelope.message_id,
            reason,
            delay.total_seconds(),
        )
        client.update_message(
            message.id, message.pop_receipt, visibility_timeout=int(delay.total_seconds())
        )
