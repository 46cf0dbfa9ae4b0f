"""From the Functions Event Grid binding to one neutral ``IncomingEvent``.

The binding hands over ``func.EventGridEvent`` (Event Grid schema) or ``func.CloudEvent``
(CloudEvents 1.0). Both are re-read with the Azure SDK's own models (``azure.eventgrid``'s
``EventGridEvent`` and ``azure.core.messaging.CloudEvent``), which enforce their schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.domain import bounded_json
from shared.domain.errors import InputError, Violation
from shared.domain.intake.codes import IntakeCode


@dataclass(frozen=True)
class IncomingEvent:
    id: str
    type: str
    source: str
    subject: str
    time: datetime | None
    data: Any
    schema: str  # "eventgrid" | "cloudevents"


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


def from_binding(binding: Any) -> IncomingEvent:
    """Raises ``InputError`` when the event does not satisfy its own schema or its data is
    nested deeper than ``bounded_json.MAX_DEPTH`` (recorded, never retried)."""
    try:
        if hasattr(binding, "specversion"):
            event = _cloud_event(binding)
        else:
            event = _eventgrid_event(binding)
    except RecursionError as exc:
        raise _too_deep() from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(
            [Violation(IntakeCode.EVENT_MALFORMED, f"The event does not match its schema: {exc}")]
        ) from exc
    if bounded_json.depth_of(event.data) > bounded_json.MAX_DEPTH:
        raise _too_deep()
    return event


def _too_deep() -> InputError:
    return InputError(
        [
            Violation(
                IntakeCode.EVENT_TOO_LARGE,
                f"The event's data is nested more than {bounded_json.MAX_DEPTH} levels deep; "
                "no registry or Azure ML event is, so it is refused unread.",
                "data",
            )
        ]
    )


def _eventgrid_event(binding: Any) -> IncomingEvent:
    from azure.eventgrid import EventGridEvent

    event = EventGridEvent.from_dict(
        {
            "id": binding.id,
            "topic": binding.topic,
            "subject": binding.subject or "",
            "eventType": binding.event_type,
            "eventTime": _iso(binding.event_time),
            "dataVersion": binding.data_version or "",
            "data": binding.get_json(),
        }
    )
    return IncomingEvent(
        id=str(event.id),
        type=str(event.event_type),
        source=str(event.topic or ""),
        subject=str(event.subject or ""),
        time=event.event_time,
        data=event.data,
        schema="eventgrid",
    )


def _cloud_event(binding: Any) -> IncomingEvent:
    from azure.core.messaging import CloudEvent

    event: CloudEvent[Any] = CloudEvent.from_dict(
        {
            "specversion": getattr(binding, "specversion", None) or "1.0",
            "id": binding.id,
            "source": binding.source,
            "type": binding.type,
            "time": _iso(getattr(binding, "time", None)),
            "subject": getattr(binding, "subject", None),
            "data": binding.get_json(),
        }
    )
    return IncomingEvent(
        id=str(event.id),
        type=str(event.type),
        source=str(event.source),
        subject=str(event.subject or ""),
        time=event.time,
        data=event.data,
        schema="cloudevents",
    )
