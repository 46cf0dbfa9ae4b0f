"""Service Bus: approval-requests -> an approval record, notifications and a scheduled expiry."""

from __future__ import annotations

import azure.functions as func

from shared.adapters.telemetry.spans import traced_trigger
from shared.composition import get_container
from shared.domain.approval.request import ApprovalRequest
from shared.queues import APPROVAL_REQUESTS, SERVICE_BUS_CONNECTION
from shared.services.approval.requests import open_request
from shared.services.approval.stages import StageRefused, record_refusal

bp = func.Blueprint()


@bp.function_name("approval_requests")
@bp.service_bus_queue_trigger(
    arg_name="msg", queue_name=APPROVAL_REQUESTS, connection=SERVICE_BUS_CONNECTION
)
@traced_trigger("approval_requests")
def approval_requests(msg: func.ServiceBusMessage) -> None:
    # A malformed message raises: it is retried, then dead-lettered with the validation error.
    request = ApprovalRequest.model_validate_json(msg.get_body())
    deps = get_container().approvals()
    try:
        open_request(request, deps)
    except StageRefused as refused:  # a promotion that is no longer valid: recorded, done
        record_refusal(request, refused, deps)
