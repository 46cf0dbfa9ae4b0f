"""Service Bus: approval-expirations (scheduled at expiry) -> expire the request if pending."""

from __future__ import annotations

import json

import azure.functions as func

from shared.composition import get_container
from shared.queues import APPROVAL_EXPIRATIONS, SERVICE_BUS_CONNECTION
from shared.services.approval.requests import expire_request

bp = func.Blueprint()


@bp.function_name("approval_expirations")
@bp.service_bus_queue_trigger(
    arg_name="msg", queue_name=APPROVAL_EXPIRATIONS, connection=SERVICE_BUS_CONNECTION
)
def approval_expirations(msg: func.ServiceBusMessage) -> None:
    approval_id = str(json.loads(msg.get_body())["approval_id"])
    expire_request(approval_id, get_container().approvals())
