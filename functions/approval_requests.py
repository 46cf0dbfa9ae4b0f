"""Service Bus: approval-requests -> an approval record, notifications and a scheduled expiry."""

from __future__ import annotations

import azure.functions as func

from shared.adapters.telemetry.spans import traced_trigger
from shared.composition import get_container
from shared.domain.approval.request import ApprovalRequest
from shared.queues import APPROVAL_REQUESTS, SERVICE_BUS_CONNECTION
from shared.services.approval.requests import open_request

bp = func.Blueprint()


@bp.function_name("approval_requests")
@bp.service_bus_queue_trigger(
    arg_name="msg", queue_name=APPROVAL_REQUESTS, connection=SERVICE_BUS_CONNECTION
)
@traced_trigger("approval_requests")
def approval_requests(msg: func.ServiceBusMessage) -> None:
    # A malformed message raises: it is retried, then dead-lettered with the validation error.
    request = ApprovalRequest.model_validate_json(msg.get_body())
    open_request(request, get_container().approvals())
