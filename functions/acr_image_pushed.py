"""Event Grid: Microsoft.ContainerRegistry.ImagePushed from this region's registry."""

from __future__ import annotations

import logging

import azure.functions as func

from shared.adapters.event_binding import from_binding
from shared.composition import get_container
from shared.domain.errors import InputError
from shared.services.intake import handle_image_pushed, reject_malformed

bp = func.Blueprint()
log = logging.getLogger(__name__)


@bp.function_name("acr_image_pushed")
@bp.event_grid_trigger(arg_name="event")
def acr_image_pushed(event: func.EventGridEvent) -> None:
    deps = get_container().intake()
    try:
        incoming = from_binding(event)
    except InputError as exc:
        reject_malformed(event.id, exc, deps)
        return
    outcome = handle_image_pushed(incoming, deps)
    log.info("event %s: %s", incoming.id, outcome.kind or "ignored")
