"""Event Grid: Microsoft.ContainerRegistry.ImagePushed from this region's registry."""

from __future__ import annotations

import azure.functions as func

from shared.adapters.telemetry.spans import traced_trigger
from shared.composition import get_container
from shared.services.intake.handlers import handle_binding, handle_image_pushed

bp = func.Blueprint()


@bp.function_name("acr_image_pushed")
@bp.event_grid_trigger(arg_name="event")
@traced_trigger("acr_image_pushed")
def acr_image_pushed(event: func.EventGridEvent) -> None:
    handle_binding(event, handle_image_pushed, get_container().intake())
