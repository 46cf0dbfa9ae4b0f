"""MessageBus over Azure Queue Storage: the local stand-in for Service Bus.

Same port as :mod:`shared.adapters.servicebus.bus`. It also emulates Service Bus duplicate
detection (a message id seen on the same queue within the window is dropped) with a
conditional insert in a table, and scheduled enqueue with the queue's visibility delay.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.adapters.storage.queue_envelope import QueueEnvelope
from shared.adapters.storage.resources import ensure_created
from shared.adapters.telemetry.spans import with_trace_context
from shared.domain.errors import TransientError
from shared.ports.messaging import OutboundMessage

log = logging.getLogger(__name__)

DUPLICATE_TABLE = "busduplicates"
MAX_VISIBILITY_DELAY = timedelta(days=7)


class StorageQueueMessageBus:
    def __init__(
        self,
        queue_service: Any,
        table_service: Any,
        *,
        duplicate_window: timedelta = timedelta(minutes=10),
    ) -> None:
        self._queues = queue_service
        self._tables = table_service
        self._window = duplicate_window
        self._created: set[str] = set()

    def send(self, queue: str, message: OutboundMessage) -> bool:
        from azure.core.exceptions import AzureError

        now = datetime.now(UTC)
        try:
            if not self._claim_message_id(queue, message.message_id, now):
                log.info("duplicate message id %s on %s dropped", message.message_id, queue)
                return False
            try:
                self._put(queue, message, now)
            except AzureError:
                self._release_message_id(queue, message.message_id)
                raise
        except AzureError as exc:
            raise TransientError(f"queue send to {queue!r} failed: {exc}") from exc
        return True

    def _put(self, queue: str, message: OutboundMessage, now: datetime) -> None:
        delay = 0
        if message.scheduled_enqueue_time is not None:
            wait = message.scheduled_enqueue_time - now
            # round up: a scheduled message is never delivered before its time
            delay = math.ceil(max(timedelta(0), min(wait, MAX_VISIBILITY_DELAY)).total_seconds())
        client = self._queue(queue)
        envelope = QueueEnvelope.from_outbound(message, now=now)
        # the consumer's invocation continues this trace (W3C traceparent, as Service Bus does)
        envelope = replace(
            envelope, application_properties=with_trace_context(envelope.application_properties)
        )
        client.send_message(envelope.encode(), visibility_timeout=delay or None)

    def _queue(self, name: str) -> Any:
        client = self._queues.get_queue_client(name)
        if name not in self._created:
            ensure_created(client.create_queue)
            self._created.add(name)
        return client

    def _duplicates(self) -> Any:
        table = self._tables.get_table_client(DUPLICATE_TABLE)
        if DUPLICATE_TABLE not in self._created:
            ensure_created(table.create_table)
            self._created.add(DUPLICATE_TABLE)
        return table

    def _claim_message_id(self, queue: str, message_id: str, now: datetime) -> bool:
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError
        from azure.data.tables import UpdateMode

        table = self._duplicates()
        entity = {"PartitionKey": queue, "RowKey": _row_key(message_id), "SeenAt": now}
        try:
            table.create_entity(entity)
            return True
        except ResourceExistsError:
            existing = table.get_entity(queue, _row_key(message_id))
            seen = existing.get("SeenAt")
            if isinstance(seen, datetime) and now - seen < self._window:
                return False
            try:
                table.update_entity(
                    entity,
                    mode=UpdateMode.REPLACE,
                    etag=existing.metadata["etag"],
                    match_condition=MatchConditions.IfNotModified,
                )
            except ResourceModifiedError:
                return False  # another sender claimed it first
            return True

    def _release_message_id(self, queue: str, message_id: str) -> None:
        self._duplicates().delete_entity(queue, _row_key(message_id))


def _row_key(message_id: str) -> str:
    # RowKey forbids '/', '\\', '#', '?' and control characters; message ids are free text.
    return hashlib.sha256(message_id.encode("utf-8")).hexdigest()
