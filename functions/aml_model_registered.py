"""Event Grid: Microsoft.MachineLearningServices.ModelRegistered from this region's workspace."""

from __future__ import annotations

import azure.functions as func

from shared.adapters.telemetry.spans import traced_trigger
from shared.composition import get_container
from shared.services.intake.handlers import handle_binding, handle_model_registered

bp = func.Blueprint()


@bp.function_name("aml_model_registered")
@bp.event_grid_trigger(arg_name="event")
@traced_trigger("aml_model_registered")
def aml_model_registered(event: func.EventGridEvent) -> None:
    handle_binding(event, handle_model_registered, get_container().intake())
