"""Event Grid: Microsoft.MachineLearningServices.ModelRegistered from this region's workspace."""

from __future__ import annotations

import logging

import azure.functions as func

from shared.adapters.event_binding import from_binding
from shared.composition import get_container
from shared.domain.errors import InputError
from shared.services.intake import handle_model_registered, reject_malformed

bp = func.Blueprint()
log = logging.getLogger(__name__)


@bp.function_name("aml_model_registered")
@bp.event_grid_trigger(arg_name="event")
def aml_model_registered(event: func.EventGridEvent) -> None:
    deps = get_container().intake()
    try:
        incoming = from_binding(event)
    except InputError as exc:
        reject_malformed(event.id, exc, deps)
        return
    outcome = handle_model_registered(incoming, deps)
    log.info("event %s: %s", incoming.id, outcome.kind or "ignored")
