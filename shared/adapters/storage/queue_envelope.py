"""How a Service Bus message travels through an Azure Storage queue on the local stack.

The envelope keeps everything a Service Bus trigger hands to a function (message id,
content type, application properties, enqueued and scheduled times) so the local host can
rebuild an ``azure.functions.ServiceBusMessage`` that looks like the one Azure delivers.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shared.domain import bounded_json
from shared.ports.messaging import OutboundMessage, PropertyValue

ENVELOPE_VERSION = 1
MAX_ENVELOPE_BYTES = 1024 * 1024  # a Service Bus premium message is at most 1 MB


@dataclass(frozen=True)
class QueueEnvelope:
    message_id: str
    body: bytes
    content_type: str | None
    enqueued_time_utc: datetime
    subject: str | None = None
    correlation_id: str | None = None
    application_properties: dict[str, PropertyValue] = field(default_factory=dict)
    scheduled_enqueue_time_utc: datetime | None = None
    dead_letter_reason: str | None = None
    dead_letter_error_description: str | None = None

    @classmethod
    def from_outbound(
        cls, message: OutboundMessage, *, now: datetime | None = None
    ) -> QueueEnvelope:
        return cls(
            message_id=message.message_id,
            body=message.body,
            content_type=message.content_type,
            enqueued_time_utc=now or datetime.now(UTC),
            subject=message.subject,
            correlation_id=message.correlation_id,
            application_properties=dict(message.application_properties),
            scheduled_enqueue_time_utc=message.scheduled_enqueue_time,
        )

    def encode(self) -> str:
        doc: dict[str, Any] = {
            "v": ENVELOPE_VERSION,
            "message_id": self.message_id,
            "body": base64.b64encode(self.body).decode("ascii"),
            "content_type": self.content_type,
            "subject": self.subject,
            "correlation_id": self.correlation_id,
            "application_properties": self.application_properties,
            "enqueued_time_utc": self.enqueued_time_utc.isoformat(),
            "scheduled_enqueue_time_utc": _iso(self.scheduled_enqueue_time_utc),
            "dead_letter_reason": self.dead_letter_reason,
            "dead_letter_error_description": self.dead_letter_error_description,
        }
        return json.dumps(doc, separators=(",", ":"))

    @classmethod
    def decode(cls, text: str) -> QueueEnvelope:
        """Parse an envelope; raises ValueError for anything that is not one."""
        try:
            doc = bounded_json.loads(text, max_bytes=MAX_ENVELOPE_BYTES)
            if not isinstance(doc, dict) or doc.get("v") != ENVELOPE_VERSION:
                raise ValueError("not a Clearance queue envelope")
            return cls(
                message_id=str(doc["message_id"]),
                body=base64.b64decode(doc["body"], validate=True),
                content_type=doc.get("content_type"),
                enqueued_time_utc=datetime.fromisoformat(doc["enqueued_time_utc"]),
                subject=doc.get("subject"),
                correlation_id=doc.get("correlation_id"),
                application_properties=dict(doc.get("application_properties") or {}),
                scheduled_enqueue_time_utc=_parse(doc.get("scheduled_enqueue_time_utc")),
                dead_letter_reason=doc.get("dead_letter_reason"),
                dead_letter_error_description=doc.get("dead_letter_error_description"),
            )
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise ValueError(f"malformed queue envelope: {exc}") from exc


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None
