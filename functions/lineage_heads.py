"""Timer: every 20 s, sign a checkpoint of every lineage chain's head if any head moved."""

from __future__ import annotations

import azure.functions as func

from shared.adapters.telemetry.spans import traced_trigger
from shared.composition import get_container
from shared.services.lineage.heads import CHECKPOINT_SCHEDULE
from shared.settings import timers_run_on_startup

bp = func.Blueprint()


@bp.function_name("lineage_heads")
@bp.schedule(schedule=CHECKPOINT_SCHEDULE, arg_name="timer", run_on_startup=timers_run_on_startup())
@traced_trigger("lineage_heads")
def lineage_heads(timer: func.TimerRequest) -> None:
    get_container().take_checkpoint()
