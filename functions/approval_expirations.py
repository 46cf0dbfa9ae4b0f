"""Service Bus: approval-expirations (scheduled at expiry) -> expire the request if pending."""

from __future__ import annotations

import logging

import azure.functions as func

from shared.adapters.telemetry.spans import traced_trigger
from shared.composition import get_container
from shared.domain import bounded_json
from shared.queues import APPROVAL_EXPIRATIONS, SERVICE_BUS_CONNECTION
from shared.services.approval.requests import expire_request

bp = func.Blueprint()


log = logging.getLogger(__name__)


@bp.function_name("approval_expirations")
@bp.service_bus_queue_trigger(
    arg_name="msg", queue_name=APPROVAL_EXPIRATIONS, connection=SERVICE_BUS_CONNECTION
)
@traced_trigger("approval_expirations")
def approval_expirations(msg: func.ServiceBusMessage) -> None:
    try:
        doc = bounded_json.loads(msg.get_body(), max_bytes=4096, max_depth=2)
        approval_id = str(doc["approval_id"])
    except (ValueError, KeyError, TypeError) as exc:  # never a retry loop: nothing will change
        log.error("approval-expirations message %s is unreadable: %s", msg.message_id, exc)
        return
    expire_request(approval_id, get_container().approvals())
