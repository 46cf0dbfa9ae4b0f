"""Messaging: messages for the cell's queues and the bus that sends them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

PropertyValue = str | int | float | bool


@dataclass(frozen=True)
class OutboundMessage:
    """A message for a queue. ``message_id`` drives Service Bus duplicate detection."""

    body: bytes
    message_id: str
    content_type: str = "application/json"
    subject: str | None = None
    correlation_id: str | None = None
    application_properties: Mapping[str, PropertyValue] = field(default_factory=dict)
    scheduled_enqueue_time: datetime | None = None

    @classmethod
    def json(cls, payload: Any, *, message_id: str, **kwargs: Any) -> OutboundMessage:
        body = json.dumps(payload, separators=(",", ":"), sort_keys=True, default=str)
        return cls(body=body.encode("utf-8"), message_id=message_id, **kwargs)


class MessageBus(Protocol):
    """Sends messages to a named queue of the cell's bus.

    Raises ``TransientError`` when the bus cannot be reached, so the caller's trigger retries.
    Returns False when the bus dropped the message as a duplicate of a recent message id.
    """

    def send(self, queue: str, message: OutboundMessage) -> bool: ...
