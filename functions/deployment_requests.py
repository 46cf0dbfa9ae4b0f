"""Service Bus: deployment-requests. Each message runs one step of an approved rollout."""

from __future__ import annotations

import logging

import azure.functions as func
from pydantic import ValidationError

from shared.adapters.telemetry.spans import traced_trigger
from shared.composition import get_container
from shared.composition.deploy import deployment_deps
from shared.domain.deploy.request import DeploymentRequest
from shared.queues import DEPLOYMENT_REQUESTS, SERVICE_BUS_CONNECTION
from shared.services.deploy.rollouts import handle_deployment_request, reject_unreadable

bp = func.Blueprint()
log = logging.getLogger(__name__)


@bp.function_name("deployment_requests")
@bp.service_bus_queue_trigger(
    arg_name="msg", queue_name=DEPLOYMENT_REQUESTS, connection=SERVICE_BUS_CONNECTION
)
@traced_trigger("deployment_requests")
def deployment_requests(msg: func.ServiceBusMessage) -> None:
    deps = deployment_deps(get_container())
    try:
        request = DeploymentRequest.model_validate_json(msg.get_body())
    except ValidationError as exc:
        # No retry can fix an unreadable message: record it and complete.
        reject_unreadable(msg.message_id or "unknown", exc, deps)
        return
    outcome = handle_deployment_request(request, deps, delivery_count=msg.delivery_count or 1)
    log.info("deployment %s step %d: %s", request.message_id, request.step, outcome)
